//! Path templates (`/courses/{course_id}/enrollments`), record ids that are
//! a field or a template of fields, and the dotted field reads both use.

use serde_json::Value;

/// A path with `{name}` placeholders, each a dotted field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Name(String),
}

/// Where a record's id is: one field, or a template of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSpec {
    /// A field, dotted for a nested one.
    Field(String),
    /// A template of fields (`{column.id}:{userId}`).
    Template(Template),
}

impl Template {
    /// Parses `text`; a placeholder must be a non-empty name of letters,
    /// digits, `_`, `-` and dots, and every brace must close.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("`{text}` opens a placeholder that does not close"));
            };
            let name = &after[..close];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(format!(
                    "`{{{name}}}` in `{text}` is not a placeholder: name a field, such as `{{id}}`"
                ));
            }
            parts.push(Part::Name(name.to_string()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`{text}` closes a placeholder it never opened"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Parses a record's id option: a template when it has a placeholder,
    /// else a field.
    pub fn parse_id(text: &str) -> Result<IdSpec, String> {
        if text.contains('{') || text.contains('}') {
            return Template::parse(text).map(IdSpec::Template);
        }
        let valid = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if valid {
            Ok(IdSpec::Field(text.to_string()))
        } else {
            Err(format!(
                "`{text}` is neither a field (`id`, `user.id`) nor a template (`{{column.id}}:{{userId}}`)"
            ))
        }
    }

    /// The placeholders' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Name(n) => Some(n.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with every placeholder replaced by `value(name)`, encoded
    /// for a URL path segment when `encode`; the error names a placeholder
    /// that has no value.
    pub fn fill(
        &self,
        mut value: impl FnMut(&str) -> Option<String>,
        encode: bool,
    ) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Name(n) => {
                    let v = value(n).ok_or_else(|| format!("`{{{n}}}` has no value"))?;
                    if encode {
                        out.push_str(&encode_segment(&v));
                    } else {
                        out.push_str(&v);
                    }
                }
            }
        }
        Ok(out)
    }
}

impl IdSpec {
    /// The id of `record`, as text.
    pub fn of(&self, record: &Value) -> Option<String> {
        match self {
            IdSpec::Field(field) => dotted(record, field),
            IdSpec::Template(t) => t.fill(|name| dotted(record, name), false).ok(),
        }
    }
}

/// A dotted field of a JSON value as text: strings as they are, numbers and
/// booleans written out; `None` for a missing field, null, an object or a list.
pub fn dotted(value: &Value, name: &str) -> Option<String> {
    let mut at = value;
    for part in name.split('.') {
        at = at.get(part)?;
    }
    match at {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Percent-encodes text for one path segment: unreserved characters and
/// the sub-delimiters and `:` and `@` a segment allows stay as they are
/// (`userName:ada` stays readable), a `/` is encoded.
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_filled_and_encoded_as_path_segments() {
        let t = Template::parse("/courses/{course.id}/users/{user}").unwrap();
        assert_eq!(t.names().collect::<Vec<_>>(), ["course.id", "user"]);
        let record = json!({"course": {"id": 7}, "user": "userName:ada lovelace/x"});
        assert_eq!(
            t.fill(|n| dotted(&record, n), true).unwrap(),
            "/courses/7/users/userName:ada%20lovelace%2Fx"
        );
        assert_eq!(
            t.fill(|_| None, true).unwrap_err(),
            "`{course.id}` has no value"
        );
    }

    #[test]
    fn malformed_templates_are_refused_with_the_reason() {
        assert!(Template::parse("/a/{id")
            .unwrap_err()
            .contains("does not close"));
        assert!(Template::parse("/a/id}")
            .unwrap_err()
            .contains("never opened"));
        assert!(Template::parse("/a/{}")
            .unwrap_err()
            .contains("not a placeholder"));
        assert!(Template::parse("/a/{a b}")
            .unwrap_err()
            .contains("not a placeholder"));
    }

    #[test]
    fn an_id_is_a_field_or_a_template_of_fields() {
        let grade = json!({"userId": "_5_1", "column": {"id": "_70_1"}, "id": 3});
        let composite = Template::parse_id("{column.id}:{userId}").unwrap();
        assert_eq!(composite.of(&grade).as_deref(), Some("_70_1:_5_1"));
        let plain = Template::parse_id("id").unwrap();
        assert_eq!(plain.of(&grade).as_deref(), Some("3"));
        assert!(Template::parse_id("a b").is_err());
        assert_eq!(
            Template::parse_id("column.id")
                .unwrap()
                .of(&grade)
                .as_deref(),
            Some("_70_1")
        );
    }
}
