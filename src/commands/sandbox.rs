//! `syncwright sandbox`: local Zoho CRM and Xero servers, seeded from files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use syncwright_engine::Project;
use syncwright_sandbox::{
    serve_cli, Sandbox, SandboxConfig, XeroLimits, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
};

use super::{EXIT_CONFIG, EXIT_FAILED};

/// Options of `syncwright sandbox`.
#[derive(Debug, Clone)]
pub struct SandboxArgs {
    /// CRM snapshot the Zoho side serves.
    pub seed: Option<PathBuf>,
    /// Xero organisation seed (`{"Contacts": [...], "Items": [...], ...}`).
    pub xero_seed: Option<PathBuf>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Real seconds per vendor minute (60 = real time).
    pub time_scale: f64,
    /// Turn Xero's rate limits off.
    pub no_limits: bool,
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not valid JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Starts the sandbox and serves until Ctrl-C.
pub fn sandbox(args: SandboxArgs) -> u8 {
    let mut config = SandboxConfig {
        time_scale: args.time_scale,
        ..SandboxConfig::default()
    };
    if args.no_limits {
        config.limits = XeroLimits::disabled();
    }
    for (path, slot) in [(&args.seed, 0), (&args.xero_seed, 1)] {
        if let Some(path) = path {
            match read_json(path) {
                Ok(v) if slot == 0 => config.crm_seed = v,
                Ok(v) => config.xero_seed = Some(v),
                Err(msg) => {
                    eprintln!("error: {msg}");
                    return EXIT_CONFIG;
                }
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut out = std::io::stdout();
    match runtime.block_on(serve_cli(config, args.listen, &mut out)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}

/// What `--sandbox` keeps alive during a run.
pub struct Attached {
    _sandbox: Option<Sandbox>,
    _state_dir: Option<tempfile::TempDir>,
}

/// Points the project's connections at a sandbox: started in-process
/// (`--sandbox`, seeded with the project's CRM snapshot, state kept in a
/// temporary store since the sandbox starts empty each time) or already
/// running (`--sandbox-url`, state in `.syncwright/sandbox-state.db`).
pub fn attach(
    project: &mut Project,
    runtime: &tokio::runtime::Runtime,
    in_process: bool,
    url: Option<&str>,
    time_scale: f64,
) -> Result<Option<Attached>, String> {
    if !in_process && url.is_none() {
        return Ok(None);
    }
    let sources: Vec<String> = project
        .modules
        .iter()
        .map(|m| m.source.connection.clone())
        .collect();
    let mut attached = Attached {
        _sandbox: None,
        _state_dir: None,
    };
    let base = match url {
        Some(url) => {
            project.state = Some(project.base_dir.join(".syncwright/sandbox-state.db"));
            url.trim_end_matches('/').to_string()
        }
        None => {
            let seed = sources
                .iter()
                .filter_map(|name| project.connections.get(name))
                .find(|c| c.kind == "file")
                .and_then(|c| c.options["path"].as_str())
                .map(|p| project.base_dir.join(p));
            let crm_seed = match seed {
                Some(path) => read_json(&path)?,
                None => serde_json::json!({}),
            };
            let config = SandboxConfig {
                crm_seed,
                time_scale,
                ..SandboxConfig::default()
            };
            let sandbox = runtime
                .block_on(Sandbox::start(
                    config,
                    "127.0.0.1:0".parse().expect("address"),
                ))
                .map_err(|e| format!("cannot start the sandbox: {e}"))?;
            let base = sandbox.base_url();
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            project.state = Some(dir.path().join("state.db"));
            attached._state_dir = Some(dir);
            attached._sandbox = Some(sandbox);
            base
        }
    };
    point_at_sandbox(project, &base, time_scale);
    Ok(Some(attached))
}

/// Rewrites every connection of `project` to the sandbox at `base`: the
/// CRM side becomes `zoho_crm`, the accounting side `xero`, with the
/// sandbox's demo credentials. A connection's side is its kind when that is
/// `zoho_crm` or `xero`; for a file, the side its modules give it (a
/// module's target is Xero unless its `target.system` says Zoho CRM, and
/// its source is then the other side). `time_scale` is the sandbox's length
/// of a Xero minute in real seconds, so the Xero client paces to the same clock.
pub fn point_at_sandbox(project: &mut Project, base: &str, time_scale: f64) {
    use syncwright_engine::config::mapping::TargetSystem;
    let mut crm_side: std::collections::BTreeMap<String, bool> = Default::default();
    for module in &project.modules {
        let target_is_crm = module.target.system == Some(TargetSystem::ZohoCrm);
        crm_side
            .entry(module.target.connection.clone())
            .or_insert(target_is_crm);
        crm_side
            .entry(module.source.connection.clone())
            .or_insert(!target_is_crm);
    }
    for (name, connection) in project.connections.iter_mut() {
        let crm = match connection.kind.as_str() {
            "zoho_crm" => true,
            "xero" => false,
            _ => match crm_side.get(name) {
                Some(side) => *side,
                None => continue,
            },
        };
        if crm {
            connection.kind = "zoho_crm".into();
            connection.options = serde_json::json!({
                "accounts_url": format!("{base}/zoho/accounts"),
                "api_url": format!("{base}/zoho/api"),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
            });
        } else {
            connection.kind = "xero".into();
            connection.options = serde_json::json!({
                "identity_url": format!("{base}/xero/identity"),
                "api_url": format!("{base}/xero/api"),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "grant": "client_credentials",
                "minute_secs": time_scale,
            });
        }
    }
}
