//! The facts the verification index holds: one entry per fact a judgement can depend on,
//! keyed as the change log names them, so that one change drops exactly the entries it
//! makes wrong.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use keyward_core::key::KeyId;

use crate::judgement::Entitlements;
use keyward_store::{
    Account, ApiKey, ApiKeyState, Credential, CredentialScheme, CredentialSecret, CredentialState,
    Role, SecretMaterial, User, UserState,
};

/// The 10 bytes of a key id (see [`KeyId::to_bytes`]).
pub type IdBytes = [u8; 10];

/// What an index entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FactKey {
    /// An API key, by its id.
    ApiKey(IdBytes),
    /// A user: account and user id.
    User(Arc<str>, Arc<str>),
    /// A role: account and role id.
    Role(Arc<str>, Arc<str>),
    /// An account.
    Account(Arc<str>),
    /// A client credential, by its id.
    Credential(Arc<str>),
    /// Which credential a Client ID names.
    ClientId(Arc<str>),
    /// Which credential a client secret's key id belongs to.
    SecretKey(IdBytes),
    /// The API-set catalog's method → sets map.
    Catalog,
}

/// An index entry: the fact, or that it does not exist (`None`), which is remembered too.
#[derive(Debug, Clone)]
pub enum Fact {
    /// An API key.
    ApiKey(Option<Arc<ApiKeyFacts>>),
    /// A user.
    User(Option<Arc<UserFacts>>),
    /// A role.
    Role(Option<Arc<RoleFacts>>),
    /// An account.
    Account(Option<Arc<AccountFacts>>),
    /// A client credential.
    Credential(Option<Arc<CredentialFacts>>),
    /// The id of the credential a Client ID or a secret key id leads to.
    CredentialId(Option<Arc<str>>),
    /// The catalog.
    Catalog(Arc<Catalog>),
}

/// What judging an API key needs about the key itself.
#[derive(Debug)]
pub struct ApiKeyFacts {
    /// The key's id.
    pub id: Arc<str>,
    /// Its account.
    pub account_id: Arc<str>,
    /// Its owner.
    pub user_id: Arc<str>,
    /// Active or revoked.
    pub state: ApiKeyState,
    /// When it expires, if it does.
    pub expire_time: Option<DateTime<Utc>>,
    /// The API sets it holds, sorted.
    pub api_set_ids: Vec<String>,
    /// The argon2id PHC string of its secret.
    pub secret_hash: Arc<str>,
    /// The owner's entry.
    pub owner: FactKey,
    /// The account's entry.
    pub account: FactKey,
}

impl From<ApiKey> for ApiKeyFacts {
    fn from(key: ApiKey) -> Self {
        let account_id: Arc<str> = key.account_id.into();
        let user_id: Arc<str> = key.user_id.into();
        Self {
            id: key.id.into(),
            owner: FactKey::User(account_id.clone(), user_id.clone()),
            account: FactKey::Account(account_id.clone()),
            account_id,
            user_id,
            state: key.state,
            expire_time: key.expire_time,
            api_set_ids: key.api_set_ids,
            secret_hash: key.secret_hash.into(),
        }
    }
}

/// What judging an API key needs about its owner.
#[derive(Debug)]
pub struct UserFacts {
    /// Active or disabled.
    pub state: UserState,
    /// The entries of the roles the user holds.
    pub roles: Vec<FactKey>,
}

impl From<User> for UserFacts {
    fn from(user: User) -> Self {
        let account_id: Arc<str> = user.account_id.into();
        Self {
            state: user.state,
            roles: user
                .role_ids
                .into_iter()
                .map(|role| FactKey::Role(account_id.clone(), role.into()))
                .collect(),
        }
    }
}

/// What a role grants.
#[derive(Debug)]
pub struct RoleFacts {
    /// Whether it is the built-in administrator role (which holds every authority).
    pub builtin: bool,
    /// The authorities it grants.
    pub authorities: Vec<String>,
}

impl From<Role> for RoleFacts {
    fn from(role: Role) -> Self {
        Self {
            builtin: role.builtin,
            authorities: role.authorities,
        }
    }
}

/// What a caller's principal and the API-set question need about an account.
#[derive(Debug)]
pub struct AccountFacts {
    /// Whether it is the installation's operator account.
    pub operator: bool,
    /// The platform API sets it is entitled to, sorted.
    pub entitled_api_set_ids: Vec<String>,
}

impl AccountFacts {
    /// What the account may use: every set for the operator account, else its
    /// entitlements.
    pub fn entitlements(&self) -> Entitlements<'_> {
        Entitlements::of_account(self.operator, &self.entitled_api_set_ids)
    }
}

/// What an account that may no longer exist may use (nothing, then).
pub fn entitlements_of(account: Option<&AccountFacts>) -> Entitlements<'_> {
    account.map_or(Entitlements::Only(&[]), AccountFacts::entitlements)
}

impl From<Account> for AccountFacts {
    fn from(account: Account) -> Self {
        Self {
            operator: account.operator,
            entitled_api_set_ids: account.entitled_api_set_ids,
        }
    }
}

/// What judging a client secret or signature needs about its credential.
#[derive(Debug)]
pub struct CredentialFacts {
    /// The credential's id.
    pub id: Arc<str>,
    /// Its account.
    pub account_id: Arc<str>,
    /// Its Client ID.
    pub client_id: Arc<str>,
    /// Basic or HMAC.
    pub scheme: CredentialScheme,
    /// Enabled or disabled.
    pub state: CredentialState,
    /// When it expires, if it does.
    pub expire_time: Option<DateTime<Utc>>,
    /// The API sets it holds, sorted.
    pub api_set_ids: Vec<String>,
    /// Its stored secret versions, newest first.
    pub versions: Vec<VersionFacts>,
    /// The account's entry.
    pub account: FactKey,
}

impl CredentialFacts {
    /// The stored version whose secret embeds the key id `id`.
    pub fn version_with_key(&self, id: &IdBytes) -> Option<&VersionFacts> {
        self.versions.iter().find(|v| v.key_id.as_ref() == Some(id))
    }
}

impl From<(Credential, Vec<CredentialSecret>)> for CredentialFacts {
    fn from((credential, secrets): (Credential, Vec<CredentialSecret>)) -> Self {
        let account_id: Arc<str> = credential.account_id.into();
        Self {
            scheme: credential.scheme,
            id: credential.id.into(),
            account: FactKey::Account(account_id.clone()),
            account_id,
            client_id: credential.client_id.into(),
            state: credential.state,
            expire_time: credential.expire_time,
            api_set_ids: credential.api_set_ids,
            versions: secrets.into_iter().map(VersionFacts::from).collect(),
        }
    }
}

/// One stored version of a client secret.
#[derive(Debug)]
pub struct VersionFacts {
    /// 1 for the first secret, +1 on every renewal.
    pub version: i32,
    /// The key id its secret embeds (`None` only for versions stored before key ids were).
    pub key_id: Option<IdBytes>,
    /// End of its grace period once renewed away.
    pub expire_time: Option<DateTime<Utc>>,
    /// Its hash (Basic) or sealed secret (HMAC); `Debug` never shows it.
    pub material: Material,
}

/// The stored form of a client secret, shared without copying.
#[derive(Clone)]
pub enum Material {
    /// An argon2id PHC string.
    Hash(Arc<str>),
    /// Ciphertext sealed under a master key.
    Sealed {
        /// The AEAD ciphertext.
        ciphertext: Arc<[u8]>,
        /// Which master key sealed it.
        master_key_id: Arc<str>,
    },
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Material::Hash(_) => f.write_str("Hash(<redacted>)"),
            Material::Sealed { master_key_id, .. } => f
                .debug_struct("Sealed")
                .field("ciphertext", &"<redacted>")
                .field("master_key_id", master_key_id)
                .finish(),
        }
    }
}

impl From<CredentialSecret> for VersionFacts {
    fn from(secret: CredentialSecret) -> Self {
        Self {
            version: secret.version,
            key_id: secret
                .key_id
                .as_deref()
                .and_then(|id| KeyId::try_from(id).ok())
                .map(|id| id.to_bytes()),
            expire_time: secret.expire_time,
            material: match secret.material {
                SecretMaterial::Hash(phc) => Material::Hash(phc.into()),
                SecretMaterial::Sealed {
                    ciphertext,
                    master_key_id,
                } => Material::Sealed {
                    ciphertext: ciphertext.into(),
                    master_key_id: master_key_id.into(),
                },
            },
        }
    }
}

/// The API-set catalog, as verification asks it: which sets contain a method.
#[derive(Debug, Default)]
pub struct Catalog {
    sets_by_method: HashMap<String, Vec<String>>,
}

impl Catalog {
    /// The catalog of these (API set, method) pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut sets_by_method: HashMap<String, Vec<String>> = HashMap::new();
        for (set, method) in pairs {
            sets_by_method.entry(method).or_default().push(set);
        }
        for sets in sets_by_method.values_mut() {
            sets.sort();
            sets.dedup();
        }
        Self { sets_by_method }
    }

    /// The API sets containing `method`, sorted (none when no set contains it).
    pub fn sets_containing(&self, method: &str) -> &[String] {
        self.sets_by_method.get(method).map_or(&[], Vec::as_slice)
    }
}

/// The 20-character hex text of a key id's bytes.
pub fn id_text(bytes: &IdBytes) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_bytes_and_text_round_trip() {
        let id = KeyId::try_from("0123456789abcdef0a9f").unwrap();
        assert_eq!(id_text(&id.to_bytes()), "0123456789abcdef0a9f");
    }

    #[test]
    fn the_catalog_answers_the_sets_of_a_method_sorted() {
        let catalog = Catalog::new(vec![
            ("reports".into(), "/r.v1.R/Get".into()),
            ("billing".into(), "/r.v1.R/Get".into()),
            ("billing".into(), "/b.v1.B/Pay".into()),
        ]);
        assert_eq!(
            catalog.sets_containing("/r.v1.R/Get"),
            ["billing", "reports"]
        );
        assert_eq!(catalog.sets_containing("/b.v1.B/Pay"), ["billing"]);
        assert!(catalog.sets_containing("/nope").is_empty());
    }
}
