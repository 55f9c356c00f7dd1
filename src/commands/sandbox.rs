//! `syncwright sandbox`: local Zoho CRM, Xero, Canvas and Blackboard
//! servers, seeded from files.

use std::net::SocketAddr;
use std::path::PathBuf;

use syncwright_sandbox::{serve_cli, SandboxConfig, XeroLimits};

use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::json_file::read_json;
use crate::runtime;
use crate::sandbox_target::parse_time_scale;

/// Options of `syncwright sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// CRM snapshot the Zoho side serves (the file connector's format).
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Xero organisation seed; a demo organisation when omitted.
    #[arg(long, value_name = "FILE")]
    pub xero_seed: Option<PathBuf>,
    /// Canvas LMS seed (accounts, courses, users, enrollments).
    #[arg(long, value_name = "FILE")]
    pub canvas_seed: Option<PathBuf>,
    /// Blackboard Learn seed (users, courses, columns, grades).
    #[arg(long, value_name = "FILE")]
    pub blackboard_seed: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Real seconds per vendor minute, to make rate-limit windows short (60 = real time).
    #[arg(long, default_value_t = 60.0, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Turn Xero's rate limits off.
    #[arg(long)]
    pub no_limits: bool,
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
    if let Some(path) = &args.seed {
        match read_json(path) {
            Ok(v) => config.crm_seed = v,
            Err(msg) => return config_error(&msg),
        }
    }
    if let Some(path) = &args.xero_seed {
        match read_json(path) {
            Ok(v) => config.xero_seed = Some(v),
            Err(msg) => return config_error(&msg),
        }
    }
    for (imitation, path) in [
        ("canvas", &args.canvas_seed),
        ("blackboard", &args.blackboard_seed),
    ] {
        if let Some(path) = path {
            let seeded = read_json(path).and_then(|v| {
                config
                    .seed_imitation(imitation, v)
                    .map_err(|e| e.to_string())
            });
            if let Err(msg) = seeded {
                return config_error(&msg);
            }
        }
    }
    let runtime = runtime::multi_thread();
    let mut out = std::io::stdout();
    match runtime.block_on(serve_cli(config, args.listen, &mut out)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}

/// Prints a seed file's problem; the exit code of a configuration error.
fn config_error(msg: &str) -> u8 {
    eprintln!("error: {msg}");
    EXIT_CONFIG
}
