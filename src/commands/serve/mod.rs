//! `syncwright serve`: the project as a long-running service (the
//! `syncwright-server` crate): the CRM's "Sync to Xero" button, manual and
//! scheduled syncs, Zoho notifications, Xero webhooks, the portal.
//!
//! With `--sandbox` (or `--sandbox-url`) it is a one-command demo: the
//! project points at the sandbox, the demo API token `sandbox-token` and
//! button key `sandbox-button` open the API, the portal and the button
//! (unless the project sets its own), Zoho notifications are on, and the
//! sandbox's Xero webhooks come to this service, signed with
//! `sandbox-webhook-key`.
//!
//! With `--projects DIR` it serves every project folder under DIR from one
//! process ([`projects`]).

mod projects;

use std::net::SocketAddr;
use std::path::PathBuf;

use syncwright_server::logging::{init, LogFormat};
use syncwright_server::{Service, ServiceOptions, StartError};

use crate::args::{ProjectFile, SandboxTarget, SettingOverrides};
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::runtime;
use crate::session::Session;

/// The demo API token of a service against the sandbox.
pub const SANDBOX_TOKEN: &str = "sandbox-token";
/// The demo button key of a service against the sandbox.
pub const SANDBOX_BUTTON_KEY: &str = "sandbox-button";
/// The key the sandbox signs its Xero webhooks with for the demo.
pub const SANDBOX_WEBHOOK_KEY: &str = "sandbox-webhook-key";

/// Where the service listens unless told.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Options of `syncwright serve`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("sandbox", |a| a.help("Start the sandbox in-process and serve the project against it: a one-command demo")),
)]
pub struct ServeArgs {
    /// The project file.
    #[command(flatten)]
    pub project: ProjectFile,
    /// Serve every project folder under DIR (a `syncwright.yaml` each),
    /// each under `/projects/NAME`; SIGHUP or `POST /api/v1/reload` picks
    /// up folders added or changed since.
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub projects: Option<PathBuf>,
    /// Settings overridden for the service's runs.
    #[command(flatten)]
    pub overrides: SettingOverrides,
    /// Address to listen on (default: `serve.listen`, else 127.0.0.1:8080).
    /// An address other than loopback needs `serve.api_tokens`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The sandbox to run against instead of the project's connections.
    #[command(flatten)]
    pub target: SandboxTarget,
    /// Real seconds per vendor minute in the sandbox; the service's
    /// schedules shrink with it.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub sandbox_time_scale: f64,
    /// How logs are written to stderr.
    #[arg(long, value_enum, default_value = "human")]
    pub log_format: LogFormatArg,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Lines for people.
    Human,
    /// One JSON object per line.
    Json,
}

/// Starts the service and serves until Ctrl-C or SIGTERM; 0 after a clean stop.
pub fn serve(args: ServeArgs) -> u8 {
    init(match args.log_format {
        LogFormatArg::Human => LogFormat::Human,
        LogFormatArg::Json => LogFormat::Json,
    });
    if let Some(dir) = &args.projects {
        return projects::serve_projects(&args, dir);
    }
    let session = match Session::open(
        &args.project.config,
        &args.overrides.set,
        &args.target,
        args.sandbox_time_scale,
        runtime::multi_thread(),
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (mut project, sandbox, runtime) = session.into_parts();
    let sandbox_url = sandbox.as_ref().map(|s| s.base_url.clone());
    if sandbox_url.is_some() {
        open_for_the_demo(&mut project.serve);
    }
    let listen = args
        .listen
        .or(project.serve.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("address"));
    let config_path = args.project.config.display().to_string();
    let code = runtime.block_on(async move {
        let button_key = project.serve.button_keys.first().cloned();
        let webhook_key = project.serve.webhook_key.clone();
        let first_module = project.modules.first().map(|m| m.name.clone());
        let options = ServiceOptions {
            listen,
            minute_secs: args.sandbox_time_scale,
        };
        let service = match Service::start(project, options).await {
            Ok(service) => service,
            Err(e) => {
                eprintln!("error: {config_path}: {e}");
                return match e {
                    StartError::Config(_) => EXIT_CONFIG,
                    _ => EXIT_FAILED,
                };
            }
        };
        let url = format!("http://{}", service.addr());
        if let (Some(base), Some(key)) = (&sandbox_url, &webhook_key) {
            if let Err(e) = register_webhook(base, &format!("{url}/hooks/xero"), key).await {
                eprintln!("warning: the sandbox's Xero webhooks do not reach the service: {e}");
            }
        }
        println!("syncwright serves {config_path} on {url}");
        println!("  portal:    {url}/");
        if sandbox_url.is_some() {
            println!(
                "  API token: {SANDBOX_TOKEN} (the demo's; sign in to the portal with it too)"
            );
        } else if let Some(token) = service.generated_token() {
            println!(
                "  API token: {token} (made up for this run: set serve.api_tokens to keep one)"
            );
        }
        if let (Some(key), Some(module)) = (&button_key, &first_module) {
            let key = if sandbox_url.is_some() {
                key.as_str()
            } else {
                "<button key>"
            };
            println!("  button:    {url}/sync/{module}/<record id>?key={key}");
        }
        if let Some(base) = &sandbox_url {
            println!("  sandbox:   {base}");
        }
        println!("Press Ctrl-C to stop.");
        service.run_until_signal().await;
        0
    });
    drop(sandbox);
    drop(runtime);
    code
}

/// The demo's secrets for a project served against the sandbox, where it
/// names none (the demo API token, button key and webhook key), and Zoho
/// notifications on.
fn open_for_the_demo(serve: &mut syncwright_engine::project::ServeConfig) {
    if serve.api_tokens.is_empty() {
        serve.api_tokens.push(SANDBOX_TOKEN.into());
    }
    if serve.button_keys.is_empty() {
        serve.button_keys.push(SANDBOX_BUTTON_KEY.into());
    }
    if serve.webhook_key.is_none() {
        serve.webhook_key = Some(SANDBOX_WEBHOOK_KEY.into());
    }
    serve.notifications.enabled = true;
}

/// Points the sandbox's Xero webhooks at the service.
async fn register_webhook(sandbox: &str, url: &str, key: &str) -> Result<(), String> {
    let answer = reqwest::Client::new()
        .post(format!("{sandbox}/sandbox/xero/webhooks"))
        .json(&serde_json::json!({"url": url, "key": key}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("the sandbox answered {}", answer.status()))
    }
}
