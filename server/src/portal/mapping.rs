//! Mapping (`/portal/mapping`): read-only, per module, which source field
//! becomes which target field, the lookup tables, the settings and the
//! rules with their headers. The configuration lives in the project's
//! files; this page only shows it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use syncwright_engine::config::{FieldSpec, MappingFile};
use syncwright_engine::Module;

use super::{render, Signed};
use crate::service::ServiceState;

/// `GET /portal/mapping`.
pub async fn page(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let settings = &state.project.settings;
    let body = html! {
        p.lead {
            "The configuration lives in the project's files (" code { (state.project.path.display()) } " and its mapping and rule files): change it there, in git, and restart the service."
        }
        div.card {
            h2 { "Settings" }
            dl.facts {
                dt { "Tax option" } dd { (format!("{:?}", settings.tax.mode).to_lowercase()) " (" code { "settings.tax.mode" } ")" }
                dt { "Amounts are" } dd { (format!("{:?}", settings.tax.amounts_are).to_lowercase()) " (" code { "settings.tax.amounts_are" } ")" }
                dt { "Sync checkbox" } dd { code { (settings.add_to_xero_field) } }
                dt { "Default account" } dd { (settings.default_account_code) }
                dt { "Most lines" } dd { (settings.max_line_items) }
            }
        }
        @for module in &state.project.modules { (module_section(module)) }
    };
    render("Mapping", "/portal/mapping", &signed, body)
}

fn module_section(module: &Module) -> Markup {
    let text = std::fs::read_to_string(&module.mapping_path).unwrap_or_default();
    let mapping: Option<MappingFile> = serde_yaml::from_str(&text).ok();
    let dir = module
        .mapping_path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    html! {
        h2 { (module.name) ": " (module.source.module) " → " (module.target.resource) }
        @if let Some(mapping) = mapping {
            @if let Some(d) = &mapping.description { p.muted { (d) } }
            div.table-wrap { table.stack-sm {
                thead { tr { th { "Target field" } th { "From" } th { "Lookup" } } }
                tbody { @for (name, spec) in &mapping.fields { (field_rows(name, spec, 0)) } }
            } }
            @if !mapping.lookups.is_empty() {
                h2 { "Lookups" }
                div.cards {
                    @for (table, entries) in &mapping.lookups {
                        div.card {
                            h2 { code { (table) } }
                            dl.facts { @for (k, v) in entries { dt { (k) } dd { (value_text(v)) } } }
                        }
                    }
                }
            }
            @let rules: Vec<&String> = mapping.rules.source.iter().chain(&mapping.rules.target).collect();
            @if !rules.is_empty() {
                h2 { "Rules" }
                @for rule in rules {
                    div.card {
                        h2 { code { (rule) } }
                        pre.messages { (header_of(&dir.join(rule))) }
                    }
                }
            }
        } @else {
            p.muted { "The mapping file " code { (module.mapping_path.display()) } " cannot be shown." }
        }
    }
}

fn field_rows(name: &str, spec: &FieldSpec, depth: usize) -> Markup {
    let indent = "— ".repeat(depth);
    let from = if let Some(path) = &spec.path {
        path.as_vec().join(" or ")
    } else if let Some(expr) = &spec.expr {
        format!("expression: {expr}")
    } else if let Some(constant) = &spec.constant {
        format!("always {}", value_text(constant))
    } else if let Some(each) = &spec.each {
        format!("one per {}", each.as_vec().join(" or "))
    } else {
        String::new()
    };
    html! {
        tr {
            td data-label="Target field" { (indent) code { (name) } }
            td data-label="From" {
                @if !from.is_empty() { code { (from) } }
                @else if spec.fields.is_some() { span.muted { "made of the fields below" } }
            }
            td data-label="Lookup" { @if let Some(l) = &spec.lookup { code { (l) } } }
        }
        @if let Some(children) = &spec.fields {
            @for (child, spec) in children { (field_rows(child, spec, depth + 1)) }
        }
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(kept as it is)".into(),
        other => other.to_string(),
    }
}

/// The `//!` header of a rule file, as text.
fn header_of(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .take_while(|l| l.starts_with("//"))
                .map(|l| {
                    l.trim_start_matches("//!")
                        .trim_start_matches("//")
                        .trim_end()
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
