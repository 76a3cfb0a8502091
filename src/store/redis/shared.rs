//! The multiplexed connections that Authorize calls share.
//!
//! A connection taken from the pool serves one store operation at a time. N concurrent Authorize
//! calls would hold N connections with one EVALSHA in flight on each, so every call would cost
//! the server and Redis a write and a read system call of its own. Authorize sends
//! exactly one command, so it needs no connection of its own. Its calls take turns on a few
//! multiplexed connections instead, where the redis crate writes the commands waiting to go out
//! together and Redis reads and replies to them together (pipelining).
//!
//! A shared connection whose command fails with a connection error or times out is dropped, as
//! a pooled one is, and the next call on that slot connects again.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use deadpool::managed::Manager as _;

use super::pool::{Connection, Pool, map_error};
use crate::store::{StoreError, StoreResult};

/// How many connections Authorize calls share: two, so that a slow reply on one does not hold
/// up every call, and few enough that each carries commands in batches.
pub const SHARED_CONNECTIONS: usize = 2;

/// The shared connections, each connected on first use.
pub struct SharedConnections {
    slots: Vec<Arc<Slot>>,
    next: AtomicUsize,
    generations: AtomicU64,
}

struct Slot {
    /// The connection, with the generation that distinguishes it from its replacements.
    current: Mutex<Option<(u64, Connection)>>,
    /// Held while connecting, so that concurrent calls on an empty slot connect once.
    connecting: tokio::sync::Mutex<()>,
}

/// A call's claim on a shared connection, which drops that connection when the call finds it
/// broken.
pub struct Lease {
    slot: Arc<Slot>,
    generation: u64,
}

impl SharedConnections {
    /// Creates `count` empty slots.
    pub fn new(count: usize) -> Self {
        SharedConnections {
            slots: (0..count.max(1))
                .map(|_| {
                    Arc::new(Slot {
                        current: Mutex::new(None),
                        connecting: tokio::sync::Mutex::new(()),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            generations: AtomicU64::new(0),
        }
    }

    /// Returns the next slot's connection, connecting it through the pool's manager first when
    /// it has none, within `timeout`.
    pub async fn get(&self, pool: &Pool, timeout: Duration) -> StoreResult<(Connection, Lease)> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[index];
        if let Some(found) = slot.lease() {
            return Ok(found);
        }

        let connect = async {
            let _connecting = slot.connecting.lock().await;
            // Another call may have connected while this one waited.
            if let Some(found) = slot.lease() {
                return Ok(found);
            }
            let connection = pool.manager().create().await?;
            let generation = self.generations.fetch_add(1, Ordering::Relaxed);
            *slot.lock() = Some((generation, connection.clone()));
            let lease = Lease {
                slot: Arc::clone(slot),
                generation,
            };
            Ok((connection, lease))
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(error)) => Err(map_error(error, timeout)),
            Err(_) => Err(StoreError::Timeout(timeout)),
        }
    }
}

impl Slot {
    fn lease(self: &Arc<Self>) -> Option<(Connection, Lease)> {
        let (generation, connection) = self.lock().clone()?;
        let lease = Lease {
            slot: Arc::clone(self),
            generation,
        };
        Some((connection, lease))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Connection)>> {
        // The lock only guards a clone or a replacement, which cannot leave it half done.
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Lease {
    /// Drops the leased connection from its slot, unless it was replaced already.
    pub fn discard(self) {
        let mut current = self.slot.lock();
        if current
            .as_ref()
            .is_some_and(|(generation, _)| *generation == self.generation)
        {
            *current = None;
        }
    }
}
