//! Use cases shared by bootstrap and the account, user and key RPCs: the
//! built-in administrator role, the contents of a new account, issuing an API
//! key, generated IDs.

use chrono::{DateTime, Utc};
use keyward_core::key::{Key, KeyKind};
use keyward_store::{AccountSeed, NewAccount, NewApiKey, NewApiSet, NewRole, NewUser, Store};
use secrecy::SecretString;

use crate::auth::{Authority, BuiltinApiSet, SecretHasher};
use crate::error::ServiceError;

/// IDs of Keyward's own, built-in API sets start with this; nobody else may use it.
pub const BUILTIN_API_SET_PREFIX: &str = "keyward.";

/// ID of the built-in role every account has.
pub const ADMINISTRATOR_ROLE_ID: &str = "administrator";

/// The built-in administrator role of an account: every authority, never
/// editable.
pub fn administrator_role(account_id: &str) -> NewRole {
    NewRole {
        account_id: account_id.to_owned(),
        id: ADMINISTRATOR_ROLE_ID.to_owned(),
        display_name: "Administrator".to_owned(),
        description: "Built-in: holds every authority of the account.".to_owned(),
        authorities: Authority::ALL
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        builtin: true,
    }
}

/// The IDs of every built-in API set.
pub fn builtin_api_set_ids() -> Vec<String> {
    BuiltinApiSet::ALL
        .iter()
        .map(|set| set.id().to_owned())
        .collect()
}

/// Makes the catalog's built-in API sets match the authorization table.
pub async fn sync_builtin_api_sets(store: &Store) -> Result<(), ServiceError> {
    let sets = BuiltinApiSet::ALL
        .iter()
        .map(|set| NewApiSet {
            id: set.id().to_owned(),
            display_name: set.display_name().to_owned(),
            description: set.description().to_owned(),
            methods: set.methods().into_iter().map(str::to_owned).collect(),
            builtin: true,
        })
        .collect();
    Ok(store.sync_builtin_api_sets(sets).await?)
}

/// An API key to be stored, and the key itself, to be shown once.
pub struct IssuedKey {
    /// The key; its token is returned to the caller once.
    pub key: Key,
    /// The record to store (hash only).
    pub record: NewApiKey,
}

/// What a new API key is for.
pub struct KeyRequest<'a> {
    /// The owner's account.
    pub account_id: &'a str,
    /// The owner.
    pub user_id: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// Description.
    pub description: &'a str,
    /// API sets the key may use.
    pub api_set_ids: Vec<String>,
    /// Expiry.
    pub expire_time: Option<DateTime<Utc>>,
    /// Resource name of the principal creating it.
    pub creator: &'a str,
}

/// Generates an API key and hashes its secret (argon2, off the runtime).
pub async fn issue_api_key(
    hasher: &SecretHasher,
    request: KeyRequest<'_>,
) -> Result<IssuedKey, ServiceError> {
    let key = Key::generate(KeyKind::ApiKey).map_err(|e| ServiceError::Internal(Box::new(e)))?;
    let secret_hash = hasher.hash_key(&key).await?;
    let record = NewApiKey {
        id: key.id().as_str().to_owned(),
        account_id: request.account_id.to_owned(),
        user_id: request.user_id.to_owned(),
        display_name: request.display_name.to_owned(),
        description: request.description.to_owned(),
        secret_hash,
        expire_time: request.expire_time,
        creator: request.creator.to_owned(),
        api_set_ids: request.api_set_ids,
    };
    Ok(IssuedKey { key, record })
}

/// A new account with its administrator role, its first administrator and
/// that administrator's API key (holding every built-in API set).
pub struct NewAccountWithAdministrator {
    /// Everything to store, in one transaction.
    pub seed: AccountSeed,
    /// The administrator's key, to show once.
    pub key: SecretString,
}

/// Prepares a new account and its first administrator.
pub async fn new_account_with_administrator(
    hasher: &SecretHasher,
    account: NewAccount,
    mut administrator: NewUser,
    creator: &str,
) -> Result<NewAccountWithAdministrator, ServiceError> {
    administrator.account_id = account.id.clone();
    administrator.role_ids = vec![ADMINISTRATOR_ROLE_ID.to_owned()];
    let issued = issue_api_key(
        hasher,
        KeyRequest {
            account_id: &account.id,
            user_id: &administrator.id,
            display_name: "initial administrator key",
            description: "Issued with the account.",
            api_set_ids: builtin_api_set_ids(),
            expire_time: None,
            creator,
        },
    )
    .await?;
    Ok(NewAccountWithAdministrator {
        seed: AccountSeed {
            roles: vec![administrator_role(&account.id)],
            users: vec![administrator],
            api_keys: vec![issued.record],
            account,
        },
        key: issued.key.to_token(),
    })
}

/// A fresh ID for a resource created without one: a letter, then 16 hex
/// digits from the OS CSPRNG.
pub fn generated_id(prefix: char) -> Result<String, ServiceError> {
    let bytes =
        keyward_core::key::random_bytes::<8>().map_err(|e| ServiceError::Internal(Box::new(e)))?;
    let mut id = String::with_capacity(17);
    id.push(prefix);
    for byte in bytes {
        id.push_str(&format!("{byte:02x}"));
    }
    Ok(id)
}
