//! Loading a project: the project file, its settings (with `--set`
//! overrides), connections and every module's mapping and rules, compiled
//! once and checked completely before any record is touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalogue;
use crate::config::env::{expand_value, resolver};
use crate::config::mapping::MappingFile;
use crate::config::project::ProjectFile;
use crate::config::settings::Settings;
use crate::connector::ConnectorRegistry;
use crate::diagnostic::{ConfigError, Diagnostics, SourceFile};
use crate::jsonpath::Selector;
use crate::module::{compile_enrichment, Module};
use crate::rules::RuleSet;
use crate::script::{build_engine, json_to_dynamic, LookupTables, ScriptLimits};
use crate::transform::{compile_fields, Transform};
use crate::yaml::YamlDoc;

/// How to load a project.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The project file.
    pub config: PathBuf,
    /// `--set key=value` overrides of settings, in order.
    pub overrides: Vec<(String, String)>,
    /// Script bounds.
    pub limits: ScriptLimits,
}

impl LoadOptions {
    /// Options for `config` with no overrides and default limits.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        Self {
            config: config.into(),
            overrides: Vec::new(),
            limits: ScriptLimits::default(),
        }
    }
}

/// A connection after `${VAR}` expansion and option checks.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Its name in the project file.
    pub name: String,
    /// Connector kind.
    pub kind: String,
    /// Options as JSON, secrets included: never log them.
    pub options: serde_json::Value,
}

/// A loaded, fully compiled project.
pub struct Project {
    /// The project file's path.
    pub path: PathBuf,
    /// Directory relative paths are resolved from.
    pub base_dir: PathBuf,
    /// Effective settings (file plus overrides).
    pub settings: Settings,
    /// Connections by name.
    pub connections: BTreeMap<String, Connection>,
    /// Modules in run order (dependencies first).
    pub modules: Vec<Module>,
    /// State store path, when the project names one.
    pub state: Option<PathBuf>,
    /// Things that compile but look wrong (a dependency the project does not
    /// list): shown by `validate`, `plan` and `run`, never fatal.
    pub warnings: Vec<ConfigError>,
}

impl Project {
    /// Loads and compiles everything, collecting every error found.
    pub fn load(
        options: &LoadOptions,
        registry: &ConnectorRegistry,
    ) -> Result<Project, Diagnostics> {
        Self::load_with_env(options, registry, &|name| std::env::var(name).ok())
    }

    /// As [`Project::load`], with environment lookups supplied (for tests).
    pub fn load_with_env(
        options: &LoadOptions,
        registry: &ConnectorRegistry,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Project, Diagnostics> {
        let mut diagnostics = Diagnostics::default();
        let file = SourceFile::read(&options.config).map_err(|e| Diagnostics::from(*e))?;
        let doc = YamlDoc::parse(file).map_err(Diagnostics::from)?;
        let project: ProjectFile = doc.deserialize().map_err(Diagnostics::from)?;
        let base_dir = options
            .config
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();

        let settings = match apply_overrides(&project.settings, &options.overrides) {
            Ok(s) => s,
            Err(e) => {
                diagnostics.push(e);
                project.settings.clone()
            }
        };

        let resolve = resolver(&base_dir, env);
        let mut connections = BTreeMap::new();
        for (name, spec) in &project.connections {
            let key_path = format!("connections.{name}");
            let mut options_yaml = serde_yaml::Value::Mapping(spec.options.clone());
            if let Err((path, why)) = expand_value(&mut options_yaml, &key_path, &resolve) {
                diagnostics.push(
                    doc.error("config::env", why.reason, &path)
                        .with_help(why.help),
                );
                continue;
            }
            let options_json: serde_json::Value =
                serde_json::to_value(&options_yaml).unwrap_or_default();
            match registry.get(&spec.kind) {
                None => diagnostics.push(
                    doc.error(
                        "config::connector",
                        format!("unknown connector kind `{}`", spec.kind),
                        &format!("{key_path}.kind"),
                    )
                    .with_help(format!("known kinds: {}", registry.kinds().join(", "))),
                ),
                Some(factory) => {
                    if let Err(msg) = factory.check(&options_json) {
                        diagnostics.push(doc.error(
                            "config::connector",
                            format!("connection `{name}` ({}): {msg}", spec.kind),
                            &key_path,
                        ));
                    }
                }
            }
            connections.insert(
                name.clone(),
                Connection {
                    name: name.clone(),
                    kind: spec.kind.clone(),
                    options: options_json,
                },
            );
        }

        let mut modules = Vec::new();
        let mut warnings = Vec::new();
        let mut seen = BTreeMap::new();
        for (index, module_ref) in project.modules.iter().enumerate() {
            let key_path = format!("modules[{index}]");
            if seen.insert(module_ref.name.clone(), index).is_some() {
                diagnostics.push(doc.error(
                    "config::module",
                    format!("module `{}` is listed twice", module_ref.name),
                    &format!("{key_path}.name"),
                ));
                continue;
            }
            if !module_ref.enabled {
                continue;
            }
            let mapping_path = base_dir.join(&module_ref.mapping);
            if !mapping_path.exists() {
                diagnostics.push(doc.error(
                    "config::missing_file",
                    format!("mapping file `{}` does not exist", mapping_path.display()),
                    &format!("{key_path}.mapping"),
                ));
                continue;
            }
            match compile_module(
                &module_ref.name,
                &mapping_path,
                &settings,
                &project,
                &options.limits,
                &doc,
                &mut warnings,
            ) {
                Ok(module) => modules.push(module),
                Err(errors) => diagnostics.errors.extend(errors),
            }
        }

        // Dependencies the project lists run first; a shipped mapping may name
        // modules a smaller project leaves out.
        let modules = order_by_dependencies(modules, &mut diagnostics);

        drop(resolve);
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        Ok(Project {
            // A path relative to the project file, or a URL as written.
            state: project.state.as_ref().map(|s| match s.split_once("://") {
                None => base_dir.join(s),
                // A relative SQLite path is the project's too, wherever the run starts.
                Some(("sqlite", path)) if Path::new(path).is_relative() => {
                    PathBuf::from(format!("sqlite://{}", base_dir.join(path).display()))
                }
                Some(_) => PathBuf::from(s),
            }),
            path: options.config.clone(),
            base_dir,
            settings,
            connections,
            modules,
            warnings,
        })
    }

    /// Where the state store lives: the project's `state:` or
    /// `.syncwright/state.db` next to the project file.
    pub fn state_path(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| self.base_dir.join(".syncwright/state.db"))
    }

    /// The module called `name`.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }
}

fn order_by_dependencies(mut modules: Vec<Module>, diagnostics: &mut Diagnostics) -> Vec<Module> {
    let mut ordered: Vec<Module> = Vec::new();
    while !modules.is_empty() {
        let ready = modules.iter().position(|m| {
            m.depends_on.iter().all(|d| {
                ordered.iter().any(|o| &o.name == d) || !modules.iter().any(|x| &x.name == d)
            })
        });
        match ready {
            Some(i) => ordered.push(modules.remove(i)),
            None => {
                let cycle: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
                diagnostics.push(ConfigError::without_source(
                    "config::depends_on",
                    format!(
                        "modules depend on each other in a cycle: {}",
                        cycle.join(", ")
                    ),
                ));
                ordered.append(&mut modules);
            }
        }
    }
    ordered
}

/// Modules a mapping names (`depends_on`, link enrichments) that the project
/// does not list, as one warning at the first of them. A shipped mapping may
/// name modules a smaller project leaves out, so it is not an error; a close
/// match among the listed modules is shown, as the name may be a typo.
fn unlisted_modules(
    mapping: &MappingFile,
    project: &ProjectFile,
    doc: &YamlDoc,
    project_doc: &YamlDoc,
) -> Option<ConfigError> {
    let listed: Vec<&str> = project.modules.iter().map(|m| m.name.as_str()).collect();
    let named = mapping
        .depends_on
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), format!("depends_on[{i}]")))
        .chain(
            mapping
                .enrich
                .iter()
                .filter_map(|(name, e)| Some((e.link.as_deref()?, format!("enrich.{name}.link")))),
        );
    let mut first_key = None;
    let mut names: Vec<String> = Vec::new();
    // A shipped mapping names modules a smaller project leaves out on
    // purpose (invoices without accounts match contacts by name): only a
    // name close to a listed module's, a likely typo, is worth a warning.
    for (name, key) in named.filter(|(name, _)| !listed.contains(name)) {
        let Some(close) = catalogue::closest(name, listed.iter().copied()) else {
            continue;
        };
        first_key.get_or_insert(key);
        let shown = format!("`{name}` (did you mean `{close}`?)");
        if !names.contains(&shown) {
            names.push(shown);
        }
    }
    let key = first_key?;
    Some(
        doc.error(
            "mapping::module",
            format!(
                "names {} that {} does not list: not run first, links not read",
                names.join(", "),
                project_doc.file.path.display()
            ),
            &key,
        )
        .with_help(
            "fine when this project syncs without them; otherwise add them under `modules:`",
        ),
    )
}

/// Applies `--set key=value` overrides; values are read as YAML scalars.
pub fn apply_overrides(
    settings: &Settings,
    overrides: &[(String, String)],
) -> Result<Settings, ConfigError> {
    if overrides.is_empty() {
        return Ok(settings.clone());
    }
    let mut value = serde_yaml::to_value(settings).expect("settings serialise");
    for (key, raw) in overrides {
        let parsed: serde_yaml::Value =
            serde_yaml::from_str(raw).unwrap_or_else(|_| serde_yaml::Value::String(raw.clone()));
        let mut cursor = &mut value;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let serde_yaml::Value::Mapping(map) = cursor else {
                return Err(ConfigError::without_source(
                    "config::set",
                    format!(
                        "--set {key}={raw}: `{}` is not a group of settings",
                        parts[..i].join(".")
                    ),
                ));
            };
            let k = serde_yaml::Value::String(part.to_string());
            if i + 1 == parts.len() {
                map.insert(k, parsed.clone());
                break;
            }
            cursor = map
                .entry(k)
                .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
        }
        serde_yaml::from_value::<Settings>(value.clone()).map_err(|e| {
            ConfigError::without_source("config::set", format!("--set {key}={raw}: {e}"))
        })?;
    }
    serde_yaml::from_value(value)
        .map_err(|e| ConfigError::without_source("config::set", e.to_string()))
}

fn compile_module(
    name: &str,
    mapping_path: &Path,
    settings: &Settings,
    project: &ProjectFile,
    limits: &ScriptLimits,
    project_doc: &YamlDoc,
    warnings: &mut Vec<ConfigError>,
) -> Result<Module, Vec<ConfigError>> {
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
                    "mapping::connection",
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
    errors.extend(catalogue::check_target(
        &mapping,
        catalogue::target_system(&mapping, target_kind),
        &doc,
    ));

    let lookups: LookupTables = Arc::new(mapping.lookups.clone());
    let engine = Arc::new(build_engine(*limits, lookups.clone()));
    let fields = compile_fields(
        &mapping.fields,
        &doc,
        "fields",
        &engine,
        &lookups,
        &mut errors,
    );

    let mut compile_selector = |key: &str, text: &str| match Selector::compile(text) {
        Ok(s) => Some(s),
        Err(m) => {
            errors.push(doc.error(
                "mapping::jsonpath",
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
                errors.push(doc.error("mapping::enrich", msg, &path));
            }
        }
    }

    let mut source_rules = RuleSet::new(engine.clone(), *limits);
    let mut target_rules = RuleSet::new(engine.clone(), *limits);
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
                        "mapping::rule",
                        format!("rule file `{}` does not exist", full.display()),
                        &key,
                    )
                    .with_help("rule paths are relative to the mapping file"),
                );
                continue;
            }
            if let Err(e) = set.add(&full, &full) {
                errors.push(e);
            }
        }
    }
    let rule_texts: Vec<String> = mapping
        .rules
        .source
        .iter()
        .chain(&mapping.rules.target)
        .filter_map(|rel| std::fs::read_to_string(mapping_dir.join(rel)).ok())
        .collect();
    let demand = crate::demand::field_demand(&mapping, &rule_texts, settings);
    warnings.extend(unlisted_modules(&mapping, project, &doc, project_doc));

    if !errors.is_empty() {
        return Err(errors);
    }
    let settings_json = serde_json::to_value(settings).expect("settings serialise");
    let lookups_json = serde_json::to_value(&*lookups).expect("lookups serialise");
    Ok(Module {
        name: name.to_string(),
        mapping_path: mapping_path.to_path_buf(),
        source: mapping.source.clone(),
        target: mapping.target.clone(),
        depends_on: mapping.depends_on.clone(),
        write_back: mapping.write_back.clone(),
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
    })
}
