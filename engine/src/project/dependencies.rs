//! The order modules run in (those a module depends on first), and the
//! modules a mapping names that the project does not list.

use crate::catalogue;
use crate::config::mapping::MappingFile;
use crate::config::project_file::ProjectFile;
use crate::diagnostic::{codes, ConfigError, Diagnostics};
use crate::module::Module;
use crate::yaml::YamlDoc;

/// The modules in run order: each after the modules it depends on that the
/// project lists. A cycle is an error, its modules kept in the order given.
pub(super) fn order_by_dependencies(
    mut modules: Vec<Module>,
    diagnostics: &mut Diagnostics,
) -> Vec<Module> {
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
                    codes::CONFIG_DEPENDS_ON,
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
pub(super) fn unlisted_modules(
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
            codes::MAPPING_MODULE,
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
