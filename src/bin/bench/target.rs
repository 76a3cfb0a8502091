//! The timed call: Authorize over gRPC, or `authorize.lua` with EVALSHA straight on Redis.
//!
//! Everything a call sends is built before the timed phase, one request per key, so the
//! generator spends as little CPU per call as it can: it shares the machine with the server.

use std::time::Duration;

use redis::{AsyncConnectionConfig, ScriptInvocation, Value, aio::MultiplexedConnection};
use tonic::{Request, transport::Channel, transport::Endpoint};

use token_authority::{
    domain::{Action, PresentedKey, SystemLimit, key::parse_presented},
    proto::v1::{self as pb, token_authority_client::TokenAuthorityClient},
    store::redis::authorize_invocation,
};

use crate::setup::{PLATFORM, post_item_request};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of one call, a decision or an error, as the label it is counted under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A reply: `allow`, or `deny/` and the denial reason.
    Reply(&'static str),
    /// A failed call: the gRPC status code in snake case, or a Redis failure.
    Error(&'static str),
}

/// The connections and prepared requests of one target.
pub enum Caller {
    /// Authorize over gRPC.
    Grpc {
        /// One client per HTTP/2 connection.
        clients: Vec<TokenAuthorityClient<Channel>>,
        /// The request for each key.
        requests: Vec<pb::AuthorizeRequest>,
        /// The deadline each call carries.
        deadline: Duration,
    },
    /// EVALSHA on Redis.
    Direct {
        /// The multiplexed connections.
        connections: Vec<MultiplexedConnection>,
        /// The script invocation for each key.
        invocations: Vec<ScriptInvocation<'static>>,
    },
}

impl Caller {
    /// Opens `count` HTTP/2 connections to the server.
    pub async fn grpc(
        server: &str,
        count: u32,
        keys: &[String],
        deadline: Duration,
    ) -> Result<Caller, String> {
        let mut clients = Vec::new();
        for _ in 0..count {
            clients.push(TokenAuthorityClient::new(connect_grpc(server).await?));
        }
        Ok(Caller::Grpc {
            clients,
            requests: keys.iter().map(|key| post_item_request(key)).collect(),
            deadline,
        })
    }

    /// Opens `count` multiplexed connections to Redis and prepares the script invocation the
    /// store would send for each key.
    pub async fn direct(
        redis_url: &str,
        count: u32,
        keys: &[String],
        deadline: Duration,
        system: SystemLimit,
    ) -> Result<Caller, String> {
        let client = redis::Client::open(redis_url)
            .map_err(|error| format!("invalid --redis-url: {error}"))?;
        let settings = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(deadline));
        let mut connections = Vec::new();
        for _ in 0..count {
            let connection = client
                .get_multiplexed_async_connection_with_config(&settings)
                .await
                .map_err(|error| format!("failed to connect to Redis: {error}"))?;
            connections.push(connection);
        }

        let required_scope = Action::PostItem.required_scope(PLATFORM);
        let invocations = keys
            .iter()
            .map(|key| match parse_presented(key) {
                PresentedKey::WellFormed(hash) => {
                    Ok(authorize_invocation(hash, None, required_scope, 1, system))
                }
                PresentedKey::Missing | PresentedKey::Malformed => {
                    Err("a workload key is malformed".to_owned())
                }
            })
            .collect::<Result<_, String>>()?;
        Ok(Caller::Direct {
            connections,
            invocations,
        })
    }

    /// Returns how many connections the caller has.
    pub fn connection_count(&self) -> usize {
        match self {
            Caller::Grpc { clients, .. } => clients.len(),
            Caller::Direct { connections, .. } => connections.len(),
        }
    }

    /// Makes one call with key `key` on connection `connection`.
    pub async fn call(&self, connection: usize, key: usize) -> Outcome {
        match self {
            Caller::Grpc {
                clients,
                requests,
                deadline,
            } => {
                let mut request = Request::new(requests[key].clone());
                request.set_timeout(*deadline);
                let sent = std::time::Instant::now();
                match clients[connection].clone().authorize(request).await {
                    Ok(response) => Outcome::Reply(decision_label(response.get_ref())),
                    // tonic ends a call whose deadline passes before the reply with CANCELLED.
                    Err(status)
                        if status.code() == tonic::Code::Cancelled
                            && sent.elapsed() >= *deadline =>
                    {
                        Outcome::Error("deadline_exceeded")
                    }
                    Err(status) => Outcome::Error(token_authority::grpc::code_name(status.code())),
                }
            }
            Caller::Direct {
                connections,
                invocations,
            } => {
                let mut connection = connections[connection].clone();
                match invocations[key]
                    .invoke_async::<Value>(&mut connection)
                    .await
                {
                    Ok(value) => Outcome::Reply(script_label(&value)),
                    Err(error) if error.is_timeout() => Outcome::Error("deadline_exceeded"),
                    Err(_) => Outcome::Error("redis_error"),
                }
            }
        }
    }
}

/// Connects one HTTP/2 connection to the server.
pub async fn connect_grpc(server: &str) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(server.to_owned())
        .map_err(|error| format!("invalid --server {server:?}: {error}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    endpoint
        .connect()
        .await
        .map_err(|error| format!("failed to connect to {server}: {error}"))
}

fn decision_label(response: &pb::AuthorizeResponse) -> &'static str {
    use pb::DenialReason as Reason;

    if response.decision == pb::Decision::Allow as i32 {
        return "allow";
    }
    match Reason::try_from(response.denial_reason) {
        Ok(Reason::RateLimited) => "deny/rate_limited",
        Ok(Reason::UnknownToken) => "deny/unknown_token",
        Ok(Reason::MissingToken) => "deny/missing_token",
        Ok(Reason::Disabled) => "deny/disabled",
        Ok(Reason::Expired) => "deny/expired",
        Ok(Reason::WrongProject) => "deny/wrong_project",
        Ok(Reason::InsufficientScope) => "deny/insufficient_scope",
        Ok(Reason::Unspecified) | Err(_) => "deny/unspecified",
    }
}

/// Labels a reply of `authorize.lua` by its first item, the status word.
fn script_label(value: &Value) -> &'static str {
    let status = match value {
        Value::Array(items) => items.first(),
        _ => None,
    };
    match status {
        Some(Value::BulkString(word)) => match word.as_slice() {
            b"ok" => "allow",
            b"rate_limited" => "deny/rate_limited",
            b"unknown" => "deny/unknown_token",
            b"disabled" => "deny/disabled",
            b"expired" => "deny/expired",
            b"wrong_project" => "deny/wrong_project",
            b"insufficient_scope" => "deny/insufficient_scope",
            _ => "deny/unspecified",
        },
        _ => "deny/unspecified",
    }
}
