//! The deny cache: a replica's local memory of tokens that are over a rate limit, so that the
//! replica denies a flood from such a token without a Redis round trip until its window resets.
//!
//! After Authorize is denied with RATE_LIMITED, the replica keeps the token's identity and the
//! windows the store reported, keyed by the hash of the key. A later call with the same key, an
//! expected project the token belongs to, a scope it holds, and a cost that still does not fit
//! is denied from this memory. The denial reports the rate-limit figures recomputed for the
//! current time, so `retry_after_seconds` falls as the window's end approaches, and
//! `first_denial_in_window` is false because the store already flagged the first denial.
//!
//! Why this is safe:
//! - The cache only ever denies. A request that might fit, a window that has ended, and any call
//!   the cache cannot judge (another project or scope) go to the store, so no limit ever
//!   admits more than its count.
//! - Within a window, counts only grow, so a denial stays right until the window ends, unless
//!   the token itself changes. Changes made through this replica (Manage and Regenerate) drop
//!   the affected entries at once, and a denial that raced with such a change is not stored.
//! - Changes made through other replicas are not seen: an entry lives at most the configured
//!   maximum staleness, so a limit raised, a plan moved to free, or a token regenerated
//!   elsewhere takes effect here within that time. Until then, this replica keeps denying.
//!
//! Time comes from the store's clock: the cache adds the time elapsed on this replica's
//! monotonic clock since just before the store call to the store's `now_ms`, so clock skew
//! between the replica and Redis does not matter, and the estimate errs towards expiring early.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{
    domain::{
        KeyHash, RateMode, RateOutcome, Scope,
        limits::{self, Limit, Window},
    },
    store::TokenSummary,
};

/// The default maximum staleness: the time a replica may deny a token from memory before it
/// sends the token's next call to Redis again.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(1);

/// The default maximum number of entries. An entry takes a few hundred bytes, so the cache
/// stays within a few megabytes.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// How many independently locked parts the cache is split into, so concurrent calls on two
/// cores rarely wait for each other.
const SHARDS: usize = 16;

/// The settings of a [`DenyCache`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenyCacheConfig {
    /// How long an entry may be used; zero disables the cache.
    pub max_staleness: Duration,
    /// The maximum number of entries.
    pub capacity: usize,
}

impl Default for DenyCacheConfig {
    fn default() -> Self {
        DenyCacheConfig {
            max_staleness: DEFAULT_MAX_STALENESS,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// A denial returned by the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedDenial {
    /// The token that is over its limit.
    pub token: TokenSummary,
    /// The rate-limit evaluation at the time of the lookup; nothing was counted.
    pub rate: RateOutcome,
}

/// The state a store call starts from, to pass to [`DenyCache::remember`] after it returns.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    started: Instant,
    generation: u64,
}

/// The cache. Clones share one memory.
#[derive(Clone)]
pub struct DenyCache {
    inner: Arc<Inner>,
}

struct Inner {
    config: DenyCacheConfig,
    shards: Vec<Mutex<HashMap<KeyHash, Entry>>>,
    /// The number of entries in all shards, read without a lock so that a call finds an empty
    /// cache at the cost of one atomic load.
    len: AtomicUsize,
    /// Incremented by every invalidation, so that a denial observed before one is not stored
    /// after it.
    generation: AtomicU64,
}

struct Entry {
    token: TokenSummary,
    limits: Vec<(Limit, Option<Window>)>,
    /// The store's clock at the denial, in Unix milliseconds.
    store_now_ms: i64,
    /// This replica's clock just before the store call that returned the denial.
    observed_at: Instant,
    /// When the maximum staleness ends.
    expires_at: Instant,
}

impl fmt::Debug for DenyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DenyCache")
            .field("config", &self.inner.config)
            .field("len", &self.inner.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl DenyCache {
    /// Creates an empty cache.
    pub fn new(config: DenyCacheConfig) -> Self {
        DenyCache {
            inner: Arc::new(Inner {
                config,
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                len: AtomicUsize::new(0),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// Returns whether the cache stores anything at all.
    pub fn is_enabled(&self) -> bool {
        !self.inner.config.max_staleness.is_zero() && self.inner.config.capacity > 0
    }

    /// Returns the number of entries, including any expired one not yet removed.
    pub fn len(&self) -> usize {
        self.inner.len.load(Ordering::Relaxed)
    }

    /// Returns whether the cache has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the state before a store call, for [`DenyCache::remember`].
    pub fn observe(&self) -> Observation {
        Observation {
            started: Instant::now(),
            generation: self.inner.generation.load(Ordering::Acquire),
        }
    }

    /// Returns a denial for the key with hash `key_hash` when its token is known to be over a
    /// limit for `cost` at `now`. Returns `None` when the store must decide: no entry, an
    /// expired one, another project or scope than the cached token's, or a cost that may fit.
    pub fn lookup(
        &self,
        key_hash: KeyHash,
        project_id: Option<&str>,
        required_scope: Scope,
        cost: u64,
        now: Instant,
    ) -> Option<CachedDenial> {
        if self.is_empty() {
            return None;
        }
        let mut shard = self.shard(key_hash);
        let entry = shard.get(&key_hash)?;
        if now >= entry.expires_at {
            self.remove(&mut shard, key_hash);
            return None;
        }
        // The token checks run before the limits, so a call the cached token would fail for
        // another reason is left to the store, which reports that reason. NOTE: an entry does
        // not carry the token's expiry time, so a token whose `expires_at` passes while it is
        // cached is denied as RATE_LIMITED rather than EXPIRED, for at most the staleness.
        let token = &entry.token;
        if project_id.is_some_and(|project| project != token.project_id)
            || !token.scopes.contains(required_scope)
        {
            return None;
        }

        let elapsed_ms =
            i64::try_from(now.duration_since(entry.observed_at).as_millis()).unwrap_or(i64::MAX);
        let store_now_ms = entry.store_now_ms.saturating_add(elapsed_ms);
        let (rate, _) = limits::evaluate(&entry.limits, cost, RateMode::DryRun, store_now_ms);
        if rate.allowed {
            self.remove(&mut shard, key_hash);
            return None;
        }
        Some(CachedDenial {
            token: token.clone(),
            rate,
        })
    }

    /// Remembers that the token of `key_hash` was denied by a rate limit, as the store reported
    /// in `rate`. Does nothing when the cache is disabled or when an invalidation happened
    /// since `observation` was taken.
    pub fn remember(
        &self,
        key_hash: KeyHash,
        token: &TokenSummary,
        rate: &RateOutcome,
        observation: Observation,
    ) {
        if !self.is_enabled() || rate.allowed {
            return;
        }
        let entry = Entry {
            token: token.clone(),
            limits: rate
                .windows
                .iter()
                .map(|view| (view.limit, view.window))
                .collect(),
            store_now_ms: rate.now_ms,
            observed_at: observation.started,
            expires_at: observation.started + self.inner.config.max_staleness,
        };

        let mut shard = self.shard(key_hash);
        // Checked under the shard's lock: an invalidation increments the generation before it
        // takes the locks, so either the invalidation removes this entry or this check finds
        // the new generation.
        if self.inner.generation.load(Ordering::Acquire) != observation.generation {
            return;
        }
        if !shard.contains_key(&key_hash) && self.len() >= self.inner.config.capacity {
            self.make_room(&mut shard);
            if shard.is_empty() {
                // Every entry is in other shards; this denial is simply not stored.
                return;
            }
        }
        if shard.insert(key_hash, entry).is_none() {
            self.inner.len.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops the entries of one token, after a change to it through this replica.
    pub fn forget_token(&self, project_id: &str, token_id: &str) {
        self.retain(|token| token.project_id != project_id || token.token_id != token_id);
    }

    /// Drops the entries of every token of a project.
    pub fn forget_project(&self, project_id: &str) {
        self.retain(|token| token.project_id != project_id);
    }

    /// Drops every entry, after a change that may affect any token, such as a plan change.
    pub fn clear(&self) {
        self.retain(|_| false);
    }

    fn retain(&self, keep: impl Fn(&TokenSummary) -> bool) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if self.is_empty() {
            return;
        }
        for shard in &self.inner.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, entry| keep(&entry.token));
            self.inner
                .len
                .fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
    }

    /// Frees a slot in a full cache: drops this shard's expired entries, or else any one entry.
    fn make_room(&self, shard: &mut HashMap<KeyHash, Entry>) {
        let now = Instant::now();
        let before = shard.len();
        shard.retain(|_, entry| entry.expires_at > now);
        if shard.len() == before
            && let Some(victim) = shard.keys().next().copied()
        {
            shard.remove(&victim);
        }
        self.inner
            .len
            .fetch_sub(before - shard.len(), Ordering::Relaxed);
    }

    fn remove(&self, shard: &mut HashMap<KeyHash, Entry>, key_hash: KeyHash) {
        if shard.remove(&key_hash).is_some() {
            self.inner.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn shard(&self, key_hash: KeyHash) -> MutexGuard<'_, HashMap<KeyHash, Entry>> {
        // The key hash is a SHA-256 digest, so any of its bytes picks a shard evenly.
        let index = usize::from(key_hash.as_bytes()[0]) % SHARDS;
        lock(&self.inner.shards[index])
    }
}

fn lock(shard: &Mutex<HashMap<KeyHash, Entry>>) -> MutexGuard<'_, HashMap<KeyHash, Entry>> {
    // A panic while the lock was held leaves at worst a stale entry, which expires by itself.
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
