//! The `zoho_crm` connector against the sandbox's Zoho CRM, over HTTP: how
//! the source lists a module (page 1, then by `page_token`, which reaches
//! past the 2,000 records `page` can; with `If-Modified-Since`; stopped when it would page
//! without end), asks for fields 50 a call
//! and merges them, and writes back 100 records a call; how the sink splits
//! updates from creates and deletes; and that one connection keeps one
//! token.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use support::{calls, item, query_param};
use syncwright_engine::connector::{ExtractRequest, Source, SourceItem};
use syncwright_sandbox::SandboxConfig;

const LIST: &str = "/crm/v8/Invoices";

/// Zoho's id of the `i`-th seeded invoice.
fn id(i: usize) -> String {
    format!("{}", 5_725_767_000_100_000_000u64 + i as u64)
}

/// `n` invoices, modified one second apart from 2026-11-01 00:00 (UTC), in
/// reverse id order so that sorting by `Modified_Time` is not sorting by id.
fn invoices(n: usize, extra: impl Fn(usize) -> Map<String, Value>) -> Value {
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00+00:00").unwrap();
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let modified = start + chrono::Duration::seconds((n - i) as i64);
            let mut record = json!({
                "id": id(i),
                "Subject": format!("Invoice {i}"),
                "Invoice_Number": format!("Z-{i:05}"),
                "Modified_Time": modified.to_rfc3339(),
            });
            record.as_object_mut().unwrap().extend(extra(i));
            record
        })
        .collect();
    json!({ "Invoices": records })
}

async fn read_all(source: &mut dyn Source, request: ExtractRequest) -> Vec<Value> {
    source.open(&request).await.unwrap();
    let mut out = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        for item in batch {
            match item {
                SourceItem::Record(r) => out.push(r),
                SourceItem::Unreadable { reason, .. } => panic!("unreadable: {reason}"),
            }
        }
    }
    out
}

fn request(fields: &[&str]) -> ExtractRequest {
    ExtractRequest {
        module: "Invoices".into(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_goes_on_by_page_token_past_two_thousand_records() {
    let n = 2_150;
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(n, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let mut source = support::zoho(&sandbox, json!({})).source().unwrap();
    source.open(&request(&["Subject"])).await.unwrap();
    assert_eq!(source.total_hint().await, Some(n as u64), "Zoho's count");
    let records = read_all(source.as_mut(), request(&["Subject"])).await;
    assert_eq!(records.len(), n);
    let unique: BTreeSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), n, "every record once");
    // Oldest change first: the last seeded invoice was modified first.
    assert_eq!(records[0]["id"], id(n - 1));
    assert_eq!(records[n - 1]["id"], id(0));
    assert_eq!(records[5]["Subject"], format!("Invoice {}", n - 6));

    let listing: Vec<_> = calls(&sandbox, "zoho_api", "GET", LIST)
        .into_iter()
        .filter(|c| query_param(c, "ids").is_none())
        .collect();
    // Page 1, then the page token Zoho hands out, which reaches past the
    // 2,000 records `page` can.
    assert_eq!(listing.len(), n.div_ceil(200));
    assert_eq!(query_param(&listing[0], "page").as_deref(), Some("1"));
    assert!(listing[1..]
        .iter()
        .all(|c| query_param(c, "page_token").is_some() && query_param(c, "page").is_none()));
    assert!(listing.iter().all(|c| {
        query_param(c, "sort_by").as_deref() == Some("Modified_Time")
            && query_param(c, "per_page").as_deref() == Some("200")
    }));
    let by_ids = calls(&sandbox, "zoho_api", "GET", LIST).len() - listing.len();
    assert_eq!(by_ids, n.div_ceil(100), "full records 100 ids a call");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_fifty_fields_take_more_calls_merged_by_id() {
    let custom = |k: usize| format!("Custom_{k:02}");
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(3, |i| {
            (0..60)
                .map(|k| (custom(k), json!(format!("{i}-{k}"))))
                .collect()
        }),
        ..Default::default()
    })
    .await;
    let fields: Vec<String> = (0..60).map(custom).collect();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut source = support::zoho(&sandbox, json!({})).source().unwrap();
    let records = read_all(source.as_mut(), request(&fields)).await;
    assert_eq!(records.len(), 3);
    for record in &records {
        for k in [0, 49, 50, 59] {
            assert!(
                record[custom(k)].is_string(),
                "{} lacks {}",
                record["id"],
                custom(k)
            );
        }
    }
    let first = records.iter().find(|r| r["id"] == id(0)).unwrap();
    assert_eq!(first["Custom_59"], "0-59");

    let by_ids: Vec<_> = calls(&sandbox, "zoho_api", "GET", LIST)
        .into_iter()
        .filter_map(|c| query_param(&c, "fields").filter(|_| query_param(&c, "ids").is_some()))
        .collect();
    assert_eq!(by_ids.len(), 2, "sixty fields, two calls");
    let counts: Vec<usize> = by_ids.iter().map(|f| f.split(',').count()).collect();
    assert_eq!(counts, [50, 10]);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_modified_since_reads_only_later_changes() {
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(10, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let connection = support::zoho(&sandbox, json!({}));
    let mut source = connection.source().unwrap();
    // Invoices 0..10 were modified at 00:00:10 down to 00:00:01.
    let since = |time: &str| ExtractRequest {
        modified_since: Some(time.to_string()),
        ..request(&["Subject"])
    };
    source
        .open(&since("2026-11-01T00:00:07+00:00"))
        .await
        .unwrap();
    assert_eq!(
        source.total_hint().await,
        None,
        "a count cannot be limited to changes"
    );
    let later = read_all(source.as_mut(), since("2026-11-01T00:00:07+00:00")).await;
    let ids: Vec<&str> = later.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id(2), id(1), id(0)]);
    let header_sent = calls(&sandbox, "zoho_api", "GET", LIST)
        .iter()
        .filter(|c| query_param(c, "ids").is_none())
        .count();
    assert_eq!(header_sent, 1);
    // Nothing since: Zoho answers 304 and the source ends at once.
    assert!(
        read_all(source.as_mut(), since("2026-11-02T00:00:00+00:00"))
            .await
            .is_empty()
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_back_goes_a_hundred_a_call_and_one_bad_id_fails_alone() {
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(150, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let mut source = support::zoho(&sandbox, json!({})).source().unwrap();
    assert!(source.supports_write_back());
    let mut updates: Vec<(String, Map<String, Value>)> = (0..150)
        .map(|i| {
            let fields = json!({"Xero_Status": "AUTHORISED", "Xero_Number": format!("X-{i}")});
            (id(i), fields.as_object().unwrap().clone())
        })
        .collect();
    updates[120].0 = "5725767000999999999".into();
    let results = source.write_back("Invoices", &updates).await.unwrap();
    assert_eq!(results.len(), 150);
    let failed: Vec<usize> = (0..150).filter(|&i| results[i].is_err()).collect();
    assert_eq!(failed, [120]);
    let reason = results[120].as_ref().unwrap_err();
    assert!(reason.starts_with("Zoho INVALID_DATA"), "{reason}");
    assert_eq!(
        calls(&sandbox, "zoho_api", "PUT", LIST).len(),
        2,
        "150 records, two calls"
    );
    let stored = sandbox.zoho_records("Invoices");
    let seventh = stored.iter().find(|r| r["id"] == id(7)).unwrap();
    assert_eq!(seventh["Xero_Number"], "X-7");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_zoho_refuses_whole_still_answers_record_by_record() {
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(2, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let mut source = support::zoho(&sandbox, json!({})).source().unwrap();
    let fields = json!({"Xero_Status": "PAID"}).as_object().unwrap().clone();
    let unknown = vec![
        ("5725767000999999998".to_string(), fields.clone()),
        ("5725767000999999999".to_string(), fields),
    ];
    let results = source.write_back("Invoices", &unknown).await.unwrap();
    assert_eq!(results.len(), 2);
    for r in &results {
        let reason = r.as_ref().unwrap_err();
        assert!(reason.starts_with("Zoho INVALID_DATA"), "{reason}");
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_updates_linked_records_and_creates_the_others() {
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(2, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let mut sink = support::zoho(&sandbox, json!({})).sink().unwrap();
    assert_eq!(sink.max_batch(), 100);
    let items = vec![
        item("x-1", json!({"Subject": "created"}), None),
        item("x-2", json!({"Subject": "updated"}), Some(&id(1))),
        item("x-3", json!({"Invoice_Number": "no subject"}), None),
        item(
            "x-4",
            json!({"id": id(0), "Subject": "updated by its id"}),
            None,
        ),
    ];
    let results = sink.load("Invoices", items, "unused").await.unwrap();
    let ok: Vec<bool> = results.iter().map(|r| r.ok).collect();
    assert_eq!(ok, [true, true, false, true]);
    assert_eq!(results[1].target_id.as_deref(), Some(id(1).as_str()));
    let created = results[0].target_id.clone().expect("Zoho's new id");
    assert_eq!(results[2].errors[0].field.as_deref(), Some("Subject"));
    assert!(results[2].messages[0].starts_with("Zoho MANDATORY_NOT_FOUND"));
    assert_eq!(calls(&sandbox, "zoho_api", "PUT", LIST).len(), 1);
    assert_eq!(calls(&sandbox, "zoho_api", "POST", LIST).len(), 1);
    let stored = sandbox.zoho_records("Invoices");
    let subject = |id: &str| stored.iter().find(|r| r["id"] == id).unwrap()["Subject"].clone();
    assert_eq!(subject(&created), "created");
    assert_eq!(subject(&id(1)), "updated");
    assert_eq!(subject(&id(0)), "updated by its id");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_deletes_a_record_and_one_already_gone_counts_as_deleted() {
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(2, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let mut sink = support::zoho(&sandbox, json!({})).sink().unwrap();
    sink.delete("Invoices", &id(0)).await.unwrap();
    let left: Vec<Value> = sandbox.zoho_records("Invoices");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], id(1).as_str());
    // Deleting again (a run that stopped after Zoho deleted it) is done.
    sink.delete("Invoices", &id(0)).await.unwrap();
    let deletes = calls(&sandbox, "zoho_api", "DELETE", LIST);
    assert_eq!(deletes.len(), 2);
    assert_eq!(
        query_param(&deletes[0], "ids").as_deref(),
        Some(id(0).as_str())
    );
    // A module Zoho does not have is an error that names it.
    let error = sink.delete("Nonsense", "1").await.unwrap_err().to_string();
    assert!(error.contains("Nonsense"), "{error}");
    assert_eq!(sandbox.zoho_records("Invoices").len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_keeps_one_token_for_its_sources_and_sinks() {
    let sandbox = support::sandbox(SandboxConfig {
        crm_seed: invoices(3, |_| Map::new()),
        ..Default::default()
    })
    .await;
    let connection = support::zoho(&sandbox, json!({}));
    let mut source = connection.source().unwrap();
    read_all(source.as_mut(), request(&["Subject"])).await;
    let mut sink = connection.sink().unwrap();
    let update = item("x", json!({"Subject": "again"}), Some(&id(2)));
    assert!(sink.load("Invoices", vec![update], "unused").await.unwrap()[0].ok);
    assert_eq!(
        sink.api_calls(),
        1,
        "the sink's one PUT, no token of its own"
    );
    let mut another = connection.source().unwrap();
    read_all(another.as_mut(), request(&["Subject"])).await;
    assert_eq!(
        calls(&sandbox, "zoho_accounts", "POST", "/oauth/v2/token").len(),
        1
    );
    sandbox.shutdown().await;
}

/// A Zoho API that lists `Invoices` without end: every answer has new
/// records and `more_records: true`, and hands out the same page token.
/// The sandbox pages faithfully, so this one is served here, over HTTP.
fn endless_zoho() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut next = 0u64;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                // The request line and headers, up to the empty line; the
                // calls have no body.
                let mut head = 0;
                let mut line = String::new();
                while {
                    line.clear();
                    reader.read_line(&mut line).unwrap_or(0) > 0
                } {
                    head += 1;
                    if line == "\r\n" {
                        break;
                    }
                }
                if head == 0 {
                    break;
                }
                next += 1;
                let body = json!({
                    "data": [{"id": id(next as usize), "Modified_Time": "2026-11-01T00:00:00+00:00"}],
                    "info": {"more_records": true, "next_page_token": "the-same-token", "per_page": 1},
                })
                .to_string();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if writer.write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_with_more_records_forever_stops_at_a_repeated_token() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let mut source = support::zoho(&sandbox, json!({ "api_url": endless_zoho() }))
        .source()
        .unwrap();
    source.open(&request(&["Subject"])).await.unwrap();
    let mut records = 0;
    let err = loop {
        match source.next_batch().await {
            Ok(Some(batch)) => records += batch.len(),
            Ok(None) => panic!("an endless listing ended"),
            Err(err) => break err.to_string(),
        }
        assert!(records < 100, "still paging after {records} records");
    };
    assert!(
        err.contains("Invoices") && err.contains("page 2") && err.contains("handed out before"),
        "{err}"
    );
    assert_eq!(records, 1, "the first page's record went on");
}
