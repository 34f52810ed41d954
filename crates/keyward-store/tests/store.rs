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

use keyward_store::{
    AuditOutcome, Backend, CredentialScheme, CredentialState, NewAccount, NewApiSet, NewAuditEvent,
    NewCredential, NewRole, NewSecretVersion, NewUser, PageRequest, SecretMaterial, Store,
    StoreError, StoreOptions, UserState,
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
    _database: TestDatabase,
}

/// Every backend to test on, each with a fresh, migrated database.
async fn backends() -> Vec<TestDb> {
    let mut dbs = Vec::new();
    for backend in TestBackend::all() {
        let database = TestDatabase::create(backend).await;
        dbs.push(TestDb {
            store: database.migrated_store().await,
            name: backend.name(),
            _database: database,
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
            _database: database,
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
            ["m20261123_000001_initial"],
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
            account_id: account.to_owned(),
            actor: format!("accounts/{account}/users/alice"),
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
