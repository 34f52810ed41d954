//! The rules of a verification, in one place: pure functions of the facts a judgement
//! needs and of the time it is judged at. No store, no clock source, no writes: the
//! authenticator and the verification index look the facts up, the handlers record what
//! happened.
//!
//! - [`Scope`]: the API-set question ("may it use this set, or this method?"), the one
//!   API-set rule for keys and client credentials, for Keyward's own RPCs and for gateways;
//! - [`Entitlements`] and [`usable_api_sets`]: the sets a credential holds count only while
//!   its account is entitled to them;
//! - [`judge_api_key`]: a key whose secret matched — revoked, expired, owner, then scope;
//! - [`judge_client`]: a client secret or signature that matched — expiry, then state;
//! - [`hmac_timestamp_fresh`]: the ±[`HMAC_WINDOW`] rule for signed requests.

use chrono::{DateTime, Duration, Utc};
use keyward_store::{ApiKeyState, CredentialState, UserState};

use crate::auth::Authority;
use crate::identity::BUILTIN_API_SET_PREFIX;

/// How far an HMAC-signed request's timestamp may be from the server clock, either way.
pub const HMAC_WINDOW: Duration = Duration::seconds(300);

/// What a presented credential is asked to be good for.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Validity only: no API set or method named.
    Validity,
    /// One API set, by ID: Keyward's own RPCs (the set of the RPC's row in the
    /// authorization table) and `Verify*` with `api_set`.
    ApiSet(&'a str),
    /// A method: the credential must hold one of the API sets containing it (none when the
    /// method is in no set of the catalog).
    AnyOf(&'a [String]),
}

impl Scope<'_> {
    /// Whether a credential holding `held` may be used in this scope. The one API-set rule,
    /// for API keys and client credentials alike.
    pub fn permits<'s>(&self, held: impl IntoIterator<Item = &'s String>) -> bool {
        let mut held = held.into_iter();
        match self {
            Scope::Validity => true,
            Scope::ApiSet(id) => held.any(|h| h == id),
            Scope::AnyOf(ids) => held.any(|h| ids.contains(h)),
        }
    }
}

/// The platform API sets an account may use: its entitlements, set by operators. Keyward's
/// built-in `keyward.*` sets are not entitlements and are always usable (their own rule
/// decides who may hold them); the operator account is entitled to every set.
#[derive(Debug, Clone, Copy)]
pub enum Entitlements<'a> {
    /// Every API set (the operator account).
    Every,
    /// These platform sets, sorted (nothing for an account that no longer exists).
    Only(&'a [String]),
}

impl<'a> Entitlements<'a> {
    /// What an account may use: every set for the operator account, else its entitled
    /// platform sets (sorted).
    pub fn of_account(operator: bool, entitled_api_set_ids: &'a [String]) -> Self {
        if operator {
            Entitlements::Every
        } else {
            Entitlements::Only(entitled_api_set_ids)
        }
    }

    /// Whether the account may use the API set `id`.
    pub fn cover(&self, id: &str) -> bool {
        match self {
            Entitlements::Every => true,
            Entitlements::Only(ids) => {
                id.starts_with(BUILTIN_API_SET_PREFIX)
                    || ids
                        .binary_search_by(|entitled| entitled.as_str().cmp(id))
                        .is_ok()
            }
        }
    }
}

/// The API sets a credential holding `held` may use now: those its account is entitled to.
/// A credential keeps the sets it was granted; taking an entitlement away stops them from
/// counting, giving it back makes them count again, and nothing else.
pub fn usable_api_sets<'a>(
    held: &'a [String],
    entitlements: Entitlements<'a>,
) -> impl Iterator<Item = &'a String> + 'a {
    held.iter().filter(move |id| entitlements.cover(id))
}

/// Why a known, correctly presented API key may not be used. Shared by authentication and
/// `VerifyApiKey`, so both judge keys the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// The key was revoked.
    Revoked,
    /// The key has expired.
    Expired,
    /// The owner is disabled or deleted, or no longer holds an authority allowing keys.
    OwnerDisabled,
    /// The key is usable, but not for the API set or method asked about.
    ApiSetNotAllowed,
}

/// What the judgement of an API key looks at.
#[derive(Debug, Clone, Copy)]
pub struct KeyFacts<'a> {
    /// The key's state.
    pub state: ApiKeyState,
    /// When the key expires, if it does.
    pub expire_time: Option<DateTime<Utc>>,
    /// The owner's state; `None` when the owner no longer exists.
    pub owner: Option<UserState>,
    /// Whether the owner holds the built-in administrator role or a role granting
    /// `MANAGE_USER_API_KEY`.
    pub owner_may_hold_keys: bool,
    /// The API sets the key holds.
    pub api_set_ids: &'a [String],
    /// What its account is entitled to use.
    pub entitlements: Entitlements<'a>,
}

/// Whether an owner with these roles may hold API keys: administrators (the built-in role)
/// hold every authority, anyone else needs `MANAGE_USER_API_KEY`.
pub fn may_hold_keys<'a>(
    holds_builtin_role: bool,
    mut authorities: impl Iterator<Item = &'a str>,
) -> bool {
    holds_builtin_role || authorities.any(|a| a == Authority::ManageUserApiKey.as_str())
}

/// The one judgement of an API key whose secret matched: whether it may be used at `now`
/// in `scope`. Revoked, expired and owner checks come first, so API_SET_NOT_ALLOWED always
/// means "usable, but not for this".
///
/// The owner counts on every call: a user who is disabled or loses every role granting
/// `MANAGE_USER_API_KEY` stops their keys at once.
pub fn judge_api_key(
    key: &KeyFacts<'_>,
    now: DateTime<Utc>,
    scope: Scope<'_>,
) -> Result<(), KeyRefusal> {
    if key.state == ApiKeyState::Revoked {
        return Err(KeyRefusal::Revoked);
    }
    if key.expire_time.is_some_and(|expiry| expiry <= now) {
        return Err(KeyRefusal::Expired);
    }
    if key.owner != Some(UserState::Active) || !key.owner_may_hold_keys {
        return Err(KeyRefusal::OwnerDisabled);
    }
    if !scope.permits(usable_api_sets(key.api_set_ids, key.entitlements)) {
        return Err(KeyRefusal::ApiSetNotAllowed);
    }
    Ok(())
}

/// Why a client credential is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRefusal {
    /// Unknown, wrong, renewed away or deleted: never told apart.
    Invalid,
    /// The credential, or the secret version presented, has expired.
    Expired,
    /// The credential is disabled.
    Disabled,
}

/// When a matched secret version stops being valid: the earlier of the credential's and
/// the version's expiry.
pub fn client_expire_time(
    credential: Option<DateTime<Utc>>,
    version: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match (credential, version) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether a client credential whose secret (or signature) matched the version expiring at
/// `expire_time` may be used at `now`: expiry first (a renewed-away secret after its grace
/// period is EXPIRED, Basic and HMAC alike), then the credential's state.
pub fn judge_client(
    state: CredentialState,
    expire_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), ClientRefusal> {
    if expire_time.is_some_and(|expiry| expiry <= now) {
        return Err(ClientRefusal::Expired);
    }
    if state != CredentialState::Active {
        return Err(ClientRefusal::Disabled);
    }
    Ok(())
}

/// Whether a signed request's timestamp (seconds since the epoch) is within
/// [`HMAC_WINDOW`] of `now`, either way.
pub fn hmac_timestamp_fresh(timestamp: i64, now: DateTime<Utc>) -> bool {
    now.timestamp().abs_diff(timestamp) <= HMAC_WINDOW.num_seconds().unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn usable_key(api_set_ids: &[String]) -> KeyFacts<'_> {
        KeyFacts {
            state: ApiKeyState::Active,
            expire_time: Some(at(3600)),
            owner: Some(UserState::Active),
            owner_may_hold_keys: true,
            api_set_ids,
            entitlements: Entitlements::Every,
        }
    }

    #[test]
    fn held_sets_count_only_while_the_account_is_entitled_to_them() {
        let held = vec![
            "billing".to_owned(),
            "keyward.verify".to_owned(),
            "reports".to_owned(),
        ];
        let entitled = vec!["reports".to_owned(), "shipping".to_owned()];
        let usable: Vec<&String> = usable_api_sets(&held, Entitlements::Only(&entitled)).collect();
        assert_eq!(
            usable,
            ["keyward.verify", "reports"],
            "built-in sets always count"
        );
        assert_eq!(usable_api_sets(&held, Entitlements::Every).count(), 3);
        assert_eq!(
            usable_api_sets(&held, Entitlements::Only(&[])).collect::<Vec<_>>(),
            ["keyward.verify"]
        );

        let key = KeyFacts {
            entitlements: Entitlements::Only(&entitled),
            ..usable_key(&held)
        };
        assert_eq!(judge_api_key(&key, at(0), Scope::ApiSet("reports")), Ok(()));
        assert_eq!(
            judge_api_key(&key, at(0), Scope::ApiSet("billing")),
            Err(KeyRefusal::ApiSetNotAllowed),
            "held, but no longer entitled"
        );
        assert_eq!(
            judge_api_key(&key, at(0), Scope::ApiSet("shipping")),
            Err(KeyRefusal::ApiSetNotAllowed),
            "entitled, but never granted"
        );
        assert_eq!(judge_api_key(&key, at(0), Scope::Validity), Ok(()));
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
        let sets = vec!["billing".to_owned(), "reports".to_owned()];
        let key = usable_key(&sets);
        assert_eq!(judge_api_key(&key, at(0), Scope::ApiSet("billing")), Ok(()));
        assert_eq!(
            judge_api_key(&key, at(0), Scope::ApiSet("shipping")),
            Err(KeyRefusal::ApiSetNotAllowed)
        );
        assert_eq!(
            judge_api_key(&key, at(3600), Scope::Validity),
            Err(KeyRefusal::Expired),
            "expired at its expire time"
        );
        let revoked = KeyFacts {
            state: ApiKeyState::Revoked,
            ..key
        };
        assert_eq!(
            judge_api_key(&revoked, at(0), Scope::ApiSet("shipping")),
            Err(KeyRefusal::Revoked),
            "a refused key is never merely out of scope"
        );
        for owner in [
            KeyFacts {
                owner: Some(UserState::Disabled),
                ..key
            },
            KeyFacts { owner: None, ..key },
            KeyFacts {
                owner_may_hold_keys: false,
                ..key
            },
        ] {
            assert_eq!(
                judge_api_key(&owner, at(0), Scope::Validity),
                Err(KeyRefusal::OwnerDisabled)
            );
        }
    }

    #[test]
    fn administrators_and_holders_of_the_authority_may_hold_keys() {
        assert!(may_hold_keys(true, std::iter::empty()));
        assert!(may_hold_keys(
            false,
            ["VIEW_AUDIT_LOG", "MANAGE_USER_API_KEY"].into_iter()
        ));
        assert!(!may_hold_keys(false, ["VIEW_AUDIT_LOG"].into_iter()));
    }

    #[test]
    fn a_client_is_judged_on_expiry_before_its_state() {
        assert_eq!(judge_client(CredentialState::Active, None, at(0)), Ok(()));
        assert_eq!(
            judge_client(CredentialState::Disabled, Some(at(0)), at(0)),
            Err(ClientRefusal::Expired)
        );
        assert_eq!(
            judge_client(CredentialState::Disabled, Some(at(1)), at(0)),
            Err(ClientRefusal::Disabled)
        );
        assert_eq!(client_expire_time(Some(at(5)), Some(at(3))), Some(at(3)));
        assert_eq!(client_expire_time(None, Some(at(3))), Some(at(3)));
        assert_eq!(client_expire_time(Some(at(5)), None), Some(at(5)));
        assert_eq!(client_expire_time(None, None), None);
    }

    #[test]
    fn signed_requests_are_fresh_within_the_window_either_way() {
        let now = at(0);
        assert!(hmac_timestamp_fresh(now.timestamp(), now));
        assert!(hmac_timestamp_fresh(now.timestamp() - 300, now));
        assert!(hmac_timestamp_fresh(now.timestamp() + 300, now));
        assert!(!hmac_timestamp_fresh(now.timestamp() - 301, now));
        assert!(!hmac_timestamp_fresh(now.timestamp() + 301, now));
    }
}
