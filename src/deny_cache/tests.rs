use super::*;
use crate::domain::{AccessKey, ScopeSet, SystemLimit, UserLimit};

/// The store's clock at the denial in these tests: 2025-01-01T00:00:10Z.
const DENIED_AT_MS: i64 = 1_735_689_610_000;

/// The window start: ten seconds before the denial, so a 60 s window ends 50 s after it.
const WINDOW_START_MS: i64 = DENIED_AT_MS - 10_000;

fn key_hash() -> KeyHash {
    AccessKey::generate().unwrap().hash()
}

fn token(project_id: &str, token_id: &str) -> TokenSummary {
    TokenSummary {
        project_id: project_id.to_owned(),
        token_id: token_id.to_owned(),
        name: "post_server_item".to_owned(),
        scopes: ScopeSet::from_iter([Scope::PostServerItem]),
    }
}

/// Returns the store's outcome for a request of `cost` on a window of a 3 per 60 s system limit
/// that already counts `count`.
fn outcome(count: u64, cost: u64) -> RateOutcome {
    let system = SystemLimit {
        count: 3,
        window_seconds: 60,
    };
    let window = Window {
        start_ms: WINDOW_START_MS,
        count,
        denied: false,
    };
    let (outcome, _) = limits::evaluate(
        &[(system.as_limit(), Some(window))],
        cost,
        RateMode::Consume,
        DENIED_AT_MS,
    );
    outcome
}

fn cache(max_staleness: Duration) -> DenyCache {
    DenyCache::new(DenyCacheConfig {
        max_staleness,
        capacity: 100,
    })
}

/// Remembers a denial of `hash` for token `t1` of project `p1`, observed at `observed`.
fn remember(cache: &DenyCache, hash: KeyHash, observed: Observation) {
    cache.remember(hash, &token("p1", "t1"), &outcome(3, 1), observed);
}

fn lookup(cache: &DenyCache, hash: KeyHash, at: Instant) -> Option<CachedDenial> {
    cache.lookup(hash, None, Scope::PostServerItem, 1, at)
}

#[test]
fn cached_denial_reports_figures() {
    let cache = cache(Duration::from_secs(30));
    let hash = key_hash();
    let observed = cache.observe();
    remember(&cache, hash, observed);

    let first = lookup(&cache, hash, observed.started + Duration::from_millis(100)).unwrap();
    assert_eq!(first.token, token("p1", "t1"));
    assert!(!first.rate.allowed);
    assert!(!first.rate.consumed);
    assert!(
        !first.rate.first_denial,
        "the store flagged the first denial"
    );
    let headers = first.rate.headers(1).unwrap();
    assert_eq!(headers.limit, 3);
    assert_eq!(headers.remaining, 0);
    assert_eq!(headers.retry_after_seconds, 50);
    assert_eq!(headers.reset, (WINDOW_START_MS + 60_000) / 1000);

    let later = lookup(&cache, hash, observed.started + Duration::from_secs(20)).unwrap();
    let later_headers = later.rate.headers(1).unwrap();
    assert_eq!(later_headers.retry_after_seconds, 30);
    assert_eq!(later_headers.remaining_seconds, 30);
    assert_eq!(later_headers.reset, headers.reset);
}

#[test]
fn unknown_key_not_cached() {
    let cache = cache(Duration::from_secs(30));
    remember(&cache, key_hash(), cache.observe());
    assert_eq!(lookup(&cache, key_hash(), Instant::now()), None);
}

#[test]
fn entry_ends_with_window() {
    let cache = cache(Duration::from_secs(120));
    let hash = key_hash();
    let observed = cache.observe();
    remember(&cache, hash, observed);

    let before_end = observed.started + Duration::from_millis(49_900);
    assert!(lookup(&cache, hash, before_end).is_some());
    let after_end = observed.started + Duration::from_millis(50_000);
    assert_eq!(lookup(&cache, hash, after_end), None);
    assert!(cache.is_empty(), "an ended window's entry is dropped");
}

#[test]
fn entry_ends_at_max_staleness() {
    let cache = cache(Duration::from_millis(500));
    let hash = key_hash();
    let observed = cache.observe();
    remember(&cache, hash, observed);

    assert!(lookup(&cache, hash, observed.started + Duration::from_millis(499)).is_some());
    assert_eq!(
        lookup(&cache, hash, observed.started + Duration::from_millis(500)),
        None
    );
    assert!(cache.is_empty());
}

#[test]
fn zero_staleness_disables() {
    let cache = cache(Duration::ZERO);
    assert!(!cache.is_enabled());
    let hash = key_hash();
    let observed = cache.observe();
    remember(&cache, hash, observed);
    assert!(cache.is_empty());
    assert_eq!(lookup(&cache, hash, observed.started), None);
}

#[test]
fn cost_that_may_fit_goes_to_store() {
    let cache = cache(Duration::from_secs(30));
    let hash = key_hash();
    let observed = cache.observe();
    // A cost of 3 did not fit in a window that counts 1, but a cost of 2 may.
    cache.remember(hash, &token("p1", "t1"), &outcome(1, 3), observed);

    let at = observed.started + Duration::from_millis(10);
    assert!(
        cache
            .lookup(hash, None, Scope::PostServerItem, 3, at)
            .is_some()
    );
    assert_eq!(cache.lookup(hash, None, Scope::PostServerItem, 2, at), None);
}

#[test]
fn other_project_or_scope_goes_to_store() {
    let cache = cache(Duration::from_secs(30));
    let hash = key_hash();
    let observed = cache.observe();
    remember(&cache, hash, observed);

    let at = observed.started + Duration::from_millis(10);
    assert_eq!(
        cache.lookup(hash, Some("p2"), Scope::PostServerItem, 1, at),
        None
    );
    assert_eq!(cache.lookup(hash, None, Scope::Read, 1, at), None);
    assert!(
        cache
            .lookup(hash, Some("p1"), Scope::PostServerItem, 1, at)
            .is_some()
    );
}

#[test]
fn unenforced_user_limit_not_denying() {
    let cache = cache(Duration::from_secs(30));
    let hash = key_hash();
    let system = SystemLimit::DEFAULT.as_limit();
    let user = UserLimit {
        count: 1,
        window_seconds: 60,
    };
    let full_window = Window {
        start_ms: WINDOW_START_MS,
        count: 1,
        denied: false,
    };
    let (denied, _) = limits::evaluate(
        &[(system, None), (user.as_limit(true), Some(full_window))],
        1,
        RateMode::Consume,
        DENIED_AT_MS,
    );
    let observed = cache.observe();
    cache.remember(hash, &token("p1", "t1"), &denied, observed);
    assert!(lookup(&cache, hash, observed.started).is_some());

    // The same figures with the user limit no longer enforced allow the request.
    let (allowed, _) = limits::evaluate(
        &[(system, None), (user.as_limit(false), Some(full_window))],
        1,
        RateMode::Consume,
        DENIED_AT_MS,
    );
    let other = key_hash();
    cache.remember(other, &token("p1", "t2"), &allowed, cache.observe());
    assert_eq!(lookup(&cache, other, Instant::now()), None);
}

#[test]
fn forget_token_drops_only_it() {
    let cache = cache(Duration::from_secs(30));
    let (first, second) = (key_hash(), key_hash());
    let observed = cache.observe();
    cache.remember(first, &token("p1", "t1"), &outcome(3, 1), observed);
    cache.remember(second, &token("p1", "t2"), &outcome(3, 1), observed);

    cache.forget_token("p1", "t1");
    assert_eq!(lookup(&cache, first, observed.started), None);
    assert!(lookup(&cache, second, observed.started).is_some());
    assert_eq!(cache.len(), 1);
}

#[test]
fn forget_project_and_clear() {
    let cache = cache(Duration::from_secs(30));
    let (first, second, third) = (key_hash(), key_hash(), key_hash());
    let observed = cache.observe();
    cache.remember(first, &token("p1", "t1"), &outcome(3, 1), observed);
    cache.remember(second, &token("p1", "t2"), &outcome(3, 1), observed);
    let observed = cache.observe();
    cache.remember(third, &token("p2", "t3"), &outcome(3, 1), observed);

    cache.forget_project("p1");
    assert_eq!(cache.len(), 1);
    assert!(lookup(&cache, third, observed.started).is_some());
    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(lookup(&cache, third, observed.started), None);
}

#[test]
fn denial_racing_invalidation_ignored() {
    let cache = cache(Duration::from_secs(30));
    let hash = key_hash();
    let observed = cache.observe();
    // The token changes through this replica while the store call is in flight.
    cache.forget_token("p1", "t1");
    remember(&cache, hash, observed);
    assert!(cache.is_empty());
}

#[test]
fn capacity_bounds_entries() {
    let cache = DenyCache::new(DenyCacheConfig {
        max_staleness: Duration::from_secs(30),
        capacity: 40,
    });
    for index in 0..1000 {
        let observed = cache.observe();
        cache.remember(
            key_hash(),
            &token("p1", &format!("t{index}")),
            &outcome(3, 1),
            observed,
        );
        assert!(cache.len() <= 40, "{} entries", cache.len());
    }
    assert!(cache.len() >= 30, "a full cache keeps most entries");
}
