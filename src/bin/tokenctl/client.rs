//! The connection to the token authority: connecting, and running each call under the timeout.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use token_authority::proto::v1::{
    self as pb, manage_request::Operation, manage_response,
    token_authority_client::TokenAuthorityClient,
};
use tonic::{Code, Request, Response, Status, transport::Channel, transport::Endpoint};

use crate::{error::CliError, values::AdminCredential};

/// A connected client with the server address, the per-call timeout and the admin token.
pub struct Session {
    client: TokenAuthorityClient<Channel>,
    server: String,
    timeout: Duration,
    admin_token: Option<AdminCredential>,
}

impl Session {
    /// Connects to `server`, giving up after `timeout`. `admin_token`, when set, goes with every
    /// call except Authorize.
    pub async fn connect(
        server: &str,
        timeout: Duration,
        admin_token: Option<AdminCredential>,
    ) -> Result<Self, CliError> {
        // The address was checked when the options were parsed.
        let endpoint = Endpoint::from_shared(server.to_owned())
            .map_err(|error| CliError::unreachable(server, &error))?
            .connect_timeout(timeout);
        let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(error)) => return Err(CliError::unreachable(server, &error)),
            Err(_) => {
                return Err(CliError::Unreachable {
                    server: server.to_owned(),
                    detail: format!(
                        "no connection within {}",
                        humantime::format_duration(timeout)
                    ),
                });
            }
        };
        Ok(Session {
            client: TokenAuthorityClient::new(channel),
            server: server.to_owned(),
            timeout,
            admin_token,
        })
    }

    /// Calls Manage with one operation and returns its result.
    pub async fn manage(
        &self,
        operation_name: &'static str,
        operation: Operation,
    ) -> Result<manage_response::Result, CliError> {
        let request = self.management_request(pb::ManageRequest {
            operation: Some(operation),
        });
        let reply = self
            .finish(operation_name, self.client.clone().manage(request))
            .await?;
        reply.result.ok_or(CliError::IncompleteReply {
            operation: operation_name,
            missing: "result",
        })
    }

    /// Calls Regenerate.
    pub async fn regenerate(
        &self,
        operation_name: &'static str,
        target: pb::regenerate_request::Target,
    ) -> Result<pb::RegenerateResponse, CliError> {
        let request = self.management_request(pb::RegenerateRequest {
            target: Some(target),
        });
        self.finish(operation_name, self.client.clone().regenerate(request))
            .await
    }

    /// Calls Authorize.
    pub async fn authorize(
        &self,
        request: pb::AuthorizeRequest,
    ) -> Result<pb::AuthorizeResponse, CliError> {
        let request = self.request(request);
        self.finish("authorize", self.client.clone().authorize(request))
            .await
    }

    /// Calls CheckRateLimit.
    pub async fn check_rate_limit(
        &self,
        request: pb::CheckRateLimitRequest,
    ) -> Result<pb::CheckRateLimitResponse, CliError> {
        let request = self.management_request(request);
        self.finish("check", self.client.clone().check_rate_limit(request))
            .await
    }

    /// Wraps a message in a request that sends the timeout to the server as the call's deadline.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Wraps a message like [`Session::request`] and adds the admin token, when one was given,
    /// as the `authorization` metadata that Manage, Regenerate and CheckRateLimit require.
    fn management_request<T>(&self, message: T) -> Request<T> {
        let mut request = self.request(message);
        if let Some(admin_token) = &self.admin_token {
            request
                .metadata_mut()
                .insert("authorization", admin_token.authorization());
        }
        request
    }

    /// Waits for a call's reply for at most the timeout and converts its error.
    async fn finish<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, CliError> {
        let started = Instant::now();
        let timed_out = || CliError::TimedOut {
            operation,
            server: self.server.clone(),
            timeout: self.timeout,
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            // tonic enforces the request's timeout itself and then returns CANCELLED, which
            // means the same as our own timer firing.
            Ok(Err(status))
                if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded)
                    && started.elapsed() >= self.timeout =>
            {
                Err(timed_out())
            }
            Ok(Err(status)) if status.code() == Code::Unauthenticated => {
                Err(CliError::Unauthenticated {
                    operation,
                    server: self.server.clone(),
                    token_sent: self.admin_token.is_some(),
                })
            }
            Ok(Err(status)) => Err(CliError::from_status(operation, &self.server, &status)),
            Err(_) => Err(timed_out()),
        }
    }
}
