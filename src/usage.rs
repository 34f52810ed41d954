//! Last-used times, coalesced and written off the request path: a credential used on every
//! request must not cost a database write on every request, and no request waits for one.
//!
//! Each successful use is [noted](UsageRecorder::note) in memory with its time; noting never
//! touches the database. The first use of a target, and the first one after more than the
//! interval since its last write, is *due*: the recorder's writer task is woken and writes it
//! within milliseconds ([`write_due`](UsageRecorder::write_due)). The uses in between only move
//! the latest time in memory, which the periodic [flush](UsageRecorder::flush) (every interval,
//! and once more at graceful shutdown) writes. So a target costs at most about one write per
//! interval per replica, whatever its traffic, and its stored last-used time is never more than
//! one interval behind. The store ignores a time older than the recorded one, so replicas and
//! late flushes never move it back.
//!
//! The times are the application clock's, so tests move them by hand.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keyward_store::{LastUsed, Store, StoreError};
use tokio::sync::{Notify, watch};

use crate::clock::SharedClock;
use crate::error::error_chain;

/// How many targets are tracked at most (about 100 bytes each): more credentials than that
/// used within one interval on one replica. Beyond it, the use of a target not tracked yet is
/// not recorded (and counted in the next flush's log line) rather than growing memory or
/// putting a write on the request path.
const MAX_TRACKED: usize = 1_000_000;

/// How many uses one transaction writes: enough that a burst of first uses costs a
/// commit per batch, few enough that SQLite's write lock is held for milliseconds.
const BATCH: usize = 256;

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

/// A write of last-used times.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Where last-used times are written: the store, or a fake in tests.
pub trait UsageSink: Send + Sync + 'static {
    /// Records that each target was used at its time, all or nothing (a time earlier than
    /// the recorded one changes nothing).
    fn write<'a>(&'a self, uses: &'a [(UsageTarget, DateTime<Utc>)]) -> SinkFuture<'a>;
}

impl UsageSink for Store {
    fn write<'a>(&'a self, uses: &'a [(UsageTarget, DateTime<Utc>)]) -> SinkFuture<'a> {
        Box::pin(async move {
            let uses: Vec<_> = uses
                .iter()
                .map(|(target, time)| {
                    let used = match target {
                        UsageTarget::ApiKey(id) => LastUsed::ApiKey(id),
                        UsageTarget::CredentialSecret {
                            credential_id,
                            version,
                        } => LastUsed::CredentialSecret {
                            credential_id,
                            version: *version,
                        },
                    };
                    (used, *time)
                })
                .collect();
            self.touch_last_used(&uses).await
        })
    }
}

/// What is known about one target.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When its time was last written (or handed to the sink); `None` before the first write.
    written: Option<DateTime<Utc>>,
    /// The latest use not written yet.
    pending: Option<DateTime<Utc>>,
    /// Whether the pending use is due now (the first use, or the first after an interval).
    due: bool,
}

/// The tracked targets and what was dropped for lack of room.
#[derive(Debug, Default)]
struct Entries {
    targets: HashMap<UsageTarget, Entry>,
    untracked: u64,
}

/// Notes uses and writes them, at most about once per interval per target.
/// Cheap to clone: clones share their memory.
#[derive(Clone)]
pub struct UsageRecorder {
    sink: Arc<dyn UsageSink>,
    interval: TimeDelta,
    entries: Arc<Mutex<Entries>>,
    /// Wakes the writer when a use becomes due.
    due: Arc<Notify>,
    /// Held while uses taken from `entries` are being written: one writer at a time, so that
    /// a caller of [`write_due`](Self::write_due) returns only once what was due is written.
    writing: Arc<tokio::sync::Mutex<()>>,
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
            entries: Arc::new(Mutex::new(Entries::default())),
            due: Arc::new(Notify::new()),
            writing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The interval writes are coalesced over.
    pub fn interval(&self) -> Duration {
        self.interval.to_std().unwrap_or(Duration::MAX)
    }

    /// Notes that `target` was used at `time`, in memory only: due at once (for the writer)
    /// when nothing was written for it within the interval, else kept for the next flush.
    /// Never fails and never waits for the database.
    pub fn note(&self, target: UsageTarget, time: DateTime<Utc>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let interval = self.interval;
        let tracked = entries.targets.len();
        let entry = match entries.targets.get_mut(&target) {
            Some(entry) => entry,
            None if tracked < MAX_TRACKED => entries.targets.entry(target).or_insert(Entry {
                written: None,
                pending: None,
                due: false,
            }),
            None => {
                entries.untracked += 1;
                return;
            }
        };
        if entry.written.is_some_and(|written| time <= written) {
            return;
        }
        entry.pending = entry.pending.max(Some(time));
        let recent = entry
            .written
            .is_some_and(|written| time - written < interval);
        if !recent && !entry.due {
            entry.due = true;
            // A stored permit if the writer is busy: it comes back for this one.
            self.due.notify_one();
        }
    }

    /// Writes every use that is due (first uses, and first uses after an interval) now, in
    /// batches, without pacing. Returns how many writes succeeded; failed ones stay pending
    /// for the next flush. It returns only once every use that was due when it was called is
    /// written (or failed), also by the writer task, so a test may call it to settle.
    pub async fn write_due(&self) -> usize {
        let _writing = self.writing.lock().await;
        let due = self.take_due(usize::MAX);
        self.write_all(due).await
    }

    /// Writes at most one batch of due uses; returns whether more are due. What the writer
    /// task runs, pacing itself between batches.
    async fn write_due_batch(&self) -> bool {
        let _writing = self.writing.lock().await;
        let due = self.take_due(BATCH + 1);
        let more = due.len() > BATCH;
        let mut due = due;
        if more {
            // Taken one too many to know there is more: it stays due.
            if let Some((target, time)) = due.pop() {
                self.keep_due(target, time);
            }
        }
        self.write_all(due).await;
        more
    }

    /// Takes at most `limit` due uses out of memory (they count as written from now on).
    fn take_due(&self, limit: usize) -> Vec<(UsageTarget, DateTime<Utc>)> {
        let Ok(mut entries) = self.entries.lock() else {
            return Vec::new();
        };
        entries
            .targets
            .iter_mut()
            .filter(|(_, entry)| entry.due)
            .filter_map(|(target, entry)| {
                entry.due = false;
                let time = entry.pending.take()?;
                entry.written = entry.written.max(Some(time));
                Some((target.clone(), time))
            })
            .take(limit)
            .collect()
    }

    /// Puts a use taken by [`take_due`](Self::take_due) back, due.
    fn keep_due(&self, target: UsageTarget, time: DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some(entry) = entries.targets.get_mut(&target)
        {
            entry.pending = entry.pending.max(Some(time));
            entry.due = true;
        }
    }

    /// Writes every pending use, and forgets targets with nothing pending that
    /// were last written an interval or more before `now`. Returns how many
    /// writes succeeded. Failed writes stay pending for the next flush.
    pub async fn flush(&self, now: DateTime<Utc>) -> usize {
        let _writing = self.writing.lock().await;
        let (due, untracked) = {
            let Ok(mut entries) = self.entries.lock() else {
                return 0;
            };
            let interval = self.interval;
            entries.targets.retain(|_, entry| {
                entry.pending.is_some() || entry.written.is_some_and(|at| now - at < interval)
            });
            let due: Vec<_> = entries
                .targets
                .iter_mut()
                .filter_map(|(target, entry)| {
                    entry.due = false;
                    let time = entry.pending.take()?;
                    entry.written = Some(now.max(time));
                    Some((target.clone(), time))
                })
                .collect();
            (due, std::mem::take(&mut entries.untracked))
        };
        if untracked > 0 {
            tracing::warn!(
                untracked,
                max_tracked = MAX_TRACKED,
                "uses not recorded: more credentials used within one interval than are tracked"
            );
        }
        self.write_all(due).await
    }

    /// Writes `due` in batches of [`BATCH`] (one transaction each); returns how many uses
    /// were written. A failed batch is kept pending, for the next flush.
    async fn write_all(&self, due: Vec<(UsageTarget, DateTime<Utc>)>) -> usize {
        let mut written = 0;
        let mut failed = false;
        for batch in due.chunks(BATCH) {
            let outcome = self.sink.write(batch).await;
            match outcome {
                Ok(()) => written += batch.len(),
                Err(err) => {
                    if !failed {
                        tracing::warn!(error = %error_chain(&err), "cannot record last uses, retrying at the next flush");
                    }
                    failed = true;
                    for (target, time) in batch {
                        self.keep_pending(target.clone(), *time);
                    }
                }
            }
        }
        written
    }

    /// Puts a use whose write failed back, for the next flush.
    fn keep_pending(&self, target: UsageTarget, time: DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.lock() {
            let entry = entries.targets.entry(target).or_insert(Entry {
                written: None,
                pending: None,
                due: false,
            });
            entry.pending = entry.pending.max(Some(time));
        }
    }

    /// The writer: writes due uses as soon as they are noted, and flushes every interval,
    /// until `stopping` turns true. The final flush, after in-flight calls are drained, is
    /// the caller's.
    pub async fn flush_periodically(self, clock: SharedClock, mut stopping: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            let flush = tokio::select! {
                _ = ticker.tick() => true,
                () = self.due.notified() => false,
                _ = stopping.wait_for(|stopping| *stopping) => return,
            };
            if flush {
                self.flush(clock.now()).await;
                continue;
            }
            // A backlog (a restart, a fleet of keys each used now and then: a million first
            // uses) is paced: after each full batch the writer rests three times as long as
            // the batch took, so it takes at most about a quarter of a core (and of the
            // database) from the verifications it records. A lone batch is not delayed.
            loop {
                let started = std::time::Instant::now();
                if !self.write_due_batch().await {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(started.elapsed() * 3) => {}
                    _ = stopping.wait_for(|stopping| *stopping) => return,
                }
            }
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
        fn write<'a>(&'a self, uses: &'a [(UsageTarget, DateTime<Utc>)]) -> SinkFuture<'a> {
            Box::pin(async move {
                if self.failing.load(Ordering::SeqCst) {
                    return Err(StoreError::Conflict);
                }
                self.writes.lock().unwrap().extend_from_slice(uses);
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

    /// Notes a use and lets the writer write what is due, as its task does when woken.
    async fn use_at(usage: &UsageRecorder, target: &str, second: i64) -> usize {
        usage.note(key(target), at(second));
        usage.write_due().await
    }

    #[tokio::test]
    async fn noting_never_writes_and_the_first_use_is_due_at_once() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(0));
        assert_eq!(sink.take(), [], "noting alone never writes");
        assert_eq!(usage.write_due().await, 1);
        assert_eq!(sink.take(), [(key("k1"), at(0))]);

        for second in 1..=59 {
            assert_eq!(use_at(&usage, "k1", second).await, 0);
        }
        assert_eq!(sink.take(), [], "uses within the interval are not written");

        assert_eq!(usage.flush(at(60)).await, 1);
        assert_eq!(sink.take(), [(key("k1"), at(59))], "the latest use, once");
        assert_eq!(usage.flush(at(61)).await, 0, "nothing pending");
        assert_eq!(sink.take(), []);
    }

    #[tokio::test]
    async fn the_writer_task_writes_a_due_use_without_waiting_for_the_interval() {
        let (usage, sink) = recorder();
        let (stop, stopping) = watch::channel(false);
        let clock: SharedClock = Arc::new(crate::clock::ManualClock::default());
        let writer = tokio::spawn(usage.clone().flush_periodically(clock, stopping));
        usage.note(key("k1"), at(0));
        let written = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let written = sink.take();
                if !written.is_empty() {
                    return written;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the writer writes the first use");
        assert_eq!(written, [(key("k1"), at(0))]);
        stop.send(true).unwrap();
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn the_writer_takes_a_backlog_one_batch_at_a_time_and_loses_nothing() {
        let (usage, sink) = recorder();
        let count = 2 * BATCH + 7;
        for n in 0..count {
            usage.note(key(&format!("k{n}")), at(0));
        }
        let mut batches = Vec::new();
        loop {
            let more = usage.write_due_batch().await;
            batches.push(sink.take().len());
            if !more {
                break;
            }
        }
        assert_eq!(batches, [BATCH, BATCH, 7]);
        assert_eq!(usage.write_due().await, 0, "nothing left due");
    }

    #[tokio::test]
    async fn a_use_more_than_an_interval_after_the_last_write_is_due_at_once() {
        let (usage, sink) = recorder();
        assert_eq!(use_at(&usage, "k1", 0).await, 1);
        assert_eq!(use_at(&usage, "k1", 60).await, 1);
        assert_eq!(use_at(&usage, "k1", 125).await, 1);
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
        use_at(&usage, "k1", 10).await;
        use_at(&usage, "k2", 11).await;
        use_at(&usage, "k1", 5).await; // a slower request that started earlier
        use_at(&usage, "k2", 20).await;
        let mut written = sink.take();
        written.sort_by_key(|(_, time)| *time);
        assert_eq!(written, [(key("k1"), at(10)), (key("k2"), at(11))]);
        assert_eq!(usage.flush(at(30)).await, 1);
        assert_eq!(sink.take(), [(key("k2"), at(20))]);
    }

    #[tokio::test]
    async fn uses_noted_before_the_writer_runs_are_written_once_with_the_latest() {
        let (usage, sink) = recorder();
        usage.note(key("k1"), at(3));
        usage.note(key("k1"), at(1));
        usage.note(key("k1"), at(4));
        assert_eq!(usage.write_due().await, 1);
        assert_eq!(sink.take(), [(key("k1"), at(4))]);
        assert_eq!(usage.write_due().await, 0);
    }

    #[tokio::test]
    async fn a_flush_counts_as_the_write_of_its_interval() {
        let (usage, sink) = recorder();
        use_at(&usage, "k1", 0).await;
        use_at(&usage, "k1", 30).await;
        usage.flush(at(60)).await;
        use_at(&usage, "k1", 90).await;
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
                tokio::spawn(async move { use_at(&usage, "k1", 0).await })
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
        assert_eq!(use_at(&usage, "k1", 0).await, 0);
        use_at(&usage, "k1", 5).await;
        assert_eq!(usage.flush(at(60)).await, 0);
        sink.failing.store(false, Ordering::SeqCst);
        assert_eq!(sink.take(), []);
        assert_eq!(usage.flush(at(120)).await, 1);
        assert_eq!(sink.take(), [(key("k1"), at(5))]);
    }

    #[tokio::test]
    async fn idle_targets_are_forgotten_and_due_again_on_their_next_use() {
        let (usage, sink) = recorder();
        use_at(&usage, "k1", 0).await;
        usage.flush(at(200)).await;
        assert!(
            usage.entries.lock().unwrap().targets.is_empty(),
            "forgotten"
        );
        use_at(&usage, "k1", 201).await;
        assert_eq!(sink.take(), [(key("k1"), at(0)), (key("k1"), at(201))]);
    }
}
