//! Shutdown on SIGTERM and SIGINT: health turns NOT_SERVING, in-flight calls finish, and the
//! process exits with status 0 within the shutdown timeout.

use std::time::Duration;

use futures::StreamExt;
use nix::sys::signal::Signal;
use tokio::{
    sync::oneshot,
    task::JoinHandle,
    time::{Instant, timeout},
};
use tonic::{Request, Status, codegen::http::uri::PathAndQuery};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_prost::ProstCodec;

use token_authority::proto::v1::{AuthorizeRequest, AuthorizeResponse, Scope};

use super::{
    allowed, create_project, key_with_scope, post_server_item,
    process::{EXIT_TIMEOUT, ServerProcess, health_status, message, start},
};

#[tokio::test]
async fn sigterm_drains_and_exits() {
    drain_and_exit(Signal::SIGTERM).await;
}

#[tokio::test]
async fn sigint_drains_and_exits() {
    drain_and_exit(Signal::SIGINT).await;
}

/// Sends `signal` while one Authorize call is in flight and a health watch is open, then checks
/// that health turns NOT_SERVING, that the call completes, and that the process exits cleanly.
async fn drain_and_exit(signal: Signal) {
    let mut server = start(&["--shutdown-timeout-seconds", "5"]).await;
    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct-1", "proj-1").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    let mut watch = server
        .health()
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health watch failed")
        .into_inner();
    let first = watch
        .message()
        .await
        .unwrap()
        .expect("the health watch ended");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let held = HeldCall::start(&server, post_server_item(&key)).await;
    server.signal(signal);

    // The status change reaches the open watch before the server stops accepting streams.
    let next = timeout(Duration::from_secs(5), watch.message()).await;
    let next = next.expect("no health update within 5 s of the signal");
    let next = next.unwrap().expect("the health watch ended");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    // An open watch is itself an in-flight call that would hold the drain until its deadline.
    drop(watch);

    let released = Instant::now();
    let response = held
        .finish()
        .await
        .expect("the in-flight call failed during the drain");
    assert!(allowed(&response), "{response:?}");

    let status = server.wait_for_exit(EXIT_TIMEOUT).await;
    assert!(
        status.success(),
        "exit status {status}; logs:\n{}",
        server.stderr_text()
    );
    let drained_in = released.elapsed();
    assert!(
        drained_in < Duration::from_secs(5),
        "exited {drained_in:?} after the last call ended"
    );

    let name = match signal {
        Signal::SIGTERM => "SIGTERM",
        _ => "SIGINT",
    };
    let requested = server.logs_starting_with("shutdown requested");
    assert_eq!(requested.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(requested[0]["signal"], name);
    assert_eq!(
        server.logs_starting_with("draining in-flight calls").len(),
        1
    );
    assert_eq!(
        server.logs_starting_with("token authority stopped").len(),
        1
    );
    assert!(
        server
            .logs_starting_with("drain deadline passed")
            .is_empty()
    );
}

#[tokio::test]
async fn sigterm_at_start_exits_cleanly() {
    let mut server = start(&["--shutdown-timeout-seconds", "5"]).await;

    // No call has been served yet: the handler must already be installed when the address is logged.
    server.signal(Signal::SIGTERM);
    let status = server.wait_for_exit(EXIT_TIMEOUT).await;

    assert!(
        status.success(),
        "exit status {status}; logs:\n{}",
        server.stderr_text()
    );
    assert_eq!(server.logs_starting_with("shutdown requested").len(), 1);
    assert_eq!(
        server.logs_starting_with("token authority stopped").len(),
        1
    );
}

#[tokio::test]
async fn drain_deadline_ends_held_calls() {
    let mut server = start(&["--shutdown-timeout-seconds", "1"]).await;
    let held = HeldCall::start(
        &server,
        post_server_item("0123456789abcdef0123456789abcdef"),
    )
    .await;

    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = server.wait_for_exit(EXIT_TIMEOUT).await;
    let stopped_in = signalled.elapsed();

    assert!(
        status.success(),
        "exit status {status}; logs:\n{}",
        server.stderr_text()
    );
    assert!(
        stopped_in >= Duration::from_secs(1),
        "exited after {stopped_in:?}, before the deadline"
    );
    assert!(
        stopped_in < Duration::from_secs(5),
        "exited after {stopped_in:?}"
    );
    let deadline = server.logs_starting_with("drain deadline passed");
    assert_eq!(deadline.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(
        message(&deadline[0]),
        "drain deadline passed; closing the remaining calls"
    );
    assert!(
        held.finish().await.is_err(),
        "a call cut off by the deadline must fail"
    );
}

/// An Authorize call whose request stream stays open until [`HeldCall::finish`]. The call stays
/// in flight on the server meanwhile, because a unary handler reads the request stream to its end
/// before it replies.
struct HeldCall {
    release: oneshot::Sender<()>,
    call: JoinHandle<Result<AuthorizeResponse, Status>>,
}

impl HeldCall {
    /// Starts the call on its own connection and returns once the server has received it.
    async fn start(server: &ServerProcess, request: AuthorizeRequest) -> HeldCall {
        let channel = server.channel();
        let mut health = HealthClient::new(channel.clone());
        // A reply proves that the server accepted the connection, so the signal cannot reach a
        // connection still waiting in the listen backlog.
        health_status(&mut health, "")
            .await
            .expect("health check before the held call failed");

        let (sent, on_sent) = oneshot::channel::<()>();
        let (release, on_release) = oneshot::channel::<()>();
        // The second item is polled only after the encoder has taken the first, which is after
        // the stream was opened.
        let messages = futures::stream::once(async move { request }).chain(
            futures::stream::once(async move {
                let _ = sent.send(());
                let _ = on_release.await;
            })
            .filter_map(|()| async { None }),
        );

        let mut grpc = tonic::client::Grpc::new(channel);
        let call = tokio::spawn(async move {
            grpc.ready()
                .await
                .map_err(|error| Status::unavailable(format!("connection failed: {error}")))?;
            let path = PathAndQuery::from_static("/tokenauthority.v1.TokenAuthority/Authorize");
            let codec = ProstCodec::<AuthorizeRequest, AuthorizeResponse>::default();
            let response = grpc
                .client_streaming(Request::new(messages), path, codec)
                .await?;
            Ok(response.into_inner())
        });
        timeout(Duration::from_secs(5), on_sent)
            .await
            .expect("the held call did not send its request within 5 s")
            .expect("the held call ended before sending its request");

        // HTTP/2 frames arrive in order, so a reply to a stream opened after the held one proves
        // that the server has read the held stream's headers.
        health_status(&mut health, "")
            .await
            .expect("health check after the held call failed");
        HeldCall { release, call }
    }

    /// Ends the request stream and waits at most 5 s for the reply.
    async fn finish(self) -> Result<AuthorizeResponse, Status> {
        let _ = self.release.send(());
        timeout(Duration::from_secs(5), self.call)
            .await
            .expect("the held call did not finish within 5 s of its release")
            .expect("the held call task panicked")
    }
}
