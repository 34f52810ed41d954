//! Which key ids exist: a Bloom filter over every API key id and every client secret key
//! id, so that a well-formed key with an id nobody issued is refused without any lookup.
//!
//! A Bloom filter never forgets an id it was given and may answer "maybe" for one it was
//! not (1 % of unknown ids at the designed load): "absent" is certain, "maybe" costs one
//! indexed lookup. It is built from a scan of the database when the index starts, kept
//! complete by the change log (every created key and secret is a change), and rebuilt twice
//! as large in the background once more ids were added than it was sized for. Until the
//! first build is done, and whenever the index is not fresh, every id is "maybe".
//!
//! Key ids are 80 random bits, so refusing an unknown id quickly tells an attacker nothing
//! they could use: they cannot find a real id by probing.

use std::sync::{Arc, Mutex, RwLock};

use fastbloom::AtomicBloomFilter;

use super::facts::IdBytes;

/// The smallest number of ids a filter is sized for (about 1.2 MB at 1 % false positives).
const MIN_CAPACITY: usize = 1_000_000;
/// The false-positive rate a filter is sized for.
const FALSE_POSITIVES: f64 = 0.01;

/// Which kind of secret an id belongs to: the two id spaces are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A user API key.
    ApiKey,
    /// A client secret version.
    ClientSecret,
}

/// An id as the filter holds it.
fn item(kind: IdKind, id: &IdBytes) -> [u8; 11] {
    let mut item = [0_u8; 11];
    item[0] = match kind {
        IdKind::ApiKey => b'a',
        IdKind::ClientSecret => b'c',
    };
    item[1..].copy_from_slice(id);
    item
}

struct Filter {
    bloom: AtomicBloomFilter,
    capacity: usize,
}

impl Filter {
    fn sized_for(ids: usize) -> Self {
        let capacity = (2 * ids).max(MIN_CAPACITY);
        Self {
            bloom: AtomicBloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity),
            capacity,
        }
    }
}

#[derive(Default)]
struct Writes {
    /// Ids added since the current filter was built.
    added: usize,
    /// While a build runs: the ids added meanwhile, for the new filter.
    pending: Option<Vec<[u8; 11]>>,
}

/// The filter of existing key ids. Reads are lock-free but for a shared read lock; adds
/// (only when keys are created) take a mutex.
#[derive(Default)]
pub struct KeyIds {
    current: RwLock<Option<Arc<Filter>>>,
    writes: Mutex<Writes>,
}

impl std::fmt::Debug for KeyIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyIds")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// A build in progress: collect every id, then [`KeyIds::finish_build`].
#[derive(Debug, Default)]
pub struct Build {
    items: Vec<[u8; 11]>,
}

impl Build {
    /// Adds an id found by the scan.
    pub fn add(&mut self, kind: IdKind, id: &IdBytes) {
        self.items.push(item(kind, id));
    }
}

impl KeyIds {
    fn current(&self) -> Option<Arc<Filter>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn writes(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a filter has been built.
    pub fn is_ready(&self) -> bool {
        self.current().is_some()
    }

    /// True only when `id` certainly does not exist (false until the first build).
    pub fn certainly_absent(&self, kind: IdKind, id: &IdBytes) -> bool {
        self.current()
            .is_some_and(|filter| !filter.bloom.contains(&item(kind, id)))
    }

    /// Records that `id` exists (a key or secret was created).
    pub fn add(&self, kind: IdKind, id: &IdBytes) {
        let item = item(kind, id);
        let mut writes = self.writes();
        if let Some(filter) = self.current() {
            filter.bloom.insert(&item);
            writes.added += 1;
        }
        if let Some(pending) = &mut writes.pending {
            pending.push(item);
        }
    }

    /// Starts a build, unless one runs already (`None` then): ids added from now on are
    /// kept for the new filter.
    pub fn start_build(&self) -> Option<Build> {
        let mut writes = self.writes();
        if writes.pending.is_some() {
            return None;
        }
        writes.pending = Some(Vec::new());
        Some(Build::default())
    }

    /// Gives up a build (the scan failed); a later one starts over.
    pub fn abandon_build(&self) {
        self.writes().pending = None;
    }

    /// Installs the filter of a finished scan, with every id added while it ran.
    pub fn finish_build(&self, build: Build) {
        let mut writes = self.writes();
        let pending = writes.pending.take().unwrap_or_default();
        let filter = Filter::sized_for(build.items.len() + pending.len());
        for item in build.items.iter().chain(&pending) {
            filter.bloom.insert(item);
        }
        writes.added = pending.len();
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(filter));
    }

    /// Whether more ids were added than the filter was sized for (its false positives grow
    /// past the designed rate): time for a larger one. Also true before the first build.
    pub fn needs_build(&self) -> bool {
        let writes = self.writes();
        if writes.pending.is_some() {
            return false;
        }
        match self.current() {
            None => true,
            Some(filter) => writes.added > filter.capacity / 2,
        }
    }

    /// Forgets the filter (every id is "maybe" until the next build).
    pub fn clear(&self) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> IdBytes {
        let mut id = [0_u8; 10];
        id[..4].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[test]
    fn nothing_is_certainly_absent_before_the_first_build() {
        let ids = KeyIds::default();
        assert!(!ids.certainly_absent(IdKind::ApiKey, &id(1)));
        assert!(ids.needs_build());
    }

    #[test]
    fn built_and_added_ids_are_never_absent_and_unknown_ones_mostly_are() {
        let ids = KeyIds::default();
        let mut build = ids.start_build().unwrap();
        assert!(ids.start_build().is_none(), "one build at a time");
        for n in 0..1000 {
            build.add(IdKind::ApiKey, &id(n));
        }
        ids.add(IdKind::ApiKey, &id(5000)); // created while the scan ran
        ids.finish_build(build);
        ids.add(IdKind::ClientSecret, &id(6000)); // created afterwards
        for n in 0..1000 {
            assert!(!ids.certainly_absent(IdKind::ApiKey, &id(n)));
        }
        assert!(!ids.certainly_absent(IdKind::ApiKey, &id(5000)));
        assert!(!ids.certainly_absent(IdKind::ClientSecret, &id(6000)));
        let absent = (10_000..20_000)
            .filter(|n| ids.certainly_absent(IdKind::ApiKey, &id(*n)))
            .count();
        assert!(absent > 9_800, "{absent} of 10000 unknown ids refused");
        assert!(!ids.needs_build());
    }
}
