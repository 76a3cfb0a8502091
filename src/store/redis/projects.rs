//! Project and account operations. A project spans its own slot, its account's slot and one slot
//! per token, so creation and deletion run as ordered steps.
//!
//! Both keep the invariant of `tokens.rs` (every token record is listed in its project's index)
//! and add two of their own. A project is visible (read, listed, given new tokens) only once it
//! is complete, so a crash part way through leaves an invisible, incomplete project that a retry
//! of the same creation, or a deletion, finishes. And each creation or deletion stores a random
//! claim in the project record. A step that finds the claim changed stops, because another
//! request has taken the project over.

use futures::future::try_join_all;

use super::{
    keys::{AccountKeys, ProjectKeys},
    pool::Conn,
    record, reply, scripts,
    tokens::{
        self, IndexAdd, delete_record, index_add, index_remove, not_found, unknown_status,
        write_record,
    },
};
use crate::{
    domain::{KeyHash, Plan, ProjectRecord},
    store::{NewToken, StoreError, StoreResult},
};

/// Creates a project with its tokens.
pub async fn create(
    conn: &Conn,
    project: &ProjectRecord,
    new_tokens: &[NewToken],
) -> StoreResult<()> {
    let keys = ProjectKeys::new(&project.project_id);
    let claim = new_claim()?;

    // Step 1: the project record, incomplete, so nothing reads the project until step 4. An
    // incomplete project of the same account is taken over, and its tokens are deleted because
    // their keys were never shown.
    let mut invocation = scripts::PROJECT_BEGIN_CREATE.prepare_invoke();
    invocation
        .key(&keys.record)
        .key(&keys.tokens)
        .arg(&project.account_id)
        .arg(&project.name)
        .arg(project.created_at_ms)
        .arg(&claim);
    let (status, items) =
        reply::status_and_rest(conn.invoke(&invocation).await?, "project_begin_create.lua")?;
    match status.as_str() {
        "created" => {}
        "resumed" => delete_listed_tokens(conn, &keys, &items, "project_begin_create.lua").await?,
        "exists" => return Err(already_exists(&project.project_id)),
        other => return Err(unknown_status("project_begin_create.lua", other)),
    }

    // Step 2: register the project with its account, which returns the plan to stamp on the
    // tokens.
    let account = AccountKeys::new(&project.account_id);
    let mut invocation = scripts::ACCOUNT_ADD_PROJECT.prepare_invoke();
    invocation
        .key(&account.record)
        .key(&account.projects)
        .arg(&project.project_id);
    let plan_name = reply::text(&conn.invoke(&invocation).await?, "account_add_project.lua")?;
    let plan = record::parse_plan(Some(&plan_name))?;

    // Step 3: the tokens, each listed before its record is written.
    let mut written = Vec::with_capacity(new_tokens.len());
    for token in new_tokens {
        match index_add(conn, &keys, &token.record.token_id, token.key_hash, &claim).await? {
            IndexAdd::Added { .. } => {}
            IndexAdd::Missing | IndexAdd::Lost => {
                undo_tokens(conn, &keys, &written).await?;
                return Err(already_exists(&project.project_id));
            }
        }
        write_record(conn, token, &project.account_id, plan).await?;
        written.push(token);
    }

    // Step 4: mark the project complete, only if no other request took it over since step 1.
    // A request that did has deleted, or will delete, the tokens listed so far, but a record
    // written after its cleanup would stay behind, so this request deletes its own.
    let mut invocation = scripts::PROJECT_FINISH_CREATE.prepare_invoke();
    invocation.key(&keys.record).arg(&claim);
    if !reply::flag(
        &conn.invoke(&invocation).await?,
        "project_finish_create.lua",
    )? {
        undo_tokens(conn, &keys, &written).await?;
        return Err(already_exists(&project.project_id));
    }
    Ok(())
}

/// Reads a complete project.
pub async fn get(conn: &Conn, project_id: &str) -> StoreResult<ProjectRecord> {
    read(conn, project_id)
        .await?
        .ok_or_else(|| not_found("project", project_id))
}

/// Deletes a project and its tokens, returning how many tokens it had.
pub async fn delete(conn: &Conn, project_id: &str) -> StoreResult<u32> {
    let keys = ProjectKeys::new(project_id);
    let claim = new_claim()?;

    // Step 1: mark the project incomplete, which stops new tokens, and read its tokens.
    let mut invocation = scripts::PROJECT_BEGIN_DELETE.prepare_invoke();
    invocation.key(&keys.record).key(&keys.tokens).arg(&claim);
    let (status, items) =
        reply::status_and_rest(conn.invoke(&invocation).await?, "project_begin_delete.lua")?;
    let (account_id, entries) = match (status.as_str(), items.split_first()) {
        ("missing", _) => return Err(not_found("project", project_id)),
        ("ok", Some((account_id, entries))) => (
            reply::text(account_id, "project_begin_delete.lua")?,
            entries,
        ),
        (other, _) => return Err(unknown_status("project_begin_delete.lua", other)),
    };
    let token_count = u32::try_from(entries.len() / 2).unwrap_or(u32::MAX);

    // Step 2: the token records, then step 3: the project's keys with its index. A crash before
    // step 3 leaves the project incomplete and still listing its tokens, so a retry finishes.
    delete_listed_tokens(conn, &keys, entries, "project_begin_delete.lua").await?;
    let mut invocation = scripts::PROJECT_FINISH_DELETE.prepare_invoke();
    invocation
        .key(&keys.record)
        .key(&keys.tokens)
        .key(&keys.order)
        .arg(&claim);
    if !reply::flag(
        &conn.invoke(&invocation).await?,
        "project_finish_delete.lua",
    )? {
        // A creation of the same project id took it over after step 1. The project is now that
        // creation's, so it stays registered with its account.
        return Ok(token_count);
    }

    // Step 4: unregister the project from its account, last, so a crash before it leaves an
    // account listing a missing project, which reads skip.
    let account = AccountKeys::new(&account_id);
    conn.query(redis::cmd("SREM").arg(&account.projects).arg(project_id))
        .await?;
    Ok(token_count)
}

/// Sets an account's plan and copies it onto every token record of the account.
pub async fn set_plan(conn: &Conn, account_id: &str, plan: Plan) -> StoreResult<()> {
    let account = AccountKeys::new(account_id);
    let mut invocation = scripts::ACCOUNT_SET_PLAN.prepare_invoke();
    invocation
        .key(&account.record)
        .key(&account.projects)
        .arg(record::plan_name(plan));
    let project_ids = reply::array(conn.invoke(&invocation).await?, "account_set_plan.lua")?
        .iter()
        .map(|id| reply::text(id, "account_set_plan.lua"))
        .collect::<StoreResult<Vec<_>>>()?;

    // NOTE: until every token record carries the new flag, Authorize still applies the old
    // plan to the tokens not yet reached, and a token created while this runs may keep the old
    // plan. Setting the same plan again repairs both, because every write here is idempotent.
    let flag = record::paid_flag(plan);
    for project_id in &project_ids {
        let keys = ProjectKeys::new(project_id);
        let lists = reply::array(
            conn.query(redis::cmd("HVALS").arg(&keys.tokens)).await?,
            "HVALS",
        )?;
        let mut hashes = Vec::new();
        for list in &lists {
            hashes.extend(record::parse_hashes(&reply::text(list, "HVALS")?)?);
        }
        try_join_all(hashes.iter().map(|hash| set_paid(conn, *hash, flag))).await?;
    }
    Ok(())
}

/// Reads an account's plan. An account the store has not seen is on the free plan.
pub async fn read_plan(conn: &Conn, account_id: &str) -> StoreResult<Plan> {
    let account = AccountKeys::new(account_id);
    let value = conn
        .query(redis::cmd("HGET").arg(&account.record).arg("plan"))
        .await?;
    record::parse_plan(reply::optional_text(&value, "HGET plan")?.as_deref())
}

/// Lists an account's complete projects, sorted by project id.
pub async fn account_projects(conn: &Conn, account_id: &str) -> StoreResult<Vec<ProjectRecord>> {
    let account = AccountKeys::new(account_id);
    let members = reply::array(
        conn.query(redis::cmd("SMEMBERS").arg(&account.projects))
            .await?,
        "SMEMBERS",
    )?;
    let mut project_ids = members
        .iter()
        .map(|id| reply::text(id, "SMEMBERS"))
        .collect::<StoreResult<Vec<_>>>()?;
    project_ids.sort_unstable();

    let projects =
        try_join_all(project_ids.iter().map(|project_id| read(conn, project_id))).await?;
    Ok(projects.into_iter().flatten().collect())
}

/// Reads a project record, or `None` when it does not exist or is not complete.
async fn read(conn: &Conn, project_id: &str) -> StoreResult<Option<ProjectRecord>> {
    let keys = ProjectKeys::new(project_id);
    let fields = reply::fields(
        conn.query(redis::cmd("HGETALL").arg(&keys.record)).await?,
        "HGETALL",
    )?;
    if !record::is_complete(&fields) {
        return Ok(None);
    }
    record::parse_project(project_id, &fields).map(Some)
}

/// Deletes the tokens of `token_id, key_hashes` pairs from a script reply: records first, then
/// their index entries.
async fn delete_listed_tokens(
    conn: &Conn,
    keys: &ProjectKeys,
    pairs: &[redis::Value],
    script: &str,
) -> StoreResult<()> {
    if !pairs.len().is_multiple_of(2) {
        return Err(StoreError::Corrupt(format!(
            "{script} returned an odd number of token items"
        )));
    }
    let tokens = pairs
        .chunks_exact(2)
        .map(|pair| {
            let token_id = reply::text(&pair[0], script)?;
            let hashes = record::parse_hashes(&reply::text(&pair[1], script)?)?;
            Ok((token_id, hashes))
        })
        .collect::<StoreResult<Vec<(String, Vec<KeyHash>)>>>()?;

    let records = tokens.iter().flat_map(|(token_id, hashes)| {
        hashes
            .iter()
            .map(move |hash| delete_record(conn, *hash, token_id, None))
    });
    try_join_all(records).await?;
    for (token_id, hashes) in &tokens {
        index_remove(conn, keys, token_id, hashes).await?;
    }
    Ok(())
}

/// Deletes the records a creation wrote before it lost the project, then their index entries.
async fn undo_tokens(conn: &Conn, keys: &ProjectKeys, written: &[&NewToken]) -> StoreResult<()> {
    for token in written {
        tokens::delete_record(conn, token.key_hash, &token.record.token_id, None).await?;
        index_remove(conn, keys, &token.record.token_id, &[token.key_hash]).await?;
    }
    Ok(())
}

async fn set_paid(conn: &Conn, hash: KeyHash, flag: &str) -> StoreResult<()> {
    let keys = super::keys::TokenKeys::new(hash);
    let mut invocation = scripts::TOKEN_SET_PAID.prepare_invoke();
    invocation.key(&keys.record).arg(flag);
    reply::flag(&conn.invoke(&invocation).await?, "token_set_paid.lua").map(drop)
}

/// Returns a random value that identifies one creation or deletion in the project record.
fn new_claim() -> StoreResult<String> {
    let random = getrandom::u64().map_err(|error| {
        StoreError::Unavailable(format!("the random source failed: {error}").into())
    })?;
    Ok(format!("{random:016x}"))
}

fn already_exists(project_id: &str) -> StoreError {
    StoreError::AlreadyExists {
        kind: "project",
        id: project_id.to_owned(),
    }
}
