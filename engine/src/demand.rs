//! Which fields of the source records a module reads, so that a source that
//! must name the fields it returns (Zoho CRM v8 takes at most 50 in
//! `fields`) asks for those and no others.
//!
//! The demand is read from the mapping: every JSONPath's first step, every
//! `record.Field`, `record["Field"]` and `related.name.Field` in expressions
//! and rule scripts (through `let x = related.name` too), the enrichment keys,
//! the "Add to Xero" setting, the write-back fields of the target id, status
//! and error, and the lists a mapping declares itself
//! (`source.fields`, `enrich.<name>.fields`) for what scripts read in ways
//! a reader of the text cannot follow.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::mapping::{FieldSpec, MappingFile};
use crate::config::settings::Settings;

/// The fields a module reads: of its own records, and of each enrichment's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldDemand {
    /// Top-level fields of the module's records.
    pub record: BTreeSet<String>,
    /// Top-level fields of the related records, by enrichment name.
    pub related: BTreeMap<String, BTreeSet<String>>,
}

/// The fields `mapping` reads, given the text of its rule scripts.
pub fn field_demand(
    mapping: &MappingFile,
    rule_texts: &[String],
    settings: &Settings,
) -> FieldDemand {
    let mut demand = FieldDemand::default();
    let mut scripts: Vec<&str> = rule_texts.iter().map(String::as_str).collect();
    let source = &mapping.source;
    for path in [
        Some(&source.id),
        source.label.as_ref(),
        source.modified.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        demand.record.extend(path_head(path));
    }
    demand.record.extend(source.fields.iter().cloned());
    demand.record.insert(settings.add_to_xero_field.clone());
    // `link` and a run without links read the target id an earlier sync
    // wrote back; a run compares the status and reasons a record shows with
    // its verdict, to write back only what changed.
    if let Some(spec) = &mapping.write_back {
        for field in [&spec.target_id, &spec.status, &spec.error]
            .into_iter()
            .flatten()
        {
            demand.record.insert(field.clone());
        }
    }
    for (name, spec) in &mapping.enrich {
        let related = demand.related.entry(name.clone()).or_default();
        related.extend(spec.fields.iter().cloned());
        if let Some(key) = &spec.key {
            related.extend(path_head(&format!("$.{key}")));
        }
        for path in spec.id.iter().map(String::as_str).chain(
            spec.ids
                .as_ref()
                .map(|ids| ids.as_vec())
                .unwrap_or_default(),
        ) {
            demand.record.extend(path_head(path));
        }
    }
    walk_fields(&mapping.fields, true, &mut demand.record, &mut scripts);
    for text in scripts {
        read_script(text, &mut demand);
    }
    demand.record.remove("");
    demand
}

/// Collects record-level path heads and every script of a field tree.
fn walk_fields<'a>(
    fields: &'a indexmap::IndexMap<String, FieldSpec>,
    record_level: bool,
    record: &mut BTreeSet<String>,
    scripts: &mut Vec<&'a str>,
) {
    for spec in fields.values() {
        if record_level {
            for path in spec.path.iter().flat_map(|p| p.as_vec()) {
                record.extend(path_head(path));
            }
        }
        scripts.extend(spec.expr.as_deref());
        scripts.extend(spec.when.as_deref());
        let mut inner_record_level = record_level;
        if let Some(each) = &spec.each {
            let paths = each.as_vec();
            if record_level {
                for path in &paths {
                    record.extend(path_head(path));
                }
            }
            // `each: $` walks the record itself; other arrays give lines.
            inner_record_level = record_level && paths.iter().all(|p| p.trim() == "$");
        }
        if let Some(children) = &spec.fields {
            walk_fields(children, inner_record_level, record, scripts);
        }
    }
}

/// The first step of a JSONPath (`$.Account_Name.id` -> `Account_Name`).
fn path_head(path: &str) -> Option<String> {
    let rest = path.trim().strip_prefix('$')?;
    if let Some(name) = rest.strip_prefix('.') {
        let end = name.find(['.', '[']).unwrap_or(name.len());
        let head = &name[..end];
        return (!head.is_empty() && head != "*").then(|| head.to_string());
    }
    let quoted = rest
        .strip_prefix("['")
        .or_else(|| rest.strip_prefix("[\""))?;
    let end = quoted.find(['\'', '"'])?;
    Some(quoted[..end].to_string())
}

/// Reads `record.X`, `record["X"]`, `related.n.X`, `related.n[..].X` and,
/// after `let v = related.n`, `v.X` out of a script.
fn read_script(text: &str, demand: &mut FieldDemand) {
    let tokens = tokens(text);
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    for (i, token) in tokens.iter().enumerate() {
        // let alias = related.name ...
        if token == "let" {
            if let (Some(alias), Some("="), Some("related")) = (
                tokens.get(i + 1),
                tokens.get(i + 2).map(String::as_str),
                tokens.get(i + 3).map(String::as_str),
            ) {
                if let Some((name, _)) = member(&tokens, i + 4) {
                    aliases.insert(alias.clone(), name);
                }
            }
        }
        match token.as_str() {
            "record" => {
                if let Some((field, _)) = member(&tokens, i + 1) {
                    demand.record.insert(field);
                }
            }
            "related" => {
                if let Some((name, next)) = member(&tokens, i + 1) {
                    if let Some(field) = field_after(&tokens, next) {
                        demand.related.entry(name).or_default().insert(field);
                    }
                }
            }
            other => {
                if let Some(name) = aliases.get(other) {
                    if let Some(field) = field_after(&tokens, i + 1) {
                        demand
                            .related
                            .entry(name.clone())
                            .or_default()
                            .insert(field);
                    }
                }
            }
        }
    }
}

/// `.x`, `?.x` or `["x"]` at `at`: the member's name and the next position.
fn member(tokens: &[String], at: usize) -> Option<(String, usize)> {
    let mut i = at;
    if tokens.get(i).map(String::as_str) == Some("?") {
        i += 1;
    }
    match tokens.get(i).map(String::as_str) {
        Some(".") => {
            let name = tokens.get(i + 1)?;
            is_ident(name).then(|| (name.clone(), i + 2))
        }
        Some("[") => {
            let literal = tokens.get(i + 1)?;
            let name = literal.strip_prefix('"')?.strip_suffix('"')?;
            (tokens.get(i + 2).map(String::as_str) == Some("]")).then(|| (name.to_string(), i + 3))
        }
        _ => None,
    }
}

/// The field read after a related record: `.X`, or `[key].X` for maps of records.
fn field_after(tokens: &[String], at: usize) -> Option<String> {
    let mut i = at;
    if tokens.get(i).map(String::as_str) == Some("[") {
        let mut depth = 0;
        while let Some(t) = tokens.get(i) {
            match t.as_str() {
                "[" => depth += 1,
                "]" => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    member(tokens, i).map(|(name, _)| name)
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
}

/// Identifiers, string literals (kept with their quotes) and single
/// punctuation characters; comments are dropped.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == '"' || c == '`' || c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            let literal: String = chars[start..i.min(chars.len())].iter().collect();
            if c == '`' {
                // A template string: the code inside each `${...}` counts.
                out.push(String::new());
                let mut rest = literal.as_str();
                while let Some(open) = rest.find("${") {
                    let inner = &rest[open + 2..];
                    let close = inner.find('}').unwrap_or(inner.len());
                    out.extend(tokens(&inner[..close]));
                    rest = &inner[close..];
                }
            } else if c == '"' {
                out.push(literal);
            } else {
                out.push(String::new());
            }
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> FieldDemand {
        let mut d = FieldDemand::default();
        read_script(text, &mut d);
        d
    }

    #[test]
    fn scripts_name_the_fields_they_read() {
        let d = read(
            r#"
            // record.Commented_Out is not read
            let account = record.Account_Name;
            let taxes = record["$line_tax"];
            let found = related.contact;
            if found?.Account_Name.id != account.id { error("X", "Y", "z") }
            let code = related.products[product.id]?.Product_Code;
            let email = related.primary_contact?.Email ?? record.Email;
            let text = `Ref ${record.Subject} for ${related.contact.Full_Name}`;
            "#,
        );
        let record: Vec<&str> = d.record.iter().map(String::as_str).collect();
        assert_eq!(record, ["$line_tax", "Account_Name", "Email", "Subject"]);
        let related = |n: &str| -> Vec<String> { d.related[n].iter().cloned().collect() };
        assert_eq!(related("contact"), ["Account_Name", "Full_Name"]);
        assert_eq!(related("products"), ["Product_Code"]);
        assert_eq!(related("primary_contact"), ["Email"]);
    }

    #[test]
    fn paths_give_their_first_step() {
        assert_eq!(
            path_head("$.Account_Name.id").as_deref(),
            Some("Account_Name")
        );
        assert_eq!(
            path_head("$.Invoiced_Items[*].Product_Name.id").as_deref(),
            Some("Invoiced_Items")
        );
        assert_eq!(path_head("$['Odd Name']").as_deref(), Some("Odd Name"));
        assert_eq!(path_head("$"), None);
    }
}
