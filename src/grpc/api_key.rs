//! `keyward.v1.ApiKeyService`: per-user API keys and the API-set catalog.
//!
//! The gRPC edge only: it converts protobuf messages to domain calls and
//! back. `VerifyApiKey` asks the [`Authenticator`](crate::auth::Authenticator)
//! the auth layer uses, so a key is judged by one evaluation whether it is
//! presented to Keyward or to a gateway that asks.

use tonic::{Request, Response, Status};

use super::pb::api_key_service_server::ApiKeyService;
use super::pb::{
    CreateApiKeyRequest, CreateApiKeyResponse, CreateApiSetRequest, CreateApiSetResponse,
    CreateEnrollmentTokenRequest, CreateEnrollmentTokenResponse, DeleteApiKeyRequest,
    DeleteApiKeyResponse, DeleteApiSetRequest, DeleteApiSetResponse, GetApiKeyRequest,
    GetApiKeyResponse, GetApiSetRequest, GetApiSetResponse, GetEnrollmentTokenRequest,
    GetEnrollmentTokenResponse, ListApiKeysRequest, ListApiKeysResponse, ListApiSetsRequest,
    ListApiSetsResponse, ListEnrollmentTokensRequest, ListEnrollmentTokensResponse,
    RedeemEnrollmentTokenRequest, RedeemEnrollmentTokenResponse, RevokeApiKeyRequest,
    RevokeApiKeyResponse, RevokeEnrollmentTokenRequest, RevokeEnrollmentTokenResponse,
    UpdateApiKeyRequest, UpdateApiKeyResponse, UpdateApiSetRequest, UpdateApiSetResponse,
    VerifyApiKeyRequest, VerifyApiKeyResponse,
};
use chrono::{DateTime, Utc};
use keyward_core::key::{Key, KeyKind};
use keyward_core::key_file;
use keyward_store::{
    ApiKey, ApiKeyFilter, ApiKeyUpdate, ApiSetUpdate, EnrollmentToken, NewApiSet,
    NewEnrollmentToken, PageRequest, StoreError, UserState,
};
use prost::Message;
use secrecy::ExposeSecret;

use super::{convert, pb};
use crate::audit::record_success;
use crate::auth::grants::{grantable_api_sets, may_grant, redeemable_api_sets};
use crate::auth::{Caller, KeyJudgement, KeyRefusal, PrincipalKind};
use crate::error::ServiceError;
use crate::idempotency::{self, Begun};
use crate::identity::{KeyRequest, issue_api_key};
use crate::index::ApiKeyFacts;
use crate::judgement::Entitlements;
use crate::state::AppState;
use crate::validate::{self, names, required};
use crate::verification::{Asked, is_method};

/// IDs of Keyward's own API sets start with this; nobody else may use it.
const RESERVED_PREFIX: &str = "keyward.";

/// Built-in API sets follow the authorization table and cannot be edited.
fn builtin_api_set(id: &str) -> Result<(), ServiceError> {
    if id.starts_with(RESERVED_PREFIX) {
        Err(ServiceError::FailedPrecondition {
            reason: "BUILTIN_API_SET",
            message: "built-in API sets cannot be changed or deleted".to_owned(),
        })
    } else {
        Ok(())
    }
}

/// The owner a request names: `users/me` (the caller) or
/// `accounts/{account}/users/{user}`.
fn owner(field: &str, parent: &str, caller: &Caller) -> Result<(String, String), ServiceError> {
    if parent == "users/me" {
        let user_id = caller.principal.user_id().ok_or_else(|| caller.denied())?;
        return Ok((caller.principal.account_id.clone(), user_id.to_owned()));
    }
    names::user(field, parent)
}

/// The owners a ListApiKeys `parent` names: one user (`users/me`,
/// `accounts/{account}/users/{user}`) or every user of an account
/// (`accounts/{account}/users/-`, user None).
fn list_parent(
    field: &str,
    parent: &str,
    caller: &Caller,
) -> Result<(String, Option<String>), ServiceError> {
    if parent == "users/me" {
        let (account, user) = owner(field, parent, caller)?;
        return Ok((account, Some(user)));
    }
    user_or_every_user(field, parent).map_err(|err| match err {
        ServiceError::InvalidArgument(_) => ServiceError::invalid(
            field,
            "must be `users/me`, `accounts/{account}/users/{user}` or `accounts/{account}/users/-`",
        ),
        other => other,
    })
}

/// The state filter of ListApiKeys, judged at `now` (expiry is a matter of
/// time, not of a stored state). Unset lists every key.
fn key_filter(
    field: &str,
    value: i32,
    now: DateTime<Utc>,
) -> Result<Option<ApiKeyFilter>, ServiceError> {
    use pb::api_key::State;
    match State::try_from(value) {
        Ok(State::Unspecified) => Ok(None),
        Ok(State::Active) => Ok(Some(ApiKeyFilter::Active { at: now })),
        Ok(State::Expired) => Ok(Some(ApiKeyFilter::Expired { at: now })),
        Ok(State::Revoked) => Ok(Some(ApiKeyFilter::Revoked)),
        Err(_) => Err(ServiceError::invalid(
            field,
            "must be STATE_ACTIVE, STATE_REVOKED or STATE_EXPIRED, or unset for every key",
        )),
    }
}

/// An API key's display name: 1 to 100 letters, digits, spaces, hyphens,
/// underscores and dots (it becomes a file name).
fn key_display_name(field: &str, value: &str) -> Result<String, ServiceError> {
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

/// Longest lifetime a TTL may ask for: ten years.
const MAX_TTL_SECS: i64 = 10 * 365 * 24 * 3600;

/// The expiry of a new key: `expire_time` or `ttl`, not both; in the future.
fn expiry(
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

/// How long an enrollment token lives when the request does not say.
const ENROLLMENT_DEFAULT_TTL_SECS: i64 = 24 * 3600;
/// The longest an enrollment token may live: 7 days.
const ENROLLMENT_MAX_TTL_SECS: i64 = 7 * 24 * 3600;

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

/// The owners a list request's `parent` names: one user (`accounts/{account}/users/{user}`)
/// or every user of an account (`accounts/{account}/users/-`, user None).
fn user_or_every_user(field: &str, parent: &str) -> Result<(String, Option<String>), ServiceError> {
    if let Some(account) = parent
        .strip_prefix("accounts/")
        .and_then(|rest| rest.strip_suffix("/users/-"))
    {
        return Ok((validate::resource_id(field, account)?, None));
    }
    match names::user(field, parent) {
        Ok((account, user)) => Ok((account, Some(user))),
        Err(ServiceError::InvalidArgument(_)) => Err(ServiceError::invalid(
            field,
            "must be `accounts/{account}/users/{user}` or `accounts/{account}/users/-`",
        )),
        Err(other) => Err(other),
    }
}

/// The methods of an API set: 1 to 200 characters each, no spaces or
/// control characters, unique, sorted; at most 1000.
fn methods(field: &str, values: &[String]) -> Result<Vec<String>, ServiceError> {
    if values.len() > 1000 {
        return Err(ServiceError::invalid(
            field,
            "must list at most 1000 methods",
        ));
    }
    let mut out = std::collections::BTreeSet::new();
    for value in values {
        if !is_method(value) {
            return Err(ServiceError::invalid(
                field,
                "each method must be 1 to 200 characters without spaces, for example `/billing.v1.InvoiceService/ListInvoices`",
            ));
        }
        out.insert(value.clone());
    }
    Ok(out.into_iter().collect())
}

/// Serves `keyward.v1.ApiKeyService`.
#[derive(Debug, Clone)]
pub struct ApiKeyServiceImpl {
    state: AppState,
}

impl ApiKeyServiceImpl {
    /// A `ApiKeyService` over the application state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The key named `name` (`accounts/{a}/users/{u}/apiKeys/{k}`), once the
    /// caller is authorized for its owner.
    async fn named_key(
        &self,
        caller: &Caller,
        field: &str,
        name: &str,
    ) -> Result<ApiKey, ServiceError> {
        let named = authorized_key_name(caller, field, name)?;
        self.owned_key(&named, name).await
    }

    /// The enrollment token named `name`
    /// (`accounts/{a}/users/{u}/enrollmentTokens/{t}`), once the caller is authorized for
    /// its account. NOT_FOUND names the resource, whether no token has that ID or it
    /// belongs to someone else.
    async fn named_enrollment_token(
        &self,
        caller: &Caller,
        field: &str,
        name: &str,
    ) -> Result<EnrollmentToken, ServiceError> {
        let (account_id, user_id, token_id) = names::enrollment_token(field, name)?;
        caller.authorize(&account_id)?;
        match self.state.store.get_enrollment_token(&token_id).await {
            Ok(token) if token.account_id == account_id && token.user_id == user_id => Ok(token),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound {
                resource: name.to_owned(),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// The stored key of an authorized name. NOT_FOUND names the resource,
    /// whether no key has that ID or it belongs to someone else.
    async fn owned_key(&self, named: &KeyName, name: &str) -> Result<ApiKey, ServiceError> {
        let not_found = || ServiceError::NotFound {
            resource: name.to_owned(),
        };
        match self.state.store.get_api_key(&named.key_id).await {
            Ok(key) if key.account_id == named.account_id && key.user_id == named.user_id => {
                Ok(key)
            }
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(not_found()),
            Err(err) => Err(err.into()),
        }
    }
}

/// The parts of an API key's resource name.
struct KeyName {
    account_id: String,
    user_id: String,
    key_id: String,
}

/// Parses an API key's resource name and applies the RPC's rule to its
/// owner, before anything is looked up.
fn authorized_key_name(caller: &Caller, field: &str, name: &str) -> Result<KeyName, ServiceError> {
    let (account_id, user_id, key_id) = names::api_key(field, name)?;
    caller.authorize_user(&account_id, Some(&user_id))?;
    Ok(KeyName {
        account_id,
        user_id,
        key_id,
    })
}

/// The key and reason a refused verification is counted against in the audit log: a key
/// that exists and was refused for anything but its scope (a wrong secret included).
/// Unknown and malformed keys name nobody's key, and are not counted.
fn failure(judgement: &KeyJudgement) -> Option<(&ApiKeyFacts, pb::decision::Reason)> {
    match judgement {
        KeyJudgement::Invalid(Some(key)) => Some((key, pb::decision::Reason::Invalid)),
        KeyJudgement::Throttled { key, .. } => Some((key, pb::decision::Reason::TooManyAttempts)),
        KeyJudgement::Known {
            known,
            verdict: Err(refusal),
        } if *refusal != KeyRefusal::ApiSetNotAllowed => {
            Some((&known.key, convert::key_reason(*refusal)))
        }
        KeyJudgement::Invalid(None) | KeyJudgement::Known { .. } => None,
    }
}

#[tonic::async_trait]
impl ApiKeyService for ApiKeyServiceImpl {
    async fn create_api_key(
        &self,
        request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut req = request.into_inner();
        let (account_id, user_id) = owner("parent", &req.parent, &caller)?;
        caller.authorize_user(&account_id, Some(&user_id))?;
        let request_id = std::mem::take(&mut req.request_id);
        let request_key = idempotency::request_key(&caller, &request_id, &req.encode_to_vec())?;
        let api_key = required("api_key", req.api_key)?;
        let display_name = key_display_name("api_key.display_name", &api_key.display_name)?;
        let description = validate::text("api_key.description", &api_key.description, 1000)?;
        let api_set_ids = grantable_api_sets(
            &self.state.index,
            &self.state.store,
            &account_id,
            "api_key.api_sets",
            &api_key.api_sets,
            &caller.principal,
        )
        .await?;
        let now = self.state.clock.now();
        let expire_time = expiry(api_key.expire_time.as_ref(), req.ttl.as_ref(), now)?;
        let claim =
            match idempotency::begin(&self.state.store, &self.state.clock, request_key).await? {
                Begun::Claimed(claim) => claim,
                Begun::Done(resource) => {
                    let (_, _, key_id) = names::api_key("request_id", &resource)?;
                    let stored = self
                        .state
                        .store
                        .get_api_key(&key_id)
                        .await
                        .map_err(ServiceError::from)?;
                    return Ok(Response::new(CreateApiKeyResponse {
                        api_key: Some(convert::api_key(&stored, now)),
                        key: String::new(),
                        suggested_file_name: key_file::file_name(&stored.display_name, &stored.id),
                    }));
                }
            };
        let creator = caller.principal.name();
        let work = async {
            let issued = issue_api_key(
                &self.state.hasher,
                KeyRequest {
                    account_id: &account_id,
                    user_id: &user_id,
                    display_name: &display_name,
                    description: &description,
                    api_set_ids,
                    expire_time,
                    creator: &creator,
                },
            )
            .await?;
            let resource = crate::auth::api_key_name(&account_id, &user_id, &issued.record.id);
            let stored = claim
                .store(&self.state.store, resource)
                .create_api_key(issued.record)
                .await
                .map_err(|err| match err {
                    StoreError::ForeignKey { .. } => ServiceError::invalid(
                        "api_key.api_sets",
                        "names an API set that is not in the catalog",
                    ),
                    other => other.into(),
                })?;
            Ok::<_, ServiceError>((issued.key, stored))
        };
        let worked = work.await;
        let (key, stored) = claim
            .settle(&self.state.store, worked, |(_, stored)| {
                convert::api_key_name(stored)
            })
            .await?;
        let resource = convert::api_key_name(&stored);
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &resource,
            "api key created",
        )
        .await;
        Ok(Response::new(CreateApiKeyResponse {
            api_key: Some(convert::api_key(&stored, now)),
            key: key.to_token().expose_secret().to_owned(),
            suggested_file_name: key_file::file_name(&stored.display_name, &stored.id),
        }))
    }

    async fn create_enrollment_token(
        &self,
        request: Request<CreateEnrollmentTokenRequest>,
    ) -> Result<Response<CreateEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut req = request.into_inner();
        let (account_id, user_id) = names::user("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let request_id = std::mem::take(&mut req.request_id);
        let request_key = idempotency::request_key(&caller, &request_id, &req.encode_to_vec())?;
        let token = required("enrollment_token", req.enrollment_token)?;
        let now = self.state.clock.now();
        let expire_time = enrollment_expiry(token.expire_time.as_ref(), req.ttl.as_ref(), now)?;
        let api_set_ids = grantable_api_sets(
            &self.state.index,
            &self.state.store,
            &account_id,
            "enrollment_token.api_sets",
            &token.api_sets,
            &caller.principal,
        )
        .await?;
        // The user must be one who can hold the key the token is for.
        let user = crate::index::FactKey::User(account_id.as_str().into(), user_id.as_str().into());
        let owner = self.state.authenticator.owner(&user).await?;
        match owner.state {
            None => {
                return Err(ServiceError::NotFound {
                    resource: req.parent,
                }
                .into());
            }
            Some(UserState::Disabled) => {
                return Err(ServiceError::FailedPrecondition {
                    reason: "USER_DISABLED",
                    message: format!("{} is disabled: enable them first", req.parent),
                }
                .into());
            }
            Some(UserState::Active) => {}
        }
        if !crate::judgement::may_hold_keys(
            owner.administrator,
            owner.authorities.iter().map(String::as_str),
        ) {
            return Err(ServiceError::FailedPrecondition {
                reason: "USER_CANNOT_HOLD_KEYS",
                message: format!(
                    "{} cannot hold API keys: give them a role granting MANAGE_USER_API_KEY first",
                    req.parent
                ),
            }
            .into());
        }
        let claim =
            match idempotency::begin(&self.state.store, &self.state.clock, request_key).await? {
                Begun::Claimed(claim) => claim,
                Begun::Done(resource) => {
                    let (_, _, token_id) = names::enrollment_token("request_id", &resource)?;
                    let stored = self
                        .state
                        .store
                        .get_enrollment_token(&token_id)
                        .await
                        .map_err(ServiceError::from)?;
                    return Ok(Response::new(CreateEnrollmentTokenResponse {
                        enrollment_token: Some(convert::enrollment_token(&stored, now)),
                        token: String::new(),
                    }));
                }
            };
        let creator = caller.principal.name();
        let work = async {
            let key = Key::generate(KeyKind::EnrollmentToken)
                .map_err(|e| ServiceError::Internal(Box::new(e)))?;
            let secret_hash = self.state.hasher.hash_key(&key).await?;
            let resource =
                crate::auth::enrollment_token_name(&account_id, &user_id, key.id().as_str());
            let stored = claim
                .store(&self.state.store, resource)
                .create_enrollment_token(NewEnrollmentToken {
                    id: key.id().as_str().to_owned(),
                    account_id: account_id.clone(),
                    user_id: user_id.clone(),
                    secret_hash,
                    api_set_ids,
                    creator: creator.clone(),
                    expire_time,
                })
                .await
                .map_err(|err| match err {
                    StoreError::ForeignKey { entity: "user", .. } => ServiceError::NotFound {
                        resource: req.parent.clone(),
                    },
                    StoreError::ForeignKey { .. } => ServiceError::invalid(
                        "enrollment_token.api_sets",
                        "names an API set that is not in the catalog",
                    ),
                    other => other.into(),
                })?;
            Ok::<_, ServiceError>((key, stored))
        };
        let worked = work.await;
        let (key, stored) = claim
            .settle(&self.state.store, worked, |(_, stored)| {
                crate::auth::enrollment_token_name(&stored.account_id, &stored.user_id, &stored.id)
            })
            .await?;
        let shown = convert::enrollment_token(&stored, now);
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &shown.name,
            format!(
                "enrollment token issued, offering {}, redeemable until {}",
                stored.api_set_ids.join(", "),
                stored.expire_time.to_rfc3339()
            ),
        )
        .await;
        Ok(Response::new(CreateEnrollmentTokenResponse {
            enrollment_token: Some(shown),
            token: key.to_token().expose_secret().to_owned(),
        }))
    }

    async fn get_enrollment_token(
        &self,
        request: Request<GetEnrollmentTokenRequest>,
    ) -> Result<Response<GetEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let token = self
            .named_enrollment_token(&caller, "name", &request.get_ref().name)
            .await?;
        Ok(Response::new(GetEnrollmentTokenResponse {
            enrollment_token: Some(convert::enrollment_token(&token, self.state.clock.now())),
        }))
    }

    async fn list_enrollment_tokens(
        &self,
        request: Request<ListEnrollmentTokensRequest>,
    ) -> Result<Response<ListEnrollmentTokensResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (account_id, user_id) = user_or_every_user("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let page = PageRequest {
            after: validate::page_token("page_token", &req.page_token)?,
            limit: validate::page_size("page_size", req.page_size)?,
        };
        let found = self
            .state
            .store
            .list_enrollment_tokens(&account_id, user_id.as_deref(), page)
            .await
            .map_err(ServiceError::from)?;
        let now = self.state.clock.now();
        Ok(Response::new(ListEnrollmentTokensResponse {
            enrollment_tokens: found
                .items
                .iter()
                .map(|token| convert::enrollment_token(token, now))
                .collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn revoke_enrollment_token(
        &self,
        request: Request<RevokeEnrollmentTokenRequest>,
    ) -> Result<Response<RevokeEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let name = request.into_inner().name;
        let before = self.named_enrollment_token(&caller, "name", &name).await?;
        let now = self.state.clock.now();
        let after = self
            .state
            .store
            .revoke_enrollment_token(&before.id, now)
            .await
            .map_err(ServiceError::from)?;
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
            }
            .into());
        }
        if before.revoke_time.is_none() {
            record_success(
                &self.state.store,
                &caller,
                &after.account_id,
                &name,
                "enrollment token revoked",
            )
            .await;
        }
        Ok(Response::new(RevokeEnrollmentTokenResponse {
            enrollment_token: Some(convert::enrollment_token(&after, now)),
        }))
    }

    async fn redeem_enrollment_token(
        &self,
        request: Request<RedeemEnrollmentTokenRequest>,
    ) -> Result<Response<RedeemEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let PrincipalKind::Enrollment {
            user_id, token_id, ..
        } = &caller.principal.kind
        else {
            return Err(caller.denied().into());
        };
        let account_id = caller.principal.account_id.clone();
        caller.authorize_user(&account_id, Some(user_id))?;
        let req = request.into_inner();
        let api_key = required("api_key", req.api_key)?;
        let display_name = key_display_name("api_key.display_name", &api_key.display_name)?;
        let description = validate::text("api_key.description", &api_key.description, 1000)?;
        let api_set_ids = redeemable_api_sets(
            &self.state.index,
            &self.state.store,
            &account_id,
            "api_key.api_sets",
            &api_key.api_sets,
            &caller.principal,
        )
        .await?;
        let now = self.state.clock.now();
        let expire_time = expiry(api_key.expire_time.as_ref(), req.ttl.as_ref(), now)?;
        let token_name = caller.principal.name();
        let issued = issue_api_key(
            &self.state.hasher,
            KeyRequest {
                account_id: &account_id,
                user_id,
                display_name: &display_name,
                description: &description,
                api_set_ids,
                expire_time,
                creator: &token_name,
            },
        )
        .await?;
        let redeemed = self
            .state
            .store
            .redeem_enrollment_token(token_id, issued.record, now)
            .await
            .map_err(|err| match err {
                StoreError::ForeignKey {
                    entity: "api set", ..
                } => ServiceError::invalid(
                    "api_key.api_sets",
                    "names an API set that is not in the catalog",
                ),
                // The user was deleted meanwhile: the token went with them.
                StoreError::ForeignKey { .. } => ServiceError::Unauthenticated,
                other => other.into(),
            })?;
        // Spent, revoked or expired since it authenticated this call: as if it had been then.
        let Some((_, stored)) = redeemed else {
            return Err(ServiceError::Unauthenticated.into());
        };
        let resource = convert::api_key_name(&stored);
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &resource,
            format!("api key created by redeeming enrollment token {token_name}"),
        )
        .await;
        Ok(Response::new(RedeemEnrollmentTokenResponse {
            api_key: Some(convert::api_key(&stored, now)),
            key: issued.key.to_token().expose_secret().to_owned(),
            suggested_file_name: key_file::file_name(&stored.display_name, &stored.id),
        }))
    }

    async fn get_api_key(
        &self,
        request: Request<GetApiKeyRequest>,
    ) -> Result<Response<GetApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let key = self
            .named_key(&caller, "name", &request.get_ref().name)
            .await?;
        Ok(Response::new(GetApiKeyResponse {
            api_key: Some(convert::api_key(&key, self.state.clock.now())),
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (account_id, user_id) = list_parent("parent", &req.parent, &caller)?;
        caller.authorize_user(&account_id, user_id.as_deref())?;
        let now = self.state.clock.now();
        let filter = key_filter("state", req.state, now)?;
        let page = PageRequest {
            after: validate::page_token("page_token", &req.page_token)?,
            limit: validate::page_size("page_size", req.page_size)?,
        };
        let found = self
            .state
            .store
            .list_api_keys(&account_id, user_id.as_deref(), filter, page)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(ListApiKeysResponse {
            api_keys: found
                .items
                .iter()
                .map(|key| convert::api_key(key, now))
                .collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn update_api_key(
        &self,
        request: Request<UpdateApiKeyRequest>,
    ) -> Result<Response<UpdateApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let api_key = required("api_key", req.api_key)?;
        let named = authorized_key_name(&caller, "api_key.name", &api_key.name)?;
        let paths = req.update_mask.as_ref().map(|m| m.paths.as_slice());
        if paths.is_some_and(|paths| paths.iter().any(|p| p == "api_sets")) {
            return Err(ServiceError::invalid(
                "update_mask",
                "the API sets of a key never change: create a new key with the API sets it needs",
            )
            .into());
        }
        let mask = validate::update_mask("update_mask", paths, &["display_name", "description"])?;
        let mut update = ApiKeyUpdate::default();
        for path in &mask {
            if path == "display_name" {
                update.display_name = Some(key_display_name(
                    "api_key.display_name",
                    &api_key.display_name,
                )?);
            } else {
                update.description = Some(validate::text(
                    "api_key.description",
                    &api_key.description,
                    1000,
                )?);
            }
        }
        let revision = validate::etag("api_key.etag", &api_key.etag)?;
        self.owned_key(&named, &api_key.name).await?;
        let updated = self
            .state
            .store
            .update_api_key(&named.key_id, update, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            &self.state.store,
            &caller,
            &named.account_id,
            &api_key.name,
            format!("api key updated: {}", mask.join(", ")),
        )
        .await;
        Ok(Response::new(UpdateApiKeyResponse {
            api_key: Some(convert::api_key(&updated, self.state.clock.now())),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let stored = self.named_key(&caller, "name", &req.name).await?;
        let account_id = stored.account_id;
        let now = self.state.clock.now();
        let revoked = self
            .state
            .store
            .revoke_api_key(&stored.id, now)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &req.name,
            "api key revoked",
        )
        .await;
        Ok(Response::new(RevokeApiKeyResponse {
            api_key: Some(convert::api_key(&revoked, now)),
        }))
    }

    async fn delete_api_key(
        &self,
        request: Request<DeleteApiKeyRequest>,
    ) -> Result<Response<DeleteApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let named = authorized_key_name(&caller, "name", &req.name)?;
        let revision = validate::etag("etag", &req.etag)?;
        self.owned_key(&named, &req.name).await?;
        self.state
            .store
            .delete_api_key(&named.key_id, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            &self.state.store,
            &caller,
            &named.account_id,
            &req.name,
            "api key deleted",
        )
        .await;
        Ok(Response::new(DeleteApiKeyResponse {}))
    }

    /// Answers OK with a decision whenever the caller may ask: an invalid,
    /// expired, revoked or out-of-scope key is an answer, not an error. A
    /// malformed key is INVALID before any database work. An API set that is
    /// not in the catalog, or a method in no API set, is API_SET_NOT_ALLOWED:
    /// no key can hold it.
    async fn verify_api_key(
        &self,
        request: Request<VerifyApiKeyRequest>,
    ) -> Result<Response<VerifyApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        if req.key.is_empty() {
            return Err(ServiceError::invalid("key", "is required").into());
        }
        let asked = Asked::parse(&req.api_set, &req.api_method)?;
        // A malformed or checksum-broken key is refused before any lookup.
        let catalog = asked.catalog(&self.state.index).await?;
        let judgement = self
            .state
            .authenticator
            .judge_api_key_token(&req.key, asked.question(), asked.scope(catalog.as_deref()))
            .await?;
        if let Some((key, reason)) = failure(&judgement) {
            self.state.failures.count_api_key(
                &key.account_id,
                &key.user_id,
                &key.id,
                caller.policy.method,
                reason.as_str_name(),
            );
        }
        let decision = convert::api_key_decision(&judgement);
        convert::count_decision("VerifyApiKey", &decision);
        Ok(Response::new(VerifyApiKeyResponse {
            decision: Some(decision),
        }))
    }

    async fn list_api_sets(
        &self,
        request: Request<ListApiSetsRequest>,
    ) -> Result<Response<ListApiSetsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let page = PageRequest {
            after: validate::page_token("page_token", &req.page_token)?,
            limit: validate::page_size("page_size", req.page_size)?,
        };
        let available_in = match req.available_in.as_str() {
            "" => None,
            "accounts/-" => Some(caller.principal.account_id.clone()),
            name => Some(names::account("available_in", name)?),
        };
        // Permission before existence: the rule first, then the account.
        let account = match &available_in {
            None => None,
            Some(account_id) => {
                caller.authorize_field(account_id, "available_in")?;
                Some(
                    self.state
                        .store
                        .get_account(account_id)
                        .await
                        .map_err(ServiceError::from)?,
                )
            }
        };
        let found = self
            .state
            .store
            .list_api_sets(page)
            .await
            .map_err(ServiceError::from)?;
        let available = |id: &str| match &account {
            None => true,
            Some(account) => {
                let entitlements =
                    Entitlements::of_account(account.operator, &account.entitled_api_set_ids);
                may_grant(&caller.principal, entitlements, id).is_ok()
            }
        };
        Ok(Response::new(ListApiSetsResponse {
            api_sets: found
                .items
                .iter()
                .filter(|set| available(&set.id))
                .map(convert::api_set)
                .collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn get_api_set(
        &self,
        request: Request<GetApiSetRequest>,
    ) -> Result<Response<GetApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let id = names::api_set("name", &request.get_ref().name)?;
        let set = self
            .state
            .store
            .get_api_set(&id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(GetApiSetResponse {
            api_set: Some(convert::api_set(&set)),
        }))
    }

    async fn create_api_set(
        &self,
        request: Request<CreateApiSetRequest>,
    ) -> Result<Response<CreateApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let set = required("api_set", req.api_set)?;
        let id = validate::api_set_id("api_set_id", &req.api_set_id)?;
        if id.starts_with(RESERVED_PREFIX) {
            return Err(ServiceError::invalid(
                "api_set_id",
                "must not start with `keyward.`, which is reserved for built-in API sets",
            )
            .into());
        }
        let created = self
            .state
            .store
            .create_api_set(NewApiSet {
                id: id.clone(),
                display_name: validate::display_name(
                    "api_set.display_name",
                    &set.display_name,
                    100,
                )?,
                description: validate::text("api_set.description", &set.description, 1000)?,
                methods: methods("api_set.methods", &set.methods)?,
                builtin: false,
            })
            .await
            .map_err(ServiceError::from)?;
        let resource = convert::api_set_name(&id);
        record_success(
            &self.state.store,
            &caller,
            &caller.principal.account_id,
            &resource,
            "api set created",
        )
        .await;
        Ok(Response::new(CreateApiSetResponse {
            api_set: Some(convert::api_set(&created)),
        }))
    }

    async fn update_api_set(
        &self,
        request: Request<UpdateApiSetRequest>,
    ) -> Result<Response<UpdateApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let set = required("api_set", req.api_set)?;
        let id = names::api_set("api_set.name", &set.name)?;
        let mask = validate::update_mask(
            "update_mask",
            req.update_mask.as_ref().map(|m| m.paths.as_slice()),
            &["display_name", "description", "methods"],
        )?;
        builtin_api_set(&id)?;
        let mut update = ApiSetUpdate::default();
        for path in &mask {
            match path.as_str() {
                "display_name" => {
                    update.display_name = Some(validate::display_name(
                        "api_set.display_name",
                        &set.display_name,
                        100,
                    )?)
                }
                "description" => {
                    update.description = Some(validate::text(
                        "api_set.description",
                        &set.description,
                        1000,
                    )?)
                }
                _ => update.methods = Some(methods("api_set.methods", &set.methods)?),
            }
        }
        let revision = validate::etag("api_set.etag", &set.etag)?;
        let updated = self
            .state
            .store
            .update_api_set(&id, update, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            &self.state.store,
            &caller,
            &caller.principal.account_id,
            &set.name,
            format!("api set updated: {}", mask.join(", ")),
        )
        .await;
        Ok(Response::new(UpdateApiSetResponse {
            api_set: Some(convert::api_set(&updated)),
        }))
    }

    async fn delete_api_set(
        &self,
        request: Request<DeleteApiSetRequest>,
    ) -> Result<Response<DeleteApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let id = names::api_set("name", &req.name)?;
        builtin_api_set(&id)?;
        // Deleting is refused while a credential or key holds the set; the
        // etag, when given, must still match.
        if let Some(revision) = validate::etag("etag", &req.etag)? {
            let current = self
                .state
                .store
                .get_api_set(&id)
                .await
                .map_err(ServiceError::from)?;
            if current.revision != revision {
                return Err(ServiceError::from(StoreError::Conflict).into());
            }
        }
        self.state
            .store
            .delete_api_set(&id)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            &self.state.store,
            &caller,
            &caller.principal.account_id,
            &req.name,
            "api set deleted",
        )
        .await;
        Ok(Response::new(DeleteApiSetResponse {}))
    }
}
