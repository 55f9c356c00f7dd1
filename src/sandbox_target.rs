//! `--sandbox` and `--sandbox-url`: pointing a loaded project at the
//! sandbox instead of the systems its connections name.

use serde_json::Value;
use syncwright_engine::config::mapping::TargetSystem;
use syncwright_engine::Project;
use syncwright_sandbox::{
    check_time_scale, OrganisationInfo, Sandbox, SandboxConfig, CLIENT_ID, CLIENT_SECRET,
    REFRESH_TOKEN,
};

use crate::args::SandboxTarget;
use crate::exit_code::EXIT_FAILED;
use crate::json_file::read_json;

/// Parses a vendor minute's length in real seconds (`--time-scale`,
/// `--sandbox-time-scale`): a finite number above zero, so `inf`, `nan`
/// and `0` are refused while the flags are read.
pub(crate) fn parse_time_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    check_time_scale(scale).map_err(|e| e.to_string())?;
    Ok(scale)
}

/// What `--sandbox` keeps alive during a command: the in-process sandbox
/// and the temporary folder of its state store. Dropping it stops both.
pub struct Attached {
    /// The sandbox started in-process (`--sandbox`).
    _sandbox: Option<Sandbox>,
    /// The folder of the temporary state store of runs against it.
    _state_dir: Option<tempfile::TempDir>,
    /// The sandbox's base URL.
    pub(crate) base_url: String,
}

/// Points the project's connections at the sandbox `target` selects, if
/// any: started in-process (`--sandbox`, seeded with the project's CRM
/// snapshot, state kept in a temporary store since the sandbox starts empty
/// each time) or already running (`--sandbox-url`, state in
/// `.syncwright/sandbox-state.db`). A failure is printed; the error is the
/// exit code.
pub(crate) fn attach(
    project: &mut Project,
    runtime: &tokio::runtime::Runtime,
    target: &SandboxTarget,
    time_scale: f64,
) -> Result<Option<Attached>, u8> {
    attach_to(project, runtime, target, time_scale).map_err(|msg| {
        eprintln!("error: {msg}");
        EXIT_FAILED
    })
}

/// [`attach`], with the failure as a message.
fn attach_to(
    project: &mut Project,
    runtime: &tokio::runtime::Runtime,
    target: &SandboxTarget,
    time_scale: f64,
) -> Result<Option<Attached>, String> {
    if !target.sandbox && target.sandbox_url.is_none() {
        return Ok(None);
    }
    let mut attached = Attached {
        _sandbox: None,
        _state_dir: None,
        base_url: String::new(),
    };
    let base = match &target.sandbox_url {
        Some(url) => {
            project.state = Some(project.base_dir.join(".syncwright/sandbox-state.db"));
            url.trim_end_matches('/').to_string()
        }
        None => {
            let crm_seed = match crm_snapshot(project) {
                Some(path) => read_json(&path)?,
                None => serde_json::json!({}),
            };
            let mut config = SandboxConfig {
                crm_seed,
                time_scale,
                ..SandboxConfig::default()
            };
            seed_imitations(project, &mut config)?;
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
    attached.base_url = base;
    Ok(Some(attached))
}

/// The CRM snapshot the in-process sandbox serves: the file of the first
/// module source that is a `file` connection.
pub(crate) fn crm_snapshot(project: &Project) -> Option<std::path::PathBuf> {
    project
        .modules
        .iter()
        .filter_map(|m| project.connections.get(&m.source.connection))
        .find(|c| c.kind == "file")
        .and_then(|c| c.options["path"].as_str())
        .map(|p| project.base_dir.join(p))
}

/// Seeds the sandbox's LMS imitations with the files the project's `rest`
/// connections name (`sandbox: {imitation: canvas, seed: canvas.json}`).
pub(crate) fn seed_imitations(project: &Project, config: &mut SandboxConfig) -> Result<(), String> {
    for connection in project.connections.values().filter(|c| c.kind == "rest") {
        let spec = &connection.options["sandbox"];
        if let (Some(imitation), Some(seed)) = (spec["imitation"].as_str(), spec["seed"].as_str()) {
            let seed = read_json(&project.base_dir.join(seed))?;
            config
                .seed_imitation(imitation, seed)
                .map_err(|e| format!("connection `{}`: {e}", connection.name))?;
        }
    }
    Ok(())
}

/// Rewrites every connection of `project` to the sandbox at `base`: the
/// CRM side becomes `zoho_crm`, the accounting side `xero`, with the
/// sandbox's demo credentials. A connection's side is its kind when that is
/// `zoho_crm` or `xero`; for a file, the side its modules give it (a
/// module's target is Xero unless its `target.system` says Zoho CRM, and
/// its source is then the other side). `time_scale` is the sandbox's length
/// of a Xero minute in real seconds, so the Xero client paces to the same clock.
/// A `rest` connection goes to the imitation its `sandbox.imitation` names,
/// with that imitation's demo credentials; one that names none is left alone.
pub fn point_at_sandbox(project: &mut Project, base: &str, time_scale: f64) {
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
        if connection.kind == "rest" {
            let imitation = connection.options["sandbox"]["imitation"].as_str();
            if let Some(Value::Object(reach)) =
                imitation.and_then(|i| syncwright_sandbox::imitations::rest_options(i, base))
            {
                if let Value::Object(options) = &mut connection.options {
                    options.extend(reach);
                }
            }
            continue;
        }
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

/// Points the Zoho CRM and Xero connections of a project already pointed
/// at the sandbox ([`point_at_sandbox`]) at one of its organisations: the
/// Zoho refresh token that reaches it and its Xero tenant.
pub fn point_at_organisation(project: &mut Project, organisation: &OrganisationInfo) {
    for connection in project.connections.values_mut() {
        let Value::Object(options) = &mut connection.options else {
            continue;
        };
        match connection.kind.as_str() {
            "zoho_crm" => {
                options.insert(
                    "refresh_token".into(),
                    Value::String(organisation.zoho_refresh_token.clone()),
                );
            }
            "xero" => {
                options.insert(
                    "tenant_id".into(),
                    Value::String(organisation.xero_tenant_id.clone()),
                );
            }
            _ => {}
        }
    }
}
