//! The rule for granting API sets, written once: what a new key or credential (or a
//! credential's new API sets) may hold, given who grants them and the account they are for.
//! Creating a key, creating a credential, changing a credential's sets and listing the sets
//! available to a caller all apply it.
//!
//! A key or credential never grants more than its creator may hold:
//!
//! - Keyward's built-in sets (`keyward.*`, power over Keyward itself) only if the granting
//!   credential holds them.
//! - The platform's API sets only within the entitlements of the account the new key or
//!   credential belongs to (the operator account is entitled to every set).
//! - A *management* credential (one holding only built-in sets, as every account's first
//!   administrator key does) may grant any platform set the account is entitled to, the
//!   RPC's authority deciding who may grant at all; a credential *confined* to some
//!   platform sets may grant only those.
//! - A confined credential cannot create an unconfined one that could grant in turn
//!   (built-in sets only, among them `keyward.api-keys` or `keyward.credentials`):
//!   confinement is inherited.
//!
//! Whether each platform set exists is checked by the store, in the same transaction as the
//! write. The sets a principal holds are already narrowed to its own account's entitlements
//! (see [`crate::judgement::usable_api_sets`]), and verification narrows every credential's
//! sets the same way at every call, so a grant that races an entitlement's removal never
//! makes anything valid for the removed set.

use std::collections::BTreeSet;

use keyward_store::{Store, StoreError};

use super::policy::BuiltinApiSet;
use super::principal::Principal;
use crate::error::ServiceError;
use crate::identity::BUILTIN_API_SET_PREFIX;
use crate::index::facts::entitlements_of;
use crate::index::{FactKey, VerificationIndex};
use crate::judgement::Entitlements;

/// Why one API set may not be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotGrantable {
    /// The granting credential does not hold it (built-in sets, or any set for a confined
    /// credential).
    NotHeld,
    /// The account is not entitled to it.
    NotEntitled,
}

/// Whether `granter` may grant the API set `id` to a key or credential of an account with
/// `entitlements`; the first two rules of the module's list.
pub fn may_grant(
    granter: &Principal,
    entitlements: Entitlements<'_>,
    id: &str,
) -> Result<(), NotGrantable> {
    let held = &granter.api_sets;
    if (is_builtin(id) || is_confined(held)) && !held.contains(id) {
        return Err(NotGrantable::NotHeld);
    }
    if !entitlements.cover(id) {
        return Err(NotGrantable::NotEntitled);
    }
    Ok(())
}

/// The API sets a caller asks to grant a new key or credential of account `account_id`
/// (`names`, as `apiSets/{api_set}`, from request field `field`): at least one, each
/// well-formed, deduplicated and sorted, and each allowed by the rule of this module.
pub async fn grantable_api_sets(
    index: &VerificationIndex,
    store: &Store,
    account_id: &str,
    field: &str,
    names: &[String],
    granter: &Principal,
) -> Result<Vec<String>, ServiceError> {
    if names.is_empty() {
        return Err(ServiceError::invalid(
            field,
            "must name at least one API set",
        ));
    }
    let mut ids = BTreeSet::new();
    for name in names {
        ids.insert(crate::validate::names::api_set(field, name)?);
    }
    let account = index.account(&FactKey::Account(account_id.into())).await?;
    let entitlements = entitlements_of(account.as_deref());
    for id in &ids {
        match may_grant(granter, entitlements, id) {
            Ok(()) => {}
            Err(NotGrantable::NotHeld) => {
                return Err(not_held(format!(
                    "the calling credential can only grant API sets it holds itself; it does not hold {id}"
                )));
            }
            Err(NotGrantable::NotEntitled) => {
                // An account is never entitled to a set the catalog does not have: say that.
                if let Err(StoreError::NotFound { .. }) = store.get_api_set(id).await {
                    return Err(ServiceError::invalid(
                        field,
                        format!("names an API set that is not in the catalog: apiSets/{id}"),
                    ));
                }
                return Err(ServiceError::PermissionDenied {
                    reason: "API_SET_NOT_ENTITLED",
                    message: format!(
                        "account `{account_id}` is not entitled to API set `{id}`; an operator can entitle it (UpdateAccount, `entitled_api_sets`)"
                    ),
                });
            }
        }
    }
    let grants = [BuiltinApiSet::ApiKeys.id(), BuiltinApiSet::Credentials.id()];
    if is_confined(&granter.api_sets)
        && ids.iter().all(|id| is_builtin(id))
        && ids.iter().any(|id| grants.contains(&id.as_str()))
    {
        return Err(not_held(
            "a credential confined to platform API sets cannot create one that may grant any platform API set: include at least one of its platform API sets".to_owned(),
        ));
    }
    Ok(ids.into_iter().collect())
}

/// The API sets the holder of an enrollment token (`enrollment`, whose `api_sets` are the
/// sets the token offers) asks for the key it redeems the token for: each among those
/// offered (else PERMISSION_DENIED, `API_SET_NOT_OFFERED`), then the rule of this module
/// as for a credential holding the offered sets. The token's issuer could grant every set
/// it offers, so a choice among them grants nothing the issuer could not; the confinement
/// rule still applies, so that a choice never makes a management key out of an offer
/// confined to some platform sets.
pub async fn redeemable_api_sets(
    index: &VerificationIndex,
    store: &Store,
    account_id: &str,
    field: &str,
    names: &[String],
    enrollment: &Principal,
) -> Result<Vec<String>, ServiceError> {
    for name in names {
        let id = crate::validate::names::api_set(field, name)?;
        if !enrollment.api_sets.contains(&id) {
            return Err(ServiceError::PermissionDenied {
                reason: "API_SET_NOT_OFFERED",
                message: format!(
                    "the enrollment token does not offer API set `{id}`; it offers: {}",
                    enrollment
                        .api_sets
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    grantable_api_sets(index, store, account_id, field, names, enrollment).await
}

fn is_builtin(id: &str) -> bool {
    id.starts_with(BUILTIN_API_SET_PREFIX)
}

/// A credential holding some platform set is confined to the platform sets it holds.
fn is_confined(held: &BTreeSet<String>) -> bool {
    held.iter().any(|id| !is_builtin(id))
}

fn not_held(message: String) -> ServiceError {
    ServiceError::PermissionDenied {
        reason: "API_SET_NOT_HELD",
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PrincipalKind;

    fn holding(sets: &[&str]) -> Principal {
        Principal {
            account_id: "acme".into(),
            operator_account: false,
            api_sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            kind: PrincipalKind::Client {
                credential_id: "c".into(),
            },
            delegate: None,
        }
    }

    #[test]
    fn a_set_is_grantable_only_if_held_where_that_matters_and_entitled() {
        let entitled = vec!["billing".to_owned(), "reports".to_owned()];
        let only = Entitlements::Only(&entitled);
        let management = holding(&["keyward.api-keys", "keyward.credentials"]);
        assert_eq!(may_grant(&management, only, "billing"), Ok(()));
        assert_eq!(
            may_grant(&management, only, "shipping"),
            Err(NotGrantable::NotEntitled)
        );
        assert_eq!(
            may_grant(&management, Entitlements::Every, "shipping"),
            Ok(())
        );
        assert_eq!(may_grant(&management, only, "keyward.api-keys"), Ok(()));
        assert_eq!(
            may_grant(&management, only, "keyward.accounts"),
            Err(NotGrantable::NotHeld),
            "built-in sets only if held, whatever the entitlements"
        );

        let confined = holding(&["keyward.api-keys", "reports"]);
        assert_eq!(may_grant(&confined, only, "reports"), Ok(()));
        assert_eq!(
            may_grant(&confined, only, "billing"),
            Err(NotGrantable::NotHeld),
            "entitled, but a confined credential grants only its own"
        );
    }
}
