//! What processes sharing the SQLite file coordinate through: writer
//! leases, access tokens, schedule ticks, watch channels, rate budgets and
//! in-flight slots. Leases, budgets and slots are timed by this machine's
//! clock and taken under SQLite's write lock.

use std::time::Duration;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::SqliteStore;
use crate::state::codec::{
    channel_from, holder_text, ms_to_rfc3339, now_ms, parse_holder, parse_token, rate_wait,
    token_text, CHANNEL_COLUMNS,
};
use crate::state::lease::unique_token;
use crate::state::model::{LeaseGrant, LeaseHolder, StoredToken, WatchChannel};
use crate::state::{now, StateError};

/// Takes the lease `key` for `ttl` unless another holder's lease is still
/// running; an expired lease is taken over.
pub(super) fn acquire_lease(
    store: &SqliteStore,
    key: &str,
    holder: &LeaseHolder,
    ttl: Duration,
) -> Result<LeaseGrant, StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    let current: Option<(String, String, i64)> = tx
        .query_row(
            "SELECT token, holder, expires_ms FROM leases WHERE key = ?1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((token, text, expires)) = current {
        if token != holder.token && expires > now {
            return Ok(LeaseGrant::Held {
                holder: parse_holder(key, &text)?,
                expires_at: ms_to_rfc3339(expires),
            });
        }
    }
    tx.execute(
        "INSERT INTO leases (key, token, holder, expires_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET token = ?2, holder = ?3, expires_ms = ?4",
        params![
            key,
            holder.token,
            holder_text(holder),
            now + ttl.as_millis() as i64
        ],
    )?;
    tx.commit()?;
    Ok(LeaseGrant::Acquired)
}

/// Takes the lease from `previous` (a holder known to be gone), only if it
/// still holds it.
pub(super) fn take_over_lease(
    store: &SqliteStore,
    key: &str,
    previous: &str,
    holder: &LeaseHolder,
    ttl: Duration,
) -> Result<bool, StateError> {
    let changed = store.conn().execute(
        "UPDATE leases SET token = ?3, holder = ?4, expires_ms = ?5
         WHERE key = ?1 AND token = ?2",
        params![
            key,
            previous,
            holder.token,
            holder_text(holder),
            now_ms() + ttl.as_millis() as i64
        ],
    )?;
    Ok(changed == 1)
}

/// Extends the holder's lease; false when it was lost.
pub(super) fn renew_lease(
    store: &SqliteStore,
    key: &str,
    token: &str,
    ttl: Duration,
) -> Result<bool, StateError> {
    let changed = store.conn().execute(
        "UPDATE leases SET expires_ms = ?3 WHERE key = ?1 AND token = ?2",
        params![key, token, now_ms() + ttl.as_millis() as i64],
    )?;
    Ok(changed == 1)
}

/// Gives the lease up (nothing when the holder no longer has it).
pub(super) fn release_lease(store: &SqliteStore, key: &str, token: &str) -> Result<(), StateError> {
    store.conn().execute(
        "DELETE FROM leases WHERE key = ?1 AND token = ?2",
        params![key, token],
    )?;
    Ok(())
}

/// Who holds the lease `key` now, if anyone, and until when.
pub(super) fn lease(
    store: &SqliteStore,
    key: &str,
) -> Result<Option<(LeaseHolder, String)>, StateError> {
    let row: Option<(String, i64)> = store
        .conn()
        .query_row(
            "SELECT holder, expires_ms FROM leases WHERE key = ?1 AND expires_ms > ?2",
            params![key, now_ms()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(text, expires)| Ok((parse_holder(key, &text)?, ms_to_rfc3339(expires))))
        .transpose()
}

/// The stored token text under `key`.
fn token_text_of(conn: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT token FROM tokens WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()
}

/// The shared access token kept under `key`.
pub(super) fn token(store: &SqliteStore, key: &str) -> Result<Option<StoredToken>, StateError> {
    Ok(token_text_of(&store.conn(), key)?.and_then(|t| parse_token(&t)))
}

/// Keeps an access token under `key` for every process to reuse.
pub(super) fn save_token(
    store: &SqliteStore,
    key: &str,
    token: &StoredToken,
) -> Result<(), StateError> {
    store.conn().execute(
        "INSERT INTO tokens (key, token, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET token = ?2, updated_at = ?3",
        params![key, token_text(token), now()],
    )?;
    Ok(())
}

/// Forgets the token under `key` unless it is no longer `access_token`.
pub(super) fn drop_token(
    store: &SqliteStore,
    key: &str,
    access_token: &str,
) -> Result<(), StateError> {
    let conn = store.conn();
    let same = token_text_of(&conn, key)?
        .and_then(|t| parse_token(&t))
        .is_some_and(|t| t.access_token == access_token);
    if same {
        conn.execute("DELETE FROM tokens WHERE key = ?1", params![key])?;
    }
    Ok(())
}

/// Claims a schedule tick once across every process.
pub(super) fn claim_tick(store: &SqliteStore, key: &str, tick: &str) -> Result<bool, StateError> {
    let changed = store.conn().execute(
        "INSERT INTO ticks (key, tick) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET tick = ?2 WHERE ticks.tick < ?2",
        params![key, tick],
    )?;
    Ok(changed == 1)
}

/// The last tick claimed under `key`.
pub(super) fn last_tick(store: &SqliteStore, key: &str) -> Result<Option<String>, StateError> {
    Ok(store
        .conn()
        .query_row("SELECT tick FROM ticks WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Watch channels opened with the source.
pub(super) fn channels(store: &SqliteStore) -> Result<Vec<WatchChannel>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY module"
    ))?;
    let rows = stmt.query_map([], |r| channel_from(r))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Keeps (or replaces) a watch channel.
pub(super) fn save_channel(store: &SqliteStore, channel: &WatchChannel) -> Result<(), StateError> {
    store.conn().execute(
        "INSERT INTO channels (channel_id, module, token, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel_id) DO UPDATE SET module = ?2, token = ?3, expires_at = ?4",
        params![
            channel.channel_id,
            channel.module,
            channel.token,
            channel.expires_at
        ],
    )?;
    Ok(())
}

/// Forgets a watch channel.
pub(super) fn delete_channel(store: &SqliteStore, channel_id: &str) -> Result<(), StateError> {
    store.conn().execute(
        "DELETE FROM channels WHERE channel_id = ?1",
        params![channel_id],
    )?;
    Ok(())
}

/// Takes one call from the rate budget `key` (`limit` calls in any
/// `window`): `None` when taken, else how long to wait.
pub(super) fn take_rate(
    store: &SqliteStore,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>, StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    let window = window.as_millis() as i64;
    tx.execute(
        "DELETE FROM rate_calls WHERE key = ?1 AND at_ms <= ?2",
        params![key, now - window],
    )?;
    let (count, oldest): (i64, Option<i64>) = tx.query_row(
        "SELECT count(*), min(at_ms) FROM rate_calls WHERE key = ?1",
        params![key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if count >= i64::from(limit) {
        return Ok(Some(rate_wait(oldest, now, window)));
    }
    tx.execute(
        "INSERT INTO rate_calls (key, at_ms) VALUES (?1, ?2)",
        params![key, now],
    )?;
    tx.commit()?;
    Ok(None)
}

/// Takes one of `max` in-flight slots under `key` for at most `ttl`: a
/// slot token, or `None` while all are taken.
pub(super) fn take_slot(
    store: &SqliteStore,
    key: &str,
    max: u32,
    ttl: Duration,
) -> Result<Option<String>, StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    tx.execute(
        "DELETE FROM slots WHERE key = ?1 AND expires_ms <= ?2",
        params![key, now],
    )?;
    let taken: i64 = tx.query_row(
        "SELECT count(*) FROM slots WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )?;
    if taken >= i64::from(max) {
        return Ok(None);
    }
    let token = unique_token();
    tx.execute(
        "INSERT INTO slots (key, token, expires_ms) VALUES (?1, ?2, ?3)",
        params![key, token, now + ttl.as_millis() as i64],
    )?;
    tx.commit()?;
    Ok(Some(token))
}

/// Gives an in-flight slot back.
pub(super) fn release_slot(store: &SqliteStore, key: &str, token: &str) -> Result<(), StateError> {
    store.conn().execute(
        "DELETE FROM slots WHERE key = ?1 AND token = ?2",
        params![key, token],
    )?;
    Ok(())
}
