//! Last-used times, coalesced: a credential used on every request must not
//! cost a database write on every request.
//!
//! Each successful use is [noted](UsageRecorder::note) with its time. The
//! first use of a target, and the first one after more than the interval since
//! the last write, is written through at once; the uses in between only move
//! the latest time in memory, which the periodic [flush](UsageRecorder::flush)
//! (every interval, and once more at graceful shutdown) writes. So a target
//! costs at most about one write per interval per replica, whatever its
//! traffic, and its stored last-used time is never more than one interval
//! behind. The store ignores a time older than the recorded one, so replicas
//! and late flushes never move it back.
//!
//! The times are the application clock's, so tests move them by hand.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keyward_store::{Store, StoreError};
use tokio::sync::watch;

use crate::clock::SharedClock;
use crate::grpc::status::error_chain;

/// How many targets are tracked at most; beyond that, uses of targets not
/// tracked are written through, uncoalesced, rather than growing memory.
const MAX_TRACKED: usize = 100_000;

/// Whose use is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsageTarget {
    /// A user API key, by its ID.
    ApiKey(Arc<str>),
    /// One version of a client credential's secret, so that an administrator can see when
    /// the previous secret went quiet during a renewal's grace period.
    CredentialSecret {
        /// The credential's ID.
        credential_id: Arc<str>,
        /// The secret version.
        version: i32,
    },
}

/// A write of a target's last-used time.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Where last-used times are written: the store, or a fake in tests.
pub trait UsageSink: Send + Sync + 'static {
    /// Records that `target` was used at `time` (a no-op when the recorded
    /// time is later).
    fn write<'a>(&'a self, target: &'a UsageTarget, time: DateTime<Utc>) -> SinkFuture<'a>;
}

impl UsageSink for Store {
    fn write<'a>(&'a self, target: &'a UsageTarget, time: DateTime<Utc>) -> SinkFuture<'a> {
        Box::pin(async move {
            match target {
                UsageTarget::ApiKey(id) => self.touch_api_key_last_used(id, time).await,
                UsageTarget::CredentialSecret {
                    credential_id,
                    version,
                } => {
                    self.touch_credential_secret_last_used(credential_id, *version, time)
                        .await
                }
            }
        })
    }
}

/// What is known about one target.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When its time was last written (or handed to the sink).
    written: DateTime<Utc>,
    /// The latest use not written yet.
    pending: Option<DateTime<Utc>>,
}

/// Notes uses and writes them, at most about once per interval per target.
/// Cheap to clone: clones share their memory.
#[derive(Clone)]
pub struct UsageRecorder {
    sink: Arc<dyn UsageSink>,
    interval: TimeDelta,
    entries: Arc<Mutex<HashMap<UsageTarget, Entry>>>,
}

impl std::fmt::Debug for UsageRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageRecorder")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl UsageRecorder {
    /// A recorder writing to `sink` at most about once per `interval` per
    /// target.
    pub fn new(sink: impl UsageSink, interval: Duration) -> Self {
        Self {
            sink: Arc::new(sink),
            interval: TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX),
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The interval writes are coalesced over.
    pub fn interval(&self) -> Duration {
        self.interval.to_std().unwrap_or(Duration::MAX)
    }

    /// Notes that `target` was used at `time`: written through when nothing
    /// was written for it within the interval, else kept for the next flush.
    /// A failed write is logged and retried by the next flush; it never fails
    /// the request that used the target.
    pub async fn note(&self, target: UsageTarget, time: DateTime<Utc>) {
        let write_now = {
            let Ok(mut entries) = self.entries.lock() else {
                return;
            };
            match entries.get_mut(&target) {
                Some(entry) if time - entry.written < self.interval => {
                    if time > entry.written {
                        entry.pending = entry.pending.max(Some(time));
                    }
                    false
                }
                Some(entry) => {
                    *entry = Entry {
                        written: time,
                        pending: None,
                    };
                    true
                }
                None => {
                    if entries.len() < MAX_TRACKED {
                        entries.insert(
                            target.clone(),
                            Entry {
                                written: time,
                                pending: None,
                            },
                        );
                    }
                    true
                }
            }
        };
        if write_now && let Err(err) = self.sink.write(&target, time).await {
            tracing::warn!(error = %error_chain(&err), ?target, "cannot record last use, retrying at the next flush");
            self.keep_pending(target, time);
        }
    }

    /// Writes every pending use, and forgets targets with nothing pending that
    /// were last written an interval or more before `now`. Returns how many
    /// writes succeeded. Failed writes stay pending for the next flush.
    pub async fn flush(&self, now: DateTime<Utc>) -> usize {
        let due: Vec<(UsageTarget, DateTime<Utc>)> = {
            let Ok(mut entries) = self.entries.lock() else {
                return 0;
            };
            let interval = self.interval;
            entries.retain(|_, entry| entry.pending.is_some() || now - entry.written < interval);
            entries
                .iter_mut()
                .filter_map(|(target, entry)| {
                    let time = entry.pending.take()?;
                    entry.written = now.max(time);
                    Some((target.clone(), time))
                })
                .collect()
        };
        let mut written = 0;
        let mut failed = 0;
        for (target, time) in due {
            match self.sink.write(&target, time).await {
                Ok(()) => written += 1,
                Err(err) => {
                    if failed == 0 {
                        tracing::warn!(error = %error_chain(&err), "cannot record last uses, retrying at the next flush");
                    }
                    failed += 1;
                    self.keep_pending(target, time);
                }
            }
        }
        written
    }

    /// Puts a use whose write failed back, for the next flush.
    fn keep_pending(&self, target: UsageTarget, time: DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.lock() {
            let entry = entries.entry(target).or_insert(Entry {
                written: time,
                pending: None,
            });
            entry.pending = entry.pending.max(Some(time));
        }
    }

    /// Flushes every interval until `stopping` turns true. The final flush,
    /// after in-flight calls are drained, is the caller's.
    pub async fn flush_periodically(self, clock: SharedClock, mut stopping: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stopping.wait_for(|stopping| *stopping) => return,
            }
            self.flush(clock.now()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Counts writes; fails them while `failing` is set.
    #[derive(Default)]
    struct FakeSink {
        writes: Mutex<Vec<(UsageTarget, DateTime<Utc>)>>,
        failing: AtomicBool,
    }

    impl UsageSink for Arc<FakeSink> {
        fn write<'a>(&'a self, target: &'a UsageTarget, time: DateTime<Utc>) -> SinkFuture<'a> {
            Box::pin(async move {
                if self.failing.load(Ordering::SeqCst) {
                    return Err(StoreError::Conflict);
                }
                self.writes.lock().unwrap().push((target.clone(), time));
                Ok(())
            })
        }
    }

    impl FakeSink {
        fn take(&self) -> Vec<(UsageTarget, DateTime<Utc>)> {
            std::mem::take(&mut *self.writes.lock().unwrap())
        }
    }

    fn key(id: &str) -> UsageTarget {
        UsageTarget::ApiKey(id.into())
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn recorder() -> (UsageRecorder, Arc<FakeSink>) {
        let sink = Arc::new(FakeSink::default());
        (
            UsageRecorder::new(sink.clone(), Duration::from_secs(60)),
            sink,
        )
    }

    #[tokio::test]
    async fn the_first_use_is_written_through_and_the_rest_of_the_interval_waits_for_a_flush() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(0)).await;
        assert_eq!(sink.take(), [(key("k1"), at(0))]);

        for second in 1..=59 {
            usage.note(key("k1"), at(second)).await;
        }
        assert_eq!(sink.take(), [], "uses within the interval are not written");

        assert_eq!(usage.flush(at(60)).await, 1);
        assert_eq!(sink.take(), [(key("k1"), at(59))], "the latest use, once");
        assert_eq!(usage.flush(at(61)).await, 0, "nothing pending");
        assert_eq!(sink.take(), []);
    }

    #[tokio::test]
    async fn a_use_more_than_an_interval_after_the_last_write_is_written_through() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(0)).await;
        usage.note(key("k1"), at(60)).await;
        usage.note(key("k1"), at(125)).await;
        assert_eq!(
            sink.take(),
            [
                (key("k1"), at(0)),
                (key("k1"), at(60)),
                (key("k1"), at(125))
            ]
        );
    }

    #[tokio::test]
    async fn targets_are_coalesced_separately_and_older_times_are_not_pending() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(10)).await;
        usage.note(key("k2"), at(11)).await;
        usage.note(key("k1"), at(5)).await; // a slower request that started earlier
        usage.note(key("k2"), at(20)).await;
        let mut written = sink.take();
        written.sort_by_key(|(_, time)| *time);
        assert_eq!(written, [(key("k1"), at(10)), (key("k2"), at(11))]);
        assert_eq!(usage.flush(at(30)).await, 1);
        assert_eq!(sink.take(), [(key("k2"), at(20))]);
    }

    #[tokio::test]
    async fn a_flush_counts_as_the_write_of_its_interval() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(0)).await;
        usage.note(key("k1"), at(30)).await;
        usage.flush(at(60)).await;
        usage.note(key("k1"), at(90)).await;
        assert_eq!(
            sink.take(),
            [(key("k1"), at(0)), (key("k1"), at(30))],
            "90 is within the interval of the flush at 60"
        );
        usage.flush(at(120)).await;
        assert_eq!(sink.take(), [(key("k1"), at(90))]);
    }

    #[tokio::test]
    async fn concurrent_first_uses_write_once() {
        let (usage, sink) = recorder();
        let uses: Vec<_> = (0..50)
            .map(|_| {
                let usage = usage.clone();
                tokio::spawn(async move { usage.note(key("k1"), at(0)).await })
            })
            .collect();
        for task in uses {
            task.await.unwrap();
        }
        assert_eq!(sink.take().len(), 1);
    }

    #[tokio::test]
    async fn failed_writes_are_retried_by_the_next_flush() {
        let (usage, sink) = recorder();
        sink.failing.store(true, Ordering::SeqCst);
        usage.note(key("k1"), at(0)).await;
        usage.note(key("k1"), at(5)).await;
        assert_eq!(usage.flush(at(60)).await, 0);
        sink.failing.store(false, Ordering::SeqCst);
        assert_eq!(sink.take(), []);
        assert_eq!(usage.flush(at(120)).await, 1);
        assert_eq!(sink.take(), [(key("k1"), at(5))]);
    }

    #[tokio::test]
    async fn idle_targets_are_forgotten_and_written_through_on_their_next_use() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(0)).await;
        usage.flush(at(200)).await;
        assert!(usage.entries.lock().unwrap().is_empty(), "forgotten");
        usage.note(key("k1"), at(201)).await;
        assert_eq!(sink.take(), [(key("k1"), at(0)), (key("k1"), at(201))]);
    }
}
