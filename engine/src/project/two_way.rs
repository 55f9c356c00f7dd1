//! Two-way pairs checked across modules: each module names the other back,
//! reads what the other writes and writes what it reads, and both prefer the
//! same side; link enrichments of a paired module then read the pair's links.

use std::path::Path;

use crate::diagnostic::{codes, ConfigError, Diagnostics, SourceFile};
use crate::module::{LinkPair, Module};
use crate::yaml::YamlDoc;

/// An error at `key` of a module's mapping file.
fn error_at(mapping: &Path, key: &str, message: String) -> ConfigError {
    match SourceFile::read(mapping).map(YamlDoc::parse) {
        Ok(Ok(doc)) => doc.error(codes::MAPPING_TWO_WAY, message, key),
        Ok(Err(e)) => e,
        Err(e) => *e,
    }
}

/// Checks every pair, and points link enrichments of paired modules at
/// their pair's links.
pub(super) fn pair_modules(modules: &mut [Module], diagnostics: &mut Diagnostics) {
    let halves: Vec<(String, crate::module::TwoWay)> = modules
        .iter()
        .filter_map(|m| m.two_way.clone().map(|t| (m.name.clone(), t)))
        .collect();
    for module in modules.iter() {
        let Some(half) = &module.two_way else {
            continue;
        };
        let fail = |key: &str, message: String| error_at(&module.mapping_path, key, message);
        let Some(peer) = modules.iter().find(|m| m.name == half.peer) else {
            diagnostics.push(fail(
                "two_way.with",
                format!(
                    "no module `{}` in the project to sync `{}` both ways with",
                    half.peer, module.name
                ),
            ));
            continue;
        };
        let Some(back) = peer.two_way.as_ref().filter(|b| b.peer == module.name) else {
            diagnostics.push(fail(
                "two_way.with",
                format!(
                    "`{}` does not name `{}` back: its mapping needs `two_way: {{with: {}, ...}}`",
                    peer.name, module.name, module.name
                ),
            ));
            continue;
        };
        if peer.source.connection != module.target.connection
            || peer.target.connection != module.source.connection
        {
            diagnostics.push(fail(
                "two_way.with",
                format!(
                    "`{}` reads `{}` and writes `{}`; syncing the other way, `{}` must read `{}` and write `{}`",
                    module.name,
                    module.source.connection,
                    module.target.connection,
                    peer.name,
                    module.target.connection,
                    module.source.connection
                ),
            ));
        }
        if back.prefer != half.prefer && module.name < peer.name {
            diagnostics.push(fail(
                "two_way.prefer",
                format!(
                    "`{}` prefers `{}` but `{}` prefers `{}`: both halves of a pair prefer the same side",
                    module.name,
                    half.prefer_text(),
                    peer.name,
                    back.prefer_text()
                ),
            ));
        }
    }
    for module in modules.iter_mut() {
        for enrichment in &mut module.enrichments {
            let Some(link) = &enrichment.link else {
                continue;
            };
            if let Some((_, half)) = halves.iter().find(|(name, _)| name == link) {
                enrichment.link_pair = Some(LinkPair {
                    pair: half.pair.clone(),
                    side: half.side,
                });
            }
        }
    }
}
