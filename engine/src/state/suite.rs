//! The behaviour every [`StateStore`] must have, as tests any store runs:
//! `open` gives a new handle on one and the same store each time it is
//! called (two handles stand for two processes).

use std::sync::Arc;
use std::time::Duration;

use super::{
    now, Intent, LeaseGrant, LeaseHolder, Link, OrgPair, PairLink, PairSide, RunState, Settlement,
    Side, StateStore, StoredOutcome, StoredToken, WatchChannel,
};

/// Runs every check against the store `open` reaches.
pub(crate) async fn check_all(open: &dyn Fn() -> Arc<dyn StateStore>) {
    links_cursors_failures_intents_and_runs(open().as_ref()).await;
    state_is_kept_per_organisation_pair(open).await;
    batched_lookups_cover_many_ids(open().as_ref()).await;
    leases_admit_one_holder(open).await;
    tokens_ticks_channels_and_outcomes(open).await;
    rate_budgets_and_slots_are_shared(open).await;
    two_way_links_are_one_per_pair_of_records(open).await;
}

fn link(module: &str, id: &str, hash: &str) -> Link {
    Link {
        module: module.into(),
        source_id: id.into(),
        target_id: format!("x-{id}"),
        target_number: Some(format!("INV-{id}")),
        payload_hash: hash.into(),
        last_outcome: "created".into(),
        updated_at: now(),
        payload: None,
        refused_hash: None,
    }
}

fn pair(source: &str, target: &str) -> OrgPair {
    OrgPair {
        source: source.into(),
        target: target.into(),
    }
}

fn holder(token: &str) -> LeaseHolder {
    LeaseHolder {
        token: token.into(),
        run: Some(7),
        pid: std::process::id(),
        host: "suite".into(),
        since: now(),
    }
}

async fn links_cursors_failures_intents_and_runs(s: &dyn StateStore) {
    s.bind("invoices", &pair("zoho:1", "xero:a")).await.unwrap();
    s.save_links(&[link("invoices", "1", "a"), link("invoices", "2", "b")])
        .await
        .unwrap();
    s.save_links(&[link("invoices", "1", "c")]).await.unwrap();
    assert_eq!(
        s.link("invoices", "1").await.unwrap().unwrap().payload_hash,
        "c"
    );
    assert_eq!(
        s.link_to("invoices", "x-2")
            .await
            .unwrap()
            .unwrap()
            .source_id,
        "2"
    );
    s.set_cursor("invoices", "2026-11-02T09:10:00+11:00")
        .await
        .unwrap();
    assert_eq!(
        s.cursor("invoices").await.unwrap().as_deref(),
        Some("2026-11-02T09:10:00+11:00")
    );
    s.record_failure("invoices", "3", "Xero said no", None)
        .await
        .unwrap();
    s.record_failure("invoices", "3", "Xero said no again", None)
        .await
        .unwrap();
    let failures = s.failures(Some("invoices")).await.unwrap();
    assert_eq!(
        (failures[0].attempts, failures[0].reason.as_str()),
        (2, "Xero said no again")
    );
    assert_eq!(s.failures(None).await.unwrap().len(), 1);
    let id = s
        .open_intent(&Intent {
            id: 0,
            module: "invoices".into(),
            resource: "Invoices".into(),
            idempotency_key: "k".into(),
            source_ids: vec!["4".into()],
            payload_hashes: vec!["h".into()],
            body: serde_json::json!({"Invoices": []}),
            created_at: now(),
        })
        .await
        .unwrap();
    assert_eq!(s.open_intents("invoices").await.unwrap().len(), 1);
    assert!(s.open_intents("quotes").await.unwrap().is_empty());
    s.settle(
        "invoices",
        Some(id),
        &Settlement {
            links: vec![link("invoices", "4", "h")],
            write_backs: vec![("4".into(), serde_json::json!({"Xero_Invoice_ID": "x-4"}))],
            cleared: vec!["3".into()],
            failures: vec![("5".into(), "refused".into(), None)],
            pair_links: Vec::new(),
        },
    )
    .await
    .unwrap();
    assert!(s.open_intents("invoices").await.unwrap().is_empty());
    assert_eq!(s.links("invoices").await.unwrap().len(), 3);
    let failed: Vec<String> = s
        .failures(Some("invoices"))
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.source_id)
        .collect();
    assert_eq!(failed, ["5"]);
    let pending = s.pending_write_backs("invoices").await.unwrap();
    assert_eq!(pending.len(), 1);
    s.finish_write_backs("invoices", &[("4".into(), None)])
        .await
        .unwrap();
    assert!(s.pending_write_backs("invoices").await.unwrap().is_empty());

    let run = s
        .begin_run(&serde_json::json!({"mode": "create-and-update"}))
        .await
        .unwrap();
    let running = s.run(run).await.unwrap().unwrap();
    assert_eq!(running.state, RunState::Running);
    assert!(running.holder.unwrap().contains('@'));
    s.run_progress(run, 40, Some(100)).await.unwrap();
    assert_eq!(s.run(run).await.unwrap().unwrap().done, 40);
    s.end_run(run, RunState::Done, &serde_json::json!({"sync": 2}))
        .await
        .unwrap();
    let runs = s.runs(5).await.unwrap();
    assert_eq!(
        (runs[0].id, runs[0].state, runs[0].counts["sync"].as_i64()),
        (run, RunState::Done, Some(2))
    );
}

async fn state_is_kept_per_organisation_pair(open: &dyn Fn() -> Arc<dyn StateStore>) {
    let s = open();
    let demo = pair("zoho:1", "xero:demo");
    let real = pair("zoho:1", "xero:real");
    let first = s.bind("quotes", &demo).await.unwrap();
    assert!(first.new_pair);
    s.save_links(&[link("quotes", "q1", "h")]).await.unwrap();
    s.set_cursor("quotes", "2026-01-01T00:00:00Z")
        .await
        .unwrap();

    // Another organisation: nothing of the first one's is seen.
    let moved = s.bind("quotes", &real).await.unwrap();
    assert!(moved.new_pair, "{moved:?}");
    assert_eq!(moved.other_pairs, vec![(demo.clone(), 1)]);
    assert!(s.link("quotes", "q1").await.unwrap().is_none());
    assert!(s.cursor("quotes").await.unwrap().is_none());
    assert_eq!(s.bound("quotes"), real);

    // Back to the first: its state is still there.
    let back = s.bind("quotes", &demo).await.unwrap();
    assert!(!back.new_pair);
    assert!(s.link("quotes", "q1").await.unwrap().is_some());

    // A new handle reads the pair the module was last bound to.
    let other = open();
    assert_eq!(other.bound("quotes"), demo);
    assert!(other.link("quotes", "q1").await.unwrap().is_some());
    // Looking at another pair changes what this handle reads, nothing else.
    other.look_at("quotes", &real);
    assert!(other.link("quotes", "q1").await.unwrap().is_none());
    assert_eq!(open().bound("quotes"), demo);
}

fn pair_link(orgs: &OrgPair, left: &str, right: &str, hash: &str) -> PairLink {
    PairLink {
        orgs: orgs.clone(),
        pair: "contacts+users".into(),
        left: PairSide {
            id: left.into(),
            hash: Some(hash.into()),
            payload: Some(serde_json::json!({"userName": left})),
            image: Some(serde_json::json!({"id": left, "Last_Name": "Lovelace"})),
            ..PairSide::default()
        },
        right: PairSide {
            id: right.into(),
            written: Some(serde_json::json!({"userName": left})),
            written_hash: Some("w".into()),
            ..PairSide::default()
        },
        updated_at: now(),
    }
}

async fn two_way_links_are_one_per_pair_of_records(open: &dyn Fn() -> Arc<dyn StateStore>) {
    let s = open();
    let orgs = pair("zoho:1", "rest:lms");
    let ids = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let pairs = "contacts+users";
    s.save_pair_links(&[pair_link(&orgs, "c1", "u1", "h1")])
        .await
        .unwrap();
    // Found from either side, whole.
    let by_left = s
        .pair_links_of(&orgs, pairs, Side::Left, &ids(&["c1", "c9"]))
        .await
        .unwrap();
    assert_eq!(by_left.len(), 1);
    assert_eq!(
        by_left["c1"],
        pair_link(&orgs, "c1", "u1", "h1").with_time(&by_left["c1"])
    );
    let by_right = open()
        .pair_links_of(&orgs, pairs, Side::Right, &ids(&["u1"]))
        .await
        .unwrap();
    assert_eq!(by_right["u1"].left.id, "c1");
    assert_eq!(by_right["u1"].right.written_hash.as_deref(), Some("w"));

    // A record is in one pair at most: a new partner replaces the old one,
    // from either side.
    s.save_pair_links(&[pair_link(&orgs, "c1", "u2", "h2")])
        .await
        .unwrap();
    assert!(s
        .pair_links_of(&orgs, pairs, Side::Right, &ids(&["u1"]))
        .await
        .unwrap()
        .is_empty());
    s.save_pair_links(&[pair_link(&orgs, "c3", "u2", "h3")])
        .await
        .unwrap();
    assert!(s
        .pair_links_of(&orgs, pairs, Side::Left, &ids(&["c1"]))
        .await
        .unwrap()
        .is_empty());
    let all = s.pair_links(&orgs, pairs).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|l| (l.left.id.as_str(), l.right.id.as_str()))
            .collect::<Vec<_>>(),
        [("c3", "u2")]
    );

    // Kept per organisations, and settled with the batch that made them.
    let other = pair("zoho:2", "rest:lms");
    assert!(s.pair_links(&other, pairs).await.unwrap().is_empty());
    s.bind("contacts", &orgs).await.unwrap();
    let id = s
        .open_intent(&Intent {
            id: 0,
            module: "contacts".into(),
            resource: "users".into(),
            idempotency_key: "k-pair".into(),
            source_ids: vec!["c4".into()],
            payload_hashes: vec!["h4".into()],
            body: serde_json::json!([{}]),
            created_at: now(),
        })
        .await
        .unwrap();
    let settled = Settlement {
        links: vec![link("contacts", "c4", "h4")],
        pair_links: vec![pair_link(&orgs, "c4", "u4", "h4")],
        ..Settlement::default()
    };
    s.settle("contacts", Some(id), &settled).await.unwrap();
    assert!(s.open_intents("contacts").await.unwrap().is_empty());
    let found = open()
        .pair_links_of(&orgs, pairs, Side::Right, &ids(&["u4"]))
        .await
        .unwrap();
    assert_eq!(found["u4"].left.hash.as_deref(), Some("h4"));
    let dumped = s.export().await.unwrap();
    assert_eq!(dumped.pair_links.len(), 2, "the dump holds them");
}

impl PairLink {
    /// This link as `stored` was saved (same time).
    fn with_time(mut self, stored: &PairLink) -> PairLink {
        self.updated_at = stored.updated_at.clone();
        self
    }
}

async fn batched_lookups_cover_many_ids(s: &dyn StateStore) {
    s.bind("products", &pair("zoho:1", "xero:a")).await.unwrap();
    let links: Vec<Link> = (0..1200)
        .map(|i| link("products", &i.to_string(), "h"))
        .collect();
    s.save_links(&links).await.unwrap();
    s.record_failure("products", "7", "no", None).await.unwrap();
    let ids: Vec<String> = (0..1300).map(|i| i.to_string()).collect();
    assert_eq!(s.links_of("products", &ids).await.unwrap().len(), 1200);
    let failures = s.failures_of("products", &ids).await.unwrap();
    assert_eq!(failures.keys().collect::<Vec<_>>(), ["7"]);
}

async fn leases_admit_one_holder(open: &dyn Fn() -> Arc<dyn StateStore>) {
    let (a, b) = (open(), open());
    let ttl = Duration::from_secs(30);
    let key = "writer:xero:a/invoices";
    assert_eq!(
        a.acquire_lease(key, &holder("a"), ttl).await.unwrap(),
        LeaseGrant::Acquired
    );
    match b.acquire_lease(key, &holder("b"), ttl).await.unwrap() {
        LeaseGrant::Held { holder, .. } => assert_eq!(holder.token, "a"),
        other => panic!("b took a held lease: {other:?}"),
    }
    assert!(a.renew_lease(key, "a", ttl).await.unwrap());
    assert!(!b.renew_lease(key, "b", ttl).await.unwrap());
    assert_eq!(b.lease(key).await.unwrap().unwrap().0.token, "a");
    // Taking over needs the holder that is gone to still hold it.
    assert!(!b
        .take_over_lease(key, "zzz", &holder("b"), ttl)
        .await
        .unwrap());
    assert!(b
        .take_over_lease(key, "a", &holder("b"), ttl)
        .await
        .unwrap());
    assert!(!a.renew_lease(key, "a", ttl).await.unwrap(), "a lost it");
    a.release_lease(key, "a").await.unwrap();
    assert_eq!(b.lease(key).await.unwrap().unwrap().0.token, "b");
    b.release_lease(key, "b").await.unwrap();
    assert!(a.lease(key).await.unwrap().is_none());

    // An expired lease is anybody's.
    let short = Duration::from_millis(50);
    assert_eq!(
        a.acquire_lease(key, &holder("a"), short).await.unwrap(),
        LeaseGrant::Acquired
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        b.acquire_lease(key, &holder("b"), ttl).await.unwrap(),
        LeaseGrant::Acquired
    );
    b.release_lease(key, "b").await.unwrap();
}

async fn tokens_ticks_channels_and_outcomes(open: &dyn Fn() -> Arc<dyn StateStore>) {
    let (a, b) = (open(), open());
    let token = StoredToken {
        access_token: "t1".into(),
        expires_at_ms: 1_000,
        extra: serde_json::json!({"api_domain": "https://zoho"}),
    };
    a.save_token("zoho:k", &token).await.unwrap();
    assert_eq!(b.token("zoho:k").await.unwrap(), Some(token.clone()));
    // Dropping a token someone already replaced keeps the new one.
    b.save_token(
        "zoho:k",
        &StoredToken {
            access_token: "t2".into(),
            ..token.clone()
        },
    )
    .await
    .unwrap();
    a.drop_token("zoho:k", "t1").await.unwrap();
    assert_eq!(a.token("zoho:k").await.unwrap().unwrap().access_token, "t2");
    a.drop_token("zoho:k", "t2").await.unwrap();
    assert!(b.token("zoho:k").await.unwrap().is_none());

    let tick = "2026-11-29T12:00:00Z";
    assert!(a.claim_tick("schedule:invoices", tick).await.unwrap());
    assert!(!b.claim_tick("schedule:invoices", tick).await.unwrap());
    assert!(!b
        .claim_tick("schedule:invoices", "2026-11-29T08:00:00Z")
        .await
        .unwrap());
    assert!(b
        .claim_tick("schedule:invoices", "2026-11-29T16:00:00Z")
        .await
        .unwrap());
    assert_eq!(
        a.last_tick("schedule:invoices").await.unwrap().as_deref(),
        Some("2026-11-29T16:00:00Z")
    );

    let channel = WatchChannel {
        channel_id: "1001".into(),
        module: "Invoices".into(),
        token: "secret".into(),
        expires_at: "2026-12-05T00:00:00Z".into(),
    };
    a.save_channel(&channel).await.unwrap();
    assert_eq!(b.channels().await.unwrap(), vec![channel]);
    b.delete_channel("1001").await.unwrap();
    assert!(a.channels().await.unwrap().is_empty());

    let run = a.begin_run(&serde_json::json!({})).await.unwrap();
    let outcome = |id: &str, verdict: &str| StoredOutcome {
        module: "invoices".into(),
        source_id: Some(id.into()),
        verdict: verdict.into(),
        outcome: serde_json::json!({"source_id": id, "verdict": verdict}),
    };
    a.record_outcomes(run, &[outcome("1", "sync"), outcome("2", "reject")])
        .await
        .unwrap();
    a.record_outcomes(run, &[outcome("3", "skip")])
        .await
        .unwrap();
    let kept: Vec<Option<String>> = b
        .outcomes(run)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.source_id)
        .collect();
    assert_eq!(kept, [Some("1".into()), Some("2".into()), Some("3".into())]);
}

async fn rate_budgets_and_slots_are_shared(open: &dyn Fn() -> Arc<dyn StateStore>) {
    let (a, b) = (open(), open());
    let minute = Duration::from_millis(400);
    for i in 0..6 {
        let by = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            by.take_rate("xero:a/minute", 6, minute).await.unwrap(),
            None
        );
    }
    let wait = b
        .take_rate("xero:a/minute", 6, minute)
        .await
        .unwrap()
        .expect("the seventh call waits");
    assert!(wait <= minute, "{wait:?}");
    // Another organisation has its own budget.
    assert_eq!(a.take_rate("xero:b/minute", 6, minute).await.unwrap(), None);
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(a.take_rate("xero:a/minute", 6, minute).await.unwrap(), None);

    let ttl = Duration::from_secs(30);
    let first = a.take_slot("xero:a/flight", 2, ttl).await.unwrap().unwrap();
    let _second = b.take_slot("xero:a/flight", 2, ttl).await.unwrap().unwrap();
    assert_eq!(a.take_slot("xero:a/flight", 2, ttl).await.unwrap(), None);
    b.release_slot("xero:a/flight", &first).await.unwrap();
    assert!(a
        .take_slot("xero:a/flight", 2, ttl)
        .await
        .unwrap()
        .is_some());
    // A slot its holder never gave back lapses.
    let short = Duration::from_millis(50);
    let _lapsing = a
        .take_slot("xero:c/flight", 1, short)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.take_slot("xero:c/flight", 1, ttl).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(b
        .take_slot("xero:c/flight", 1, ttl)
        .await
        .unwrap()
        .is_some());
}

/// Gives a store state of every kind a dump carries: links written before
/// pairs were recorded, two modules on two pairs, payloads of every JSON
/// shape, a refused change, failures, an open intent, write-backs (one
/// refused by the source), cursors, a channel, and runs (one ended, one
/// still running) with their outcomes.
pub(crate) async fn fill(s: &dyn StateStore) {
    s.save_links(&[link("accounts", "a-1", "old")])
        .await
        .unwrap();
    s.bind("invoices", &pair("zoho:1", "xero:b")).await.unwrap();
    s.save_links(&[link("invoices", "1", "on-b")])
        .await
        .unwrap();
    s.bind("invoices", &pair("zoho:1", "xero:a")).await.unwrap();
    s.bind("quotes", &pair("zoho:1", "xero:a")).await.unwrap();
    let mut paid = link("invoices", "1", "h1");
    paid.payload = Some(serde_json::json!({
        "Total": 12.5, "Lines": [{"Quantity": 1e2, "Big": 12_345_678_901_234_567_890u64}],
        "Reference": "naïve ☃ \"quoted\"", "Nothing": null, "Paid": true
    }));
    paid.refused_hash = Some("h1-later".into());
    paid.target_number = None;
    let links: Vec<Link> = std::iter::once(paid)
        .chain((2..300).map(|i| link("invoices", &format!("{i:04}"), "h")))
        .chain([link("quotes", "Q-1", "q")])
        .collect();
    s.save_links(&links).await.unwrap();
    s.set_cursor("invoices", "2026-11-02T09:10:00+11:00")
        .await
        .unwrap();
    s.record_failure(
        "invoices",
        "0300",
        "Xero said no",
        Some(&serde_json::json!({"Contact": {"Name": "Acme"}})),
    )
    .await
    .unwrap();
    s.record_failure("quotes", "Q-2", "no", None).await.unwrap();
    s.save_pair_links(&[pair_link(&pair("zoho:1", "rest:lms"), "c-1", "u-1", "hc")])
        .await
        .unwrap();
    s.open_intent(&Intent {
        id: 0,
        module: "invoices".into(),
        resource: "Invoices".into(),
        idempotency_key: "key-1".into(),
        source_ids: vec!["0301".into(), "0302".into()],
        payload_hashes: vec!["h301".into(), "h302".into()],
        body: serde_json::json!({"Invoices": [{"InvoiceNumber": "INV-301"}]}),
        created_at: now(),
    })
    .await
    .unwrap();
    s.queue_write_back("invoices", "1", &serde_json::json!({"Xero_Status": "PAID"}))
        .await
        .unwrap();
    s.queue_write_back(
        "invoices",
        "2",
        &serde_json::json!({"Xero_Status": "DRAFT"}),
    )
    .await
    .unwrap();
    s.finish_write_backs("invoices", &[("2".into(), Some("INVALID_DATA".into()))])
        .await
        .unwrap();
    s.save_channel(&WatchChannel {
        channel_id: "1001".into(),
        module: "Invoices".into(),
        token: "secret".into(),
        expires_at: "2026-12-05T00:00:00Z".into(),
    })
    .await
    .unwrap();
    let done = s
        .begin_run(&serde_json::json!({"mode": "create-and-update"}))
        .await
        .unwrap();
    s.record_outcomes(
        done,
        &[
            StoredOutcome {
                module: "invoices".into(),
                source_id: Some("1".into()),
                verdict: "sync".into(),
                outcome: serde_json::json!({"action": "create"}),
            },
            StoredOutcome {
                module: "invoices".into(),
                source_id: None,
                verdict: "reject".into(),
                outcome: serde_json::json!({"violations": ["no id"]}),
            },
        ],
    )
    .await
    .unwrap();
    s.end_run(
        done,
        RunState::Done,
        &serde_json::json!({"sync": 1, "reject": 1}),
    )
    .await
    .unwrap();
    let running = s.begin_run(&serde_json::json!({})).await.unwrap();
    s.run_progress(running, 3, Some(9)).await.unwrap();
}

/// Checks that `to` holds what `from` holds: the whole dump, and every
/// link of every module as the pipeline reads it, through a new handle.
pub(crate) async fn assert_same_state(from: &dyn StateStore, to: &dyn StateStore) {
    let (a, b) = (from.export().await.unwrap(), to.export().await.unwrap());
    assert_eq!(a.counts(), b.counts());
    assert_eq!(a, b);
    for module in ["invoices", "quotes", "accounts"] {
        assert_eq!(from.bound(module), to.bound(module), "{module}");
        assert_eq!(
            from.links(module).await.unwrap(),
            to.links(module).await.unwrap(),
            "{module}"
        );
        assert_eq!(
            from.failures(Some(module)).await.unwrap(),
            to.failures(Some(module)).await.unwrap(),
            "{module}"
        );
    }
    assert_eq!(
        from.open_intents("invoices").await.unwrap(),
        to.open_intents("invoices").await.unwrap()
    );
    assert_eq!(from.runs(10).await.unwrap(), to.runs(10).await.unwrap());
    let lms = pair("zoho:1", "rest:lms");
    let pairs = from.pair_links(&lms, "contacts+users").await.unwrap();
    assert_eq!(pairs.len(), 1, "the two-way link is copied");
    assert_eq!(pairs, to.pair_links(&lms, "contacts+users").await.unwrap());
}
