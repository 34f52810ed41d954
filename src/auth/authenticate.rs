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
}

/// Whether an API key whose secret matched may be used at `now`.
pub fn evaluate_api_key(access: &ApiKeyAccess, now: DateTime<Utc>) -> Result<(), KeyRefusal> {
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
    remembered: Arc<Mutex<HashMap<String, SecretDigest>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over the store.
    pub fn new(store: Store, hasher: SecretHasher, clock: SharedClock) -> Self {
        Self {
            store,
            hasher,
            clock,
            remembered: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The principal of an `authorization` value (None when absent).
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, ServiceError> {
        let value = authorization.ok_or(ServiceError::Unauthenticated)?;
        match parse_authorization(value)? {
            Presented::Bearer(key) => self.api_key(key).await,
            Presented::Basic { client_id, secret } => self.client(&client_id, secret).await,
        }
    }

    async fn api_key(&self, key: Key) -> Result<Principal, ServiceError> {
        let Some(access) = self.store.api_key_access(key.id().as_str()).await? else {
            self.hasher.verify_dummy_key(&key).await?;
            return Err(ServiceError::Unauthenticated);
        };
        let cache_key = format!("ak:{}", access.key.id);
        if !self
            .secret_matches(&cache_key, &key, access.key.secret_hash.clone())
            .await?
        {
            return Err(ServiceError::Unauthenticated);
        }
        evaluate_api_key(&access, self.clock.now()).map_err(|_| ServiceError::Unauthenticated)?;
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
    /// that the credential is disabled.
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
        Ok(judge_matched_client(matched, self.clock.now()))
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
