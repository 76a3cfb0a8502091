//! The authority's operations, independent of gRPC: key handling, plan checks and the
//! multi-token workflows (project creation, regeneration), on top of any [`Store`].
//!
//! Inputs arrive validated by the transport; this layer enforces the rules that need stored
//! state, such as "user-defined limits need a paid account".

use std::time::Instant;

use thiserror::Error;

use crate::{
    deny_cache::{DenyCache, DenyCacheConfig},
    domain::{
        AccessKey, Action, Denial, Plan, PresentedKey, ProjectRecord, RateMode, RateOutcome, Scope,
        ScopeSet, SystemLimit, TokenPatch, TokenRecord, TokenStatus, UserLimit,
        key::parse_presented, now_ms, token::generate_token_id,
    },
    store::{
        AuthorizeQuery, ListQuery, NewKey, NewToken, RateReport, Store, StoreError, TokenLocator,
        TokenPage, TokenSummary,
    },
};

/// A failed operation, in terms a caller can act on. The transport maps each variant to exactly
/// one status code.
#[derive(Debug, Error)]
pub enum Error {
    /// A management request lacked the admin credential or carried a wrong one; nothing was
    /// read or written.
    #[error("missing or invalid admin credential: {reason}")]
    Unauthenticated {
        /// The fault in the request's `authorization` metadata, such as "no authorization
        /// metadata". It never contains the presented token.
        reason: &'static str,
    },
    /// A request field broke a rule; nothing was read or written.
    #[error("invalid {field}: {rule}")]
    InvalidArgument {
        /// The field's path in the request, such as `create_token.scopes`.
        field: String,
        /// The rule it broke, with the bad value.
        rule: String,
    },
    /// The named project, token or key does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The project id is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The operation is not allowed in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Concurrent requests on the same token made the operation give up; retrying it is safe.
    #[error("{0}")]
    Aborted(String),
    /// The store failed or timed out; the operation may be retried.
    #[error("token store unavailable")]
    Unavailable(#[source] StoreError),
    /// Stored data is damaged; retrying will not help.
    #[error("token store returned invalid data")]
    Internal(#[source] StoreError),
    /// The operating system's random source failed, so no key could be issued.
    #[error("failed to generate a random key: {0}")]
    Random(getrandom::Error),
}

impl Error {
    /// Builds an [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => Error::NotFound(error.to_string()),
            StoreError::AlreadyExists { .. } => Error::AlreadyExists(error.to_string()),
            StoreError::FailedPrecondition(message) => Error::FailedPrecondition(message),
            StoreError::Conflict(message) => Error::Aborted(message),
            StoreError::Timeout(_) | StoreError::Unavailable(_) => Error::Unavailable(error),
            StoreError::Corrupt(_) | StoreError::InvalidConfig(_) => Error::Internal(error),
        }
    }
}

impl From<getrandom::Error> for Error {
    fn from(error: getrandom::Error) -> Self {
        Error::Random(error)
    }
}

/// A result of an operation.
pub type Result<T> = std::result::Result<T, Error>;

/// A token with its newly issued key, which is shown only in this reply.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The token.
    pub record: TokenRecord,
    /// The key.
    pub key: AccessKey,
}

/// The outcome of Authorize.
#[derive(Clone, Debug)]
pub struct AuthorizeDecision {
    /// The denial; `None` when the request was allowed.
    pub denial: Option<Denial>,
    /// The token, when the key matched one.
    pub token: Option<TokenSummary>,
    /// The rate-limit evaluation, when one ran.
    pub rate: Option<RateOutcome>,
    /// The cost the request counted as.
    pub cost: u64,
}

/// A validated Authorize request.
#[derive(Clone, Copy, Debug)]
pub struct AuthorizeInput<'a> {
    /// The key as presented, untrimmed.
    pub access_token: &'a str,
    /// The requested action.
    pub action: Action,
    /// The item's platform; empty when the item has none.
    pub platform: &'a str,
    /// The project the caller expects.
    pub project_id: Option<&'a str>,
    /// How many requests the call counts as; at least 1.
    pub cost: u64,
}

/// The token a CheckRateLimit call refers to.
#[derive(Clone, Copy, Debug)]
pub enum TokenTarget<'a> {
    /// By key, as presented.
    Key(&'a str),
    /// By project and token id.
    Id {
        /// The project.
        project_id: &'a str,
        /// The token.
        token_id: &'a str,
    },
}

/// A validated request to create a token.
#[derive(Clone, Debug)]
pub struct NewTokenInput {
    /// The owning project.
    pub project_id: String,
    /// The token's name.
    pub name: String,
    /// Its scopes; not empty.
    pub scopes: ScopeSet,
    /// Its user-defined limit.
    pub user_limit: Option<UserLimit>,
    /// When it expires by itself, in Unix milliseconds; in the future.
    pub expires_at_ms: Option<i64>,
}

/// The result of a regeneration.
#[derive(Clone, Debug, Default)]
pub struct Regenerated {
    /// The regenerated tokens with their new keys and their project's name, grouped by project.
    pub tokens: Vec<(String, IssuedToken)>,
    /// How many projects had at least one token regenerated.
    pub project_count: usize,
}

/// The authority's operations over a store.
#[derive(Clone, Debug)]
pub struct Authority<S> {
    store: S,
    system: SystemLimit,
    deny_cache: DenyCache,
}

impl<S: Store> Authority<S> {
    /// Creates the authority over `store` with the service-wide limit `system` and a deny cache
    /// with the default settings.
    pub fn new(store: S, system: SystemLimit) -> Self {
        Authority {
            store,
            system,
            deny_cache: DenyCache::new(DenyCacheConfig::default()),
        }
    }

    /// Replaces the deny cache with an empty one with the settings `config`.
    pub fn with_deny_cache(mut self, config: DenyCacheConfig) -> Self {
        self.deny_cache = DenyCache::new(config);
        self
    }

    /// Returns the deny cache.
    pub fn deny_cache(&self) -> &DenyCache {
        &self.deny_cache
    }

    /// Returns the service-wide limit.
    pub fn system_limit(&self) -> SystemLimit {
        self.system
    }

    /// Returns the store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Decides whether a presented key may perform an action, counting it when allowed. A
    /// missing or malformed key is denied without a store lookup, and so is a token that the
    /// deny cache has recorded as over a rate limit.
    pub async fn authorize(&self, input: AuthorizeInput<'_>) -> Result<AuthorizeDecision> {
        let key_hash = match parse_presented(input.access_token) {
            PresentedKey::Missing => return Ok(self.denied_without_lookup(Denial::MissingToken)),
            PresentedKey::Malformed => return Ok(self.denied_without_lookup(Denial::UnknownToken)),
            PresentedKey::WellFormed(hash) => hash,
        };
        let required_scope = input.action.required_scope(input.platform);

        let cached = self.deny_cache.lookup(
            key_hash,
            input.project_id,
            required_scope,
            input.cost,
            Instant::now(),
        );
        if let Some(cached) = cached {
            return Ok(AuthorizeDecision {
                denial: Some(Denial::RateLimited),
                token: Some(cached.token),
                rate: Some(cached.rate),
                cost: input.cost,
            });
        }

        let observation = self.deny_cache.observe();
        let outcome = self
            .store
            .authorize(AuthorizeQuery {
                key_hash,
                required_scope,
                project_id: input.project_id,
                cost: input.cost,
                system: self.system,
            })
            .await?;
        if outcome.denial == Some(Denial::RateLimited)
            && let (Some(token), Some(rate)) = (&outcome.token, &outcome.rate)
        {
            self.deny_cache.remember(key_hash, token, rate, observation);
        }
        Ok(AuthorizeDecision {
            denial: outcome.denial,
            token: outcome.token,
            rate: outcome.rate,
            cost: input.cost,
        })
    }

    fn denied_without_lookup(&self, denial: Denial) -> AuthorizeDecision {
        AuthorizeDecision {
            denial: Some(denial),
            token: None,
            rate: None,
            cost: 0,
        }
    }

    /// Reports a token's windows; with a cost, tests it (`dry_run`) or consumes it.
    pub async fn check_rate_limit(
        &self,
        target: TokenTarget<'_>,
        cost: u64,
        dry_run: bool,
    ) -> Result<RateReport> {
        let locator = match target {
            TokenTarget::Key(raw) => match parse_presented(raw) {
                PresentedKey::WellFormed(hash) => TokenLocator::Key(hash),
                PresentedKey::Missing | PresentedKey::Malformed => {
                    return Err(Error::NotFound(
                        "no token matches the access token; check that it was copied whole"
                            .to_owned(),
                    ));
                }
            },
            TokenTarget::Id {
                project_id,
                token_id,
            } => TokenLocator::Id {
                project_id,
                token_id,
            },
        };
        let mode = match (cost, dry_run) {
            (0, _) => RateMode::Report,
            (_, true) => RateMode::DryRun,
            (_, false) => RateMode::Consume,
        };

        let report = self
            .store
            .rate_limit(locator, cost.max(1), mode, self.system)
            .await
            .map_err(|error| match error {
                StoreError::NotFound { kind: "token", .. }
                    if matches!(target, TokenTarget::Key(_)) =>
                {
                    Error::NotFound("no token matches the access token".to_owned())
                }
                other => other.into(),
            })?;
        if mode == RateMode::Consume && report.status != TokenStatus::Enabled {
            return Err(Error::FailedPrecondition(format!(
                "token {} is {}; only an enabled token can consume its rate limit",
                report.token.token_id,
                report.status.name()
            )));
        }
        Ok(report)
    }

    /// Creates a project with one token per scope, each named after its scope.
    pub async fn create_project(
        &self,
        account_id: &str,
        project_id: &str,
        name: &str,
    ) -> Result<(ProjectRecord, Vec<IssuedToken>)> {
        let now = now_ms();
        let project = ProjectRecord {
            project_id: project_id.to_owned(),
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            created_at_ms: now,
        };

        let mut issued = Vec::with_capacity(Scope::ALL.len());
        for scope in Scope::ALL {
            let input = NewTokenInput {
                project_id: project_id.to_owned(),
                name: scope.name().to_owned(),
                scopes: [scope].into_iter().collect(),
                user_limit: None,
                expires_at_ms: None,
            };
            issued.push(new_token(&input, now)?);
        }
        let new_tokens: Vec<NewToken> = issued.iter().map(to_new_token).collect();

        self.store.create_project(&project, &new_tokens).await?;
        Ok((project, issued))
    }

    /// Deletes a project and its tokens, returning how many tokens were deleted.
    pub async fn delete_project(&self, project_id: &str) -> Result<u32> {
        let deleted = self.store.delete_project(project_id).await;
        self.deny_cache.forget_project(project_id);
        Ok(deleted?)
    }

    /// Sets an account's plan.
    pub async fn set_account_plan(&self, account_id: &str, plan: Plan) -> Result<()> {
        let set = self.store.set_account_plan(account_id, plan).await;
        // The cache does not know the accounts of its tokens, and plan changes are rare.
        self.deny_cache.clear();
        Ok(set?)
    }

    /// Creates a token. A user-defined limit needs the project's account on the paid plan.
    pub async fn create_token(&self, input: &NewTokenInput) -> Result<IssuedToken> {
        if input.user_limit.is_some() {
            self.require_paid(&input.project_id).await?;
        } else {
            // Fails early with NOT_FOUND, before a key is generated.
            self.store.get_project(&input.project_id).await?;
        }

        let issued = new_token(input, now_ms())?;
        self.store.create_token(&to_new_token(&issued)).await?;
        Ok(issued)
    }

    /// Reads a token.
    pub async fn get_token(&self, project_id: &str, token_id: &str) -> Result<TokenRecord> {
        Ok(self.store.get_token(project_id, token_id).await?)
    }

    /// Lists a page of a project's tokens.
    pub async fn list_tokens(
        &self,
        project_id: &str,
        status: Option<TokenStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TokenPage> {
        Ok(self
            .store
            .list_tokens(ListQuery {
                project_id,
                status,
                after,
                limit,
                now_ms: now_ms(),
            })
            .await?)
    }

    /// Updates the fields a patch names. Setting a user-defined limit needs the paid plan.
    pub async fn update_token(
        &self,
        project_id: &str,
        token_id: &str,
        patch: &TokenPatch,
    ) -> Result<TokenRecord> {
        if patch.sets_user_limit() {
            self.require_paid(project_id).await?;
        }
        let updated = self
            .store
            .update_token(project_id, token_id, patch, now_ms())
            .await;
        // Dropped even after a failure, because a write that timed out may still have happened.
        self.deny_cache.forget_token(project_id, token_id);
        Ok(updated?)
    }

    /// Expires a token for good.
    pub async fn expire_token(&self, project_id: &str, token_id: &str) -> Result<TokenRecord> {
        let expired = self
            .store
            .expire_token(project_id, token_id, now_ms())
            .await;
        self.deny_cache.forget_token(project_id, token_id);
        Ok(expired?)
    }

    /// Deletes a token.
    pub async fn delete_token(&self, project_id: &str, token_id: &str) -> Result<()> {
        let deleted = self.store.delete_token(project_id, token_id).await;
        self.deny_cache.forget_token(project_id, token_id);
        Ok(deleted?)
    }

    /// Regenerates one token, whatever its status.
    pub async fn regenerate_token(&self, project_id: &str, token_id: &str) -> Result<IssuedToken> {
        let key = AccessKey::generate()?;
        let regenerated = self
            .store
            .regenerate_token(project_id, token_id, &new_key(&key), now_ms(), false)
            .await;
        self.deny_cache.forget_token(project_id, token_id);
        let record =
            regenerated?.ok_or_else(|| Error::NotFound(format!("token {token_id} not found")))?;
        Ok(IssuedToken { record, key })
    }

    /// Regenerates every expired token of a project.
    pub async fn regenerate_project(&self, project_id: &str) -> Result<Regenerated> {
        let project = self.store.get_project(project_id).await?;
        let mut result = Regenerated::default();
        let regenerated = self.regenerate_expired_in(&project, &mut result).await;
        self.deny_cache.forget_project(project_id);
        regenerated?;
        Ok(result)
    }

    /// Regenerates every expired token of every project of an account.
    pub async fn regenerate_account(&self, account_id: &str) -> Result<Regenerated> {
        let projects = self.store.account_projects(account_id).await?;
        let mut result = Regenerated::default();
        for project in &projects {
            let regenerated = self.regenerate_expired_in(project, &mut result).await;
            self.deny_cache.forget_project(&project.project_id);
            regenerated?;
        }
        Ok(result)
    }

    async fn regenerate_expired_in(
        &self,
        project: &ProjectRecord,
        result: &mut Regenerated,
    ) -> Result<()> {
        // Collect the ids first: regenerating changes the very statuses the listing filters on.
        let mut expired_ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .list_tokens(
                    &project.project_id,
                    Some(TokenStatus::Expired),
                    after.as_deref(),
                    500,
                )
                .await?;
            expired_ids.extend(page.tokens.into_iter().map(|token| token.token_id));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }

        let before = result.tokens.len();
        for token_id in expired_ids {
            let key = AccessKey::generate()?;
            // A token that stopped being expired meanwhile (or was regenerated by a concurrent
            // run) is skipped, so running the same regeneration twice regenerates nothing.
            let regenerated = self
                .store
                .regenerate_token(
                    &project.project_id,
                    &token_id,
                    &new_key(&key),
                    now_ms(),
                    true,
                )
                .await;
            match regenerated {
                Ok(Some(record)) => result
                    .tokens
                    .push((project.name.clone(), IssuedToken { record, key })),
                Ok(None) | Err(StoreError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        if result.tokens.len() > before {
            result.project_count += 1;
        }
        Ok(())
    }

    async fn require_paid(&self, project_id: &str) -> Result<()> {
        let project = self.store.get_project(project_id).await?;
        match self.store.account_plan(&project.account_id).await? {
            Plan::Paid => Ok(()),
            Plan::Free => Err(Error::FailedPrecondition(format!(
                "account {} is on the free plan; user-defined rate limits need the paid plan",
                project.account_id
            ))),
        }
    }
}

/// Writes the account regeneration CSV (RFC 4180, one header row).
pub fn regenerated_csv(
    tokens: &[(String, IssuedToken)],
) -> std::result::Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "project_id",
        "project_name",
        "token_id",
        "token_name",
        "scopes",
        "access_token",
    ])?;
    for (project_name, issued) in tokens {
        writer.write_record([
            issued.record.project_id.as_str(),
            project_name.as_str(),
            issued.record.token_id.as_str(),
            issued.record.name.as_str(),
            issued.record.scopes.join(" ").as_str(),
            issued.key.expose(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|error| error.into_error())?;
    // Every field is a Rust string, so the output is valid UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn new_token(input: &NewTokenInput, now: i64) -> Result<IssuedToken> {
    let key = AccessKey::generate()?;
    let record = TokenRecord {
        token_id: generate_token_id(now)?,
        project_id: input.project_id.clone(),
        name: input.name.clone(),
        scopes: input.scopes,
        status: TokenStatus::Enabled,
        user_limit: input.user_limit,
        expires_at_ms: input.expires_at_ms,
        created_at_ms: now,
        modified_at_ms: now,
        key_hint: key.hint(),
    };
    Ok(IssuedToken { record, key })
}

fn to_new_token(issued: &IssuedToken) -> NewToken {
    NewToken {
        record: issued.record.clone(),
        key_hash: issued.key.hash(),
    }
}

fn new_key(key: &AccessKey) -> NewKey {
    NewKey {
        hash: key.hash(),
        hint: key.hint(),
    }
}
