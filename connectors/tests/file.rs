//! The `file` connector (and `stdout`, its sink-only sibling) as a project
//! makes them: snapshots in every shape it reads, related records, bad input
//! located, and request bodies written as JSON lines.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::item;
use syncwright_engine::connector::{ExtractRequest, Source, SourceItem};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn source(dir: &Path, options: Value) -> Box<dyn Source> {
    support::connect("file", options, dir).source().unwrap()
}

fn request(ids: &[&str]) -> ExtractRequest {
    ExtractRequest {
        module: "Invoices".into(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Every batch of an opened source, as the items it gave.
async fn batches(source: &mut dyn Source) -> Vec<Vec<SourceItem>> {
    let mut out = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        out.push(batch);
    }
    out
}

fn ids(items: &[SourceItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            SourceItem::Record(r) => r["id"].as_str().unwrap_or("?").to_string(),
            SourceItem::Unreadable { position, .. } => format!("unreadable at {position}"),
        })
        .collect()
}

#[tokio::test]
async fn a_snapshot_by_module_is_read_in_batches_with_its_related_records() {
    let dir = tempfile::tempdir().unwrap();
    let invoices: Vec<Value> = (0..450)
        .map(|i| json!({"id": format!("inv-{i}"), "Account_Name": {"id": if i % 2 == 0 { "acc-1" } else { "acc-2" }}}))
        .collect();
    let snapshot = json!({
        "Invoices": invoices,
        "Accounts": [{"id": "acc-1", "Account_Name": "Acme"}, {"id": "acc-2", "Account_Name": "Initech"}],
        "Contacts": [{"id": 42, "Last_Name": "Citizen", "Account_Name": {"id": "acc-1"}}]
    });
    write(dir.path(), "crm.json", &snapshot.to_string());
    // Relative to the project's directory.
    let mut source = source(dir.path(), json!({"path": "crm.json"}));
    source.open(&request(&[])).await.unwrap();
    assert_eq!(source.total_hint().await, Some(450));
    let read = batches(source.as_mut()).await;
    let sizes: Vec<usize> = read.iter().map(Vec::len).collect();
    assert_eq!(sizes, [200, 200, 50]);
    assert_eq!(ids(&read[0])[..2], ["inv-0", "inv-1"]);

    let accounts = source
        .fetch_related("Accounts", &["acc-2".into(), "missing".into()], &[])
        .await
        .unwrap();
    assert_eq!(
        accounts,
        [json!({"id": "acc-2", "Account_Name": "Initech"})]
    );
    let contacts = source
        .fetch_related_by("Contacts", "Account_Name.id", &["acc-1".into()], &[])
        .await
        .unwrap();
    assert_eq!(contacts.len(), 1, "numeric ids and dotted keys");
    let by_number_id = source
        .fetch_related("Contacts", &["42".into()], &[])
        .await
        .unwrap();
    assert_eq!(by_number_id.len(), 1);
}

#[tokio::test]
async fn single_records_are_picked_by_id() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "crm.json",
        r#"{"Invoices": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}"#,
    );
    let mut source = source(dir.path(), json!({"path": "crm.json"}));
    source.open(&request(&["c", "a"])).await.unwrap();
    assert_eq!(source.total_hint().await, Some(2));
    let read = batches(source.as_mut()).await.concat();
    assert_eq!(ids(&read), ["a", "c"], "in the snapshot's order");
}

#[tokio::test]
async fn a_list_response_or_an_array_holds_the_modules_records_and_related_come_apart() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "page.json",
        r#"{"data": [{"id": "1"}, {"id": "2"}], "info": {"more_records": false}}"#,
    );
    write(dir.path(), "array.json", r#"[{"id": "3"}]"#);
    write(
        dir.path(),
        "related.json",
        r#"{"Accounts": [{"id": "acc-1"}]}"#,
    );
    let mut from_page = source(
        dir.path(),
        json!({"path": "page.json", "related": "related.json"}),
    );
    from_page.open(&request(&[])).await.unwrap();
    assert_eq!(ids(&batches(from_page.as_mut()).await.concat()), ["1", "2"]);
    let related = from_page
        .fetch_related("Accounts", &["acc-1".into()], &[])
        .await
        .unwrap();
    assert_eq!(related.len(), 1);

    let mut from_array = source(dir.path(), json!({"path": "array.json"}));
    from_array.open(&request(&[])).await.unwrap();
    assert_eq!(ids(&batches(from_array.as_mut()).await.concat()), ["3"]);
}

#[tokio::test]
async fn in_json_lines_a_bad_line_is_rejected_alone_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let text = "{\"id\": \"1\"}\n\n{\"id\": \"2\", oops}\n{\"id\": \"3\"}\n";
    // Told by the extension, or by holding more than one document.
    write(dir.path(), "crm.jsonl", text);
    write(dir.path(), "crm.json", text);
    for name in ["crm.jsonl", "crm.json"] {
        let mut source = source(dir.path(), json!({"path": name}));
        source.open(&request(&[])).await.unwrap();
        assert_eq!(
            source.total_hint().await,
            None,
            "streamed: not counted ahead"
        );
        let read = batches(source.as_mut()).await.concat();
        let place = format!("unreadable at {}:3", dir.path().join(name).display());
        assert_eq!(ids(&read), ["1".to_string(), place, "3".to_string()]);
        let SourceItem::Unreadable { reason, .. } = &read[1] else {
            unreachable!()
        };
        assert!(reason.starts_with("not valid JSON"), "{reason}");
    }
}

#[tokio::test]
async fn a_broken_snapshot_is_refused_at_its_line_and_column_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "broken.json",
        "{\"Invoices\": [\n  {\"id\": \"secret-value\",}\n]}",
    );
    write(dir.path(), "wrong.json", r#"{"Invoices": {"id": "1"}}"#);
    let mut broken = source(dir.path(), json!({"path": "broken.json"}));
    let err = broken
        .open(&request(&[]))
        .await
        .expect_err("refused")
        .to_string();
    let at = format!("{}:2:", dir.path().join("broken.json").display());
    assert!(err.starts_with(&at), "{err}");
    assert!(!err.contains("secret-value"), "{err}");
    let mut wrong = source(dir.path(), json!({"path": "wrong.json"}));
    let err = wrong
        .open(&request(&[]))
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        err.ends_with("`Invoices` should be a list of records, found an object"),
        "{err}"
    );
    let mut missing = source(dir.path(), json!({"path": "missing.json"}));
    let err = missing
        .open(&request(&[]))
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.starts_with("cannot read"), "{err}");
}

#[tokio::test]
async fn the_sink_writes_each_batch_as_one_line_starting_the_file_afresh() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "out.jsonl", "left by an earlier run\n");
    let connection = support::connect(
        "file",
        json!({"path": "out.jsonl", "batch_size": 2}),
        dir.path(),
    );
    let mut sink = connection.sink().unwrap();
    assert_eq!(sink.max_batch(), 2);
    let batch = |n: u32| {
        vec![
            item("a", json!({"n": n}), None),
            item("b", json!({"n": n + 1}), None),
        ]
    };
    let first = sink.load("Invoices", batch(1), "k1").await.unwrap();
    let path = dir.path().join("out.jsonl");
    assert_eq!(
        first[1].location.as_deref(),
        Some(format!("{}#1", path.display()).as_str())
    );
    sink.finish().await.unwrap();
    // The next module's sink adds to what this run wrote.
    let mut next = connection.sink().unwrap();
    next.load("Contacts", batch(3), "k2").await.unwrap();
    next.finish().await.unwrap();
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"Invoices": [{"n": 1}, {"n": 2}]}),
            json!({"Contacts": [{"n": 3}, {"n": 4}]})
        ]
    );
}

#[test]
fn stdout_is_a_sink_only() {
    let connection = support::connect("stdout", json!({"batch_size": 0}), Path::new("."));
    assert_eq!(connection.sink().unwrap().max_batch(), 1);
    let err = connection.source().err().expect("not a source");
    assert_eq!(err.to_string(), "connector `stdout` cannot be a source");
}
