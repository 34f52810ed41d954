//! The time Keyward decides by, injectable so that expiry and timestamp
//! windows are tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that tests move by hand. Starts at the system time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(Utc::now().timestamp_micros())),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The clock handle the application shares.
pub type SharedClock = Arc<dyn Clock>;

/// A monotonic source of elapsed time: what freshness bounds and attempt budgets are
/// measured with (wall-clock time may jump), injectable so tests move it by hand.
pub trait Monotonic: Send + Sync + std::fmt::Debug {
    /// Time elapsed since an arbitrary fixed origin; never goes back.
    fn elapsed(&self) -> std::time::Duration;
}

/// The operating system's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemMonotonic {
    origin: std::time::Instant,
}

impl Default for SystemMonotonic {
    fn default() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

impl Monotonic for SystemMonotonic {
    fn elapsed(&self) -> std::time::Duration {
        self.origin.elapsed()
    }
}

/// A monotonic clock that tests move forward by hand. Starts at zero.
#[derive(Debug, Clone, Default)]
pub struct ManualMonotonic {
    nanos: Arc<std::sync::atomic::AtomicU64>,
}

impl ManualMonotonic {
    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Monotonic for ManualMonotonic {
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// The monotonic clock handle the application shares.
pub type SharedMonotonic = Arc<dyn Monotonic>;
