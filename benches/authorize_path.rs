//! Micro-benchmarks of the CPU work on Authorize's path, apart from the network: hashing the
//! presented key, the token checks, the rate-limit decision, building the script's invocation
//! and reading its reply, the deny cache, and building the gRPC reply.
//!
//! Run with `cargo bench --bench authorize_path`. `cargo test --all-targets` only builds them.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use redis::Value;

use token_authority::{
    deny_cache::{DenyCache, DenyCacheConfig},
    domain::{
        AccessKey, Denial, RateMode, Scope, ScopeSet, SystemLimit, TokenRecord, TokenStatus,
        UserLimit,
        decision::check_token,
        key::parse_presented,
        limits::{self, Window},
    },
    grpc::authorize_response,
    service::AuthorizeDecision,
    store::{
        TokenSummary,
        redis::{authorize_invocation, parse_authorize_reply},
    },
};

/// The time of every evaluation: 2025-01-01T00:00:10Z.
const NOW_MS: i64 = 1_735_689_610_000;

fn token_record() -> TokenRecord {
    TokenRecord {
        token_id: "tok_01941f29c000a1b2c3d4".to_owned(),
        project_id: "shop".to_owned(),
        name: "post_server_item".to_owned(),
        scopes: ScopeSet::from_iter([Scope::PostServerItem]),
        status: TokenStatus::Enabled,
        user_limit: None,
        expires_at_ms: None,
        created_at_ms: NOW_MS - 86_400_000,
        modified_at_ms: NOW_MS - 86_400_000,
        key_hint: "a1b2".to_owned(),
    }
}

fn summary() -> TokenSummary {
    let record = token_record();
    TokenSummary {
        project_id: record.project_id,
        token_id: record.token_id,
        name: record.name,
        scopes: record.scopes,
    }
}

fn open_window(count: u64) -> Option<Window> {
    Some(Window {
        start_ms: NOW_MS - 10_000,
        count,
        denied: false,
    })
}

/// Returns a reply of `authorize.lua` that allows a request under the system limit.
fn allowed_reply() -> Value {
    let text = |text: &str| Value::BulkString(text.as_bytes().to_vec());
    Value::Array(vec![
        text("ok"),
        text("tok_01941f29c000a1b2c3d4"),
        text("shop"),
        text("post_server_item"),
        Value::Int(1),
        text("enabled"),
        Value::Int(NOW_MS),
        Value::Int(1),
        Value::Int(1),
        Value::Int(0),
        Value::Array(vec![
            Value::Int(50_000),
            Value::Int(60),
            Value::Int(1),
            Value::Int(1),
            Value::Int(NOW_MS - 10_000),
            Value::Int(42),
            Value::Int(0),
        ]),
    ])
}

fn domain(c: &mut Criterion) {
    let key = AccessKey::generate().unwrap();
    let presented = format!("{}\n", key.expose());
    c.bench_function("parse_presented/well_formed", |b| {
        b.iter(|| parse_presented(black_box(&presented)))
    });
    c.bench_function("parse_presented/malformed", |b| {
        b.iter(|| parse_presented(black_box("not-a-key")))
    });

    let record = token_record();
    c.bench_function("check_token/allowed", |b| {
        b.iter(|| {
            check_token(
                black_box(&record),
                NOW_MS,
                Some("shop"),
                Scope::PostServerItem,
            )
        })
    });

    let system = SystemLimit::DEFAULT.as_limit();
    let user = UserLimit {
        count: 1000,
        window_seconds: 3600,
    }
    .as_limit(true);
    let system_only = [(system, open_window(42))];
    c.bench_function("evaluate/system_consume", |b| {
        b.iter(|| limits::evaluate(black_box(&system_only), 1, RateMode::Consume, NOW_MS))
    });
    let both = [(system, open_window(42)), (user, open_window(1000))];
    c.bench_function("evaluate/both_denied", |b| {
        b.iter(|| limits::evaluate(black_box(&both), 1, RateMode::Consume, NOW_MS))
    });
}

fn store_reply(c: &mut Criterion) {
    let hash = AccessKey::generate().unwrap().hash();
    c.bench_function("authorize_invocation/build", |b| {
        b.iter(|| {
            authorize_invocation(
                black_box(hash),
                None,
                Scope::PostServerItem,
                1,
                SystemLimit::DEFAULT,
            )
        })
    });

    let reply = allowed_reply();
    c.bench_function("parse_authorize_reply/allowed", |b| {
        b.iter_batched(
            || reply.clone(),
            |reply| parse_authorize_reply(reply, Scope::PostServerItem).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

fn deny_cache(c: &mut Criterion) {
    let cache = DenyCache::new(DenyCacheConfig::default());
    let hash = AccessKey::generate().unwrap().hash();
    c.bench_function("deny_cache/lookup_empty", |b| {
        b.iter(|| {
            cache.lookup(
                black_box(hash),
                None,
                Scope::PostServerItem,
                1,
                Instant::now(),
            )
        })
    });

    let limit = SystemLimit {
        count: 42,
        window_seconds: 60,
    };
    let (denied, _) = limits::evaluate(
        &[(limit.as_limit(), open_window(42))],
        1,
        RateMode::Consume,
        NOW_MS,
    );
    let cache = DenyCache::new(DenyCacheConfig {
        max_staleness: Duration::from_secs(3600),
        capacity: 10,
    });
    cache.remember(hash, &summary(), &denied, cache.observe());
    c.bench_function("deny_cache/lookup_denied", |b| {
        b.iter(|| {
            cache
                .lookup(
                    black_box(hash),
                    None,
                    Scope::PostServerItem,
                    1,
                    Instant::now(),
                )
                .unwrap()
        })
    });
}

fn grpc_reply(c: &mut Criterion) {
    let (allowed, _) = limits::evaluate(
        &[(SystemLimit::DEFAULT.as_limit(), open_window(42))],
        1,
        RateMode::Consume,
        NOW_MS,
    );
    let decision = AuthorizeDecision {
        denial: None,
        token: Some(summary()),
        rate: Some(allowed),
        cost: 1,
    };
    c.bench_function("authorize_response/allowed", |b| {
        b.iter_batched(
            || decision.clone(),
            authorize_response,
            BatchSize::SmallInput,
        )
    });

    let denied = AuthorizeDecision {
        denial: Some(Denial::RateLimited),
        ..decision
    };
    c.bench_function("authorize_response/rate_limited", |b| {
        b.iter_batched(|| denied.clone(), authorize_response, BatchSize::SmallInput)
    });
}

criterion_group!(benches, domain, store_reply, deny_cache, grpc_reply);
criterion_main!(benches);
