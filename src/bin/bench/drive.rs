//! The two ways of pacing calls.
//!
//! - Closed loop: each of N callers sends its next call when the previous one returns, so the
//!   figures show the most the target can take at that concurrency.
//! - Open loop: calls follow a fixed schedule of R per second, whatever the replies do. Latency
//!   counts from each call's scheduled time, so a call that had to wait behind slow ones shows
//!   that wait (no coordinated omission).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use tokio::{
    sync::{Barrier, Mutex, mpsc},
    task::JoinSet,
    time::Instant,
};

use crate::{
    target::{Caller, Outcome},
    workload::{Keys, Rng},
};

/// The highest latency the histograms hold; a slower call is recorded as this.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// The lead time with which the pacer releases an open-loop call before its scheduled time.
/// Linux lets a sleeping thread wake up to 50 µs late (its default timer slack), so the pacer
/// wakes this much early, and latency counts from the earlier of the send and the scheduled
/// time.
const EARLY_SEND: Duration = Duration::from_micros(50);

/// An open-loop call that leaves later than this after its scheduled time counts as late: the
/// generator itself fell behind.
const LATE_SEND: Duration = Duration::from_millis(1);

/// How long an open-loop run may overrun its duration while the target works through a backlog.
/// Calls not sent by then count as unsent.
const OVERRUN_GRACE: Duration = Duration::from_secs(5);

/// The counts and latencies of one caller, merged into one at the end of a phase.
#[derive(Debug)]
pub struct Tally {
    /// Latency of every completed call, in nanoseconds.
    pub latency: Histogram<u32>,
    /// Replies by decision.
    pub replies: BTreeMap<&'static str, u64>,
    /// Failed calls by error.
    pub errors: BTreeMap<&'static str, u64>,
    /// Open-loop calls sent more than 1 ms after their scheduled time.
    pub late_sends: u64,
    /// Open-loop calls never sent because the run overran its duration.
    pub unsent: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1_000, MAX_LATENCY_NS, 3)
                .expect("the histogram bounds are valid"),
            replies: BTreeMap::new(),
            errors: BTreeMap::new(),
            late_sends: 0,
            unsent: 0,
        }
    }

    fn record(&mut self, outcome: Outcome, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(MAX_LATENCY_NS);
        self.latency.saturating_record(nanos.min(MAX_LATENCY_NS));
        let counts = match outcome {
            Outcome::Reply(label) => self.replies.entry(label),
            Outcome::Error(label) => self.errors.entry(label),
        };
        *counts.or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.latency
            .add(&other.latency)
            .expect("histograms with the same bounds merge");
        for (label, count) in other.replies {
            *self.replies.entry(label).or_default() += count;
        }
        for (label, count) in other.errors {
            *self.errors.entry(label).or_default() += count;
        }
        self.late_sends += other.late_sends;
        self.unsent += other.unsent;
    }

    /// Returns how many calls completed with a reply.
    pub fn replied(&self) -> u64 {
        self.replies.values().sum()
    }

    /// Returns how many calls completed, with a reply or an error.
    pub fn completed(&self) -> u64 {
        self.replied() + self.errors.values().sum::<u64>()
    }
}

/// The result of one phase: the merged tally and how long the phase took.
#[derive(Debug)]
pub struct Phase {
    /// Every caller's counts and latencies.
    pub tally: Tally,
    /// From the first call's start to the last call's end.
    pub elapsed: Duration,
}

/// Runs `concurrency` callers, each calling again as soon as a call returns, until `duration`
/// has passed or `max_requests` calls have started.
pub async fn closed(
    caller: Arc<Caller>,
    keys: Arc<Keys>,
    concurrency: u32,
    duration: Duration,
    max_requests: u64,
) -> Phase {
    let started_calls = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + duration;
    let mut callers = JoinSet::new();
    for index in 0..concurrency {
        let (caller, keys, started_calls) = (caller.clone(), keys.clone(), started_calls.clone());
        callers.spawn(async move {
            let mut tally = Tally::new();
            let mut rng = Rng::new(u64::from(index) + 1);
            let connection = index as usize % caller.connection_count();
            loop {
                let sent = Instant::now();
                if sent >= end || started_calls.fetch_add(1, Ordering::Relaxed) >= max_requests {
                    return tally;
                }
                let outcome = caller.call(connection, keys.pick(&mut rng)).await;
                tally.record(outcome, sent.elapsed());
            }
        });
    }
    finish(callers, start).await
}

/// Sends `rate` calls per second on a fixed schedule for `duration`, at most `max_requests`,
/// through `workers` callers that take the scheduled calls in turn, so at most `workers` calls
/// are in flight.
///
/// A thread of its own releases each call at its scheduled time. Tokio's timer has a
/// resolution of 1 ms, so callers that slept on it would leave in bursts, every call due within
/// the same millisecond at once, and the target would see queues that a steady rate does not
/// cause. The thread sleeps with the system's resolution instead, about 50 µs.
pub async fn open(
    caller: Arc<Caller>,
    keys: Arc<Keys>,
    workers: u32,
    rate: u64,
    duration: Duration,
    max_requests: u64,
) -> Phase {
    let scheduled = (u128::from(rate) * duration.as_millis() / 1000) as u64;
    let total = scheduled.min(max_requests);
    let period_ns = 1e9 / rate as f64;

    // Each released call carries its scheduled time and the time after which it counts as
    // unsent. A few calls per caller may wait to be taken, and when every caller is busy the
    // pacer waits too, so a target that falls behind does not fill memory with released calls.
    // The wait still counts in each call's latency.
    let (release, released) = mpsc::channel::<(Instant, Instant)>(workers.max(1) as usize * 2);
    let released = Arc::new(Mutex::new(released));
    // The schedule starts once every caller runs, so that the first calls do not wait for
    // callers that are still being spawned.
    let ready = Arc::new(Barrier::new(workers as usize + 1));
    let mut callers = JoinSet::new();
    for index in 0..workers {
        let (caller, keys, released, ready) = (
            caller.clone(),
            keys.clone(),
            released.clone(),
            ready.clone(),
        );
        callers.spawn(async move {
            let mut tally = Tally::new();
            let mut rng = Rng::new(u64::from(index) + 1);
            let connection = index as usize % caller.connection_count();
            ready.wait().await;
            loop {
                // One caller at a time waits for the next release, and the others wait for the
                // lock.
                let Some((scheduled, give_up)) = released.lock().await.recv().await else {
                    return tally;
                };
                let sent = Instant::now();
                if sent >= give_up {
                    tally.unsent += 1;
                    continue;
                }
                if sent > scheduled + LATE_SEND {
                    tally.late_sends += 1;
                }
                let outcome = caller.call(connection, keys.pick(&mut rng)).await;
                tally.record(outcome, sent.min(scheduled).elapsed());
            }
        });
    }
    ready.wait().await;

    let start = Instant::now() + Duration::from_millis(1);
    let give_up = start + duration + OVERRUN_GRACE;
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".to_owned())
        .spawn(move || {
            let (start_std, give_up_std) = (start.into_std(), give_up.into_std());
            for call in 0..total {
                let scheduled = start_std + Duration::from_nanos((call as f64 * period_ns) as u64);
                let now = std::time::Instant::now();
                if now >= give_up_std {
                    // The thread returns how many calls it never released, which are unsent.
                    return total - call;
                }
                if scheduled > now + EARLY_SEND {
                    std::thread::sleep(scheduled - EARLY_SEND - now);
                }
                if release
                    .blocking_send((Instant::from_std(scheduled), give_up))
                    .is_err()
                {
                    return total - call;
                }
            }
            0
        })
        .expect("failed to start the pacer thread");

    let mut phase = finish(callers, start).await;
    phase.tally.unsent += tokio::task::spawn_blocking(move || pacer.join())
        .await
        .expect("the pacer join task panicked")
        .expect("the pacer thread panicked");
    phase
}

async fn finish(mut callers: JoinSet<Tally>, start: Instant) -> Phase {
    let mut tally = Tally::new();
    while let Some(result) = callers.join_next().await {
        tally.merge(result.expect("a caller task panicked"));
    }
    Phase {
        tally,
        elapsed: start.elapsed(),
    }
}
