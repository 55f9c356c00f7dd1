//! Load outcomes written back into the source records (`write_back:` in
//! the mapping): queued in the state store with the batch's settlement, sent
//! to the source before or after the listing.

use serde_json::Value;

use crate::connector::{LoadItem, Source};
use crate::module::Module;
use crate::outcome::LoadResult;
use crate::state::StateStore;

use super::crash::crash_point;
use super::PipelineError;

/// The fields a load's outcome writes back into the source record.
pub(super) fn write_back_fields(
    spec: &crate::config::mapping::WriteBackSpec,
    item: &LoadItem,
    result: &LoadResult,
) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    let mut set = |name: &Option<String>, value: Value| {
        if let Some(name) = name {
            fields.insert(name.clone(), value);
        }
    };
    if result.ok {
        let status = if item.target_id.is_some() {
            "updated"
        } else {
            "created"
        };
        set(
            &spec.target_id,
            result
                .target_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        set(
            &spec.target_number,
            result
                .target_number
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        set(&spec.status, Value::String(status.into()));
        set(&spec.error, Value::String(String::new()));
    } else {
        let status = if result.refused { "refused" } else { "failed" };
        set(&spec.status, Value::String(status.into()));
        set(&spec.error, Value::String(result.messages.join("; ")));
    }
    set(
        &spec.time,
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    fields
}

/// Writes queued outcomes back into the source, 100 records a call; what the
/// source refuses stays queued and is tried again on the next run. Runs only
/// before or after the listing: writing back changes `Modified_Time`, which
/// would shift the pages of a listing sorted by it.
pub(super) async fn flush_write_backs(
    module: &Module,
    source: &mut dyn Source,
    state: &dyn StateStore,
) -> Result<(), PipelineError> {
    if module.write_back.is_none() || !source.supports_write_back() {
        return Ok(());
    }
    let pending = state.pending_write_backs(&module.name).await?;
    if pending.is_empty() {
        return Ok(());
    }
    for chunk in pending.chunks(100) {
        let updates: Vec<(String, serde_json::Map<String, Value>)> = chunk
            .iter()
            .map(|(id, fields)| (id.clone(), fields.as_object().cloned().unwrap_or_default()))
            .collect();
        match source.write_back(&module.source.module, &updates).await {
            Ok(results) => {
                crash_point("write-back");
                let finished: Vec<(String, Option<String>)> = updates
                    .iter()
                    .zip(results)
                    .map(|((id, _), result)| (id.clone(), result.err()))
                    .collect();
                state.finish_write_backs(&module.name, &finished).await?;
            }
            Err(err) => {
                tracing::warn!(module = %module.name, "write-back postponed: {err}");
                return Ok(());
            }
        }
    }
    Ok(())
}
