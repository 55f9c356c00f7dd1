//! The configuration model: what integrators write in YAML. Each struct
//! derives a JSON Schema (for `syncwright schema` and editor completion) and
//! rejects unknown keys, so a typo is an error with a position, not a silent no-op.

pub mod duration;
pub mod env;
pub mod mapping;
pub mod project_file;
pub mod serve;
pub mod settings;

pub use mapping::{
    EnrichSpec, FieldSpec, MappingFile, RuleStages, SourceSpec, TargetSpec, TargetSystem, ValueType,
};
pub use project_file::{ConnectionSpec, ModuleRef, ProjectFile};
pub use serve::{ScheduleSpec, ServeSpec};
pub use settings::{AmountsAre, Settings, TaxMode, TaxSettings};
