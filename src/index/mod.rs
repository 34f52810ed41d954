//! The verification index: everything a judgement needs, held in memory, so that verifying
//! a credential seen before costs no database work at all.
//!
//! - **Facts** ([`facts`]): one bounded concurrent cache (`quick_cache`) of the facts a
//!   judgement depends on, keyed as the change log names them: API keys, users, roles,
//!   accounts, client credentials with their secret versions, which credential a Client ID
//!   or a secret key id leads to, and the API-set catalog. That something does not exist is
//!   remembered too. A miss loads the one fact from the database; concurrent misses of the
//!   same fact share one load.
//! - **Proven secrets**: the SHA-256 digest of each secret argon2 has accepted, by the key id
//!   it belongs to (a key id names one secret forever), in a cache of its own, so that
//!   dropping a changed fact never costs an argon2 run again.
//! - **Key ids** ([`ids`]): a Bloom filter of every key id issued, so an unknown id is refused
//!   before any lookup.
//! - **Freshness** ([`feed`]): every replica applies the change log in order (pushed by
//!   PostgreSQL's `LISTEN/NOTIFY`, polled as a safety net, and applied by the writing replica
//!   before its write returns). A change drops the entries it names. The index is *trusted*
//!   only while its last successful read of the log started less than `max_staleness` ago;
//!   an untrusted index answers nothing from memory but proven digests (which cannot go
//!   stale): every fact is read from the database, and an unreachable database is an error,
//!   never a stale "valid".
//!
//! Architecture Invariant: a load that raced with a change never leaves the old fact in
//! the index. The loader notes the last change applied before it reads; after inserting,
//! if changes were applied meanwhile and one of them names the fact (or the index was
//! reset), it drops what it inserted. Changes are recorded in `recent` before the
//! applied number moves and before entries are dropped, so either the change drops the
//! inserted entry or the loader sees the change.

pub mod facts;
pub mod feed;
pub mod ids;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_core::key::{KeyId, KeyKind, SecretDigest};
use keyward_store::{Change, Changed, Store, StoreError};
use quick_cache::sync::Cache;

use crate::clock::SharedMonotonic;
use crate::error::ServiceError;
pub use facts::{
    AccountFacts, ApiKeyFacts, Catalog, CredentialFacts, Fact, FactKey, IdBytes, Material,
    RoleFacts, UserFacts, VersionFacts, id_text,
};
pub use feed::ChangeFeed;
use ids::{IdKind, KeyIds};

/// How many recently applied changes are kept for loaders to check against.
const RECENT_CHANGES: usize = 4096;

/// The size and freshness bound of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// How many facts (and, separately, proven secrets) are held at most.
    pub capacity: usize,
    /// How long after its last successful read of the change log the index is still
    /// trusted; also the worst-case delay before a change made elsewhere is refused.
    pub max_staleness: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            capacity: 1_000_000,
            max_staleness: Duration::from_secs(1),
        }
    }
}

/// Which secret a proven digest belongs to: its kind and key id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProvenKey {
    kind: KeyKind,
    id: IdBytes,
}

impl ProvenKey {
    /// The secret of the key `id` of `kind`.
    pub fn new(kind: KeyKind, id: &KeyId) -> Self {
        Self {
            kind,
            id: id.to_bytes(),
        }
    }
}

/// What the index has done, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Facts read from the database.
    pub loads: u64,
    /// Presented key ids refused by the id filter, without a lookup.
    pub filtered: u64,
    /// Changes applied.
    pub changes: u64,
    /// Facts held.
    pub facts: usize,
    /// Proven secrets held.
    pub proven: usize,
}

/// What a change touched: one fact, or everything.
#[derive(Debug, Clone)]
enum Touched {
    Fact(FactKey),
    Everything,
}

#[derive(Debug, Default)]
struct Recent {
    changes: VecDeque<(i64, Touched)>,
    /// Changes up to this number may have been dropped from `changes`.
    floor: i64,
}

/// A test hook holding loads after they read the database, to make a load race a change.
#[derive(Debug, Default)]
pub struct LoadGate {
    armed: std::sync::atomic::AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl LoadGate {
    /// Holds the next load after it has read the database.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Waits until a load is held.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held load go on.
    pub fn release(&self) {
        self.release.notify_one();
    }

    async fn pass(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
    }
}

/// The in-memory index of verification facts. Shared (`Arc`) by the authenticator, the
/// change feed and the handlers.
pub struct VerificationIndex {
    store: Store,
    config: IndexConfig,
    clock: SharedMonotonic,
    facts: Cache<FactKey, Fact>,
    proven: Cache<ProvenKey, SecretDigest>,
    ids: KeyIds,
    /// One more than the monotonic nanoseconds at which the last successful read of the
    /// log started; 0 before the first.
    synced_at: AtomicU64,
    /// The number of the last change applied.
    applied: AtomicI64,
    recent: Mutex<Recent>,
    loads: AtomicU64,
    filtered: AtomicU64,
    changes: AtomicU64,
    gate: LoadGate,
}

impl std::fmt::Debug for VerificationIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationIndex")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl VerificationIndex {
    /// An empty index over `store`, measuring freshness with `clock`; it is not trusted
    /// until [`mark_synced`](Self::mark_synced) (the change feed does that).
    pub fn new(store: Store, config: IndexConfig, clock: SharedMonotonic) -> Self {
        let capacity = config.capacity.max(1000);
        Self {
            store,
            config,
            clock,
            facts: Cache::new(capacity),
            proven: Cache::new(capacity),
            ids: KeyIds::default(),
            synced_at: AtomicU64::new(0),
            applied: AtomicI64::new(0),
            recent: Mutex::new(Recent::default()),
            loads: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            gate: LoadGate::default(),
        }
    }

    /// The index's size and freshness bound.
    pub fn config(&self) -> IndexConfig {
        self.config
    }

    /// What the index has done so far.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            loads: self.loads.load(Ordering::SeqCst),
            filtered: self.filtered.load(Ordering::SeqCst),
            changes: self.changes.load(Ordering::SeqCst),
            facts: self.facts.len(),
            proven: self.proven.len(),
        }
    }

    /// The test hook that holds a load between its read and its insert.
    pub fn load_gate(&self) -> &LoadGate {
        &self.gate
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// The monotonic time a read of the log starting now would be stamped with.
    pub fn sync_started(&self) -> u64 {
        self.now_nanos()
    }

    /// Records that a read of the change log which started at `started` (from
    /// [`sync_started`](Self::sync_started)) succeeded and was applied.
    pub fn mark_synced(&self, started: u64) {
        self.synced_at
            .fetch_max(started.saturating_add(1), Ordering::SeqCst);
    }

    /// How long ago the last successful read of the log started (`None` before the first).
    pub fn staleness(&self) -> Option<Duration> {
        let synced = self.synced_at.load(Ordering::SeqCst).checked_sub(1)?;
        Some(Duration::from_nanos(
            self.now_nanos().saturating_sub(synced),
        ))
    }

    /// Whether answers may come from memory: the last successful read of the change log
    /// started at most `max_staleness` ago.
    pub fn trusted(&self) -> bool {
        self.staleness()
            .is_some_and(|staleness| staleness <= self.config.max_staleness)
    }

    // ---------------------------------------------------------------------------------
    // Proven secrets

    /// Whether `digest` is the digest of the secret argon2 accepted for `key`.
    pub fn is_proven(&self, key: &ProvenKey, digest: &SecretDigest) -> bool {
        self.proven
            .get(key)
            .is_some_and(|known| known.ct_eq(digest))
    }

    /// Remembers that argon2 accepted the secret with `digest` for `key`.
    pub fn remember_proven(&self, key: ProvenKey, digest: SecretDigest) {
        self.proven.insert(key, digest);
    }

    // ---------------------------------------------------------------------------------
    // Facts

    /// The API key `id`: `None` when it does not exist (refused by the id filter without a
    /// lookup when the index is trusted).
    pub async fn api_key(&self, id: &KeyId) -> Result<Option<Arc<ApiKeyFacts>>, ServiceError> {
        let bytes = id.to_bytes();
        if self.certainly_absent(IdKind::ApiKey, &bytes) {
            return Ok(None);
        }
        match self.fact(&FactKey::ApiKey(bytes)).await? {
            Fact::ApiKey(facts) => Ok(facts),
            other => Err(mismatch(&other)),
        }
    }

    /// True only when no API key has the id `id`, known without a lookup (the id filter,
    /// while the index is trusted).
    pub fn no_api_key(&self, id: &IdBytes) -> bool {
        self.certainly_absent(IdKind::ApiKey, id)
    }

    /// The user an entry names (`FactKey::User`).
    pub async fn user(&self, key: &FactKey) -> Result<Option<Arc<UserFacts>>, ServiceError> {
        match self.fact(key).await? {
            Fact::User(facts) => Ok(facts),
            other => Err(mismatch(&other)),
        }
    }

    /// The role an entry names (`FactKey::Role`).
    pub async fn role(&self, key: &FactKey) -> Result<Option<Arc<RoleFacts>>, ServiceError> {
        match self.fact(key).await? {
            Fact::Role(facts) => Ok(facts),
            other => Err(mismatch(&other)),
        }
    }

    /// The account an entry names (`FactKey::Account`).
    pub async fn account(&self, key: &FactKey) -> Result<Option<Arc<AccountFacts>>, ServiceError> {
        match self.fact(key).await? {
            Fact::Account(facts) => Ok(facts),
            other => Err(mismatch(&other)),
        }
    }

    /// The credential whose secret versions include one embedding the key id `id`: found
    /// by that id alone (refused by the id filter without a lookup when the index is
    /// trusted), whatever Client ID was presented.
    pub async fn credential_by_secret_key(
        &self,
        id: &KeyId,
    ) -> Result<Option<Arc<CredentialFacts>>, ServiceError> {
        let bytes = id.to_bytes();
        if self.certainly_absent(IdKind::ClientSecret, &bytes) {
            return Ok(None);
        }
        let credential_id = match self.fact(&FactKey::SecretKey(bytes)).await? {
            Fact::CredentialId(id) => id,
            other => return Err(mismatch(&other)),
        };
        match credential_id {
            Some(credential_id) => self.credential(credential_id).await,
            None => Ok(None),
        }
    }

    /// The credential with this Client ID.
    pub async fn credential_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<CredentialFacts>>, ServiceError> {
        let credential_id = match self.fact(&FactKey::ClientId(client_id.into())).await? {
            Fact::CredentialId(id) => id,
            other => return Err(mismatch(&other)),
        };
        match credential_id {
            Some(credential_id) => self.credential(credential_id).await,
            None => Ok(None),
        }
    }

    async fn credential(
        &self,
        credential_id: Arc<str>,
    ) -> Result<Option<Arc<CredentialFacts>>, ServiceError> {
        match self.fact(&FactKey::Credential(credential_id)).await? {
            Fact::Credential(facts) => Ok(facts),
            other => Err(mismatch(&other)),
        }
    }

    /// The API-set catalog.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, ServiceError> {
        match self.fact(&FactKey::Catalog).await? {
            Fact::Catalog(catalog) => Ok(catalog),
            other => Err(mismatch(&other)),
        }
    }

    fn certainly_absent(&self, kind: IdKind, id: &IdBytes) -> bool {
        let absent = self.trusted() && self.ids.certainly_absent(kind, id);
        if absent {
            self.filtered.fetch_add(1, Ordering::Relaxed);
        }
        absent
    }

    /// A fact: from memory when the index is trusted and holds it, else read from the
    /// database (one load for concurrent misses) and kept.
    async fn fact(&self, key: &FactKey) -> Result<Fact, ServiceError> {
        if !self.trusted() {
            // Nothing from memory; what is read now is kept for when the feed is back
            // (changes committed meanwhile are still in the log and will drop it).
            let before = self.applied.load(Ordering::SeqCst);
            let fact = self.load(key).await?;
            self.facts.insert(key.clone(), fact.clone());
            self.recheck(key, before);
            return Ok(fact);
        }
        match self.facts.get_value_or_guard_async(key).await {
            Ok(fact) => Ok(fact),
            Err(guard) => {
                let before = self.applied.load(Ordering::SeqCst);
                let fact = self.load(key).await?;
                let _ = guard.insert(fact.clone());
                self.recheck(key, before);
                Ok(fact)
            }
        }
    }

    /// Drops `key` if a change naming it (or a reset) was applied after `before`.
    fn recheck(&self, key: &FactKey, before: i64) {
        if self.applied.load(Ordering::SeqCst) == before {
            return;
        }
        let touched = {
            let recent = self.recent();
            before < recent.floor
                || recent.changes.iter().rev().any(|(seq, touched)| {
                    *seq > before
                        && match touched {
                            Touched::Everything => true,
                            Touched::Fact(fact) => fact == key,
                        }
                })
        };
        if touched {
            self.facts.remove(key);
        }
    }

    async fn load(&self, key: &FactKey) -> Result<Fact, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let fact = match key {
            FactKey::ApiKey(id) => Fact::ApiKey(
                self.store
                    .find_api_key(&id_text(id))
                    .await?
                    .map(|key| Arc::new(key.into())),
            ),
            FactKey::User(account_id, user_id) => Fact::User(
                self.store
                    .find_user(account_id, user_id)
                    .await?
                    .map(|user| Arc::new(user.into())),
            ),
            FactKey::Role(account_id, role_id) => Fact::Role(
                self.store
                    .find_role(account_id, role_id)
                    .await?
                    .map(|role| Arc::new(role.into())),
            ),
            FactKey::Account(account_id) => Fact::Account(
                self.store
                    .find_account(account_id)
                    .await?
                    .map(|account| Arc::new(account.into())),
            ),
            FactKey::Credential(id) => Fact::Credential(
                self.store
                    .find_credential(id)
                    .await?
                    .map(|found| Arc::new(found.into())),
            ),
            FactKey::ClientId(client_id) => Fact::CredentialId(
                self.store
                    .credential_id_by_client_id(client_id)
                    .await?
                    .map(Into::into),
            ),
            FactKey::SecretKey(id) => Fact::CredentialId(
                self.store
                    .credential_id_by_secret_key_id(&id_text(id))
                    .await?
                    .map(Into::into),
            ),
            FactKey::Catalog => {
                Fact::Catalog(Arc::new(Catalog::new(self.store.catalog_methods().await?)))
            }
        };
        self.gate.pass().await;
        Ok(fact)
    }

    // ---------------------------------------------------------------------------------
    // Changes

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies one change of the log: the id filter learns created ids; the entries the
    /// change names are dropped (after the change is recorded for racing loaders).
    pub fn apply(&self, change: &Change) {
        let touched = match &change.changed {
            Changed::ApiKey { key_id, .. } => match KeyId::try_from(key_id.as_str()) {
                Ok(id) => {
                    let id = id.to_bytes();
                    self.ids.add(IdKind::ApiKey, &id);
                    vec![Touched::Fact(FactKey::ApiKey(id))]
                }
                // Not an id any key can present: nothing to drop.
                Err(_) => Vec::new(),
            },
            Changed::User {
                account_id,
                user_id,
            } => vec![Touched::Fact(FactKey::User(
                account_id.as_str().into(),
                user_id.as_str().into(),
            ))],
            Changed::Role {
                account_id,
                role_id,
            } => vec![Touched::Fact(FactKey::Role(
                account_id.as_str().into(),
                role_id.as_str().into(),
            ))],
            Changed::Account { account_id } => {
                vec![Touched::Fact(FactKey::Account(account_id.as_str().into()))]
            }
            Changed::Credential { credential_id, .. } => vec![Touched::Fact(FactKey::Credential(
                credential_id.as_str().into(),
            ))],
            Changed::ClientId { client_id, .. } => {
                vec![Touched::Fact(FactKey::ClientId(client_id.as_str().into()))]
            }
            Changed::SecretKey { key_id, .. } => match KeyId::try_from(key_id.as_str()) {
                Ok(id) => {
                    let id = id.to_bytes();
                    self.ids.add(IdKind::ClientSecret, &id);
                    vec![Touched::Fact(FactKey::SecretKey(id))]
                }
                Err(_) => Vec::new(),
            },
            Changed::Catalog => vec![Touched::Fact(FactKey::Catalog)],
            Changed::Unknown => vec![Touched::Everything],
        };
        self.touch(change.seq, touched);
    }

    /// Forgets every fact (proven secrets stay: they cannot go stale), as if a change had
    /// named them all; the id filter is rebuilt by the feed. For a replica that was cut off
    /// from the log for longer than it is kept.
    pub fn reset(&self, seq: i64) {
        self.ids.clear();
        self.touch(seq, vec![Touched::Everything]);
    }

    fn touch(&self, seq: i64, touched: Vec<Touched>) {
        {
            let mut recent = self.recent();
            for touched in &touched {
                recent.changes.push_back((seq, touched.clone()));
            }
            while recent.changes.len() > RECENT_CHANGES {
                if let Some((dropped, _)) = recent.changes.pop_front() {
                    recent.floor = recent.floor.max(dropped);
                }
            }
        }
        self.applied.fetch_max(seq, Ordering::SeqCst);
        self.changes.fetch_add(1, Ordering::Relaxed);
        for touched in touched {
            match touched {
                Touched::Fact(key) => {
                    self.facts.remove(&key);
                }
                Touched::Everything => self.facts.clear(),
            }
        }
    }

    /// The number of the last change applied (moves with every change and reset).
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// Starts at change `seq`: nothing before it needs applying.
    pub fn start_at(&self, seq: i64) {
        self.applied.fetch_max(seq, Ordering::SeqCst);
        self.recent().floor = seq;
    }

    /// The id filter, for the feed to build.
    pub(crate) fn ids(&self) -> &KeyIds {
        &self.ids
    }

    /// The store the index loads from.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

fn mismatch(fact: &Fact) -> ServiceError {
    ServiceError::Internal(format!("verification index: unexpected entry {fact:?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualMonotonic;

    async fn index(max_staleness: Duration) -> (VerificationIndex, ManualMonotonic) {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualMonotonic::default();
        let index = VerificationIndex::new(
            store,
            IndexConfig {
                capacity: 1000,
                max_staleness,
            },
            Arc::new(clock.clone()),
        );
        (index, clock)
    }

    #[tokio::test]
    async fn the_index_is_trusted_only_within_the_bound_after_a_sync() {
        let (index, clock) = index(Duration::from_secs(1)).await;
        assert!(!index.trusted(), "never synced");
        let started = index.sync_started();
        clock.advance(Duration::from_millis(300));
        index.mark_synced(started);
        assert!(index.trusted());
        clock.advance(Duration::from_millis(700));
        assert!(index.trusted(), "exactly the bound after the sync started");
        clock.advance(Duration::from_millis(1));
        assert!(!index.trusted());
        let older = started;
        index.mark_synced(older);
        assert!(
            !index.trusted(),
            "an older sync does not move freshness back"
        );
    }

    #[tokio::test]
    async fn a_change_drops_the_fact_it_names_and_a_racing_load_drops_its_own_insert() {
        let (index, _clock) = index(Duration::from_secs(1)).await;
        index.mark_synced(index.sync_started());
        let key = FactKey::Account("acme".into());
        assert!(index.account(&key).await.unwrap().is_none());
        assert_eq!(index.stats().loads, 1);
        assert!(index.account(&key).await.unwrap().is_none());
        assert_eq!(index.stats().loads, 1, "the absence is remembered");

        let change = |seq| Change {
            seq,
            changed: Changed::Account {
                account_id: "acme".into(),
            },
            time: chrono::Utc::now(),
        };
        index.apply(&change(1));
        assert!(index.facts.get(&key).is_none(), "dropped");

        // A load that read before the change and inserts after it.
        let before = index.applied.load(Ordering::SeqCst);
        index.facts.insert(key.clone(), Fact::Account(None));
        index.apply(&change(2));
        index.facts.insert(key.clone(), Fact::Account(None)); // the late insert
        index.recheck(&key, before);
        assert!(
            index.facts.get(&key).is_none(),
            "the stale insert is dropped"
        );

        // An unrelated change does not drop it.
        let before = index.applied.load(Ordering::SeqCst);
        index.facts.insert(key.clone(), Fact::Account(None));
        index.apply(&Change {
            seq: 3,
            changed: Changed::Catalog,
            time: chrono::Utc::now(),
        });
        index.recheck(&key, before);
        assert!(index.facts.get(&key).is_some());
    }

    #[tokio::test]
    async fn an_untrusted_index_reads_every_fact_from_the_database() {
        let (index, clock) = index(Duration::from_secs(1)).await;
        index.mark_synced(index.sync_started());
        let key = FactKey::Account("acme".into());
        index.account(&key).await.unwrap();
        index.account(&key).await.unwrap();
        assert_eq!(index.stats().loads, 1);
        clock.advance(Duration::from_secs(2));
        index.account(&key).await.unwrap();
        index.account(&key).await.unwrap();
        assert_eq!(index.stats().loads, 3);
    }
}
