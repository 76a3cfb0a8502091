//! Traces, metrics and logs of the real server binary: spans and metrics exported over OTLP to an
//! in-process collector, the Prometheus endpoint, and the trace id in log lines.
//!
//! Every wait is bounded: the collector waits at most [`EXPORT_TIMEOUT`] for an export, and the
//! server exports spans every 100 ms and metrics every 500 ms.

mod collector;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

use token_authority::{
    proto::v1::{self as pb, IssuedToken, Scope, token_authority_client::TokenAuthorityClient},
    testing::RedisServer,
};

use crate::binary::{
    allowed, create_project, key_with_scope, post_server_item,
    process::{
        READINESS, READINESS_CHANGE, ServerProcess, bare_command, server_command, wait_for_health,
    },
};
use collector::{Collector, Received, attributes};

/// How long the collector may wait for the server's next export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(15);

/// The trace the test calls continue, as a frontend's `traceparent` would carry it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The frontend's span that the RPC spans must name as their parent.
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// Starts the server exporting to `collector`, with `args` after the usual test options.
async fn start_exporting(collector: &Collector, args: &[&str]) -> ServerProcess {
    let mut command = server_command(args);
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_SERVICE_NAME", "token-authority-test");
    ServerProcess::spawn(command).await
}

/// Adds the test trace's `traceparent` to a request.
fn traced<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01");
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(traceparent.as_str()).expect("a valid header value"),
    );
    request
}

/// Creates a project with a traced Manage call and returns its tokens.
async fn create_traced_project(
    client: &mut TokenAuthorityClient<Channel>,
    project_id: &str,
) -> Vec<IssuedToken> {
    let request = pb::ManageRequest {
        operation: Some(pb::manage_request::Operation::CreateProject(
            pb::CreateProjectOperation {
                account_id: "acct-telemetry".to_owned(),
                project_id: project_id.to_owned(),
                name: "Telemetry".to_owned(),
            },
        )),
    };
    let response = client
        .manage(traced(request))
        .await
        .expect("create_project failed")
        .into_inner();
    match response.result {
        Some(pb::manage_response::Result::CreateProject(result)) => result.tokens,
        other => panic!("create_project returned {other:?}"),
    }
}

/// Returns the keys of issued tokens, the secrets that must never be exported.
fn keys_of(tokens: &[IssuedToken]) -> Vec<String> {
    tokens
        .iter()
        .map(|token| token.access_token.clone())
        .collect()
}

/// Checks that no key appears anywhere in what the collector received: span names, attributes,
/// events, resource attributes and metric labels.
fn assert_no_key_exported(received: &Received, keys: &[String]) {
    let exported = format!("{:?}{:?}", received.traces, received.metrics);
    for key in keys {
        assert_eq!(key.len(), 32, "not a key: {key}");
        assert!(!exported.contains(key.as_str()), "key {key} was exported");
    }
}

/// Returns the spans named `name` in the test trace.
fn spans_in_trace(
    received: &Received,
    name: &str,
) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    let trace_id = hex::decode(TRACE_ID).expect("valid hex");
    received
        .spans()
        .into_iter()
        .filter(|span| span.name == name && span.trace_id == trace_id)
        .collect()
}

/// Returns whether the metric `name` has a data point labelled with exactly `labels`.
fn has_point(received: &Received, name: &str, labels: &[(&str, &str)]) -> bool {
    let expected: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    received.label_sets(name).contains(&expected)
}

#[tokio::test]
async fn otlp_spans_continue_caller_trace() {
    let mut collector = Collector::start().await;
    let mut server = start_exporting(&collector, &["--system-limit", "2"]).await;
    let mut client = server.authority();
    let tokens = create_traced_project(&mut client, "proj-traced").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    // Two calls fit the system limit of 2, and the third is the window's first denial.
    let mut responses = Vec::new();
    for _ in 0..3 {
        let response = client
            .authorize(traced(post_server_item(&key)))
            .await
            .expect("Authorize failed")
            .into_inner();
        responses.push(response);
    }
    assert!(allowed(&responses[0]), "{:?}", responses[0]);
    assert_eq!(responses[2].denial_reason(), pb::DenialReason::RateLimited);

    let received = collector
        .wait_until(
            "three Authorize spans in the test trace",
            EXPORT_TIMEOUT,
            |received| spans_in_trace(received, "Authorize").len() >= 3,
        )
        .await;
    let spans = spans_in_trace(&received, "Authorize");
    let parent = hex::decode(PARENT_SPAN_ID).expect("valid hex");
    let token = responses[0].token_id.clone();
    for span in &spans {
        assert_eq!(span.parent_span_id, parent, "{span:?}");
        assert_eq!(
            span.kind,
            opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32
        );
        let fields = attributes(&span.attributes);
        assert_eq!(fields["rpc.method"], "Authorize");
        assert_eq!(fields["project_id"], "proj-traced");
        assert_eq!(fields["token_id"], token);
        assert_eq!(fields["action"], "PostItem");
        assert_eq!(fields["rpc.grpc.status_code"], "0");
        assert_eq!(fields["trace_id"], TRACE_ID);
    }
    let decisions: Vec<(String, Option<String>)> = spans
        .iter()
        .map(|span| {
            let fields = attributes(&span.attributes);
            (fields["decision"].clone(), fields.get("reason").cloned())
        })
        .collect();
    assert!(
        decisions.contains(&("allow".to_owned(), None)),
        "{decisions:?}"
    );
    assert!(
        decisions.contains(&("deny".to_owned(), Some("rate_limited".to_owned()))),
        "{decisions:?}"
    );
    let manage = spans_in_trace(&received, "Manage");
    assert_eq!(manage.len(), 1, "{manage:?}");
    assert_eq!(
        attributes(&manage[0].attributes)["operation"],
        "create_project"
    );

    let received = collector
        .wait_until("the Authorize metrics", EXPORT_TIMEOUT, |received| {
            has_point(
                received,
                "token_authority.rate_limit.first_denials",
                &[("limit", "system")],
            )
        })
        .await;
    let expected_points: [(&str, &[(&str, &str)]); 6] = [
        (
            "token_authority.authorize.decisions",
            &[("decision", "allow"), ("reason", "none")],
        ),
        (
            "token_authority.authorize.decisions",
            &[("decision", "deny"), ("reason", "rate_limited")],
        ),
        (
            "token_authority.rpc.duration",
            &[("rpc", "Authorize"), ("code", "OK")],
        ),
        (
            "token_authority.rpc.duration",
            &[("rpc", "Manage"), ("code", "OK")],
        ),
        ("token_authority.rate_limit.denials", &[("limit", "system")]),
        (
            "token_authority.rate_limit.first_denials",
            &[("limit", "system")],
        ),
    ];
    for (name, labels) in expected_points {
        assert!(
            has_point(&received, name, labels),
            "{name} has no point with {labels:?}: {:?}",
            received.label_sets(name)
        );
    }

    // Log lines written inside a traced RPC carry the trace id.
    let created = server.logs_starting_with("project created");
    assert_eq!(created.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(created[0]["span"]["trace_id"], TRACE_ID, "{}", created[0]);

    // The window's first denial names the token once, which is how to find rate-limited tokens.
    let reached = server.logs_starting_with("rate limit reached");
    assert_eq!(reached.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(reached[0]["token_id"], token.as_str(), "{}", reached[0]);
    assert_eq!(reached[0]["project_id"], "proj-traced", "{}", reached[0]);
    assert_eq!(reached[0]["limit"], "system", "{}", reached[0]);
    assert_eq!(reached[0]["span"]["trace_id"], TRACE_ID, "{}", reached[0]);

    server.stop().await;
    assert_no_key_exported(&collector.received(), &keys_of(&tokens));
}

#[tokio::test]
async fn otlp_redis_spans_name_script() {
    let redis = RedisServer::start().await;
    let mut collector = Collector::start().await;
    let mut server = start_exporting(&collector, &["--redis-url", &redis.url()]).await;
    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct-redis", "proj-redis").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    let response = client
        .authorize(traced(post_server_item(&key)))
        .await
        .expect("Authorize failed")
        .into_inner();
    assert!(allowed(&response), "{response:?}");

    let received = collector
        .wait_until(
            "a redis span in the test trace",
            EXPORT_TIMEOUT,
            |received| !spans_in_trace(received, "redis").is_empty(),
        )
        .await;
    let authorize = spans_in_trace(&received, "Authorize");
    assert_eq!(authorize.len(), 1, "{authorize:?}");
    let redis_spans = spans_in_trace(&received, "redis");
    assert_eq!(redis_spans.len(), 1, "{redis_spans:?}");
    let redis_span = &redis_spans[0];
    assert_eq!(redis_span.parent_span_id, authorize[0].span_id);
    assert_eq!(
        redis_span.kind,
        opentelemetry_proto::tonic::trace::v1::span::SpanKind::Client as i32
    );
    let fields = attributes(&redis_span.attributes);
    assert_eq!(fields["script"], "authorize");
    assert_eq!(fields["db.system.name"], "redis");

    // SCRIPT FLUSH makes the next Authorize reload its script. The server's readiness check
    // loads every script each 2 s, so a flush that it undoes first is tried again.
    flush_scripts_until_reloaded(&redis, &mut server, &mut client, &key).await;

    let received = collector
        .wait_until("the Redis metrics", EXPORT_TIMEOUT, |received| {
            has_point(
                received,
                "token_authority.redis.script.reloads",
                &[("script", "authorize")],
            )
        })
        .await;
    let expected_points: [(&str, &[(&str, &str)]); 6] = [
        (
            "token_authority.redis.command.duration",
            &[("script", "authorize")],
        ),
        (
            "token_authority.redis.command.duration",
            &[("script", "project_begin_create")],
        ),
        (
            "token_authority.redis.pool.connections",
            &[("state", "in_use")],
        ),
        (
            "token_authority.redis.pool.connections",
            &[("state", "idle")],
        ),
        ("token_authority.redis.pool.waiting", &[]),
        ("token_authority.redis.pool.max", &[]),
    ];
    for (name, labels) in expected_points {
        assert!(
            has_point(&received, name, labels),
            "{name} has no point with {labels:?}: {:?}",
            received.label_sets(name)
        );
    }

    server.stop().await;
    assert_no_key_exported(&collector.received(), &keys_of(&tokens));
}

/// Flushes Redis's script cache and calls Authorize until the server logs the reload, at most
/// five times, and checks that the reload is logged with the script's name.
async fn flush_scripts_until_reloaded(
    redis: &RedisServer,
    server: &mut ServerProcess,
    client: &mut TokenAuthorityClient<Channel>,
    key: &str,
) {
    let redis_client = redis::Client::open(redis.url()).expect("invalid Redis URL");
    let mut connection = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("failed to connect to the private Redis");
    for _ in 0..5 {
        let () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut connection)
            .await
            .expect("SCRIPT FLUSH failed");
        let response = client
            .authorize(post_server_item(key))
            .await
            .expect("Authorize failed after SCRIPT FLUSH")
            .into_inner();
        assert!(allowed(&response), "{response:?}");
        if !server.logs_starting_with("script reloaded").is_empty() {
            break;
        }
    }
    let reloaded = server.logs_starting_with("script reloaded");
    assert_eq!(reloaded.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(reloaded[0]["script"], "authorize", "{}", reloaded[0]);
}

#[tokio::test]
async fn metrics_endpoint_lists_documented_names() {
    let redis = RedisServer::start().await;
    let args = [
        "--redis-url",
        &redis.url(),
        "--system-limit",
        "1",
        "--redis-timeout-ms",
        "200",
    ];
    let server = crate::binary::process::start(&args).await;
    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct-scrape", "proj-scrape").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);
    for _ in 0..2 {
        client
            .authorize(post_server_item(&key))
            .await
            .expect("Authorize failed");
    }

    // A paused Redis times the next command out, which counts as a Redis error. The call uses
    // another token, because the server may deny the rate-limited one without asking Redis.
    let client_key = key_with_scope(&tokens, Scope::PostClientItem);
    let client_item = pb::AuthorizeRequest {
        platform: "browser".to_owned(),
        ..post_server_item(&client_key)
    };
    redis.pause();
    let mut request = Request::new(client_item);
    request.set_timeout(Duration::from_secs(2));
    let status = client
        .authorize(request)
        .await
        .expect_err("Authorize succeeded with Redis paused");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    redis.resume();

    let text = scrape(metrics_address(&server)).await;
    let series = parse_exposition(&text);
    let expected: [(&str, &[&str]); 14] = [
        (
            "token_authority_authorize_decisions_total",
            &["decision", "reason"],
        ),
        ("token_authority_rate_limit_denials_total", &["limit"]),
        ("token_authority_rate_limit_first_denials_total", &["limit"]),
        (
            "token_authority_rpc_duration_seconds_bucket",
            &["code", "le", "rpc"],
        ),
        ("token_authority_rpc_duration_seconds_sum", &["code", "rpc"]),
        (
            "token_authority_rpc_duration_seconds_count",
            &["code", "rpc"],
        ),
        (
            "token_authority_redis_command_duration_seconds_bucket",
            &["le", "script"],
        ),
        (
            "token_authority_redis_command_duration_seconds_sum",
            &["script"],
        ),
        (
            "token_authority_redis_command_duration_seconds_count",
            &["script"],
        ),
        (
            "token_authority_redis_command_errors_total",
            &["error", "script"],
        ),
        ("token_authority_redis_pool_connections", &["state"]),
        ("token_authority_redis_pool_waiting", &[]),
        ("token_authority_redis_pool_max", &[]),
        ("target_info", &[]),
    ];
    for (name, labels) in expected {
        let label_sets = series
            .iter()
            .filter(|(series_name, _)| series_name == name)
            .map(|(_, labels)| labels.keys().cloned().collect::<BTreeSet<_>>())
            .collect::<Vec<_>>();
        assert!(!label_sets.is_empty(), "no {name} in /metrics:\n{text}");
        if name == "target_info" {
            continue;
        }
        let expected_labels: BTreeSet<String> =
            labels.iter().map(|label| (*label).to_owned()).collect();
        for label_set in label_sets {
            assert_eq!(label_set, expected_labels, "labels of {name}");
        }
    }
    assert!(
        series.iter().any(
            |(name, labels)| name == "token_authority_redis_command_errors_total"
                && labels.get("error").map(String::as_str) == Some("timeout")
                && labels.get("script").map(String::as_str) == Some("authorize")
        ),
        "no timeout of authorize counted:\n{text}"
    );
    assert!(
        text.contains("# HELP token_authority_authorize_decisions_total "),
        "no help text:\n{text}"
    );

    // No label value is a key, a token id or a project id.
    let secrets: Vec<String> = tokens
        .iter()
        .flat_map(|issued| {
            let token = issued.token.clone().unwrap_or_default();
            [
                issued.access_token.clone(),
                token.token_id,
                token.project_id,
            ]
        })
        .collect();
    for (name, labels) in &series {
        for value in labels.values() {
            assert!(
                !secrets.contains(value),
                "{name} has the label value {value}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_listen_off_serves_nothing() {
    let server = crate::binary::process::start(&["--metrics-listen", "off"]).await;
    let starting = server.logs_starting_with("starting token authority");
    assert_eq!(starting[0]["metrics_listen"], "off", "{}", starting[0]);
    assert!(
        starting[0].get("otlp_traces_endpoint").is_none(),
        "{}",
        starting[0]
    );
    assert!(server.logs_starting_with("serving metrics").is_empty());
}

#[tokio::test]
async fn trace_id_logged_without_export() {
    // Without an OTLP endpoint nothing is exported, but a caller's trace id still reaches the
    // log lines written within its RPC.
    let mut server = crate::binary::process::start(&[]).await;
    let mut client = server.authority();
    create_traced_project(&mut client, "proj-untraced").await;
    let created = server
        .wait_for_log("project created", Duration::from_secs(5))
        .await;
    assert_eq!(created["span"]["trace_id"], TRACE_ID, "{created}");
    assert_eq!(created["span"]["name"], "Manage", "{created}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_flushes_pending_spans() {
    // Exports are an hour apart, so only the flush at shutdown can deliver anything.
    let collector = Collector::start().await;
    let mut command = server_command(&[]);
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
        .env("OTEL_BSP_SCHEDULE_DELAY", "3600000");
    let mut server = ServerProcess::spawn(command).await;
    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct-flush", "proj-flush").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);
    client
        .authorize(traced(post_server_item(&key)))
        .await
        .expect("Authorize failed");
    assert!(collector.received().spans().is_empty());

    server.stop().await;
    let received = collector.received();
    assert_eq!(spans_in_trace(&received, "Authorize").len(), 1);
    assert!(
        has_point(
            &received,
            "token_authority.authorize.decisions",
            &[("decision", "allow"), ("reason", "none")]
        ),
        "{:?}",
        received.label_sets("token_authority.authorize.decisions")
    );
}

#[tokio::test]
async fn sampler_off_exports_metrics_only() {
    let collector = Collector::start().await;
    let mut command = server_command(&[]);
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_TRACES_SAMPLER", "always_off");
    let mut server = ServerProcess::spawn(command).await;
    let mut client = server.authority();
    let tokens = create_project(&mut client, "acct-sampler", "proj-sampler").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);
    client
        .authorize(traced(post_server_item(&key)))
        .await
        .expect("Authorize failed");

    // Shutdown flushes both exporters, so what did not arrive by then was never exported.
    server.stop().await;
    let received = collector.received();
    assert!(received.spans().is_empty(), "{:?}", received.spans());
    assert!(
        !received
            .label_sets("token_authority.rpc.duration")
            .is_empty()
    );
}

#[tokio::test]
async fn log_format_auto_writes_json() {
    // Standard error is a pipe here, as in a container, so `auto` must choose JSON: the helper
    // finds the "serving gRPC" line only by parsing JSON.
    let command = bare_command(&["--listen", "127.0.0.1:0"]);
    let mut server = ServerProcess::spawn(command).await;
    server.stop().await;
    let stderr = server.stderr_text();
    for line in stderr.lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}

#[tokio::test]
async fn log_level_filters_by_target() {
    let mut server =
        crate::binary::process::start(&["--log-level", "info,token_authority::server=warn"]).await;
    let mut health = server.health();
    let ready = wait_for_health(
        &mut health,
        READINESS,
        ServingStatus::Serving,
        READINESS_CHANGE,
    )
    .await;
    assert!(ready, "logs:\n{}", server.stderr_text());
    server.stop().await;

    // The store became ready, but its target logs only warnings and errors.
    assert!(server.logs_starting_with("token store ready").is_empty());
    assert_eq!(server.logs_starting_with("serving gRPC").len(), 1);
}

/// Returns the address of the Prometheus endpoint from the "serving metrics" log line.
fn metrics_address(server: &ServerProcess) -> SocketAddr {
    let lines = server.logs_starting_with("serving metrics");
    let line: &Value = lines
        .first()
        .unwrap_or_else(|| panic!("no \"serving metrics\" line:\n{}", server.stderr_text()));
    line["address"]
        .as_str()
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line}"))
}

/// Sends `GET /metrics` over a plain HTTP/1.1 connection and returns the body, within 5 s.
async fn scrape(address: SocketAddr) -> String {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("the metrics endpoint did not reply within 5 s")
        .expect("the metrics request failed");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_owned()
}

/// Parses the sample lines of the Prometheus text format into names and labels.
fn parse_exposition(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let series = line.rsplit_once(' ').map_or(line, |(series, _)| series);
            let Some((name, labels)) = series.split_once('{') else {
                return (series.to_owned(), BTreeMap::new());
            };
            let labels = labels
                .trim_end_matches('}')
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| pair.split_once('='))
                .map(|(key, value)| (key.to_owned(), value.trim_matches('"').to_owned()))
                .collect();
            (name.to_owned(), labels)
        })
        .collect()
}
