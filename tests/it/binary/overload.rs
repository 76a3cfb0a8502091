//! Callers that give up on slow calls: their reset streams fail only their own calls, and the
//! connection keeps serving the others.

use std::time::Duration;

use futures::future::join_all;
use nix::sys::signal::Signal;
use tonic::Request;

use super::{create_project, key_with_scope, post_server_item, process};
use token_authority::proto::v1::Scope;

#[tokio::test]
async fn reset_streams_keep_connection() {
    let server = process::start(&[]).await;
    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct", "shop").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    // While the server is stopped, 150 calls on one connection time out and the client resets
    // their streams. The server reads every opening and reset at once when it resumes, before
    // it accepts any of those streams.
    server.signal(Signal::SIGSTOP);
    let calls = (0..150).map(|_| {
        let mut client = client.clone();
        let mut request = Request::new(post_server_item(&key));
        request.set_timeout(Duration::from_millis(200));
        async move { client.authorize(request).await }
    });
    let outcomes = join_all(calls).await;
    server.signal(Signal::SIGCONT);
    assert!(
        outcomes.iter().all(Result::is_err),
        "every call timed out while the server was stopped"
    );

    let reply = client.authorize(post_server_item(&key)).await;
    assert!(reply.is_ok(), "the connection still serves: {reply:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stderr = server.stderr_text();
    assert!(
        !stderr.contains("reached limit"),
        "the server closed the connection over reset streams: {stderr}"
    );
}
