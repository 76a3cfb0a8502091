//! Workloads: the tokens each one sets up, and the key every timed call presents.

use token_authority::domain::AccessKey;

use crate::{
    cli::Workload,
    setup::{Admin, FLOOD_LIMIT},
};

/// The keys of a workload, known and unknown, and how often an unknown one is picked.
#[derive(Debug)]
pub struct Keys {
    /// Every key, known ones first. A pick returns an index into this list.
    pub all: Vec<String>,
    known: usize,
    /// Picks of an unknown key per 10,000 picks.
    unknown_per_10k: u64,
}

impl Keys {
    /// Returns the index of the key the next call presents, drawn with `rng`.
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let unknown = self.all.len() - self.known;
        if unknown > 0 && rng.below(10_000) < self.unknown_per_10k {
            return self.known + rng.below(unknown as u64) as usize;
        }
        rng.below(self.known as u64) as usize
    }
}

/// Creates the workload's projects and tokens under ids that start with `run_id`, and returns
/// the keys its calls present.
pub async fn set_up(
    admin: &Admin,
    workload: Workload,
    run_id: &str,
    tokens: u32,
    unknown_percent: u32,
) -> Result<Keys, String> {
    let account_id = format!("bench-{run_id}");
    let project_id = format!("bench-{run_id}-{}", workload.name());
    let hot_key = admin.create_project(&account_id, &project_id).await?;

    let (known, unknown_count, unknown_per_10k) = match workload {
        Workload::HotToken => (vec![hot_key], 0, 0),
        Workload::ManyTokens => (admin.create_tokens(&project_id, tokens).await?, 0, 0),
        Workload::Mixed => {
            let known = admin.create_tokens(&project_id, tokens).await?;
            // One unknown key per hundred known ones, at least one, spreads the unknown calls
            // over several slots as real scans of stale keys do.
            let unknown_count = (tokens / 100).max(1);
            (known, unknown_count, u64::from(unknown_percent) * 100)
        }
        Workload::Flood => {
            admin.set_paid(&account_id).await?;
            let key = admin
                .create_token(&project_id, "bench-flood", Some(FLOOD_LIMIT))
                .await?;
            // Spend the limit, then check that the next call is denied.
            for _ in 0..FLOOD_LIMIT.count {
                admin.post_item(&key).await?;
            }
            if admin.post_item(&key).await? {
                return Err("the flood token was allowed after its limit was spent".to_owned());
            }
            (vec![key], 0, 0)
        }
    };

    let mut all = known;
    let known = all.len();
    for _ in 0..unknown_count {
        let key = AccessKey::generate()
            .map_err(|error| format!("failed to generate an unknown key: {error}"))?;
        all.push(key.expose().to_owned());
    }
    Ok(Keys {
        all,
        known,
        unknown_per_10k,
    })
}

/// A small, fast pseudo-random generator (xorshift64*), one per caller, so that picking a key
/// takes no lock. Its quality is ample for spreading calls over keys.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds a generator; callers use distinct seeds so they do not walk the keys in step.
    pub fn new(seed: u64) -> Self {
        // The state must never be zero.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Returns a number in `0..bound`; `bound` must be above 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // The high bits are the best ones; the multiply-shift maps them onto 0..bound.
        ((u128::from(value) * u128::from(bound)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_stays_below_bound() {
        let mut rng = Rng::new(7);
        for bound in [1, 2, 3, 1000] {
            for _ in 0..10_000 {
                assert!(rng.below(bound) < bound);
            }
        }
    }

    #[test]
    fn pick_mixes_unknown_keys() {
        let keys = Keys {
            all: (0..110).map(|index| index.to_string()).collect(),
            known: 100,
            unknown_per_10k: 300,
        };
        let mut rng = Rng::new(1);
        let unknown = (0..100_000).filter(|_| keys.pick(&mut rng) >= 100).count();
        assert!((2_500..3_500).contains(&unknown), "{unknown} unknown picks");
    }

    #[test]
    fn pick_without_unknown_keys() {
        let keys = Keys {
            all: vec!["only".to_owned()],
            known: 1,
            unknown_per_10k: 0,
        };
        let mut rng = Rng::new(3);
        assert!((0..100).all(|_| keys.pick(&mut rng) == 0));
    }
}
