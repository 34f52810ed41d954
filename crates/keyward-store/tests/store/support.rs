//! What the store tests share: [`TestDb`], a store on a fresh database of one backend, and
//! the fixtures (`new_*` records, `seed*` contents, `assert_*` checks) that more than one
//! area uses. Fixtures of one area live at the top of its module.

use chrono::{DateTime, Utc};
use keyward_store::{
    AccountSeed, NewAccount, NewApiKey, NewApiSet, NewCredential, NewRole, NewSecretVersion,
    NewUser, Page, PageRequest, SecretMaterial, Store, StoreError,
    testing::{TestBackend, TestDatabase},
};

/// A store on a fresh database of one backend.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub(crate) name: &'static str,
    /// Declared after `store`, so dropped after it.
    pub(crate) database: TestDatabase,
}

impl TestDb {
    /// A fresh, migrated database on `backend`.
    pub(crate) async fn migrated(backend: TestBackend) -> TestDb {
        let database = TestDatabase::create(backend).await;
        TestDb {
            store: database.migrated_store().await,
            name: backend.name(),
            database,
        }
    }

    /// A fresh database on `backend` that has not been migrated.
    pub(crate) async fn fresh(backend: TestBackend) -> TestDb {
        let database = TestDatabase::create(backend).await;
        TestDb {
            store: Store::connect(database.url()).await.unwrap(),
            name: backend.name(),
            database,
        }
    }

    /// Another replica's store on the same database: a second pool on PostgreSQL, a clone
    /// on SQLite (whose file lock admits one server only; its transactions still contend).
    /// Drop it rather than closing it: closing a clone closes the pool of every clone.
    pub(crate) async fn replica(&self) -> Store {
        match self.database.backend() {
            TestBackend::Postgres => Store::connect(self.database.url()).await.unwrap(),
            TestBackend::Sqlite => self.store.clone(),
        }
    }
}

pub(crate) fn new_account(id: &str, prefix: &str) -> NewAccount {
    NewAccount {
        id: id.to_owned(),
        display_name: format!("Account {id}"),
        client_id_prefix: prefix.to_owned(),
        verified: false,
        operator: false,
        entitled_api_set_ids: Vec::new(),
    }
}

pub(crate) fn new_api_set(id: &str) -> NewApiSet {
    NewApiSet {
        id: id.to_owned(),
        display_name: format!("API set {id}"),
        description: String::new(),
        methods: vec![format!("/{id}.Service/Call")],
        builtin: false,
    }
}

pub(crate) fn basic_secret() -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        key_id: "00000000000000000001".to_owned(),
    }
}

pub(crate) fn new_credential(
    account_id: &str,
    id: &str,
    email: &str,
    api_sets: &[&str],
) -> NewCredential {
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
pub(crate) async fn seed(store: &Store) {
    store
        .create_account(new_account("acme", "acme-"))
        .await
        .unwrap();
    store
        .create_api_set(new_api_set("keyward.verify"))
        .await
        .unwrap();
}

pub(crate) fn assert_already_exists(
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

pub(crate) fn new_role(account_id: &str, id: &str, authorities: &[&str], builtin: bool) -> NewRole {
    NewRole {
        account_id: account_id.to_owned(),
        id: id.to_owned(),
        display_name: format!("Role {id}"),
        description: format!("what {id} may do"),
        authorities: authorities.iter().map(|a| (*a).to_owned()).collect(),
        builtin,
    }
}

pub(crate) fn new_user(account_id: &str, id: &str, roles: &[&str]) -> NewUser {
    NewUser {
        account_id: account_id.to_owned(),
        id: id.to_owned(),
        display_name: format!("User {id}"),
        email: format!("{id}@{account_id}.test"),
        role_ids: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

pub(crate) const SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$c2VjcmV0LWtleS1oYXNo";

pub(crate) fn new_api_key(
    account_id: &str,
    user_id: &str,
    id: &str,
    api_sets: &[&str],
) -> NewApiKey {
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
pub(crate) fn operator_seed(id: &str) -> AccountSeed {
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
pub(crate) async fn all_pages<T, F, Fut>(limit: u64, mut list: F) -> (Vec<T>, usize)
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

pub(crate) fn assert_not_found(
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

pub(crate) fn assert_conflict(backend: &str, result: Result<impl std::fmt::Debug, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict)),
        "{backend}: expected Conflict, got {result:?}"
    );
}

pub(crate) fn assert_foreign_key(
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

pub(crate) fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

/// `seed`, plus roles `admin` (built-in) and `viewer` in `acme`.
pub(crate) async fn seed_roles(store: &Store) {
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
