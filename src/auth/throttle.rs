//! The budget of unproven secrets per credential: guessing is throttled before argon2.
//!
//! A secret whose digest the index remembers is accepted without argon2 and without
//! touching the budget, so a credential under attack keeps working for whoever already
//! proved its secret. Any other secret presented for a known credential (a first
//! verification, or a guess) spends one attempt of that credential's budget before argon2
//! runs: `attempts` per `window` (a token bucket: up to `attempts` at once, refilled evenly
//! over the window). Beyond it the secret is refused without running argon2, with a
//! distinct answer: `REASON_TOO_MANY_ATTEMPTS` for the `Verify*` calls, RESOURCE_EXHAUSTED
//! with a `RetryInfo` for caller authentication.
//!
//! The budget is per credential (an API key, or a client credential across its secret
//! versions) and per replica: N replicas allow N times the attempts. Buckets live in a
//! bounded cache; a bucket evicted under pressure starts full again.

use std::sync::Arc;
use std::time::Duration;

use quick_cache::sync::{Cache, EntryAction, EntryResult};

use crate::clock::SharedMonotonic;
use crate::index::IdBytes;

/// How many credentials' budgets are tracked at most.
const TRACKED: usize = 100_000;

/// Whose budget an attempt spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Budget {
    /// A user API key, by id.
    ApiKey(IdBytes),
    /// A client credential, by id (all its secret versions together).
    Credential(Arc<str>),
    /// A one-time enrollment token, by id.
    EnrollmentToken(IdBytes),
}

/// How many unproven secrets a credential may present per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Attempts per window (and at most at once).
    pub attempts: u32,
    /// The window.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            attempts: 5,
            window: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

/// The per-credential budgets of this replica.
pub struct Throttle {
    config: ThrottleConfig,
    clock: SharedMonotonic,
    buckets: Cache<Budget, Bucket>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// Budgets of `config`, measured on `clock`.
    pub fn new(config: ThrottleConfig, clock: SharedMonotonic) -> Self {
        Self {
            config: ThrottleConfig {
                attempts: config.attempts.max(1),
                window: config.window.max(Duration::from_millis(1)),
            },
            clock,
            buckets: Cache::new(TRACKED),
        }
    }

    /// `Some(retry_after)` when `budget` has no attempt left now; spends nothing. Cheap (a
    /// shared read): what a flood of guesses against a spent budget costs.
    pub fn spent(&self, budget: &Budget) -> Option<Duration> {
        let bucket = self.buckets.get(budget)?;
        let capacity = f64::from(self.config.attempts);
        let per_second = capacity / self.config.window.as_secs_f64();
        let refilled = self.clock.elapsed().saturating_sub(bucket.at).as_secs_f64() * per_second;
        let tokens = (bucket.tokens + refilled).min(capacity);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / per_second))
    }

    /// Spends one attempt of `budget`: `Err(retry_after)` when none is left.
    pub fn spend(&self, budget: &Budget) -> Result<(), Duration> {
        let capacity = f64::from(self.config.attempts);
        let per_second = capacity / self.config.window.as_secs_f64();
        let now = self.clock.elapsed();
        let spend = |bucket: &mut Bucket| {
            let refilled = now.saturating_sub(bucket.at).as_secs_f64() * per_second;
            bucket.tokens = (bucket.tokens + refilled).min(capacity);
            bucket.at = now;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
            }
        };
        match self
            .buckets
            .entry(budget, None, |_, bucket| EntryAction::Retain(spend(bucket)))
        {
            EntryResult::Retained(result) => result,
            EntryResult::Vacant(guard) => {
                let _ = guard.insert(Bucket {
                    tokens: capacity - 1.0,
                    at: now,
                });
                Ok(())
            }
            // Not produced by `Retain` without a timeout; spend nothing.
            EntryResult::Removed(..) | EntryResult::Replaced(..) | EntryResult::Timeout => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualMonotonic;

    #[test]
    fn a_credential_gets_its_attempts_per_window_and_others_are_not_affected() {
        let clock = ManualMonotonic::default();
        let throttle = Throttle::new(
            ThrottleConfig {
                attempts: 3,
                window: Duration::from_secs(9),
            },
            Arc::new(clock.clone()),
        );
        let attacked = Budget::ApiKey([1; 10]);
        for _ in 0..3 {
            assert_eq!(throttle.spend(&attacked), Ok(()));
        }
        let retry = throttle.spend(&attacked).unwrap_err();
        assert_eq!(
            retry,
            Duration::from_secs(3),
            "one attempt comes back every 3 s"
        );
        assert_eq!(throttle.spend(&Budget::Credential("c".into())), Ok(()));
        clock.advance(Duration::from_secs(3));
        assert_eq!(throttle.spend(&attacked), Ok(()));
        assert!(throttle.spend(&attacked).is_err());
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(
                throttle.spend(&attacked),
                Ok(()),
                "refilled, up to the capacity"
            );
        }
        assert!(throttle.spend(&attacked).is_err());
    }
}
