//! The PostgreSQL store against a real server: the one
//! `SYNCWRIGHT_TEST_POSTGRES` names (`.ci/run` starts one with
//! `scripts/postgres.sh`). Each test works in a database of its own.

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use tokio::sync::Barrier;
use tokio_postgres::NoTls;

use super::*;
use crate::state::{copy, now, suite, SqliteStore};

/// The server the tests use. Without one, says once why the PostgreSQL
/// tests did not run; under CI that is a failure.
fn server() -> Option<String> {
    match std::env::var("SYNCWRIGHT_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").unwrap_or_default();
            assert!(
                ci.is_empty() || ci == "false",
                "CI is set but SYNCWRIGHT_TEST_POSTGRES is not: the PostgreSQL store is tested \
                 in CI against a real server (.ci/run starts one with scripts/postgres.sh)"
            );
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to stderr, past the test harness's capture.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: the PostgreSQL state store tests were not run: \
                     SYNCWRIGHT_TEST_POSTGRES is not set (scripts/postgres.sh start prints a URL)"
                );
            });
            None
        }
    }
}

/// A database made for one test, dropped when the test ends well.
struct TestDb {
    server: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn new() -> Option<TestDb> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = server()?;
        let name = format!(
            "syncwright_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(&server)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("the test server creates a database");
        let url = with_database(&server, &name);
        Some(TestDb { server, name, url })
    }

    /// A raw connection to the test's database.
    async fn raw(&self) -> tokio_postgres::Client {
        admin(&self.url).await
    }

    async fn drop(self) {
        admin(&self.server)
            .await
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .unwrap();
    }
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("SYNCWRIGHT_TEST_POSTGRES does not reach a server: {e}"));
    tokio::spawn(connection);
    client
}

/// The URL with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let authority = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

/// The URL with a password: its own, or else `hunter22` added to its user
/// (a server that trusts local connections, as the test server does,
/// accepts and ignores it).
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            let password = userinfo.split_once(':').unwrap().1.to_string();
            (url.to_string(), password)
        }
        Some((user, host)) => (
            format!("{scheme}://{user}:hunter22@{host}{tail}"),
            "hunter22".into(),
        ),
        None => (
            format!("{scheme}://postgres:hunter22@{authority}{tail}"),
            "hunter22".into(),
        ),
    }
}

/// Waits for `f` from synchronous code inside the multi-threaded runtime.
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

async fn store(db: &TestDb, project: &str) -> Arc<PostgresStore> {
    Arc::new(PostgresStore::connect(&db.url, project).await.unwrap())
}

fn pair(target: &str) -> OrgPair {
    OrgPair {
        source: "zoho:1".into(),
        target: target.into(),
    }
}

fn link(module: &str, id: &str) -> Link {
    Link {
        module: module.into(),
        source_id: id.into(),
        target_id: format!("x-{id}"),
        target_number: None,
        payload_hash: "h".into(),
        last_outcome: "created".into(),
        updated_at: now(),
        payload: None,
        refused_hash: None,
    }
}

fn holder(token: &str) -> LeaseHolder {
    LeaseHolder {
        token: token.into(),
        run: None,
        pid: std::process::id(),
        host: "test".into(),
        since: now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_as_every_store_must() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let open = || -> Arc<dyn StateStore> {
        Arc::new(block_on(PostgresStore::connect(&db.url, "suite")).unwrap())
    };
    suite::check_all(&open).await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projects_in_one_database_are_kept_apart() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let acme = store(&db, "acme").await;
    let globex = acme.for_project("globex").await.unwrap();
    for s in [&*acme as &dyn StateStore, &globex] {
        s.bind("invoices", &pair("xero:a")).await.unwrap();
    }
    acme.save_links(&[link("invoices", "1"), link("invoices", "2")])
        .await
        .unwrap();
    globex.save_links(&[link("invoices", "1")]).await.unwrap();
    acme.set_cursor("invoices", "2026-11-01T00:00:00Z")
        .await
        .unwrap();
    acme.record_failure("invoices", "3", "no", None)
        .await
        .unwrap();
    acme.save_channel(&WatchChannel {
        channel_id: "1".into(),
        module: "Invoices".into(),
        token: "t".into(),
        expires_at: now(),
    })
    .await
    .unwrap();

    assert_eq!(acme.links("invoices").await.unwrap().len(), 2);
    assert_eq!(globex.links("invoices").await.unwrap().len(), 1);
    assert!(globex.cursor("invoices").await.unwrap().is_none());
    assert!(globex.failures(None).await.unwrap().is_empty());
    assert!(globex.channels().await.unwrap().is_empty());
    // Each project numbers its own runs and sees only them.
    assert_eq!(acme.begin_run(&serde_json::json!({})).await.unwrap(), 1);
    assert_eq!(acme.begin_run(&serde_json::json!({})).await.unwrap(), 2);
    assert_eq!(globex.begin_run(&serde_json::json!({})).await.unwrap(), 1);
    assert_eq!(globex.runs(10).await.unwrap().len(), 1);
    // Bindings too: a new handle on globex knows nothing of acme's.
    acme.bind("quotes", &pair("xero:q")).await.unwrap();
    let again = store(&db, "globex").await;
    assert_eq!(again.bound("invoices"), pair("xero:a"));
    assert_eq!(again.bound("quotes"), OrgPair::default());
    let dump = again.export().await.unwrap();
    assert_eq!((dump.links.len(), dump.runs.len()), (1, 1));

    // What the key says is shared is shared: a writer lease on one
    // organisation excludes the other project's run.
    let key = crate::state::writer_key("xero:a", "invoices");
    let ttl = Duration::from_secs(30);
    assert_eq!(
        acme.acquire_lease(&key, &holder("acme"), ttl)
            .await
            .unwrap(),
        LeaseGrant::Acquired
    );
    assert!(matches!(
        globex.acquire_lease(&key, &holder("globex"), ttl).await.unwrap(),
        LeaseGrant::Held { holder, .. } if holder.token == "acme"
    ));
    assert!(acme.location().contains("(project acme)"));
    let unnamed = acme
        .for_project(" ")
        .await
        .err()
        .expect("a project needs a name");
    assert!(
        unnamed.to_string().contains("needs the project's name"),
        "{unnamed}"
    );
    drop((acme, globex, again));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_tasks_taking_one_lease_at_once_exactly_one_holds_it() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let clients = [
        store(&db, "p").await,
        store(&db, "p").await,
        store(&db, "p").await,
    ];
    let tasks = 30;
    let start = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let s = clients[i % clients.len()].clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let me = format!("task-{i}");
                let grant = s
                    .acquire_lease(
                        "writer:xero:a/invoices",
                        &holder(&me),
                        Duration::from_secs(30),
                    )
                    .await
                    .unwrap();
                (me, grant)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut seen_holders = Vec::new();
    for h in handles {
        match h.await.unwrap() {
            (me, LeaseGrant::Acquired) => winners.push(me),
            (_, LeaseGrant::Held { holder, .. }) => seen_holders.push(holder.token),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(
        seen_holders.iter().all(|t| *t == winners[0]),
        "{seen_holders:?}"
    );
    let (now_holding, _) = clients[0]
        .lease("writer:xero:a/invoices")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now_holding.token, winners[0]);
    drop(clients);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_hammering_a_budget_of_60_get_60_calls_and_5_slots() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let clients = [
        store(&db, "p").await,
        store(&db, "q").await,
        store(&db, "r").await,
    ];
    let window = Duration::from_secs(60);
    let tasks = 12;
    let start = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let s = clients[i % clients.len()].clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let (mut taken, mut waits) = (0, Vec::new());
                for _ in 0..15 {
                    match s.take_rate("xero:a/minute", 60, window).await.unwrap() {
                        None => taken += 1,
                        Some(wait) => waits.push(wait),
                    }
                }
                let slot = s
                    .take_slot("xero:a/flight", 5, Duration::from_secs(60))
                    .await
                    .unwrap();
                (taken, waits, slot)
            })
        })
        .collect();
    let (mut taken, mut refused, mut slots) = (0, 0, 0);
    for h in handles {
        let (t, waits, slot) = h.await.unwrap();
        taken += t;
        refused += waits.len();
        assert!(
            waits.iter().all(|w| *w > Duration::ZERO && *w <= window),
            "{waits:?}"
        );
        slots += usize::from(slot.is_some());
    }
    // 180 tries in all: the budget gives exactly its 60, the rest wait.
    assert_eq!((taken, refused), (60, 120));
    assert_eq!(slots, 5);
    drop(clients);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_connecting_at_once_migrate_the_database_once() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let url = Arc::new(db.url.clone());
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url, &format!("p{i}")).await })
        })
        .collect();
    for h in handles {
        h.await.unwrap().expect("every first connection succeeds");
    }
    let raw = db.raw().await;
    let versions: Vec<i32> = raw
        .query(
            "SELECT version FROM syncwright_schema ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        versions,
        (1..=schema::MIGRATIONS.len() as i32).collect::<Vec<_>>()
    );
    drop(raw);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_syncwright_is_refused_untouched() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let s = store(&db, "acme").await;
    s.save_links(&[link("invoices", "1")]).await.unwrap();
    drop(s);
    let future = schema::MIGRATIONS.len() as i32 + 1;
    let raw = db.raw().await;
    raw.execute(
        "INSERT INTO syncwright_schema (version) VALUES ($1)",
        &[&future],
    )
    .await
    .unwrap();

    let (with_password, password) = with_password(&db.url);
    let err = PostgresStore::connect(&with_password, "acme")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&err, StateError::TooNew { found, .. } if *found == i64::from(future)),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("newer than this syncwright"), "{message}");
    assert!(message.contains(&format!("/{}", db.name)), "{message}");
    assert!(!message.contains(&password), "{message}");
    let links: i64 = raw
        .query_one("SELECT count(*) FROM syncwright_links", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(links, 1);
    drop(raw);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_copied_from_sqlite_to_postgres_and_back_keeps_every_link() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let original = SqliteStore::open(&dir.path().join("original.db")).unwrap();
    suite::fill(&original).await;

    let shared = store(&db, "acme").await;
    // Another project's state in the same database is no obstacle.
    shared
        .for_project("globex")
        .await
        .unwrap()
        .save_links(&[link("invoices", "1")])
        .await
        .unwrap();
    let counts = copy(&original, &*shared).await.unwrap();
    assert_eq!((counts.links, counts.runs, counts.outcomes), (302, 2, 2));
    let reopened = store(&db, "acme").await;
    suite::assert_same_state(&original, &*reopened).await;
    let next = reopened.begin_run(&serde_json::json!({})).await.unwrap();
    assert_eq!(next, 3, "run ids go on after the copied ones");

    // A second copy into the project is refused, and changes nothing.
    let err = copy(&original, &*reopened).await.unwrap_err();
    assert!(matches!(err, StateError::NotEmpty { .. }), "{err}");
    assert_eq!(reopened.links("invoices").await.unwrap().len(), 299);

    // And the way back, into a new file.
    let back = SqliteStore::open(&dir.path().join("back.db")).unwrap();
    copy(&*reopened, &back).await.unwrap();
    suite::assert_same_state(&*reopened, &back).await;
    let (a, c) = (
        original.export().await.unwrap(),
        back.export().await.unwrap(),
    );
    assert_eq!(a.links, c.links, "every link survives the round trip");
    drop((shared, reopened));
    db.drop().await;
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_named_without_the_password() {
    let err = PostgresStore::connect("postgres://sync:hunter22@127.0.0.1:1/state", "acme")
        .await
        .err()
        .expect("nothing listens on port 1");
    let message = err.to_string();
    assert!(
        message.starts_with("state store: postgres://sync@127.0.0.1:1/state: "),
        "{message}"
    );
    assert!(!message.contains("hunter22"), "{message}");
}

#[test]
fn advisory_locks_share_one_class() {
    assert!(LOCK.contains(&LOCK_CLASS.to_string()));
}
