//! The store against real databases: every test runs on SQLite (a fresh file in a temporary
//! directory) and, when `KEYWARD_TEST_POSTGRES_URL` is set (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`), on a fresh PostgreSQL database created for
//! the test through that URL and dropped afterwards.

// clippy.toml allows these inside `#[test]` functions only; the harness helpers below fail
// the test the same way.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    collections::HashSet,
    error::Error as _,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use keyward_store::{
    AccountSeed, AccountUpdate, ApiKeyFilter, ApiKeyState, ApiKeyUpdate, ApiSetUpdate,
    AuditOutcome, Backend, CredentialScheme, CredentialState, IdempotencyClaim, LastUsed,
    NewAccount, NewApiKey, NewApiSet, NewAuditEvent, NewCredential, NewIdempotencyRecord, NewRole,
    NewSecretVersion, NewUser, Page, PageRequest, RoleUpdate, SecretMaterial, SecretRenewal, Store,
    StoreError, StoreOptions, UserState, UserUpdate,
    testing::{POSTGRES_URL_VAR, TestBackend, TestDatabase, random_suffix},
};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A store on a fresh database of one backend.
struct TestDb {
    store: Store,
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    name: &'static str,
    /// Declared after `store`, so dropped after it.
    database: TestDatabase,
}

impl TestDb {
    /// Another replica's store on the same database: a second pool on PostgreSQL, a clone
    /// on SQLite (whose file lock admits one server only; its transactions still contend).
    /// Drop it rather than closing it: closing a clone closes the pool of every clone.
    async fn replica(&self) -> Store {
        match self.database.backend() {
            TestBackend::Postgres => Store::connect(self.database.url()).await.unwrap(),
            TestBackend::Sqlite => self.store.clone(),
        }
    }
}

/// Every backend to test on, each with a fresh, migrated database.
async fn backends() -> Vec<TestDb> {
    let mut dbs = Vec::new();
    for backend in TestBackend::all() {
        let database = TestDatabase::create(backend).await;
        dbs.push(TestDb {
            store: database.migrated_store().await,
            name: backend.name(),
            database,
        });
    }
    dbs
}

/// Every backend to test on, each with a fresh database that has not been migrated.
async fn fresh_backends() -> Vec<TestDb> {
    let mut dbs = Vec::new();
    for backend in TestBackend::all() {
        let database = TestDatabase::create(backend).await;
        dbs.push(TestDb {
            store: Store::connect(database.url()).await.unwrap(),
            name: backend.name(),
            database,
        });
    }
    dbs
}

// ---------------------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------------------

fn new_account(id: &str, prefix: &str) -> NewAccount {
    NewAccount {
        id: id.to_owned(),
        display_name: format!("Account {id}"),
        client_id_prefix: prefix.to_owned(),
        verified: false,
        operator: false,
        entitled_api_set_ids: Vec::new(),
    }
}

fn new_api_set(id: &str) -> NewApiSet {
    NewApiSet {
        id: id.to_owned(),
        display_name: format!("API set {id}"),
        description: String::new(),
        methods: vec![format!("/{id}.Service/Call")],
        builtin: false,
    }
}

fn basic_secret() -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        key_id: "00000000000000000001".to_owned(),
    }
}

fn new_credential(account_id: &str, id: &str, email: &str, api_sets: &[&str]) -> NewCredential {
    NewCredential {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        client_id: format!("{account_id}-{id}"),
        display_name: format!("Credential {id}"),
        description: "billing export".to_owned(),
        application: "billing".to_owned(),
        contact_email: email.to_owned(),
        expire_time: None,
        creator: format!("accounts/{account_id}/users/admin"),
        api_set_ids: api_sets.iter().map(|s| (*s).to_owned()).collect(),
        first_secret: basic_secret(),
    }
}

/// One account `acme` (prefix `acme-`) and one API set `keyward.verify`.
async fn seed(store: &Store) {
    store
        .create_account(new_account("acme", "acme-"))
        .await
        .unwrap();
    store
        .create_api_set(new_api_set("keyward.verify"))
        .await
        .unwrap();
}

fn assert_already_exists(
    backend: &str,
    result: Result<impl std::fmt::Debug, StoreError>,
    expected_entity: &str,
    expected_rule: &str,
) {
    match result {
        Err(StoreError::AlreadyExists { entity, constraint }) => {
            assert_eq!(entity, expected_entity, "{backend}");
            assert_eq!(constraint, expected_rule, "{backend}");
        }
        other => panic!("{backend}: expected AlreadyExists({expected_rule}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------

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

#[tokio::test]
async fn ping_and_backend_report_on_every_backend() {
    for db in backends().await {
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
}

#[tokio::test]
async fn ping_reports_unavailable_while_the_database_is_gone() {
    for backend in TestBackend::all() {
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
}

// ---------------------------------------------------------------------------------------
// Migrations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_apply_to_a_fresh_database_and_roll_back_cleanly() {
    for db in fresh_backends().await {
        let (store, b) = (&db.store, db.name);
        assert!(store.applied_migrations().await.unwrap().is_empty(), "{b}");

        store.migrate().await.unwrap();
        assert_eq!(
            store.applied_migrations().await.unwrap(),
            [
                "m20261123_000001_initial",
                "m20261123_000002_access_indexes",
                "m20261123_000003_secret_key_ids",
                "m20261125_000004_change_log",
                "m20261205_000005_account_entitlements",
                "m20261205_000006_audit_delegate",
                "m20261206_000007_enrollment_tokens",
                "m20261206_000008_credential_compromise",
                "m20261206_000009_audit_chain"
            ],
            "{b}"
        );
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("{b}: re-run: {e:?}"));
        seed(store).await;

        store
            .migrate_down(None)
            .await
            .unwrap_or_else(|e| panic!("{b}: down: {e:?}"));
        assert!(store.applied_migrations().await.unwrap().is_empty(), "{b}");
        let gone = store.get_account("acme").await;
        assert!(
            matches!(gone, Err(StoreError::Internal(_))),
            "{b}: tables dropped: {gone:?}"
        );

        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("{b}: up again: {e:?}"));
        let fresh = store.get_account("acme").await;
        assert!(
            matches!(
                fresh,
                Err(StoreError::NotFound {
                    entity: "account",
                    ..
                })
            ),
            "{b}: {fresh:?}"
        );
        seed(store).await;
    }
}

// ---------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_account_reads_back_as_created() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let created = store
            .create_account(NewAccount {
                operator: true,
                entitled_api_set_ids: Vec::new(),
                verified: true,
                ..new_account("ops", "ops-")
            })
            .await
            .unwrap();
        assert_eq!(created.revision, 1, "{b}");
        assert!(created.operator && created.verified, "{b}");
        assert_eq!(created.create_time, created.update_time, "{b}");
        assert_eq!(store.get_account("ops").await.unwrap(), created, "{b}");

        let missing = store.get_account("nobody").await;
        assert!(
            matches!(&missing, Err(StoreError::NotFound { entity: "account", id }) if id == "nobody"),
            "{b}: {missing:?}"
        );
    }
}

#[tokio::test]
async fn account_ids_and_client_id_prefixes_are_unique() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        store
            .create_account(new_account("acme", "acme-"))
            .await
            .unwrap();
        assert_already_exists(
            b,
            store.create_account(new_account("globex", "acme-")).await,
            "account",
            "account client id prefix",
        );
        assert_already_exists(
            b,
            store.create_account(new_account("acme", "other-")).await,
            "account",
            "account id",
        );
    }
}

#[tokio::test]
async fn verifying_an_account_bumps_its_revision_and_honours_the_expected_one() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let created = store
            .create_account(new_account("acme", "acme-"))
            .await
            .unwrap();
        assert!(!created.verified, "{b}");

        let verified = store
            .set_account_verified("acme", true, Some(1))
            .await
            .unwrap();
        assert!(verified.verified, "{b}");
        assert_eq!(verified.revision, 2, "{b}");
        assert!(verified.update_time >= created.update_time, "{b}");
        assert_eq!(store.get_account("acme").await.unwrap(), verified, "{b}");

        let stale = store.set_account_verified("acme", false, Some(1)).await;
        assert!(matches!(stale, Err(StoreError::Conflict)), "{b}: {stale:?}");
        assert!(store.get_account("acme").await.unwrap().verified, "{b}");

        let unconditional = store
            .set_account_verified("acme", false, None)
            .await
            .unwrap();
        assert_eq!(unconditional.revision, 3, "{b}");
        assert!(!unconditional.verified, "{b}");

        let missing = store.set_account_verified("nobody", true, Some(1)).await;
        assert!(
            matches!(
                missing,
                Err(StoreError::NotFound {
                    entity: "account",
                    ..
                })
            ),
            "{b}: {missing:?}"
        );
    }
}

#[tokio::test]
async fn listing_accounts_returns_every_row_once_in_id_order() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let mut expected = Vec::new();
        // Created out of order, listed in order.
        for i in (0..23).rev() {
            let id = format!("acct-{i:03}");
            store
                .create_account(new_account(&id, &format!("p{i}-")))
                .await
                .unwrap();
            expected.push(id);
        }
        expected.sort();

        let mut seen = Vec::new();
        let mut request = PageRequest::first(5);
        let mut pages = 0;
        loop {
            let page = store.list_accounts(request.clone()).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 5, "{b}");
            seen.extend(page.items.into_iter().map(|a| a.id));
            match page.next_after {
                Some(after) => request.after = Some(after),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{b}: every account once, in order");
        assert_eq!(pages, 5, "{b}: 23 accounts in pages of 5");

        // A page size of 0 still makes progress; an exact fit has no empty last page.
        let one = store.list_accounts(PageRequest::first(0)).await.unwrap();
        assert_eq!(one.items.len(), 1, "{b}");
        let all = store.list_accounts(PageRequest::first(23)).await.unwrap();
        assert_eq!(all.items.len(), 23, "{b}");
        assert_eq!(all.next_after, None, "{b}");
    }
}

// ---------------------------------------------------------------------------------------
// API sets
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_api_set_reads_back_with_its_methods_and_its_id_is_unique() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let created = store
            .create_api_set(NewApiSet {
                id: "keyward.api-keys".to_owned(),
                display_name: "API keys".to_owned(),
                description: "manage your own API keys".to_owned(),
                methods: vec![
                    "/keyward.v1.ApiKeyService/RevokeApiKey".to_owned(),
                    "/keyward.v1.ApiKeyService/CreateApiKey".to_owned(),
                    "/keyward.v1.ApiKeyService/CreateApiKey".to_owned(),
                ],
                builtin: true,
            })
            .await
            .unwrap();
        assert_eq!(
            created.methods,
            [
                "/keyward.v1.ApiKeyService/CreateApiKey",
                "/keyward.v1.ApiKeyService/RevokeApiKey"
            ],
            "{b}: sorted, duplicates once"
        );
        assert_eq!(
            store.get_api_set("keyward.api-keys").await.unwrap(),
            created,
            "{b}"
        );
        assert_already_exists(
            b,
            store.create_api_set(new_api_set("keyward.api-keys")).await,
            "api set",
            "api set id",
        );
    }
}

#[tokio::test]
async fn listing_api_sets_returns_every_row_once_with_its_methods() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        for i in 0..7 {
            store
                .create_api_set(new_api_set(&format!("set.{i}")))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut request = PageRequest::first(3);
        loop {
            let page = store.list_api_sets(request.clone()).await.unwrap();
            for set in &page.items {
                assert_eq!(set.methods, [format!("/{}.Service/Call", set.id)], "{b}");
            }
            seen.extend(page.items.into_iter().map(|s| s.id));
            match page.next_after {
                Some(after) => request.after = Some(after),
                None => break,
            }
        }
        let expected: Vec<String> = (0..7).map(|i| format!("set.{i}")).collect();
        assert_eq!(seen, expected, "{b}");
    }
}

#[tokio::test]
async fn an_api_set_in_use_cannot_be_deleted() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store.create_api_set(new_api_set("unused")).await.unwrap();
        store
            .create_credential(new_credential(
                "acme",
                "c1",
                "ops@acme.test",
                &["keyward.verify"],
            ))
            .await
            .unwrap();

        let refused = store.delete_api_set("keyward.verify").await;
        assert!(
            matches!(&refused, Err(StoreError::ForeignKey { entity: "api set", detail }) if detail.contains("keyward.verify")),
            "{b}: {refused:?}"
        );
        assert_eq!(
            store
                .get_api_set("keyward.verify")
                .await
                .unwrap()
                .methods
                .len(),
            1,
            "{b}: methods kept too"
        );

        store.delete_api_set("unused").await.unwrap();
        let gone = store.get_api_set("unused").await;
        assert!(
            matches!(
                gone,
                Err(StoreError::NotFound {
                    entity: "api set",
                    ..
                })
            ),
            "{b}: {gone:?}"
        );
        let again = store.delete_api_set("unused").await;
        assert!(
            matches!(again, Err(StoreError::NotFound { .. })),
            "{b}: {again:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Users and roles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_email_is_unique_per_account_case_insensitively() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        let user = |account: &str, id: &str, email: &str| NewUser {
            account_id: account.to_owned(),
            id: id.to_owned(),
            display_name: format!("User {id}"),
            email: email.to_owned(),
            role_ids: Vec::new(),
        };

        let alice = store
            .create_user(user("acme", "alice", " Alice@Acme.test "))
            .await
            .unwrap();
        assert_eq!(alice.email, "Alice@Acme.test", "{b}: trimmed, case kept");
        assert_eq!(alice.state, UserState::Active, "{b}");
        assert_eq!(store.get_user("acme", "alice").await.unwrap(), alice, "{b}");

        assert_already_exists(
            b,
            store
                .create_user(user("acme", "alice2", "alice@ACME.test"))
                .await,
            "user",
            "user email",
        );
        assert_already_exists(
            b,
            store
                .create_user(user("acme", "alice", "other@acme.test"))
                .await,
            "user",
            "user id",
        );
        store
            .create_user(user("globex", "alice", "alice@acme.test"))
            .await
            .unwrap_or_else(|e| panic!("{b}: same email and id in another account: {e:?}"));

        let unknown = store
            .create_user(user("nobody", "bob", "bob@acme.test"))
            .await;
        assert!(
            matches!(
                unknown,
                Err(StoreError::ForeignKey {
                    entity: "account",
                    ..
                })
            ),
            "{b}: {unknown:?}"
        );
        let other_account = store.get_user("globex", "bob").await;
        assert!(
            matches!(
                other_account,
                Err(StoreError::NotFound { entity: "user", .. })
            ),
            "{b}: {other_account:?}"
        );
    }
}

#[tokio::test]
async fn a_role_is_created_with_its_authorities_all_or_nothing() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        let admin = NewRole {
            account_id: "acme".to_owned(),
            id: "admin".to_owned(),
            display_name: "Administrator".to_owned(),
            description: "every authority".to_owned(),
            authorities: vec![
                "MANAGE_USERS".to_owned(),
                "MANAGE_API_CLIENTS".to_owned(),
                "MANAGE_USERS".to_owned(),
            ],
            builtin: true,
        };
        let created = store.create_role(admin.clone()).await.unwrap();
        assert_eq!(
            created.authorities,
            ["MANAGE_API_CLIENTS", "MANAGE_USERS"],
            "{b}"
        );
        assert_eq!(
            store.get_role("acme", "admin").await.unwrap(),
            created,
            "{b}"
        );

        assert_already_exists(b, store.create_role(admin.clone()).await, "role", "role id");
        let unknown = store
            .create_role(NewRole {
                account_id: "nobody".to_owned(),
                ..admin
            })
            .await;
        assert!(
            matches!(
                unknown,
                Err(StoreError::ForeignKey {
                    entity: "account",
                    ..
                })
            ),
            "{b}: {unknown:?}"
        );
        let missing = store.get_role("nobody", "admin").await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { entity: "role", .. })),
            "{b}: {missing:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_credential_reads_back_with_its_api_sets_and_first_secret() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store
            .create_api_set(new_api_set("keyward.credentials"))
            .await
            .unwrap();

        let created = store
            .create_credential(new_credential(
                "acme",
                "c1",
                "Ops@Acme.test",
                &["keyward.verify", "keyward.credentials", "keyward.verify"],
            ))
            .await
            .unwrap();
        assert_eq!(created.scheme, CredentialScheme::Basic, "{b}");
        assert_eq!(created.state, CredentialState::Active, "{b}");
        assert_eq!(created.revision, 1, "{b}");
        assert_eq!(
            created.api_set_ids,
            ["keyward.credentials", "keyward.verify"],
            "{b}"
        );
        assert_eq!(
            store.get_credential("acme", "c1").await.unwrap(),
            created,
            "{b}"
        );
        assert_eq!(
            store.get_credential_by_client_id("acme-c1").await.unwrap(),
            created,
            "{b}"
        );
        let secrets = store.list_credential_secrets("c1").await.unwrap();
        assert_eq!(secrets.len(), 1, "{b}");
        assert_eq!(secrets[0].version, 1, "{b}");
        assert_eq!(secrets[0].material, basic_secret().material, "{b}");
        assert_eq!(secrets[0].expire_time, None, "{b}");

        // HMAC: the sealed secret round-trips as bytes.
        let expire_time = created.create_time + chrono::Duration::days(90);
        let sealed = SecretMaterial::Sealed {
            ciphertext: vec![0, 1, 2, 254, 255],
            master_key_id: "mk-2026".to_owned(),
        };
        let hmac = store
            .create_credential(NewCredential {
                expire_time: Some(expire_time),
                first_secret: NewSecretVersion {
                    material: sealed.clone(),
                    key_id: "00000000000000000002".to_owned(),
                },
                ..new_credential("acme", "c2", "hmac@acme.test", &["keyward.verify"])
            })
            .await
            .unwrap();
        assert_eq!(hmac.scheme, CredentialScheme::Hmac, "{b}");
        assert_eq!(hmac.expire_time, Some(expire_time), "{b}");
        assert_eq!(
            store.get_credential("acme", "c2").await.unwrap(),
            hmac,
            "{b}"
        );
        let secrets = store.list_credential_secrets("c2").await.unwrap();
        assert_eq!(secrets[0].material, sealed, "{b}");
        assert!(
            !format!("{:?}", secrets[0]).contains("254"),
            "{b}: Debug redacts"
        );

        // Another account cannot read it by id.
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        let hidden = store.get_credential("globex", "c1").await;
        assert!(
            matches!(
                hidden,
                Err(StoreError::NotFound {
                    entity: "credential",
                    ..
                })
            ),
            "{b}: {hidden:?}"
        );
    }
}

#[tokio::test]
async fn one_credential_per_contact_email_per_account_case_insensitively() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        store
            .create_credential(new_credential(
                "acme",
                "c1",
                "Ops@x.com",
                &["keyward.verify"],
            ))
            .await
            .unwrap();

        assert_already_exists(
            b,
            store
                .create_credential(new_credential(
                    "acme",
                    "c2",
                    "ops@X.COM",
                    &["keyward.verify"],
                ))
                .await,
            "credential",
            "credential contact email",
        );
        store
            .create_credential(new_credential(
                "globex",
                "c3",
                "ops@X.COM",
                &["keyward.verify"],
            ))
            .await
            .unwrap_or_else(|e| panic!("{b}: same email in another account: {e:?}"));
        let refused = store.get_credential("acme", "c2").await;
        assert!(
            matches!(refused, Err(StoreError::NotFound { .. })),
            "{b}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn client_ids_and_credential_ids_are_globally_unique() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        store
            .create_credential(new_credential("acme", "c1", "a@acme.test", &[]))
            .await
            .unwrap();

        assert_already_exists(
            b,
            store
                .create_credential(NewCredential {
                    client_id: "acme-c1".to_owned(),
                    ..new_credential("globex", "c2", "b@globex.test", &[])
                })
                .await,
            "credential",
            "credential client id",
        );
        assert_already_exists(
            b,
            store
                .create_credential(new_credential("globex", "c1", "c@globex.test", &[]))
                .await,
            "credential",
            "credential id",
        );
    }
}

#[tokio::test]
async fn a_credential_naming_an_unknown_api_set_leaves_nothing_behind() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        let new = new_credential("acme", "c1", "ops@acme.test", &["keyward.verify", "nope"]);

        let refused = store.create_credential(new.clone()).await;
        assert!(
            matches!(&refused, Err(StoreError::ForeignKey { entity: "api set", detail }) if detail.contains("`nope`")),
            "{b}: {refused:?}"
        );
        let by_id = store.get_credential("acme", "c1").await;
        assert!(
            matches!(by_id, Err(StoreError::NotFound { .. })),
            "{b}: {by_id:?}"
        );
        let by_client_id = store.get_credential_by_client_id("acme-c1").await;
        assert!(
            matches!(by_client_id, Err(StoreError::NotFound { .. })),
            "{b}: {by_client_id:?}"
        );
        assert!(
            store
                .list_credential_secrets("c1")
                .await
                .unwrap()
                .is_empty(),
            "{b}: no secret left behind"
        );
        // Nothing holds the id, client ID or email: the same credential now goes through.
        store
            .create_credential(NewCredential {
                api_set_ids: vec!["keyward.verify".to_owned()],
                ..new
            })
            .await
            .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));

        let unknown_account = store
            .create_credential(new_credential("nobody", "c9", "x@acme.test", &[]))
            .await;
        assert!(
            matches!(
                &unknown_account,
                Err(StoreError::ForeignKey {
                    entity: "account",
                    ..
                })
            ),
            "{b}: {unknown_account:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn audit_events_list_newest_first_per_account_every_event_once() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let event = |account: &str, n: usize| NewAuditEvent {
            count: 1,
            account_id: account.to_owned(),
            actor: format!("accounts/{account}/users/alice"),
            delegate: None,
            action: "CreateCredential".to_owned(),
            resource: format!("accounts/{account}/credentials/c{n}"),
            outcome: if n.is_multiple_of(3) {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Success
            },
            detail: String::new(),
        };
        let mut appended = Vec::new();
        for n in 0..12 {
            appended.push(store.append_audit_event(event("acme", n)).await.unwrap());
            store.append_audit_event(event("globex", n)).await.unwrap();
        }
        assert!(
            appended.windows(2).all(|w| w[0].id < w[1].id),
            "{b}: ids grow"
        );
        assert!(appended.iter().all(|e| e.count == 1), "{b}");

        let mut seen = Vec::new();
        let mut request = PageRequest::first(5);
        loop {
            let page = store
                .list_audit_events("acme", request.clone())
                .await
                .unwrap();
            seen.extend(page.items);
            match page.next_after {
                Some(before) => request.after = Some(before),
                None => break,
            }
        }
        appended.reverse();
        assert_eq!(seen, appended, "{b}: every event once, newest first");
        let ids: HashSet<i64> = seen.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 12, "{b}");

        let empty = store
            .list_audit_events("nobody", PageRequest::first(5))
            .await
            .unwrap();
        assert!(empty.items.is_empty() && empty.next_after.is_none(), "{b}");
    }
}

// ---------------------------------------------------------------------------------------
// Helpers for accounts with contents
// ---------------------------------------------------------------------------------------

fn new_role(account_id: &str, id: &str, authorities: &[&str], builtin: bool) -> NewRole {
    NewRole {
        account_id: account_id.to_owned(),
        id: id.to_owned(),
        display_name: format!("Role {id}"),
        description: format!("what {id} may do"),
        authorities: authorities.iter().map(|a| (*a).to_owned()).collect(),
        builtin,
    }
}

fn new_user(account_id: &str, id: &str, roles: &[&str]) -> NewUser {
    NewUser {
        account_id: account_id.to_owned(),
        id: id.to_owned(),
        display_name: format!("User {id}"),
        email: format!("{id}@{account_id}.test"),
        role_ids: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

const SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$c2VjcmV0LWtleS1oYXNo";

fn new_api_key(account_id: &str, user_id: &str, id: &str, api_sets: &[&str]) -> NewApiKey {
    NewApiKey {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        user_id: user_id.to_owned(),
        display_name: format!("Key {id}"),
        description: "ci pipeline".to_owned(),
        secret_hash: SECRET_HASH.to_owned(),
        expire_time: None,
        creator: format!("accounts/{account_id}/users/{user_id}"),
        api_set_ids: api_sets.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// An operator account `id` with the built-in administrator role, its first administrator
/// `admin` and their key `<id>-key`, scoped to `keyward.verify`.
fn operator_seed(id: &str) -> AccountSeed {
    AccountSeed {
        account: NewAccount {
            operator: true,
            entitled_api_set_ids: Vec::new(),
            verified: true,
            ..new_account(id, &format!("{id}-"))
        },
        roles: vec![new_role(
            id,
            "administrator",
            &["MANAGE_ACCOUNTS", "MANAGE_USERS"],
            true,
        )],
        users: vec![new_user(id, "admin", &["administrator"])],
        api_keys: vec![new_api_key(
            id,
            "admin",
            &format!("{id}-key"),
            &["keyward.verify"],
        )],
    }
}

/// Reads every page of a list, `limit` items at a time; also returns the number of pages.
async fn all_pages<T, F, Fut>(limit: u64, mut list: F) -> (Vec<T>, usize)
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut pages = 0;
    let mut request = PageRequest::first(limit);
    loop {
        let page = list(request.clone()).await.unwrap();
        pages += 1;
        assert!(page.items.len() as u64 <= limit);
        items.extend(page.items);
        match page.next_after {
            Some(after) => request.after = Some(after),
            None => return (items, pages),
        }
    }
}

fn assert_not_found(
    backend: &str,
    result: Result<impl std::fmt::Debug, StoreError>,
    expected_entity: &str,
    expected_id: &str,
) {
    match result {
        Err(StoreError::NotFound { entity, id }) => {
            assert_eq!(entity, expected_entity, "{backend}");
            assert_eq!(id, expected_id, "{backend}");
        }
        other => panic!("{backend}: expected NotFound({expected_entity}), got {other:?}"),
    }
}

fn assert_conflict(backend: &str, result: Result<impl std::fmt::Debug, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict)),
        "{backend}: expected Conflict, got {result:?}"
    );
}

fn assert_foreign_key(
    backend: &str,
    result: Result<impl std::fmt::Debug, StoreError>,
    expected_entity: &str,
    expected_detail: &str,
) {
    match result {
        Err(StoreError::ForeignKey { entity, detail }) => {
            assert_eq!(entity, expected_entity, "{backend}: {detail}");
            assert!(
                detail.contains(expected_detail),
                "{backend}: `{detail}` should contain `{expected_detail}`"
            );
        }
        other => panic!("{backend}: expected ForeignKey({expected_entity}), got {other:?}"),
    }
}

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

// ---------------------------------------------------------------------------------------
// Accounts with their initial contents
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_account_seed_is_created_in_one_transaction_and_reads_back() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        assert_eq!(store.operator_account().await.unwrap(), None, "{b}");

        let created = store
            .create_account_with(operator_seed("ops"))
            .await
            .unwrap();
        assert!(created.account.operator && created.account.verified, "{b}");
        assert_eq!(created.account.revision, 1, "{b}");
        assert_eq!(
            store.get_account("ops").await.unwrap(),
            created.account,
            "{b}"
        );
        assert_eq!(
            store.operator_account().await.unwrap().as_ref(),
            Some(&created.account),
            "{b}"
        );

        assert_eq!(created.roles.len(), 1, "{b}");
        assert!(created.roles[0].builtin, "{b}");
        assert_eq!(
            store.get_role("ops", "administrator").await.unwrap(),
            created.roles[0],
            "{b}"
        );
        assert_eq!(created.users[0].role_ids, ["administrator"], "{b}");
        assert_eq!(
            store.get_user("ops", "admin").await.unwrap(),
            created.users[0],
            "{b}"
        );
        assert_eq!(created.api_keys[0].api_set_ids, ["keyward.verify"], "{b}");
        assert_eq!(created.api_keys[0].state, ApiKeyState::Active, "{b}");
        assert_eq!(
            store.get_api_key("ops-key").await.unwrap(),
            created.api_keys[0],
            "{b}"
        );

        // A second bootstrap finds the operator account taken, whatever its id (with the
        // same id, several rules are broken at once; the backends report different ones).
        let again = store.create_account_with(operator_seed("ops")).await;
        assert!(
            matches!(
                &again,
                Err(StoreError::AlreadyExists { entity: "account", constraint })
                    if constraint == "operator account" || constraint == "account id"
            ),
            "{b}: {again:?}"
        );
        assert_already_exists(
            b,
            store.create_account_with(operator_seed("ops2")).await,
            "account",
            "operator account",
        );
        assert_not_found(b, store.get_user("ops2", "admin").await, "user", "admin");
        assert_not_found(
            b,
            store.get_api_key("ops2-key").await,
            "api key",
            "ops2-key",
        );

        // `create_account` keeps working, for accounts without contents.
        let plain = store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        assert_eq!(store.get_account("globex").await.unwrap(), plain, "{b}");
        assert!(
            store
                .list_roles("globex", PageRequest::first(10))
                .await
                .unwrap()
                .items
                .is_empty(),
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_failing_seed_leaves_nothing_behind() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;

        // The last write of the seed fails: the key names an unknown API set.
        let mut broken = operator_seed("ops");
        broken.api_keys[0].api_set_ids.push("nope".to_owned());
        assert_foreign_key(
            b,
            store.create_account_with(broken).await,
            "api set",
            "`nope`",
        );
        // A user holds a role the seed does not create.
        let mut broken = operator_seed("ops");
        broken.users[0].role_ids = vec!["auditor".to_owned()];
        assert_foreign_key(
            b,
            store.create_account_with(broken).await,
            "role",
            "`auditor`",
        );
        // Two users with the same email, case aside.
        let mut broken = operator_seed("ops");
        broken.users.push(NewUser {
            email: "ADMIN@ops.test".to_owned(),
            ..new_user("ops", "admin2", &[])
        });
        assert_already_exists(
            b,
            store.create_account_with(broken).await,
            "user",
            "user email",
        );

        assert_not_found(b, store.get_account("ops").await, "account", "ops");
        assert_eq!(store.operator_account().await.unwrap(), None, "{b}");
        assert_not_found(
            b,
            store.get_role("ops", "administrator").await,
            "role",
            "administrator",
        );
        assert_not_found(b, store.get_user("ops", "admin").await, "user", "admin");
        assert_not_found(b, store.get_api_key("ops-key").await, "api key", "ops-key");

        // Nothing holds an id, prefix or email: the same seed now goes through.
        store
            .create_account_with(operator_seed("ops"))
            .await
            .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));
    }
}

#[tokio::test]
async fn a_seed_item_of_another_account_is_refused_before_anything_is_written() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        let mut stray = operator_seed("ops");
        stray.api_keys[0].account_id = "acme".to_owned();
        assert_foreign_key(
            b,
            store.create_account_with(stray).await,
            "account",
            "api key `ops-key` names account `acme`",
        );
        assert_not_found(b, store.get_account("ops").await, "account", "ops");
    }
}

#[tokio::test]
async fn two_replicas_bootstrapping_at_once_leave_one_operator_account() {
    // Different ids: the operator index decides; the same id: the primary key does.
    for same_id in [false, true] {
        for db in backends().await {
            let b = db.name;
            seed(&db.store).await;
            let (one, two) = (db.replica().await, db.replica().await);
            let mut other = operator_seed(if same_id { "ops" } else { "ops2" });
            other.account.client_id_prefix = "other-".to_owned();
            other.api_keys[0].id = "other-key".to_owned();

            let (first, second) = tokio::join!(
                one.create_account_with(operator_seed("ops")),
                two.create_account_with(other.clone()),
            );
            let (winner, loser, lost) = match (first, second) {
                (Ok(won), Err(lost)) => (won, other, lost),
                (Err(lost), Ok(won)) => (won, operator_seed("ops"), lost),
                other => panic!("{b}: exactly one bootstrap wins: {other:?}"),
            };
            assert!(
                matches!(
                    &lost,
                    StoreError::AlreadyExists { entity: "account", constraint }
                        if constraint == "operator account" || constraint == "account id"
                ),
                "{b}: {lost:?}"
            );
            assert_eq!(
                db.store.operator_account().await.unwrap().as_ref(),
                Some(&winner.account),
                "{b}"
            );
            let loser_key = &loser.api_keys[0].id;
            assert_not_found(
                b,
                db.store.get_api_key(loser_key).await,
                "api key",
                loser_key,
            );
            if !same_id {
                let loser_id = &loser.account.id;
                assert_not_found(b, db.store.get_account(loser_id).await, "account", loser_id);
                assert_not_found(
                    b,
                    db.store.get_user(loser_id, "admin").await,
                    "user",
                    "admin",
                );
            }
        }
    }
}

#[tokio::test]
async fn updating_an_account_honours_the_expected_revision() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let created = store
            .create_account(new_account("acme", "acme-"))
            .await
            .unwrap();
        let rename = |name: &str| AccountUpdate {
            display_name: Some(name.to_owned()),
            ..AccountUpdate::default()
        };

        let renamed = store
            .update_account("acme", rename("Acme Corp"), Some(1))
            .await
            .unwrap();
        assert_eq!(renamed.display_name, "Acme Corp", "{b}");
        assert_eq!(renamed.revision, 2, "{b}");
        assert_eq!(renamed.client_id_prefix, created.client_id_prefix, "{b}");
        assert_eq!(renamed.create_time, created.create_time, "{b}");
        assert_eq!(store.get_account("acme").await.unwrap(), renamed, "{b}");

        assert_conflict(
            b,
            store.update_account("acme", rename("Stale"), Some(1)).await,
        );
        assert_eq!(
            store.get_account("acme").await.unwrap().display_name,
            "Acme Corp",
            "{b}"
        );
        // Nothing to change still makes a new revision (the caller asked for an update).
        let untouched = store
            .update_account("acme", AccountUpdate::default(), None)
            .await
            .unwrap();
        assert_eq!(untouched.display_name, "Acme Corp", "{b}");
        assert_eq!(untouched.revision, 3, "{b}");
        assert_not_found(
            b,
            store.update_account("nobody", rename("x"), Some(1)).await,
            "account",
            "nobody",
        );
        assert_not_found(
            b,
            store.update_account("nobody", rename("x"), None).await,
            "account",
            "nobody",
        );
    }
}

// ---------------------------------------------------------------------------------------
// Built-in API sets and API-set edits
// ---------------------------------------------------------------------------------------

fn builtin_set(id: &str, description: &str, methods: &[&str]) -> NewApiSet {
    NewApiSet {
        id: id.to_owned(),
        display_name: format!("Built-in {id}"),
        description: description.to_owned(),
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        builtin: true,
    }
}

#[tokio::test]
async fn syncing_builtin_api_sets_inserts_updates_and_leaves_the_rest_alone() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        // Someone's own set that happens to use a built-in id, and an unrelated one.
        let custom = store
            .create_api_set(new_api_set("keyward.audit"))
            .await
            .unwrap();
        let unrelated = store.create_api_set(new_api_set("billing")).await.unwrap();

        let catalog = vec![
            builtin_set(
                "keyward.verify",
                "verify",
                &["/V/Verify", "/V/Check", "/V/Check"],
            ),
            builtin_set("keyward.accounts", "accounts", &["/A/Get"]),
            builtin_set("keyward.audit", "audit", &["/Audit/List"]),
        ];
        store.sync_builtin_api_sets(catalog.clone()).await.unwrap();
        let verify = store.get_api_set("keyward.verify").await.unwrap();
        assert!(verify.builtin, "{b}");
        assert_eq!(verify.revision, 1, "{b}");
        assert_eq!(verify.methods, ["/V/Check", "/V/Verify"], "{b}");
        let accounts = store.get_api_set("keyward.accounts").await.unwrap();
        assert_eq!(accounts.methods, ["/A/Get"], "{b}");
        assert_eq!(
            store.get_api_set("keyward.audit").await.unwrap(),
            custom,
            "{b}"
        );
        assert_eq!(
            store.get_api_set("billing").await.unwrap(),
            unrelated,
            "{b}"
        );

        // Idempotent: nothing changes, not even revisions.
        store.sync_builtin_api_sets(catalog.clone()).await.unwrap();
        assert_eq!(
            store.get_api_set("keyward.verify").await.unwrap(),
            verify,
            "{b}"
        );
        assert_eq!(
            store.get_api_set("keyward.accounts").await.unwrap(),
            accounts,
            "{b}"
        );

        // A new version of the catalog: one set changes, one is dropped from it.
        store
            .sync_builtin_api_sets(vec![builtin_set(
                "keyward.verify",
                "verify, and more",
                &["/V/Verify", "/V/Explain"],
            )])
            .await
            .unwrap();
        let changed = store.get_api_set("keyward.verify").await.unwrap();
        assert_eq!(changed.revision, 2, "{b}");
        assert_eq!(changed.description, "verify, and more", "{b}");
        assert_eq!(changed.methods, ["/V/Explain", "/V/Verify"], "{b}");
        assert_eq!(changed.create_time, verify.create_time, "{b}");
        assert_eq!(
            store.get_api_set("keyward.accounts").await.unwrap(),
            accounts,
            "{b}: a built-in set the catalog no longer names is kept"
        );
        assert_eq!(
            store.api_sets_containing_method("/V/Check").await.unwrap(),
            Vec::<String>::new(),
            "{b}: the old method is gone"
        );
    }
}

#[tokio::test]
async fn replicas_syncing_builtin_api_sets_at_once_all_succeed() {
    for db in backends().await {
        let b = db.name;
        let catalog: Vec<NewApiSet> = (0..8)
            .map(|i| builtin_set(&format!("keyward.s{i}"), "d", &[&format!("/S{i}/Call")]))
            .collect();
        let mut replicas = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let (store, catalog) = (db.replica().await, catalog.clone());
            replicas.spawn(async move { store.sync_builtin_api_sets(catalog).await });
        }
        for result in replicas.join_all().await {
            result.unwrap_or_else(|e| panic!("{b}: a replica failed to start: {e:?}"));
        }
        let (sets, _) = all_pages(100, |r| db.store.list_api_sets(r)).await;
        assert_eq!(sets.len(), 8, "{b}");
        assert!(
            sets.iter().all(|s| s.revision == 1 && s.methods.len() == 1),
            "{b}: {sets:?}"
        );
    }
}

#[tokio::test]
async fn updating_an_api_set_replaces_its_methods_atomically() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let created = store.create_api_set(new_api_set("billing")).await.unwrap();
        let updated = store
            .update_api_set(
                "billing",
                ApiSetUpdate {
                    description: Some("invoices".to_owned()),
                    methods: Some(vec![
                        "/B/Pay".to_owned(),
                        "/B/Bill".to_owned(),
                        "/B/Pay".to_owned(),
                    ]),
                    ..ApiSetUpdate::default()
                },
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!(updated.revision, 2, "{b}");
        assert_eq!(updated.display_name, created.display_name, "{b}");
        assert_eq!(updated.description, "invoices", "{b}");
        assert_eq!(updated.methods, ["/B/Bill", "/B/Pay"], "{b}");
        assert_eq!(store.get_api_set("billing").await.unwrap(), updated, "{b}");

        let stale = store
            .update_api_set(
                "billing",
                ApiSetUpdate {
                    methods: Some(Vec::new()),
                    ..ApiSetUpdate::default()
                },
                Some(1),
            )
            .await;
        assert_conflict(b, stale);
        assert_eq!(
            store.get_api_set("billing").await.unwrap().methods,
            ["/B/Bill", "/B/Pay"],
            "{b}: methods kept on conflict"
        );
        assert_not_found(
            b,
            store
                .update_api_set("nope", ApiSetUpdate::default(), None)
                .await,
            "api set",
            "nope",
        );
    }
}

#[tokio::test]
async fn api_sets_containing_a_method_are_listed_sorted() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        for (id, methods) in [
            ("zeta", vec!["/K/Verify", "/K/Other"]),
            ("alpha", vec!["/K/Verify"]),
            ("mid", vec!["/K/Other"]),
        ] {
            store
                .create_api_set(NewApiSet {
                    methods: methods.into_iter().map(str::to_owned).collect(),
                    ..new_api_set(id)
                })
                .await
                .unwrap();
        }
        assert_eq!(
            store.api_sets_containing_method("/K/Verify").await.unwrap(),
            ["alpha", "zeta"],
            "{b}"
        );
        assert_eq!(
            store.api_sets_containing_method("/K/Other").await.unwrap(),
            ["mid", "zeta"],
            "{b}"
        );
        assert!(
            store
                .api_sets_containing_method("/K/None")
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Users with roles
// ---------------------------------------------------------------------------------------

/// `seed`, plus roles `admin` (built-in) and `viewer` in `acme`.
async fn seed_roles(store: &Store) {
    seed(store).await;
    store
        .create_role(new_role(
            "acme",
            "admin",
            &["MANAGE_USERS", "MANAGE_KEYS"],
            true,
        ))
        .await
        .unwrap();
    store
        .create_role(new_role("acme", "viewer", &["VIEW"], false))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_user_is_created_with_their_roles_all_or_nothing() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        store
            .create_role(new_role("globex", "auditor", &["AUDIT"], false))
            .await
            .unwrap();

        let alice = store
            .create_user(new_user("acme", "alice", &["viewer", "admin", "viewer"]))
            .await
            .unwrap();
        assert_eq!(
            alice.role_ids,
            ["admin", "viewer"],
            "{b}: sorted, once each"
        );
        assert_eq!(store.get_user("acme", "alice").await.unwrap(), alice, "{b}");

        // A role of another account is unknown here; nothing of the user is left.
        assert_foreign_key(
            b,
            store
                .create_user(new_user("acme", "bob", &["viewer", "auditor"]))
                .await,
            "role",
            "unknown role `auditor`",
        );
        assert_not_found(b, store.get_user("acme", "bob").await, "user", "bob");
        store
            .create_user(new_user("acme", "bob", &["viewer"]))
            .await
            .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));
    }
}

#[tokio::test]
async fn listing_users_returns_every_user_of_the_account_once_with_roles() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        store
            .create_user(new_user("globex", "u-000", &[]))
            .await
            .unwrap();
        let mut expected = Vec::new();
        for i in (0..11).rev() {
            let roles: &[&str] = match i % 3 {
                0 => &[],
                1 => &["viewer"],
                _ => &["viewer", "admin"],
            };
            expected.push(
                store
                    .create_user(new_user("acme", &format!("u-{i:03}"), roles))
                    .await
                    .unwrap(),
            );
        }
        expected.sort_by(|a, b| a.id.cmp(&b.id));

        let (seen, pages) = all_pages(4, |r| store.list_users("acme", r)).await;
        assert_eq!(
            seen, expected,
            "{b}: every user once, in id order, with roles"
        );
        assert_eq!(pages, 3, "{b}");
        let none = store
            .list_users("nobody", PageRequest::first(4))
            .await
            .unwrap();
        assert!(none.items.is_empty() && none.next_after.is_none(), "{b}");
    }
}

#[tokio::test]
async fn updating_a_user_replaces_roles_atomically_and_keeps_emails_unique() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        let alice = store
            .create_user(new_user("acme", "alice", &["viewer"]))
            .await
            .unwrap();
        store
            .create_user(new_user("acme", "bob", &[]))
            .await
            .unwrap();

        let updated = store
            .update_user(
                "acme",
                "alice",
                UserUpdate {
                    display_name: Some("Alice A.".to_owned()),
                    email: Some(" Alice.A@Acme.test ".to_owned()),
                    role_ids: Some(vec!["admin".to_owned()]),
                },
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!(updated.display_name, "Alice A.", "{b}");
        assert_eq!(
            updated.email, "Alice.A@Acme.test",
            "{b}: trimmed, case kept"
        );
        assert_eq!(updated.role_ids, ["admin"], "{b}");
        assert_eq!(updated.revision, 2, "{b}");
        assert_eq!(updated.create_time, alice.create_time, "{b}");
        assert_eq!(
            store.get_user("acme", "alice").await.unwrap(),
            updated,
            "{b}"
        );

        // Only the roles: the rest stays.
        let roles_only = store
            .update_user(
                "acme",
                "alice",
                UserUpdate {
                    role_ids: Some(vec!["viewer".to_owned(), "admin".to_owned()]),
                    ..UserUpdate::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(roles_only.role_ids, ["admin", "viewer"], "{b}");
        assert_eq!(roles_only.email, "Alice.A@Acme.test", "{b}");

        // An unknown role: nothing changes, not the name either.
        assert_foreign_key(
            b,
            store
                .update_user(
                    "acme",
                    "alice",
                    UserUpdate {
                        display_name: Some("Mallory".to_owned()),
                        role_ids: Some(vec!["admin".to_owned(), "root".to_owned()]),
                        ..UserUpdate::default()
                    },
                    Some(3),
                )
                .await,
            "role",
            "`root`",
        );
        assert_eq!(
            store.get_user("acme", "alice").await.unwrap(),
            roles_only,
            "{b}"
        );

        // Bob's email, in other case, is taken.
        assert_already_exists(
            b,
            store
                .update_user(
                    "acme",
                    "alice",
                    UserUpdate {
                        email: Some("BOB@acme.TEST".to_owned()),
                        ..UserUpdate::default()
                    },
                    Some(3),
                )
                .await,
            "user",
            "user email",
        );
        // Her own address in another case is hers.
        store
            .update_user(
                "acme",
                "alice",
                UserUpdate {
                    email: Some("alice.a@acme.test".to_owned()),
                    ..UserUpdate::default()
                },
                Some(3),
            )
            .await
            .unwrap_or_else(|e| panic!("{b}: {e:?}"));

        assert_conflict(
            b,
            store
                .update_user("acme", "alice", UserUpdate::default(), Some(3))
                .await,
        );
        assert_not_found(
            b,
            store
                .update_user("acme", "nobody", UserUpdate::default(), None)
                .await,
            "user",
            "nobody",
        );
        // Users are per account.
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        assert_not_found(
            b,
            store
                .update_user("globex", "alice", UserUpdate::default(), None)
                .await,
            "user",
            "alice",
        );
    }
}

#[tokio::test]
async fn a_user_is_switched_off_and_on_with_revision_checks() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        store
            .create_user(new_user("acme", "alice", &["viewer"]))
            .await
            .unwrap();

        let disabled = store
            .set_user_state("acme", "alice", UserState::Disabled, Some(1))
            .await
            .unwrap();
        assert_eq!(disabled.state, UserState::Disabled, "{b}");
        assert_eq!(disabled.revision, 2, "{b}");
        assert_eq!(disabled.role_ids, ["viewer"], "{b}");
        assert_eq!(
            store.get_user("acme", "alice").await.unwrap(),
            disabled,
            "{b}"
        );

        assert_conflict(
            b,
            store
                .set_user_state("acme", "alice", UserState::Active, Some(1))
                .await,
        );
        let active = store
            .set_user_state("acme", "alice", UserState::Active, None)
            .await
            .unwrap();
        assert_eq!(active.state, UserState::Active, "{b}");
        assert_eq!(active.revision, 3, "{b}");
        assert_not_found(
            b,
            store
                .set_user_state("acme", "bob", UserState::Active, None)
                .await,
            "user",
            "bob",
        );
    }
}

#[tokio::test]
async fn deleting_a_user_takes_their_api_keys_along() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        store
            .create_user(new_user("acme", "alice", &["admin"]))
            .await
            .unwrap();
        store
            .create_user(new_user("acme", "bob", &["admin"]))
            .await
            .unwrap();
        for (user, key) in [("alice", "k1"), ("alice", "k2"), ("bob", "k3")] {
            store
                .create_api_key(new_api_key("acme", user, key, &["keyward.verify"]))
                .await
                .unwrap();
        }

        assert_conflict(b, store.delete_user("acme", "alice", Some(7)).await);
        assert!(
            store.get_api_key("k1").await.is_ok(),
            "{b}: kept on conflict"
        );
        store.delete_user("acme", "alice", Some(1)).await.unwrap();
        assert_not_found(b, store.get_user("acme", "alice").await, "user", "alice");
        assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
        assert_not_found(b, store.get_api_key("k2").await, "api key", "k2");
        assert!(
            store.get_api_key("k3").await.is_ok(),
            "{b}: bob's key stays"
        );
        assert_eq!(
            store.get_user("acme", "bob").await.unwrap().role_ids,
            ["admin"],
            "{b}"
        );
        // Her role assignment went too: the role is held by bob alone.
        assert_foreign_key(
            b,
            store.delete_role("acme", "admin", None).await,
            "role",
            "still held by 1 user(s)",
        );

        assert_not_found(
            b,
            store.delete_user("acme", "alice", None).await,
            "user",
            "alice",
        );
        assert_not_found(
            b,
            store.delete_user("acme", "alice", Some(1)).await,
            "user",
            "alice",
        );
        // The API set the keys used is free again once no key uses it.
        store.delete_user("acme", "bob", None).await.unwrap();
        store.delete_api_set("keyward.verify").await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn listing_roles_returns_every_role_once_with_authorities() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        store
            .create_role(new_role("globex", "r-00", &["X"], false))
            .await
            .unwrap();
        let mut expected = Vec::new();
        for i in (0..7).rev() {
            let authority = format!("AUTH_{i}");
            expected.push(
                store
                    .create_role(new_role(
                        "acme",
                        &format!("r-{i:02}"),
                        &[authority.as_str(), "COMMON"],
                        i == 0,
                    ))
                    .await
                    .unwrap(),
            );
        }
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        let (seen, pages) = all_pages(3, |r| store.list_roles("acme", r)).await;
        assert_eq!(seen, expected, "{b}");
        assert_eq!(pages, 3, "{b}");
        assert_eq!(seen[0].authorities, ["AUTH_0", "COMMON"], "{b}");
    }
}

#[tokio::test]
async fn updating_a_role_replaces_its_authorities() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        let viewer = store.get_role("acme", "viewer").await.unwrap();

        let updated = store
            .update_role(
                "acme",
                "viewer",
                RoleUpdate {
                    display_name: Some("Reader".to_owned()),
                    authorities: Some(vec![
                        "VIEW_KEYS".to_owned(),
                        "VIEW".to_owned(),
                        "VIEW".to_owned(),
                    ]),
                    ..RoleUpdate::default()
                },
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!(updated.display_name, "Reader", "{b}");
        assert_eq!(updated.description, viewer.description, "{b}");
        assert_eq!(updated.authorities, ["VIEW", "VIEW_KEYS"], "{b}");
        assert_eq!(updated.revision, 2, "{b}");
        assert!(!updated.builtin, "{b}");
        assert_eq!(
            store.get_role("acme", "viewer").await.unwrap(),
            updated,
            "{b}"
        );

        let cleared = store
            .update_role(
                "acme",
                "viewer",
                RoleUpdate {
                    authorities: Some(Vec::new()),
                    ..RoleUpdate::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(cleared.authorities.is_empty(), "{b}");
        assert_eq!(cleared.display_name, "Reader", "{b}");

        assert_conflict(
            b,
            store
                .update_role(
                    "acme",
                    "viewer",
                    RoleUpdate {
                        authorities: Some(vec!["ROOT".to_owned()]),
                        ..RoleUpdate::default()
                    },
                    Some(2),
                )
                .await,
        );
        assert!(
            store
                .get_role("acme", "viewer")
                .await
                .unwrap()
                .authorities
                .is_empty(),
            "{b}: authorities kept on conflict"
        );
        assert_not_found(
            b,
            store
                .update_role("acme", "nope", RoleUpdate::default(), None)
                .await,
            "role",
            "nope",
        );
    }
}

#[tokio::test]
async fn a_role_still_held_cannot_be_deleted() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        for user in ["alice", "bob"] {
            store
                .create_user(new_user("acme", user, &["viewer"]))
                .await
                .unwrap();
        }

        assert_foreign_key(
            b,
            store.delete_role("acme", "viewer", Some(1)).await,
            "role",
            "role `viewer` is still held by 2 user(s)",
        );
        assert_eq!(
            store.get_role("acme", "viewer").await.unwrap().authorities,
            ["VIEW"],
            "{b}: the role and its authorities stay"
        );

        for user in ["alice", "bob"] {
            store
                .update_user(
                    "acme",
                    user,
                    UserUpdate {
                        role_ids: Some(Vec::new()),
                        ..UserUpdate::default()
                    },
                    None,
                )
                .await
                .unwrap();
        }
        assert_conflict(b, store.delete_role("acme", "viewer", Some(9)).await);
        store.delete_role("acme", "viewer", Some(1)).await.unwrap();
        assert_not_found(b, store.get_role("acme", "viewer").await, "role", "viewer");
        assert_not_found(
            b,
            store.delete_role("acme", "viewer", None).await,
            "role",
            "viewer",
        );
        // Its authorities went with it: a new role of that id starts empty.
        let again = store
            .create_role(new_role("acme", "viewer", &[], false))
            .await
            .unwrap();
        assert!(again.authorities.is_empty(), "{b}");
    }
}

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

/// `seed_roles`, plus users `alice` (admin, viewer) and `bob` (viewer) and the API set
/// `keyward.keys`.
async fn seed_users(store: &Store) {
    seed_roles(store).await;
    store
        .create_user(new_user("acme", "alice", &["admin", "viewer"]))
        .await
        .unwrap();
    store
        .create_user(new_user("acme", "bob", &["viewer"]))
        .await
        .unwrap();
    store
        .create_api_set(new_api_set("keyward.keys"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_api_key_reads_back_with_its_api_sets_and_never_debugs_its_hash() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        let expire_time = time("2027-01-31T12:00:00.123456789Z");
        let new = NewApiKey {
            expire_time: Some(expire_time),
            ..new_api_key(
                "acme",
                "alice",
                "k1",
                &["keyward.verify", "keyward.keys", "keyward.verify"],
            )
        };
        assert!(!format!("{new:?}").contains(SECRET_HASH), "{b}");

        let created = store.create_api_key(new.clone()).await.unwrap();
        assert_eq!(created.state, ApiKeyState::Active, "{b}");
        assert_eq!(created.revision, 1, "{b}");
        assert_eq!(
            created.api_set_ids,
            ["keyward.keys", "keyward.verify"],
            "{b}"
        );
        assert_eq!(created.secret_hash, SECRET_HASH, "{b}");
        assert_eq!(
            created.expire_time,
            Some(time("2027-01-31T12:00:00.123456Z")),
            "{b}: microseconds, like every stored time"
        );
        assert_eq!(created.revoke_time, None, "{b}");
        assert_eq!(created.last_used_time, None, "{b}");
        assert_eq!(store.get_api_key("k1").await.unwrap(), created, "{b}");
        let debug = format!("{created:?}");
        assert!(!debug.contains(SECRET_HASH), "{b}: {debug}");
        assert!(debug.contains("<redacted>") && debug.contains("k1"), "{b}");

        assert_already_exists(b, store.create_api_key(new).await, "api key", "api key id");
        assert_not_found(b, store.get_api_key("k9").await, "api key", "k9");
    }
}

#[tokio::test]
async fn an_api_key_naming_an_unknown_user_or_api_set_leaves_nothing_behind() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;

        assert_foreign_key(
            b,
            store
                .create_api_key(new_api_key(
                    "acme",
                    "alice",
                    "k1",
                    &["keyward.verify", "nope"],
                ))
                .await,
            "api set",
            "unknown api set `nope`",
        );
        assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
        assert_foreign_key(
            b,
            store
                .create_api_key(new_api_key("acme", "mallory", "k1", &[]))
                .await,
            "user",
            "unknown user `mallory`",
        );
        assert_foreign_key(
            b,
            store
                .create_api_key(new_api_key("nobody", "alice", "k1", &[]))
                .await,
            "user",
            "`alice` in account `nobody`",
        );
        assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
        // The API set it named is not held by a half-written key.
        store.delete_api_set("keyward.keys").await.unwrap();
        store
            .create_api_key(new_api_key("acme", "alice", "k1", &["keyward.verify"]))
            .await
            .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));
    }
}

#[tokio::test]
async fn listing_api_keys_by_user_and_state_pages_through_every_key_once() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();
        store
            .create_user(new_user("globex", "alice", &[]))
            .await
            .unwrap();
        store
            .create_api_key(new_api_key("globex", "alice", "g-1", &[]))
            .await
            .unwrap();

        // Expiry is judged at `at`: k-05 has expired by then, k-07 not yet, and k-04 is
        // revoked (which wins over its past expiry).
        let at = time("2026-11-24T00:00:00Z");
        let expiry = |i: i32| match i {
            4 => Some(time("2026-11-20T00:00:00Z")),
            5 => Some(at),
            7 => Some(time("2026-12-01T00:00:00Z")),
            _ => None,
        };
        let mut keys = Vec::new();
        for i in (0..9).rev() {
            let user = if i % 3 == 0 { "bob" } else { "alice" };
            keys.push(
                store
                    .create_api_key(NewApiKey {
                        expire_time: expiry(i),
                        ..new_api_key("acme", user, &format!("k-{i:02}"), &["keyward.verify"])
                    })
                    .await
                    .unwrap(),
            );
        }
        keys.sort_by(|x, y| x.id.cmp(&y.id));
        let revoked = store
            .revoke_api_key("k-04", time("2026-11-23T10:00:00Z"))
            .await
            .unwrap();
        for key in &mut keys {
            if key.id == "k-04" {
                *key = revoked.clone();
            }
        }
        let ids = |keys: &[keyward_store::ApiKey]| -> Vec<String> {
            keys.iter().map(|k| k.id.clone()).collect()
        };

        let (all, pages) = all_pages(4, |r| store.list_api_keys("acme", None, None, r)).await;
        assert_eq!(all, keys, "{b}: every key of the account once, in id order");
        assert_eq!(pages, 3, "{b}");

        let (alices, _) =
            all_pages(2, |r| store.list_api_keys("acme", Some("alice"), None, r)).await;
        assert_eq!(
            ids(&alices),
            ["k-01", "k-02", "k-04", "k-05", "k-07", "k-08"],
            "{b}"
        );
        let (active, _) = all_pages(2, |r| {
            store.list_api_keys("acme", Some("alice"), Some(ApiKeyFilter::Active { at }), r)
        })
        .await;
        assert_eq!(ids(&active), ["k-01", "k-02", "k-07", "k-08"], "{b}");
        let (expired, _) = all_pages(2, |r| {
            store.list_api_keys("acme", None, Some(ApiKeyFilter::Expired { at }), r)
        })
        .await;
        assert_eq!(ids(&expired), ["k-05"], "{b}");
        let (earlier, _) = all_pages(2, |r| {
            let at = time("2026-11-23T23:59:59.999999Z");
            store.list_api_keys("acme", Some("alice"), Some(ApiKeyFilter::Active { at }), r)
        })
        .await;
        assert_eq!(
            ids(&earlier),
            ["k-01", "k-02", "k-05", "k-07", "k-08"],
            "{b}: a key is active until its expire time"
        );
        let (gone, _) = all_pages(2, |r| {
            store.list_api_keys("acme", None, Some(ApiKeyFilter::Revoked), r)
        })
        .await;
        assert_eq!(gone, [revoked], "{b}");
        let (bobs, _) = all_pages(10, |r| store.list_api_keys("acme", Some("bob"), None, r)).await;
        assert_eq!(ids(&bobs), ["k-00", "k-03", "k-06"], "{b}");
        let (theirs, _) = all_pages(10, |r| store.list_api_keys("globex", None, None, r)).await;
        assert_eq!(ids(&theirs), ["g-1"], "{b}");
    }
}

#[tokio::test]
async fn updating_and_deleting_an_api_key_honour_the_expected_revision() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        let created = store
            .create_api_key(new_api_key("acme", "alice", "k1", &["keyward.verify"]))
            .await
            .unwrap();

        let updated = store
            .update_api_key(
                "k1",
                ApiKeyUpdate {
                    display_name: Some("deploy".to_owned()),
                    ..ApiKeyUpdate::default()
                },
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!(updated.display_name, "deploy", "{b}");
        assert_eq!(updated.description, created.description, "{b}");
        assert_eq!(updated.api_set_ids, created.api_set_ids, "{b}");
        assert_eq!(updated.revision, 2, "{b}");
        assert_eq!(store.get_api_key("k1").await.unwrap(), updated, "{b}");

        assert_conflict(
            b,
            store
                .update_api_key("k1", ApiKeyUpdate::default(), Some(1))
                .await,
        );
        assert_not_found(
            b,
            store
                .update_api_key("k9", ApiKeyUpdate::default(), None)
                .await,
            "api key",
            "k9",
        );

        assert_conflict(b, store.delete_api_key("k1", Some(1)).await);
        assert_eq!(store.get_api_key("k1").await.unwrap(), updated, "{b}");
        store.delete_api_key("k1", Some(2)).await.unwrap();
        assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
        assert_not_found(b, store.delete_api_key("k1", None).await, "api key", "k1");
        // Its API-set grants went with it.
        store.delete_api_set("keyward.verify").await.unwrap();
    }
}

#[tokio::test]
async fn revoking_an_api_key_is_idempotent() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        store
            .create_api_key(new_api_key("acme", "alice", "k1", &[]))
            .await
            .unwrap();

        let at = time("2026-11-23T10:00:00.5Z");
        let revoked = store.revoke_api_key("k1", at).await.unwrap();
        assert_eq!(revoked.state, ApiKeyState::Revoked, "{b}");
        assert_eq!(revoked.revoke_time, Some(at), "{b}");
        assert_eq!(revoked.update_time, at, "{b}");
        assert_eq!(revoked.revision, 2, "{b}");
        assert_eq!(store.get_api_key("k1").await.unwrap(), revoked, "{b}");

        let again = store
            .revoke_api_key("k1", time("2026-11-24T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(again, revoked, "{b}: unchanged");
        assert_not_found(b, store.revoke_api_key("k9", at).await, "api key", "k9");
    }
}

#[tokio::test]
async fn touching_an_api_key_records_the_latest_use_only() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        let created = store
            .create_api_key(new_api_key("acme", "alice", "k1", &[]))
            .await
            .unwrap();

        let first = time("2026-11-23T10:00:00.000001Z");
        store.touch_api_key_last_used("k1", first).await.unwrap();
        let touched = store.get_api_key("k1").await.unwrap();
        assert_eq!(touched.last_used_time, Some(first), "{b}");
        assert_eq!(touched.revision, created.revision, "{b}: not an edit");
        assert_eq!(touched.update_time, created.update_time, "{b}");

        // A slower request that started earlier does not move it back.
        store
            .touch_api_key_last_used("k1", time("2026-11-23T09:59:59.999Z"))
            .await
            .unwrap();
        assert_eq!(
            store.get_api_key("k1").await.unwrap().last_used_time,
            Some(first),
            "{b}"
        );
        let later = time("2026-11-23T10:00:00.1Z");
        store.touch_api_key_last_used("k1", later).await.unwrap();
        assert_eq!(
            store.get_api_key("k1").await.unwrap().last_used_time,
            Some(later),
            "{b}"
        );
        store
            .touch_api_key_last_used("k9", later)
            .await
            .unwrap_or_else(|e| panic!("{b}: an unknown key is a no-op: {e:?}"));
    }
}

#[tokio::test]
async fn a_batch_of_uses_records_each_latest_use_in_one_transaction() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        for id in ["k1", "k2"] {
            store
                .create_api_key(new_api_key("acme", "alice", id, &[]))
                .await
                .unwrap();
        }
        let first = time("2026-11-23T10:00:00.000001Z");
        store.touch_api_key_last_used("k2", first).await.unwrap();
        let earlier = time("2026-11-23T09:00:00Z");
        let later = time("2026-11-23T10:00:01Z");
        store
            .touch_last_used(&[
                (LastUsed::ApiKey("k1"), later),
                (LastUsed::ApiKey("k2"), earlier),
                (LastUsed::ApiKey("k9"), later),
            ])
            .await
            .unwrap_or_else(|e| panic!("{b}: an unknown key is a no-op: {e:?}"));
        let last_used = |id| async move { store.get_api_key(id).await.unwrap().last_used_time };
        assert_eq!(last_used("k1").await, Some(later), "{b}");
        assert_eq!(last_used("k2").await, Some(first), "{b}: never moved back");
    }
}

#[tokio::test]
async fn the_access_of_an_api_key_unites_the_authorities_of_its_users_roles() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_users(store).await;
        store
            .create_role(new_role("acme", "empty", &[], false))
            .await
            .unwrap();
        store
            .create_user(new_user("acme", "carol", &[]))
            .await
            .unwrap();
        store
            .create_user(new_user("acme", "dave", &["empty"]))
            .await
            .unwrap();
        for (user, key) in [
            ("alice", "ka"),
            ("bob", "kb"),
            ("carol", "kc"),
            ("dave", "kd"),
        ] {
            store
                .create_api_key(new_api_key(
                    "acme",
                    user,
                    key,
                    &["keyward.verify", "keyward.keys"],
                ))
                .await
                .unwrap();
        }

        let alice = store.api_key_access("ka").await.unwrap().unwrap();
        assert_eq!(alice.key, store.get_api_key("ka").await.unwrap(), "{b}");
        assert_eq!(
            alice.user,
            store.get_user("acme", "alice").await.unwrap(),
            "{b}"
        );
        assert_eq!(
            alice.account,
            store.get_account("acme").await.unwrap(),
            "{b}"
        );
        assert_eq!(
            alice.authorities.iter().collect::<Vec<_>>(),
            ["MANAGE_KEYS", "MANAGE_USERS", "VIEW"],
            "{b}"
        );
        assert!(alice.holds_builtin_role, "{b}");

        let bob = store.api_key_access("kb").await.unwrap().unwrap();
        assert_eq!(bob.user.role_ids, ["viewer"], "{b}");
        assert_eq!(bob.authorities.iter().collect::<Vec<_>>(), ["VIEW"], "{b}");
        assert!(!bob.holds_builtin_role, "{b}");

        let carol = store.api_key_access("kc").await.unwrap().unwrap();
        assert!(carol.user.role_ids.is_empty(), "{b}");
        assert!(
            carol.authorities.is_empty() && !carol.holds_builtin_role,
            "{b}"
        );

        // A role without authorities is still held.
        let dave = store.api_key_access("kd").await.unwrap().unwrap();
        assert_eq!(dave.user.role_ids, ["empty"], "{b}");
        assert!(dave.authorities.is_empty(), "{b}");

        // The lookup reports, it does not judge: a disabled user's revoked key is returned
        // as it is.
        store
            .set_user_state("acme", "bob", UserState::Disabled, None)
            .await
            .unwrap();
        store
            .revoke_api_key("kb", time("2026-11-23T10:00:00Z"))
            .await
            .unwrap();
        let bob = store.api_key_access("kb").await.unwrap().unwrap();
        assert_eq!(bob.user.state, UserState::Disabled, "{b}");
        assert_eq!(bob.key.state, ApiKeyState::Revoked, "{b}");

        assert_eq!(store.api_key_access("nope").await.unwrap(), None, "{b}");
    }
}

// ---------------------------------------------------------------------------------------
// Idempotency records
// ---------------------------------------------------------------------------------------

fn new_record(scope: &str, request_id: &str, expire_time: DateTime<Utc>) -> NewIdempotencyRecord {
    NewIdempotencyRecord {
        scope: scope.to_owned(),
        request_id: request_id.to_owned(),
        request_fingerprint: format!("sha256:{scope}:{request_id}"),
        expire_time,
    }
}

#[tokio::test]
async fn a_request_id_is_claimed_pending_then_finished_until_it_expires() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        let long_ago = Utc::now() - chrono::Duration::minutes(10);
        let scope = "accounts/acme/users/alice:CreateCredential";
        let resource = "accounts/acme/credentials/c1";

        assert_eq!(
            store.find_idempotency_record(scope, "r1").await.unwrap(),
            None,
            "{b}"
        );
        let claim = store
            .claim_idempotency_record(new_record(scope, "r1", tomorrow), long_ago)
            .await
            .unwrap();
        assert_eq!(claim, IdempotencyClaim::Claimed, "{b}");
        // Pending: held, with no resource yet, and not taken over while fresh.
        let IdempotencyClaim::Held(pending) = store
            .claim_idempotency_record(new_record(scope, "r1", tomorrow), long_ago)
            .await
            .unwrap()
        else {
            panic!("{b}: a claimed id is held");
        };
        assert_eq!(pending.resource_name, "", "{b}");
        assert_eq!(
            pending.request_fingerprint,
            format!("sha256:{scope}:r1"),
            "{b}"
        );

        // Finished: the resource is named, and later claims see it.
        store
            .complete_idempotency_record(scope, "r1", resource)
            .await
            .unwrap();
        let IdempotencyClaim::Held(done) = store
            .claim_idempotency_record(new_record(scope, "r1", tomorrow), Utc::now())
            .await
            .unwrap()
        else {
            panic!("{b}: a finished id is held, even past the pending timeout");
        };
        assert_eq!(done.resource_name, resource, "{b}");
        // Releasing a finished record does nothing.
        store.release_idempotency_record(scope, "r1").await.unwrap();
        assert_eq!(
            store.find_idempotency_record(scope, "r1").await.unwrap(),
            Some(done),
            "{b}"
        );
        // The same request id in another scope is another request.
        assert_eq!(
            store
                .claim_idempotency_record(new_record("other", "r1", tomorrow), long_ago)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "{b}"
        );

        // A released claim can be claimed again at once.
        store
            .claim_idempotency_record(new_record(scope, "r2", tomorrow), long_ago)
            .await
            .unwrap();
        store.release_idempotency_record(scope, "r2").await.unwrap();
        assert_eq!(
            store.find_idempotency_record(scope, "r2").await.unwrap(),
            None,
            "{b}"
        );
        assert_eq!(
            store
                .claim_idempotency_record(new_record(scope, "r2", tomorrow), long_ago)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "{b}"
        );
        // A stale pending claim (its request died) is taken over.
        assert_eq!(
            store
                .claim_idempotency_record(
                    new_record(scope, "r2", tomorrow),
                    Utc::now() + chrono::Duration::seconds(1)
                )
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "{b}"
        );

        // An expired record is not found, and gives way to a new claim.
        let past = Utc::now() - chrono::Duration::seconds(1);
        store
            .claim_idempotency_record(new_record(scope, "r3", past), long_ago)
            .await
            .unwrap();
        store
            .complete_idempotency_record(scope, "r3", resource)
            .await
            .unwrap();
        assert_eq!(
            store.find_idempotency_record(scope, "r3").await.unwrap(),
            None,
            "{b}"
        );
        assert_eq!(
            store
                .claim_idempotency_record(new_record(scope, "r3", tomorrow), long_ago)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "{b}"
        );
    }
}

#[tokio::test]
async fn of_concurrent_duplicate_requests_one_claims_the_request_id() {
    for db in backends().await {
        let b = db.name;
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        let long_ago = Utc::now() - chrono::Duration::minutes(10);
        let mut claims = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let store = db.replica().await;
            claims.spawn(async move {
                store
                    .claim_idempotency_record(new_record("scope", "r1", tomorrow), long_ago)
                    .await
            });
        }
        let results = claims.join_all().await;
        assert_eq!(
            results
                .iter()
                .filter(|r| matches!(r, Ok(IdempotencyClaim::Claimed)))
                .count(),
            1,
            "{b}: {results:?}"
        );
        for result in results {
            assert!(
                matches!(
                    result,
                    Ok(IdempotencyClaim::Claimed | IdempotencyClaim::Held(_))
                ),
                "{b}: {result:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Credential lifecycle: renewal, state, updates, nonces
// ---------------------------------------------------------------------------------------

fn hash_secret(n: u8) -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Hash(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$h{n}")),
        key_id: format!("{n:020}"),
    }
}

fn live_versions(secrets: &[keyward_store::CredentialSecret], now: DateTime<Utc>) -> Vec<i32> {
    secrets
        .iter()
        .filter(|s| s.is_live(now))
        .map(|s| s.version)
        .collect()
}

fn sealed_secret(n: u8, master_key_id: &str) -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Sealed {
            ciphertext: vec![n; 48],
            master_key_id: master_key_id.to_owned(),
        },
        key_id: format!("{n:020}"),
    }
}

#[tokio::test]
async fn secrets_sealed_under_an_old_master_key_are_found_in_order_and_resealed_once() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        let now = Utc::now();
        for id in ["c1", "c2"] {
            let mut credential =
                new_credential("acme", id, &format!("{id}@acme.test"), &["keyward.verify"]);
            credential.first_secret = sealed_secret(1, "mk-old");
            store.create_credential(credential).await.unwrap();
        }
        store
            .renew_credential_secret(
                "acme",
                "c1",
                SecretRenewal {
                    secret: sealed_secret(2, "mk-new"),
                    grace_until: Some(now + chrono::Duration::hours(1)),
                },
                None,
                now,
            )
            .await
            .unwrap();
        let found = |after: Option<(&'static str, i32)>| async move {
            store
                .secrets_sealed_under_other_keys("mk-new", after, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|s| (s.credential_id, s.version))
                .collect::<Vec<_>>()
        };
        let c = |id: &str, v: i32| (id.to_owned(), v);
        assert_eq!(found(None).await, [c("c1", 1), c("c2", 1)], "{b}");
        assert_eq!(found(Some(("c1", 1))).await, [c("c2", 1)], "{b}");
        assert_eq!(
            store
                .secrets_sealed_under_other_keys("mk-new", None, 1)
                .await
                .unwrap()
                .len(),
            1,
            "{b}: the limit holds"
        );
        // A basic secret is never listed: it is hashed, not sealed.
        let mut basic = new_credential("acme", "c3", "c3@acme.test", &["keyward.verify"]);
        basic.first_secret = basic_secret();
        store.create_credential(basic).await.unwrap();

        // Replaced only while still sealed as read.
        assert!(
            !store
                .reseal_secret("c9", 1, "mk-old", vec![9; 48], "mk-new")
                .await
                .unwrap(),
            "{b}: no such secret"
        );
        assert!(
            store
                .reseal_secret("c1", 1, "mk-old", vec![9; 48], "mk-new")
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            !store
                .reseal_secret("c1", 1, "mk-old", vec![8; 48], "mk-new")
                .await
                .unwrap(),
            "{b}: already re-sealed"
        );
        assert_eq!(found(None).await, [c("c2", 1)], "{b}");
        let secrets = store
            .credential_secrets_of(&["c1".to_owned()])
            .await
            .unwrap();
        let v1 = secrets["c1"].iter().find(|s| s.version == 1).unwrap();
        assert_eq!(
            v1.material,
            SecretMaterial::Sealed {
                ciphertext: vec![9; 48],
                master_key_id: "mk-new".to_owned()
            },
            "{b}"
        );
        assert_eq!(v1.key_id.as_deref(), Some("00000000000000000001"), "{b}");
    }
}

#[tokio::test]
async fn renewing_keeps_at_most_two_live_versions_and_honours_the_grace_period() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store
            .create_credential(new_credential(
                "acme",
                "c1",
                "a@acme.test",
                &["keyward.verify"],
            ))
            .await
            .unwrap();
        let now = Utc::now();
        let renewal = |n: u8, grace: Option<chrono::Duration>| keyward_store::SecretRenewal {
            secret: hash_secret(n),
            grace_until: grace.map(|g| now + g),
        };

        // Without a grace period the old version is gone at once.
        let renewed = store
            .renew_credential_secret("acme", "c1", renewal(2, None), None, now)
            .await
            .unwrap();
        assert_eq!(renewed.credential.revision, 2, "{b}");
        assert_eq!(renewed.version, 2, "{b}");
        assert_eq!(
            renewed.secrets,
            store.list_credential_secrets("c1").await.unwrap(),
            "{b}"
        );
        let secrets = store.list_credential_secrets("c1").await.unwrap();
        assert_eq!(live_versions(&secrets, now), [2], "{b}");
        assert_eq!(secrets.len(), 1, "{b}: the replaced version is deleted");
        assert_eq!(
            secrets[0].key_id.as_deref(),
            Some("00000000000000000002"),
            "{b}"
        );

        // With one, the previous version verifies until it ends.
        store
            .renew_credential_secret(
                "acme",
                "c1",
                renewal(3, Some(chrono::Duration::hours(1))),
                None,
                now,
            )
            .await
            .unwrap();
        let secrets = store.list_credential_secrets("c1").await.unwrap();
        assert_eq!(live_versions(&secrets, now), [3, 2], "{b}");
        assert_eq!(
            secrets[1].expire_time.map(|t| t.timestamp()),
            Some((now + chrono::Duration::hours(1)).timestamp()),
            "{b}"
        );
        assert_eq!(
            live_versions(&secrets, now + chrono::Duration::hours(2)),
            [3],
            "{b}: after the grace period only the current one"
        );

        // A renewal during a grace period ends the older version: never three.
        store
            .renew_credential_secret(
                "acme",
                "c1",
                renewal(4, Some(chrono::Duration::hours(1))),
                None,
                now,
            )
            .await
            .unwrap();
        let secrets = store.list_credential_secrets("c1").await.unwrap();
        assert_eq!(live_versions(&secrets, now), [4, 3], "{b}");
        assert_eq!(secrets.len(), 2, "{b}");

        // A stale revision is a conflict; another account's credential is not found.
        assert!(
            matches!(
                store
                    .renew_credential_secret("acme", "c1", renewal(5, None), Some(1), now)
                    .await,
                Err(StoreError::Conflict)
            ),
            "{b}"
        );
        assert!(
            matches!(
                store
                    .renew_credential_secret("globex", "c1", renewal(5, None), None, now)
                    .await,
                Err(StoreError::NotFound { .. })
            ),
            "{b}"
        );
        assert_eq!(
            live_versions(&store.list_credential_secrets("c1").await.unwrap(), now),
            [4, 3],
            "{b}: failed renewals change nothing"
        );
    }
}

#[tokio::test]
async fn concurrent_renewals_leave_exactly_one_current_version() {
    for db in backends().await {
        let b = db.name;
        seed(&db.store).await;
        db.store
            .create_credential(new_credential(
                "acme",
                "c1",
                "a@acme.test",
                &["keyward.verify"],
            ))
            .await
            .unwrap();
        let now = Utc::now();
        let mut tasks = Vec::new();
        for n in 0..16u8 {
            let store = db.replica().await;
            tasks.push(tokio::spawn(async move {
                let renewal = keyward_store::SecretRenewal {
                    secret: hash_secret(10 + n),
                    grace_until: (n % 2 == 0).then(|| now + chrono::Duration::hours(1)),
                };
                store
                    .renew_credential_secret("acme", "c1", renewal, None, now)
                    .await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(other) => panic!("{b}: {other:?}"),
            }
        }
        assert!(ok >= 1, "{b}");
        let secrets = db.store.list_credential_secrets("c1").await.unwrap();
        let current: Vec<_> = secrets.iter().filter(|s| s.expire_time.is_none()).collect();
        assert_eq!(current.len(), 1, "{b}: {secrets:?}");
        assert_eq!(
            current[0].version,
            1 + ok,
            "{b}: versions count the renewals"
        );
        assert!(live_versions(&secrets, now).len() <= 2, "{b}");
        let credential = db.store.get_credential("acme", "c1").await.unwrap();
        assert_eq!(credential.revision, 1 + i64::from(ok), "{b}");
    }
}

#[tokio::test]
async fn credentials_are_updated_switched_listed_and_deleted() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed(store).await;
        store.create_api_set(new_api_set("billing")).await.unwrap();
        for (id, email) in [
            ("c1", "one@acme.test"),
            ("c2", "two@acme.test"),
            ("c3", "three@acme.test"),
        ] {
            store
                .create_credential(new_credential("acme", id, email, &["keyward.verify"]))
                .await
                .unwrap();
        }

        let updated = store
            .update_credential(
                "acme",
                "c1",
                keyward_store::CredentialUpdate {
                    display_name: Some("Renamed".to_owned()),
                    api_set_ids: Some(vec!["billing".to_owned(), "keyward.verify".to_owned()]),
                    ..Default::default()
                },
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!(updated.display_name, "Renamed", "{b}");
        assert_eq!(updated.application, "billing", "{b}: untouched");
        assert_eq!(updated.api_set_ids, ["billing", "keyward.verify"], "{b}");
        assert_eq!(updated.revision, 2, "{b}");
        let stale = store
            .update_credential("acme", "c1", Default::default(), Some(1))
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict)), "{b}: {stale:?}");
        let unknown_set = store
            .update_credential(
                "acme",
                "c1",
                keyward_store::CredentialUpdate {
                    api_set_ids: Some(vec!["ghost".to_owned()]),
                    ..Default::default()
                },
                None,
            )
            .await;
        assert!(
            matches!(unknown_set, Err(StoreError::ForeignKey { .. })),
            "{b}: {unknown_set:?}"
        );
        assert_eq!(
            store.get_credential("acme", "c1").await.unwrap(),
            updated,
            "{b}: a failed update changes nothing"
        );

        let disabled = store
            .set_credential_state("acme", "c2", CredentialState::Disabled, Some(1))
            .await
            .unwrap();
        assert_eq!(disabled.state, CredentialState::Disabled, "{b}");
        assert_eq!(disabled.revision, 2, "{b}");
        let again = store
            .set_credential_state("acme", "c2", CredentialState::Disabled, None)
            .await
            .unwrap();
        assert_eq!(again, disabled, "{b}: idempotent");

        let active = store
            .list_credentials(
                "acme",
                Some(CredentialState::Active),
                None,
                PageRequest {
                    after: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        let ids: Vec<_> = active.items.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c1", "c3"], "{b}");
        let first = store
            .list_credentials(
                "acme",
                None,
                Some(CredentialScheme::Basic),
                PageRequest {
                    after: None,
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert_eq!(first.items.len(), 2, "{b}");
        let rest = store
            .list_credentials(
                "acme",
                None,
                None,
                PageRequest {
                    after: first.next_after.clone(),
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 1, "{b}");
        assert_eq!(rest.next_after, None, "{b}");
        let hmac = store
            .list_credentials(
                "acme",
                None,
                Some(CredentialScheme::Hmac),
                PageRequest {
                    after: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert!(hmac.items.is_empty(), "{b}");

        assert!(
            matches!(
                store.delete_credential("acme", "c3", Some(7)).await,
                Err(StoreError::Conflict)
            ),
            "{b}"
        );
        store
            .delete_credential("acme", "c3", Some(1))
            .await
            .unwrap();
        assert!(
            matches!(
                store.delete_credential("acme", "c3", None).await,
                Err(StoreError::NotFound { .. })
            ),
            "{b}"
        );
        assert!(
            store
                .list_credential_secrets("c3")
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
        let secrets = store
            .credential_secrets_of(&["c1".to_owned(), "c2".to_owned(), "c3".to_owned()])
            .await
            .unwrap();
        assert_eq!(secrets.len(), 2, "{b}");
    }
}

#[tokio::test]
async fn an_hmac_nonce_is_claimed_once_until_it_expires() {
    for db in backends().await {
        let b = db.name;
        seed(&db.store).await;
        db.store
            .create_credential(new_credential(
                "acme",
                "c1",
                "a@acme.test",
                &["keyward.verify"],
            ))
            .await
            .unwrap();
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(300);

        let mut tasks = Vec::new();
        for _ in 0..24 {
            let store = db.replica().await;
            tasks.push(tokio::spawn(async move {
                store
                    .claim_hmac_nonce("c1", "nonce-0123456789ab", until, now)
                    .await
            }));
        }
        let mut claimed = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                claimed += 1;
            }
        }
        assert_eq!(claimed, 1, "{b}: exactly one claim wins");
        assert!(
            !db.store
                .claim_hmac_nonce("c1", "nonce-0123456789ab", until, now)
                .await
                .unwrap(),
            "{b}"
        );
        // After it expired the nonce can be claimed again.
        let later = until + chrono::Duration::seconds(1);
        assert!(
            db.store
                .claim_hmac_nonce(
                    "c1",
                    "nonce-0123456789ab",
                    later + chrono::Duration::seconds(300),
                    later
                )
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            db.store
                .claim_hmac_nonce("c1", "another-nonce-0123", until, now)
                .await
                .unwrap(),
            "{b}"
        );
        assert_eq!(
            db.store.purge_expired_hmac_nonces(until).await.unwrap(),
            1,
            "{b}: only the expired claim is purged"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Entitlements
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn entitlements_are_stored_replaced_and_go_with_a_deleted_api_set() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        for id in ["billing", "reports"] {
            store.create_api_set(new_api_set(id)).await.unwrap();
        }
        let created = store
            .create_account(NewAccount {
                entitled_api_set_ids: vec!["reports".into(), "billing".into(), "billing".into()],
                ..new_account("acme", "acme-")
            })
            .await
            .unwrap();
        assert_eq!(created.entitled_api_set_ids, ["billing", "reports"], "{b}");
        assert_eq!(store.get_account("acme").await.unwrap(), created, "{b}");
        store
            .create_account(new_account("globex", "globex-"))
            .await
            .unwrap();

        let replace = |ids: &[&str]| AccountUpdate {
            entitled_api_set_ids: Some(ids.iter().map(|id| (*id).to_owned()).collect()),
            ..AccountUpdate::default()
        };
        let updated = store
            .update_account("acme", replace(&["reports"]), Some(created.revision))
            .await
            .unwrap();
        assert_eq!(updated.entitled_api_set_ids, ["reports"], "{b}");
        assert_eq!(updated.revision, created.revision + 1, "{b}");
        let listed = store
            .list_accounts(PageRequest {
                after: None,
                limit: 100,
            })
            .await
            .unwrap()
            .items;
        let entitled: Vec<(&str, &[String])> = listed
            .iter()
            .map(|a| (a.id.as_str(), a.entitled_api_set_ids.as_slice()))
            .collect();
        assert_eq!(
            entitled,
            [("acme", &["reports".to_owned()][..]), ("globex", &[][..])],
            "{b}"
        );

        let unknown = store.update_account("acme", replace(&["nope"]), None).await;
        assert!(
            matches!(&unknown, Err(StoreError::ForeignKey { detail, .. }) if detail.contains("nope")),
            "{b}: {unknown:?}"
        );
        assert_eq!(
            store
                .get_account("acme")
                .await
                .unwrap()
                .entitled_api_set_ids,
            ["reports"],
            "{b}: a refused update changes nothing"
        );

        store.delete_api_set("reports").await.unwrap();
        assert!(
            store
                .get_account("acme")
                .await
                .unwrap()
                .entitled_api_set_ids
                .is_empty(),
            "{b}: an entitlement goes with its API set"
        );
    }
}

#[tokio::test]
async fn an_upgraded_installation_entitles_each_account_to_the_sets_its_keys_and_credentials_hold()
{
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        for id in ["billing", "reports", "shipping", "keyward.verify"] {
            store.create_api_set(new_api_set(id)).await.unwrap();
        }
        for (id, operator) in [("acme", false), ("globex", false), ("ops", true)] {
            store
                .create_account(NewAccount {
                    operator,
                    ..new_account(id, &format!("{id}-"))
                })
                .await
                .unwrap();
            store.create_user(new_user(id, "admin", &[])).await.unwrap();
        }
        store
            .create_api_key(new_api_key(
                "acme",
                "admin",
                "k1",
                &["billing", "keyward.verify"],
            ))
            .await
            .unwrap();
        store
            .create_api_key(new_api_key("acme", "admin", "k2", &["billing"]))
            .await
            .unwrap();
        store
            .create_credential(new_credential("acme", "c1", "c@acme.test", &["reports"]))
            .await
            .unwrap();
        store
            .create_api_key(new_api_key("globex", "admin", "k3", &["keyward.verify"]))
            .await
            .unwrap();
        store
            .create_api_key(new_api_key("ops", "admin", "k4", &["shipping"]))
            .await
            .unwrap();

        // Back to the schema before entitlements (and the audit delegate, enrollment
        // tokens, credential compromise and the audit chain after them), and up again.
        store.migrate_down(Some(5)).await.unwrap();
        store.migrate().await.unwrap();

        let entitled = |id: &'static str| async move {
            store.get_account(id).await.unwrap().entitled_api_set_ids
        };
        assert_eq!(entitled("acme").await, ["billing", "reports"], "{b}");
        assert!(
            entitled("globex").await.is_empty(),
            "{b}: built-in sets are not entitlements"
        );
        assert!(
            entitled("ops").await.is_empty(),
            "{b}: the operator account has every set without rows"
        );
    }
}

#[tokio::test]
async fn a_request_id_is_done_in_the_transaction_of_its_work_and_pending_if_the_work_fails() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        seed_roles(store).await;
        store
            .create_user(new_user("acme", "alice", &["admin"]))
            .await
            .unwrap();
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        let long_ago = Utc::now() - chrono::Duration::minutes(10);
        let scope = "accounts/acme/users/alice:CreateApiKey";
        let completion = |request_id: &str, resource: &str| keyward_store::RequestCompletion {
            scope: scope.to_owned(),
            request_id: request_id.to_owned(),
            resource_name: resource.to_owned(),
        };

        // The work commits: the claim is done with it, with no separate step.
        store
            .claim_idempotency_record(new_record(scope, "r1", tomorrow), long_ago)
            .await
            .unwrap();
        let resource = "accounts/acme/users/alice/apiKeys/k1";
        store
            .completing(completion("r1", resource))
            .create_api_key(new_api_key("acme", "alice", "k1", &["keyward.verify"]))
            .await
            .unwrap();
        let record = store.find_idempotency_record(scope, "r1").await.unwrap();
        assert_eq!(
            record.map(|r| r.resource_name),
            Some(resource.to_owned()),
            "{b}"
        );

        // The work fails (an unknown user): its transaction, claim completion included,
        // is rolled back, and the claim is still pending for the request to release.
        store
            .claim_idempotency_record(new_record(scope, "r2", tomorrow), long_ago)
            .await
            .unwrap();
        let failed = store
            .completing(completion("r2", "accounts/acme/users/ghost/apiKeys/k2"))
            .create_api_key(new_api_key("acme", "ghost", "k2", &["keyward.verify"]))
            .await;
        assert!(failed.is_err(), "{b}");
        let record = store.find_idempotency_record(scope, "r2").await.unwrap();
        assert_eq!(
            record.map(|r| r.resource_name),
            Some(String::new()),
            "{b}: still pending"
        );
        // The store itself is untouched: other writes complete nothing.
        store
            .create_api_key(new_api_key("acme", "alice", "k3", &["keyward.verify"]))
            .await
            .unwrap();
        let record = store.find_idempotency_record(scope, "r2").await.unwrap();
        assert_eq!(record.map(|r| r.resource_name), Some(String::new()), "{b}");
    }
}

// ---------------------------------------------------------------------------------------
// Audit hash chain
// ---------------------------------------------------------------------------------------

fn chain_event(account: &str, n: usize) -> NewAuditEvent {
    NewAuditEvent {
        count: 1,
        account_id: account.to_owned(),
        actor: format!("accounts/{account}/users/w{n}"),
        delegate: None,
        action: "/keyward.v1.ApiKeyService/CreateApiKey".to_owned(),
        resource: format!("accounts/{account}/users/w{n}/apiKeys/k"),
        outcome: AuditOutcome::Success,
        detail: format!("event {n}"),
    }
}

/// `account`'s export, checked: the number of events.
async fn verified_export(store: &Store, account: &str) -> usize {
    let events = store.export_audit_events(account, 0, 10_000).await.unwrap();
    let exported: Vec<_> = events
        .iter()
        .map(|e| keyward_core::audit_chain::ExportedEvent {
            event: e.chained(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        })
        .collect();
    keyward_core::audit_chain::verify(&exported).unwrap_or_else(|broken| panic!("{broken}"));
    events.len()
}

#[tokio::test]
async fn fifty_concurrent_writers_leave_one_unbroken_chain_per_account() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        let replica = db.replica().await;
        let writers: Vec<_> = (0..50)
            .map(|n| {
                // Half through another replica's pool: two servers writing one account.
                let store = if n % 2 == 0 {
                    store.clone()
                } else {
                    replica.clone()
                };
                tokio::spawn(async move {
                    store
                        .append_audit_event(chain_event("acme", n))
                        .await
                        .unwrap();
                    store
                        .append_audit_event(chain_event("globex", n))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(verified_export(store, "acme").await, 50, "{b}");
        assert_eq!(verified_export(store, "globex").await, 50, "{b}");
        let sequences: Vec<i64> = store
            .export_audit_events("acme", 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(sequences, (1..=50).collect::<Vec<_>>(), "{b}");
        // Pages of an export follow the sequence.
        let page = store.export_audit_events("acme", 20, 5).await.unwrap();
        assert_eq!(
            page.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [21, 22, 23, 24, 25],
            "{b}"
        );
    }
}

#[tokio::test]
async fn events_written_before_the_chain_are_chained_by_its_migration() {
    for db in backends().await {
        let (store, b) = (&db.store, db.name);
        for n in 0..5 {
            store
                .append_audit_event(chain_event("acme", n))
                .await
                .unwrap();
        }
        for n in 0..3 {
            store
                .append_audit_event(chain_event("globex", n))
                .await
                .unwrap();
        }
        // Back before the chain (its columns and heads gone), and up again.
        store.migrate_down(Some(1)).await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(verified_export(store, "acme").await, 5, "{b}");
        assert_eq!(verified_export(store, "globex").await, 3, "{b}");
        let next = store
            .append_audit_event(chain_event("acme", 5))
            .await
            .unwrap();
        assert_eq!(next.sequence, 6, "{b}: appending continues the chain");
        assert_eq!(verified_export(store, "acme").await, 6, "{b}");
    }
}
