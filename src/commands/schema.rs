//! `syncwright schema`: the JSON Schemas of the project and mapping files.

use std::path::PathBuf;

use syncwright_engine::schema::{mapping_schema, project_schema};

use crate::exit_code::EXIT_FAILED;

/// Options of `syncwright schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Which schema; both when omitted.
    #[arg(value_enum)]
    pub kind: Option<SchemaKind>,
    /// Write `project.schema.json` and `mapping.schema.json` into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// Which schema to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// The project file, `syncwright.yaml`.
    Project,
    /// A module's mapping file.
    Mapping,
}

/// The schema files as `(file name, pretty JSON)`.
pub fn schema_files() -> Vec<(&'static str, String)> {
    let registry = syncwright_connectors::registry();
    vec![
        ("project.schema.json", pretty(&project_schema(&registry))),
        ("mapping.schema.json", pretty(&mapping_schema())),
    ]
}

/// `value` as pretty JSON, ending with a newline.
fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("schema serialises");
    text.push('\n');
    text
}

/// Prints one schema, both, or writes them into a directory.
pub fn schema(args: SchemaArgs) -> u8 {
    let files = schema_files();
    if let Some(dir) = &args.write {
        for (name, text) in &files {
            let path = dir.join(name);
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, text)) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return EXIT_FAILED;
            }
            println!("wrote {}", path.display());
        }
        return 0;
    }
    match args.kind {
        Some(SchemaKind::Project) => print!("{}", files[0].1),
        Some(SchemaKind::Mapping) => print!("{}", files[1].1),
        None => {
            let both = serde_json::json!({
                "project": serde_json::from_str::<serde_json::Value>(&files[0].1).expect("json"),
                "mapping": serde_json::from_str::<serde_json::Value>(&files[1].1).expect("json"),
            });
            print!("{}", pretty(&both));
        }
    }
    0
}
