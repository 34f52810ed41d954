//! Command-line and environment configuration.
//!
//! Every flag has a `KEYWARD_*` environment variable. [`ServeArgs`] is what
//! people type; [`Settings`] is what the server runs with, every default
//! resolved.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use secrecy::SecretString;

use crate::auth::HasherConfig;
use crate::auth::throttle::ThrottleConfig;
use crate::clock::{SharedClock, SharedMonotonic, SystemClock, SystemMonotonic};
use crate::index::IndexConfig;
use crate::sealing::MasterKeySource;

/// Keyward: issues, stores, renews, revokes and verifies API credentials.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC server.
    Serve(Box<ServeArgs>),
    /// Re-seal every HMAC client secret under the first master key, so that the
    /// others can be removed (see "The master key" in the README), and exit.
    ResealSecrets(ResealArgs),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// The flags every command that opens the database takes.
#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DATABASE`.
    /// Defaults to an embedded SQLite database in the data directory.
    #[arg(long, env = "KEYWARD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the embedded database and the files Keyward generates.
    #[arg(long, env = "KEYWARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Log format.
    #[arg(long, env = "KEYWARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter in `RUST_LOG` syntax, for example `info,keyward=debug`.
    /// Falls back to `RUST_LOG`, then to `info`.
    #[arg(long, env = "KEYWARD_LOG")]
    pub log: Option<String>,

    /// Master keys that seal HMAC client secrets: standard base64 of 32 random bytes,
    /// comma-separated, the first sealing new secrets. Without it (and without a key file)
    /// the embedded default generates `master.key` in the data directory.
    #[arg(
        long,
        env = "KEYWARD_MASTER_KEY",
        hide_env_values = true,
        conflicts_with = "master_key_file",
        value_parser = secret_value
    )]
    pub master_key: Option<SecretString>,

    /// A file of master keys, one per line, the first sealing new secrets.
    #[arg(long, env = "KEYWARD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

/// Flags of `keyward reseal-secrets`.
#[derive(Debug, clap::Args)]
pub struct ResealArgs {
    /// The database, the master keys and the logs, as `keyward serve` takes them.
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// Flags of `keyward serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but a loopback address needs TLS
    /// (`--tls-cert`), or `--insecure-plaintext` to say that clear text is meant.
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// TLS: the server's certificate chain, PEM (leaf first). With `--tls-key`, every
    /// connection is TLS (rustls; TLS 1.2 and 1.3).
    #[arg(
        long,
        env = "KEYWARD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// TLS: the private key of `--tls-cert`, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "KEYWARD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: CA certificates, PEM, one of which must have signed the certificate
    /// every client presents; a client without one is refused during the handshake.
    #[arg(
        long,
        env = "KEYWARD_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// Serve metrics in the Prometheus text format at `http://ADDR/metrics` (plain HTTP/1;
    /// no secrets, but request rates and key counts: keep it on a private network).
    /// Off unless given; `127.0.0.1:9464` keeps it on this machine.
    #[arg(long, env = "KEYWARD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Serve clear-text HTTP/2 on a non-loopback address. Every key and secret then
    /// crosses the network readable by anyone on the path: only behind a proxy or mesh
    /// that terminates TLS for Keyward.
    #[arg(long, env = "KEYWARD_INSECURE_PLAINTEXT", conflicts_with = "tls_cert")]
    pub insecure_plaintext: bool,

    /// The database, the master keys and the logs.
    #[command(flatten)]
    pub storage: StorageArgs,

    /// Seconds between database health probes; the health service answers
    /// NOT_SERVING while the database is unreachable.
    #[arg(long, env = "KEYWARD_HEALTH_INTERVAL_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub health_interval_secs: u64,

    /// How many calls one connection may have in flight at once (HTTP/2
    /// SETTINGS_MAX_CONCURRENT_STREAMS, announced to every client): a client
    /// opening more waits for a slot, so one connection cannot pile up
    /// unbounded work and memory.
    #[arg(long, env = "KEYWARD_MAX_CONCURRENT_STREAMS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_concurrent_streams: u32,

    /// How many calls the whole server works on at once, over every
    /// connection. A call beyond it is refused at once with
    /// RESOURCE_EXHAUSTED (reason SERVER_OVERLOADED, with a RetryInfo) instead
    /// of queuing without end; health checks are never refused.
    #[arg(long, env = "KEYWARD_MAX_CONCURRENT_CALLS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_concurrent_calls: u32,

    /// Seconds between HTTP/2 pings on a connection, so that a peer that
    /// vanished (a crashed gateway, a dropped NAT entry) is found and its
    /// connection closed when a ping goes unanswered for 20 s. 0 turns pings off.
    #[arg(long, env = "KEYWARD_KEEPALIVE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub keepalive_secs: u64,

    /// Seconds a connection may stay without calls before it is closed (between one and
    /// two such periods after its last call; HTTP/2 pings do not count as calls), so that
    /// abandoned connections do not hold memory.
    #[arg(long, env = "KEYWARD_IDLE_TIMEOUT_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_secs: u64,

    /// Seconds a call's request body may take to arrive, counted from the first time the
    /// server waits for it; a call whose body is late is answered DEADLINE_EXCEEDED
    /// (REQUEST_BODY_TIMEOUT) and its stream closed.
    #[arg(long, env = "KEYWARD_BODY_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,

    /// The largest header block a call may send, in bytes (HTTP/2
    /// SETTINGS_MAX_HEADER_LIST_SIZE, announced to clients); a larger one is refused.
    #[arg(long, env = "KEYWARD_MAX_HEADER_LIST_BYTES", default_value_t = 16_384,
          value_parser = clap::value_parser!(u32).range(1_024..=1_048_576))]
    pub max_header_list_bytes: u32,

    /// The largest request message a call may send, in bytes; a larger one is answered
    /// OUT_OF_RANGE (MESSAGE_TOO_LARGE) as soon as its length prefix arrives.
    #[arg(long, env = "KEYWARD_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1_024..=67_108_864))]
    pub max_message_bytes: u32,

    /// How many bytes of request bodies the whole server holds at once, over every call
    /// (at least --max-message-bytes: a smaller value is raised to it). A call whose bytes
    /// would go beyond it is answered RESOURCE_EXHAUSTED (SERVER_OVERLOADED, retry
    /// shortly), so that bodies stalled half-sent cannot fill the memory.
    #[arg(long, env = "KEYWARD_MAX_BUFFERED_REQUEST_BYTES", default_value_t = 64 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1_024..=17_179_869_184))]
    pub max_buffered_request_bytes: u64,

    /// Seconds in-flight calls get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "KEYWARD_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// On first start, write the operator API key into this file (created
    /// with mode 0600, never overwritten) instead of printing it on stderr.
    #[arg(long, env = "KEYWARD_BOOTSTRAP_KEY_FILE")]
    pub bootstrap_key_file: Option<PathBuf>,

    /// Seconds over which the last-used times of credentials are coalesced:
    /// at most about one database write per credential per interval.
    #[arg(long, env = "KEYWARD_LAST_USED_INTERVAL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub last_used_interval_secs: u64,

    /// On first start, the email of the operator account's administrator.
    #[arg(
        long,
        env = "KEYWARD_OPERATOR_EMAIL",
        default_value = "operator@localhost"
    )]
    pub operator_email: String,

    /// How the verification plane is sized and bounded.
    #[command(flatten)]
    pub verification: VerificationArgs,
}

/// Flags of the verification plane: the in-memory index, its freshness bound, the argon2
/// pool and the budget of unproven secrets.
#[derive(Debug, Clone, clap::Args)]
pub struct VerificationArgs {
    /// How many facts the verification index holds in memory (API keys, users, roles,
    /// credentials…; about 300 bytes each), and as many proven secret digests.
    #[arg(long, env = "KEYWARD_INDEX_CAPACITY", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1_000..=100_000_000))]
    pub index_capacity: u64,

    /// The freshness bound, in milliseconds: a replica answers verifications from memory
    /// only while its last successful read of the change log started at most this long
    /// ago; past it, it reads the database for every verification (and answers UNAVAILABLE
    /// if it cannot), never a remembered "valid". Also the worst-case delay before a
    /// revocation made on another replica is refused here.
    #[arg(long, env = "KEYWARD_MAX_STALENESS_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub max_staleness_ms: u64,

    /// Threads that run argon2 (at most this many hashes at once, 19 MiB each). 0: one
    /// less than the machine's cores, at least one.
    #[arg(long, env = "KEYWARD_ARGON2_THREADS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=256))]
    pub argon2_threads: u64,

    /// Secrets waiting for an argon2 thread, at most; more are shed at once with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "KEYWARD_ARGON2_QUEUE", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub argon2_queue: u64,

    /// Unproven secrets (never seen to verify by this server) one credential may present
    /// per window before more are refused without checking (TOO_MANY_ATTEMPTS).
    #[arg(long, env = "KEYWARD_UNPROVEN_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub unproven_attempts: u32,

    /// The window of `--unproven-attempts`, in seconds.
    #[arg(long, env = "KEYWARD_UNPROVEN_WINDOW_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub unproven_window_secs: u64,
}

impl VerificationArgs {
    /// The settings these flags describe.
    pub fn settings(&self) -> VerificationSettings {
        let machine = HasherConfig::for_this_machine();
        VerificationSettings {
            index: IndexConfig {
                capacity: usize::try_from(self.index_capacity).unwrap_or(usize::MAX),
                max_staleness: Duration::from_millis(self.max_staleness_ms),
            },
            hasher: HasherConfig {
                threads: match self.argon2_threads {
                    0 => machine.threads,
                    n => usize::try_from(n).unwrap_or(machine.threads),
                },
                verify_queue: usize::try_from(self.argon2_queue).unwrap_or(machine.verify_queue),
                issue_queue: machine.issue_queue,
            },
            throttle: ThrottleConfig {
                attempts: self.unproven_attempts,
                window: Duration::from_secs(self.unproven_window_secs),
            },
        }
    }
}

/// How the verification plane runs (see [`VerificationArgs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationSettings {
    /// The in-memory index and its freshness bound.
    pub index: IndexConfig,
    /// The argon2 pool.
    pub hasher: HasherConfig,
    /// The budget of unproven secrets per credential.
    pub throttle: ThrottleConfig,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        Self {
            index: IndexConfig::default(),
            hasher: HasherConfig::for_this_machine(),
            throttle: ThrottleConfig::default(),
        }
    }
}

/// Everything the server needs to start, defaults resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// Interval of the database health probe.
    pub health_interval: Duration,
    /// How long in-flight calls may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Email of the operator administrator created on first start.
    pub operator_email: String,
    /// Where the first start writes the operator API key (else stderr).
    pub bootstrap_key_file: Option<PathBuf>,
    /// The clock expiry decisions are made by.
    pub clock: SharedClock,
    /// The monotonic clock freshness and attempt budgets are measured with.
    pub monotonic: SharedMonotonic,
    /// The verification plane.
    pub verification: VerificationSettings,
    /// Where the master keys come from.
    pub master_key: MasterKeySource,
    /// Last-used times are written at most about once per credential per
    /// interval (see `crate::usage`).
    pub last_used_interval: Duration,
    /// Limits of the HTTP/2 transport.
    pub transport: TransportSettings,
    /// TLS, if the server speaks it.
    pub tls: Option<TlsFiles>,
    /// Whether clear text may be served on a non-loopback address.
    pub insecure_plaintext: bool,
    /// Where metrics are served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Where the server's TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// For mutual TLS: the CA certificates clients' certificates must chain to, PEM.
    pub client_ca: Option<PathBuf>,
}

/// Limits of the HTTP/2 transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportSettings {
    /// Calls one connection may have in flight at once (announced to clients).
    pub max_concurrent_streams: u32,
    /// Calls the whole server works on at once; more are refused at once.
    pub max_concurrent_calls: u32,
    /// Interval of HTTP/2 keepalive pings; `None`: no pings.
    pub keepalive: Option<Duration>,
    /// How long a connection may go without calls before it is closed.
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive once waited for.
    pub body_timeout: Duration,
    /// The largest header block a call may send, in bytes.
    pub max_header_list_bytes: u32,
    /// The largest request message accepted, in bytes.
    pub max_message_bytes: u32,
    /// Request-body bytes the whole server holds at most (never below the largest message).
    pub max_buffered_request_bytes: u64,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 256,
            max_concurrent_calls: 4096,
            keepalive: Some(Duration::from_secs(60)),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(10),
            max_header_list_bytes: 16_384,
            max_message_bytes: 4 * 1024 * 1024,
            max_buffered_request_bytes: 64 * 1024 * 1024,
        }
    }
}

impl StorageArgs {
    /// The database URL and the master key source, defaults resolved: without a
    /// database URL, an embedded SQLite file in the data directory (created if
    /// missing) and a generated master key file beside it.
    pub fn resolve(&self) -> (String, MasterKeySource) {
        let data_dir =
            std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        let database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&data_dir.join("keyward.db")));
        let master_key = match (&self.master_key, &self.master_key_file, &self.database_url) {
            (Some(value), _, _) => MasterKeySource::Value(value.clone()),
            (None, Some(path), _) => MasterKeySource::File(path.clone()),
            (None, None, None) => {
                MasterKeySource::Generated(data_dir.join(crate::sealing::GENERATED_FILE_NAME))
            }
            (None, None, Some(_)) => MasterKeySource::Missing,
        };
        (database_url, master_key)
    }

    /// The log filter: the flag, else `RUST_LOG`, else `info`.
    pub fn log_filter(&self) -> String {
        self.log
            .clone()
            .or_else(|| std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "info".to_owned())
    }
}

impl ServeArgs {
    /// Resolves defaults (see [`StorageArgs::resolve`]).
    pub fn settings(&self) -> Settings {
        let (database_url, master_key) = self.storage.resolve();
        Settings {
            listen: self.listen,
            database_url,
            health_interval: Duration::from_secs(self.health_interval_secs),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            operator_email: self.operator_email.clone(),
            bootstrap_key_file: self.bootstrap_key_file.clone(),
            clock: Arc::new(SystemClock),
            monotonic: Arc::new(SystemMonotonic::default()),
            verification: self.verification.settings(),
            master_key,
            last_used_interval: Duration::from_secs(self.last_used_interval_secs),
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.tls_client_ca.clone(),
                }),
                _ => None,
            },
            insecure_plaintext: self.insecure_plaintext,
            metrics_listen: self.metrics_listen,
            transport: TransportSettings {
                max_concurrent_streams: self.max_concurrent_streams,
                max_concurrent_calls: self.max_concurrent_calls,
                keepalive: (self.keepalive_secs > 0)
                    .then(|| Duration::from_secs(self.keepalive_secs)),
                idle_timeout: Duration::from_secs(self.idle_timeout_secs),
                body_timeout: Duration::from_secs(self.body_timeout_secs),
                max_header_list_bytes: self.max_header_list_bytes,
                max_message_bytes: self.max_message_bytes,
                max_buffered_request_bytes: self.max_buffered_request_bytes,
            },
        }
    }
}

/// A flag value kept out of `Debug` output.
fn secret_value(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// The SQLite URL of a database file, created if it does not exist.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}
