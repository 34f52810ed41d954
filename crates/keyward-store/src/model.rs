//! The domain records the store takes and returns: plain Rust structs, independent of SeaORM,
//! so that the server can use them without depending on the ORM.
//!
//! `New*` structs are what a caller supplies to create a record; the store fills in what it
//! owns (`revision` starts at 1, `create_time` and `update_time` are the current time, rounded
//! to microseconds so that a record reads back equal on every backend). Enumerations are
//! stored as short lowercase text; [`as_str`](CredentialState::as_str) gives that text.
//!
//! `*Update` structs change a record in place: each `None` field is left as it is, each `Some`
//! replaces the stored value (a list replaces the whole list), and every update bumps the
//! record's `revision` and `update_time`.

use std::{collections::BTreeSet, fmt};

use chrono::{DateTime, Utc};

/// Which page of a keyset-paginated list to read.
///
/// `after` is the cursor: the key of the last item of the previous page (`None` for the first
/// page). `limit` is the page size; the store clamps it to `1..=`[`MAX_PAGE_SIZE`], so callers
/// apply their own default (for example 50) before calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C = String> {
    /// Key of the last item already seen; the page starts after it.
    pub after: Option<C>,
    /// Maximum number of items to return.
    pub limit: u64,
}

impl<C> PageRequest<C> {
    /// The first page, of at most `limit` items.
    pub fn first(limit: u64) -> Self {
        Self { after: None, limit }
    }
}

/// The largest page the store returns, whatever the request asks for.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C = String> {
    /// The items of this page, in list order.
    pub items: Vec<T>,
    /// Cursor for the next page, `None` when this page is the last one.
    pub next_after: Option<C>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Account id.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Prepended to every client ID minted in this account; unique across accounts.
    pub client_id_prefix: String,
    /// Whether a platform operator has verified the account.
    pub verified: bool,
    /// Whether this is the installation's operator account.
    pub operator: bool,
    /// The platform API sets the account is entitled to use, sorted. Always empty for the
    /// operator account, which is entitled to every set.
    pub entitled_api_set_ids: Vec<String>,
    /// Starts at 1 and grows by one on every update; the API's etag derives from it.
    pub revision: i64,
    /// When the account was created.
    pub create_time: DateTime<Utc>,
    /// When the account was last updated.
    pub update_time: DateTime<Utc>,
}

/// What it takes to create an [`Account`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Account id.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Client-ID prefix, unique across accounts.
    pub client_id_prefix: String,
    /// Whether the account starts verified (the operator account does).
    pub verified: bool,
    /// Whether this is the installation's operator account.
    pub operator: bool,
    /// The platform API sets it is entitled to use (never built-in sets; none for the
    /// operator account).
    pub entitled_api_set_ids: Vec<String>,
}

/// Changes to an [`Account`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpdate {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// The platform API sets it is entitled to use from now on, replacing the old list.
    pub entitled_api_set_ids: Option<Vec<String>>,
}

/// An account and its initial contents, created in one transaction by
/// [`Store::create_account_with`](crate::Store::create_account_with): roles first, then
/// users (who may hold those roles), then API keys (of those users).
///
/// Every role, user and API key must name `account.id` as its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSeed {
    /// The account.
    pub account: NewAccount,
    /// Its roles, for example the built-in administrator role.
    pub roles: Vec<NewRole>,
    /// Its users, for example the first administrator.
    pub users: Vec<NewUser>,
    /// API keys of those users.
    pub api_keys: Vec<NewApiKey>,
}

/// What [`Store::create_account_with`](crate::Store::create_account_with) created, in the
/// order of the [`AccountSeed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCreated {
    /// The account.
    pub account: Account,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its users.
    pub users: Vec<User>,
    /// Its API keys.
    pub api_keys: Vec<ApiKey>,
}

/// Whether a user may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserState {
    /// The user may sign in and use their keys.
    Active,
    /// The user is switched off.
    Disabled,
}

/// A person in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account the user belongs to.
    pub account_id: String,
    /// User id, unique within the account.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Email address as given (trimmed); unique per account, case-insensitively.
    pub email: String,
    /// Whether the user may act.
    pub state: UserState,
    /// The roles the user holds (ids of roles of the same account), sorted.
    pub role_ids: Vec<String>,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// When the user was created.
    pub create_time: DateTime<Utc>,
    /// When the user was last updated.
    pub update_time: DateTime<Utc>,
}

/// What it takes to create a [`User`]; new users are active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The account the user belongs to.
    pub account_id: String,
    /// User id, unique within the account.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Email address; unique per account, case-insensitively.
    pub email: String,
    /// The roles the user holds; each must be a role of the account. Duplicates are stored
    /// once.
    pub role_ids: Vec<String>,
}

/// Changes to a [`User`]; `role_ids` replaces the whole set of roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// New email address; unique per account, case-insensitively.
    pub email: Option<String>,
    /// The roles the user holds from now on; each must be a role of the account.
    pub role_ids: Option<Vec<String>>,
}

/// One change to a user, for [`Store::change_user_keeping_holder`](crate::Store::change_user_keeping_holder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// As [`Store::update_user`](crate::Store::update_user).
    Update(UserUpdate),
    /// As [`Store::set_user_state`](crate::Store::set_user_state).
    State(UserState),
    /// As [`Store::delete_user`](crate::Store::delete_user).
    Delete,
}

/// A named set of authorities in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The account the role belongs to.
    pub account_id: String,
    /// Role id, unique within the account.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the role is for.
    pub description: String,
    /// The authorities the role grants (for example `MANAGE_API_CLIENTS`), sorted.
    pub authorities: Vec<String>,
    /// Whether Keyward created the role itself (the administrator role).
    pub builtin: bool,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// When the role was created.
    pub create_time: DateTime<Utc>,
    /// When the role was last updated.
    pub update_time: DateTime<Utc>,
}

/// What it takes to create a [`Role`]. Duplicate authorities are stored once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    /// The account the role belongs to.
    pub account_id: String,
    /// Role id, unique within the account.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the role is for.
    pub description: String,
    /// The authorities the role grants.
    pub authorities: Vec<String>,
    /// Whether Keyward created the role itself.
    pub builtin: bool,
}

/// Changes to a [`Role`]; `authorities` replaces the whole set of authorities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleUpdate {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// The authorities the role grants from now on.
    pub authorities: Option<Vec<String>>,
}

/// A named group of API methods, from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSet {
    /// API-set id, for example `keyward.verify`.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the API set gives access to.
    pub description: String,
    /// Fully-qualified gRPC methods, for example `/keyward.v1.ApiKeyService/VerifyApiKey`,
    /// sorted.
    pub methods: Vec<String>,
    /// Whether the API set groups Keyward's own RPCs.
    pub builtin: bool,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// When the API set was created.
    pub create_time: DateTime<Utc>,
    /// When the API set was last updated.
    pub update_time: DateTime<Utc>,
}

/// What it takes to create an [`ApiSet`]. Duplicate methods are stored once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiSet {
    /// API-set id, globally unique.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the API set gives access to.
    pub description: String,
    /// Fully-qualified gRPC methods.
    pub methods: Vec<String>,
    /// Whether the API set groups Keyward's own RPCs.
    pub builtin: bool,
}

/// Changes to an [`ApiSet`]; `methods` replaces the whole set of methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiSetUpdate {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// The fully-qualified gRPC methods of the API set from now on.
    pub methods: Option<Vec<String>>,
}

/// Whether an API key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyState {
    /// The key authenticates (until its expire time, if any).
    Active,
    /// The key was revoked, for good.
    Revoked,
}

/// Which API keys a listing returns, by the state people see: an expired key is still
/// [`ApiKeyState::Active`] in storage, so expiry is judged at the time given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyFilter {
    /// Active keys that have not expired at `at`.
    Active {
        /// The time expiry is judged at.
        at: DateTime<Utc>,
    },
    /// Active keys whose expire time is at or before `at`.
    Expired {
        /// The time expiry is judged at.
        at: DateTime<Utc>,
    },
    /// Revoked keys, whatever their expire time.
    Revoked,
}

/// A user's API key. The key string the user holds embeds `id`; the store keeps only a hash
/// of its secret part, which `Debug` never shows.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Lookup id embedded in the key string, globally unique.
    pub id: String,
    /// The account of the user who owns the key.
    pub account_id: String,
    /// The user who owns the key.
    pub user_id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the key is for.
    pub description: String,
    /// Hash of the key's secret, as the server computed it.
    pub secret_hash: String,
    /// Whether the key may be used.
    pub state: ApiKeyState,
    /// When the key stops authenticating, if ever.
    pub expire_time: Option<DateTime<Utc>>,
    /// When the key was revoked (`None` while active).
    pub revoke_time: Option<DateTime<Utc>>,
    /// When the key last authenticated a request, if ever (not an update: it changes
    /// neither `revision` nor `update_time`).
    pub last_used_time: Option<DateTime<Utc>>,
    /// Resource name of the principal that created it.
    pub creator: String,
    /// The API sets the key may call, sorted.
    pub api_set_ids: Vec<String>,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// When the key was created.
    pub create_time: DateTime<Utc>,
    /// When the key was last updated.
    pub update_time: DateTime<Utc>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("user_id", &self.user_id)
            .field("display_name", &self.display_name)
            .field("description", &self.description)
            .field("secret_hash", &"<redacted>")
            .field("state", &self.state)
            .field("expire_time", &self.expire_time)
            .field("revoke_time", &self.revoke_time)
            .field("last_used_time", &self.last_used_time)
            .field("creator", &self.creator)
            .field("api_set_ids", &self.api_set_ids)
            .field("revision", &self.revision)
            .field("create_time", &self.create_time)
            .field("update_time", &self.update_time)
            .finish()
    }
}

/// What it takes to create an [`ApiKey`]; new keys are active. `Debug` never shows the
/// secret hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Lookup id embedded in the key string, globally unique.
    pub id: String,
    /// The account of the user who owns the key.
    pub account_id: String,
    /// The user who owns the key; must exist in the account.
    pub user_id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the key is for.
    pub description: String,
    /// Hash of the key's secret.
    pub secret_hash: String,
    /// When the key stops authenticating, if ever.
    pub expire_time: Option<DateTime<Utc>>,
    /// Resource name of the principal that creates it.
    pub creator: String,
    /// The API sets the key may call; each must exist. Duplicates are stored once.
    pub api_set_ids: Vec<String>,
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("user_id", &self.user_id)
            .field("display_name", &self.display_name)
            .field("description", &self.description)
            .field("secret_hash", &"<redacted>")
            .field("expire_time", &self.expire_time)
            .field("creator", &self.creator)
            .field("api_set_ids", &self.api_set_ids)
            .finish()
    }
}

/// A one-time enrollment token: with it, its user creates their own first API key, once.
/// The token string embeds `id`; the store keeps only a hash of its secret, which `Debug`
/// never shows.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Lookup id embedded in the token string, globally unique.
    pub id: String,
    /// The account of the user it is for.
    pub account_id: String,
    /// The user it is for: the only one who can redeem it, for their own key.
    pub user_id: String,
    /// Hash of the token's secret, as the server computed it.
    pub secret_hash: String,
    /// The API sets the key made with it may hold (the user picks among them), sorted.
    pub api_set_ids: Vec<String>,
    /// Resource name of the principal that issued it.
    pub creator: String,
    /// When it was issued.
    pub create_time: DateTime<Utc>,
    /// When it stops being redeemable.
    pub expire_time: DateTime<Utc>,
    /// When it was redeemed, if it was.
    pub redeem_time: Option<DateTime<Utc>>,
    /// The id of the API key it was redeemed for, if it was.
    pub api_key_id: Option<String>,
    /// When it was revoked, if it was.
    pub revoke_time: Option<DateTime<Utc>>,
}

impl fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("user_id", &self.user_id)
            .field("secret_hash", &"<redacted>")
            .field("api_set_ids", &self.api_set_ids)
            .field("creator", &self.creator)
            .field("create_time", &self.create_time)
            .field("expire_time", &self.expire_time)
            .field("redeem_time", &self.redeem_time)
            .field("api_key_id", &self.api_key_id)
            .field("revoke_time", &self.revoke_time)
            .finish()
    }
}

/// What it takes to issue an [`EnrollmentToken`]. `Debug` never shows the secret hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEnrollmentToken {
    /// Lookup id embedded in the token string, globally unique.
    pub id: String,
    /// The account of the user it is for.
    pub account_id: String,
    /// The user it is for; must exist in the account.
    pub user_id: String,
    /// Hash of the token's secret.
    pub secret_hash: String,
    /// The API sets offered; each must exist. Duplicates are stored once.
    pub api_set_ids: Vec<String>,
    /// Resource name of the principal that issues it.
    pub creator: String,
    /// When it stops being redeemable.
    pub expire_time: DateTime<Utc>,
}

impl fmt::Debug for NewEnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEnrollmentToken")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("user_id", &self.user_id)
            .field("secret_hash", &"<redacted>")
            .field("api_set_ids", &self.api_set_ids)
            .field("creator", &self.creator)
            .field("expire_time", &self.expire_time)
            .finish()
    }
}

/// Changes to an [`ApiKey`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyUpdate {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Everything authentication needs to know about the holder of an API key, read at once by
/// [`Store::api_key_access`](crate::Store::api_key_access). Whether the key, user and account
/// may act (state, expiry, verification) is for the caller to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyAccess {
    /// The key, with its API sets.
    pub key: ApiKey,
    /// Its owner, with their roles.
    pub user: User,
    /// The owner's account.
    pub account: Account,
    /// The union of the authorities of the user's roles.
    pub authorities: BTreeSet<String>,
    /// Whether one of the user's roles is built-in (the administrator role).
    pub holds_builtin_role: bool,
}

/// The remembered outcome of a request that carried a request id, so that a retry gets the
/// first result instead of doing the work twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// What the request id is unique within, for example the caller and the method.
    pub scope: String,
    /// The request id the client sent.
    pub request_id: String,
    /// Digest of the request, to tell a retry from a different request reusing the id.
    pub request_fingerprint: String,
    /// Resource name of what the first request created or changed.
    pub resource_name: String,
    /// When the record was stored.
    pub create_time: DateTime<Utc>,
    /// When the record stops counting.
    pub expire_time: DateTime<Utc>,
}

/// The outcome of [`Store::claim_idempotency_record`](crate::Store::claim_idempotency_record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The request id is now held by the caller, pending: do the work, then
    /// `Store::complete_idempotency_record` (or `Store::release_idempotency_record`).
    Claimed,
    /// An unexpired record holds the request id already: finished when its
    /// `resource_name` is set, pending (another request is at work) when it is empty.
    Held(IdempotencyRecord),
}

/// What it takes to claim a request id (a pending [`IdempotencyRecord`]); the store sets
/// `create_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdempotencyRecord {
    /// What the request id is unique within.
    pub scope: String,
    /// The request id the client sent.
    pub request_id: String,
    /// Digest of the request.
    pub request_fingerprint: String,
    /// When the record stops counting.
    pub expire_time: DateTime<Utc>,
}

/// How an API client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialScheme {
    /// The caller sends client ID and secret; the store keeps an argon2id hash.
    Basic,
    /// The caller signs requests with the secret; the store keeps it sealed under a master key.
    Hmac,
}

/// Whether a credential may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialState {
    /// The credential verifies.
    Active,
    /// The credential is switched off (and can be switched on again).
    Disabled,
}

/// The stored form of one secret. Its `Debug` output never shows the material.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretMaterial {
    /// An argon2id hash in PHC string form, for secrets that are only verified (Basic).
    Hash(String),
    /// The secret sealed with authenticated encryption, for secrets the server needs back
    /// (HMAC).
    Sealed {
        /// AEAD ciphertext (nonce and tag included, as the sealing code lays them out).
        ciphertext: Vec<u8>,
        /// Which master key sealed it.
        master_key_id: String,
    },
}

impl SecretMaterial {
    /// The scheme this kind of material serves: a hash means Basic, a sealed secret HMAC.
    pub fn scheme(&self) -> CredentialScheme {
        match self {
            SecretMaterial::Hash(_) => CredentialScheme::Basic,
            SecretMaterial::Sealed { .. } => CredentialScheme::Hmac,
        }
    }
}

impl fmt::Debug for SecretMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretMaterial::Hash(_) => f.write_str("Hash(<redacted>)"),
            SecretMaterial::Sealed { master_key_id, .. } => f
                .debug_struct("Sealed")
                .field("ciphertext", &"<redacted>")
                .field("master_key_id", master_key_id)
                .finish(),
        }
    }
}

/// A secret to store as a new version of a credential's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecretVersion {
    /// The stored form of the secret.
    pub material: SecretMaterial,
    /// The key id embedded in the secret token (`kw_cs_{key id}_…`): not secret, it picks the
    /// version a presented secret claims to be.
    pub key_id: String,
}

/// A renewal of a credential's secret (see [`crate::Store::renew_credential_secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRenewal {
    /// The new current secret.
    pub secret: NewSecretVersion,
    /// Until when the secret being replaced keeps verifying; `None` (or a time not after
    /// the renewal) ends it at once.
    pub grace_until: Option<DateTime<Utc>>,
}

/// Changes to a credential; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New application.
    pub application: Option<String>,
    /// New API sets (replacing the old ones); each must exist.
    pub api_set_ids: Option<Vec<String>>,
}

/// What [`Store::renew_credential_secret`](crate::Store::renew_credential_secret) did: the
/// credential and its secret versions as its own transaction left them (so that concurrent
/// renewals each see their own), and the version of the new secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewedSecret {
    /// The credential, its revision bumped.
    pub credential: Credential,
    /// Its secret versions right after the renewal, newest first.
    pub secrets: Vec<CredentialSecret>,
    /// The version of the secret the renewal stored.
    pub version: i32,
}

/// One stored version of a credential's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSecret {
    /// The credential the secret belongs to.
    pub credential_id: String,
    /// 1 for the first secret, +1 on every renewal.
    pub version: i32,
    /// The stored form of the secret.
    pub material: SecretMaterial,
    /// When the secret was created.
    pub create_time: DateTime<Utc>,
    /// End of the grace period of a renewed-away secret; `None` while it is current.
    pub expire_time: Option<DateTime<Utc>>,
    /// When the secret last verified successfully.
    pub last_used_time: Option<DateTime<Utc>>,
    /// The key id embedded in the secret token; `None` only for versions stored before key
    /// ids were recorded.
    pub key_id: Option<String>,
}

impl CredentialSecret {
    /// Whether the version still verifies at `now`: current, or in its grace period.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expire_time.is_none_or(|expiry| expiry > now)
    }
}

/// API client credentials (client ID and secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Server-generated id, globally unique.
    pub id: String,
    /// The account the credential belongs to.
    pub account_id: String,
    /// Client ID (account prefix + identifier), globally unique.
    pub client_id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the credential is for.
    pub description: String,
    /// The application that uses the credential.
    pub application: String,
    /// Contact email as given (trimmed); unique per account, case-insensitively.
    pub contact_email: String,
    /// How the client authenticates.
    pub scheme: CredentialScheme,
    /// Whether the credential may be used.
    pub state: CredentialState,
    /// When the credential stops verifying, if ever.
    pub expire_time: Option<DateTime<Utc>>,
    /// Resource name of the principal that created it.
    pub creator: String,
    /// The API sets the credential may use, sorted.
    pub api_set_ids: Vec<String>,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// When the credential was created.
    pub create_time: DateTime<Utc>,
    /// When the credential was last updated.
    pub update_time: DateTime<Utc>,
    /// When a leak report proved one of its secrets leaked; while set, the credential is
    /// disabled and cannot be enabled until its secret is renewed.
    pub compromise_time: Option<DateTime<Utc>>,
}

/// What it takes to create a [`Credential`]. New credentials are active; the scheme follows
/// from `first_secret` (see [`SecretMaterial::scheme`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// Server-generated id, globally unique.
    pub id: String,
    /// The account the credential belongs to.
    pub account_id: String,
    /// Client ID, globally unique.
    pub client_id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the credential is for.
    pub description: String,
    /// The application that uses the credential.
    pub application: String,
    /// Contact email; at most one credential per contact email per account,
    /// case-insensitively.
    pub contact_email: String,
    /// When the credential stops verifying, if ever.
    pub expire_time: Option<DateTime<Utc>>,
    /// Resource name of the principal that creates it.
    pub creator: String,
    /// The API sets the credential may use; each must exist. Duplicates are stored once.
    pub api_set_ids: Vec<String>,
    /// Secret version 1.
    pub first_secret: NewSecretVersion,
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    /// The action succeeded.
    Success,
    /// The action failed (for example a wrong secret).
    Failure,
    /// The caller was not allowed to do it.
    Denied,
}

/// One entry of an account's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing id; the log lists newest first.
    pub id: i64,
    /// The account the event concerns (events outlive the resources they mention).
    pub account_id: String,
    /// When the event was recorded.
    pub time: DateTime<Utc>,
    /// Resource name of the principal that acted.
    pub actor: String,
    /// For a call a front end made for a signed-in user (`keyward-act-as`): the resource
    /// name of the front end's credential, `actor` being that user.
    pub delegate: Option<String>,
    /// What was done, for example `CreateCredential`.
    pub action: String,
    /// Resource name of what it was done to.
    pub resource: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Free-form detail, never a secret; may be empty.
    pub detail: String,
    /// How many identical events this row stands for (repeated failures are counted).
    pub count: i64,
    /// Its place in the account's hash chain, from 1.
    pub sequence: i64,
    /// The hash of the account's event before it (hex; 64 zeros for the first).
    pub prev_hash: String,
    /// Its hash (hex): SHA-256 of `prev_hash` and its canonical bytes
    /// (`keyward_core::audit_chain`).
    pub hash: String,
}

impl AuditEvent {
    /// The event as the hash chain sees it.
    pub fn chained(&self) -> keyward_core::audit_chain::ChainedEvent {
        keyward_core::audit_chain::ChainedEvent {
            account_id: self.account_id.clone(),
            sequence: self.sequence,
            time: chain_time(self.time),
            actor: self.actor.clone(),
            delegate: self.delegate.clone().unwrap_or_default(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            outcome: self.outcome.as_str().to_owned(),
            count: self.count,
            detail: self.detail.clone(),
        }
    }
}

/// An event time in the chain's canonical form: RFC 3339, UTC, six fractional digits.
pub fn chain_time(time: DateTime<Utc>) -> String {
    time.format(keyward_core::audit_chain::TIME_FORMAT)
        .to_string()
}

/// What it takes to append an [`AuditEvent`]; the store sets `id` and `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// How many identical events the row stands for: 1 for one action, the number of
    /// attempts for counted failures (at least 1 is stored).
    pub count: i64,
    /// The account the event concerns.
    pub account_id: String,
    /// Resource name of the principal that acted.
    pub actor: String,
    /// For a call a front end made for a signed-in user (`keyward-act-as`): the resource
    /// name of the front end's credential, `actor` being that user.
    pub delegate: Option<String>,
    /// What was done.
    pub action: String,
    /// Resource name of what it was done to.
    pub resource: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Free-form detail, never a secret; may be empty.
    pub detail: String,
}

/// Text forms of the enumerations, as stored in the database.
macro_rules! stored_text {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The lowercase text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }

            /// Parses the stored text; `None` for anything else.
            pub fn from_stored(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_text!(UserState { Active => "active", Disabled => "disabled" });
stored_text!(ApiKeyState { Active => "active", Revoked => "revoked" });
stored_text!(CredentialScheme { Basic => "basic", Hmac => "hmac" });
stored_text!(CredentialState { Active => "active", Disabled => "disabled" });
stored_text!(AuditOutcome { Success => "success", Failure => "failure", Denied => "denied" });

/// What a last-used time belongs to ([`crate::Store::touch_last_used`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastUsed<'a> {
    /// An API key, by id.
    ApiKey(&'a str),
    /// One version of a client credential's secret.
    CredentialSecret {
        /// The credential's id.
        credential_id: &'a str,
        /// The secret version.
        version: i32,
    },
}

/// A fact that verifications depend on and that a write changed: what one row of the change
/// log names (see [`crate::Store::changes_after`]). Replicas drop what they remember of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Changed {
    /// An API key: created, revoked, updated or deleted (also when its owner was deleted).
    ApiKey {
        /// The key's account.
        account_id: String,
        /// The key's id.
        key_id: String,
    },
    /// A user: created, updated (roles), enabled, disabled or deleted.
    User {
        /// The user's account.
        account_id: String,
        /// The user's id.
        user_id: String,
    },
    /// A role: created, updated (authorities) or deleted.
    Role {
        /// The role's account.
        account_id: String,
        /// The role's id.
        role_id: String,
    },
    /// An account: created or updated.
    Account {
        /// The account's id.
        account_id: String,
    },
    /// A client credential: created, updated (API sets), enabled, disabled, renewed,
    /// re-sealed or deleted.
    Credential {
        /// The credential's account.
        account_id: String,
        /// The credential's id.
        credential_id: String,
    },
    /// A Client ID now names a credential, or no longer does.
    ClientId {
        /// The credential's account.
        account_id: String,
        /// The Client ID.
        client_id: String,
    },
    /// A client secret version with this key id was created.
    SecretKey {
        /// The credential's account.
        account_id: String,
        /// The key id embedded in the secret.
        key_id: String,
    },
    /// The API-set catalog: a set created, updated or deleted.
    Catalog,
    /// A kind of change this version does not know (written by a newer replica during a
    /// rolling upgrade): whoever reads it must forget everything.
    Unknown,
}

/// One row of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Position in the log: strictly increasing in commit order, never reused.
    pub seq: i64,
    /// What changed.
    pub changed: Changed,
    /// When the change was committed (the database's clock, to the microsecond).
    pub time: DateTime<Utc>,
}
