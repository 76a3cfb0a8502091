//! The real `token-authority` executable, run as a child process on a free loopback port with
//! JSON logs: start-up, health, reflection, shutdown, configuration errors, Redis shared by two
//! processes, Redis failures, secrets kept out of the logs, callers that reset their calls, and the load
//! generator against the server.

mod bench;
mod config;
mod overload;
pub mod process;
mod redis;
mod secrets;
mod shutdown;
mod startup;

use tonic::transport::Channel;

use token_authority::proto::v1::{
    self as pb, Action, AuthorizeRequest, CreateProjectOperation, IssuedToken, ManageRequest,
    Scope, manage_request::Operation, manage_response::Result as ManageResult,
    token_authority_client::TokenAuthorityClient,
};

/// Creates a project through `client` and returns its four default tokens with their keys.
pub async fn create_project(
    client: &mut TokenAuthorityClient<Channel>,
    account_id: &str,
    project_id: &str,
) -> Vec<IssuedToken> {
    let request = ManageRequest {
        operation: Some(Operation::CreateProject(CreateProjectOperation {
            account_id: account_id.to_owned(),
            project_id: project_id.to_owned(),
            name: format!("{project_id} name"),
        })),
    };
    let response = client
        .manage(request)
        .await
        .unwrap_or_else(|status| panic!("create_project {project_id} failed: {status:?}"))
        .into_inner();
    match response.result {
        Some(ManageResult::CreateProject(result)) => result.tokens,
        other => panic!("create_project returned {other:?}"),
    }
}

/// Returns the key of the token whose only scope is `scope`.
pub fn key_with_scope(tokens: &[IssuedToken], scope: Scope) -> String {
    tokens
        .iter()
        .find(|issued| {
            issued
                .token
                .as_ref()
                .is_some_and(|token| token.scopes == [scope as i32])
        })
        .unwrap_or_else(|| panic!("no token with only the {scope:?} scope in {tokens:?}"))
        .access_token
        .clone()
}

/// Builds an Authorize request to post a server-side item with `key`.
pub fn post_server_item(key: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        access_token: key.to_owned(),
        action: Action::PostItem as i32,
        platform: "python".to_owned(),
        ..AuthorizeRequest::default()
    }
}

/// Returns whether `response` allowed the request.
pub fn allowed(response: &pb::AuthorizeResponse) -> bool {
    response.decision == pb::Decision::Allow as i32
}
