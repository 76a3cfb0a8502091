//! Regeneration: a token gets a new key, and its old key stops working.
//!
//! The new record lives in the new key's slot, the old one in the old key's slot and the index
//! entry in the project's slot, so a regeneration runs as ordered steps:
//!
//! 1. Claim the current record: `token_claim.lua` stores the new key hash in it as `successor`,
//!    with a lease. Step 4 deletes the record only for the holder of the claim, so of any number
//!    of concurrent regenerations one wins, and the others wait for it and then regenerate the
//!    key it issued.
//! 2. List the new key hash, only if the index entry is still the one this regeneration read
//!    (`index_advance.lua`). Else nothing was added, and the regeneration starts over.
//! 3. Write the new record, a copy of the old one.
//! 4. Delete the old record, only if the claim is still this regeneration's and the record has
//!    not changed since it was copied. From here on only the new key works.
//! 5. Unlist the old key hashes.
//!
//! Every record is listed from before it is written until after it is deleted, which keeps the
//! invariant of `tokens.rs` through a crash between any two steps. The exception is a deletion
//! of the token or its project that unlists the new hash before step 3: the regeneration then
//! finds its hash unlisted and deletes its record before it shows the key. A regeneration that
//! fails after step 2 deletes its own record, then unlists its own hash, and does not start
//! over. So a hash is listed at most once, and a request that unlists a hash it read earlier
//! cannot unlist a record written later under the same hash.
//!
//! A crashed regeneration leaves its claim behind, and the next regeneration of the token takes
//! it over once its lease has run out, then deletes the crashed one's record, if written. That
//! key was never shown, so the record authorized no one meanwhile.

use std::time::{Duration, Instant};

use super::{
    Deleted, Located, delete_record, delete_record_if, index_check, index_remove, locate, lookup,
    not_found, read_plan, unknown_status, write_record,
};
use crate::{
    domain::{KeyHash, TokenRecord, TokenStatus},
    store::{
        NewKey, NewToken, StoreError, StoreResult,
        redis::{keys::ProjectKeys, keys::TokenKeys, pool::Conn, reply, scripts},
    },
};

/// How long a claim lasts before another regeneration may take it over, in milliseconds. A
/// regeneration makes about ten Redis calls, so with the default command timeout of 500 ms it
/// finishes within the lease. One that does not, because it stalled or Redis is slower, may
/// lose the claim to another regeneration and then fails with [`StoreError::Conflict`].
const CLAIM_LEASE_MS: u64 = 10_000;

/// How long a regeneration keeps starting over while other requests regenerate or change the
/// same token, before it fails with [`StoreError::Conflict`].
const MAX_WAIT: Duration = Duration::from_secs(2);

/// The first pause before a regeneration looks at a claimed token again. Each further pause
/// doubles, up to [`MAX_CLAIM_POLL`].
const MIN_CLAIM_POLL: Duration = Duration::from_millis(2);

/// The maximum pause between two looks at a claimed token.
const MAX_CLAIM_POLL: Duration = Duration::from_millis(50);

/// The maximum number of times a regeneration starts over, a bound besides [`MAX_WAIT`].
const MAX_ATTEMPTS: usize = 200;

/// Gives a token a new key. With `only_if_expired`, leaves a token that is not expired alone.
pub async fn regenerate(
    conn: &Conn,
    project_id: &str,
    token_id: &str,
    key: &NewKey,
    now_ms: i64,
    only_if_expired: bool,
) -> StoreResult<Option<TokenRecord>> {
    let project = ProjectKeys::new(project_id);
    let started = Instant::now();
    let mut pause = MIN_CLAIM_POLL;

    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 && started.elapsed() >= MAX_WAIT {
            break;
        }
        let located = locate(conn, project_id, token_id).await?;
        if only_if_expired && located.record.effective_status(now_ms) != TokenStatus::Expired {
            return Ok(None);
        }

        // Step 1.
        let modified_at_ms = Some(located.record.modified_at_ms);
        match claim(
            conn,
            located.hash,
            token_id,
            modified_at_ms,
            key.hash,
            CLAIM_LEASE_MS,
        )
        .await?
        {
            Claim::Held => {}
            Claim::Busy => {
                tokio::time::sleep(jittered(pause)).await;
                pause = (pause * 2).min(MAX_CLAIM_POLL);
                continue;
            }
            // Replaced, deleted or changed since it was located: look again.
            Claim::Missing | Claim::Changed => continue,
        }

        // Records that interrupted regenerations left can no longer replace the claimed one:
        // their claims were taken over, or the records they would replace are gone.
        for leftover in &located.leftovers {
            delete_record(conn, *leftover, token_id, None).await?;
        }

        // Step 2.
        match index_advance(conn, &project, token_id, &located.entry, key.hash).await? {
            Advance::Added { account_id } => {
                let new_token = new_token(&located, key, now_ms);
                return replace(conn, &project, &located, new_token, &account_id).await;
            }
            Advance::Changed => release(conn, located.hash, token_id, key.hash).await?,
            Advance::Missing => {
                release(conn, located.hash, token_id, key.hash).await?;
                return Err(not_found("project", project_id));
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "token {token_id} kept being regenerated or changed by other requests while this \
         request waited; retry the request"
    )))
}

/// Runs steps 3 to 5 once the new key hash is listed.
async fn replace(
    conn: &Conn,
    project: &ProjectKeys,
    located: &Located,
    new_token: NewToken,
    account_id: &str,
) -> StoreResult<Option<TokenRecord>> {
    let project_id = &new_token.record.project_id;
    let token_id = &new_token.record.token_id;
    let new_hash = new_token.key_hash;

    // Step 3.
    let plan = read_plan(conn, account_id).await?;
    write_record(conn, &new_token, account_id, plan).await?;

    // Step 4.
    // NOTE: the check compares modification times in milliseconds, so an update stamped with
    // the same millisecond as the copied record does not stop the deletion, and is lost.
    let deleted = delete_record_if(
        conn,
        located.hash,
        token_id,
        Some(located.record.modified_at_ms),
        Some(new_hash),
    )
    .await?;
    if deleted != Deleted::Yes {
        // The record changed, was deleted, or another regeneration took the claim over. Undo
        // steps 3 and 2 in that order, so the new record is never unlisted, then let the next
        // regeneration claim the record at once.
        delete_record(conn, new_hash, token_id, None).await?;
        index_remove(conn, project, token_id, &[new_hash]).await?;
        release(conn, located.hash, token_id, new_hash).await?;
        lookup(conn, project, project_id, token_id).await?;
        return Err(StoreError::Conflict(format!(
            "token {token_id} was changed by another request while it was being regenerated; \
             retry the request"
        )));
    }

    // Step 5. Every old record is gone, so unlisting their hashes cannot hide one.
    index_remove(conn, project, token_id, &located.hashes).await?;

    // A deletion of the token or its project that read the index before step 3 has unlisted
    // the new hash without deleting the new record, so this request deletes it. Its key has
    // not been shown yet.
    if !index_check(conn, project, token_id, new_hash, "").await? {
        delete_record(conn, new_hash, token_id, None).await?;
        // Unless the token is gone, a later regeneration replaced this one's record and
        // unlisted it: this one finished first, and its key was replaced already.
        lookup(conn, project, project_id, token_id).await?;
    }
    Ok(Some(new_token.record))
}

/// Builds the new record: the old one with a new key, enabled, without expiry, created now.
fn new_token(located: &Located, key: &NewKey, now_ms: i64) -> NewToken {
    let mut record = located.record.clone();
    record.status = TokenStatus::Enabled;
    record.expires_at_ms = None;
    record.created_at_ms = now_ms;
    record.modified_at_ms = now_ms;
    record.key_hint.clone_from(&key.hint);
    NewToken {
        record,
        key_hash: key.hash,
    }
}

/// Returns `pause` plus up to as much again at random, so that waiting regenerations spread out.
fn jittered(pause: Duration) -> Duration {
    let max_extra = u64::try_from(pause.as_micros()).unwrap_or(u64::MAX).max(1);
    // Without randomness the pause is only less spread out, so a failure is not an error.
    let extra = getrandom::u64().map_or(0, |random| random % max_extra);
    pause + Duration::from_micros(extra)
}

/// The result of [`claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// This regeneration owns the claim.
    Held,
    /// Another regeneration holds a claim whose lease has not run out.
    Busy,
    /// There is no record of the token under the key hash.
    Missing,
    /// The record's modification time differs from the expected one.
    Changed,
}

/// Claims the record of `hash` for the regeneration whose new key hash is `successor`, for
/// `lease_ms` milliseconds. With `expected_modified_at_ms`, only if the record has not changed.
async fn claim(
    conn: &Conn,
    hash: KeyHash,
    token_id: &str,
    expected_modified_at_ms: Option<i64>,
    successor: KeyHash,
    lease_ms: u64,
) -> StoreResult<Claim> {
    let keys = TokenKeys::new(hash);
    let mut invocation = scripts::TOKEN_CLAIM.prepare_invoke();
    invocation
        .key(&keys.record)
        .arg(token_id)
        .arg(
            expected_modified_at_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        )
        .arg(successor.to_hex())
        .arg(lease_ms);
    let (status, _) = reply::status_and_rest(conn.invoke(&invocation).await?, "token_claim.lua")?;
    match status.as_str() {
        "ok" => Ok(Claim::Held),
        "busy" => Ok(Claim::Busy),
        "missing" => Ok(Claim::Missing),
        "changed" => Ok(Claim::Changed),
        other => Err(unknown_status("token_claim.lua", other)),
    }
}

/// Ends the lease of `successor`'s claim on the record of `hash`, if it still holds it, so the
/// next regeneration need not wait for the lease to run out.
async fn release(
    conn: &Conn,
    hash: KeyHash,
    token_id: &str,
    successor: KeyHash,
) -> StoreResult<()> {
    claim(conn, hash, token_id, None, successor, 0)
        .await
        .map(drop)
}

/// The result of [`index_advance`].
#[derive(Debug)]
enum Advance {
    /// The new key hash is listed; the project belongs to this account.
    Added {
        /// The project's account.
        account_id: String,
    },
    /// The index entry is no longer the one read; nothing was added.
    Changed,
    /// The project does not exist or is not complete.
    Missing,
}

/// Appends `hash` to a token's index entry, only if the entry is still `entry`.
async fn index_advance(
    conn: &Conn,
    project: &ProjectKeys,
    token_id: &str,
    entry: &str,
    hash: KeyHash,
) -> StoreResult<Advance> {
    let mut invocation = scripts::INDEX_ADVANCE.prepare_invoke();
    invocation
        .key(&project.record)
        .key(&project.tokens)
        .arg(token_id)
        .arg(entry)
        .arg(hash.to_hex());
    let (status, items) =
        reply::status_and_rest(conn.invoke(&invocation).await?, "index_advance.lua")?;
    match status.as_str() {
        "ok" => {
            let account_id = items.first().ok_or_else(|| {
                StoreError::Corrupt("index_advance.lua returned no account id".to_owned())
            })?;
            Ok(Advance::Added {
                account_id: reply::text(account_id, "index_advance.lua")?,
            })
        }
        "changed" => Ok(Advance::Changed),
        "missing" => Ok(Advance::Missing),
        other => Err(unknown_status("index_advance.lua", other)),
    }
}
