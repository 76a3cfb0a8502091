//! The gRPC transport: the `TokenAuthority` service, the admin credential check of the
//! management RPCs, field validation, proto conversions and the one error-to-status mapping.

mod admin;
mod convert;
mod status;
mod validate;

pub use admin::{AUTHORIZATION_HEADER, AdminToken, MIN_ADMIN_TOKEN_BYTES};
pub use status::UNAUTHENTICATED_MESSAGE;

use std::{future::Future, sync::Arc, time::Duration};

use tonic::{Request, Response, Status};
use tracing::Span;

use crate::{
    domain::now_ms,
    proto::v1::{self as pb, token_authority_server::TokenAuthority},
    service::{self, Authority, AuthorizeInput, Error, NewTokenInput, TokenTarget},
    store::Store,
    telemetry,
};

/// The maximum part of the caller's deadline kept back, so that a slow store turns into
/// UNAVAILABLE before the caller gives up. The margin is a tenth of the deadline, at least 1 ms.
const DEADLINE_MARGIN: Duration = Duration::from_millis(20);

/// The `tokenauthority.v1.TokenAuthority` service over a store.
#[derive(Debug)]
pub struct TokenAuthorityService<S> {
    authority: Arc<Authority<S>>,
    /// The token that Manage, Regenerate and CheckRateLimit require; `None` lets every caller
    /// use them.
    admin_token: Option<AdminToken>,
}

impl<S> TokenAuthorityService<S> {
    /// Creates the service, with the management RPCs open to every caller.
    pub fn new(authority: Arc<Authority<S>>) -> Self {
        TokenAuthorityService {
            authority,
            admin_token: None,
        }
    }

    /// Makes Manage, Regenerate and CheckRateLimit require `admin_token`, when it is set.
    #[must_use]
    pub fn with_admin_token(mut self, admin_token: Option<AdminToken>) -> Self {
        self.admin_token = admin_token;
        self
    }

    /// Rejects a management request that lacks the admin token, before anything is read.
    fn require_admin<T>(&self, request: &Request<T>) -> Result<(), Status> {
        admin::require_admin(self.admin_token.as_ref(), request).map_err(Status::from)
    }
}

/// Runs `operation` within the caller's deadline, less a margin, so a slow store turns into
/// UNAVAILABLE rather than the caller's own DEADLINE_EXCEEDED.
async fn within_deadline<T, R>(
    request: &Request<R>,
    operation: impl Future<Output = service::Result<T>>,
) -> Result<T, Status> {
    let Some(budget) = caller_timeout(request) else {
        return operation.await.map_err(Status::from);
    };
    let margin = (budget / 10).clamp(Duration::from_millis(1), DEADLINE_MARGIN);
    match tokio::time::timeout(budget.saturating_sub(margin), operation).await {
        Ok(result) => result.map_err(Status::from),
        Err(_) => {
            if telemetry::first_of_run("store did not respond before the request deadline") {
                tracing::warn!(timeout = ?budget, "store did not respond before the request deadline");
            }
            Err(Status::unavailable(format!(
                "the token store did not answer within the request deadline of {budget:?}; retry with backoff"
            )))
        }
    }
}

/// Returns the snake_case name of a gRPC code, as the gRPC specification spells it.
pub fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "ok",
        tonic::Code::Cancelled => "cancelled",
        tonic::Code::Unknown => "unknown",
        tonic::Code::InvalidArgument => "invalid_argument",
        tonic::Code::DeadlineExceeded => "deadline_exceeded",
        tonic::Code::NotFound => "not_found",
        tonic::Code::AlreadyExists => "already_exists",
        tonic::Code::PermissionDenied => "permission_denied",
        tonic::Code::ResourceExhausted => "resource_exhausted",
        tonic::Code::FailedPrecondition => "failed_precondition",
        tonic::Code::Aborted => "aborted",
        tonic::Code::OutOfRange => "out_of_range",
        tonic::Code::Unimplemented => "unimplemented",
        tonic::Code::Internal => "internal",
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::DataLoss => "data_loss",
        tonic::Code::Unauthenticated => "unauthenticated",
    }
}

/// Reads the `grpc-timeout` header: an integer of at most 8 digits and a unit letter.
fn caller_timeout<R>(request: &Request<R>) -> Option<Duration> {
    let header = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = header.split_at(header.len().checked_sub(1)?);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.saturating_mul(3600)),
        "M" => Duration::from_secs(value.saturating_mul(60)),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

// Each RPC runs in the span that `telemetry::RpcTraceLayer` creates around the server, with
// empty fields that the handlers record as the values become known.
#[tonic::async_trait]
impl<S: Store> TokenAuthority for TokenAuthorityService<S> {
    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        let message = request.get_ref();
        let system = self.authority.system_limit();
        let action = validate::action("action", message.action)?;
        let project_id = validate::optional_id("project_id", &message.project_id)?;
        let cost = validate::cost("cost", message.cost, system, 1)?;
        Span::current().record("action", tracing::field::debug(action));

        let input = AuthorizeInput {
            access_token: &message.access_token,
            action,
            platform: &message.platform,
            project_id,
            cost,
        };
        let decision = within_deadline(&request, self.authority.authorize(input)).await?;

        telemetry::record_authorize(&decision);
        Ok(Response::new(authorize_response(decision)))
    }

    async fn check_rate_limit(
        &self,
        request: Request<pb::CheckRateLimitRequest>,
    ) -> Result<Response<pb::CheckRateLimitResponse>, Status> {
        use pb::check_rate_limit_request::Token;

        self.require_admin(&request)?;
        let message = request.get_ref();
        let system = self.authority.system_limit();
        let target = match &message.token {
            Some(Token::AccessToken(key)) => TokenTarget::Key(key),
            Some(Token::TokenRef(token)) => {
                let (project_id, token_id) = validate::token_ref("token_ref", Some(token))?;
                TokenTarget::Id {
                    project_id,
                    token_id,
                }
            }
            None => {
                return Err(
                    Error::invalid("token", "is required; set access_token or token_ref").into(),
                );
            }
        };
        let cost = validate::cost("cost", message.cost, system, 0)?;

        let report = within_deadline(
            &request,
            self.authority
                .check_rate_limit(target, cost, message.dry_run),
        )
        .await?;
        Span::current().record("project_id", report.token.project_id.as_str());
        Span::current().record("token_id", report.token.token_id.as_str());

        let outcome = &report.outcome;
        Ok(Response::new(pb::CheckRateLimitResponse {
            project_id: report.token.project_id.clone(),
            token_id: report.token.token_id.clone(),
            status: convert::status(report.status) as i32,
            windows: convert::windows(outcome),
            allowed: outcome.allowed,
            consumed: outcome.consumed,
            first_denial_in_window: outcome.first_denial,
            rate_limit: outcome.headers(cost.max(1)).map(convert::headers),
        }))
    }

    async fn manage(
        &self,
        request: Request<pb::ManageRequest>,
    ) -> Result<Response<pb::ManageResponse>, Status> {
        self.require_admin(&request)?;
        let operation = request.get_ref().operation.clone().ok_or_else(|| {
            Status::from(Error::invalid(
                "operation",
                "is required; set exactly one operation",
            ))
        })?;
        let result = within_deadline(&request, self.run_manage(operation)).await?;
        Ok(Response::new(pb::ManageResponse {
            result: Some(result),
        }))
    }

    async fn regenerate(
        &self,
        request: Request<pb::RegenerateRequest>,
    ) -> Result<Response<pb::RegenerateResponse>, Status> {
        self.require_admin(&request)?;
        let target = request.get_ref().target.clone().ok_or_else(|| {
            Status::from(Error::invalid(
                "target",
                "is required; set token, project_id or account_id",
            ))
        })?;
        let response = within_deadline(&request, self.run_regenerate(target)).await?;
        Span::current().record("regenerated", response.tokens.len());
        Ok(Response::new(response))
    }
}

impl<S: Store> TokenAuthorityService<S> {
    async fn run_manage(
        &self,
        operation: pb::manage_request::Operation,
    ) -> service::Result<pb::manage_response::Result> {
        use pb::{manage_request::Operation as Op, manage_response::Result as Out};

        let authority = &self.authority;
        let system = authority.system_limit();
        let span = Span::current();
        let result = match operation {
            Op::CreateProject(op) => {
                span.record("operation", "create_project");
                validate::id("create_project.account_id", &op.account_id)?;
                validate::id("create_project.project_id", &op.project_id)?;
                validate::name("create_project.name", &op.name)?;
                let (project, tokens) = authority
                    .create_project(&op.account_id, &op.project_id, &op.name)
                    .await?;
                tracing::info!(project_id = %project.project_id, account_id = %project.account_id, "project created");
                Out::CreateProject(pb::CreateProjectResult {
                    project: Some(convert::project(&project)),
                    tokens: tokens.iter().map(convert::issued).collect(),
                })
            }
            Op::DeleteProject(op) => {
                span.record("operation", "delete_project");
                validate::id("delete_project.project_id", &op.project_id)?;
                let deleted = authority.delete_project(&op.project_id).await?;
                tracing::info!(project_id = %op.project_id, deleted_tokens = deleted, "project deleted");
                Out::DeleteProject(pb::DeleteProjectResult {
                    deleted_token_count: i32::try_from(deleted).unwrap_or(i32::MAX),
                })
            }
            Op::SetAccountPlan(op) => {
                span.record("operation", "set_account_plan");
                validate::id("set_account_plan.account_id", &op.account_id)?;
                let plan = validate::plan("set_account_plan.plan", op.plan)?;
                authority.set_account_plan(&op.account_id, plan).await?;
                tracing::info!(account_id = %op.account_id, plan = ?plan, "account plan set");
                Out::SetAccountPlan(pb::SetAccountPlanResult {
                    account: Some(pb::Account {
                        account_id: op.account_id,
                        plan: convert::plan(plan) as i32,
                    }),
                })
            }
            Op::CreateToken(op) => {
                span.record("operation", "create_token");
                validate::id("create_token.project_id", &op.project_id)?;
                validate::name("create_token.name", &op.name)?;
                let input = NewTokenInput {
                    scopes: validate::scopes("create_token.scopes", &op.scopes)?,
                    user_limit: validate::user_limit(
                        "create_token.rate_limit",
                        op.rate_limit.as_ref(),
                        system,
                    )?,
                    expires_at_ms: validate::expires_at(
                        "create_token.expires_at",
                        op.expires_at.as_ref(),
                        now_ms(),
                    )?,
                    project_id: op.project_id,
                    name: op.name,
                };
                let issued = authority.create_token(&input).await?;
                tracing::info!(project_id = %input.project_id, token_id = %issued.record.token_id, "token created");
                Out::CreateToken(pb::CreateTokenResult {
                    token: Some(convert::issued(&issued)),
                })
            }
            Op::GetToken(op) => {
                span.record("operation", "get_token");
                let (project_id, token_id) =
                    validate::token_ref("get_token.token", op.token.as_ref())?;
                let record = authority.get_token(project_id, token_id).await?;
                Out::GetToken(pb::GetTokenResult {
                    token: Some(convert::token(&record)),
                })
            }
            Op::ListTokens(op) => {
                span.record("operation", "list_tokens");
                validate::id("list_tokens.project_id", &op.project_id)?;
                let status = validate::status_filter("list_tokens.status", op.status)?;
                let limit = validate::page_size("list_tokens.page_size", op.page_size)?;
                let after = validate::page_token("list_tokens.page_token", &op.page_token)?;
                let page = authority
                    .list_tokens(&op.project_id, status, after, limit)
                    .await?;
                Out::ListTokens(pb::ListTokensResult {
                    tokens: page.tokens.iter().map(convert::token).collect(),
                    next_page_token: page.next_after.unwrap_or_default(),
                })
            }
            Op::UpdateToken(op) => {
                span.record("operation", "update_token");
                let (project_id, token_id) =
                    validate::token_ref("update_token.token", op.token.as_ref())?;
                let patch = validate::patch(
                    "update_token",
                    op.update.as_ref(),
                    op.update_mask.as_ref(),
                    system,
                    now_ms(),
                )?;
                let record = authority.update_token(project_id, token_id, &patch).await?;
                tracing::info!(project_id, token_id, "token updated");
                Out::UpdateToken(pb::UpdateTokenResult {
                    token: Some(convert::token(&record)),
                })
            }
            Op::ExpireToken(op) => {
                span.record("operation", "expire_token");
                let (project_id, token_id) =
                    validate::token_ref("expire_token.token", op.token.as_ref())?;
                let record = authority.expire_token(project_id, token_id).await?;
                tracing::info!(project_id, token_id, "token expired");
                Out::ExpireToken(pb::ExpireTokenResult {
                    token: Some(convert::token(&record)),
                })
            }
            Op::DeleteToken(op) => {
                span.record("operation", "delete_token");
                let (project_id, token_id) =
                    validate::token_ref("delete_token.token", op.token.as_ref())?;
                authority.delete_token(project_id, token_id).await?;
                tracing::info!(project_id, token_id, "token deleted");
                Out::DeleteToken(pb::DeleteTokenResult {})
            }
        };
        Ok(result)
    }

    async fn run_regenerate(
        &self,
        target: pb::regenerate_request::Target,
    ) -> service::Result<pb::RegenerateResponse> {
        use pb::regenerate_request::Target;

        let authority = &self.authority;
        let span = Span::current();
        let response = match target {
            Target::Token(token) => {
                span.record("target", "token");
                let (project_id, token_id) = validate::token_ref("token", Some(&token))?;
                let issued = authority.regenerate_token(project_id, token_id).await?;
                tracing::info!(project_id, token_id, "token regenerated");
                pb::RegenerateResponse {
                    tokens: vec![convert::issued(&issued)],
                    csv: String::new(),
                    project_count: 1,
                }
            }
            Target::ProjectId(project_id) => {
                span.record("target", "project");
                validate::id("project_id", &project_id)?;
                let regenerated = authority.regenerate_project(&project_id).await?;
                tracing::info!(%project_id, tokens = regenerated.tokens.len(), "project tokens regenerated");
                pb::RegenerateResponse {
                    tokens: regenerated
                        .tokens
                        .iter()
                        .map(|(_, issued)| convert::issued(issued))
                        .collect(),
                    csv: String::new(),
                    project_count: regenerated.project_count as i32,
                }
            }
            Target::AccountId(account_id) => {
                span.record("target", "account");
                validate::id("account_id", &account_id)?;
                let regenerated = authority.regenerate_account(&account_id).await?;
                let csv = service::regenerated_csv(&regenerated.tokens).map_err(|error| {
                    Error::Internal(crate::store::StoreError::Corrupt(format!(
                        "failed to write the CSV: {error}"
                    )))
                })?;
                tracing::info!(
                    %account_id,
                    projects = regenerated.project_count,
                    tokens = regenerated.tokens.len(),
                    "account tokens regenerated"
                );
                pb::RegenerateResponse {
                    tokens: regenerated
                        .tokens
                        .iter()
                        .map(|(_, issued)| convert::issued(issued))
                        .collect(),
                    csv,
                    project_count: regenerated.project_count as i32,
                }
            }
        };
        Ok(response)
    }
}

/// Builds Authorize's reply from its decision, moving the token's strings into it.
#[doc(hidden)]
pub fn authorize_response(decision: service::AuthorizeDecision) -> pb::AuthorizeResponse {
    let mut response = pb::AuthorizeResponse {
        decision: pb::Decision::Allow as i32,
        http_status: 200,
        ..Default::default()
    };
    if let Some(denial) = decision.denial {
        response.decision = pb::Decision::Deny as i32;
        response.denial_reason = convert::denial_reason(denial) as i32;
        response.http_status = i32::from(denial.http_status());
        response.message = denial.message();
    }
    if let Some(token) = decision.token {
        response.project_id = token.project_id;
        response.token_id = token.token_id;
        response.token_name = token.name;
        response.scopes = convert::scopes(token.scopes);
    }
    if let Some(rate) = &decision.rate {
        response.rate_limit = rate.headers(decision.cost).map(convert::headers);
        response.first_denial_in_window = rate.first_denial;
    }
    response
}
