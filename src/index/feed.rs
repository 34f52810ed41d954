//! The change feed: applies the change log to this replica's verification index, in order.
//!
//! Three things make the index read the log ([`ChangeFeed::catch_up`]):
//!
//! - **this replica's own writes**: the feed is the store's [`ChangeObserver`], awaited
//!   after every commit that recorded changes, so the replica that made a change has
//!   applied it before it answers the write;
//! - **PostgreSQL's announcements**: a dedicated connection `LISTEN`s on
//!   `keyward_changes`, which every recording transaction `NOTIFY`s at commit; another
//!   replica's change is applied within milliseconds. A lost connection is re-established
//!   and the log read at once (announcements made meanwhile are lost);
//! - **polling**, the safety net: every quarter of the staleness bound.
//!
//! **The rule** (see [`VerificationIndex::trusted`]): the index answers from memory only
//! while its last successful read of the log *started* at most `max_staleness` ago
//! (`--max-staleness-ms`, 1000 by default). Polling every quarter of that keeps a healthy
//! replica trusted; a replica that cannot read the log (database unreachable, or every
//! read failing) stops trusting its memory within the bound: it reads every fact from the
//! database, and answers UNAVAILABLE when that fails too — never a remembered "valid". So a
//! revocation is refused by every replica within the bound at worst, and within
//! milliseconds when announcements arrive. The feed logs when the index stops and starts
//! being trusted, and reports it as the health of the service `keyward.ChangeFeed`.
//!
//! A replica cut off from the log for longer than [`RESET_AFTER`] (the log keeps an hour)
//! forgets every fact and starts over from the newest change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keyward_core::key::KeyId;
use keyward_store::{Backend, ChangeObserver, ChangeSignal, StoreError};
use tokio::sync::{Mutex, Notify, watch};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::VerificationIndex;
use super::ids::IdKind;
use crate::error::error_chain;

/// The health-service name under which the feed reports whether the index is trusted.
pub const FEED_HEALTH_SERVICE: &str = "keyward.ChangeFeed";

/// How many changes one read of the log takes at most.
const BATCH: u64 = 500;

/// A replica whose index was not trusted for this long forgets everything on its next
/// successful read of the log (which keeps changes for [`RETENTION`]).
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// How long the change log keeps a change (housekeeping prunes older ones).
pub const RETENTION: Duration = Duration::from_secs(3600);

/// How many ids one page of the id-filter scan reads.
const SCAN_PAGE: u64 = 10_000;

/// Applies the change log to one replica's index. Shared (`Arc`).
pub struct ChangeFeed {
    index: Arc<VerificationIndex>,
    /// The number of the last change applied; held while reading the log, so reads are
    /// applied one after the other, in order.
    cursor: Mutex<i64>,
    /// Tests: pretend the feed is lost (the log is not read).
    paused: AtomicBool,
    /// Announcements from the listener task.
    announced: Notify,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

impl ChangeFeed {
    /// A feed starting after the newest change in the log: the index is empty, so nothing
    /// before needs applying. The index is trusted from here.
    pub async fn start(index: Arc<VerificationIndex>) -> Result<Arc<Self>, StoreError> {
        let started = index.sync_started();
        let latest = index.store().latest_change_seq().await?;
        index.start_at(latest);
        index.mark_synced(started);
        Ok(Arc::new(Self {
            index,
            cursor: Mutex::new(latest),
            paused: AtomicBool::new(false),
            announced: Notify::new(),
        }))
    }

    /// The index this feed keeps fresh.
    pub fn index(&self) -> &Arc<VerificationIndex> {
        &self.index
    }

    /// Tests: while paused, the log is not read (as if every read failed), so the index
    /// goes stale after the bound.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// Reads the log from the last change applied and applies what is new, in order;
    /// returns how many changes were applied. Success marks the index fresh as of when
    /// this read started.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let mut cursor = self.cursor.lock().await;
        if self.paused.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let started = self.index.sync_started();
        let store = self.index.store();
        if self
            .index
            .staleness()
            .is_none_or(|staleness| staleness > RESET_AFTER)
        {
            let latest = store.latest_change_seq().await?;
            tracing::warn!(
                from = latest,
                "verification index was cut off from the change log too long: starting over"
            );
            self.index.reset(latest);
            *cursor = latest;
            self.index.mark_synced(started);
            return Ok(0);
        }
        let mut applied = 0;
        loop {
            let batch = store.changes_after(*cursor, BATCH).await?;
            for change in &batch {
                self.index.apply(change);
                *cursor = change.seq;
            }
            applied += batch.len();
            if (batch.len() as u64) < BATCH {
                break;
            }
        }
        self.index.mark_synced(started);
        Ok(applied)
    }

    /// Builds the id filter from a scan of every key id, if it needs one.
    async fn build_ids(&self) -> Result<(), StoreError> {
        let ids = self.index.ids();
        let Some(mut build) = ids.start_build() else {
            return Ok(());
        };
        let store = self.index.store();
        let scanned: Result<(), StoreError> = async {
            for kind in [IdKind::ApiKey, IdKind::ClientSecret] {
                let mut after: Option<String> = None;
                loop {
                    let page = match kind {
                        IdKind::ApiKey => store.api_key_ids(after.as_deref(), SCAN_PAGE).await?,
                        IdKind::ClientSecret => {
                            store.secret_key_ids(after.as_deref(), SCAN_PAGE).await?
                        }
                    };
                    for id in &page {
                        if let Ok(id) = KeyId::try_from(id.as_str()) {
                            build.add(kind, &id.to_bytes());
                        }
                    }
                    if (page.len() as u64) < SCAN_PAGE {
                        break;
                    }
                    after = page.last().cloned();
                }
            }
            Ok(())
        }
        .await;
        match scanned {
            Ok(()) => {
                ids.finish_build(build);
                Ok(())
            }
            Err(err) => {
                ids.abandon_build();
                Err(err)
            }
        }
    }

    /// Keeps the index fresh until `stopping` turns true: polls the log every quarter of
    /// the staleness bound, reads it at once on every announcement (PostgreSQL), builds the
    /// id filter when it needs it, and logs and reports (as the health of
    /// [`FEED_HEALTH_SERVICE`]) when the index stops or starts being trusted.
    pub async fn run(self: Arc<Self>, health: HealthReporter, mut stopping: watch::Receiver<bool>) {
        let listener = (self.index.store().backend() == Backend::Postgres)
            .then(|| tokio::spawn(self.clone().listen()));
        let poll = (self.index.config().max_staleness / 4).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut trusted = true;
        let mut failing = false;
        health
            .set_service_status(FEED_HEALTH_SERVICE, ServingStatus::Serving)
            .await;
        let mut build: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            if self.index.ids().needs_build() && build.as_ref().is_none_or(|b| b.is_finished()) {
                let feed = self.clone();
                build = Some(tokio::spawn(async move {
                    if let Err(err) = feed.build_ids().await {
                        tracing::warn!(error = %error_chain(&err), "cannot build the key id filter; retrying");
                    }
                }));
            }
            tokio::select! {
                _ = stopping.wait_for(|stopping| *stopping) => break,
                _ = ticker.tick() => {}
                () = self.announced.notified() => {}
            }
            match self.catch_up().await {
                Ok(_) => {
                    if failing {
                        tracing::info!("change log readable again");
                        failing = false;
                    }
                }
                Err(err) => {
                    if !failing {
                        tracing::warn!(error = %error_chain(&err), "cannot read the change log");
                        failing = true;
                    }
                }
            }
            let now_trusted = self.index.trusted();
            if now_trusted != trusted {
                trusted = now_trusted;
                if trusted {
                    tracing::info!("verification index trusted again: answering from memory");
                    health
                        .set_service_status(FEED_HEALTH_SERVICE, ServingStatus::Serving)
                        .await;
                } else {
                    tracing::error!(
                        max_staleness_ms = self.index.config().max_staleness.as_millis(),
                        "change feed lost for longer than the staleness bound: \
                         the verification index is not trusted, every verification reads the database"
                    );
                    health
                        .set_service_status(FEED_HEALTH_SERVICE, ServingStatus::NotServing)
                        .await;
                }
            }
        }
        // Both hold the store: they end before the feed does, so that a stopped server
        // leaves nothing behind (on SQLite, the file lock goes with the last store).
        for task in [listener, build].into_iter().flatten() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens for announcements (PostgreSQL) and wakes the feed on each; reconnects on
    /// loss. Runs until aborted.
    async fn listen(self: Arc<Self>) {
        let mut lost = false;
        loop {
            let mut listener = match self.index.store().change_listener().await {
                Ok(Some(listener)) => listener,
                Ok(None) => return,
                Err(err) => {
                    if !lost {
                        tracing::warn!(error = %error_chain(&err), "cannot listen for changes; polling meanwhile");
                        lost = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if lost {
                tracing::info!("listening for changes again");
            }
            // Whatever was announced before this listener existed is in the log.
            self.announced.notify_one();
            loop {
                match listener.next().await {
                    Ok(ChangeSignal::Announced) => self.announced.notify_one(),
                    Ok(ChangeSignal::Reconnected) => {
                        tracing::info!("change listener reconnected; reading the log");
                        self.announced.notify_one();
                    }
                    Err(err) => {
                        tracing::warn!(error = %error_chain(&err), "change listener lost; polling meanwhile");
                        lost = true;
                        self.announced.notify_one();
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        break;
                    }
                }
            }
        }
    }
}

impl ChangeObserver for ChangeFeed {
    fn changes_committed(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Err(err) = self.catch_up().await {
                // The write stands; the poller applies it as soon as the log reads again.
                tracing::warn!(error = %error_chain(&err), "cannot apply a change just made");
            }
        })
    }
}
