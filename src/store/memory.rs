//! The in-memory store, for development, demos, tests and single-process use.
//!
//! State lives in one process: it is lost on exit and not shared between replicas, so rate
//! limits are per process. It keeps every guarantee of [`Store`] within that process.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex, MutexGuard},
};

use super::{
    AuthorizeOutcome, AuthorizeQuery, ListQuery, NewKey, NewToken, RateReport, Store, StoreError,
    StoreResult, TokenLocator, TokenPage, TokenSummary,
};
use crate::domain::{
    KeyHash, Plan, ProjectRecord, RateMode, SystemLimit, TokenPatch, TokenRecord, TokenStatus,
    decision::check_token,
    limits::{self, Window},
    now_ms,
};

/// A store that keeps everything in this process's memory. Clones share the same state.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    // A std mutex rather than tokio's: no critical section awaits, and each is a few map
    // operations, so blocking is shorter than a task switch.
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<String, Account>,
    projects: HashMap<String, Project>,
    /// Every token's record, by the hash of its current key.
    tokens: HashMap<KeyHash, StoredToken>,
}

#[derive(Debug, Default)]
struct Account {
    plan: Plan,
    projects: BTreeSet<String>,
}

#[derive(Debug)]
struct Project {
    record: ProjectRecord,
    /// Token id to the hash of its current key, in id order (creation order).
    tokens: BTreeMap<String, KeyHash>,
}

#[derive(Debug)]
struct StoredToken {
    record: TokenRecord,
    account_id: String,
    /// The system window, then the user window.
    windows: [Option<Window>; 2],
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change, because every
        // critical section validates before it writes, so a poisoned lock is safe to reuse.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn project(&self, project_id: &str) -> StoreResult<&Project> {
        self.projects
            .get(project_id)
            .ok_or_else(|| not_found("project", project_id))
    }

    fn key_hash_of(&self, project_id: &str, token_id: &str) -> StoreResult<KeyHash> {
        self.project(project_id)?
            .tokens
            .get(token_id)
            .copied()
            .ok_or_else(|| not_found("token", token_id))
    }

    fn token_mut(&mut self, project_id: &str, token_id: &str) -> StoreResult<&mut StoredToken> {
        let hash = self.key_hash_of(project_id, token_id)?;
        self.tokens
            .get_mut(&hash)
            .ok_or_else(|| not_found("token", token_id))
    }

    fn is_paid(&self, account_id: &str) -> bool {
        self.accounts
            .get(account_id)
            .is_some_and(|account| account.plan == Plan::Paid)
    }

    fn insert_token(&mut self, token: &NewToken, account_id: &str) {
        let record = token.record.clone();
        if let Some(project) = self.projects.get_mut(&record.project_id) {
            project
                .tokens
                .insert(record.token_id.clone(), token.key_hash);
        }
        self.tokens.insert(
            token.key_hash,
            StoredToken {
                record,
                account_id: account_id.to_owned(),
                windows: [None, None],
            },
        );
    }

    /// Evaluates a token's limits and stores the windows the evaluation wrote.
    fn evaluate(
        &mut self,
        hash: KeyHash,
        cost: u64,
        mode: RateMode,
        system: SystemLimit,
        now: i64,
    ) -> limits::RateOutcome {
        let paid = match self.tokens.get(&hash) {
            Some(token) => self.is_paid(&token.account_id),
            None => return empty_outcome(now),
        };
        let Some(token) = self.tokens.get_mut(&hash) else {
            return empty_outcome(now);
        };

        let mut input = vec![(system.as_limit(), token.windows[0])];
        if let Some(user) = token.record.user_limit {
            input.push((user.as_limit(paid), token.windows[1]));
        }
        let (outcome, writes) = limits::evaluate(&input, cost, mode, now);
        for (slot, write) in token.windows.iter_mut().zip(writes) {
            if write.is_some() {
                *slot = write;
            }
        }
        outcome
    }
}

fn empty_outcome(now_ms: i64) -> limits::RateOutcome {
    limits::RateOutcome {
        windows: Vec::new(),
        now_ms,
        allowed: false,
        consumed: false,
        first_denial: false,
    }
}

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_owned(),
    }
}

fn summary(record: &TokenRecord) -> TokenSummary {
    TokenSummary {
        project_id: record.project_id.clone(),
        token_id: record.token_id.clone(),
        name: record.name.clone(),
        scopes: record.scopes,
    }
}

fn expired_error(token_id: &str) -> StoreError {
    StoreError::FailedPrecondition(format!(
        "token {token_id} is expired; an expired token can only be regenerated or deleted"
    ))
}

impl Store for MemoryStore {
    async fn authorize(&self, query: AuthorizeQuery<'_>) -> StoreResult<AuthorizeOutcome> {
        let now = now_ms();
        let mut state = self.lock();
        let Some(token) = state.tokens.get(&query.key_hash) else {
            return Ok(AuthorizeOutcome {
                denial: Some(crate::domain::Denial::UnknownToken),
                token: None,
                rate: None,
            });
        };

        let token_summary = summary(&token.record);
        if let Err(denial) = check_token(&token.record, now, query.project_id, query.required_scope)
        {
            return Ok(AuthorizeOutcome {
                denial: Some(denial),
                token: Some(token_summary),
                rate: None,
            });
        }

        let outcome = state.evaluate(
            query.key_hash,
            query.cost,
            RateMode::Consume,
            query.system,
            now,
        );
        Ok(AuthorizeOutcome {
            denial: (!outcome.allowed).then_some(crate::domain::Denial::RateLimited),
            token: Some(token_summary),
            rate: Some(outcome),
        })
    }

    async fn rate_limit(
        &self,
        locator: TokenLocator<'_>,
        cost: u64,
        mode: RateMode,
        system: SystemLimit,
    ) -> StoreResult<RateReport> {
        let now = now_ms();
        let mut state = self.lock();
        let hash = match locator {
            TokenLocator::Key(hash) => hash,
            TokenLocator::Id {
                project_id,
                token_id,
            } => state.key_hash_of(project_id, token_id)?,
        };
        let token = state
            .tokens
            .get(&hash)
            .ok_or_else(|| not_found("token", "for this key"))?;

        let status = token.record.effective_status(now);
        let token_summary = summary(&token.record);
        let mode = match mode {
            RateMode::Consume if status != TokenStatus::Enabled => RateMode::DryRun,
            other => other,
        };
        let outcome = state.evaluate(hash, cost, mode, system, now);
        Ok(RateReport {
            token: token_summary,
            status,
            outcome,
        })
    }

    async fn create_project(
        &self,
        project: &ProjectRecord,
        tokens: &[NewToken],
    ) -> StoreResult<()> {
        let mut state = self.lock();
        if state.projects.contains_key(&project.project_id) {
            return Err(StoreError::AlreadyExists {
                kind: "project",
                id: project.project_id.clone(),
            });
        }

        state
            .accounts
            .entry(project.account_id.clone())
            .or_default()
            .projects
            .insert(project.project_id.clone());
        state.projects.insert(
            project.project_id.clone(),
            Project {
                record: project.clone(),
                tokens: BTreeMap::new(),
            },
        );
        for token in tokens {
            state.insert_token(token, &project.account_id);
        }
        Ok(())
    }

    async fn get_project(&self, project_id: &str) -> StoreResult<ProjectRecord> {
        Ok(self.lock().project(project_id)?.record.clone())
    }

    async fn delete_project(&self, project_id: &str) -> StoreResult<u32> {
        let mut state = self.lock();
        let project = state
            .projects
            .remove(project_id)
            .ok_or_else(|| not_found("project", project_id))?;
        for hash in project.tokens.values() {
            state.tokens.remove(hash);
        }
        if let Some(account) = state.accounts.get_mut(&project.record.account_id) {
            account.projects.remove(project_id);
        }
        Ok(u32::try_from(project.tokens.len()).unwrap_or(u32::MAX))
    }

    async fn set_account_plan(&self, account_id: &str, plan: Plan) -> StoreResult<()> {
        self.lock()
            .accounts
            .entry(account_id.to_owned())
            .or_default()
            .plan = plan;
        Ok(())
    }

    async fn account_plan(&self, account_id: &str) -> StoreResult<Plan> {
        Ok(self
            .lock()
            .accounts
            .get(account_id)
            .map_or(Plan::Free, |account| account.plan))
    }

    async fn account_projects(&self, account_id: &str) -> StoreResult<Vec<ProjectRecord>> {
        let state = self.lock();
        let Some(account) = state.accounts.get(account_id) else {
            return Ok(Vec::new());
        };
        Ok(account
            .projects
            .iter()
            .filter_map(|id| state.projects.get(id))
            .map(|project| project.record.clone())
            .collect())
    }

    async fn create_token(&self, token: &NewToken) -> StoreResult<()> {
        let mut state = self.lock();
        let account_id = state
            .project(&token.record.project_id)?
            .record
            .account_id
            .clone();
        state.insert_token(token, &account_id);
        Ok(())
    }

    async fn get_token(&self, project_id: &str, token_id: &str) -> StoreResult<TokenRecord> {
        Ok(self.lock().token_mut(project_id, token_id)?.record.clone())
    }

    async fn list_tokens(&self, query: ListQuery<'_>) -> StoreResult<TokenPage> {
        let state = self.lock();
        let project = state.project(query.project_id)?;
        let lower = match query.after {
            Some(after) => std::ops::Bound::Excluded(after.to_owned()),
            None => std::ops::Bound::Unbounded,
        };

        let mut page = TokenPage::default();
        let mut ids = project
            .tokens
            .range((lower, std::ops::Bound::Unbounded))
            .peekable();
        while let Some((token_id, hash)) = ids.next() {
            let Some(token) = state.tokens.get(hash) else {
                continue;
            };
            let matches = query
                .status
                .is_none_or(|status| token.record.effective_status(query.now_ms) == status);
            if matches {
                page.tokens.push(token.record.clone());
            }
            if page.tokens.len() >= query.limit {
                if ids.peek().is_some() {
                    page.next_after = Some(token_id.clone());
                }
                break;
            }
        }
        Ok(page)
    }

    async fn update_token(
        &self,
        project_id: &str,
        token_id: &str,
        patch: &TokenPatch,
        now_ms: i64,
    ) -> StoreResult<TokenRecord> {
        let mut state = self.lock();
        let token = state.token_mut(project_id, token_id)?;
        if token.record.effective_status(now_ms) == TokenStatus::Expired {
            return Err(expired_error(token_id));
        }
        patch.apply(&mut token.record, now_ms);
        Ok(token.record.clone())
    }

    async fn expire_token(
        &self,
        project_id: &str,
        token_id: &str,
        now_ms: i64,
    ) -> StoreResult<TokenRecord> {
        let mut state = self.lock();
        let token = state.token_mut(project_id, token_id)?;
        if token.record.status != TokenStatus::Expired {
            token.record.status = TokenStatus::Expired;
            token.record.modified_at_ms = now_ms;
        }
        Ok(token.record.clone())
    }

    async fn delete_token(&self, project_id: &str, token_id: &str) -> StoreResult<()> {
        let mut state = self.lock();
        let hash = state.key_hash_of(project_id, token_id)?;
        state.tokens.remove(&hash);
        if let Some(project) = state.projects.get_mut(project_id) {
            project.tokens.remove(token_id);
        }
        Ok(())
    }

    async fn regenerate_token(
        &self,
        project_id: &str,
        token_id: &str,
        key: &NewKey,
        now_ms: i64,
        only_if_expired: bool,
    ) -> StoreResult<Option<TokenRecord>> {
        let mut state = self.lock();
        let old_hash = state.key_hash_of(project_id, token_id)?;
        let old = state
            .tokens
            .get(&old_hash)
            .ok_or_else(|| not_found("token", token_id))?;
        if only_if_expired && old.record.effective_status(now_ms) != TokenStatus::Expired {
            return Ok(None);
        }

        let Some(mut token) = state.tokens.remove(&old_hash) else {
            return Err(not_found("token", token_id));
        };
        token.record.status = TokenStatus::Enabled;
        token.record.expires_at_ms = None;
        token.record.created_at_ms = now_ms;
        token.record.modified_at_ms = now_ms;
        token.record.key_hint.clone_from(&key.hint);
        token.windows = [None, None];
        let record = token.record.clone();
        state.tokens.insert(key.hash, token);
        if let Some(project) = state.projects.get_mut(project_id) {
            project.tokens.insert(token_id.to_owned(), key.hash);
        }
        Ok(Some(record))
    }

    async fn check_ready(&self) -> StoreResult<()> {
        Ok(())
    }
}
