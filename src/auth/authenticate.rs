//! Turning the `authorization` metadata of a request into a [`Principal`].
//!
//! `Bearer <api key>` resolves a user; `Basic <base64(client_id:secret)>`
//! resolves an API client. Every way of failing — missing, malformed,
//! unknown, wrong secret, expired, revoked, disabled — gives the same
//! UNAUTHENTICATED, and an unknown ID costs one argon2 verification like a
//! wrong secret does, so nothing tells them apart.
//!
//! A secret verified once is remembered as its SHA-256 digest: later calls
//! compare digests in constant time instead of running argon2. The record's
//! state is read from the database on every call, so revoking, disabling or
//! deleting takes effect at once on every replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::hashing::SecretHasher;
use super::policy::Authority;
use super::principal::{Principal, PrincipalKind};
use crate::clock::SharedClock;
use crate::error::ServiceError;
use crate::usage::{UsageRecorder, UsageTarget};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use keyward_core::key::{Key, KeyKind, SecretDigest};
use keyward_store::{
    ApiKeyAccess, ApiKeyState, CredentialState, SecretMaterial, Store, StoreError, UserState,
};

/// The longest `authorization` value looked at; longer ones are refused
/// before any decoding.
const MAX_AUTHORIZATION_LEN: usize = 1024;

/// How many verified secrets are remembered before the memory is cleared.
const MAX_REMEMBERED: usize = 100_000;

/// What a presented credential is asked to be good for.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Validity only: no API set or method named.
    Validity,
    /// One API set, by ID: Keyward's own RPCs (the set of the RPC's row in the
    /// authorization table) and `VerifyApiKey` with `api_set`.
    ApiSet(&'a str),
    /// A method: the credential must hold one of the API sets containing it
    /// (none when the method is in no set of the catalog).
    AnyOf(&'a [String]),
}

impl Scope<'_> {
    /// Whether a credential holding `held` may be used in this scope. The
    /// one API-set rule, for API keys and client credentials alike.
    pub fn permits<'s>(&self, held: impl IntoIterator<Item = &'s String>) -> bool {
        let mut held = held.into_iter();
        match self {
            Scope::Validity => true,
            Scope::ApiSet(id) => held.any(|h| h == id),
            Scope::AnyOf(ids) => held.any(|h| ids.contains(h)),
        }
    }
}

/// Why a known, correctly presented API key may not be used. Shared by
/// authentication and `VerifyApiKey`, so both judge keys the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// The key was revoked.
    Revoked,
    /// The key has expired.
    Expired,
    /// The owner is disabled or no longer holds an authority allowing keys.
    OwnerDisabled,
    /// The key is usable, but not for the API set or method asked about.
    ApiSetNotAllowed,
}

/// The one judgement of an API key whose secret matched: whether it may be
/// used at `now` in `scope`. Revoked, expired and owner checks come first, so
/// API_SET_NOT_ALLOWED always means "usable, but not for this".
///
/// The owner is re-checked on every call: a user who is disabled or loses
/// every role granting `MANAGE_USER_API_KEY` (administrators hold it) stops
/// their keys at once; a deleted user's keys are deleted with them.
pub fn evaluate_api_key(
    access: &ApiKeyAccess,
    now: DateTime<Utc>,
    scope: Scope<'_>,
) -> Result<(), KeyRefusal> {
    if access.key.state == ApiKeyState::Revoked {
        return Err(KeyRefusal::Revoked);
    }
    if access.key.expire_time.is_some_and(|expiry| expiry <= now) {
        return Err(KeyRefusal::Expired);
    }
    let may_hold_keys = access.holds_builtin_role
        || access
            .authorities
            .contains(Authority::ManageUserApiKey.as_str());
    if access.user.state != UserState::Active || !may_hold_keys {
        return Err(KeyRefusal::OwnerDisabled);
    }
    if !scope.permits(&access.key.api_set_ids) {
        return Err(KeyRefusal::ApiSetNotAllowed);
    }
    Ok(())
}

/// Why a client credential is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRefusal {
    /// Unknown client ID, wrong secret, or a secret version that no longer exists: never
    /// told apart.
    Invalid,
    /// The credential, or the secret version presented, has expired.
    Expired,
    /// The credential is disabled.
    Disabled,
}

/// A client credential whose secret matched, and which version matched.
#[derive(Debug, Clone)]
pub struct ClientMatch {
    /// The credential.
    pub credential: keyward_store::Credential,
    /// The secret version that matched.
    pub version: i32,
    /// When that version stops verifying (set during a renewal grace period).
    pub version_expire_time: Option<DateTime<Utc>>,
}

impl ClientMatch {
    /// When the match stops being valid: the earlier of the credential's and the version's
    /// expiry.
    pub fn expire_time(&self) -> Option<DateTime<Utc>> {
        match (self.credential.expire_time, self.version_expire_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The verdict on a presented client credential.
#[derive(Debug, Clone)]
pub enum ClientJudgement {
    /// It may be used.
    Valid(ClientMatch),
    /// The secret did not match (or there was nothing to match): always
    /// [`ClientRefusal::Invalid`] to the outside. Carries the credential when the client ID
    /// exists, so that the failure can be audited against its account.
    Refused(Option<Box<keyward_store::Credential>>),
    /// The secret was right but the credential may not be used.
    RefusedMatched(ClientRefusal, ClientMatch),
}

/// Whether a client credential whose secret matched may be used at `now`. Shared by Basic
/// and HMAC verification.
pub fn judge_matched_client(matched: ClientMatch, now: DateTime<Utc>) -> ClientJudgement {
    let refusal = if matched.expire_time().is_some_and(|expiry| expiry <= now) {
        Some(ClientRefusal::Expired)
    } else if matched.credential.state != CredentialState::Active {
        Some(ClientRefusal::Disabled)
    } else {
        None
    };
    match refusal {
        Some(refusal) => ClientJudgement::RefusedMatched(refusal, matched),
        None => ClientJudgement::Valid(matched),
    }
}

/// What [`Authenticator::judge_api_key`] found out about a presented key.
#[derive(Debug)]
pub enum KeyJudgement {
    /// No key has that ID, or the secret does not match: deliberately one
    /// case, so that nobody learns which IDs exist.
    Invalid,
    /// The key exists and its secret matched.
    Known {
        /// The key, its owner and the owner's authorities, as read now.
        access: Box<ApiKeyAccess>,
        /// Whether it may be used.
        verdict: Result<(), KeyRefusal>,
    },
}

/// PERMISSION_DENIED for a usable credential that does not hold the API set
/// of the RPC it calls.
fn api_set_not_allowed(api_set: &str) -> ServiceError {
    ServiceError::PermissionDenied {
        reason: "API_SET_NOT_ALLOWED",
        message: format!(
            "the credential does not hold the API set {api_set} this method belongs to"
        ),
    }
}

/// What the caller presented, parsed but not yet checked.
enum Presented {
    Bearer(Key),
    Basic { client_id: String, secret: Key },
}

/// Parses the value of a `Basic` authorization header into client ID and secret; `None`
/// for anything malformed.
pub fn parse_basic(value: &str) -> Option<(String, Key)> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return None;
    }
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    let secret = Key::parse_kind(secret, KeyKind::ClientSecret).ok()?;
    Some((client_id.to_owned(), secret))
}

/// Parses an `authorization` value; any malformation is UNAUTHENTICATED.
fn parse_authorization(value: &str) -> Result<Presented, ServiceError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(ServiceError::Unauthenticated);
    }
    let (scheme, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(ServiceError::Unauthenticated)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        let key =
            Key::parse_kind(rest, KeyKind::ApiKey).map_err(|_| ServiceError::Unauthenticated)?;
        Ok(Presented::Bearer(key))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let (client_id, secret) = parse_basic(value).ok_or(ServiceError::Unauthenticated)?;
        Ok(Presented::Basic { client_id, secret })
    } else {
        Err(ServiceError::Unauthenticated)
    }
}

/// Resolves principals from request metadata.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    hasher: SecretHasher,
    clock: SharedClock,
    usage: UsageRecorder,
    remembered: Arc<Mutex<HashMap<String, SecretDigest>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over the store; successful uses of API keys are
    /// noted in `usage`.
    pub fn new(
        store: Store,
        hasher: SecretHasher,
        clock: SharedClock,
        usage: UsageRecorder,
    ) -> Self {
        Self {
            store,
            hasher,
            clock,
            usage,
            remembered: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The principal of an `authorization` value (None when absent), calling
    /// an RPC of the API set `api_set`. A usable credential without that API
    /// set is PERMISSION_DENIED (`API_SET_NOT_ALLOWED`); every other failure
    /// is the same UNAUTHENTICATED.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        api_set: &str,
    ) -> Result<Principal, ServiceError> {
        let value = authorization.ok_or(ServiceError::Unauthenticated)?;
        let principal = match parse_authorization(value)? {
            Presented::Bearer(key) => return self.api_key(key, api_set).await,
            Presented::Basic { client_id, secret } => self.client(&client_id, secret).await?,
        };
        if Scope::ApiSet(api_set).permits(&principal.api_sets) {
            Ok(principal)
        } else {
            Err(api_set_not_allowed(api_set))
        }
    }

    /// Judges a presented API key in `scope`: the one path shared by
    /// authentication and `VerifyApiKey`. An unknown ID costs one argon2 run
    /// like a wrong secret does; a secret verified before is compared by
    /// digest; the key's state, expiry, owner and API sets are read from the
    /// store every time. A key found usable has its use noted (last-used
    /// time, coalesced).
    pub async fn judge_api_key(
        &self,
        key: &Key,
        scope: Scope<'_>,
    ) -> Result<KeyJudgement, ServiceError> {
        let Some(access) = self.store.api_key_access(key.id().as_str()).await? else {
            self.hasher.verify_dummy_key(key).await?;
            return Ok(KeyJudgement::Invalid);
        };
        let cache_key = format!("ak:{}", access.key.id);
        if !self
            .secret_matches(&cache_key, key, access.key.secret_hash.clone())
            .await?
        {
            return Ok(KeyJudgement::Invalid);
        }
        let now = self.clock.now();
        let verdict = evaluate_api_key(&access, now, scope);
        if verdict.is_ok() {
            self.usage
                .note(UsageTarget::ApiKey(access.key.id.clone()), now)
                .await;
        }
        Ok(KeyJudgement::Known {
            access: Box::new(access),
            verdict,
        })
    }

    async fn api_key(&self, key: Key, api_set: &str) -> Result<Principal, ServiceError> {
        let access = match self.judge_api_key(&key, Scope::ApiSet(api_set)).await? {
            KeyJudgement::Known {
                access,
                verdict: Ok(()),
            } => *access,
            KeyJudgement::Known {
                verdict: Err(KeyRefusal::ApiSetNotAllowed),
                ..
            } => return Err(api_set_not_allowed(api_set)),
            KeyJudgement::Known { .. } | KeyJudgement::Invalid => {
                return Err(ServiceError::Unauthenticated);
            }
        };
        let ApiKeyAccess {
            key: api_key,
            user,
            account,
            authorities,
            holds_builtin_role,
        } = access;
        Ok(Principal {
            account_id: account.id,
            operator_account: account.operator,
            api_sets: api_key.api_set_ids.into_iter().collect(),
            kind: PrincipalKind::User {
                user_id: user.id,
                key_id: api_key.id,
                administrator: holds_builtin_role,
                authorities: Authority::set_from_stored(&authorities),
            },
        })
    }

    async fn client(&self, client_id: &str, secret: Key) -> Result<Principal, ServiceError> {
        let ClientJudgement::Valid(matched) = self.judge_client_secret(client_id, &secret).await?
        else {
            return Err(ServiceError::Unauthenticated);
        };
        let credential = matched.credential;
        let account = self.store.get_account(&credential.account_id).await?;
        Ok(Principal {
            account_id: account.id,
            operator_account: account.operator,
            api_sets: credential.api_set_ids.into_iter().collect(),
            kind: PrincipalKind::Client {
                credential_id: credential.id,
            },
        })
    }

    /// The one judgement of a client ID and Basic secret, for authentication and
    /// `VerifyClientSecret` alike.
    ///
    /// The secret's embedded key id picks the one stored version it claims to be, and
    /// argon2 runs once against it (or against a dummy hash when there is no such version,
    /// no such client ID, or the credential is an HMAC one), so every refusal before the
    /// secret matched costs the same and answers [`ClientRefusal::Invalid`]. Only a caller
    /// holding the right secret learns more: that the version or credential expired, or
    /// that the credential is disabled. A usable secret has its use noted (last-used time
    /// of its version, coalesced).
    pub async fn judge_client_secret(
        &self,
        client_id: &str,
        secret: &Key,
    ) -> Result<ClientJudgement, ServiceError> {
        let credential = match self.store.get_credential_by_client_id(client_id).await {
            Ok(credential) => Some(credential),
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        let candidate = match &credential {
            Some(credential) => self
                .store
                .list_credential_secrets(&credential.id)
                .await?
                .into_iter()
                .find(|s| s.key_id.as_deref() == Some(secret.id().as_str())),
            None => None,
        };
        let (Some(credential), Some(candidate)) = (credential.clone(), candidate) else {
            self.hasher.verify_dummy_key(secret).await?;
            return Ok(ClientJudgement::Refused(credential.map(Box::new)));
        };
        let SecretMaterial::Hash(phc) = candidate.material else {
            self.hasher.verify_dummy_key(secret).await?;
            return Ok(ClientJudgement::Refused(Some(Box::new(credential))));
        };
        let cache_key = format!("cs:{}:{}", credential.id, candidate.version);
        if !self.secret_matches(&cache_key, secret, phc).await? {
            return Ok(ClientJudgement::Refused(Some(Box::new(credential))));
        }
        let matched = ClientMatch {
            credential,
            version: candidate.version,
            version_expire_time: candidate.expire_time,
        };
        let now = self.clock.now();
        let judgement = judge_matched_client(matched, now);
        if let ClientJudgement::Valid(matched) = &judgement {
            let target = UsageTarget::CredentialSecret {
                credential_id: matched.credential.id.clone(),
                version: matched.version,
            };
            self.usage.note(target, now).await;
        }
        Ok(judgement)
    }

    /// Whether `key`'s secret matches the stored hash: by digest when this
    /// secret was verified before, by argon2 otherwise.
    async fn secret_matches(
        &self,
        cache_key: &str,
        key: &Key,
        phc: String,
    ) -> Result<bool, ServiceError> {
        let digest = key.secret_digest();
        if let Some(known) = self.remembered(cache_key)
            && known.ct_eq(&digest)
        {
            return Ok(true);
        }
        let matches = self.hasher.verify_key(key, phc).await?;
        if matches {
            self.remember(cache_key, digest);
        }
        Ok(matches)
    }

    fn remembered(&self, cache_key: &str) -> Option<SecretDigest> {
        self.remembered
            .lock()
            .ok()
            .and_then(|map| map.get(cache_key).cloned())
    }

    fn remember(&self, cache_key: &str, digest: SecretDigest) {
        if let Ok(mut map) = self.remembered.lock() {
            if map.len() >= MAX_REMEMBERED {
                map.clear();
            }
            map.insert(cache_key.to_owned(), digest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_store::{Account, ApiKey, User};

    fn access() -> ApiKeyAccess {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        ApiKeyAccess {
            key: ApiKey {
                id: "0123456789abcdef0123".into(),
                account_id: "acme".into(),
                user_id: "kai".into(),
                display_name: "ci".into(),
                description: String::new(),
                secret_hash: String::new(),
                state: ApiKeyState::Active,
                expire_time: Some(t + chrono::Duration::hours(1)),
                revoke_time: None,
                last_used_time: None,
                creator: String::new(),
                api_set_ids: vec!["billing".into(), "reports".into()],
                revision: 1,
                create_time: t,
                update_time: t,
            },
            user: User {
                account_id: "acme".into(),
                id: "kai".into(),
                display_name: "Kai".into(),
                email: "kai@acme.example".into(),
                state: UserState::Active,
                role_ids: vec!["key-holders".into()],
                revision: 1,
                create_time: t,
                update_time: t,
            },
            account: Account {
                id: "acme".into(),
                display_name: "Acme".into(),
                client_id_prefix: "acme-".into(),
                verified: true,
                operator: false,
                revision: 1,
                create_time: t,
                update_time: t,
            },
            authorities: ["MANAGE_USER_API_KEY".to_owned()].into(),
            holds_builtin_role: false,
        }
    }

    #[test]
    fn scopes_admit_exactly_the_api_sets_they_name() {
        let held = vec!["billing".to_owned(), "reports".to_owned()];
        assert!(Scope::Validity.permits(&held));
        assert!(Scope::Validity.permits(&Vec::<String>::new()));
        assert!(Scope::ApiSet("reports").permits(&held));
        assert!(!Scope::ApiSet("shipping").permits(&held));
        let method_sets = vec!["audit".to_owned(), "billing".to_owned()];
        assert!(Scope::AnyOf(&method_sets).permits(&held));
        assert!(!Scope::AnyOf(&["audit".to_owned()]).permits(&held));
        assert!(!Scope::AnyOf(&[]).permits(&held), "a method in no API set");
    }

    #[test]
    fn a_key_is_judged_on_its_state_then_its_owner_then_its_api_sets() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let usable = access();
        assert_eq!(
            evaluate_api_key(&usable, now, Scope::ApiSet("billing")),
            Ok(())
        );
        assert_eq!(
            evaluate_api_key(&usable, now, Scope::ApiSet("shipping")),
            Err(KeyRefusal::ApiSetNotAllowed)
        );
        assert_eq!(
            evaluate_api_key(&usable, now + chrono::Duration::hours(1), Scope::Validity),
            Err(KeyRefusal::Expired),
            "expired at its expire time"
        );

        let mut revoked = access();
        revoked.key.state = ApiKeyState::Revoked;
        assert_eq!(
            evaluate_api_key(&revoked, now, Scope::ApiSet("shipping")),
            Err(KeyRefusal::Revoked),
            "a refused key is never merely out of scope"
        );

        let mut disabled = access();
        disabled.user.state = UserState::Disabled;
        assert_eq!(
            evaluate_api_key(&disabled, now, Scope::Validity),
            Err(KeyRefusal::OwnerDisabled)
        );

        let mut demoted = access();
        demoted.authorities = ["VIEW_AUDIT_LOG".to_owned()].into();
        assert_eq!(
            evaluate_api_key(&demoted, now, Scope::ApiSet("billing")),
            Err(KeyRefusal::OwnerDisabled)
        );
        demoted.holds_builtin_role = true;
        assert_eq!(
            evaluate_api_key(&demoted, now, Scope::ApiSet("billing")),
            Ok(()),
            "administrators hold every authority"
        );
    }

    #[test]
    fn malformed_authorization_values_are_all_unauthenticated() {
        let key = Key::generate(KeyKind::ApiKey).unwrap();
        let token = secrecy::ExposeSecret::expose_secret(&key.to_token()).to_owned();
        let long = "x".repeat(5000);
        let cases = [
            String::new(),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            "Token abc".to_owned(),
            format!("Bearer {token}x"),
            format!("Bearer {long}"),
            "Basic !!!".to_owned(),
            "Basic dXNlcg==".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("c:wrong")
            ),
        ];
        for case in cases {
            assert!(
                matches!(
                    parse_authorization(&case),
                    Err(ServiceError::Unauthenticated)
                ),
                "{case:.40}"
            );
        }
        assert!(matches!(
            parse_authorization(&format!("bearer {token}")),
            Ok(Presented::Bearer(_))
        ));
    }
}
