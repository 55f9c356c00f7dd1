//! Zoho CRM watch channels: one per watched module, opened when the service
//! starts (`POST /crm/v8/actions/watch`, notify URL `public_url`/hooks/zoho,
//! a random token), renewed before it expires, and closed when the service
//! stops. Each channel is kept in the state store, so a restart renews the
//! channels it had rather than opening more.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use reqwest::Method;
use serde_json::json;
use syncwright_connectors::zoho_crm::{ZohoClient, ZohoConfig};
use syncwright_engine::state::WatchChannel;

use crate::service::ServiceState;

/// The channels open now, by channel id.
#[derive(Debug, Default)]
pub struct Channels {
    open: Mutex<BTreeMap<String, WatchChannel>>,
}

impl Channels {
    /// The module of channel `id` when `token` is its token (compared in
    /// constant time).
    pub fn verify(&self, id: &str, token: &str) -> Option<String> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let channel = open.get(id)?;
        crate::auth::same_secret(token.as_bytes(), channel.token.as_bytes())
            .then(|| channel.module.clone())
    }

    /// Every channel open now.
    pub fn all(&self) -> Vec<WatchChannel> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn keep(&self, channel: WatchChannel) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel.channel_id.clone(), channel);
    }

    fn forget(&self, id: &str) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// The project modules watched: those named, or every module read from a
/// Zoho CRM connection.
pub fn watched(state: &ServiceState) -> Vec<String> {
    state
        .project
        .modules
        .iter()
        .filter(|m| {
            let names = &state.config.notifications.modules;
            names.is_empty() || names.contains(&m.name)
        })
        .filter(|m| {
            state
                .project
                .connections
                .get(&m.source.connection)
                .is_some_and(|c| c.kind == "zoho_crm")
        })
        .map(|m| m.name.clone())
        .collect()
}

/// A Zoho client of `module`'s source connection, sharing the store's token.
fn client_of(state: &ServiceState, module: &str) -> Result<ZohoClient, String> {
    let module = state
        .project
        .module(module)
        .ok_or_else(|| format!("no module {module}"))?;
    let connection = state
        .project
        .connections
        .get(&module.source.connection)
        .ok_or_else(|| format!("no connection {}", module.source.connection))?;
    let config: ZohoConfig = serde_json::from_value(connection.options.clone())
        .map_err(|e| format!("connection `{}`: {e}", connection.name))?;
    ZohoClient::new(config, Some(state.store.clone()))
}

/// Opens (or renews) a channel for every watched module.
pub async fn open(state: &Arc<ServiceState>) {
    let kept = match state.store.channels().await {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!("cannot read the watch channels kept: {e}");
            Vec::new()
        }
    };
    for module in watched(state) {
        let previous = kept.iter().find(|c| c.module == module).cloned();
        match open_one(state, &module, previous).await {
            Ok(channel) => tracing::info!(
                "Zoho notifications of {module} come through channel {} until {}",
                channel.channel_id,
                channel.expires_at
            ),
            Err(e) => tracing::warn!("Zoho notifications of {module} are off: {e}"),
        }
    }
}

/// Renews `previous` when Zoho still has it, else opens a new channel.
async fn open_one(
    state: &ServiceState,
    module: &str,
    previous: Option<WatchChannel>,
) -> Result<WatchChannel, String> {
    let client = client_of(state, module)?;
    if let Some(previous) = previous {
        if let Ok(channel) = renew(state, &client, &previous).await {
            return Ok(channel);
        }
        let _ = state.store.delete_channel(&previous.channel_id).await;
    }
    let source_module = state
        .project
        .module(module)
        .map(|m| m.source.module.clone())
        .unwrap_or_default();
    let channel = WatchChannel {
        channel_id: rand::thread_rng()
            .gen_range(1_000_000_000_000u64..9_999_999_999_999u64)
            .to_string(),
        module: module.to_string(),
        token: crate::auth::random_secret(40),
        expires_at: expiry(state),
    };
    let body = json!({"watch": [{
        "channel_id": channel.channel_id,
        "events": [format!("{source_module}.all")],
        "channel_expiry": channel.expires_at,
        "token": channel.token,
        "notify_url": format!("{}/hooks/zoho", state.public_url),
    }]});
    let (status, answer) = client
        .call(Method::POST, "actions/watch", &[], &[], Some(&body))
        .await?;
    if !status.is_success() || answer["watch"][0]["status"] != "success" {
        return Err(format!("Zoho refused the channel: HTTP {status} {answer}"));
    }
    state
        .store
        .save_channel(&channel)
        .await
        .map_err(|e| e.to_string())?;
    state.channels.keep(channel.clone());
    Ok(channel)
}

/// Moves a channel's expiry on (and its notify URL to this service's).
async fn renew(
    state: &ServiceState,
    client: &ZohoClient,
    channel: &WatchChannel,
) -> Result<WatchChannel, String> {
    let renewed = WatchChannel {
        expires_at: expiry(state),
        ..channel.clone()
    };
    let body = json!({"watch": [{
        "channel_id": renewed.channel_id,
        "channel_expiry": renewed.expires_at,
        "token": renewed.token,
        "notify_url": format!("{}/hooks/zoho", state.public_url),
    }]});
    let (status, answer) = client
        .call(Method::PATCH, "actions/watch", &[], &[], Some(&body))
        .await?;
    if !status.is_success() || answer["watch"][0]["status"] != "success" {
        return Err(format!("Zoho did not renew the channel: HTTP {status}"));
    }
    state
        .store
        .save_channel(&renewed)
        .await
        .map_err(|e| e.to_string())?;
    state.channels.keep(renewed.clone());
    Ok(renewed)
}

/// A new channel's expiry, as Zoho writes times.
fn expiry(state: &ServiceState) -> String {
    let lasts = chrono::Duration::from_std(state.config.notifications.channel_expiry)
        .unwrap_or(chrono::Duration::days(1));
    (Utc::now() + lasts).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Renews each channel when three quarters of its life are gone.
pub fn keep_open(state: Arc<ServiceState>) -> tokio::task::JoinHandle<()> {
    let span = state.span();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let lasts = state.config.notifications.channel_expiry;
            loop {
                let soonest = state
                    .channels
                    .all()
                    .iter()
                    .filter_map(|c| DateTime::parse_from_rfc3339(&c.expires_at).ok())
                    .map(|t| t.to_utc())
                    .min();
                let renew_at = match soonest {
                    Some(t) => t - chrono::Duration::from_std(lasts / 4).unwrap_or_default(),
                    None => return,
                };
                let wait = (renew_at - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_secs(1));
                tokio::time::sleep(wait).await;
                for channel in state.channels.all() {
                    let due = DateTime::parse_from_rfc3339(&channel.expires_at)
                        .map(|t| t.to_utc() <= renew_at + chrono::Duration::seconds(1))
                        .unwrap_or(true);
                    if !due {
                        continue;
                    }
                    let renewed = match client_of(&state, &channel.module) {
                        Ok(client) => renew(&state, &client, &channel).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = renewed {
                        tracing::warn!(
                            "channel of {} not renewed: {e}; opening another",
                            channel.module
                        );
                        state.channels.forget(&channel.channel_id);
                        if let Err(e) = open_one(&state, &channel.module, None).await {
                            tracing::warn!("Zoho notifications of {} are off: {e}", channel.module);
                        }
                    }
                }
            }
        },
        span,
    ))
}

/// Closes every channel with Zoho and forgets it.
pub async fn close(state: &ServiceState) {
    for channel in state.channels.all() {
        let closed = match client_of(state, &channel.module) {
            Ok(client) => client
                .call(
                    Method::DELETE,
                    "actions/watch",
                    &[("channel_ids", channel.channel_id.clone())],
                    &[],
                    None,
                )
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = closed {
            tracing::warn!("channel {} not closed: {e}", channel.channel_id);
        }
        let _ = state.store.delete_channel(&channel.channel_id).await;
        state.channels.forget(&channel.channel_id);
    }
}
