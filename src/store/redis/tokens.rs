//! Token operations. A token's record lives in its key's slot and its index entry in its
//! project's slot, so operations that touch both run as ordered steps, one script per slot.
//!
//! The order keeps one invariant through a crash between any two steps: every token record that
//! exists is listed in its project's index, so a token that authorizes can always be listed and
//! deleted. Writes therefore list a key hash before its record exists and unlist it only after
//! its record is gone. A crash can leave the reverse: an index entry without a record, which
//! reads skip and a later delete removes, or a record whose key was never shown to anyone, which
//! authorizes no one.
//!
//! While a regeneration runs, the index lists two key hashes for the token, and the old record
//! names the new key hash as its `successor` (see `regenerate.rs`). Reads take the record that
//! names a successor, so they show the token as it is until the regeneration replaces it.

use futures::future::try_join_all;
use redis::Value;

use super::{
    keys::{ProjectKeys, TokenKeys},
    pool::Conn,
    projects::read_plan,
    record, reply, scripts,
};
use crate::{
    domain::{KeyHash, TokenPatch, TokenRecord},
    store::{ListQuery, NewToken, StoreError, StoreResult, TokenPage},
};

mod regenerate;

pub use regenerate::regenerate;

/// How many times an operation starts over when a concurrent regeneration or deletion replaced
/// the record it located.
const ATTEMPTS: usize = 3;

/// The maximum number of token ids read from the index in one call.
const MAX_PAGE_BATCH: usize = 256;

/// A token found through its project's index.
#[derive(Debug)]
pub struct Located {
    /// The hash of the key whose record was read.
    pub hash: KeyHash,
    /// The token's current record (see [`current_of`]).
    pub record: TokenRecord,
    /// Every key hash the index lists for the token.
    pub hashes: Vec<KeyHash>,
    /// The index entry as stored: `hashes`, space-separated.
    pub entry: String,
    /// The hashes of the token's other records, which interrupted regenerations left behind.
    pub leftovers: Vec<KeyHash>,
}

/// Creates a token in its project.
pub async fn create(conn: &Conn, token: &NewToken) -> StoreResult<()> {
    let project_id = &token.record.project_id;
    let token_id = &token.record.token_id;
    let project = ProjectKeys::new(project_id);

    // The index entry first, so the record is listed from the moment it exists.
    let account_id = match index_add(conn, &project, token_id, token.key_hash, "").await? {
        IndexAdd::Added { account_id } => account_id,
        IndexAdd::Missing | IndexAdd::Lost => return Err(not_found("project", project_id)),
    };
    let plan = read_plan(conn, &account_id).await?;
    write_record(conn, token, &account_id, plan).await?;

    // A deletion of the project that began meanwhile read the index before the record existed,
    // so it cannot remove the record and this step does. Its key has not been shown yet.
    if !index_check(conn, &project, token_id, token.key_hash, "").await? {
        delete_record(conn, token.key_hash, token_id, None).await?;
        return Err(not_found("project", project_id));
    }
    Ok(())
}

/// Reads a token.
pub async fn get(conn: &Conn, project_id: &str, token_id: &str) -> StoreResult<TokenRecord> {
    Ok(locate(conn, project_id, token_id).await?.record)
}

/// Lists one page of a project's tokens, reading index batches until the page is full or the
/// ids run out.
pub async fn list(conn: &Conn, query: ListQuery<'_>) -> StoreResult<TokenPage> {
    let project = ProjectKeys::new(query.project_id);
    let limit = query.limit.max(1);
    let mut page = TokenPage::default();
    let mut after = query.after.unwrap_or("").to_owned();

    loop {
        // A status filter may skip many tokens, so it reads larger batches.
        let wanted = limit - page.tokens.len();
        let batch = if query.status.is_some() {
            wanted.max(32)
        } else {
            wanted
        }
        .min(MAX_PAGE_BATCH);
        let mut invocation = scripts::INDEX_PAGE.prepare_invoke();
        invocation
            .key(&project.record)
            .key(&project.tokens)
            .key(&project.order)
            .arg(&after)
            .arg(batch);
        let (status, items) =
            reply::status_and_rest(conn.invoke(&invocation).await?, "index_page.lua")?;
        if status == "missing" {
            return Err(not_found("project", query.project_id));
        }
        let Some((more, entries)) = items.split_first() else {
            return Err(StoreError::Corrupt(
                "index_page.lua returned no more flag".to_owned(),
            ));
        };
        let more = reply::flag(more, "index_page.lua")?;
        if !entries.len().is_multiple_of(2) {
            return Err(StoreError::Corrupt(
                "index_page.lua returned an odd number of items".to_owned(),
            ));
        }

        let entries = entries
            .chunks_exact(2)
            .map(|pair| {
                let token_id = reply::text(&pair[0], "index_page.lua")?;
                let hashes = record::parse_hashes(&reply::text(&pair[1], "index_page.lua")?)?;
                Ok((token_id, hashes))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let records = try_join_all(
            entries
                .iter()
                .map(|(token_id, hashes)| listed_record(conn, query.project_id, token_id, hashes)),
        )
        .await?;

        for (index, ((token_id, _), found)) in entries.iter().zip(records).enumerate() {
            // An entry whose record is missing was left by a crash, and a later delete removes it.
            let Some(record) = found else {
                continue;
            };
            if query
                .status
                .is_some_and(|status| record.effective_status(query.now_ms) != status)
            {
                continue;
            }
            page.tokens.push(record);
            if page.tokens.len() >= limit {
                if index + 1 < entries.len() || more {
                    page.next_after = Some(token_id.clone());
                }
                return Ok(page);
            }
        }

        match entries.last() {
            Some((last, _)) if more => after.clone_from(last),
            _ => return Ok(page),
        }
    }
}

/// Applies a patch to a token unless the token is expired at `now_ms`.
pub async fn update(
    conn: &Conn,
    project_id: &str,
    token_id: &str,
    patch: &TokenPatch,
    now_ms: i64,
) -> StoreResult<TokenRecord> {
    for _ in 0..ATTEMPTS {
        let located = locate(conn, project_id, token_id).await?;
        let keys = TokenKeys::new(located.hash);
        let mut invocation = scripts::TOKEN_UPDATE.prepare_invoke();
        invocation
            .key(&keys.record)
            .key(&keys.user_window)
            .arg(now_ms)
            .arg(token_id);
        for (field, value) in record::patch_fields(patch) {
            invocation.arg(field).arg(value);
        }

        let (status, items) =
            reply::status_and_rest(conn.invoke(&invocation).await?, "token_update.lua")?;
        match status.as_str() {
            "ok" => return record::parse_token(&reply::fields_of(&items, "token_update.lua")?),
            "expired" => return Err(expired(token_id)),
            // Regenerated or deleted since it was located: look it up again.
            "missing" => continue,
            other => return Err(unknown_status("token_update.lua", other)),
        }
    }
    Err(changed_concurrently(token_id))
}

/// Sets a token's status to expired.
pub async fn expire(
    conn: &Conn,
    project_id: &str,
    token_id: &str,
    now_ms: i64,
) -> StoreResult<TokenRecord> {
    for _ in 0..ATTEMPTS {
        let located = locate(conn, project_id, token_id).await?;
        let keys = TokenKeys::new(located.hash);
        let mut invocation = scripts::TOKEN_EXPIRE.prepare_invoke();
        invocation.key(&keys.record).arg(now_ms).arg(token_id);

        let (status, items) =
            reply::status_and_rest(conn.invoke(&invocation).await?, "token_expire.lua")?;
        match status.as_str() {
            "ok" => return record::parse_token(&reply::fields_of(&items, "token_expire.lua")?),
            "missing" => continue,
            other => return Err(unknown_status("token_expire.lua", other)),
        }
    }
    Err(changed_concurrently(token_id))
}

/// Deletes a token: every record its index entry lists, then the entry.
pub async fn delete(conn: &Conn, project_id: &str, token_id: &str) -> StoreResult<()> {
    let project = ProjectKeys::new(project_id);
    for attempt in 0..ATTEMPTS {
        let hashes = match lookup(conn, &project, project_id, token_id).await {
            Ok(hashes) => hashes,
            // A later attempt finds the token gone, or its project being deleted: done.
            Err(StoreError::NotFound { .. }) if attempt > 0 => return Ok(()),
            Err(error) => return Err(error),
        };

        // Records first, the index entry last: after a crash in between the token is still
        // listed, so deleting it again finishes the job.
        try_join_all(
            hashes
                .iter()
                .map(|hash| delete_record(conn, *hash, token_id, None)),
        )
        .await?;
        // A hash the entry still lists was added by a regeneration after the lookup, and its
        // record may replace the ones just deleted, so the token is looked up again.
        if index_remove(conn, &project, token_id, &hashes).await? == 0 {
            return Ok(());
        }
    }
    Err(changed_concurrently(token_id))
}

/// Finds a token through its project's index and reads its current record.
pub async fn locate(conn: &Conn, project_id: &str, token_id: &str) -> StoreResult<Located> {
    let project = ProjectKeys::new(project_id);
    for _ in 0..ATTEMPTS {
        let entry = lookup_entry(conn, &project, project_id, token_id).await?;
        let hashes = record::parse_hashes(&entry)?;
        if hashes.is_empty() {
            return Err(not_found("token", token_id));
        }

        // The records live in other slots and are read one by one, so a regeneration that
        // replaces a record between two reads can make one pass miss them all. A second pass
        // sees the new record unless yet another regeneration replaced it, which changes the
        // entry.
        for _pass in 0..2 {
            let records = read_records(conn, project_id, token_id, &hashes).await?;
            if let Some((current, leftovers)) = current_of(records) {
                return Ok(Located {
                    hash: current.hash,
                    record: current.record,
                    hashes,
                    entry,
                    leftovers,
                });
            }
        }
        // An unchanged entry without records was left by a deletion that has not finished.
        if lookup_entry(conn, &project, project_id, token_id).await? == entry {
            return Err(not_found("token", token_id));
        }
    }
    Err(changed_concurrently(token_id))
}

/// Reads the key hashes the index lists for a token, or fails with [`StoreError::NotFound`]
/// when it lists none.
async fn lookup(
    conn: &Conn,
    project: &ProjectKeys,
    project_id: &str,
    token_id: &str,
) -> StoreResult<Vec<KeyHash>> {
    let hashes = record::parse_hashes(&lookup_entry(conn, project, project_id, token_id).await?)?;
    if hashes.is_empty() {
        return Err(not_found("token", token_id));
    }
    Ok(hashes)
}

/// Reads a token's index entry as stored, "" when the project has no such token.
async fn lookup_entry(
    conn: &Conn,
    project: &ProjectKeys,
    project_id: &str,
    token_id: &str,
) -> StoreResult<String> {
    let mut invocation = scripts::INDEX_LOOKUP.prepare_invoke();
    invocation
        .key(&project.record)
        .key(&project.tokens)
        .arg(token_id);
    let (status, items) =
        reply::status_and_rest(conn.invoke(&invocation).await?, "index_lookup.lua")?;
    if status == "missing" {
        return Err(not_found("project", project_id));
    }
    Ok(items
        .first()
        .map(|item| reply::text(item, "index_lookup.lua"))
        .transpose()?
        .unwrap_or_default())
}

/// Reads the current record of a listed token, as [`list`] shows it, or `None` when the token
/// has no record.
async fn listed_record(
    conn: &Conn,
    project_id: &str,
    token_id: &str,
    hashes: &[KeyHash],
) -> StoreResult<Option<TokenRecord>> {
    let records = read_records(conn, project_id, token_id, hashes).await?;
    if let Some((current, _)) = current_of(records) {
        return Ok(Some(current.record));
    }
    if hashes.is_empty() {
        return Ok(None);
    }
    // Perhaps a regeneration replaced the record between two reads: look the token up again.
    match locate(conn, project_id, token_id).await {
        Ok(located) => Ok(Some(located.record)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A token record as stored under one key hash.
#[derive(Debug)]
struct Stored {
    hash: KeyHash,
    record: TokenRecord,
    /// Whether the record names a successor: a regeneration has claimed it.
    claimed: bool,
}

/// Reads the records of `hashes`, skipping missing records and records of other tokens.
async fn read_records(
    conn: &Conn,
    project_id: &str,
    token_id: &str,
    hashes: &[KeyHash],
) -> StoreResult<Vec<Stored>> {
    let records = try_join_all(hashes.iter().map(|hash| read_record(conn, *hash))).await?;
    Ok(records
        .into_iter()
        .flatten()
        .filter(|stored| {
            stored.record.token_id == token_id && stored.record.project_id == project_id
        })
        .collect())
}

/// Picks a token's current record from its records, and returns it with the hashes of the
/// others.
///
/// A claimed record is current: its regeneration has not deleted it yet, so the other record is
/// the regeneration's new one, or one left by an interrupted regeneration. Without a claimed
/// record, the newest is current: a regeneration that deleted the old record made its new one
/// current.
fn current_of(mut records: Vec<Stored>) -> Option<(Stored, Vec<KeyHash>)> {
    let claimed = records.iter().any(|stored| stored.claimed);
    // NOTE: a record left by a regeneration whose claim was taken over is newer than the record
    // of the regeneration that took it over only when the replicas' clocks differ by more than
    // the claim's lease. Reads then show the leftover, and the next regeneration copies it.
    let index = records
        .iter()
        .enumerate()
        .filter(|(_, stored)| stored.claimed == claimed)
        .max_by_key(|(_, stored)| stored.record.created_at_ms)
        .map(|(index, _)| index)?;
    let current = records.swap_remove(index);
    let leftovers = records.iter().map(|stored| stored.hash).collect();
    Some((current, leftovers))
}

/// Reads the record of a key hash, or `None` when there is none.
async fn read_record(conn: &Conn, hash: KeyHash) -> StoreResult<Option<Stored>> {
    let keys = TokenKeys::new(hash);
    let fields = reply::fields(
        conn.query(redis::cmd("HGETALL").arg(&keys.record)).await?,
        "HGETALL",
    )?;
    if fields.is_empty() {
        return Ok(None);
    }
    Ok(Some(Stored {
        hash,
        record: record::parse_token(&fields)?,
        claimed: fields.contains_key("successor"),
    }))
}

/// Writes a new token record with the account's plan.
pub async fn write_record(
    conn: &Conn,
    token: &NewToken,
    account_id: &str,
    plan: crate::domain::Plan,
) -> StoreResult<()> {
    let keys = TokenKeys::new(token.key_hash);
    let mut invocation = scripts::TOKEN_CREATE.prepare_invoke();
    invocation
        .key(&keys.record)
        .key(&keys.system_window)
        .key(&keys.user_window);
    for (field, value) in record::token_fields(&token.record, account_id, plan) {
        invocation.arg(field).arg(value);
    }
    let (status, _) = reply::status_and_rest(conn.invoke(&invocation).await?, "token_create.lua")?;
    match status.as_str() {
        "ok" => Ok(()),
        // Two keys with one SHA-256 hash: not expected to happen, and never silently merged.
        "exists" => Err(StoreError::Corrupt(format!(
            "a token record already exists for the new key of token {}",
            token.record.token_id
        ))),
        other => Err(unknown_status("token_create.lua", other)),
    }
}

/// Whether [`delete_record`] deleted the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// The record was deleted.
    Yes,
    /// There was no record of that token under the key hash.
    Missing,
    /// The record's modification time differed from the expected one; nothing was deleted.
    Changed,
    /// Another regeneration owns the claim on the record, so nothing was deleted.
    Lost,
}

/// Deletes the record of a key hash and its windows, when it belongs to `token_id` and, with
/// `expected_modified_at_ms`, has not changed since.
pub async fn delete_record(
    conn: &Conn,
    hash: KeyHash,
    token_id: &str,
    expected_modified_at_ms: Option<i64>,
) -> StoreResult<Deleted> {
    delete_record_if(conn, hash, token_id, expected_modified_at_ms, None).await
}

/// Deletes the record of a key hash and its windows, when it belongs to `token_id`, has not
/// changed since `expected_modified_at_ms` and, with `successor`, that successor owns its
/// claim.
async fn delete_record_if(
    conn: &Conn,
    hash: KeyHash,
    token_id: &str,
    expected_modified_at_ms: Option<i64>,
    successor: Option<KeyHash>,
) -> StoreResult<Deleted> {
    let keys = TokenKeys::new(hash);
    let mut invocation = scripts::TOKEN_DELETE.prepare_invoke();
    invocation
        .key(&keys.record)
        .key(&keys.system_window)
        .key(&keys.user_window)
        .arg(token_id)
        .arg(
            expected_modified_at_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        )
        .arg(successor.map(|hash| hash.to_hex()).unwrap_or_default());
    let (status, _) = reply::status_and_rest(conn.invoke(&invocation).await?, "token_delete.lua")?;
    match status.as_str() {
        "deleted" => Ok(Deleted::Yes),
        "missing" => Ok(Deleted::Missing),
        "changed" => Ok(Deleted::Changed),
        "lost" => Ok(Deleted::Lost),
        other => Err(unknown_status("token_delete.lua", other)),
    }
}

/// The result of [`index_add`].
#[derive(Debug)]
pub enum IndexAdd {
    /// The key hash is listed; the project belongs to this account.
    Added {
        /// The project's account.
        account_id: String,
    },
    /// The project does not exist or, without a claim, is not complete.
    Missing,
    /// Another request has taken over the project's creation.
    Lost,
}

/// Lists a key hash in a token's index entry. `claim` is the creation's claim while a project
/// is being created, else "".
pub async fn index_add(
    conn: &Conn,
    project: &ProjectKeys,
    token_id: &str,
    hash: KeyHash,
    claim: &str,
) -> StoreResult<IndexAdd> {
    let mut invocation = scripts::INDEX_ADD.prepare_invoke();
    invocation
        .key(&project.record)
        .key(&project.tokens)
        .key(&project.order)
        .arg(token_id)
        .arg(hash.to_hex())
        .arg(claim);
    let (status, items) = reply::status_and_rest(conn.invoke(&invocation).await?, "index_add.lua")?;
    match status.as_str() {
        "ok" => {
            let account_id = items.first().ok_or_else(|| {
                StoreError::Corrupt("index_add.lua returned no account id".to_owned())
            })?;
            Ok(IndexAdd::Added {
                account_id: reply::text(account_id, "index_add.lua")?,
            })
        }
        "missing" => Ok(IndexAdd::Missing),
        "lost" => Ok(IndexAdd::Lost),
        other => Err(unknown_status("index_add.lua", other)),
    }
}

/// Tells whether a key hash is still listed in a complete project (or one still claimed by
/// `claim`).
async fn index_check(
    conn: &Conn,
    project: &ProjectKeys,
    token_id: &str,
    hash: KeyHash,
    claim: &str,
) -> StoreResult<bool> {
    let mut invocation = scripts::INDEX_CHECK.prepare_invoke();
    invocation
        .key(&project.record)
        .key(&project.tokens)
        .arg(token_id)
        .arg(hash.to_hex())
        .arg(claim);
    reply::flag(&conn.invoke(&invocation).await?, "index_check.lua")
}

/// Unlists key hashes from a token's index entry, and the token id once none is left. Returns
/// how many hashes the entry keeps.
pub async fn index_remove(
    conn: &Conn,
    project: &ProjectKeys,
    token_id: &str,
    hashes: &[KeyHash],
) -> StoreResult<u64> {
    if hashes.is_empty() {
        return Ok(0);
    }
    let mut invocation = scripts::INDEX_REMOVE.prepare_invoke();
    invocation
        .key(&project.tokens)
        .key(&project.order)
        .arg(token_id);
    for hash in hashes {
        invocation.arg(hash.to_hex());
    }
    let value: Value = conn.invoke(&invocation).await?;
    reply::count(&value, "index_remove.lua")
}

/// Returns a [`StoreError::NotFound`].
pub fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_owned(),
    }
}

/// Returns a [`StoreError::Corrupt`] for a script status word the store does not know.
pub fn unknown_status(script: &str, status: &str) -> StoreError {
    StoreError::Corrupt(format!("{script} returned an unknown status {status:?}"))
}

fn expired(token_id: &str) -> StoreError {
    StoreError::FailedPrecondition(format!(
        "token {token_id} is expired; an expired token can only be regenerated or deleted"
    ))
}

fn changed_concurrently(token_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "token {token_id} was regenerated or changed by other requests {ATTEMPTS} times while \
         this request ran; retry the request"
    ))
}
