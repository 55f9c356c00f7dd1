use std::sync::Arc;

use super::schema::{APPLICATION_ID, MIGRATIONS};
use super::*;
use crate::state::suite;

#[tokio::test]
async fn behaves_as_every_store_must() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/sync.db");
    let open = || Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn StateStore>;
    suite::check_all(&open).await;
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn a_store_is_private_and_a_loosened_copy_is_made_private_again() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    drop(SqliteStore::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(SqliteStore::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
#[test]
fn what_is_not_a_store_is_refused_and_never_chmod_ed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();

    // Another program's file, readable by all: refused, mode untouched.
    let snapshot = dir.path().join("crm.json");
    std::fs::write(&snapshot, br#"{"Invoices": []}"#).unwrap();
    std::fs::set_permissions(&snapshot, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = SqliteStore::open(&snapshot).err().expect("refused");
    assert!(
        err.to_string().contains("not a syncwright state file"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("Invoices"),
        "content leaked: {err}"
    );
    assert_eq!(mode(&snapshot), 0o644);

    // An empty file is not a new store.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = SqliteStore::open(&empty).err().expect("refused");
    assert!(err.to_string().contains("empty file"), "{err}");
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    assert_eq!(mode(&empty), 0o644);

    // A device, or a directory.
    let err = SqliteStore::open(Path::new("/dev/null"))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = SqliteStore::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("not a regular file"), "{err}");

    // A link to a snapshot is refused like the snapshot.
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&snapshot, &link).unwrap();
    assert!(SqliteStore::open(&link).is_err());
    assert_eq!(mode(&snapshot), 0o644);
}

#[cfg(unix)]
#[test]
fn a_store_reached_through_a_link_is_used_but_never_chmod_ed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    drop(SqliteStore::open(&real).unwrap());
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("state.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    drop(SqliteStore::open(&link).unwrap());
    assert_eq!(mode(&real), 0o640);
}

#[test]
fn first_runs_at_once_share_one_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".syncwright/state.db");
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| SqliteStore::open(&path).map(|_| ())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in opened {
        result.expect("every first run opens the store");
    }
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
}

#[test]
fn a_damaged_or_foreign_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend_from_slice(b"this is not a database, it is a shopping list");
    std::fs::write(&garbage, &bytes).unwrap();
    let err = SqliteStore::open(&garbage).err().expect("refused");
    assert!(matches!(err, StateError::Foreign { .. }), "{err}");
    assert_eq!(std::fs::read(&garbage).unwrap(), bytes);

    let other = dir.path().join("other.db");
    let conn = Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE recipes (name TEXT)")
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&other).err().expect("refused");
    assert!(
        err.to_string().contains("not a syncwright state file"),
        "{err}"
    );
    let conn = Connection::open(&other).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM recipes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

/// A file as the first release wrote it: schema 1, one link.
fn version_one_file(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(MIGRATIONS[0]).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
    ))
    .unwrap();
    conn.execute(
        "INSERT INTO links VALUES ('invoices', '1', 'x-1', 'INV-1', 'h', 'created', '2026-11-01T00:00:00Z')",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO runs (started_at, options) VALUES ('2026-11-01T00:00:00Z', '{}')",
        [],
    )
    .unwrap();
}

#[tokio::test]
async fn an_older_file_is_migrated_forward_and_its_links_go_to_the_first_pair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    version_one_file(&path);
    let s = SqliteStore::open(&path).unwrap();
    let version: i64 = s
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    // Unbound, the module reads what was written before pairs were kept.
    let old = s.link("invoices", "1").await.unwrap().unwrap();
    assert_eq!((old.target_id.as_str(), old.payload), ("x-1", None));
    // A run that never ended is shown as died.
    assert_eq!(s.runs(1).await.unwrap()[0].state, RunState::Died);

    let pair = OrgPair {
        source: "zoho:1".into(),
        target: "xero:a".into(),
    };
    let report = s.bind("invoices", &pair).await.unwrap();
    assert_eq!((report.adopted, report.new_pair), (1, false));
    assert!(s.link("invoices", "1").await.unwrap().is_some());
    // A second organisation does not get them too.
    let other = OrgPair {
        source: "zoho:1".into(),
        target: "xero:b".into(),
    };
    let report = s.bind("invoices", &other).await.unwrap();
    assert_eq!((report.adopted, report.new_pair), (0, true));
    assert!(s.link("invoices", "1").await.unwrap().is_none());
}

#[test]
fn a_file_from_a_newer_syncwright_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    let future = MIGRATIONS.len() as i64 + 1;
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {future};"))
        .unwrap();
    let err = SqliteStore::open(&path).err().expect("refused");
    assert!(
        matches!(err, StateError::TooNew { found, .. } if found == future),
        "{err}"
    );
    assert!(
        err.to_string().contains("newer than this syncwright"),
        "{err}"
    );
}

#[test]
fn payload_hash_is_stable() {
    let a = serde_json::json!({"b": 1, "a": [1, 2]});
    let b: serde_json::Value = serde_json::from_str(r#"{"a":[1,2],"b":1}"#).unwrap();
    assert_eq!(
        crate::state::payload_hash(&a),
        crate::state::payload_hash(&b)
    );
    assert_eq!(crate::state::payload_hash(&a).len(), 16);
}

#[tokio::test]
async fn a_copy_holds_every_record_and_goes_into_an_empty_store_only() {
    let dir = tempfile::tempdir().unwrap();
    let from = SqliteStore::open(&dir.path().join("from.db")).unwrap();
    suite::fill(&from).await;
    let to = SqliteStore::open(&dir.path().join("to.db")).unwrap();
    let counts = crate::state::copy(&from, &to).await.unwrap();
    assert_eq!(
        (counts.links, counts.runs, counts.outcomes, counts.intents),
        (302, 2, 2, 1)
    );
    // A new handle on the copy reads it as the original reads itself.
    let reopened = SqliteStore::open(&dir.path().join("to.db")).unwrap();
    suite::assert_same_state(&from, &reopened).await;
    // Ids handed out later follow the copied ones.
    let next = reopened.begin_run(&serde_json::json!({})).await.unwrap();
    assert_eq!(next, from.runs(1).await.unwrap()[0].id + 1);

    let err = crate::state::copy(&from, &reopened).await.unwrap_err();
    assert!(
        matches!(&err, StateError::NotEmpty { what, .. } if what.contains("302 links")),
        "{err}"
    );
    assert_eq!(reopened.links("invoices").await.unwrap().len(), 299);
}
