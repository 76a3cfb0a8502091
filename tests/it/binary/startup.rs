//! Start-up on the in-memory store: the warning, health and reflection.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Code, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_reflection::pb::{v1, v1alpha};

use token_authority::proto::v1::Scope;

use super::{
    allowed, create_project, key_with_scope, post_server_item,
    process::{health_status, message, start},
};

#[tokio::test]
async fn memory_store_warns_and_serves() {
    let server = start(&[]).await;
    assert!(server.address().ip().is_loopback(), "{}", server.address());
    assert_ne!(server.address().port(), 0);

    let warnings = server.logs_starting_with("no --redis-url set");
    assert_eq!(warnings.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(warnings[0]["level"], "WARN");
    let text = message(&warnings[0]);
    assert!(text.contains("in-memory store"), "{text}");
    assert!(text.contains("state is lost on exit"), "{text}");
    assert!(text.contains("not shared between replicas"), "{text}");

    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct-1", "proj-1").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);
    let response = client
        .authorize(post_server_item(&key))
        .await
        .unwrap()
        .into_inner();
    assert!(allowed(&response), "{response:?}");
}

#[tokio::test]
async fn health_reports_serving() {
    let mut server = start(&[]).await;
    let mut health = server.health();

    let process = health_status(&mut health, "").await.unwrap();
    assert_eq!(process, ServingStatus::Serving);

    // Readiness turns SERVING after the first store check, which may follow the address line.
    server.assert_ready(Duration::from_secs(5)).await;
    // The reader of standard error may still be behind the health status.
    server
        .wait_for_log("token store ready", Duration::from_secs(5))
        .await;
    let ready_lines = server.logs_starting_with("token store ready");
    assert_eq!(ready_lines.len(), 1, "logs:\n{}", server.stderr_text());

    let unknown = health_status(&mut health, "no.such.Service")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
}

#[tokio::test]
async fn reflection_lists_services() {
    let server = start(&[]).await;
    let expected = ["grpc.health.v1.Health", "tokenauthority.v1.TokenAuthority"];

    let listed = list_services_v1(server.channel()).await;
    for service in expected {
        assert!(
            listed.iter().any(|name| name == service),
            "v1 lists {listed:?}"
        );
    }

    let listed = list_services_v1alpha(server.channel()).await;
    for service in expected {
        assert!(
            listed.iter().any(|name| name == service),
            "v1alpha lists {listed:?}"
        );
    }
}

/// Lists the services through server reflection v1.
async fn list_services_v1(channel: Channel) -> Vec<String> {
    use v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut client = ServerReflectionClient::new(channel);
    let mut replies = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection v1 call failed")
        .into_inner();
    let reply = replies
        .next()
        .await
        .expect("no reflection v1 reply")
        .expect("reflection v1 failed");
    match reply.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("reflection v1 returned {other:?}"),
    }
}

/// Lists the services through server reflection v1alpha.
async fn list_services_v1alpha(channel: Channel) -> Vec<String> {
    use v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut client = ServerReflectionClient::new(channel);
    let mut replies = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection v1alpha call failed")
        .into_inner();
    let reply = replies
        .next()
        .await
        .expect("no reflection v1alpha reply")
        .expect("reflection v1alpha failed");
    match reply.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("reflection v1alpha returned {other:?}"),
    }
}
