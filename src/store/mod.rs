//! Storage: one trait, [`Store`], with a Redis implementation for production and an in-memory
//! one for development and single-process use.
//!
//! Both implementations keep the same guarantees, and the same behaviour tests run against both:
//! - Authorize's checks and both rate limits are one atomic step, so a request denied by one limit
//!   counts against neither, and any number of replicas share one budget (Redis only).
//! - Keys are stored only as [`KeyHash`]es.
//! - Counters belong to a key: regenerating or deleting a token starts its windows afresh.

use std::{future::Future, time::Duration};

use thiserror::Error;

use crate::domain::{
    Denial, KeyHash, Plan, ProjectRecord, RateMode, RateOutcome, Scope, ScopeSet, SystemLimit,
    TokenPatch, TokenRecord, TokenStatus,
};

pub mod memory;
pub mod redis;

/// A result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The named account, project or token does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// The kind of record looked up: "project" or "token".
        kind: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// A project with this id already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// The kind of record created: "project".
        kind: &'static str,
        /// The id that is taken.
        id: String,
    },
    /// The operation is not allowed in the current state, for example updating an expired token.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Concurrent requests kept changing the token, so the operation gave up after a bounded
    /// number of attempts. Retrying the request is safe.
    #[error("{0}")]
    Conflict(String),
    /// Redis did not reply within the command timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis could not be reached or returned an error.
    #[error("redis command failed")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store's configuration is invalid, for example a malformed Redis URL. The message
    /// names the bad value with any password masked.
    #[error("{0}")]
    InvalidConfig(String),
    /// Stored data or a script reply had an unexpected shape.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// The input of [`Store::authorize`].
#[derive(Clone, Copy, Debug)]
pub struct AuthorizeQuery<'a> {
    /// The hash of the presented key.
    pub key_hash: KeyHash,
    /// The scope the action requires.
    pub required_scope: Scope,
    /// The project the caller expects the token to belong to.
    pub project_id: Option<&'a str>,
    /// How many requests the call counts as; at least 1.
    pub cost: u64,
    /// The service-wide limit.
    pub system: SystemLimit,
}

/// The identifying, non-secret part of a token, as Authorize reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSummary {
    /// The owning project.
    pub project_id: String,
    /// The token's id.
    pub token_id: String,
    /// The token's name.
    pub name: String,
    /// The token's scopes.
    pub scopes: ScopeSet,
}

/// The result of [`Store::authorize`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeOutcome {
    /// The denial; `None` when the request was allowed and counted.
    pub denial: Option<Denial>,
    /// The token, when the key matched one.
    pub token: Option<TokenSummary>,
    /// The rate-limit evaluation, when the token checks passed and the limits were evaluated.
    pub rate: Option<RateOutcome>,
}

/// The token a rate-limit check refers to.
#[derive(Clone, Copy, Debug)]
pub enum TokenLocator<'a> {
    /// By the hash of a key, as Authorize does.
    Key(KeyHash),
    /// By project and token id, as a dashboard does.
    Id {
        /// The owning project.
        project_id: &'a str,
        /// The token's id.
        token_id: &'a str,
    },
}

/// The result of [`Store::rate_limit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateReport {
    /// The token.
    pub token: TokenSummary,
    /// The token's effective status at the time of the check.
    pub status: TokenStatus,
    /// The evaluation. With [`RateMode::Consume`] on a token that is not enabled, nothing is
    /// counted and `consumed` is false.
    pub outcome: RateOutcome,
}

/// A token to create, with the hash of its key.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// The token's settings.
    pub record: TokenRecord,
    /// The hash of its key.
    pub key_hash: KeyHash,
}

/// A new key for a regenerated token.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// The hash of the key.
    pub hash: KeyHash,
    /// The key's non-secret hint.
    pub hint: String,
}

/// A request for one page of a project's tokens.
#[derive(Clone, Copy, Debug)]
pub struct ListQuery<'a> {
    /// The project.
    pub project_id: &'a str,
    /// Only tokens with this effective status; `None` for all.
    pub status: Option<TokenStatus>,
    /// Only tokens whose id sorts after this one: the last id of the previous page.
    pub after: Option<&'a str>,
    /// The maximum number of tokens to return; at least 1.
    pub limit: usize,
    /// The time at which effective status is judged, in Unix milliseconds.
    pub now_ms: i64,
}

/// One page of tokens, in token id order (which is creation order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenPage {
    /// The tokens.
    pub tokens: Vec<TokenRecord>,
    /// The id to pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<String>,
}

/// Token state and rate-limit windows.
///
/// Every method that takes a project and token id returns [`StoreError::NotFound`] when either
/// does not exist, or when the token belongs to another project.
pub trait Store: Send + Sync + 'static {
    /// Finds the token of `query.key_hash`, runs its checks in order (status, project, scope)
    /// and, when they pass, evaluates and consumes both rate limits: all in one atomic step.
    fn authorize(
        &self,
        query: AuthorizeQuery<'_>,
    ) -> impl Future<Output = StoreResult<AuthorizeOutcome>> + Send;

    /// Reports, tests or consumes a token's rate limits without any scope or project check.
    fn rate_limit(
        &self,
        token: TokenLocator<'_>,
        cost: u64,
        mode: RateMode,
        system: SystemLimit,
    ) -> impl Future<Output = StoreResult<RateReport>> + Send;

    /// Creates a project, registers it with its account (created on the free plan if new), and
    /// creates `tokens` in it. [`StoreError::AlreadyExists`] when the project id is taken.
    fn create_project(
        &self,
        project: &ProjectRecord,
        tokens: &[NewToken],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Reads a project.
    fn get_project(
        &self,
        project_id: &str,
    ) -> impl Future<Output = StoreResult<ProjectRecord>> + Send;

    /// Deletes a project and all its tokens, returning how many tokens were deleted.
    fn delete_project(&self, project_id: &str) -> impl Future<Output = StoreResult<u32>> + Send;

    /// Sets an account's plan, creating the account if needed. From the next Authorize on, user
    /// limits of the account's tokens are enforced only on the paid plan.
    fn set_account_plan(
        &self,
        account_id: &str,
        plan: Plan,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Reads an account's plan; an account the store has not seen is on the free plan.
    fn account_plan(&self, account_id: &str) -> impl Future<Output = StoreResult<Plan>> + Send;

    /// Lists an account's projects, sorted by project id.
    fn account_projects(
        &self,
        account_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<ProjectRecord>>> + Send;

    /// Creates a token in `token.record.project_id`.
    fn create_token(&self, token: &NewToken) -> impl Future<Output = StoreResult<()>> + Send;

    /// Reads a token.
    fn get_token(
        &self,
        project_id: &str,
        token_id: &str,
    ) -> impl Future<Output = StoreResult<TokenRecord>> + Send;

    /// Lists one page of a project's tokens.
    fn list_tokens(
        &self,
        query: ListQuery<'_>,
    ) -> impl Future<Output = StoreResult<TokenPage>> + Send;

    /// Applies `patch` to a token and returns the result. [`StoreError::FailedPrecondition`]
    /// when the token is expired at `now_ms`, in the same atomic step as the write.
    fn update_token(
        &self,
        project_id: &str,
        token_id: &str,
        patch: &TokenPatch,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<TokenRecord>> + Send;

    /// Sets a token's status to expired for good and returns it.
    fn expire_token(
        &self,
        project_id: &str,
        token_id: &str,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<TokenRecord>> + Send;

    /// Deletes a token; its key stops working at once.
    fn delete_token(
        &self,
        project_id: &str,
        token_id: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Gives a token a new key. The old key stops working at once, the token becomes enabled
    /// with no expiry, and its creation time becomes `now_ms`. Name, scopes and user limit stay.
    /// With `only_if_expired`, a token that is not expired at `now_ms` is left alone and `None`
    /// is returned, which makes project and account regeneration safe to run twice. Concurrent
    /// regenerations of one token take effect one after another. [`StoreError::Conflict`] when
    /// other requests kept changing the token for too long, and the key was not changed.
    fn regenerate_token(
        &self,
        project_id: &str,
        token_id: &str,
        key: &NewKey,
        now_ms: i64,
        only_if_expired: bool,
    ) -> impl Future<Output = StoreResult<Option<TokenRecord>>> + Send;

    /// Checks that the store can serve: for Redis, that it responds and the scripts are loaded.
    fn check_ready(&self) -> impl Future<Output = StoreResult<()>> + Send;
}
