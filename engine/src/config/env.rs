//! `${VAR}` references in configuration values, expanded from the
//! environment, and `${file:PATH}` read from a secret file that only its
//! owner may read (0600), relative to the project file.

use std::path::Path;

/// Resolves one reference (`VAR` or `file:PATH`) to its value, or says why not.
pub type Resolver<'a> = dyn Fn(&str) -> Result<String, Unresolved> + 'a;

/// Why a reference could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The reference as written (`XERO_CLIENT_SECRET`, `file:secrets/xero`).
    pub name: String,
    /// What is wrong, for people.
    pub reason: String,
    /// How to fix it.
    pub help: String,
}

/// The project's resolver: `file:` references read from files under
/// `base_dir`, others from `env`.
pub fn resolver<'a>(
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> impl Fn(&str) -> Result<String, Unresolved> + 'a {
    move |name: &str| match name.strip_prefix("file:") {
        Some(path) => read_secret_file(&base_dir.join(path.trim())).map_err(|reason| Unresolved {
            name: name.to_string(),
            reason,
            help: "write the secret alone in the file and `chmod 600` it".into(),
        }),
        None => env(name).ok_or_else(|| Unresolved {
            name: name.to_string(),
            reason: format!("environment variable `{name}` is not set"),
            help: format!("export {name}=... before running, or write the value in the file"),
        }),
    }
}

/// Reads a secret from a file that group and others cannot read; the
/// trailing newline is dropped. Errors name the file, never its content.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("secret file {shown}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "secret file {shown} can be read by others (mode {mode:o}); it must be 0600"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|e| format!("secret file {shown}: {e}"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Expands `${NAME}` in `input` using `lookup`; `$$` stands for a literal `$`.
/// Returns the first reference that could not be resolved as the error.
pub fn expand(input: &str, lookup: &Resolver) -> Result<String, Unresolved> {
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
                return Err(Unresolved {
                    name: input.to_string(),
                    reason: format!("unclosed `${{` in `{input}`"),
                    help: "write `${NAME}`, or `$$` for a literal `$`".into(),
                });
            };
            out.push_str(&lookup(&body[..end])?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands every string inside a YAML value; on a reference that cannot be
/// resolved returns `(key path, why)`.
pub fn expand_value(
    value: &mut serde_yaml::Value,
    path: &str,
    lookup: &Resolver,
) -> Result<(), (String, Unresolved)> {
    match value {
        serde_yaml::Value::String(s) => {
            *s = expand(s, lookup).map_err(|why| (path.to_string(), why))?;
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
        let dir = std::path::Path::new(".");
        let env = resolver(dir, &env);
        assert_eq!(expand("a-${SECRET}-b", &env).unwrap(), "a-s3cr3t-b");
        assert_eq!(expand("cost $$5", &env).unwrap(), "cost $5");
        assert_eq!(expand("${NOPE}", &env).unwrap_err().name, "NOPE");
        assert_eq!(expand("plain", &env).unwrap(), "plain");
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "abc123\n").unwrap();
        let set = |mode| {
            std::fs::set_permissions(
                dir.path().join("token"),
                std::fs::Permissions::from_mode(mode),
            )
            .unwrap()
        };
        let resolve = resolver(dir.path(), &env);
        set(0o644);
        let err = expand("${file:token}", &resolve).unwrap_err();
        assert!(err.reason.contains("mode 644"), "{err:?}");
        assert!(!err.reason.contains("abc123"), "never the secret itself");
        set(0o600);
        assert_eq!(expand("${file:token}", &resolve).unwrap(), "abc123");
    }
}
