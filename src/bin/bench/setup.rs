//! The untimed setup: projects and tokens for a workload, created through Manage on the server,
//! or through the crate's own [`Authority`] over the same Redis for the redis-direct target, so
//! that both targets see tokens of the same shape.

use futures::{StreamExt, TryStreamExt, stream};
use tonic::transport::Channel;

use token_authority::{
    domain::{Action, Plan, Scope, SystemLimit, UserLimit},
    proto::v1::{
        self as pb, manage_request::Operation, manage_response::Result as Outcome,
        token_authority_client::TokenAuthorityClient,
    },
    service::{Authority, AuthorizeInput, NewTokenInput},
    store::redis::RedisStore,
};

/// How many setup calls run at once.
const SETUP_PARALLELISM: usize = 32;

/// The user-defined limit of the flood workload's token: one request per hour, spent during
/// setup, so every timed call is over the limit.
pub const FLOOD_LIMIT: UserLimit = UserLimit {
    count: 1,
    window_seconds: 3600,
};

/// The destination of setup calls.
pub enum Admin {
    /// Manage and Authorize on the server.
    Grpc(TokenAuthorityClient<Channel>),
    /// The crate's authority over the Redis the baseline runs against.
    Direct(Box<Authority<RedisStore>>),
}

impl Admin {
    /// Creates a project and returns the key of its `post_server_item` token.
    pub async fn create_project(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> Result<String, String> {
        match self {
            Admin::Grpc(client) => {
                let operation = Operation::CreateProject(pb::CreateProjectOperation {
                    account_id: account_id.to_owned(),
                    project_id: project_id.to_owned(),
                    name: project_id.to_owned(),
                });
                let Outcome::CreateProject(result) = manage(client, operation).await? else {
                    return Err("Manage returned another operation's result".to_owned());
                };
                result
                    .tokens
                    .into_iter()
                    .find(|issued| {
                        issued
                            .token
                            .as_ref()
                            .is_some_and(|token| token.scopes == [pb::Scope::PostServerItem as i32])
                    })
                    .map(|issued| issued.access_token)
                    .ok_or_else(|| "the new project has no post_server_item token".to_owned())
            }
            Admin::Direct(authority) => {
                let (_, issued) = authority
                    .create_project(account_id, project_id, project_id)
                    .await
                    .map_err(|error| format!("failed to create project {project_id}: {error}"))?;
                issued
                    .into_iter()
                    .find(|issued| issued.record.scopes.contains(Scope::PostServerItem))
                    .map(|issued| issued.key.expose().to_owned())
                    .ok_or_else(|| "the new project has no post_server_item token".to_owned())
            }
        }
    }

    /// Puts an account on the paid plan, so that user-defined limits are enforced.
    pub async fn set_paid(&self, account_id: &str) -> Result<(), String> {
        match self {
            Admin::Grpc(client) => {
                let operation = Operation::SetAccountPlan(pb::SetAccountPlanOperation {
                    account_id: account_id.to_owned(),
                    plan: pb::AccountPlan::Paid as i32,
                });
                manage(client, operation).await.map(drop)
            }
            Admin::Direct(authority) => authority
                .set_account_plan(account_id, Plan::Paid)
                .await
                .map_err(|error| format!("failed to set the plan of {account_id}: {error}")),
        }
    }

    /// Creates a `post_server_item` token and returns its key.
    pub async fn create_token(
        &self,
        project_id: &str,
        name: &str,
        user_limit: Option<UserLimit>,
    ) -> Result<String, String> {
        match self {
            Admin::Grpc(client) => {
                let operation = Operation::CreateToken(pb::CreateTokenOperation {
                    project_id: project_id.to_owned(),
                    name: name.to_owned(),
                    scopes: vec![pb::Scope::PostServerItem as i32],
                    rate_limit: user_limit.map(|limit| pb::UserRateLimit {
                        count: limit.count as i64,
                        window_seconds: limit.window_seconds as i64,
                    }),
                    expires_at: None,
                });
                let Outcome::CreateToken(result) = manage(client, operation).await? else {
                    return Err("Manage returned another operation's result".to_owned());
                };
                result
                    .token
                    .map(|issued| issued.access_token)
                    .ok_or_else(|| "CreateToken returned no token".to_owned())
            }
            Admin::Direct(authority) => {
                let input = NewTokenInput {
                    project_id: project_id.to_owned(),
                    name: name.to_owned(),
                    scopes: [Scope::PostServerItem].into_iter().collect(),
                    user_limit,
                    expires_at_ms: None,
                };
                authority
                    .create_token(&input)
                    .await
                    .map(|issued| issued.key.expose().to_owned())
                    .map_err(|error| format!("failed to create a token in {project_id}: {error}"))
            }
        }
    }

    /// Creates `count` tokens in a project, several at a time, and returns their keys.
    pub async fn create_tokens(&self, project_id: &str, count: u32) -> Result<Vec<String>, String> {
        stream::iter(0..count)
            .map(|index| async move {
                self.create_token(project_id, &format!("bench-{index}"), None)
                    .await
            })
            .buffer_unordered(SETUP_PARALLELISM)
            .try_collect()
            .await
    }

    /// Authorizes one item post with `key` and returns whether it was allowed.
    pub async fn post_item(&self, key: &str) -> Result<bool, String> {
        match self {
            Admin::Grpc(client) => {
                let response = client
                    .clone()
                    .authorize(post_item_request(key))
                    .await
                    .map_err(|status| format!("Authorize failed: {}", status.message()))?;
                Ok(response.into_inner().decision == pb::Decision::Allow as i32)
            }
            Admin::Direct(authority) => {
                let decision = authority
                    .authorize(AuthorizeInput {
                        access_token: key,
                        action: Action::PostItem,
                        platform: PLATFORM,
                        project_id: None,
                        cost: 1,
                    })
                    .await
                    .map_err(|error| format!("Authorize failed: {error}"))?;
                Ok(decision.denial.is_none())
            }
        }
    }
}

/// The platform of every timed item post: a server-side one, which needs `post_server_item`.
pub const PLATFORM: &str = "python";

/// Returns the Authorize request every timed gRPC call sends, for `key`.
pub fn post_item_request(key: &str) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        access_token: key.to_owned(),
        action: pb::Action::PostItem as i32,
        platform: PLATFORM.to_owned(),
        project_id: String::new(),
        cost: 1,
    }
}

/// Builds the authority the redis-direct target sets up its tokens with.
pub async fn direct_admin(redis_url: &str, system: SystemLimit) -> Result<Admin, String> {
    let store = RedisStore::new(&token_authority::store::redis::RedisConfig {
        url: redis_url.to_owned(),
        cluster: false,
        pool_size: SETUP_PARALLELISM,
        command_timeout: std::time::Duration::from_secs(5),
    })
    .map_err(|error| format!("invalid --redis-url: {error}"))?;
    store
        .load_scripts()
        .await
        .map_err(|error| format!("failed to load the Lua scripts into Redis: {error}"))?;
    Ok(Admin::Direct(Box::new(Authority::new(store, system))))
}

async fn manage(
    client: &TokenAuthorityClient<Channel>,
    operation: Operation,
) -> Result<Outcome, String> {
    let response = client
        .clone()
        .manage(pb::ManageRequest {
            operation: Some(operation),
        })
        .await
        .map_err(|status| {
            format!(
                "Manage failed with {:?}: {}",
                status.code(),
                status.message()
            )
        })?;
    response
        .into_inner()
        .result
        .ok_or_else(|| "Manage returned no result".to_owned())
}
