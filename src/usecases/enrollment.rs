//! Use cases of enrollment tokens: an administrator (or a holder of `MANAGE_USERS`) issues a
//! one-time token offering API sets to a user; the user redeems it for an API key of their
//! own, choosing its name and sets among those offered.

use chrono::{DateTime, Utc};
use keyward_core::key::{Key, KeyKind};
use keyward_store::{ApiKey, EnrollmentToken, NewEnrollmentToken, Page, StoreError, UserState};

use crate::audit::record_success;
use crate::auth::grants::{grantable_api_sets, redeemable_api_sets};
use crate::auth::{Caller, PrincipalKind, enrollment_token_name};
use crate::error::ServiceError;
use crate::idempotency::{self, Once, RequestKey};
use crate::identity::{KeyRequest, issue_api_key};
use crate::index::FactKey;
use crate::state::AppState;
use crate::usecases::api_keys::{expiry, key_display_name, key_resource, unknown_api_set};
use crate::usecases::{PageQuery, Parsed};
use crate::validate::{self, names};

/// The parts of an enrollment token's resource name,
/// `accounts/{a}/users/{u}/enrollmentTokens/{t}`.
#[derive(Debug, Clone)]
pub struct TokenRef {
    /// The resource name as the request gave it (NOT_FOUND names it).
    pub name: String,
    /// The user's account.
    pub account_id: String,
    /// The user.
    pub user_id: String,
    /// The token's ID.
    pub token_id: String,
}

/// A token to issue, as the request asks for it; validated after the caller is authorized.
#[derive(Debug)]
pub struct NewToken {
    /// `accounts/{a}/users/{u}`: the user the token is for.
    pub parent: String,
    /// The user's account.
    pub account_id: String,
    /// The user.
    pub user_id: String,
    /// The request ID, if the request carries one.
    pub request_key: Parsed<Option<RequestKey>>,
    /// The API sets it offers, as resource names.
    pub api_sets: Vec<String>,
    /// An expiry time, or
    pub expire_time: Option<prost_types::Timestamp>,
    /// a lifetime (not both); 24 hours when neither is given.
    pub ttl: Option<prost_types::Duration>,
}

/// A token just issued (with its secret) or found by a retry (without).
#[derive(Debug)]
pub struct IssuedToken {
    /// The stored token.
    pub token: EnrollmentToken,
    /// The token itself: None when a retry found the token issued earlier.
    pub key: Option<Key>,
}

/// The key a redeeming user asks for.
#[derive(Debug)]
pub struct Redemption {
    /// The key's display name.
    pub display_name: String,
    /// Its description.
    pub description: String,
    /// The API sets chosen among those the token offers.
    pub api_sets: Vec<String>,
    /// An expiry time, or
    pub expire_time: Option<prost_types::Timestamp>,
    /// a lifetime (not both).
    pub ttl: Option<prost_types::Duration>,
}

/// How long an enrollment token lives when the request does not say.
const ENROLLMENT_DEFAULT_TTL_SECS: i64 = 24 * 3600;
/// The longest an enrollment token may live: 7 days.
const ENROLLMENT_MAX_TTL_SECS: i64 = 7 * 24 * 3600;

/// Issues an enrollment token for an active user who can hold keys, offering only API sets
/// the issuer could grant; audited. A request ID makes a retry answer the same token
/// (without its secret).
pub async fn create_enrollment_token(
    app: &AppState,
    caller: &Caller,
    new: NewToken,
) -> Result<IssuedToken, ServiceError> {
    caller.authorize(&new.account_id)?;
    let request_key = new.request_key?;
    let now = app.clock.now();
    let expire_time = enrollment_expiry(new.expire_time.as_ref(), new.ttl.as_ref(), now)?;
    let api_set_ids = grantable_api_sets(
        &app.index,
        &app.store,
        &new.account_id,
        "enrollment_token.api_sets",
        &new.api_sets,
        &caller.principal,
    )
    .await?;
    ensure_may_hold_keys(app, &new.parent, &new.account_id, &new.user_id).await?;
    let creator = caller.principal.name();
    let work = async |claim: &idempotency::Claim| {
        let key = Key::generate(KeyKind::EnrollmentToken)
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let secret_hash = app.hasher.hash_key(&key).await?;
        let resource = enrollment_token_name(&new.account_id, &new.user_id, key.id().as_str());
        let stored = claim
            .store(&app.store, resource)
            .create_enrollment_token(NewEnrollmentToken {
                id: key.id().as_str().to_owned(),
                account_id: new.account_id.clone(),
                user_id: new.user_id.clone(),
                secret_hash,
                api_set_ids,
                creator: creator.clone(),
                expire_time,
            })
            .await
            .map_err(|err| match err {
                StoreError::ForeignKey { entity: "user", .. } => ServiceError::NotFound {
                    resource: new.parent.clone(),
                },
                StoreError::ForeignKey { .. } => ServiceError::invalid(
                    "enrollment_token.api_sets",
                    "names an API set that is not in the catalog",
                ),
                other => other.into(),
            })?;
        Ok((key, stored))
    };
    let name = |(_, token): &(Key, EnrollmentToken)| token_resource(token);
    match idempotency::once(&app.store, &app.clock, request_key, work, name).await? {
        Once::Replayed(resource) => {
            let (_, _, token_id) = names::enrollment_token("request_id", &resource)?;
            let token = app.store.get_enrollment_token(&token_id).await?;
            Ok(IssuedToken { token, key: None })
        }
        Once::Made((key, token)) => {
            let detail = format!(
                "enrollment token issued, offering {}, redeemable until {}",
                token.api_set_ids.join(", "),
                token.expire_time.to_rfc3339()
            );
            let resource = token_resource(&token);
            record_success(&app.store, caller, &new.account_id, &resource, detail).await;
            Ok(IssuedToken {
                token,
                key: Some(key),
            })
        }
    }
}

/// The user a token is for must exist, be active and be able to hold the key it is for.
async fn ensure_may_hold_keys(
    app: &AppState,
    parent: &str,
    account_id: &str,
    user_id: &str,
) -> Result<(), ServiceError> {
    let user = FactKey::User(account_id.into(), user_id.into());
    let owner = app.authenticator.owner(&user).await?;
    match owner.state {
        None => Err(ServiceError::NotFound {
            resource: parent.to_owned(),
        }),
        Some(UserState::Disabled) => Err(ServiceError::FailedPrecondition {
            reason: "USER_DISABLED",
            message: format!("{parent} is disabled: enable them first"),
        }),
        Some(UserState::Active)
            if !crate::judgement::may_hold_keys(
                owner.administrator,
                owner.authorities.iter().map(String::as_str),
            ) =>
        {
            Err(ServiceError::FailedPrecondition {
                reason: "USER_CANNOT_HOLD_KEYS",
                message: format!(
                    "{parent} cannot hold API keys: give them a role granting MANAGE_USER_API_KEY first"
                ),
            })
        }
        Some(UserState::Active) => Ok(()),
    }
}

/// The token a name refers to, once the caller is authorized for its account. NOT_FOUND
/// names the resource, whether no token has that ID or it belongs to someone else.
pub async fn get_enrollment_token(
    app: &AppState,
    caller: &Caller,
    token: &TokenRef,
) -> Result<EnrollmentToken, ServiceError> {
    caller.authorize(&token.account_id)?;
    match app.store.get_enrollment_token(&token.token_id).await {
        Ok(found) if found.account_id == token.account_id && found.user_id == token.user_id => {
            Ok(found)
        }
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound {
            resource: token.name.clone(),
        }),
        Err(err) => Err(err.into()),
    }
}

/// One page of a user's tokens (`user_id`), or of every user's in the account.
pub async fn list_enrollment_tokens(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
    user_id: Option<&str>,
    page: PageQuery,
) -> Result<Page<EnrollmentToken>, ServiceError> {
    caller.authorize(account_id)?;
    let page = page.checked()?;
    let found = app
        .store
        .list_enrollment_tokens(account_id, user_id, page)
        .await?;
    Ok(found)
}

/// Revokes a token that was not redeemed (idempotent); audited. A redeemed token is
/// FAILED_PRECONDITION, naming the key to revoke instead.
pub async fn revoke_enrollment_token(
    app: &AppState,
    caller: &Caller,
    token: TokenRef,
) -> Result<EnrollmentToken, ServiceError> {
    let before = get_enrollment_token(app, caller, &token).await?;
    let after = app
        .store
        .revoke_enrollment_token(&before.id, app.clock.now())
        .await?;
    if after.redeem_time.is_some() {
        let key = after
            .api_key_id
            .as_deref()
            .map(|key_id| crate::auth::api_key_name(&after.account_id, &after.user_id, key_id))
            .unwrap_or_default();
        return Err(ServiceError::FailedPrecondition {
            reason: "ENROLLMENT_TOKEN_REDEEMED",
            message: format!(
                "the enrollment token was already redeemed, for {key}: revoke that key instead"
            ),
        });
    }
    if before.revoke_time.is_none() {
        let detail = "enrollment token revoked";
        record_success(&app.store, caller, &after.account_id, &token.name, detail).await;
    }
    Ok(after)
}

/// Spends the enrollment token the call is authenticated with on an API key for its user,
/// with the name and the API sets (among those offered) the user chooses; audited. Of
/// concurrent redemptions exactly one makes a key.
pub async fn redeem_enrollment_token(
    app: &AppState,
    caller: &Caller,
    redemption: Redemption,
) -> Result<(Key, ApiKey), ServiceError> {
    let PrincipalKind::Enrollment {
        user_id, token_id, ..
    } = &caller.principal.kind
    else {
        return Err(caller.denied());
    };
    let account_id = &caller.principal.account_id;
    caller.authorize_user(account_id, Some(user_id))?;
    let display_name = key_display_name("api_key.display_name", &redemption.display_name)?;
    let description = validate::text("api_key.description", &redemption.description, 1000)?;
    let api_set_ids = redeemable_api_sets(
        &app.index,
        &app.store,
        account_id,
        "api_key.api_sets",
        &redemption.api_sets,
        &caller.principal,
    )
    .await?;
    let now = app.clock.now();
    let expire_time = expiry(
        redemption.expire_time.as_ref(),
        redemption.ttl.as_ref(),
        now,
    )?;
    let token_name = caller.principal.name();
    let issued = issue_api_key(
        &app.hasher,
        KeyRequest {
            account_id,
            user_id,
            display_name: &display_name,
            description: &description,
            api_set_ids,
            expire_time,
            creator: &token_name,
        },
    )
    .await?;
    let redeemed = app
        .store
        .redeem_enrollment_token(token_id, issued.record, now)
        .await
        .map_err(|err| match err {
            // The user was deleted meanwhile: the token went with them.
            StoreError::ForeignKey { entity, .. } if entity != "api set" => {
                ServiceError::Unauthenticated
            }
            other => unknown_api_set(other),
        })?;
    // Spent, revoked or expired since it authenticated this call: as if it had been then.
    let Some((_, stored)) = redeemed else {
        return Err(ServiceError::Unauthenticated);
    };
    let detail = format!("api key created by redeeming enrollment token {token_name}");
    record_success(
        &app.store,
        caller,
        account_id,
        &key_resource(&stored),
        detail,
    )
    .await;
    Ok((issued.key, stored))
}

/// The resource name of a stored token.
pub fn token_resource(token: &EnrollmentToken) -> String {
    enrollment_token_name(&token.account_id, &token.user_id, &token.id)
}

/// The expiry of a new enrollment token: `expire_time` or `ttl`, not both, within 7 days;
/// 24 hours when neither is given.
fn enrollment_expiry(
    expire_time: Option<&prost_types::Timestamp>,
    ttl: Option<&prost_types::Duration>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ServiceError> {
    let latest = now + chrono::Duration::seconds(ENROLLMENT_MAX_TTL_SECS);
    match (expire_time, ttl) {
        (Some(_), Some(_)) => Err(ServiceError::invalid(
            "ttl",
            "give either enrollment_token.expire_time or ttl, not both",
        )),
        (Some(time), None) => {
            let field = "enrollment_token.expire_time";
            let time = validate::future_time(field, Some(time), now)?
                .ok_or_else(|| ServiceError::invalid(field, "must be set"))?;
            if time > latest {
                return Err(ServiceError::invalid(
                    field,
                    "must be at most 7 days from now",
                ));
            }
            Ok(time)
        }
        (None, Some(ttl)) => {
            if ttl.seconds <= 0 || ttl.seconds > ENROLLMENT_MAX_TTL_SECS || ttl.nanos != 0 {
                return Err(ServiceError::invalid(
                    "ttl",
                    "must be a whole number of seconds, more than 0 and at most 7 days (604800s)",
                ));
            }
            Ok(now + chrono::Duration::seconds(ttl.seconds))
        }
        (None, None) => Ok(now + chrono::Duration::seconds(ENROLLMENT_DEFAULT_TTL_SECS)),
    }
}
