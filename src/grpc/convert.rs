//! Conversions between store records and protobuf messages: the only place
//! that knows both. Output-only fields are filled here; input fields are
//! parsed by the handlers through `crate::validate`.

use chrono::{DateTime, Utc};
use keyward_store::{
    Account, ApiKey, ApiKeyState, ApiSet, AuditEvent, AuditOutcome, Credential, CredentialScheme,
    CredentialSecret, CredentialState, EnrollmentToken, Role, User, UserState,
};

use super::pb;
use crate::auth::authenticate::KeyNames;
use crate::auth::{Authority, KeyJudgement, KeyRefusal};
use crate::error::ServiceError;
use crate::index::CredentialFacts;
use crate::validate::{encode_page_token, etag_of};

/// A protobuf timestamp.
pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The `next_page_token` of a page whose last cursor is `next`.
pub fn next_page_token(next: Option<&str>) -> String {
    next.map(encode_page_token).unwrap_or_default()
}

/// `accounts/{account}`.
pub fn account_name(account_id: &str) -> String {
    crate::validate::names::account_name(account_id)
}

/// `accounts/{account}/users/{user}`.
pub fn user_name(account_id: &str, user_id: &str) -> String {
    crate::validate::names::user_name(account_id, user_id)
}

/// `accounts/{account}/roles/{role}`.
pub fn role_name(account_id: &str, role_id: &str) -> String {
    crate::validate::names::role_name(account_id, role_id)
}

/// `apiSets/{api_set}`.
pub fn api_set_name(api_set_id: &str) -> String {
    crate::usecases::api_sets::api_set_resource(api_set_id)
}

/// An account as the API shows it.
pub fn account(account: &Account) -> pb::Account {
    pb::Account {
        name: account_name(&account.id),
        display_name: account.display_name.clone(),
        client_id_prefix: account.client_id_prefix.clone(),
        verified: account.verified,
        operator: account.operator,
        create_time: Some(timestamp(account.create_time)),
        update_time: Some(timestamp(account.update_time)),
        etag: etag_of(account.revision),
        entitled_api_sets: account
            .entitled_api_set_ids
            .iter()
            .map(|id| api_set_name(id))
            .collect(),
    }
}

/// A user as the API shows it.
pub fn user(user: &User) -> pb::User {
    pb::User {
        name: user_name(&user.account_id, &user.id),
        display_name: user.display_name.clone(),
        email: user.email.clone(),
        roles: user
            .role_ids
            .iter()
            .map(|role| role_name(&user.account_id, role))
            .collect(),
        state: match user.state {
            UserState::Active => pb::user::State::Active,
            UserState::Disabled => pb::user::State::Disabled,
        } as i32,
        create_time: Some(timestamp(user.create_time)),
        update_time: Some(timestamp(user.update_time)),
        etag: etag_of(user.revision),
    }
}

/// The protobuf value of an authority.
pub fn authority_to_pb(authority: Authority) -> pb::Authority {
    match authority {
        Authority::ManageUsers => pb::Authority::ManageUsers,
        Authority::ManageApiClients => pb::Authority::ManageApiClients,
        Authority::ManageUserApiKey => pb::Authority::ManageUserApiKey,
        Authority::ViewAuditLog => pb::Authority::ViewAuditLog,
    }
}

/// Parses a protobuf authority; UNSPECIFIED and unknown values are invalid.
pub fn authority_from_pb(field: &str, value: i32) -> Result<Authority, ServiceError> {
    match pb::Authority::try_from(value) {
        Ok(pb::Authority::ManageUsers) => Ok(Authority::ManageUsers),
        Ok(pb::Authority::ManageApiClients) => Ok(Authority::ManageApiClients),
        Ok(pb::Authority::ManageUserApiKey) => Ok(Authority::ManageUserApiKey),
        Ok(pb::Authority::ViewAuditLog) => Ok(Authority::ViewAuditLog),
        Ok(pb::Authority::Unspecified) | Err(_) => Err(ServiceError::invalid(
            field,
            "must name an authority (AUTHORITY_UNSPECIFIED and unknown values are not)",
        )),
    }
}

/// A role as the API shows it.
pub fn role(role: &Role) -> pb::Role {
    pb::Role {
        name: role_name(&role.account_id, &role.id),
        display_name: role.display_name.clone(),
        description: role.description.clone(),
        authorities: Authority::set_from_stored(&role.authorities)
            .into_iter()
            .map(|a| authority_to_pb(a) as i32)
            .collect(),
        builtin: role.builtin,
        create_time: Some(timestamp(role.create_time)),
        update_time: Some(timestamp(role.update_time)),
        etag: etag_of(role.revision),
    }
}

/// An audit event as the API shows it.
pub fn audit_event(event: &AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        name: format!("accounts/{}/auditEvents/{}", event.account_id, event.id),
        event_time: Some(timestamp(event.time)),
        actor: event.actor.clone(),
        method: event.action.clone(),
        resource: event.resource.clone(),
        outcome: match event.outcome {
            AuditOutcome::Success => pb::audit_event::Outcome::Success,
            AuditOutcome::Failure => pb::audit_event::Outcome::Failure,
            AuditOutcome::Denied => pb::audit_event::Outcome::Denied,
        } as i32,
        detail: event.detail.clone(),
        count: event.count,
        delegate: event.delegate.clone().unwrap_or_default(),
        sequence: event.sequence,
        prev_hash: event.prev_hash.clone(),
        hash: event.hash.clone(),
    }
}

/// An API set as the API shows it.
pub fn api_set(set: &ApiSet) -> pb::ApiSet {
    pb::ApiSet {
        name: api_set_name(&set.id),
        display_name: set.display_name.clone(),
        description: set.description.clone(),
        methods: set.methods.clone(),
        builtin: set.builtin,
        create_time: Some(timestamp(set.create_time)),
        update_time: Some(timestamp(set.update_time)),
        etag: etag_of(set.revision),
    }
}

/// `accounts/{account}/users/{user}/apiKeys/{api_key}`.
pub fn api_key_name(key: &ApiKey) -> String {
    key_name(&key.account_id, &key.user_id, &key.id)
}

/// `accounts/{account}/users/{user}/apiKeys/{key}`.
pub fn key_name(account_id: &str, user_id: &str, key_id: &str) -> String {
    crate::auth::principal::api_key_name(account_id, user_id, key_id)
}

/// An API key as the API shows it at `now` (never the key itself).
pub fn api_key(key: &ApiKey, now: DateTime<Utc>) -> pb::ApiKey {
    let state = match key.state {
        ApiKeyState::Revoked => pb::api_key::State::Revoked,
        ApiKeyState::Active if key.expire_time.is_some_and(|t| t <= now) => {
            pb::api_key::State::Expired
        }
        ApiKeyState::Active => pb::api_key::State::Active,
    };
    pb::ApiKey {
        name: api_key_name(key),
        display_name: key.display_name.clone(),
        description: key.description.clone(),
        api_sets: key.api_set_ids.iter().map(|id| api_set_name(id)).collect(),
        state: state as i32,
        key_prefix: format!("{}{}", keyward_core::key::KeyKind::ApiKey.prefix(), key.id),
        expire_time: key.expire_time.map(timestamp),
        revoke_time: key.revoke_time.map(timestamp),
        last_used_time: key.last_used_time.map(timestamp),
        creator: key.creator.clone(),
        create_time: Some(timestamp(key.create_time)),
        update_time: Some(timestamp(key.update_time)),
        etag: etag_of(key.revision),
    }
}

/// An enrollment token as the API shows it at `now`, never the token itself.
pub fn enrollment_token(token: &EnrollmentToken, now: DateTime<Utc>) -> pb::EnrollmentToken {
    use pb::enrollment_token::State;
    let state = if token.redeem_time.is_some() {
        State::Redeemed
    } else if token.revoke_time.is_some() {
        State::Revoked
    } else if token.expire_time <= now {
        State::Expired
    } else {
        State::Active
    };
    pb::EnrollmentToken {
        name: crate::auth::enrollment_token_name(&token.account_id, &token.user_id, &token.id),
        api_sets: token
            .api_set_ids
            .iter()
            .map(|id| api_set_name(id))
            .collect(),
        state: state as i32,
        token_prefix: format!(
            "{}{}",
            keyward_core::key::KeyKind::EnrollmentToken.prefix(),
            token.id
        ),
        expire_time: Some(timestamp(token.expire_time)),
        creator: token.creator.clone(),
        create_time: Some(timestamp(token.create_time)),
        redeem_time: token.redeem_time.map(timestamp),
        api_key: token
            .api_key_id
            .as_deref()
            .map(|key_id| crate::auth::api_key_name(&token.account_id, &token.user_id, key_id))
            .unwrap_or_default(),
        revoke_time: token.revoke_time.map(timestamp),
    }
}

pub use crate::auth::principal::credential_name;

/// A credential scheme in the API.
pub fn scheme_to_pb(scheme: CredentialScheme) -> pb::credential::Scheme {
    match scheme {
        CredentialScheme::Basic => pb::credential::Scheme::Basic,
        CredentialScheme::Hmac => pb::credential::Scheme::Hmac,
    }
}

/// A credential as the API shows it at `now`, with its live secret versions (newest
/// first), never a secret.
pub fn credential(
    credential: &Credential,
    secrets: &[CredentialSecret],
    now: DateTime<Utc>,
) -> pb::Credential {
    let state = match credential.state {
        CredentialState::Active => pb::credential::State::Active,
        CredentialState::Disabled => pb::credential::State::Disabled,
    };
    let mut versions: Vec<&CredentialSecret> = secrets.iter().filter(|s| s.is_live(now)).collect();
    versions.sort_by_key(|s| std::cmp::Reverse(s.version));
    pb::Credential {
        name: credential_name(&credential.account_id, &credential.id),
        client_id: credential.client_id.clone(),
        display_name: credential.display_name.clone(),
        description: credential.description.clone(),
        contact_email: credential.contact_email.clone(),
        application: credential.application.clone(),
        scheme: scheme_to_pb(credential.scheme) as i32,
        api_sets: credential
            .api_set_ids
            .iter()
            .map(|id| api_set_name(id))
            .collect(),
        state: state as i32,
        expire_time: credential.expire_time.map(timestamp),
        compromise_time: credential.compromise_time.map(timestamp),
        secret_versions: versions
            .into_iter()
            .map(|s| pb::SecretVersion {
                version: s.version,
                create_time: Some(timestamp(s.create_time)),
                expire_time: s.expire_time.map(timestamp),
                last_used_time: s.last_used_time.map(timestamp),
            })
            .collect(),
        creator: credential.creator.clone(),
        create_time: Some(timestamp(credential.create_time)),
        update_time: Some(timestamp(credential.update_time)),
        etag: etag_of(credential.revision),
    }
}

/// The decision for a refused credential that could not be identified.
pub fn invalid_decision() -> pb::Decision {
    pb::Decision {
        valid: false,
        reason: pb::decision::Reason::Invalid as i32,
        ..Default::default()
    }
}

/// The decision about an identified client credential: valid when `reason` is None.
pub fn client_decision(
    credential: &CredentialFacts,
    usable_api_set_ids: &[String],
    version: i32,
    expire_time: Option<DateTime<Utc>>,
    reason: Option<pb::decision::Reason>,
) -> pb::Decision {
    pb::Decision {
        valid: reason.is_none(),
        reason: reason.map_or(0, |r| r as i32),
        principal: credential_name(&credential.account_id, &credential.id),
        account: account_name(&credential.account_id),
        user: String::new(),
        client_id: credential.client_id.to_string(),
        api_sets: usable_api_set_ids
            .iter()
            .map(|id| api_set_name(id))
            .collect(),
        secret_version: version,
        expire_time: expire_time.map(timestamp),
    }
}

/// The decision for a credential whose secret was not checked because its budget of
/// unproven secrets is spent: the reason only.
pub fn too_many_attempts_decision() -> pb::Decision {
    pb::Decision {
        valid: false,
        reason: pb::decision::Reason::TooManyAttempts as i32,
        ..Default::default()
    }
}

/// The decision of `VerifyApiKey` on a judged key. INVALID says nothing else
/// (no principal, account or API sets), so that nobody learns which keys
/// exist; TOO_MANY_ATTEMPTS says only that. A known key names its principal,
/// account and owner; its API sets are the ones it may use now: its own while
/// it is usable, none once it is revoked, expired or its owner may no longer
/// hold keys.
pub fn api_key_decision(judgement: &KeyJudgement) -> pb::Decision {
    use pb::decision::Reason;
    let (known, verdict) = match judgement {
        KeyJudgement::Invalid(_) => return invalid_decision(),
        KeyJudgement::Throttled { .. } => return too_many_attempts_decision(),
        KeyJudgement::Known { known, verdict } => (known, verdict),
    };
    let reason = match verdict {
        Ok(()) => Reason::Unspecified,
        Err(refusal) => key_reason(*refusal),
    };
    let usable = matches!(verdict, Ok(()) | Err(KeyRefusal::ApiSetNotAllowed));
    let names = known.names(|known| KeyNames {
        principal: key_name(&known.key.account_id, &known.key.user_id, &known.key.id),
        account: account_name(&known.key.account_id),
        user: user_name(&known.key.account_id, &known.key.user_id),
        api_sets: known
            .usable_api_set_ids
            .iter()
            .map(|id| api_set_name(id))
            .collect(),
    });
    pb::Decision {
        valid: verdict.is_ok(),
        reason: reason as i32,
        principal: names.principal.clone(),
        account: names.account.clone(),
        user: names.user.clone(),
        client_id: String::new(),
        api_sets: if usable {
            names.api_sets.clone()
        } else {
            Vec::new()
        },
        secret_version: 0,
        expire_time: known.key.expire_time.map(timestamp),
    }
}

/// The decision reason of a key refusal.
pub fn key_reason(refusal: KeyRefusal) -> pb::decision::Reason {
    use pb::decision::Reason;
    match refusal {
        KeyRefusal::Revoked => Reason::Revoked,
        KeyRefusal::Expired => Reason::Expired,
        KeyRefusal::OwnerDisabled => Reason::OwnerDisabled,
        KeyRefusal::ApiSetNotAllowed => Reason::ApiSetNotAllowed,
    }
}

/// Counts a decision of the verification RPC `rpc` (for metrics): `VALID` or its reason.
pub fn count_decision(rpc: &'static str, decision: &pb::Decision) {
    let reason = if decision.valid {
        "VALID"
    } else {
        pb::decision::Reason::try_from(decision.reason)
            .unwrap_or(pb::decision::Reason::Unspecified)
            .as_str_name()
    };
    crate::metrics::decision(rpc, reason);
}

/// The verdict on a reported string, in the API.
pub fn leak_report(verdict: crate::leaks::Verdict) -> pb::LeakReport {
    use crate::leaks::Outcome;
    use pb::leak_report::Outcome as Api;
    let (outcome, retry_after) = match verdict.outcome {
        Outcome::NotKeyward => (Api::NotKeyward, None),
        Outcome::Unknown => (Api::Unknown, None),
        Outcome::Revoked => (Api::Revoked, None),
        Outcome::AlreadyRevoked => (Api::AlreadyRevoked, None),
        Outcome::RetryLater(after) => {
            (Api::RetryLater, prost_types::Duration::try_from(after).ok())
        }
    };
    pb::LeakReport {
        outcome: outcome as i32,
        display_prefix: verdict.display_prefix.unwrap_or_default(),
        name: verdict.name.unwrap_or_default(),
        was_valid: verdict.was_valid,
        retry_after,
    }
}
