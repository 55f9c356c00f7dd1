//! Workers on one PostgreSQL (`scripts/bench-workers.sh`): invoices per
//! Xero minute per organisation, with one worker and with three, against
//! the sandbox (two organisations, Xero's limits on, a Xero minute lasting
//! 6 s) and one PostgreSQL state store; and what sharing Xero's budgets
//! through the store costs a call.
//!
//! A worker runs its jobs one after the other, each a `syncwright run
//! --wait` of one organisation's project: one worker syncs the first
//! organisation, then the second; three workers start on the first, the
//! second and the first again (one of them waits for the other's lock).
//! Each organisation's rate is read from the sandbox's call log, after its
//! first Xero minute (whose budget a client may spend at once) until its
//! last invoice write.
//!
//! Usage: `syncwright-bench-workers POSTGRES_URL [--quick]`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use syncwright_connectors::xero::{DayBudget, Pacer};
use syncwright_engine::state::{self, StateStore};
use syncwright_sandbox::{CallRecord, OrganisationSeed, Sandbox, SandboxConfig};

/// Real seconds per Xero minute in the runs.
const TIME_SCALE: f64 = 6.0;
/// Xero's ceiling: calls per minute and invoices per call.
const CALLS_PER_MINUTE: usize = 60;
const INVOICES_PER_CALL: usize = 50;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.iter().find(|a| !a.starts_with("--")).cloned() else {
        eprintln!("usage: syncwright-bench-workers POSTGRES_URL [--quick]");
        std::process::exit(2);
    };
    let quick = args.iter().any(|a| a == "--quick");
    let n = if quick { 2_000 } else { 10_000 };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let bin = std::env::var_os("SYNCWRIGHT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .expect("own path")
                .with_file_name("syncwright")
        });
    let work = root.join("target/bench-work/workers");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "workers on one PostgreSQL: 2 organisations x {n} invoices, Xero's limits on, a Xero minute lasting {TIME_SCALE} s, {INVOICES_PER_CALL} invoices a call"
    );
    println!(
        "{:<8} {:<13} {:>10} {:>22} {:>11} {:>6} {:>15} {:>10}",
        "workers",
        "organisation",
        "invoices",
        "per Xero minute",
        "of ceiling",
        "429s",
        "busiest minute",
        "in flight"
    );
    for workers in [1, 3] {
        let rows = runtime.block_on(measure(&bin, root, &work, &url, n, workers));
        for row in rows {
            println!("{row}");
        }
    }
    println!(
        "(the ceiling: {CALLS_PER_MINUTE} calls x {INVOICES_PER_CALL} invoices = {} invoices per Xero minute per organisation)",
        CALLS_PER_MINUTE * INVOICES_PER_CALL
    );
    runtime.block_on(pacer_cost(&url, &work));
}

/// Both organisations synced by `workers` workers; a line per organisation.
async fn measure(
    bin: &Path,
    root: &Path,
    work: &Path,
    url: &str,
    n: usize,
    workers: usize,
) -> Vec<String> {
    let sandbox = Sandbox::start(
        SandboxConfig {
            crm_seed: invoices(root, n, "A"),
            time_scale: TIME_SCALE,
            organisations: vec![OrganisationSeed {
                name: "Second Org".into(),
                crm_seed: invoices(root, n, "B"),
                xero_seed: None,
            }],
            ..Default::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("sandbox starts");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let configs: Vec<PathBuf> = (0..2)
        .map(|org| {
            project(
                root,
                &work.join(format!("bench-{workers}w-{org}-{stamp:x}")),
                &sandbox,
                org,
            )
        })
        .collect();
    let plan: Vec<Vec<usize>> = match workers {
        1 => vec![vec![0, 1]],
        _ => vec![vec![0, 1], vec![1, 0], vec![0, 1]],
    };
    let started = Instant::now();
    let threads: Vec<_> = plan
        .into_iter()
        .map(|orgs| {
            let (bin, url, configs) = (bin.to_path_buf(), url.to_string(), configs.clone());
            std::thread::spawn(move || {
                for org in orgs {
                    let status = Command::new(&bin)
                        .args(["run", "--wait", "--format", "json", "--config"])
                        .arg(&configs[org])
                        .env("SYNCWRIGHT_BENCH_STATE", &url)
                        .stdout(Stdio::null())
                        .status()
                        .expect("syncwright runs");
                    assert!(status.success(), "syncwright run failed");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker");
    }
    let wall = started.elapsed().as_secs_f64();
    let calls = sandbox.calls();
    let mut rows = Vec::new();
    for (org, info) in sandbox.organisations().iter().enumerate() {
        let mut to: Vec<&CallRecord> = calls
            .iter()
            .filter(|c| {
                c.vendor == "xero_api" && c.organisation.as_deref() == Some(&info.xero_tenant_id)
            })
            .collect();
        to.sort_by_key(|c| c.started_ms);
        let in_xero = sandbox.xero_state_of(org, "Invoices").len();
        let rate = steady_rate(&to, in_xero);
        let limited = to.iter().filter(|c| c.status == 429).count();
        let ceiling = (CALLS_PER_MINUTE * INVOICES_PER_CALL) as f64;
        rows.push(format!(
            "{workers:<8} {:<13} {in_xero:>10} {:>22} {:>11} {limited:>6} {:>15} {:>10}",
            info.name,
            rate.map(|r| format!("{r:.0}"))
                .unwrap_or_else(|| "-".into()),
            rate.map(|r| format!("{:.0}%", r / ceiling * 100.0))
                .unwrap_or_else(|| "-".into()),
            busiest_minute(&to),
            most_in_flight(&to),
        ));
    }
    rows.push(format!(
        "{workers:<8} both: {wall:.1} s from the first worker's start to the last one's end"
    ));
    sandbox.shutdown().await;
    rows
}

/// Invoices per Xero minute after the organisation's first Xero minute
/// until its last invoice write (`None` under two Xero minutes of calls).
fn steady_rate(calls: &[&CallRecord], invoices: usize) -> Option<f64> {
    let minute_ms = (TIME_SCALE * 1000.0) as u64;
    let writes: Vec<&&CallRecord> = calls
        .iter()
        .filter(|c| c.method != "GET" && c.path.ends_with("/Invoices"))
        .collect();
    let (first, last) = (calls.first()?, writes.last()?);
    if last.at_ms <= first.started_ms + 2 * minute_ms {
        return None;
    }
    let from = first.started_ms + minute_ms;
    let steady = writes.iter().filter(|c| c.started_ms > from).count();
    let minutes = (last.at_ms - from) as f64 / minute_ms as f64;
    Some(steady as f64 * invoices as f64 / writes.len() as f64 / minutes)
}

/// The most calls that arrived within any Xero minute.
fn busiest_minute(calls: &[&CallRecord]) -> usize {
    let minute_ms = (TIME_SCALE * 1000.0) as u64;
    let starts: Vec<u64> = calls.iter().map(|c| c.started_ms).collect();
    (0..starts.len())
        .map(|i| starts[i..].partition_point(|s| *s < starts[i] + minute_ms))
        .max()
        .unwrap_or(0)
}

/// The most calls in flight at once, from arrival to answer.
fn most_in_flight(calls: &[&CallRecord]) -> usize {
    let mut edges: Vec<(u64, i32)> = calls
        .iter()
        .flat_map(|c| [(c.started_ms, 1), (c.at_ms, -1)])
        .collect();
    edges.sort_by_key(|(t, delta)| (*t, -*delta));
    let mut now = 0;
    edges
        .iter()
        .map(|(_, delta)| {
            now += delta;
            now
        })
        .max()
        .unwrap_or(0) as usize
}

/// `n` valid invoices copied from the example's first one, numbered
/// `{prefix}-000000` on.
fn invoices(root: &Path, n: usize, prefix: &str) -> Value {
    let mut crm: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("examples/zoho-crm-to-xero/crm.json"))
            .expect("crm.json"),
    )
    .expect("crm.json is JSON");
    let template = crm["Invoices"][0].clone();
    let base: u64 = if prefix == "A" {
        7_200_000_000_000_000_000
    } else {
        7_300_000_000_000_000_000
    };
    crm["Invoices"] = (0..n)
        .map(|i| {
            let mut invoice = template.clone();
            invoice["id"] = json!((base + i as u64).to_string());
            invoice["Invoice_Number"] = json!(format!("{prefix}-{i:06}"));
            invoice
        })
        .collect();
    crm
}

/// A project folder syncing invoices of the sandbox's organisation `org`,
/// its state in the store `${SYNCWRIGHT_BENCH_STATE}` names.
fn project(root: &Path, folder: &Path, sandbox: &Sandbox, org: usize) -> PathBuf {
    std::fs::create_dir_all(folder).expect("project folder");
    let config = folder.join("syncwright.yaml");
    let connections = sandbox.organisation_connections(
        org,
        &[
            format!("minute_secs: {TIME_SCALE}"),
            format!("batch_size: {INVOICES_PER_CALL}"),
        ],
    );
    let text = format!(
        "version: 1\nstate: ${{SYNCWRIGHT_BENCH_STATE}}\n{connections}\
         modules:\n  - name: invoices\n    mapping: \"{}\"\n",
        root.join("mappings/invoices.yaml").display()
    );
    std::fs::write(&config, text).expect("project file");
    config
}

/// What pacing a call costs: the pacer's wait for a free slot and budget
/// when none is short (PostgreSQL, SQLite, no store), and the slot given
/// back (off the call's path, awaited after the answer is read).
async fn pacer_cost(url: &str, work: &Path) {
    const CALLS: u32 = 2_000;
    println!("\npacing cost per call ({CALLS} calls, budgets never short):");
    let postgres = state::connect(url, "bench-pacer-cost")
        .await
        .expect("PostgreSQL");
    let sqlite = state::connect(
        &work.join("pacer-cost.db").display().to_string(),
        "bench-pacer-cost",
    )
    .await
    .expect("SQLite");
    for (what, store) in [
        ("PostgreSQL", Some(postgres)),
        ("SQLite", Some(sqlite)),
        ("no store", None),
    ] {
        let (acquire, give_back) = pace(store, CALLS).await;
        println!(
            "  {what:<10}: {acquire:>7.0} µs on the call's path (a slot, then the day's and the minute's budgets together), {give_back:>6.0} µs giving the slot back"
        );
    }
}

/// Mean microseconds to acquire, and to give back, over `calls` calls of a
/// pacer whose budgets are never short.
async fn pace(store: Option<Arc<dyn StateStore>>, calls: u32) -> (f64, f64) {
    let day = DayBudget {
        cap: Some(u64::from(calls) * 10),
        reserve: 0,
    };
    // A short minute keeps as few calls in its window as a Xero minute holds.
    let pacer = Pacer::new(5, calls * 10, Duration::from_millis(200), day);
    let tenant = format!(
        "bench-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    if let Some(store) = store {
        pacer.share(store, &tenant);
    }
    let (mut acquiring, mut giving_back) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..calls {
        let started = Instant::now();
        let permit = pacer.acquire().await.expect("budget");
        acquiring += started.elapsed();
        drop(permit);
        let started = Instant::now();
        pacer.settle().await;
        giving_back += started.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(calls);
    (per(acquiring), per(giving_back))
}
