//! Loading one batch exactly once: its intent is committed before the
//! request is sent, and closed, in one transaction, with the links and
//! failures the answer produced.

use std::collections::VecDeque;

use serde_json::Value;

use crate::connector::{ConnectorError, LoadItem, Sink};
use crate::module::Module;
use crate::outcome::LoadResult;
use crate::state::{now, payload_hash, Intent, Link, Settlement, StateStore};

use super::crash::crash_point;
use super::queue::Pending;
use super::two_way::TwoWayRun;
use super::write_back::{write_back_fields, Leftovers};
use super::{PipelineError, PipelineOptions};

/// The idempotency key of a batch, made when its intent is: the time (ms
/// since the epoch, so that a sink can tell when the target will have
/// forgotten it, and so that the same content sent again later is a new
/// request) and the batch's content. It is stored with the intent: a replay
/// carries the same key.
pub fn idempotency_key(module: &str, items: &[LoadItem], made_ms: i64) -> String {
    let content = serde_json::json!({
        "module": module,
        "items": items.iter().map(|i| serde_json::json!([i.source_id, i.target_id, i.payload])).collect::<Vec<_>>(),
    });
    format!("syncwright-{made_ms}-{module}-{}", payload_hash(&content))
}

/// What every batch of a module run is loaded with.
pub(super) struct Loader<'a> {
    /// The module.
    pub(super) module: &'a Module,
    /// The state store, where intents, links and write-backs go.
    pub(super) state: Option<&'a dyn StateStore>,
    /// The run's options.
    pub(super) options: &'a PipelineOptions,
    /// Write-backs the source has not taken yet, when the run writes back.
    pub(super) write_backs: Option<Leftovers>,
}

impl Loader<'_> {
    /// Loads the first `n` waiting outcomes of the queue as one batch; a
    /// two-way module's pair links are settled with it.
    pub(super) async fn load(
        &mut self,
        sink: &mut dyn Sink,
        queue: &mut VecDeque<Pending>,
        n: usize,
        two_way: Option<&mut TwoWayRun<'_>>,
    ) -> Result<(), PipelineError> {
        load_batch(
            self.module,
            sink,
            self.state,
            self.options,
            queue,
            n,
            self.write_backs.as_mut(),
            two_way,
        )
        .await
    }
}

/// Loads the first `n` waiting outcomes of the queue as one batch.
#[allow(clippy::too_many_arguments)]
async fn load_batch(
    module: &Module,
    sink: &mut dyn Sink,
    state: Option<&dyn StateStore>,
    options: &PipelineOptions,
    queue: &mut VecDeque<Pending>,
    n: usize,
    mut write_backs: Option<&mut Leftovers>,
    two_way: Option<&mut TwoWayRun<'_>>,
) -> Result<(), PipelineError> {
    let picked: Vec<usize> = queue
        .iter()
        .enumerate()
        .filter(|(_, p)| p.loads)
        .map(|(i, _)| i)
        .take(n)
        .collect();
    let items: Vec<LoadItem> = picked
        .iter()
        .map(|&i| LoadItem {
            source_id: queue[i].outcome.source_id.clone().unwrap_or_default(),
            payload: queue[i].outcome.payload.clone().unwrap_or(Value::Null),
            target_id: queue[i].target_id.clone(),
        })
        .collect();
    if options
        .stop
        .as_ref()
        .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    {
        // The run was stopped (the service stops, or another process holds
        // the module now): nothing more is sent.
        let reason = "not sent: the run stopped before this batch (the service is stopping, or \
                      another run took the module's writer lock); a later run sends it"
            .to_string();
        for &i in &picked {
            queue[i].outcome.load = Some(LoadResult::failed(vec![reason.clone()]));
            queue[i].loads = false;
        }
        return Ok(());
    }
    let hashes: Vec<String> = items.iter().map(|i| payload_hash(&i.payload)).collect();
    let key = idempotency_key(&module.name, &items, chrono::Utc::now().timestamp_millis());
    let intent_id = match state {
        Some(state) => Some(
            state
                .open_intent(&Intent {
                    id: 0,
                    module: module.name.clone(),
                    resource: module.target.resource.clone(),
                    idempotency_key: key.clone(),
                    source_ids: items.iter().map(|i| i.source_id.clone()).collect(),
                    payload_hashes: hashes.clone(),
                    body: Value::Array(items.iter().map(|i| i.payload.clone()).collect()),
                    created_at: now(),
                })
                .await?,
        ),
        None => None,
    };
    crash_point("before-send");
    let answer = sink
        .load(&module.target.resource, items.clone(), &key)
        .await;
    crash_point("after-answer");
    let results = match answer {
        Ok(results) => results,
        Err(ConnectorError::NotSent(reason)) => {
            // Nothing reached the target: the records failed, plainly, and
            // the intent closes.
            tracing::warn!(module = %module.name, "batch not sent: {reason}");
            let mut settled = Settlement::default();
            for (&i, item) in picked.iter().zip(&items) {
                settled.failures.push((
                    item.source_id.clone(),
                    format!("not sent: {reason}"),
                    Some(item.payload.clone()),
                ));
                queue[i].outcome.load =
                    Some(LoadResult::failed(vec![format!("not sent: {reason}")]));
                queue[i].loads = false;
            }
            if let Some(state) = state {
                state.settle(&module.name, intent_id, &settled).await?;
            }
            return Ok(());
        }
        Err(err) => {
            // The request may or may not have reached the target: the intent
            // stays open and the next run reconciles it before sending more.
            tracing::warn!(module = %module.name, "batch failed, intent kept for reconciliation: {err}");
            for &i in &picked {
                queue[i].outcome.load = Some(LoadResult::failed(vec![err.to_string()]));
                queue[i].loads = false;
            }
            return Ok(());
        }
    };
    // Everything the answer produced is recorded in one transaction.
    let mut settled = Settlement::default();
    let mut written: Vec<(String, String, Value)> = Vec::new();
    for ((&i, result), (item, hash)) in picked.iter().zip(results).zip(items.iter().zip(&hashes)) {
        if let (Some(spec), Some(leftovers)) = (&module.write_back, write_backs.as_deref_mut()) {
            let fields = write_back_fields(spec, item, &result);
            if !fields.is_empty() {
                let fields = leftovers.merged(&item.source_id, fields);
                settled.write_backs.push((item.source_id.clone(), fields));
            }
        }
        if let Some(state) = state {
            if result.ok {
                if let Some(target_id) = &result.target_id {
                    written.push((
                        item.source_id.clone(),
                        target_id.clone(),
                        item.payload.clone(),
                    ));
                    let verb = if item.target_id.is_some() {
                        "updated"
                    } else {
                        "created"
                    };
                    settled.links.push(Link {
                        module: module.name.clone(),
                        source_id: item.source_id.clone(),
                        target_id: target_id.clone(),
                        target_number: result.target_number.clone(),
                        payload_hash: hash.clone(),
                        last_outcome: verb.into(),
                        updated_at: now(),
                        payload: Some(item.payload.clone()),
                        refused_hash: None,
                    });
                }
                settled.cleared.push(item.source_id.clone());
            } else if let (true, Some(mut link)) = (
                result.refused && item.target_id.is_some(),
                state.link(&module.name, &item.source_id).await?,
            ) {
                // The target keeps its state; so does the link, and this
                // change is not sent again until the record changes.
                link.refused_hash = Some(hash.clone());
                link.last_outcome = format!("refused: {}", result.messages.join("; "));
                link.updated_at = now();
                settled.links.push(link);
                settled.cleared.push(item.source_id.clone());
            } else {
                settled.failures.push((
                    item.source_id.clone(),
                    result.messages.join("; "),
                    Some(item.payload.clone()),
                ));
            }
        }
        queue[i].outcome.load = Some(result);
        queue[i].loads = false;
    }
    if let Some(two_way) = two_way {
        settled.pair_links = two_way.written(&written);
    }
    if let Some(state) = state {
        state.settle(&module.name, intent_id, &settled).await?;
    }
    crash_point("after-commit");
    Ok(())
}
