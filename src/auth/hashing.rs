//! argon2id hashing and verification of secrets, on a pool of threads of its own.
//!
//! One argon2id run at the OWASP minimum parameters (argon2's defaults: 19 MiB, 2 passes,
//! 1 lane) costs about 18 ms of a core and 19 MiB of memory, a thousand times everything
//! else a verification does. So argon2 never runs on the async runtime's threads, and never
//! more often than the machine can afford:
//!
//! - **A fixed pool.** `threads` worker threads (by default one less than the machine's
//!   cores, at least one), so at least one core stays free for everything answered from
//!   memory. Each worker owns one block buffer, allocated on its first run and reused for
//!   every later one: argon2's working memory is `threads` × 19 MiB at most, whatever the
//!   load, and is not handed back and forth to the allocator (which would keep freed
//!   buffers resident per allocator arena).
//! - **Two bounded lanes.** Hashing new secrets (create, renew: [`Lane::Issue`]) and
//!   verifying presented ones ([`Lane::Verify`]) queue separately; a free worker always takes
//!   issuance first, so a flood of verifications delays a create by at most the runs
//!   already in progress. When a lane's queue is full the call is shed at once with
//!   RESOURCE_EXHAUSTED instead of waiting behind it.
//! - **Counted.** [`SecretHasher::runs`] counts every argon2 computation, so tests prove
//!   what did not run argon2 by counting, not by timing.
//!
//! The pool stops (its threads end and free their buffers) when the last [`SecretHasher`]
//! clone is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use keyward_core::key::Key;
use secrecy::{ExposeSecret, SecretBox};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use crate::error::ServiceError;

/// The 32 secret bytes of a key, wiped from memory when dropped.
pub type SecretBytes = SecretBox<[u8; 32]>;

/// The largest argon2 memory cost (KiB) a stored hash may ask for: a corrupt or hostile PHC
/// string must not make a worker allocate without bound. Sixteen times the default.
const MAX_MEMORY_KIB: u32 = 16 * Params::DEFAULT_M_COST;

/// How long a shed caller is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The size of the pool and of its queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherConfig {
    /// Worker threads: argon2 runs at most this many at once.
    pub threads: usize,
    /// Verifications waiting for a worker, at most; more are shed.
    pub verify_queue: usize,
    /// Hashes of new secrets (create, renew) waiting for a worker, at most; more are shed.
    pub issue_queue: usize,
}

impl HasherConfig {
    /// One worker less than the machine has cores (at least one), 64 verifications and
    /// 16 issuances queued.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            threads: cores.saturating_sub(1).max(1),
            verify_queue: 64,
            issue_queue: 16,
        }
    }
}

/// Which queue a computation waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Hashing a new secret: served first.
    Issue,
    /// Verifying a presented secret.
    Verify,
}

enum Job {
    Hash {
        secret: SecretBytes,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        secret: SecretBytes,
        phc: Arc<str>,
        reply: oneshot::Sender<Result<bool, String>>,
    },
}

#[derive(Default)]
struct Queues {
    issue: VecDeque<Job>,
    verify: VecDeque<Job>,
    stopping: bool,
}

struct Shared {
    config: HasherConfig,
    queues: Mutex<Queues>,
    work: Condvar,
    runs: AtomicU64,
    /// Jobs a worker is computing now.
    running: AtomicU64,
    /// Jobs refused because their queue was full.
    shed: AtomicU64,
}

/// What the pool is doing and has done, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HasherStats {
    /// argon2 computations run.
    pub runs: u64,
    /// Computations running now.
    pub running: u64,
    /// Jobs waiting for a worker, both queues.
    pub queued: u64,
    /// Jobs refused with RESOURCE_EXHAUSTED because their queue was full.
    pub shed: u64,
}

impl Shared {
    fn queues(&self) -> MutexGuard<'_, Queues> {
        // A worker never panics while holding the lock; recover the data if one did.
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Stops the workers when the last handle goes.
struct Pool {
    shared: Arc<Shared>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.queues().stopping = true;
        self.shared.work.notify_all();
    }
}

/// Hashes and verifies secrets as argon2id PHC strings on the pool. Cheap to clone: clones
/// share the pool.
#[derive(Clone)]
pub struct SecretHasher {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHasher")
            .field("config", &self.pool.shared.config)
            .field("runs", &self.runs())
            .finish_non_exhaustive()
    }
}

impl SecretHasher {
    /// Starts the pool's worker threads.
    pub fn new(config: HasherConfig) -> Result<Self, ServiceError> {
        let config = HasherConfig {
            threads: config.threads.max(1),
            verify_queue: config.verify_queue.max(1),
            issue_queue: config.issue_queue.max(1),
        };
        let shared = Arc::new(Shared {
            config,
            queues: Mutex::new(Queues::default()),
            work: Condvar::new(),
            runs: AtomicU64::new(0),
            running: AtomicU64::new(0),
            shed: AtomicU64::new(0),
        });
        for index in 0..config.threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&shared))
                .map_err(|err| internal(format!("cannot start a worker: {err}")))?;
        }
        Ok(Self {
            pool: Arc::new(Pool { shared }),
        })
    }

    /// How the pool is sized.
    pub fn config(&self) -> HasherConfig {
        self.pool.shared.config
    }

    /// How many argon2 computations (hashes and verifications) the pool has run.
    pub fn runs(&self) -> u64 {
        self.pool.shared.runs.load(Ordering::SeqCst)
    }

    /// What the pool is doing now and has done.
    pub fn stats(&self) -> HasherStats {
        let shared = &self.pool.shared;
        let queued = {
            let queues = shared.queues();
            (queues.issue.len() + queues.verify.len()) as u64
        };
        HasherStats {
            runs: shared.runs.load(Ordering::Relaxed),
            running: shared.running.load(Ordering::Relaxed),
            queued,
            shed: shared.shed.load(Ordering::Relaxed),
        }
    }

    /// The argon2id PHC string of a new key's secret ([`Lane::Issue`]).
    pub async fn hash_key(&self, key: &Key) -> Result<String, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.submit(
            Lane::Issue,
            Job::Hash {
                secret: secret_of(key),
                reply,
            },
        )?;
        answer
            .await
            .map_err(|_| internal("the worker stopped".to_owned()))?
            .map_err(internal)
    }

    /// Whether a presented key's secret matches the PHC string `phc` ([`Lane::Verify`]):
    /// RESOURCE_EXHAUSTED at once when the verification queue is full.
    pub async fn verify_key(&self, key: &Key, phc: Arc<str>) -> Result<bool, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.submit(
            Lane::Verify,
            Job::Verify {
                secret: secret_of(key),
                phc,
                reply,
            },
        )?;
        answer
            .await
            .map_err(|_| internal("the worker stopped".to_owned()))?
            .map_err(internal)
    }

    fn submit(&self, lane: Lane, job: Job) -> Result<(), ServiceError> {
        let shared = &self.pool.shared;
        {
            let mut queues = shared.queues();
            let (queue, capacity) = match lane {
                Lane::Issue => (&mut queues.issue, shared.config.issue_queue),
                Lane::Verify => (&mut queues.verify, shared.config.verify_queue),
            };
            if queue.len() >= capacity {
                shared.shed.fetch_add(1, Ordering::Relaxed);
                return Err(ServiceError::ResourceExhausted {
                    reason: "SECRET_CHECKS_OVERLOADED",
                    message: "too many secrets are waiting to be checked; retry shortly".to_owned(),
                    retry_after: Some(RETRY_AFTER),
                });
            }
            queue.push_back(job);
        }
        shared.work.notify_one();
        Ok(())
    }
}

/// A worker: takes issuance first, then verification, until the pool stops.
fn work(shared: &Shared) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let mut queues = shared.queues();
            loop {
                if queues.stopping {
                    return;
                }
                if let Some(job) = queues
                    .issue
                    .pop_front()
                    .or_else(|| queues.verify.pop_front())
                {
                    break job;
                }
                queues = shared
                    .work
                    .wait(queues)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        match job {
            Job::Hash { secret, reply } => {
                shared.running.fetch_add(1, Ordering::Relaxed);
                let result = hash(&mut memory, secret.expose_secret());
                shared.running.fetch_sub(1, Ordering::Relaxed);
                shared.runs.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(result);
            }
            Job::Verify { secret, phc, reply } => {
                // A caller that gave up (its request was cancelled) costs nothing more.
                if reply.is_closed() {
                    continue;
                }
                shared.running.fetch_add(1, Ordering::Relaxed);
                let result = verify(&mut memory, secret.expose_secret(), &phc);
                shared.running.fetch_sub(1, Ordering::Relaxed);
                shared.runs.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(result);
            }
        }
    }
}

/// The worker's block buffer, at least `blocks` long (grown once, never shrunk).
fn blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    &mut memory[..blocks]
}

/// argon2id with the default parameters and a fresh 16-byte salt, as a PHC string.
fn hash(memory: &mut Vec<Block>, secret: &[u8]) -> Result<String, String> {
    let params = Params::default();
    let salt: [u8; 16] = keyward_core::key::random_bytes().map_err(|err| err.to_string())?;
    let mut output = [0_u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            secret,
            &salt,
            &mut output,
            blocks(memory, params.block_count()),
        )
        .map_err(|err| err.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|err| err.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|err| err.to_string())?),
        hash: Some(Output::new(&output).map_err(|err| err.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `secret` matches the PHC string `phc`, computed with the algorithm, version and
/// parameters the string names (so they can be raised later) and compared in constant time.
fn verify(memory: &mut Vec<Block>, secret: &[u8], phc: &str) -> Result<bool, String> {
    let parsed = PasswordHash::new(phc).map_err(|err| format!("stored hash: {err}"))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
        .map_err(|err| format!("algorithm: {err}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|err| format!("version: {err}"))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|err| format!("parameters: {err}"))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(format!(
            "stored hash asks for {} KiB, more than the {MAX_MEMORY_KIB} KiB allowed",
            params.m_cost()
        ));
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err("stored hash has no salt or no output".to_owned());
    };
    let mut output = vec![0_u8; expected.len()];
    let block_count = params.block_count();
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            secret,
            salt.as_ref(),
            &mut output,
            blocks(memory, block_count),
        )
        .map_err(|err| err.to_string())?;
    Ok(output.ct_eq(expected.as_bytes()).into())
}

/// A copy of a key's secret bytes for the pool (wiped when dropped).
fn secret_of(key: &Key) -> SecretBytes {
    SecretBox::new(Box::new(*key.expose_secret()))
}

fn internal(err: String) -> ServiceError {
    ServiceError::Internal(format!("argon2: {err}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;
    use keyward_core::key::KeyKind;

    fn config(threads: usize, verify_queue: usize) -> HasherConfig {
        HasherConfig {
            threads,
            verify_queue,
            issue_queue: 4,
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_its_secret_and_no_other() {
        let hasher = SecretHasher::new(config(2, 8)).unwrap();
        let key = Key::generate(KeyKind::ApiKey).unwrap();
        let other = Key::generate(KeyKind::ApiKey).unwrap();
        let phc: Arc<str> = hasher.hash_key(&key).await.unwrap().into();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify_key(&key, phc.clone()).await.unwrap());
        assert!(!hasher.verify_key(&other, phc).await.unwrap());
        assert_eq!(hasher.runs(), 3);
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_verify_and_so_do_cheaper_parameters() {
        let hasher = SecretHasher::new(config(1, 8)).unwrap();
        let key = Key::generate(KeyKind::ApiKey).unwrap();
        let standard = Argon2::default()
            .hash_password(key.expose_secret())
            .unwrap()
            .to_string();
        assert!(hasher.verify_key(&key, standard.into()).await.unwrap());
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(key.expose_secret())
        .unwrap()
        .to_string();
        assert!(hasher.verify_key(&key, cheap.into()).await.unwrap());
    }

    #[tokio::test]
    async fn a_corrupt_or_hostile_hash_is_an_error_not_a_match() {
        let hasher = SecretHasher::new(config(1, 8)).unwrap();
        let key = Key::generate(KeyKind::ApiKey).unwrap();
        for phc in [
            "not-a-phc",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY",
        ] {
            assert!(
                matches!(
                    hasher.verify_key(&key, phc.into()).await,
                    Err(ServiceError::Internal(_))
                ),
                "{phc}"
            );
        }
    }

    /// A pool whose workers are started by the test, so queues can be filled first.
    fn paused(config: HasherConfig) -> SecretHasher {
        SecretHasher {
            pool: Arc::new(Pool {
                shared: Arc::new(Shared {
                    config,
                    queues: Mutex::new(Queues::default()),
                    work: Condvar::new(),
                    runs: AtomicU64::new(0),
                    running: AtomicU64::new(0),
                    shed: AtomicU64::new(0),
                }),
            }),
        }
    }

    #[tokio::test]
    async fn a_full_verification_queue_sheds_at_once_and_issuance_goes_first() {
        let hasher = paused(config(1, 2));
        let key = Key::generate(KeyKind::ApiKey).unwrap();
        let phc: Arc<str> = Argon2::default()
            .hash_password(key.expose_secret())
            .map(|hash| hash.to_string())
            .unwrap()
            .into();
        let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (hasher, phc, done_tx) = (hasher.clone(), phc.clone(), done_tx.clone());
            let key = Key::parse(secrecy::ExposeSecret::expose_secret(&key.to_token())).unwrap();
            tasks.push(tokio::spawn(async move {
                let matched = hasher.verify_key(&key, phc).await;
                let _ = done_tx.send("verify");
                matched
            }));
        }
        while hasher.pool.shared.queues().verify.len() < 2 {
            tokio::task::yield_now().await;
        }
        match hasher.verify_key(&key, phc.clone()).await {
            Err(ServiceError::ResourceExhausted { retry_after, .. }) => {
                assert_eq!(retry_after, Some(RETRY_AFTER));
            }
            other => panic!("a full queue sheds at once, got {other:?}"),
        }
        assert_eq!(hasher.runs(), 0, "shedding runs nothing");
        let issuing = {
            let (hasher, done_tx) = (hasher.clone(), done_tx.clone());
            tokio::spawn(async move {
                let new_key = Key::generate(KeyKind::ApiKey).unwrap();
                let hashed = hasher.hash_key(&new_key).await;
                let _ = done_tx.send("issue");
                hashed
            })
        };
        while hasher.pool.shared.queues().issue.is_empty() {
            tokio::task::yield_now().await;
        }
        let shared = hasher.pool.shared.clone();
        std::thread::spawn(move || work(&shared));
        assert_eq!(done.recv().await, Some("issue"), "issuance is served first");
        assert!(issuing.await.unwrap().is_ok());
        for task in tasks {
            assert!(task.await.unwrap().unwrap());
        }
        assert_eq!(hasher.runs(), 3);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_workers() {
        let hasher = SecretHasher::new(config(2, 8)).unwrap();
        let shared = hasher.pool.shared.clone();
        drop(hasher);
        assert!(shared.queues().stopping);
        // Both workers let go of their handle on the shared state.
        while Arc::strong_count(&shared) > 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
