//! Use cases of API keys: issue one, read, list, update, revoke and delete them, and judge
//! a presented key for a gateway (`VerifyApiKey`).
//!
//! A key is shown once, when it is issued; a retried create gets the key's record back,
//! never the key again. `VerifyApiKey` asks the same [`Authenticator`](crate::auth::Authenticator)
//! the auth layer uses, so a key is judged by one evaluation whether it is presented to
//! Keyward or to a gateway that asks.

use chrono::{DateTime, Utc};
use keyward_core::key::Key;
use keyward_store::{ApiKey, ApiKeyFilter, ApiKeyUpdate, Page, StoreError};

use crate::audit::record_success;
use crate::auth::grants::grantable_api_sets;
use crate::auth::{Caller, KeyJudgement, api_key_name};
use crate::error::ServiceError;
use crate::idempotency::{self, Once, RequestKey};
use crate::identity::{KeyRequest, issue_api_key};
use crate::state::AppState;
use crate::usecases::{PageQuery, Parsed};
use crate::validate::{self, names};
use crate::verification::Asked;

/// The parts of an API key's resource name, `accounts/{a}/users/{u}/apiKeys/{k}`.
#[derive(Debug, Clone)]
pub struct KeyRef {
    /// The resource name as the request gave it (NOT_FOUND names it).
    pub name: String,
    /// The owner's account.
    pub account_id: String,
    /// The owner.
    pub user_id: String,
    /// The key's ID.
    pub key_id: String,
}

/// A key to issue, as the request asks for it; validated after the caller is authorized.
#[derive(Debug)]
pub struct NewApiKey {
    /// The owner's account.
    pub account_id: String,
    /// The owner.
    pub user_id: String,
    /// The request ID, if the request carries one.
    pub request_key: Parsed<Option<RequestKey>>,
    /// The key's display name.
    pub display_name: String,
    /// Its description.
    pub description: String,
    /// The API sets it asks for, as resource names.
    pub api_sets: Vec<String>,
    /// An expiry time, or
    pub expire_time: Option<prost_types::Timestamp>,
    /// a lifetime (not both).
    pub ttl: Option<prost_types::Duration>,
}

/// A key just issued (with its secret) or found by a retry of the request that issued it
/// (without).
#[derive(Debug)]
pub struct IssuedApiKey {
    /// The stored key.
    pub api_key: ApiKey,
    /// The key itself: None when a retry found the key made earlier.
    pub key: Option<Key>,
}

/// Which keys a list asks for.
#[derive(Debug)]
pub struct KeyListing {
    /// The owners' account.
    pub account_id: String,
    /// One owner, or every user of the account.
    pub user_id: Option<String>,
    /// The state filter, judged at the time of the call; None lists every key.
    pub state: Parsed<Option<KeyState>>,
    /// The page.
    pub page: PageQuery,
}

/// The states a list of keys can be narrowed to.
#[derive(Debug, Clone, Copy)]
pub enum KeyState {
    /// Neither revoked nor expired.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

/// Changes to a key's display name and description (the field mask's paths).
#[derive(Debug)]
pub struct KeyChange {
    /// The key.
    pub key: KeyRef,
    /// The field mask's paths; None for every changeable field.
    pub paths: Option<Vec<String>>,
    /// The new display name, read when the mask names it.
    pub display_name: String,
    /// The new description, read when the mask names it.
    pub description: String,
    /// The etag, if the request gives one.
    pub etag: String,
}

/// A `VerifyApiKey` question: the key, and the API set or method it is asked about.
#[derive(Debug)]
pub struct KeyQuestion<'a> {
    /// The presented key.
    pub key: &'a str,
    /// `apiSets/{id}`, or empty.
    pub api_set: &'a str,
    /// `/package.Service/Method`, or empty.
    pub api_method: &'a str,
}

/// Longest lifetime a TTL may ask for: ten years.
const MAX_TTL_SECS: i64 = 10 * 365 * 24 * 3600;

/// Issues an API key to a user: only API sets the caller may grant, the secret from the OS
/// CSPRNG, stored as argon2; audited. A request ID makes a retry answer the same key
/// (without its secret).
pub async fn create_api_key(
    app: &AppState,
    caller: &Caller,
    new: NewApiKey,
) -> Result<IssuedApiKey, ServiceError> {
    caller.authorize_user(&new.account_id, Some(&new.user_id))?;
    let request_key = new.request_key?;
    let display_name = key_display_name("api_key.display_name", &new.display_name)?;
    let description = validate::text("api_key.description", &new.description, 1000)?;
    let api_set_ids = grantable_api_sets(
        &app.index,
        &app.store,
        &new.account_id,
        "api_key.api_sets",
        &new.api_sets,
        &caller.principal,
    )
    .await?;
    let expire_time = expiry(new.expire_time.as_ref(), new.ttl.as_ref(), app.clock.now())?;
    let creator = caller.principal.name();
    let request = KeyRequest {
        account_id: &new.account_id,
        user_id: &new.user_id,
        display_name: &display_name,
        description: &description,
        api_set_ids,
        expire_time,
        creator: &creator,
    };
    let work = async |claim: &idempotency::Claim| {
        let issued = issue_api_key(&app.hasher, request).await?;
        let resource = api_key_name(&new.account_id, &new.user_id, &issued.record.id);
        let stored = claim
            .store(&app.store, resource)
            .create_api_key(issued.record)
            .await
            .map_err(unknown_api_set)?;
        Ok((issued.key, stored))
    };
    let name = |(_, key): &(Key, ApiKey)| key_resource(key);
    match idempotency::once(&app.store, &app.clock, request_key, work, name).await? {
        Once::Replayed(resource) => {
            let (_, _, key_id) = names::api_key("request_id", &resource)?;
            let api_key = app.store.get_api_key(&key_id).await?;
            Ok(IssuedApiKey { api_key, key: None })
        }
        Once::Made((key, api_key)) => {
            let resource = key_resource(&api_key);
            record_success(
                &app.store,
                caller,
                &new.account_id,
                &resource,
                "api key created",
            )
            .await;
            Ok(IssuedApiKey {
                api_key,
                key: Some(key),
            })
        }
    }
}

/// The key a name refers to, once the caller is authorized for its owner.
pub async fn get_api_key(
    app: &AppState,
    caller: &Caller,
    key: KeyRef,
) -> Result<ApiKey, ServiceError> {
    caller.authorize_user(&key.account_id, Some(&key.user_id))?;
    owned_key(app, &key).await
}

/// One page of a user's keys, or of every key in an account.
pub async fn list_api_keys(
    app: &AppState,
    caller: &Caller,
    listing: KeyListing,
) -> Result<Page<ApiKey>, ServiceError> {
    caller.authorize_user(&listing.account_id, listing.user_id.as_deref())?;
    let at = app.clock.now();
    let filter = listing.state?.map(|state| match state {
        KeyState::Active => ApiKeyFilter::Active { at },
        KeyState::Expired => ApiKeyFilter::Expired { at },
        KeyState::Revoked => ApiKeyFilter::Revoked,
    });
    let found = app
        .store
        .list_api_keys(
            &listing.account_id,
            listing.user_id.as_deref(),
            filter,
            listing.page.checked()?,
        )
        .await?;
    Ok(found)
}

/// Renames a key or changes its description (never its API sets); audited.
pub async fn update_api_key(
    app: &AppState,
    caller: &Caller,
    change: KeyChange,
) -> Result<ApiKey, ServiceError> {
    let key = &change.key;
    caller.authorize_user(&key.account_id, Some(&key.user_id))?;
    let paths = change.paths.as_deref();
    if paths.is_some_and(|paths| paths.iter().any(|p| p == "api_sets")) {
        return Err(ServiceError::invalid(
            "update_mask",
            "the API sets of a key never change: create a new key with the API sets it needs",
        ));
    }
    let mask = validate::update_mask("update_mask", paths, &["display_name", "description"])?;
    let mut update = ApiKeyUpdate::default();
    for path in &mask {
        if path == "display_name" {
            let name = key_display_name("api_key.display_name", &change.display_name)?;
            update.display_name = Some(name);
        } else {
            let text = validate::text("api_key.description", &change.description, 1000)?;
            update.description = Some(text);
        }
    }
    let revision = validate::etag("api_key.etag", &change.etag)?;
    owned_key(app, key).await?;
    let updated = app
        .store
        .update_api_key(&key.key_id, update, revision)
        .await?;
    let detail = format!("api key updated: {}", mask.join(", "));
    record_success(&app.store, caller, &key.account_id, &key.name, detail).await;
    Ok(updated)
}

/// Revokes a key at once, on every replica (idempotent); audited.
pub async fn revoke_api_key(
    app: &AppState,
    caller: &Caller,
    key: KeyRef,
) -> Result<ApiKey, ServiceError> {
    let stored = get_api_key(app, caller, key.clone()).await?;
    let revoked = app
        .store
        .revoke_api_key(&stored.id, app.clock.now())
        .await?;
    record_success(
        &app.store,
        caller,
        &stored.account_id,
        &key.name,
        "api key revoked",
    )
    .await;
    Ok(revoked)
}

/// Deletes a key (its etag, when given, must match); audited.
pub async fn delete_api_key(
    app: &AppState,
    caller: &Caller,
    key: KeyRef,
    etag: &str,
) -> Result<(), ServiceError> {
    caller.authorize_user(&key.account_id, Some(&key.user_id))?;
    let revision = validate::etag("etag", etag)?;
    owned_key(app, &key).await?;
    app.store.delete_api_key(&key.key_id, revision).await?;
    record_success(
        &app.store,
        caller,
        &key.account_id,
        &key.name,
        "api key deleted",
    )
    .await;
    Ok(())
}

/// Judges a presented key for a gateway: an invalid, expired, revoked or out-of-scope key
/// is a judgement, not an error. A malformed key is judged before any lookup. An API set
/// that is not in the catalog, or a method in no API set, is never allowed.
pub async fn verify_api_key(
    app: &AppState,
    caller: &Caller,
    question: KeyQuestion<'_>,
) -> Result<KeyJudgement, ServiceError> {
    caller.authorize_own_account()?;
    if question.key.is_empty() {
        return Err(ServiceError::invalid("key", "is required"));
    }
    let asked = Asked::parse(question.api_set, question.api_method)?;
    let catalog = asked.catalog(&app.index).await?;
    app.authenticator
        .judge_api_key_token(
            question.key,
            asked.question(),
            asked.scope(catalog.as_deref()),
        )
        .await
}

/// The stored key of an authorized name. NOT_FOUND names the resource, whether no key has
/// that ID or it belongs to someone else.
async fn owned_key(app: &AppState, named: &KeyRef) -> Result<ApiKey, ServiceError> {
    match app.store.get_api_key(&named.key_id).await {
        Ok(key) if key.account_id == named.account_id && key.user_id == named.user_id => Ok(key),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound {
            resource: named.name.clone(),
        }),
        Err(err) => Err(err.into()),
    }
}

/// The resource name of a stored key.
pub fn key_resource(key: &ApiKey) -> String {
    api_key_name(&key.account_id, &key.user_id, &key.id)
}

/// A key write that names an API set the catalog does not hold.
pub(crate) fn unknown_api_set(err: StoreError) -> ServiceError {
    match err {
        StoreError::ForeignKey {
            entity: "api set", ..
        } => ServiceError::invalid(
            "api_key.api_sets",
            "names an API set that is not in the catalog",
        ),
        other => other.into(),
    }
}

/// An API key's display name: 1 to 100 letters, digits, spaces, hyphens, underscores and
/// dots (it becomes a file name).
pub(crate) fn key_display_name(field: &str, value: &str) -> Result<String, ServiceError> {
    let value = validate::display_name(field, value, 100)?;
    if value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
    {
        Ok(value)
    } else {
        Err(ServiceError::invalid(
            field,
            "may hold only letters, digits, spaces, hyphens, underscores and dots",
        ))
    }
}

/// The expiry of a new key: `expire_time` or `ttl`, not both; in the future.
pub(crate) fn expiry(
    expire_time: Option<&prost_types::Timestamp>,
    ttl: Option<&prost_types::Duration>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    match (expire_time, ttl) {
        (Some(_), Some(_)) => Err(ServiceError::invalid(
            "ttl",
            "give either api_key.expire_time or ttl, not both",
        )),
        (Some(time), None) => validate::future_time("api_key.expire_time", Some(time), now),
        (None, Some(ttl)) => {
            if ttl.seconds <= 0 || ttl.seconds > MAX_TTL_SECS || ttl.nanos != 0 {
                return Err(ServiceError::invalid(
                    "ttl",
                    "must be a whole number of seconds, more than 0 and at most ten years",
                ));
            }
            Ok(Some(now + chrono::Duration::seconds(ttl.seconds)))
        }
        (None, None) => Ok(None),
    }
}
