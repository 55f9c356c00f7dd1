//! The LMS imitations as a `rest` connection reaches them: the base URL and
//! the demo credentials `--sandbox` puts in place of a connection's own,
//! and where each imitation's seed goes.

use serde_json::{json, Value};

use crate::{SandboxConfig, SandboxError, CLIENT_ID, CLIENT_SECRET};

/// The imitations a `rest` connection can be pointed at.
pub const IMITATIONS: &[&str] = &["canvas", "blackboard"];

/// The `base_url` and `auth` options of a `rest` connection to imitation
/// `name` of the sandbox at `base`; `None` for a name the sandbox does not
/// imitate.
pub fn rest_options(name: &str, base: &str) -> Option<Value> {
    let base = base.trim_end_matches('/');
    match name {
        "canvas" => Some(json!({
            "base_url": format!("{base}/canvas/api/v1"),
            "auth": {"kind": "bearer", "token": crate::canvas::DEMO_TOKEN},
        })),
        "blackboard" => Some(json!({
            "base_url": format!("{base}/blackboard/learn/api/public"),
            "auth": {
                "kind": "client_credentials",
                "token_url": format!("{base}/blackboard/learn/api/public/v1/oauth2/token"),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "credentials": "basic",
            },
        })),
        _ => None,
    }
}

impl SandboxConfig {
    /// Seeds imitation `name` with `seed`.
    pub fn seed_imitation(&mut self, name: &str, seed: Value) -> Result<(), SandboxError> {
        match name {
            "canvas" => self.canvas.seed = seed,
            "blackboard" => self.blackboard.seed = seed,
            other => {
                return Err(SandboxError::Config(format!(
                    "the sandbox imitates no `{other}` (imitations: {})",
                    IMITATIONS.join(", ")
                )))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_imitation_has_its_options_and_takes_its_seed() {
        for name in IMITATIONS {
            let options = rest_options(name, "http://127.0.0.1:1/").unwrap();
            assert!(options["base_url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("http://127.0.0.1:1/{name}/")));
            let mut config = SandboxConfig::default();
            config.seed_imitation(name, json!({"users": []})).unwrap();
        }
        assert!(rest_options("moodle", "http://x").is_none());
        let err = SandboxConfig::default()
            .seed_imitation("moodle", json!({}))
            .unwrap_err();
        assert!(err.to_string().contains("imitations: canvas, blackboard"));
    }
}
