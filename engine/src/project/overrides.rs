//! `--set key=value`: settings overridden for one run.

use crate::config::settings::Settings;
use crate::diagnostic::{codes, ConfigError};

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
                    codes::CONFIG_SET,
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
            ConfigError::without_source(codes::CONFIG_SET, format!("--set {key}={raw}: {e}"))
        })?;
    }
    serde_yaml::from_value(value)
        .map_err(|e| ConfigError::without_source(codes::CONFIG_SET, e.to_string()))
}
