//! `syncwright sandbox`: local Zoho CRM and Xero servers, seeded from files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use syncwright_sandbox::{serve_cli, SandboxConfig, XeroLimits};

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
