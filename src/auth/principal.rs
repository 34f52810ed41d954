//! The resolved caller of an RPC, and the one function that applies the
//! authorization table to it.
//!
//! Permission before existence: a use case calls [`Caller::authorize`] (or
//! `authorize_user`, `authorize_own_account`, `authorize_without_account`) with the
//! account its input names before it looks anything up, and a denial is worded from the
//! rule alone, so a resource in another account answers byte-for-byte like one that does
//! not exist.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::policy::{Authority, RpcPolicy, Rule};
use crate::error::ServiceError;

/// Whoever calls, resolved once from the request metadata by the auth layer.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account the credential belongs to.
    pub account_id: String,
    /// Whether that account is the installation's operator account.
    pub operator_account: bool,
    /// The API sets the presented credential holds.
    pub api_sets: BTreeSet<String>,
    /// A user (API key) or an API client (client ID and secret).
    pub kind: PrincipalKind,
    /// For a call a front end makes for one of its signed-in users (`keyward-act-as`):
    /// the resource name of the front end's credential. The principal is then that user,
    /// and the audit log records both.
    pub delegate: Option<String>,
}

/// The two kinds of caller.
#[derive(Debug, Clone)]
pub enum PrincipalKind {
    /// A user, calling with one of their API keys.
    User {
        /// The user's ID in the account.
        user_id: String,
        /// The API key presented; `None` when a front end acts for the user.
        key_id: Option<String>,
        /// Whether the user holds the built-in administrator role.
        administrator: bool,
        /// The authorities of the user's roles.
        authorities: BTreeSet<Authority>,
    },
    /// An API client, calling with its client ID and secret. It holds no
    /// user authorities.
    Client {
        /// The credential's ID.
        credential_id: String,
    },
    /// A user's one-time enrollment token, presented to redeem it for the user's first
    /// API key: the [`Rule::Enrollee`] rows of the table admit it, and no other row does.
    /// The principal's `api_sets` are the sets the token offers.
    Enrollment {
        /// The user the token was issued to.
        user_id: String,
        /// The token's ID.
        token_id: String,
        /// Whether the user holds the built-in administrator role.
        administrator: bool,
        /// The authorities of the user's roles.
        authorities: BTreeSet<Authority>,
    },
}

/// The account of a request that touches none: no caller is a member of it (account IDs
/// are never empty).
const NO_ACCOUNT: &str = "";

/// The resource name of an enrollment token:
/// `accounts/{account}/users/{user}/enrollmentTokens/{token}`. The one place it is made.
pub fn enrollment_token_name(account_id: &str, user_id: &str, token_id: &str) -> String {
    format!("accounts/{account_id}/users/{user_id}/enrollmentTokens/{token_id}")
}

/// `accounts/{account}/credentials/{credential}`.
pub fn credential_name(account_id: &str, credential_id: &str) -> String {
    format!("accounts/{account_id}/credentials/{credential_id}")
}

/// The resource name of an API key: `accounts/{account}/users/{user}/apiKeys/{key}`. The
/// one place it is made (the edge's `convert::key_name` and the audit log call it).
pub fn api_key_name(account_id: &str, user_id: &str, key_id: &str) -> String {
    format!("accounts/{account_id}/users/{user_id}/apiKeys/{key_id}")
}

impl Principal {
    /// Resource name of the caller, for audit events and creators:
    /// `accounts/{a}/users/{u}/apiKeys/{k}` or `accounts/{a}/credentials/{c}` for the
    /// credential presented, `accounts/{a}/users/{u}` for a user a front end acts for (see
    /// [`Principal::delegate`]).
    pub fn name(&self) -> String {
        match &self.kind {
            PrincipalKind::User {
                user_id,
                key_id: Some(key_id),
                ..
            } => api_key_name(&self.account_id, user_id, key_id),
            PrincipalKind::User { user_id, .. } => {
                format!("accounts/{}/users/{user_id}", self.account_id)
            }
            PrincipalKind::Client { credential_id } => {
                credential_name(&self.account_id, credential_id)
            }
            PrincipalKind::Enrollment {
                user_id, token_id, ..
            } => enrollment_token_name(&self.account_id, user_id, token_id),
        }
    }

    /// The caller's user ID, if the caller is a user (or a user's enrollment token).
    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { user_id, .. } | PrincipalKind::Enrollment { user_id, .. } => {
                Some(user_id)
            }
            PrincipalKind::Client { .. } => None,
        }
    }

    /// Whether the caller presented an enrollment token.
    pub fn is_enrollment(&self) -> bool {
        matches!(self.kind, PrincipalKind::Enrollment { .. })
    }

    /// Whether the caller is a user holding the built-in administrator role.
    pub fn is_administrator(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::User {
                administrator: true,
                ..
            }
        )
    }

    /// Operators: administrators of the operator account.
    pub fn is_operator(&self) -> bool {
        self.operator_account && self.is_administrator()
    }

    /// Every authority the caller holds in its own account (for an enrollment token, its
    /// user's).
    pub fn authorities(&self) -> BTreeSet<Authority> {
        match &self.kind {
            PrincipalKind::User {
                administrator: true,
                ..
            }
            | PrincipalKind::Enrollment {
                administrator: true,
                ..
            } => Authority::ALL.into_iter().collect(),
            PrincipalKind::User { authorities, .. }
            | PrincipalKind::Enrollment { authorities, .. } => authorities.clone(),
            PrincipalKind::Client { .. } => BTreeSet::new(),
        }
    }

    /// Whether the caller holds `authority` in its own account (for an enrollment token,
    /// whether its user does).
    pub fn has_authority(&self, authority: Authority) -> bool {
        match &self.kind {
            PrincipalKind::User {
                administrator,
                authorities,
                ..
            }
            | PrincipalKind::Enrollment {
                administrator,
                authorities,
                ..
            } => *administrator || authorities.contains(&authority),
            PrincipalKind::Client { .. } => false,
        }
    }
}

/// The principal of a request together with the table row of its RPC; the
/// auth layer puts it into the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who calls.
    pub principal: Arc<Principal>,
    /// The authorization table row of the RPC being called.
    pub policy: &'static RpcPolicy,
}

impl Caller {
    /// The caller of a request that went through the auth layer.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, ServiceError> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                ServiceError::Internal("the request did not pass through the auth layer".into())
            })
    }

    /// Applies the RPC's rule to a request touching `account_id`. Nothing in
    /// the answer depends on whether the resource exists, so a caller without
    /// rights learns nothing about other accounts.
    pub fn authorize(&self, account_id: &str) -> Result<(), ServiceError> {
        self.authorize_user(account_id, None)
    }

    /// [`Caller::authorize`] for RPCs whose request names no account (verifications, the
    /// catalog, listings across accounts, leak reports): the rule is judged in the caller's
    /// own account.
    pub fn authorize_own_account(&self) -> Result<(), ServiceError> {
        self.authorize_user(&self.principal.account_id, None)
    }

    /// [`Caller::authorize`] for a request that creates an account: no existing account is
    /// touched, so only rules that hold without one (operators) can pass.
    pub fn authorize_without_account(&self) -> Result<(), ServiceError> {
        if self.satisfies(self.policy.rule, NO_ACCOUNT, None) {
            Ok(())
        } else {
            Err(self.denied())
        }
    }

    /// As [`Caller::authorize`] for requests that name a user (API keys): the
    /// `OwnUser` rules compare it with the caller.
    pub fn authorize_user(
        &self,
        account_id: &str,
        user_id: Option<&str>,
    ) -> Result<(), ServiceError> {
        if self.satisfies(self.policy.rule, account_id, user_id) {
            Ok(())
        } else {
            Err(self.denied())
        }
    }

    /// Applies the rule of a request field that has one of its own
    /// ([`FIELD_POLICIES`](super::policy::FIELD_POLICIES)), for a request touching
    /// `account_id` that sets `field` (an update-mask path). Fields without a row of their
    /// own need nothing more than the RPC's rule.
    pub fn authorize_field(&self, account_id: &str, field: &str) -> Result<(), ServiceError> {
        let Some(row) = super::policy::FIELD_POLICIES
            .iter()
            .find(|row| row.method == self.policy.method && row.field == field)
        else {
            return Ok(());
        };
        if self.satisfies(row.rule, account_id, None) {
            return Ok(());
        }
        let who = match row.rule {
            Rule::Operator => "operators".to_owned(),
            Rule::Administrator => "administrators of the resource's account".to_owned(),
            Rule::Authority(authority)
            | Rule::OwnUser(authority)
            | Rule::OwnUserOrAdministrator(authority) => {
                format!("holders of {}", authority.as_str())
            }
            Rule::Enrollee(authority) => format!(
                "the holder of an enrollment token, whose user holds {}",
                authority.as_str()
            ),
            Rule::Member => "members of the resource's account".to_owned(),
            Rule::OperatorMember => "members of the operator account".to_owned(),
            Rule::Authenticated => "authenticated callers".to_owned(),
        };
        Err(ServiceError::PermissionDenied {
            reason: "PERMISSION_DENIED",
            message: format!("only {who} may set `{field}`"),
        })
    }

    fn satisfies(&self, rule: Rule, account_id: &str, user_id: Option<&str>) -> bool {
        let p = &self.principal;
        // An enrollment token redeems itself and does nothing else; nothing else redeems.
        if p.is_enrollment() != matches!(rule, Rule::Enrollee(_)) {
            return false;
        }
        let own_account = p.account_id == account_id;
        let own_user = own_account && user_id.is_some() && p.user_id() == user_id;
        match rule {
            Rule::Enrollee(authority) => own_account && p.has_authority(authority),
            Rule::Operator => p.is_operator(),
            Rule::Authenticated => true,
            Rule::Member => own_account || p.is_operator(),
            Rule::OperatorMember => p.operator_account,
            Rule::Administrator => (own_account && p.is_administrator()) || p.is_operator(),
            Rule::Authority(authority) => own_account && p.has_authority(authority),
            Rule::OwnUser(authority) => own_user && p.has_authority(authority),
            Rule::OwnUserOrAdministrator(authority) => {
                (own_user && p.has_authority(authority)) || (own_account && p.is_administrator())
            }
        }
    }

    /// PERMISSION_DENIED for this RPC, worded from the rule alone.
    pub fn denied(&self) -> ServiceError {
        let message = match self.policy.rule {
            Rule::Operator => "only operators may call this method".to_owned(),
            Rule::Authenticated => "the caller may not call this method".to_owned(),
            Rule::Member => "the caller is not a member of the resource's account".to_owned(),
            Rule::OperatorMember => {
                "only members of the operator account may call this method".to_owned()
            }
            Rule::Administrator => {
                "only administrators of the resource's account may call this method".to_owned()
            }
            Rule::Authority(authority) => format!(
                "the caller does not hold {} in the resource's account",
                authority.as_str()
            ),
            Rule::OwnUser(authority) | Rule::OwnUserOrAdministrator(authority) => format!(
                "the caller may only act for itself, holding {}",
                authority.as_str()
            ),
            Rule::Enrollee(authority) => format!(
                "only an enrollment token, presented as `authorization: Bearer kw_et_...`, \
                 redeems itself, for a user holding {}",
                authority.as_str()
            ),
        };
        ServiceError::PermissionDenied {
            reason: "PERMISSION_DENIED",
            message,
        }
    }
}
