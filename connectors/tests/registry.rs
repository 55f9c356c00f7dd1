//! The registry and the connections it makes: one entry per kind, options
//! parsed and checked once (naming the option, never its value), and each
//! connection of a run made once and shared.

use std::sync::Arc;

use serde_json::json;
use syncwright_engine::connector::{Connections, ConnectorContext};
use syncwright_engine::{LoadOptions, Project};

fn configure(kind: &str, options: serde_json::Value) -> Result<(), String> {
    let ctx = ConnectorContext {
        base_dir: ".".into(),
        connection: "c".into(),
        store: None,
    };
    syncwright_connectors::registry()
        .get(kind)
        .unwrap()
        .configure(&ctx, &options)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn each_kind_is_declared_once_by_its_config() {
    let registry = syncwright_connectors::registry();
    assert_eq!(
        registry.kinds(),
        ["file", "rest", "stdout", "xero", "zoho_crm"]
    );
    for factory in registry.factories() {
        let schema = serde_json::to_value(factory.schema()).unwrap();
        assert!(
            schema["properties"].is_object(),
            "{}: {schema}",
            factory.kind()
        );
        assert!(!factory.description().is_empty());
    }
    let xero = serde_json::to_value(registry.get("xero").unwrap().schema()).unwrap();
    let required = xero["required"].as_array().unwrap();
    assert!(required.contains(&json!("client_id")) && required.contains(&json!("client_secret")));
    assert!(xero["properties"]["unitdp"]["description"]
        .as_str()
        .unwrap()
        .contains("unitdp"));
}

#[test]
fn bad_options_are_named_and_their_values_kept_out() {
    let err = configure("file", json!({"path": "crm.json", "colour": "red"})).unwrap_err();
    assert!(err.starts_with("unknown field `colour`"), "{err}");
    let err = configure("zoho_crm", json!({"client_id": "a", "client_secret": "b"})).unwrap_err();
    assert_eq!(err, "missing field `refresh_token`");
    let xero = |extra: serde_json::Value| {
        let mut options = json!({"client_id": "a", "client_secret": "b"});
        options
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        configure("xero", options)
    };
    assert!(xero(json!({})).is_ok());
    let err = xero(json!({"grant": "refresh_token", "refresh_token": "r"})).unwrap_err();
    assert!(
        err.starts_with("grant refresh_token needs `refresh_token_file`"),
        "{err}"
    );
    let err = xero(json!({"batch_size": "s3cr3t-value"})).unwrap_err();
    assert_eq!(err, "invalid type: a string, expected usize");
    let err = xero(json!({"grant": "s3cr3t-value"})).unwrap_err();
    assert!(!err.contains("s3cr3t"), "{err}");
}

#[test]
fn a_run_makes_each_connection_once_and_shares_it() {
    let dir = tempfile::tempdir().unwrap();
    let project_file = dir.path().join("syncwright.yaml");
    std::fs::write(
        &project_file,
        "connections:\n  crm: {kind: file, path: crm.json}\n  out: {kind: stdout}\nmodules: []\n",
    )
    .unwrap();
    let project = Project::load(
        &LoadOptions::new(&project_file),
        &syncwright_connectors::registry(),
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    let connections = Connections::new(syncwright_connectors::registry(), &project);
    let first = connections.get("crm").unwrap();
    let again = connections.get("crm").unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert!(!Arc::ptr_eq(&first, &connections.get("out").unwrap()));
    let err = connections.get("nowhere").err().unwrap();
    assert_eq!(err.to_string(), "no connection `nowhere`");
}

#[test]
fn a_project_with_bad_options_is_refused_at_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let project_file = dir.path().join("syncwright.yaml");
    std::fs::write(
        &project_file,
        "connections:\n  books:\n    kind: xero\n    client_id: a\n    client_secret: b\n    grant: refresh_token\nmodules: []\n",
    )
    .unwrap();
    let Err(diagnostics) = Project::load(
        &LoadOptions::new(&project_file),
        &syncwright_connectors::registry(),
    ) else {
        panic!("loaded");
    };
    let text = format!("{diagnostics:?}");
    assert!(
        text.contains("connection `books` (xero): grant refresh_token needs `refresh_token_file`"),
        "{text}"
    );
}
