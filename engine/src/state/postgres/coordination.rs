//! What every process of every machine coordinates through in the
//! PostgreSQL store: writer leases, access tokens, schedule ticks, watch
//! channels, rate budgets and in-flight slots. Leases, budgets and slots
//! are timed by the database's clock and taken atomically.

use std::time::Duration;

use super::{all, millis, PostgresStore, LOCK, NOW_MS};
use crate::state::codec::{
    channel_from, holder_text, ms_to_rfc3339, parse_holder, parse_token, rate_wait, token_text,
    CHANNEL_COLUMNS,
};
use crate::state::lease::unique_token;
use crate::state::model::{LeaseGrant, LeaseHolder, StoredToken, WatchChannel};
use crate::state::{now, StateError};

/// Takes the lease `key` for `ttl` unless another holder's lease is
/// still running; an expired lease is taken over.
pub(super) async fn acquire_lease(
    store: &PostgresStore,
    key: &str,
    holder: &LeaseHolder,
    ttl: Duration,
) -> Result<LeaseGrant, StateError> {
    let text = holder_text(holder);
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    // The conflicting row is locked whether or not it is taken, so what
    // is read next is the holder that kept it.
    let taken = tx
        .query_opt(
            &format!(
                "INSERT INTO syncwright_leases (key, token, holder, expires_ms)
                 VALUES ($1, $2, $3, {NOW_MS} + $4)
                 ON CONFLICT (key) DO UPDATE SET token = excluded.token,
                    holder = excluded.holder, expires_ms = excluded.expires_ms
                 WHERE syncwright_leases.token = excluded.token
                    OR syncwright_leases.expires_ms <= {NOW_MS}
                 RETURNING 1"
            ),
            &[&key, &holder.token, &text, &millis(ttl)],
        )
        .await?;
    if taken.is_some() {
        tx.commit().await?;
        return Ok(LeaseGrant::Acquired);
    }
    let row = tx
        .query_one(
            "SELECT holder, expires_ms FROM syncwright_leases WHERE key = $1",
            &[&key],
        )
        .await?;
    tx.commit().await?;
    Ok(LeaseGrant::Held {
        holder: parse_holder(key, row.try_get(0)?)?,
        expires_at: ms_to_rfc3339(row.try_get(1)?),
    })
}

/// Takes the lease from `previous` (a holder known to be gone, such as
/// a dead process on this host), only if it still holds it.
pub(super) async fn take_over_lease(
    store: &PostgresStore,
    key: &str,
    previous: &str,
    holder: &LeaseHolder,
    ttl: Duration,
) -> Result<bool, StateError> {
    let changed = store
        .execute(
            &format!(
                "UPDATE syncwright_leases SET token = $3, holder = $4,
                    expires_ms = {NOW_MS} + $5
                 WHERE key = $1 AND token = $2"
            ),
            &[
                &key,
                &previous,
                &holder.token,
                &holder_text(holder),
                &millis(ttl),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Extends the holder's lease; false when it was lost.
pub(super) async fn renew_lease(
    store: &PostgresStore,
    key: &str,
    token: &str,
    ttl: Duration,
) -> Result<bool, StateError> {
    let changed = store
        .execute(
            &format!(
                "UPDATE syncwright_leases SET expires_ms = {NOW_MS} + $3
                 WHERE key = $1 AND token = $2"
            ),
            &[&key, &token, &millis(ttl)],
        )
        .await?;
    Ok(changed == 1)
}

/// Gives the lease up (nothing when the holder no longer has it).
pub(super) async fn release_lease(
    store: &PostgresStore,
    key: &str,
    token: &str,
) -> Result<(), StateError> {
    store
        .execute(
            "DELETE FROM syncwright_leases WHERE key = $1 AND token = $2",
            &[&key, &token],
        )
        .await?;
    Ok(())
}

/// Who holds the lease `key` now, if anyone.
pub(super) async fn lease(
    store: &PostgresStore,
    key: &str,
) -> Result<Option<(LeaseHolder, String)>, StateError> {
    let row = store
        .query_opt(
            &format!(
                "SELECT holder, expires_ms FROM syncwright_leases
                 WHERE key = $1 AND expires_ms > {NOW_MS}"
            ),
            &[&key],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some((
        parse_holder(key, row.try_get(0)?)?,
        ms_to_rfc3339(row.try_get(1)?),
    )))
}

/// The shared access token kept under `key`.
pub(super) async fn token(
    store: &PostgresStore,
    key: &str,
) -> Result<Option<StoredToken>, StateError> {
    let row = store
        .query_opt(
            "SELECT token FROM syncwright_tokens WHERE key = $1",
            &[&key],
        )
        .await?;
    Ok(row
        .map(|r| r.try_get::<_, String>(0))
        .transpose()?
        .and_then(|t| parse_token(&t)))
}

/// Keeps an access token under `key` for every process to reuse.
pub(super) async fn save_token(
    store: &PostgresStore,
    key: &str,
    token: &StoredToken,
) -> Result<(), StateError> {
    store
        .execute(
            "INSERT INTO syncwright_tokens (key, access_token, token, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET access_token = $2, token = $3, updated_at = $4",
            &[&key, &token.access_token, &token_text(token), &now()],
        )
        .await?;
    Ok(())
}

/// Forgets the token under `key` (after the system refused it), unless
/// another holder saved a newer one meanwhile.
pub(super) async fn drop_token(
    store: &PostgresStore,
    key: &str,
    access_token: &str,
) -> Result<(), StateError> {
    store
        .execute(
            "DELETE FROM syncwright_tokens WHERE key = $1 AND access_token = $2",
            &[&key, &access_token],
        )
        .await?;
    Ok(())
}

/// Claims a schedule tick once across every process: true for the
/// first claim of `tick` (or a later tick) under `key`.
pub(super) async fn claim_tick(
    store: &PostgresStore,
    key: &str,
    tick: &str,
) -> Result<bool, StateError> {
    let changed = store
        .execute(
            "INSERT INTO syncwright_ticks (key, tick) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET tick = excluded.tick
             WHERE syncwright_ticks.tick < excluded.tick",
            &[&key, &tick],
        )
        .await?;
    Ok(changed == 1)
}

/// The last tick claimed under `key`.
pub(super) async fn last_tick(
    store: &PostgresStore,
    key: &str,
) -> Result<Option<String>, StateError> {
    let row = store
        .query_opt("SELECT tick FROM syncwright_ticks WHERE key = $1", &[&key])
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Watch channels opened with the source.
pub(super) async fn channels(store: &PostgresStore) -> Result<Vec<WatchChannel>, StateError> {
    let rows = store
        .query(
            &format!(
                "SELECT {CHANNEL_COLUMNS} FROM syncwright_channels
                 WHERE project = $1 ORDER BY module, channel_id"
            ),
            &[&store.project],
        )
        .await?;
    Ok(all(&rows, channel_from)?)
}

/// Keeps (or replaces) a watch channel.
pub(super) async fn save_channel(
    store: &PostgresStore,
    channel: &WatchChannel,
) -> Result<(), StateError> {
    store
        .execute(
            "INSERT INTO syncwright_channels (project, channel_id, module, token, expires_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (project, channel_id) DO UPDATE SET module = $3, token = $4,
                expires_at = $5",
            &[
                &store.project,
                &channel.channel_id,
                &channel.module,
                &channel.token,
                &channel.expires_at,
            ],
        )
        .await?;
    Ok(())
}

/// Forgets a watch channel.
pub(super) async fn delete_channel(
    store: &PostgresStore,
    channel_id: &str,
) -> Result<(), StateError> {
    store
        .execute(
            "DELETE FROM syncwright_channels WHERE project = $1 AND channel_id = $2",
            &[&store.project, &channel_id],
        )
        .await?;
    Ok(())
}

/// Takes one call from the rate budget `key` (`limit` calls in any
/// `window`), shared by every process: `None` when taken, else how long
/// to wait before the budget has room.
pub(super) async fn take_rate(
    store: &PostgresStore,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>, StateError> {
    let window = millis(window);
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    tx.execute(LOCK, &[&format!("rate:{key}")]).await?;
    let now: i64 = tx
        .query_one(&format!("SELECT {NOW_MS}"), &[])
        .await?
        .try_get(0)?;
    tx.execute(
        "DELETE FROM syncwright_rate_calls WHERE key = $1 AND at_ms <= $2",
        &[&key, &(now - window)],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT count(*), min(at_ms) FROM syncwright_rate_calls WHERE key = $1",
            &[&key],
        )
        .await?;
    let (count, oldest): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
    if count >= i64::from(limit) {
        tx.commit().await?;
        return Ok(Some(rate_wait(oldest, now, window)));
    }
    tx.execute(
        "INSERT INTO syncwright_rate_calls (key, at_ms) VALUES ($1, $2)",
        &[&key, &now],
    )
    .await?;
    tx.commit().await?;
    Ok(None)
}

/// Takes one of `max` in-flight slots under `key` for at most `ttl`:
/// a slot token, or `None` while all are taken.
pub(super) async fn take_slot(
    store: &PostgresStore,
    key: &str,
    max: u32,
    ttl: Duration,
) -> Result<Option<String>, StateError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    tx.execute(LOCK, &[&format!("slot:{key}")]).await?;
    let now: i64 = tx
        .query_one(&format!("SELECT {NOW_MS}"), &[])
        .await?
        .try_get(0)?;
    tx.execute(
        "DELETE FROM syncwright_slots WHERE key = $1 AND expires_ms <= $2",
        &[&key, &now],
    )
    .await?;
    let taken: i64 = tx
        .query_one(
            "SELECT count(*) FROM syncwright_slots WHERE key = $1",
            &[&key],
        )
        .await?
        .try_get(0)?;
    if taken >= i64::from(max) {
        tx.commit().await?;
        return Ok(None);
    }
    let token = unique_token();
    tx.execute(
        "INSERT INTO syncwright_slots (key, token, expires_ms) VALUES ($1, $2, $3)",
        &[&key, &token, &(now + millis(ttl))],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Gives an in-flight slot back.
pub(super) async fn release_slot(
    store: &PostgresStore,
    key: &str,
    token: &str,
) -> Result<(), StateError> {
    store
        .execute(
            "DELETE FROM syncwright_slots WHERE key = $1 AND token = $2",
            &[&key, &token],
        )
        .await?;
    Ok(())
}
