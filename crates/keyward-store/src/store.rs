//! The [`Store`] handle: opening the database from a URL (SQLite file with an exclusive
//! lock, in-memory SQLite, or PostgreSQL), migrating it, probing it for health checks and
//! closing it.

use std::{
    fmt,
    fs::{File, OpenOptions, TryLockError},
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, OnceLock, Weak},
    time::Duration,
};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    RuntimeErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sqlx::{
        postgres::PgConnectOptions,
        sqlite::{SqliteConnectOptions, SqliteJournalMode},
    },
};
use sea_orm_migration::MigratorTrait;

use crate::{changes::ChangeObserver, error::StoreError, migration::Migrator};

/// The connection pool at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open.
    pub size: u32,
    /// Of those, idle.
    pub idle: u32,
}

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Embedded SQLite (a file, or memory).
    Sqlite,
    /// PostgreSQL, or a PostgreSQL-compatible database.
    Postgres,
}

/// Tuning for [`Store::connect_with`]; [`Default`] suits most installations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size; `None` means 8 for a SQLite file, 16 for PostgreSQL (in-memory SQLite
    /// always uses one connection).
    pub max_connections: Option<u32>,
    /// How long to wait for a new connection, or for a free one from the pool, before
    /// reporting [`StoreError::Unavailable`].
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
/// How long SQLite waits for another connection's write lock before giving up (`BUSY`).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Key of the PostgreSQL advisory lock that serialises migrations between replicas.
const MIGRATION_LOCK_KEY: i64 = 0x6b65_7977_6172_6400; // "keyward\0"

/// The database: a pool of connections, cheap to clone and shared by every request.
///
/// For a SQLite file it also holds an exclusive lock on `<file>.lock`, so that two servers
/// never write the same file; the lock is released when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    backend: Backend,
    /// The locked `<db file>.lock`, for a SQLite file.
    _file_lock: Option<Arc<File>>,
    /// Awaited after every commit that recorded changes (see `crate::changes`); shared by
    /// every clone. Weak: the observer usually holds a clone of the store.
    pub(crate) observer: Arc<OnceLock<Weak<dyn ChangeObserver>>>,
    /// A request ID claim that the next writing transaction completes (see
    /// [`Store::completing`]).
    completion: Option<Arc<RequestCompletion>>,
}

/// A claimed request ID and the resource its request makes: recorded as done inside the
/// transaction that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCompletion {
    /// The claim's scope (caller and method).
    pub scope: String,
    /// The request ID.
    pub request_id: String,
    /// The resource the request makes or changes.
    pub resource_name: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// What a database URL designates.
enum Target {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres,
}

impl Store {
    /// Opens the database at `url` with [`StoreOptions::default`].
    ///
    /// Accepted URLs: `sqlite://path?mode=rwc`, `sqlite:path`, `sqlite::memory:`,
    /// `postgres://…` and `postgresql://…`. A SQLite file (and its directory) is created if
    /// missing and opened in WAL mode with foreign keys on and a 5 s busy timeout. Errors:
    /// [`StoreError::InvalidUrl`], [`StoreError::Locked`] when another server uses the SQLite
    /// file, [`StoreError::Unavailable`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Opens the database at `url`; see [`Store::connect`].
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let mut connect = ConnectOptions::new(url);
        connect
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.connect_timeout)
            // Statements carry secret hashes as parameters: keep them out of logs and spans.
            .sqlx_logging(false)
            .record_stmt_in_spans(false);
        let (backend, file_lock) = match parse_url(url)? {
            Target::SqliteFile(path) => {
                let lock = lock_sqlite_file(&path)?;
                connect
                    .max_connections(options.max_connections.unwrap_or(SQLITE_MAX_CONNECTIONS))
                    .map_sqlx_sqlite_opts(|opts| {
                        opts.create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            .foreign_keys(true)
                            .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    });
                (Backend::Sqlite, Some(Arc::new(lock)))
            }
            Target::SqliteMemory => {
                // Every connection would otherwise see its own empty database once the pool
                // recycles connections: keep exactly one, forever.
                connect
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .map_sqlx_sqlite_opts(|opts| opts.foreign_keys(true));
                (Backend::Sqlite, None)
            }
            Target::Postgres => {
                connect
                    .max_connections(options.max_connections.unwrap_or(POSTGRES_MAX_CONNECTIONS))
                    .set_application_name("keyward");
                (Backend::Postgres, None)
            }
        };
        let db = Database::connect(connect)
            .await
            .map_err(StoreError::Unavailable)?;
        tracing::debug!(?backend, "database connected");
        Ok(Store {
            completion: None,
            db,
            backend,
            _file_lock: file_lock,
            observer: Arc::new(OnceLock::new()),
        })
    }

    /// Applies every pending migration. On PostgreSQL, replicas starting together take turns
    /// (an advisory lock held by the migrating transaction), and all pending migrations apply
    /// or none does.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Postgres => {
                let txn = self.begin().await?;
                txn.execute_unprepared(&format!(
                    "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
                ))
                .await?;
                Migrator::up(&txn, None).await?;
                txn.commit().await?;
            }
            // The file lock already keeps other servers out; each migration is its own
            // transaction.
            Backend::Sqlite => Migrator::up(&self.db, None).await?,
        }
        tracing::info!("database schema is up to date");
        Ok(())
    }

    /// Rolls back the last `steps` applied migrations (all of them for `None`), destroying
    /// the data of the tables they created. For operators' tooling and tests.
    pub async fn migrate_down(&self, steps: Option<u32>) -> Result<(), StoreError> {
        Migrator::down(&self.db, steps).await?;
        Ok(())
    }

    /// Names of the migrations applied to the database, oldest first (empty for a fresh
    /// database).
    pub async fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        Ok(Migrator::get_applied_migrations_read_only(&self.db)
            .await?
            .iter()
            .map(|migration| migration.name().to_owned())
            .collect())
    }

    /// Checks that the database answers, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .ping()
            .await
            .map_err(|err| match StoreError::from(err) {
                // Whatever stops a ping, the database is not serving.
                StoreError::Internal(err) => StoreError::Unavailable(err),
                other => other,
            })
    }

    /// Starts a transaction that may write. On SQLite it takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads, then writes after another
    /// connection committed, fails at once with `SQLITE_BUSY` (its snapshot is stale, and
    /// the busy timeout does not apply), whereas an immediate one waits its turn.
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        if let Some(completion) = &self.completion {
            crate::idempotency::complete_in(&txn, completion).await?;
        }
        Ok(txn)
    }

    /// This store, its writing transactions also recording `completion`'s request ID as
    /// done, with its resource: the request's work and its request-ID record commit
    /// together, so a crash or a lost answer never leaves the claim pending (a retry would
    /// then do the work again). Use it for the one write that does a request's work.
    pub fn completing(&self, completion: RequestCompletion) -> Store {
        Store {
            completion: Some(Arc::new(completion)),
            ..self.clone()
        }
    }

    /// Which database engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool now: connections open, and how many of them are idle.
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match self.backend {
            Backend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            Backend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
        };
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }

    /// Closes the connection pool, for every clone of this store; the SQLite file lock goes
    /// with the last clone.
    pub async fn close(self) {
        if let Err(err) = self.db.close().await {
            tracing::warn!(error = %err, "closing the database pool failed");
        }
    }
}

/// Works out what a URL designates, without ever echoing the URL (it may carry a password).
fn parse_url(url: &str) -> Result<Target, StoreError> {
    let parsed = url::Url::parse(url)
        .map_err(|err| StoreError::InvalidUrl(format!("cannot parse: {err}")))?;
    match parsed.scheme() {
        "sqlite" => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|err| StoreError::InvalidUrl(format!("invalid sqlite url: {err}")))?;
            // sqlx reads the same way: everything after `sqlite://` or `sqlite:` up to `?`.
            let rest = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or_default();
            let (database, query) = rest.split_once('?').unwrap_or((rest, ""));
            let memory_mode = url::form_urlencoded::parse(query.as_bytes())
                .any(|(key, value)| key == "mode" && value == "memory");
            if database == ":memory:" || memory_mode {
                Ok(Target::SqliteMemory)
            } else if database.is_empty() {
                Err(StoreError::InvalidUrl(
                    "sqlite url names no database file".to_owned(),
                ))
            } else {
                Ok(Target::SqliteFile(options.get_filename().to_path_buf()))
            }
        }
        "postgres" | "postgresql" => {
            PgConnectOptions::from_str(url)
                .map_err(|err| StoreError::InvalidUrl(format!("invalid postgres url: {err}")))?;
            Ok(Target::Postgres)
        }
        other => Err(StoreError::InvalidUrl(format!(
            "unsupported database scheme `{other}`, expected sqlite or postgres"
        ))),
    }
}

/// Creates the database file's directory if needed and takes the exclusive lock on
/// `<file>.lock`. The lock file stays behind when the server stops; only the lock matters.
fn lock_sqlite_file(path: &Path) -> Result<File, StoreError> {
    let io_error = |what: &str, err: std::io::Error| {
        StoreError::Unavailable(DbErr::Conn(RuntimeErr::Internal(format!("{what}: {err}"))))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|err| {
            io_error(
                &format!("cannot create directory {}", parent.display()),
                err,
            )
        })?;
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| io_error(&format!("cannot open {}", lock_path.display()), err))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(err)) => Err(io_error(
            &format!("cannot lock {}", lock_path.display()),
            err,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;

    /// A transaction that reads before it writes, while another connection writes and
    /// commits in between: on SQLite a deferred transaction would fail its write at once
    /// (`SQLITE_BUSY`, stale snapshot); one begun by [`Store::begin`] holds the write lock
    /// from the start, so the other writer waits its turn and both succeed.
    #[tokio::test]
    async fn a_write_transaction_that_reads_first_is_not_failed_by_a_concurrent_writer() {
        let database = TestDatabase::sqlite();
        let store = database.migrated_store().await;
        let insert = |entity: &str| {
            format!(
                "INSERT INTO changes (kind, account_id, entity_id, create_time) \
                 VALUES ('role', 'acme', '{entity}', '2026-12-05T00:00:00Z')"
            )
        };
        let txn = store.begin().await.expect("begins");
        txn.execute_unprepared("SELECT count(*) FROM changes")
            .await
            .expect("reads");
        let other = tokio::spawn({
            let store = store.clone();
            let statement = insert("other");
            async move { store.db.execute_unprepared(&statement).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        txn.execute_unprepared(&insert("mine"))
            .await
            .expect("the transaction's own write is not refused");
        txn.commit().await.expect("commits");
        other
            .await
            .expect("joins")
            .expect("the other writer waited its turn");
    }
}
