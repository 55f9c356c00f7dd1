//! The benchmark table: engine throughput against a serde floor and jq,
//! peak memory for 10,000 and 1,000,000 streamed invoices, and per-rule
//! cost, measured side by side in one run. Run with `scripts/bench.sh`
//! (which installs jq) or `cargo bench --bench pipeline [-- --quick]`.
//!
//! Timings are wall-clock on a shared machine: read the ratios, which are
//! measured in the same run, not the absolute figures.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_syncwright");

/// A small deterministic generator (xorshift64*), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `n` realistic invoices (10 lines, item-based GST) as JSON Lines.
fn write_invoices(
    n: usize,
    seed: u64,
    related: &Value,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut rng = Rng(seed);
    let contacts = related["Contacts"].as_array().unwrap();
    let products: Vec<&Value> = related["Products"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["Product_Code"].is_string())
        .collect();
    for i in 0..n {
        let contact = &contacts[rng.below(contacts.len() as u64) as usize];
        let lines: Vec<Value> = (0..10)
            .map(|l| {
                let p = products[rng.below(products.len() as u64) as usize];
                let qty = 1 + rng.below(9);
                let price = p["Unit_Price"].as_f64().unwrap_or(10.0);
                let total = (qty as f64 * price * 100.0).round() / 100.0;
                let tax = (total * 10.0).round() / 100.0;
                json!({
                    "id": format!("{}", 8_100_000_000_000_000_000u64 + (i * 10 + l) as u64),
                    "Product_Name": {"name": p["Product_Name"], "id": p["id"], "Product_Code": p["Product_Code"]},
                    "Quantity": qty, "List_Price": price, "Discount": 0, "Total": total,
                    "Total_After_Discount": total, "Tax": tax, "Net_Total": total + tax,
                    "Description": p["Description"],
                    "Line_Tax": [{"name": "GST", "percentage": 10, "value": tax, "id": "5725767000000380001"}]
                })
            })
            .collect();
        let invoice = json!({
            "id": format!("{}", 8_000_000_000_000_000_000u64 + i as u64),
            "Subject": format!("Bench invoice {i}"),
            "Invoice_Number": format!("BENCH-{i:07}"),
            "Account_Name": contact["Account_Name"],
            "Contact_Name": {"name": contact["Full_Name"], "id": contact["id"]},
            "Invoice_Date": "2026-11-02", "Due_Date": "2026-12-02", "Status": "Approved",
            "Currency": "AUD", "Exchange_Rate": 1, "Add_to_Xero": true, "$line_tax": [],
            "Modified_Time": format!("2026-11-02T{:02}:{:02}:{:02}+11:00", (i / 3600) % 24, (i / 60) % 60, i % 60),
            "Invoiced_Items": lines,
        });
        serde_json::to_writer(&mut *out, &invoice)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Runs a command with `stdin` fed from a file or a generator, stdout
/// discarded; returns (seconds, peak RSS in KiB, stderr). The child is
/// reaped with `wait4`, which also reports its peak RSS.
#[allow(clippy::zombie_processes)]
fn measure(mut cmd: Command, input: Input) -> (f64, u64, String) {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("command starts");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut w = BufWriter::with_capacity(1 << 20, &mut stdin);
        match input {
            Input::File(path) => {
                std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut w).unwrap();
            }
            Input::Generated { n, related } => write_invoices(n, 42, &related, &mut w).unwrap(),
        }
        w.flush().unwrap();
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers to locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let seconds = started.elapsed().as_secs_f64();
    feeder.join().unwrap();
    (seconds, usage.ru_maxrss as u64, stderr)
}

enum Input {
    File(PathBuf),
    Generated { n: usize, related: Value },
}

fn floor(path: &Path) -> f64 {
    let started = Instant::now();
    let reader = BufReader::new(std::fs::File::open(path).unwrap());
    let mut sink = std::io::sink();
    for line in reader.lines() {
        let value: Value = serde_json::from_str(&line.unwrap()).unwrap();
        serde_json::to_writer(&mut sink, &value).unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// Calls the sandbox received, per vendor host.
fn calls_by_vendor(
    sandbox: &syncwright_sandbox::Sandbox,
) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for call in sandbox.calls() {
        *out.entry(call.vendor).or_default() += 1;
    }
    out
}

/// API efficiency against the sandbox: calls per system for a cold sync and a
/// no-change rerun, and the share of Xero's ceiling achieved under its limits.
fn api_efficiency(work: &Path, config: &Path, sizes: &[usize]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let crm: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/zoho-crm-to-xero/crm.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let related = json!({"Contacts": crm["Contacts"], "Accounts": crm["Accounts"], "Products": crm["Products"]});
    println!("\nAPI efficiency against the sandbox (calls received, per host)");
    println!(
        "{:>8} {:<10} {:>10} {:>10} {:>12} {:>14} {:>10}",
        "invoices", "run", "zoho api", "xero api", "xero writes", "ceil(n/50)", "429s"
    );
    for &n in sizes {
        let mut invoices = Vec::new();
        write_invoices(n, 7, &related, &mut invoices).unwrap();
        let mut seed = related.clone();
        seed["Invoices"] = Value::Array(
            invoices
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect(),
        );
        // Xero's real limits, on a clock where a minute lasts six seconds: long
        // next to a call's latency, as a real minute is.
        let scale = 6.0;
        let sandbox = runtime
            .block_on(syncwright_sandbox::Sandbox::start(
                syncwright_sandbox::SandboxConfig {
                    crm_seed: seed,
                    time_scale: scale,
                    ..Default::default()
                },
                "127.0.0.1:0".parse().unwrap(),
            ))
            .unwrap();
        let _ = std::fs::remove_dir_all(work.join(".syncwright"));
        for run in ["cold", "no change"] {
            sandbox.reset_calls();
            let status = Command::new(BIN)
                .args([
                    "run",
                    "--format",
                    "json",
                    "--config",
                    config.to_str().unwrap(),
                ])
                .args([
                    "--sandbox-url",
                    &sandbox.base_url(),
                    "--sandbox-time-scale",
                    &scale.to_string(),
                ])
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            let calls = sandbox.calls();
            let by = calls_by_vendor(&sandbox);
            let writes: Vec<_> = calls
                .iter()
                .filter(|c| c.method == "POST" && c.path.ends_with("/Invoices"))
                .collect();
            let limited = calls.iter().filter(|c| c.status == 429).count();
            println!(
                "{:>8} {:<10} {:>10} {:>10} {:>12} {:>14} {:>10}",
                n,
                run,
                by.get("zoho_api").copied().unwrap_or(0),
                by.get("xero_api").copied().unwrap_or(0),
                writes.len(),
                n.div_ceil(50),
                limited
            );
            if run == "cold" && writes.len() <= 120 {
                println!(
                    "{:>8} {:<10} share of Xero's ceiling: n/a (under two Xero minutes of writes)",
                    "", ""
                );
            } else if run == "cold" {
                let span_ms = (writes.last().unwrap().at_ms - writes[0].at_ms) as f64;
                let minutes = span_ms / 1000.0 / scale;
                let per_minute = (writes.len() - 1) as f64 / minutes;
                println!("{:>8} {:<10} achieved {:.1} invoice writes per Xero minute = {:.0}% of the 60-call ceiling ({:.0} invoices a minute)", "", "", per_minute, per_minute / 60.0 * 100.0, per_minute * 50.0);
            }
        }
        runtime.block_on(sandbox.shutdown());
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/bench-work");
    std::fs::create_dir_all(&work).unwrap();
    let crm: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("examples/zoho-crm-to-xero/crm.json")).unwrap(),
    )
    .unwrap();
    let related = json!({"Contacts": crm["Contacts"], "Accounts": crm["Accounts"], "Products": crm["Products"]});
    std::fs::write(work.join("related.json"), related.to_string()).unwrap();
    std::fs::write(
        work.join("syncwright.yaml"),
        format!(
            "version: 1\nconnections:\n  crm: {{kind: file, path: \"-\", related: related.json}}\n  xero: {{kind: file, path: out.jsonl}}\nmodules:\n  - name: invoices\n    mapping: {}\n",
            root.join("mappings/invoices.yaml").display()
        ),
    )
    .unwrap();
    let config = work.join("syncwright.yaml");

    let n = if quick { 2_000 } else { 20_000 };
    let data = work.join(format!("invoices-{n}.jsonl"));
    write_invoices(
        n,
        42,
        &related,
        &mut BufWriter::new(std::fs::File::create(&data).unwrap()),
    )
    .unwrap();
    let per_sec = |secs: f64| n as f64 / secs;

    let floor_s = floor(&data);
    let plan = || {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
        ]);
        cmd
    };
    let (engine_s, _, _) = measure(plan(), Input::File(data.clone()));
    let mut profiled = plan();
    profiled.arg("--profile-rules");
    let (_, _, rule_table) = measure(profiled, Input::File(data.clone()));
    let jq = Command::new("jq")
        .arg("--version")
        .output()
        .is_ok()
        .then(|| {
            let mut cmd = Command::new("jq");
            cmd.args(["-c", "--slurpfile", "related"])
                .arg(work.join("related.json"))
                .arg("-f")
                .arg(root.join("benches/jq/invoices.jq"));
            measure(cmd, Input::File(data.clone())).0
        });

    let big = if quick { 100_000 } else { 1_000_000 };
    let (_, rss_small, _) = measure(
        plan(),
        Input::Generated {
            n: 10_000,
            related: related.clone(),
        },
    );
    let (big_s, rss_big, _) = measure(
        plan(),
        Input::Generated {
            n: big,
            related: related.clone(),
        },
    );

    println!("\nsyncwright benchmark: {n} invoices of 10 lines, all shipped rules on, one run\n");
    println!("{:<44} {:>12} {:>14}", "measure", "seconds", "invoices/s");
    println!(
        "{:<44} {:>12.2} {:>14.0}",
        "floor: serde_json parse + write, no mapping",
        floor_s,
        per_sec(floor_s)
    );
    println!(
        "{:<44} {:>12.2} {:>14.0}",
        "engine: syncwright plan (single thread)",
        engine_s,
        per_sec(engine_s)
    );
    match jq {
        Some(s) => println!(
            "{:<44} {:>12.2} {:>14.0}",
            "jq: same mapping and source checks",
            s,
            per_sec(s)
        ),
        None => println!(
            "{:<44} {:>12}",
            "jq: not installed (scripts/bench.sh installs it)", "-"
        ),
    }
    println!("\nratios");
    let floor_ratio = floor_s / engine_s;
    println!(
        "  engine / floor speed: {floor_ratio:.3} (target >= 0.333: {})",
        if floor_ratio >= 1.0 / 3.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    if let Some(jq_s) = jq {
        let r = jq_s / engine_s;
        println!(
            "  engine / jq speed:    {r:.2}x (target >= 5x: {})",
            if r >= 5.0 { "met" } else { "NOT met" }
        );
    }
    println!("\npeak RSS, invoices streamed as JSON Lines on stdin");
    println!(
        "  10,000 invoices:     {:>8.1} MiB",
        rss_small as f64 / 1024.0
    );
    println!(
        "  {big:>9} invoices: {:>8.1} MiB ({:.0} invoices/s)",
        rss_big as f64 / 1024.0,
        big as f64 / big_s
    );
    let flat = rss_big as f64 <= rss_small as f64 * 2.0;
    println!(
        "  flat (same order) and under 100 MB: {}",
        if flat && rss_big < 100 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("\nrule cost (plan --profile-rules over the {n} invoices)\n{rule_table}");

    // The same project, with the sandbox standing in for Zoho and Xero.
    api_efficiency(
        &work,
        &config,
        if quick { &[1_000] } else { &[1_000, 10_000] },
    );
}
