//! More than one machine: `syncwright run` workers sharing one PostgreSQL
//! store (`SYNCWRIGHT_TEST_POSTGRES`; without it these tests say why they
//! did not run and pass, as the store's own tests do).
//!
//! Three workers, one sandbox holding two organisations of 2,000 invoices
//! each (`SYNCWRIGHT_WORKERS_INVOICES` changes the number), the schedule
//! and button presses firing, one worker killed with SIGKILL mid-run and
//! started again: every invoice exists once in its own organisation, every
//! CRM record carries its Xero id, and the sandbox's call log shows each
//! organisation's calls within 60 a (scaled) minute and 5 in flight, with
//! no 429. And `state copy` moves a project's state to PostgreSQL and back
//! without losing a link.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use syncwright_engine::state::{self, writer_key, RunState, SqliteStore, StateStore};
use syncwright_sandbox::{CallRecord, OrganisationSeed, Sandbox, SandboxConfig, XeroLimits};

use crate::support::{harness, live};

/// Real seconds per Xero minute, in the sandbox and in the workers' pacers.
const MINUTE_SECS: f64 = 20.0;

/// Invoices per Xero call: few enough that 2,000 invoices take more than a
/// Xero minute's 60 calls, so that the shared pacing is what holds them.
const BATCH: usize = 20;

/// The PostgreSQL server the tests use; without one, says why they did not run.
fn postgres() -> Option<String> {
    match std::env::var("SYNCWRIGHT_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").unwrap_or_default();
            assert!(
                ci.is_empty() || ci == "false",
                "CI is set but SYNCWRIGHT_TEST_POSTGRES is not: the workers are tested in CI \
                 against a real server (.ci/run starts one with scripts/postgres.sh)"
            );
            // Straight to stderr, past the test harness's capture.
            let _ = writeln!(
                std::io::stderr(),
                "note: the workers tests were not run: SYNCWRIGHT_TEST_POSTGRES is not set \
                 (scripts/postgres.sh start prints a URL)"
            );
            None
        }
    }
}

/// A name no other test run has used: projects in the shared store are
/// kept apart by name.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos:x}", std::process::id())
}

/// `n` valid invoices for organisation `org` (0 or 1): ids and numbers of
/// their own, so that each organisation's documents are told apart.
fn invoices(n: usize, org: usize) -> Value {
    let mut crm = live::many_invoices(n);
    let prefix = ["A", "B"][org];
    for (i, invoice) in crm["Invoices"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        invoice["id"] = Value::String(format!(
            "{}",
            7_100_000_000_000_000_000u64 + (org as u64) * 10_000_000 + i as u64
        ));
        invoice["Invoice_Number"] = Value::String(format!("{prefix}-{i:06}"));
    }
    crm
}

/// A project folder `name` under `dir` (beside the copied `mappings/` and
/// `rules/`) syncing invoices of the sandbox's organisation `org`, its
/// state where `${SYNCWRIGHT_WORKERS_STATE}` says.
fn project(dir: &Path, name: &str, sandbox: &Sandbox, org: usize) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let config = folder.join("syncwright.yaml");
    let connections = sandbox.organisation_connections(
        org,
        &[
            format!("minute_secs: {MINUTE_SECS}"),
            format!("batch_size: {BATCH}"),
        ],
    );
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             state: ${{SYNCWRIGHT_WORKERS_STATE}}\n\
             {connections}\
             modules:\n  - name: invoices\n    mapping: ../mappings/invoices.yaml\n"
        ),
    )
    .unwrap();
    config
}

/// `syncwright ARGS` with the shared store's URL in the environment.
fn syncwright(state_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncwright"));
    cmd.args(args)
        .env("SYNCWRIGHT_WORKERS_STATE", state_url)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// What a worker is asked to do: one `syncwright run`.
#[derive(Debug, Clone)]
struct Job {
    /// `full`, `schedule`, `button` or `restart`.
    kind: &'static str,
    /// The project.
    config: PathBuf,
    /// Arguments besides the project.
    args: Vec<String>,
}

/// A job done.
#[derive(Debug)]
struct Done {
    worker: usize,
    job: Job,
    status: ExitStatus,
    stderr: String,
}

/// The pids of the `syncwright run` each worker runs now.
type Running = Arc<Mutex<Vec<Option<u32>>>>;

/// A worker: runs its jobs one after the other, each a `syncwright run`
/// process waiting for the module's lock when another run holds it.
fn worker(
    index: usize,
    state_url: String,
    jobs: mpsc::Receiver<Job>,
    running: Running,
    done: mpsc::Sender<Done>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for job in jobs {
            let mut args = vec!["run", "--format", "json", "--wait", "--config"];
            args.push(job.config.to_str().unwrap());
            args.extend(job.args.iter().map(String::as_str));
            let child = syncwright(&state_url, &args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            running.lock().unwrap()[index] = Some(child.id());
            let Output { status, stderr, .. } = child.wait_with_output().unwrap();
            running.lock().unwrap()[index] = None;
            let stderr = String::from_utf8_lossy(&stderr).into_owned();
            let _ = done.send(Done {
                worker: index,
                job,
                status,
                stderr,
            });
        }
    })
}

/// Accounting calls that reached `tenant`, in the order they arrived.
fn calls_to(calls: &[CallRecord], tenant: &str) -> Vec<CallRecord> {
    let mut to: Vec<CallRecord> = calls
        .iter()
        .filter(|c| c.vendor == "xero_api" && c.organisation.as_deref() == Some(tenant))
        .cloned()
        .collect();
    to.sort_by_key(|c| c.started_ms);
    to
}

/// Invoice writes among `calls`.
fn invoice_writes(calls: &[CallRecord]) -> usize {
    calls
        .iter()
        .filter(|c| c.method != "GET" && c.path.ends_with("/Invoices"))
        .count()
}

/// The most calls that arrived within any window of `window_ms`.
fn busiest_window(calls: &[CallRecord], window_ms: u64) -> usize {
    let starts: Vec<u64> = calls.iter().map(|c| c.started_ms).collect();
    (0..starts.len())
        .map(|i| starts[i..].partition_point(|s| *s < starts[i] + window_ms))
        .max()
        .unwrap_or(0)
}

/// The most calls in flight at once (from arrival to answer).
fn most_in_flight(calls: &[CallRecord]) -> usize {
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for c in calls {
        edges.push((c.started_ms, 1));
        // An answer ready in the same millisecond as another's arrival
        // counts as still in flight then: the stricter reading.
        edges.push((c.at_ms, -1));
    }
    edges.sort_by_key(|(t, delta)| (*t, -*delta));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        most = most.max(now);
    }
    most as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_one_postgresql_sync_two_organisations_once_within_their_limits() {
    let Some(state_url) = postgres() else {
        return;
    };
    let n: usize = std::env::var("SYNCWRIGHT_WORKERS_INVOICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: invoices(n, 0),
        time_scale: MINUTE_SECS,
        limits: XeroLimits::default(),
        organisations: vec![OrganisationSeed {
            name: "Second Org".into(),
            crm_seed: invoices(n, 1),
            xero_seed: None,
        }],
        ..Default::default()
    })
    .await;
    let orgs = sandbox.organisations();
    let tenants: Vec<String> = orgs.iter().map(|o| o.xero_tenant_id.clone()).collect();
    let (dir, _) = harness::example_copy();
    let names = [unique("workers-a"), unique("workers-b")];
    let configs = [
        project(dir.path(), &names[0], &sandbox, 0),
        project(dir.path(), &names[1], &sandbox, 1),
    ];
    let observer = state::connect(&state_url, &names[0]).await.unwrap();

    // Three workers. Worker 0 and worker 2 both start on the first
    // organisation: one holds its lock, the other waits for it.
    let running: Running = Arc::new(Mutex::new(vec![None; 3]));
    let (done_tx, done_rx) = mpsc::channel();
    let mut queues = Vec::new();
    let mut threads = Vec::new();
    for i in 0..3 {
        let (tx, rx) = mpsc::channel();
        threads.push(worker(
            i,
            state_url.clone(),
            rx,
            running.clone(),
            done_tx.clone(),
        ));
        queues.push(tx);
    }
    drop(done_tx);
    let job = |kind, org: usize, args: &[String]| Job {
        kind,
        config: configs[org].clone(),
        args: args.to_vec(),
    };
    for (worker, org) in [(0, 0), (1, 1), (2, 0)] {
        queues[worker].send(job("full", org, &[])).unwrap();
    }

    // Until every invoice is in Xero, the schedule fires every 8 s, once per
    // organisation, at one worker each, and a button is pressed every 4 s,
    // on a record of either organisation, at any worker. Worker runs are killed once: the one
    // holding the first organisation's lock once 25 of its invoice writes
    // reached Xero, and it is started again at once.
    let started = Instant::now();
    let deadline = Duration::from_secs(240);
    let (mut ticks, mut presses) = (0usize, 0usize);
    let mut killed: Option<(usize, usize)> = None;
    let every_tick = Duration::from_secs(8);
    let every_press = Duration::from_secs(4);
    let (mut next_tick, mut next_press) = (every_tick, every_press);
    let lock_of_a = writer_key(&format!("xero:{}", tenants[0]), "invoices");
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let calls = sandbox.calls();
        if killed.is_none() && invoice_writes(&calls_to(&calls, &tenants[0])) >= 25 {
            if let Some((holder, _)) = observer.lease(&lock_of_a).await.unwrap() {
                let victim = running
                    .lock()
                    .unwrap()
                    .iter()
                    .position(|pid| *pid == Some(holder.pid));
                if let Some(victim) = victim {
                    let in_xero = sandbox.xero_state_of(0, "Invoices").len();
                    let status = Command::new("kill")
                        .args(["-KILL", &holder.pid.to_string()])
                        .status()
                        .unwrap();
                    assert!(status.success(), "kill -KILL {}", holder.pid);
                    killed = Some((victim, in_xero));
                    queues[victim].send(job("restart", 0, &[])).unwrap();
                }
            }
        }
        let elapsed = started.elapsed();
        let complete = (0..2).all(|org| sandbox.xero_state_of(org, "Invoices").len() >= n);
        if !complete && elapsed >= next_tick {
            next_tick += every_tick;
            for org in 0..2 {
                let at = (ticks * 2 + org) % 3;
                queues[at]
                    .send(job("schedule", org, &["--since-last-sync".to_string()]))
                    .unwrap();
            }
            ticks += 1;
        }
        if !complete && elapsed >= next_press {
            next_press += every_press;
            let org = presses % 2;
            let id = 7_100_000_000_000_000_000u64
                + (org as u64) * 10_000_000
                + ((presses * 397) % n) as u64;
            queues[presses % 3]
                .send(job("button", org, &["--id".to_string(), id.to_string()]))
                .unwrap();
            presses += 1;
        }
        if complete && killed.is_some() && ticks >= 2 && presses >= 4 {
            break;
        }
        assert!(
            elapsed < deadline,
            "not done after {deadline:?}: {} and {} of {n} invoices in Xero, killed: {killed:?}",
            sandbox.xero_state_of(0, "Invoices").len(),
            sandbox.xero_state_of(1, "Invoices").len()
        );
    }
    // No more triggers: the workers finish what they were given.
    drop(queues);
    let finished = tokio::task::spawn_blocking(move || {
        for t in threads {
            t.join().unwrap();
        }
        done_rx.into_iter().collect::<Vec<Done>>()
    })
    .await
    .unwrap();

    let (victim, in_xero_when_killed) = killed.unwrap();
    assert!(
        in_xero_when_killed < n,
        "the worker was killed mid-run ({in_xero_when_killed} of {n} invoices in Xero)"
    );
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut deaths = 0;
    for d in &finished {
        *kinds.entry(d.job.kind).or_default() += 1;
        if d.status.code().is_none() {
            // Killed by the signal: the victim's run, and only that one.
            assert_eq!(d.worker, victim, "{d:?}");
            deaths += 1;
            continue;
        }
        assert!(
            d.status.success(),
            "worker {} {} run of {} failed: {}",
            d.worker,
            d.job.kind,
            d.job.config.display(),
            d.stderr
        );
    }
    assert_eq!(deaths, 1, "one run was killed");
    for kind in ["full", "restart", "schedule", "button"] {
        assert!(
            kinds.get(kind).is_some_and(|c| *c >= 1),
            "{kind}: {kinds:?}"
        );
    }
    eprintln!(
        "workers: {n} invoices per organisation, jobs {kinds:?}, killed worker {victim} with \
         {in_xero_when_killed} invoices in Xero, {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let calls = sandbox.calls();
    for (org, tenant) in tenants.iter().enumerate() {
        // Every invoice once, in its own organisation.
        let xero = sandbox.xero_state_of(org, "Invoices");
        let mut per_number: HashMap<String, usize> = HashMap::new();
        for invoice in &xero {
            *per_number
                .entry(invoice["InvoiceNumber"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let prefix = ["A-", "B-"][org];
        assert!(
            per_number.keys().all(|number| number.starts_with(prefix)),
            "organisation {org} holds only its own invoices"
        );
        let twice: Vec<_> = per_number.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            twice.is_empty(),
            "organisation {org}: created twice: {twice:?}"
        );
        assert_eq!(per_number.len(), n, "organisation {org}: every invoice");

        // Every CRM record carries the id of its own Xero invoice.
        let ids: HashMap<&str, &str> = xero
            .iter()
            .map(|i| {
                (
                    i["InvoiceNumber"].as_str().unwrap(),
                    i["InvoiceID"].as_str().unwrap(),
                )
            })
            .collect();
        for record in sandbox.zoho_records_of(org, "Invoices") {
            let number = record["Invoice_Number"].as_str().unwrap();
            assert_eq!(
                record["Xero_Invoice_ID"].as_str(),
                Some(ids[number]),
                "organisation {org}: the CRM record {} shows its Xero id",
                record["id"]
            );
        }

        // Within Xero's limits, from the sandbox's own log.
        let to = calls_to(&calls, tenant);
        let limited: Vec<_> = to.iter().filter(|c| c.status == 429).collect();
        assert!(limited.is_empty(), "organisation {org}: 429s {limited:?}");
        let minute_ms = (MINUTE_SECS * 1000.0) as u64;
        let busiest = busiest_window(&to, minute_ms);
        assert!(
            busiest <= 60,
            "organisation {org}: {busiest} calls arrived within one Xero minute"
        );
        let in_flight = most_in_flight(&to);
        assert!(
            in_flight <= 5,
            "organisation {org}: {in_flight} calls were in flight at once"
        );
        assert!(
            invoice_writes(&to) >= n / BATCH,
            "organisation {org}: the invoices went {BATCH} a call"
        );
        // The pacing held: more calls than one minute's budget went, so the
        // budget was spent and waited for.
        assert!(
            n / BATCH <= 60 || to.len() > 60,
            "organisation {org}: {} calls, a minute's budget or less",
            to.len()
        );
        eprintln!(
            "  organisation {org}: {} Xero calls, at most {busiest} in a Xero minute, at most \
             {in_flight} in flight, no 429",
            to.len()
        );

        // One Zoho access token for every process of the organisation.
        let tokens = sandbox.zoho_token_counts(&orgs[org].zoho_refresh_token);
        assert!(
            tokens.issued <= 2,
            "organisation {org}: {} Zoho access tokens for every worker and run",
            tokens.issued
        );

        // Nothing left half-done in the store.
        let store = state::connect(&state_url, &names[org]).await.unwrap();
        let out = syncwright(
            &state_url,
            &[
                "status",
                "--format",
                "json",
                "--config",
                configs[org].to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        let module = &status["modules"][0];
        assert_eq!(
            (
                module["linked"].as_u64(),
                module["failed"].as_u64(),
                module["pending"].as_u64()
            ),
            (Some(n as u64), Some(0), Some(0)),
            "organisation {org}: {status}"
        );
        assert!(
            store
                .pending_write_backs("invoices")
                .await
                .unwrap()
                .is_empty(),
            "organisation {org}: every outcome reached the CRM"
        );
        assert!(
            status["state"]
                .as_str()
                .is_some_and(|s| s.starts_with("postgres://")),
            "{status}"
        );
    }
    // The killed run is in the first project's history as died.
    let runs = observer.runs(100).await.unwrap();
    assert!(
        runs.iter().any(|r| r.state == RunState::Died),
        "{:?}",
        runs.iter().map(|r| r.state).collect::<Vec<_>>()
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_copy_moves_a_project_to_postgresql_and_back_without_losing_a_link() {
    let Some(state_url) = postgres() else {
        return;
    };
    let n = 120;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: invoices(n, 0),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let (dir, _) = harness::example_copy();
    let name = unique("copy");
    let config = project(dir.path(), &name, &sandbox, 0);
    let folder = config.parent().unwrap().to_path_buf();
    let sqlite = folder.join(".syncwright/state.db");
    let run = |state: &str| {
        syncwright(state, &["run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .output()
            .unwrap()
    };
    let sqlite_text = sqlite.to_str().unwrap().to_string();
    let first = run(&sqlite_text);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(sandbox.xero_state("Invoices").len(), n);

    // Into PostgreSQL, the project named after its folder.
    let copy = |from: &str, to: &str| {
        syncwright(
            &state_url,
            &[
                "state",
                "copy",
                "--from",
                from,
                "--to",
                to,
                "--config",
                config.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap()
    };
    let out = copy(&sqlite_text, &state_url);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.starts_with(&format!("copied the state of project {name} from ")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("{n} links, 1 cursor, 0 failed records")),
        "{printed}"
    );

    // A second copy would merge into state already there: refused.
    let again = copy(&sqlite_text, &state_url);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds state for this project"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // Run from PostgreSQL: every invoice is known, nothing is sent to Xero.
    sandbox.reset_calls();
    let second = run(&state_url);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let writes = invoice_writes(&sandbox.calls());
    assert_eq!(writes, 0, "every link came along: nothing written again");
    assert_eq!(sandbox.xero_state("Invoices").len(), n);

    // And back to a SQLite file of its own: the same links.
    let back = folder.join("back.db");
    let out = copy(&state_url, back.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let original = link_pairs(&SqliteStore::open(&sqlite).unwrap()).await;
    let returned = link_pairs(&SqliteStore::open(&back).unwrap()).await;
    assert_eq!(original.len(), n);
    assert_eq!(original, returned, "the way back keeps every link");
    sandbox.shutdown().await;
}

/// The invoices' links of a store: source id and Xero id, sorted.
async fn link_pairs(store: &dyn StateStore) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = store
        .links("invoices")
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.source_id, l.target_id))
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn a_postgresql_store_out_of_reach_is_named_without_its_password() {
    let (dir, _) = harness::example_copy();
    let folder = dir.path().join("examples/zoho-crm-to-xero");
    let config = folder.join("syncwright.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\nstate: ${{SYNCWRIGHT_WORKERS_STATE}}\n"),
    )
    .unwrap();
    // Nothing listens on port 1.
    let url = "postgres://sync:hunter22@127.0.0.1:1/syncwright";
    for command in ["status", "history", "run"] {
        let out = syncwright(url, &[command, "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("postgres://sync@127.0.0.1:1/syncwright"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("hunter22"), "{command}: {stderr}");
    }
    // A variable that is not set is a configuration error naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_syncwright"))
        .args(["status", "--config", config.to_str().unwrap()])
        .env_remove("SYNCWRIGHT_WORKERS_STATE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("SYNCWRIGHT_WORKERS_STATE") && stderr.contains("config::env"),
        "{stderr}"
    );
}
