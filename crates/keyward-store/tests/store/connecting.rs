//! Connecting: URLs that are refused, databases that are missing or gone, SQLite's
//! file, WAL mode and lock, and what `ping` and `backend` report.

use std::error::Error as _;
use std::time::{Duration, Instant};

use keyward_store::{
    Backend, Store, StoreError, StoreOptions,
    testing::{POSTGRES_URL_VAR, TestBackend, TestDatabase, random_suffix},
};

use crate::support::{TestDb, new_account};

keyward_store::on_every_backend!(
    ping_and_backend_report_on_every_backend,
    ping_reports_unavailable_while_the_database_is_gone,
);

#[tokio::test]
async fn malformed_or_unsupported_urls_are_invalid() {
    let cases = [
        (
            "mysql://root@localhost/keyward",
            "unsupported database scheme `mysql`",
        ),
        ("keyward.db", "cannot parse"),
        ("", "cannot parse"),
        ("sqlite://", "names no database file"),
        ("sqlite://keyward.db?mode=bogus", "invalid sqlite url"),
        (
            "postgres://kw:hunter2@localhost:notaport/keyward",
            "cannot parse",
        ),
    ];
    for (url, expected) in cases {
        match Store::connect(url).await {
            Err(StoreError::InvalidUrl(message)) => {
                assert!(message.contains(expected), "{url:?}: {message}");
                assert!(!message.contains("hunter2"), "{url:?} leaks its password");
            }
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_unavailable_within_the_timeout() {
    let started = Instant::now();
    let result = Store::connect("postgres://keyward@127.0.0.1:1/keyward").await;
    let elapsed = started.elapsed();
    match result {
        Err(err @ StoreError::Unavailable(_)) => {
            assert_eq!(err.to_string(), "database unavailable");
            assert!(err.source().is_some(), "the cause is kept for the logs");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

#[tokio::test]
async fn a_missing_postgres_database_is_unavailable() {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        // Without PostgreSQL, the same path through `connect_with` and a short timeout.
        let options = StoreOptions {
            connect_timeout: Duration::from_millis(200),
            ..StoreOptions::default()
        };
        let result = Store::connect_with("postgresql://127.0.0.1:1/missing", &options).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        return;
    };
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("kw_store_missing_{}", random_suffix()));
    let result = Store::connect(url.as_str()).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn sqlite_urls_create_the_file_and_its_directory_in_wal_mode() {
    let database = TestDatabase::sqlite();
    let dir = database.dir().unwrap();
    let nested = dir.join("a/b/keyward.db");
    let bare = dir.join("c/keyward.db");
    for (url, file) in [
        (format!("sqlite://{}?mode=rwc", nested.display()), &nested),
        (format!("sqlite:{}", bare.display()), &bare),
    ] {
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        assert!(file.exists(), "{url}: database file created");
        let mut wal = file.as_os_str().to_owned();
        wal.push("-wal");
        assert!(
            std::path::Path::new(&wal).exists(),
            "{url}: WAL journal in use"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn an_in_memory_sqlite_store_keeps_its_data() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store
        .create_account(new_account("acme", "acme-"))
        .await
        .unwrap();
    // Enough round trips for a pool to have recycled a connection.
    for _ in 0..10 {
        assert_eq!(store.get_account("acme").await.unwrap().id, "acme");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_is_locked_out() {
    let database = TestDatabase::sqlite();
    let path = database.dir().unwrap().join("keyward.db");
    let url = database.url();
    let first = Store::connect(url).await.unwrap();
    let clone = first.clone();

    match Store::connect(&format!("sqlite:{}", path.display())).await {
        Err(err @ StoreError::Locked { .. }) => {
            let StoreError::Locked { path: locked } = &err else {
                unreachable!()
            };
            assert_eq!(locked, &path);
            assert!(
                err.to_string()
                    .contains("another Keyward server is already using the database file"),
                "{err}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }

    // The lock lives as long as any clone of the first store.
    drop(first);
    assert!(matches!(
        Store::connect(url).await,
        Err(StoreError::Locked { .. })
    ));
    clone.close().await;
    let again = Store::connect(url).await.unwrap();
    again.ping().await.unwrap();
}

async fn ping_and_backend_report_on_every_backend(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    db.store
        .ping()
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", db.name));
    let expected = match db.name {
        "sqlite" => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    assert_eq!(db.store.backend(), expected, "{}", db.name);
}

async fn ping_reports_unavailable_while_the_database_is_gone(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    let store = database.migrated_store().await;
    store.ping().await.unwrap();
    match backend {
        // A PostgreSQL database vanishes, then comes back: the pool reconnects.
        TestBackend::Postgres => {
            database.drop_now().await;
            let down = store.ping().await;
            assert!(
                matches!(down, Err(StoreError::Unavailable(_))),
                "{backend}: {down:?}"
            );
            database.restore().await;
            store
                .ping()
                .await
                .unwrap_or_else(|e| panic!("{backend}: the pool reconnects: {e:?}"));
        }
        // SQLite cannot vanish under an open file: close the pool instead.
        TestBackend::Sqlite => {
            store.clone().close().await;
            let closed = store.ping().await;
            assert!(
                matches!(closed, Err(StoreError::Unavailable(_))),
                "{backend}: {closed:?}"
            );
        }
    }
}
