//! Intents a run that died left open, settled before anything new is sent.

use serde_json::Value;

use crate::connector::{ConnectorError, FindPurpose, LoadItem, Sink};
use crate::module::Module;
use crate::outcome::LoadResult;
use crate::state::{now, Failure, Intent, Link, Settlement, StateStore};

use super::crash::crash_point;
use super::write_back::write_back_fields;
use super::PipelineError;

/// How long after a request its idempotency key may be replayed: Xero
/// remembers keys for about six minutes, and a replay may first have to
/// read the organisation's contacts; past that a replay could be a new
/// request (the Xero client also refuses to send a key that old).
const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(4);

/// Settles intents a dead run left open, before anything new is sent.
///
/// - Updates are left to this run: the link still holds the last state the
///   target accepted, so the record is compared and sent again (the same
///   content twice is harmless).
/// - Creates the target already holds (found by the sink, which checks that
///   the record it finds is this one) are linked, never created again.
/// - When the sink cannot look creates up, a young intent is replayed with
///   its own idempotency key (the target answers the first request again or
///   runs it once); an older one holds its records back as unsettled, for
///   people to check: never created twice.
pub(super) async fn reconcile(
    module: &Module,
    sink: &mut dyn Sink,
    state: &dyn StateStore,
    writes_back: bool,
) -> Result<(), PipelineError> {
    for intent in state.open_intents(&module.name).await? {
        let payloads = intent.body.as_array().cloned().unwrap_or_default();
        let mut items = Vec::with_capacity(payloads.len());
        for (id, payload) in intent.source_ids.iter().zip(payloads) {
            let mut target_id = state.link(&module.name, id).await?.map(|l| l.target_id);
            if let (None, Some(half)) = (&target_id, &module.two_way) {
                // A record the other module of its pair made is linked there.
                let orgs = half.side.orient(&state.bound(&module.name));
                let found = state
                    .pair_links_of(&orgs, &half.pair, half.side, std::slice::from_ref(id))
                    .await?;
                target_id = found.get(id).map(|l| l.side(half.side.other()).id.clone());
            }
            items.push(LoadItem {
                source_id: id.clone(),
                target_id,
                payload,
            });
        }
        let creates: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].target_id.is_none())
            .collect();
        // What the target holds of each item, when known; all the intent
        // settles into is recorded at once.
        let mut held: Vec<Option<LoadResult>> = vec![None; items.len()];
        let mut settled = Settlement::default();
        let mut unsettled: Vec<usize> = Vec::new();
        if !creates.is_empty() {
            let wanted: Vec<LoadItem> = creates.iter().map(|&i| items[i].clone()).collect();
            match sink
                .find_existing(&intent.resource, &wanted, FindPurpose::Resume)
                .await?
            {
                Some(found) => {
                    for (&i, result) in creates.iter().zip(found) {
                        match result {
                            Some(r) if r.ok => held[i] = Some(r),
                            Some(r) => settled.failures.push((
                                items[i].source_id.clone(),
                                r.messages.join("; "),
                                Some(items[i].payload.clone()),
                            )),
                            None => {}
                        }
                    }
                }
                None if intent_age(&intent) < REPLAY_WINDOW => {
                    match sink
                        .load(&intent.resource, items.clone(), &intent.idempotency_key)
                        .await
                    {
                        Ok(results) => {
                            for (i, result) in results.into_iter().enumerate() {
                                if result.ok {
                                    held[i] = Some(result);
                                }
                            }
                        }
                        // Too late to replay safely after all: held, as below.
                        Err(ConnectorError::NotSent(_)) => unsettled = creates.clone(),
                        Err(e) => return Err(e.into()),
                    }
                }
                None => unsettled = creates.clone(),
            }
        }
        crash_point("reconcile");
        for (i, result) in held.into_iter().enumerate() {
            let Some(result) = result else { continue };
            let item = &items[i];
            let Some(target_id) = result.target_id.clone() else {
                continue;
            };
            // A target record another source record is linked to is not this one's.
            if let Some(other) = state
                .link_to(&module.name, &target_id)
                .await?
                .filter(|l| l.source_id != item.source_id)
            {
                settled.failures.push((
                    item.source_id.clone(),
                    format!(
                        "conflict: the target's {} is already linked to record {}",
                        result.target_number.as_deref().unwrap_or(&target_id),
                        other.source_id
                    ),
                    Some(item.payload.clone()),
                ));
                continue;
            }
            if let (Some(spec), true) = (&module.write_back, writes_back) {
                let fields = write_back_fields(spec, item, &result);
                settled
                    .write_backs
                    .push((item.source_id.clone(), Value::Object(fields)));
            }
            settled.cleared.push(item.source_id.clone());
            settled.links.push(Link {
                module: module.name.clone(),
                source_id: item.source_id.clone(),
                target_id,
                target_number: result.target_number,
                payload_hash: intent.payload_hashes.get(i).cloned().unwrap_or_default(),
                last_outcome: "reconciled".into(),
                updated_at: now(),
                payload: Some(item.payload.clone()),
                refused_hash: None,
            });
        }
        for &i in &unsettled {
            settled.failures.push((
                items[i].source_id.clone(),
                format!(
                    "{}a create sent at {} was interrupted, and {} cannot look the record up",
                    Failure::UNSETTLED,
                    intent.created_at,
                    sink.describe()
                ),
                Some(items[i].payload.clone()),
            ));
        }
        tracing::info!(
            module = %module.name,
            adopted = settled.links.len(),
            unsettled = unsettled.len(),
            of = items.len(),
            "reconciled an interrupted batch"
        );
        state
            .settle(&module.name, Some(intent.id), &settled)
            .await?;
    }
    Ok(())
}

/// How long ago the intent was made (forever when its time cannot be read).
fn intent_age(intent: &Intent) -> chrono::Duration {
    chrono::DateTime::parse_from_rfc3339(&intent.created_at)
        .map(|t| chrono::Utc::now().signed_duration_since(t))
        .unwrap_or(chrono::Duration::MAX)
}
