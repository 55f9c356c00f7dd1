//! Runs that overlap on one project: one writer per (target organisation,
//! module) at a time. Several processes started at once on a project with
//! no state file yet (numberless invoices, so nothing but the state tells
//! a created invoice from a new one): each invoice reaches Xero once, every
//! CRM record shows its own, and each run that lost the race says who holds
//! the module and exits 1, or with `--wait` takes its turn. A lock whose
//! process died is taken over, and `history` marks that run as died.

use syncwright_sandbox::{FaultRule, SandboxConfig, XeroLimits};

use crate::support::processes::{assert_each_invoice_once, finish, invoices, Finished, Setup};

const N: usize = 300;

/// A sandbox whose invoice writes answer after 300 ms, so that a run holds
/// the module for a couple of seconds, long enough for every other start
/// to find it held; and a numberless copy of the example project.
async fn slow() -> Setup {
    Setup::with(
        SandboxConfig {
            crm_seed: invoices(N),
            limits: XeroLimits::disabled(),
            zoho_token_limits: false,
            faults: vec![FaultRule {
                path_prefix: "/xero/api/api.xro/2.0/Invoices".into(),
                slow_rate: 1.0,
                slow_ms: 300,
                ..FaultRule::default()
            }],
            ..Default::default()
        },
        true,
    )
    .await
}

/// Starts `count` runs of the project at once and waits for them all.
async fn at_once(setup: &Setup, extra: &[&str], count: usize) -> Vec<Finished> {
    // Each one's output is read as it comes: a run blocked on a full pipe
    // would hold the module for ever.
    let running: Vec<_> = (0..count)
        .map(|_| {
            let child = setup
                .command("run", &[&["--format", "json"], extra].concat())
                .spawn()
                .unwrap();
            tokio::spawn(finish(child))
        })
        .collect();
    let mut finished = Vec::new();
    for run in running {
        finished.push(run.await.unwrap());
    }
    finished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_together_create_each_invoice_once_and_the_losers_say_who_holds_it() {
    let setup = slow().await;
    let runs = at_once(&setup, &[], 4).await;
    let mut created = 0;
    let mut busy = 0;
    for run in &runs {
        assert!(
            !run.stderr.contains("File exists"),
            "two first runs at once share the new store: {}",
            run.stderr
        );
        match run.code {
            Some(0) => created += run.json()["summary"]["created"].as_u64().unwrap(),
            Some(1) => {
                busy += 1;
                let said = run.stderr.trim();
                assert!(
                    said.contains("module invoices is being synced by run ")
                        && said.contains("(pid ")
                        && said.contains(", started at "),
                    "the loser names the run holding the module: {said}"
                );
            }
            other => panic!("exit {other:?}: {}", run.stderr),
        }
    }
    assert!(busy >= 1, "the runs overlapped: {runs:#?}");
    assert_eq!(created, N as u64, "every invoice created, by one run");
    let crm = assert_each_invoice_once(&setup.sandbox, 0, N);
    assert!(crm.values().all(|r| r["Xero_Sync_Status"] == "created"));
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_wait_take_turns_and_the_later_ones_find_nothing_to_do() {
    let setup = slow().await;
    let runs = at_once(&setup, &["--wait"], 3).await;
    let mut created = 0;
    let mut unchanged = 0;
    for run in &runs {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let summary = &run.json()["summary"];
        created += summary["created"].as_u64().unwrap_or(0);
        unchanged += summary["unchanged"].as_u64().unwrap_or(0);
    }
    assert_eq!(created, N as u64, "{runs:#?}");
    assert_eq!(unchanged, 2 * N as u64, "the later runs send nothing");
    assert!(
        runs.iter().any(|r| r
            .stderr
            .contains("waiting: module invoices is being synced by run ")),
        "a waiting run says what it waits for"
    );
    assert_each_invoice_once(&setup.sandbox, 0, N);
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_of_a_dead_run_is_taken_over_and_history_shows_it_died() {
    let setup = Setup::new(invoices(N), true).await;
    // Killed with the module's lock held, after its second batch.
    setup.killed_at("after-commit:2").await;

    // The next run does not wait for a lease nobody renews.
    let started = std::time::Instant::now();
    let next = setup.run("run", &["--format", "json"]).await;
    assert_eq!(next.code, Some(0), "{}", next.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "taken over at once, not after the lease's 30 s"
    );
    assert_eq!(next.json()["summary"]["created"], (N - 100) as u64);
    assert_each_invoice_once(&setup.sandbox, 0, N);

    let runs = setup.history().await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["state"], "done", "newest first");
    assert_eq!(runs[1]["state"], "died");
    assert!(runs[1]["ended_at"].is_string(), "the take-over closed it");
    let table = setup.run("history", &[]).await;
    let died = table
        .stdout
        .lines()
        .find(|l| l.contains("died"))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(
        died.trim_start().starts_with(&runs[1]["id"].to_string()),
        "{died}"
    );
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_process_is_gone_shows_as_died_before_anyone_takes_its_lock() {
    let setup = Setup::new(invoices(120), true).await;
    setup.killed_at("before-send:2").await;
    let runs = setup.history().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["state"], "died");
    assert!(runs[0]["ended_at"].is_null(), "nobody ended it");
    let table = setup.run("history", &[]).await;
    assert!(
        table.stdout.contains("died") && table.stdout.contains("(its process died)"),
        "{}",
        table.stdout
    );
    setup.sandbox.shutdown().await;
}
