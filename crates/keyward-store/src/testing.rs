//! Test support (feature `testing`): a fresh, throw-away database per test, on SQLite or
//! PostgreSQL, for this crate's tests and the server's.
//!
//! SQLite databases live in a temporary directory. PostgreSQL databases are created through
//! the admin URL in `KEYWARD_TEST_POSTGRES_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`) under a random name `kw_store_…`, and
//! dropped `WITH (FORCE)` when the [`TestDatabase`] is dropped, even by a panicking test.
//!
//! [`on_every_backend!`](crate::on_every_backend) is the one way a test runs on every
//! backend: each listed `async fn name(backend: TestBackend)` becomes the tests
//! `sqlite::name` and, when `KEYWARD_TEST_POSTGRES_URL` is set at build time,
//! `postgres::name`. Used by this crate's tests, the server's `tests/api` and the CLI's tests.
//!
//! Failures panic with a message: this module only ever runs inside tests.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failure here is a failed test"
)]

use std::{
    fmt,
    hash::{BuildHasher, RandomState},
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
    time::SystemTime,
};

use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;

use crate::Store;

/// The environment variable holding the PostgreSQL admin URL for tests.
pub const POSTGRES_URL_VAR: &str = "KEYWARD_TEST_POSTGRES_URL";

/// A database engine to test on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestBackend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database on the server named by `KEYWARD_TEST_POSTGRES_URL`.
    Postgres,
}

impl TestBackend {
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub fn name(self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for TestBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Declares each listed `async fn name(backend: TestBackend)` of the calling module as one
/// test per backend: `sqlite::name`, and `postgres::name` when `KEYWARD_TEST_POSTGRES_URL`
/// was set when this crate was built, so that each backend passes or fails on its own.
///
/// This crate's build script turns the variable into `cfg(keyward_test_postgres)`, and the
/// cfg is read here, once (see `__with_postgres!`): crates that use the macro need no build
/// script for it. The tests are `#[tokio::test]`, or the test attribute given first:
///
/// ```text
/// keyward_store::on_every_backend!(an_account_reads_back_as_created, listing_accounts_pages);
/// keyward_store::on_every_backend!(
///     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
///     the_readme_newcomer_flow_runs_through_the_cli,
/// );
/// ```
#[macro_export]
macro_rules! on_every_backend {
    (#[$test:meta] $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[$test]
                async fn $name() {
                    super::$name($crate::testing::TestBackend::Sqlite).await
                }
            )*
        }
        $crate::__with_postgres! {
            mod postgres {
                $(
                    #[$test]
                    async fn $name() {
                        super::$name($crate::testing::TestBackend::Postgres).await
                    }
                )*
            }
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_every_backend!(#[tokio::test] $($name),*);
    };
}

/// The PostgreSQL half of [`on_every_backend!`](crate::on_every_backend): its input when this
/// crate was built with `KEYWARD_TEST_POSTGRES_URL` set, nothing otherwise.
#[cfg(keyward_test_postgres)]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_postgres {
    ($($tokens:tt)*) => { $($tokens)* };
}

/// The PostgreSQL half of [`on_every_backend!`](crate::on_every_backend): its input when this
/// crate was built with `KEYWARD_TEST_POSTGRES_URL` set, nothing otherwise.
#[cfg(not(keyward_test_postgres))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_postgres {
    ($($tokens:tt)*) => {};
}

/// A fresh database, removed when dropped.
pub struct TestDatabase {
    backend: TestBackend,
    url: String,
    place: Place,
}

enum Place {
    Sqlite(TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh, empty (not migrated) database on `backend`. Panics for
    /// [`TestBackend::Postgres`] when `KEYWARD_TEST_POSTGRES_URL` is not set.
    pub async fn create(backend: TestBackend) -> TestDatabase {
        match backend {
            TestBackend::Sqlite => TestDatabase::sqlite(),
            TestBackend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// A SQLite database file (not created yet) in a fresh temporary directory.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("keyward.db").display()
        );
        TestDatabase {
            backend: TestBackend::Sqlite,
            url,
            place: Place::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL database. Panics when `KEYWARD_TEST_POSTGRES_URL` is not set.
    pub async fn postgres() -> TestDatabase {
        let admin_url =
            postgres_admin_url().unwrap_or_else(|| panic!("{POSTGRES_URL_VAR} is not set"));
        let name = format!("kw_store_{}", random_suffix());
        admin_execute(&admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|err| panic!("{POSTGRES_URL_VAR} is not a URL: {err}"));
        url.set_path(&name);
        TestDatabase {
            backend: TestBackend::Postgres,
            url: url.into(),
            place: Place::Postgres { admin_url, name },
        }
    }

    /// The backend the database runs on.
    pub fn backend(&self) -> TestBackend {
        self.backend
    }

    /// The URL to hand to [`Store::connect`] or to the server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The temporary directory of a SQLite database (`None` on PostgreSQL).
    pub fn dir(&self) -> Option<&Path> {
        match &self.place {
            Place::Sqlite(dir) => Some(dir.path()),
            Place::Postgres { .. } => None,
        }
    }

    /// Connects a [`Store`] and applies the migrations.
    pub async fn migrated_store(&self) -> Store {
        let store = Store::connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("{}: connect: {err:?}", self.backend));
        store
            .migrate()
            .await
            .unwrap_or_else(|err| panic!("{}: migrate: {err:?}", self.backend));
        store
    }

    /// Runs `sql` on the database directly, over a connection of its own, as someone with
    /// access to the database (and not to Keyward) could: to prove that tampering shows.
    pub async fn execute(&self, sql: &str) {
        let db = Database::connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("{}: connect: {err:?}", self.backend));
        db.execute_unprepared(sql)
            .await
            .unwrap_or_else(|err| panic!("{}: {sql}: {err:?}", self.backend));
        let _ = db.close().await;
    }

    /// PostgreSQL only: drops the database now, cutting every connection to it, to
    /// simulate an outage under a running server. [`restore`](Self::restore) brings it back.
    pub async fn drop_now(&self) {
        let (admin_url, name) = self.postgres_place("drop_now");
        admin_execute(admin_url, &drop_sql(name)).await;
    }

    /// PostgreSQL only: recreates the database dropped by [`drop_now`](Self::drop_now),
    /// migrated and empty.
    pub async fn restore(&self) {
        let (admin_url, name) = self.postgres_place("restore");
        admin_execute(admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
        self.migrated_store().await.close().await;
    }

    /// PostgreSQL only: terminates every connection to the database that is listening for
    /// change announcements (`pg_terminate_backend`), as a network failure would cut them;
    /// returns how many. Their owners reconnect.
    pub async fn terminate_listeners(&self) -> usize {
        let (admin_url, name) = self.postgres_place("terminate_listeners");
        let admin = Database::connect(admin_url)
            .await
            .unwrap_or_else(|err| panic!("{POSTGRES_URL_VAR}: cannot connect: {err}"));
        let sql = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND query ILIKE 'LISTEN%'"
        );
        let rows = admin
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .unwrap_or_else(|err| panic!("terminating listeners: {err}"));
        admin
            .close()
            .await
            .unwrap_or_else(|err| panic!("closing the admin connection: {err}"));
        rows.len()
    }

    fn postgres_place(&self, what: &str) -> (&str, &str) {
        match &self.place {
            Place::Postgres { admin_url, name } => (admin_url, name),
            Place::Sqlite(_) => panic!("{what}: only a PostgreSQL test database can be taken away"),
        }
    }
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TestDatabase");
        debug.field("backend", &self.backend);
        match &self.place {
            Place::Sqlite(dir) => debug.field("dir", &dir.path()),
            // Not the URLs: the admin URL may carry a password.
            Place::Postgres { name, .. } => debug.field("name", name),
        };
        debug.finish()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Place::Postgres { admin_url, name } = &self.place else {
            return; // The temporary directory removes itself.
        };
        // Drop may run inside a test's runtime, which must not be blocked on: run the
        // statement on a runtime of its own, on a thread of its own.
        let (admin_url, sql) = (admin_url.clone(), drop_sql(name));
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?
                .block_on(async {
                    let admin = Database::connect(admin_url.as_str()).await?;
                    admin.execute_unprepared(&sql).await?;
                    admin.close().await
                })
                .map_err(|err| err.to_string())
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            // Do not turn a failing test's panic into an abort.
            _ if std::thread::panicking() => {}
            Ok(Err(err)) => panic!("cannot drop test database {name}: {err}"),
            Err(_) => panic!("cannot drop test database {name}: the dropping thread panicked"),
        }
    }
}

fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

fn drop_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
}

async fn admin_execute(admin_url: &str, sql: &str) {
    let admin = Database::connect(admin_url)
        .await
        .unwrap_or_else(|err| panic!("{POSTGRES_URL_VAR}: cannot connect: {err}"));
    admin
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    admin
        .close()
        .await
        .unwrap_or_else(|err| panic!("closing the admin connection: {err}"));
}

/// A random lowercase suffix for database names.
pub fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = (
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        SystemTime::now(),
    );
    format!("{:016x}", RandomState::new().hash_one(seed))
}
