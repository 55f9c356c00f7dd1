//! Compiling one module: its mapping file (fields, JSONPaths, enrichments,
//! target fields checked against the target's catalogue) and its rules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalogue;
use crate::config::mapping::{MappingFile, TargetSystem};
use crate::config::project_file::ProjectFile;
use crate::config::settings::Settings;
use crate::diagnostic::{codes, ConfigError, SourceFile};
use crate::jsonpath::Selector;
use crate::module::{compile_enrichment, Module};
use crate::rules::RuleSet;
use crate::script::{
    build_engine, json_to_dynamic, register_properties, LookupTables, ScriptLimits,
};
use crate::transform::{collect_properties, compile_fields, Scripts, Transform};
use crate::yaml::YamlDoc;

use super::dependencies::unlisted_modules;
use super::files::{ConfigKind, ProjectFiles};

/// What every module of a project is compiled against.
pub(super) struct ModuleContext<'a> {
    /// Effective settings.
    pub settings: &'a Settings,
    /// The project file as written.
    pub project: &'a ProjectFile,
    /// Script bounds.
    pub limits: &'a ScriptLimits,
    /// The project file's document, for messages.
    pub project_doc: &'a YamlDoc,
    /// The files the project reads so far (its secrets among them).
    pub files: &'a ProjectFiles,
}

/// Compiles the module `name` from its mapping file; things that compile
/// but look wrong go to `warnings`.
pub(super) fn compile_module(
    name: &str,
    mapping_path: &Path,
    context: &ModuleContext<'_>,
    warnings: &mut Vec<ConfigError>,
) -> Result<Module, Vec<ConfigError>> {
    let ModuleContext {
        settings,
        project,
        limits,
        project_doc,
        files,
    } = *context;
    let file = SourceFile::read(mapping_path).map_err(|e| vec![*e])?;
    let doc = YamlDoc::parse(file).map_err(|e| vec![e])?;
    let mapping: MappingFile = doc.deserialize().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mapping_dir = mapping_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    for (key, connection) in [
        ("source.connection", &mapping.source.connection),
        ("target.connection", &mapping.target.connection),
    ] {
        if !project.connections.contains_key(connection) {
            let known: Vec<&str> = project.connections.keys().map(String::as_str).collect();
            errors.push(
                doc.error(
                    codes::MAPPING_CONNECTION,
                    format!("unknown connection `{connection}`"),
                    key,
                )
                .with_help(format!(
                    "connections in {}: {}",
                    project_doc.file.path.display(),
                    known.join(", ")
                )),
            );
        }
    }

    let target_kind = project
        .connections
        .get(&mapping.target.connection)
        .map(|c| c.kind.as_str());
    let system = catalogue::target_system(&mapping, target_kind);
    errors.extend(catalogue::check_target(&mapping, system, &doc));
    let xero_object = (system == TargetSystem::Xero)
        .then(|| catalogue::xero().element(&mapping.target.resource))
        .flatten()
        .map(str::to_string);

    let lookups: LookupTables = Arc::new(mapping.lookups.clone());
    let mut engine = build_engine(*limits, lookups.clone());
    let settings_json = serde_json::to_value(settings).expect("settings serialise");
    let fields = compile_fields(
        &mapping.fields,
        &doc,
        "fields",
        &Scripts {
            engine: &engine,
            settings: &settings_json,
        },
        &lookups,
        &mut errors,
    );

    let mut compile_selector = |key: &str, text: &str| match Selector::compile(text) {
        Ok(s) => Some(s),
        Err(m) => {
            errors.push(doc.error(
                codes::MAPPING_JSONPATH,
                format!("invalid JSONPath `{text}`: {m}"),
                key,
            ));
            None
        }
    };
    let id = compile_selector("source.id", &mapping.source.id);
    let label = mapping
        .source
        .label
        .as_deref()
        .and_then(|l| compile_selector("source.label", l));
    let modified = mapping
        .source
        .modified
        .as_deref()
        .and_then(|m| compile_selector("source.modified", m));

    let mut enrichments = Vec::new();
    for (ename, spec) in &mapping.enrich {
        match compile_enrichment(ename, spec) {
            Ok(e) => enrichments.push(e),
            Err((key, msg)) => {
                let path = if key.is_empty() {
                    format!("enrich.{ename}")
                } else {
                    format!("enrich.{ename}.{key}")
                };
                errors.push(doc.error(codes::MAPPING_ENRICH, msg, &path));
            }
        }
    }

    let two_way = match crate::module::TwoWay::compile(name, &mapping) {
        Ok(t) => t,
        Err((key, msg)) => {
            errors.push(doc.error(codes::MAPPING_TWO_WAY, msg, &key));
            None
        }
    };

    let mut source_rules = RuleSet::new(name, *limits);
    let mut target_rules = RuleSet::new(name, *limits);
    let mut compiled_rules: Vec<PathBuf> = Vec::new();
    for (stage, list, set) in [
        ("source", &mapping.rules.source, &mut source_rules),
        ("target", &mapping.rules.target, &mut target_rules),
    ] {
        for (i, rel) in list.iter().enumerate() {
            let key = format!("rules.{stage}[{i}]");
            let full = mapping_dir.join(rel);
            if !full.exists() {
                errors.push(
                    doc.error(
                        codes::MAPPING_RULE,
                        format!("rule file `{}` does not exist", full.display()),
                        &key,
                    )
                    .with_help("rule paths are relative to the mapping file"),
                );
                continue;
            }
            if let Some(why) = files.refuse_as(&full, ConfigKind::Rule) {
                errors.push(doc.error(codes::CONFIG_FILE_KIND, why, &key));
                continue;
            }
            match set.add(&full, &full) {
                Ok(()) => compiled_rules.push(full),
                Err(e) => errors.push(e),
            }
        }
    }
    let rule_texts: Vec<String> = compiled_rules
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    let demand = crate::demand::field_demand(&mapping, &rule_texts, settings);
    warnings.extend(unlisted_modules(&mapping, project, &doc, project_doc));

    if !errors.is_empty() {
        return Err(errors);
    }
    // Scripts read records through views: the properties they name get getters.
    let mut properties = BTreeSet::new();
    collect_properties(&fields, &mut properties);
    source_rules.collect_properties(&mut properties);
    target_rules.collect_properties(&mut properties);
    register_properties(&mut engine, properties.iter().map(String::as_str));
    let engine = Arc::new(engine);
    let lookups_json = serde_json::to_value(&*lookups).expect("lookups serialise");
    Ok(Module {
        name: name.to_string(),
        mapping_path: mapping_path.to_path_buf(),
        source: mapping.source.clone(),
        target: mapping.target.clone(),
        depends_on: mapping.depends_on.clone(),
        write_back: mapping.write_back.clone(),
        two_way,
        fields: demand,
        enrichments,
        id: id.expect("checked"),
        label,
        modified,
        transform: Transform::new(
            fields,
            engine.clone(),
            *limits,
            lookups,
            settings.money_decimals,
        ),
        source_rules,
        target_rules,
        settings: json_to_dynamic(&settings_json),
        lookups: json_to_dynamic(&lookups_json),
        engine,
        xero_object,
    })
}
