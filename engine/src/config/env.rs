//! `${VAR}` references in configuration values, expanded from the environment.

/// Expands `${NAME}` in `input` using `lookup`; `$$` stands for a literal `$`.
/// Returns the name of the first missing variable as the error.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !input.contains('$') {
        return Ok(input.to_string());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(format!("unclosed `${{` in `{input}`"));
            };
            let name = &body[..end];
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => return Err(name.to_string()),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands every string inside a YAML value; on a missing variable returns
/// `(key path, variable name)`.
pub fn expand_value(
    value: &mut serde_yaml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        serde_yaml::Value::String(s) => {
            *s = expand(s, lookup).map_err(|name| (path.to_string(), name))?;
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), lookup)?;
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.as_str().unwrap_or("?");
                let child = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                expand_value(v, &child, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SECRET").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn expands_known_and_reports_missing() {
        assert_eq!(expand("a-${SECRET}-b", &env).unwrap(), "a-s3cr3t-b");
        assert_eq!(expand("cost $$5", &env).unwrap(), "cost $5");
        assert_eq!(expand("${NOPE}", &env).unwrap_err(), "NOPE");
        assert_eq!(expand("plain", &env).unwrap(), "plain");
    }
}
