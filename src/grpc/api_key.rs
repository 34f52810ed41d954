//! `keyward.v1.ApiKeyService`: per-user API keys, enrollment tokens and the API-set
//! catalog, as thin adapters over [`crate::usecases::api_keys`],
//! [`crate::usecases::enrollment`] and [`crate::usecases::api_sets`]: each RPC parses its
//! request into the use case's input, calls it, and converts the answer.

use keyward_core::key::Key;
use keyward_core::key_file;
use keyward_store::ApiKey;
use prost::Message;
use secrecy::ExposeSecret;
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
use super::{convert, pb};
use crate::auth::{Caller, KeyJudgement, KeyRefusal};
use crate::error::ServiceError;
use crate::idempotency;
use crate::index::ApiKeyFacts;
use crate::state::AppState;
use crate::usecases::api_keys::{
    self, KeyChange, KeyListing, KeyQuestion, KeyRef, KeyState, NewApiKey,
};
use crate::usecases::api_sets::{self, AvailableIn, NewSet, SetChange};
use crate::usecases::enrollment::{self, NewToken, Redemption, TokenRef};
use crate::validate::{self, names, required};

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

    /// A key as the API shows it now.
    fn shown(&self, key: &ApiKey) -> Option<pb::ApiKey> {
        Some(convert::api_key(key, self.state.clock.now()))
    }

    /// An enrollment token as the API shows it now.
    fn shown_token(&self, token: &keyward_store::EnrollmentToken) -> Option<pb::EnrollmentToken> {
        Some(convert::enrollment_token(token, self.state.clock.now()))
    }
}

#[tonic::async_trait]
impl ApiKeyService for ApiKeyServiceImpl {
    async fn create_api_key(
        &self,
        request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let new = new_api_key(&caller, request.into_inner())?;
        let issued = api_keys::create_api_key(&self.state, &caller, new).await?;
        Ok(Response::new(CreateApiKeyResponse {
            api_key: self.shown(&issued.api_key),
            key: secret(issued.key.as_ref()),
            suggested_file_name: suggested_file_name(&issued.api_key),
        }))
    }

    async fn create_enrollment_token(
        &self,
        request: Request<CreateEnrollmentTokenRequest>,
    ) -> Result<Response<CreateEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let new = new_token(&caller, request.into_inner())?;
        let issued = enrollment::create_enrollment_token(&self.state, &caller, new).await?;
        Ok(Response::new(CreateEnrollmentTokenResponse {
            enrollment_token: self.shown_token(&issued.token),
            token: secret(issued.key.as_ref()),
        }))
    }

    async fn get_enrollment_token(
        &self,
        request: Request<GetEnrollmentTokenRequest>,
    ) -> Result<Response<GetEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let named = token_ref("name", request.into_inner().name)?;
        let token = enrollment::get_enrollment_token(&self.state, &caller, &named).await?;
        Ok(Response::new(GetEnrollmentTokenResponse {
            enrollment_token: self.shown_token(&token),
        }))
    }

    async fn list_enrollment_tokens(
        &self,
        request: Request<ListEnrollmentTokensRequest>,
    ) -> Result<Response<ListEnrollmentTokensResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (account_id, user_id) = user_or_every_user("parent", &req.parent)?;
        let page = super::page_query(req.page_size, req.page_token);
        let found = enrollment::list_enrollment_tokens(
            &self.state,
            &caller,
            &account_id,
            user_id.as_deref(),
            page,
        )
        .await?;
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
        let named = token_ref("name", request.into_inner().name)?;
        let token = enrollment::revoke_enrollment_token(&self.state, &caller, named).await?;
        Ok(Response::new(RevokeEnrollmentTokenResponse {
            enrollment_token: self.shown_token(&token),
        }))
    }

    async fn redeem_enrollment_token(
        &self,
        request: Request<RedeemEnrollmentTokenRequest>,
    ) -> Result<Response<RedeemEnrollmentTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let api_key = required("api_key", req.api_key)?;
        let redemption = Redemption {
            display_name: api_key.display_name,
            description: api_key.description,
            api_sets: api_key.api_sets,
            expire_time: api_key.expire_time,
            ttl: req.ttl,
        };
        let (key, stored) =
            enrollment::redeem_enrollment_token(&self.state, &caller, redemption).await?;
        Ok(Response::new(RedeemEnrollmentTokenResponse {
            api_key: self.shown(&stored),
            key: secret(Some(&key)),
            suggested_file_name: suggested_file_name(&stored),
        }))
    }

    async fn get_api_key(
        &self,
        request: Request<GetApiKeyRequest>,
    ) -> Result<Response<GetApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let named = key_ref("name", request.into_inner().name)?;
        let key = api_keys::get_api_key(&self.state, &caller, named).await?;
        Ok(Response::new(GetApiKeyResponse {
            api_key: self.shown(&key),
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let caller = Caller::of(&request)?;
        let listing = key_listing(&caller, request.into_inner())?;
        let found = api_keys::list_api_keys(&self.state, &caller, listing).await?;
        let now = self.state.clock.now();
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
        let change = KeyChange {
            key: key_ref("api_key.name", api_key.name)?,
            paths: req.update_mask.map(|mask| mask.paths),
            display_name: api_key.display_name,
            description: api_key.description,
            etag: api_key.etag,
        };
        let updated = api_keys::update_api_key(&self.state, &caller, change).await?;
        Ok(Response::new(UpdateApiKeyResponse {
            api_key: self.shown(&updated),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let named = key_ref("name", request.into_inner().name)?;
        let revoked = api_keys::revoke_api_key(&self.state, &caller, named).await?;
        Ok(Response::new(RevokeApiKeyResponse {
            api_key: self.shown(&revoked),
        }))
    }

    async fn delete_api_key(
        &self,
        request: Request<DeleteApiKeyRequest>,
    ) -> Result<Response<DeleteApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let named = key_ref("name", req.name)?;
        api_keys::delete_api_key(&self.state, &caller, named, &req.etag).await?;
        Ok(Response::new(DeleteApiKeyResponse {}))
    }

    /// Answers OK with a decision whenever the caller may ask: an invalid, expired, revoked
    /// or out-of-scope key is an answer, not an error.
    async fn verify_api_key(
        &self,
        request: Request<VerifyApiKeyRequest>,
    ) -> Result<Response<VerifyApiKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.get_ref();
        let question = KeyQuestion {
            key: &req.key,
            api_set: &req.api_set,
            api_method: &req.api_method,
        };
        let judgement = api_keys::verify_api_key(&self.state, &caller, question).await?;
        if let Some((key, reason)) = failure(&judgement) {
            let (account, user, method) = (&key.account_id, &key.user_id, caller.policy.method);
            let reason = reason.as_str_name();
            (self.state.failures).count_api_key(account, user, &key.id, method, reason);
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
        let req = request.into_inner();
        let page = super::page_query(req.page_size, req.page_token);
        let available_in = match req.available_in.as_str() {
            "" => Ok(AvailableIn::Everywhere),
            "accounts/-" => Ok(AvailableIn::CallersAccount),
            name => names::account("available_in", name).map(AvailableIn::Account),
        };
        let found = api_sets::list_api_sets(&self.state, &caller, available_in, page).await?;
        Ok(Response::new(ListApiSetsResponse {
            api_sets: found.items.iter().map(convert::api_set).collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn get_api_set(
        &self,
        request: Request<GetApiSetRequest>,
    ) -> Result<Response<GetApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        let id = names::api_set("name", &request.get_ref().name)?;
        let set = api_sets::get_api_set(&self.state, &caller, &id).await?;
        Ok(Response::new(GetApiSetResponse {
            api_set: Some(convert::api_set(&set)),
        }))
    }

    async fn create_api_set(
        &self,
        request: Request<CreateApiSetRequest>,
    ) -> Result<Response<CreateApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let set = required("api_set", req.api_set)?;
        let new = NewSet {
            id: req.api_set_id,
            display_name: set.display_name,
            description: set.description,
            methods: set.methods,
        };
        let created = api_sets::create_api_set(&self.state, &caller, new).await?;
        Ok(Response::new(CreateApiSetResponse {
            api_set: Some(convert::api_set(&created)),
        }))
    }

    async fn update_api_set(
        &self,
        request: Request<UpdateApiSetRequest>,
    ) -> Result<Response<UpdateApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let set = required("api_set", req.api_set)?;
        let change = SetChange {
            id: names::api_set("api_set.name", &set.name)?,
            name: set.name,
            paths: req.update_mask.map(|mask| mask.paths),
            display_name: set.display_name,
            description: set.description,
            methods: set.methods,
            etag: set.etag,
        };
        let updated = api_sets::update_api_set(&self.state, &caller, change).await?;
        Ok(Response::new(UpdateApiSetResponse {
            api_set: Some(convert::api_set(&updated)),
        }))
    }

    async fn delete_api_set(
        &self,
        request: Request<DeleteApiSetRequest>,
    ) -> Result<Response<DeleteApiSetResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let id = names::api_set("name", &req.name)?;
        api_sets::delete_api_set(&self.state, &caller, &req.name, &id, &req.etag).await?;
        Ok(Response::new(DeleteApiSetResponse {}))
    }
}

/// A secret shown once: the key's token, or empty when a retry found what was made.
fn secret(key: Option<&Key>) -> String {
    key.map(|key| key.to_token().expose_secret().to_owned())
        .unwrap_or_default()
}

/// The file name the API suggests for saving a key.
fn suggested_file_name(key: &ApiKey) -> String {
    key_file::file_name(&key.display_name, &key.id)
}

/// The parts of an API key's resource name.
fn key_ref(field: &str, name: String) -> Result<KeyRef, ServiceError> {
    let (account_id, user_id, key_id) = names::api_key(field, &name)?;
    Ok(KeyRef {
        name,
        account_id,
        user_id,
        key_id,
    })
}

/// The parts of an enrollment token's resource name.
fn token_ref(field: &str, name: String) -> Result<TokenRef, ServiceError> {
    let (account_id, user_id, token_id) = names::enrollment_token(field, &name)?;
    Ok(TokenRef {
        name,
        account_id,
        user_id,
        token_id,
    })
}

/// The request ID of a create, checked, with the fingerprint of the rest of the request.
fn request_key<M: Message>(
    caller: &Caller,
    request_id: String,
    request: &M,
) -> Result<Option<idempotency::RequestKey>, ServiceError> {
    idempotency::request_key(caller, &request_id, &request.encode_to_vec())
}

/// CreateApiKey's input.
fn new_api_key(caller: &Caller, mut req: CreateApiKeyRequest) -> Result<NewApiKey, ServiceError> {
    let (account_id, user_id) = owner("parent", &req.parent, caller)?;
    let request_id = std::mem::take(&mut req.request_id);
    let request_key = request_key(caller, request_id, &req);
    let api_key = required("api_key", req.api_key)?;
    Ok(NewApiKey {
        account_id,
        user_id,
        request_key,
        display_name: api_key.display_name,
        description: api_key.description,
        api_sets: api_key.api_sets,
        expire_time: api_key.expire_time,
        ttl: req.ttl,
    })
}

/// CreateEnrollmentToken's input.
fn new_token(
    caller: &Caller,
    mut req: CreateEnrollmentTokenRequest,
) -> Result<NewToken, ServiceError> {
    let (account_id, user_id) = names::user("parent", &req.parent)?;
    let request_id = std::mem::take(&mut req.request_id);
    let request_key = request_key(caller, request_id, &req);
    let token = required("enrollment_token", req.enrollment_token)?;
    Ok(NewToken {
        parent: req.parent,
        account_id,
        user_id,
        request_key,
        api_sets: token.api_sets,
        expire_time: token.expire_time,
        ttl: req.ttl,
    })
}

/// ListApiKeys' input.
fn key_listing(caller: &Caller, req: ListApiKeysRequest) -> Result<KeyListing, ServiceError> {
    let (account_id, user_id) = list_parent("parent", &req.parent, caller)?;
    Ok(KeyListing {
        account_id,
        user_id,
        state: key_state("state", req.state),
        page: super::page_query(req.page_size, req.page_token),
    })
}

/// The owner a request names: `users/me` (the caller) or `accounts/{account}/users/{user}`.
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

/// The state filter of ListApiKeys. Unset lists every key.
fn key_state(field: &str, value: i32) -> Result<Option<KeyState>, ServiceError> {
    use pb::api_key::State;
    match State::try_from(value) {
        Ok(State::Unspecified) => Ok(None),
        Ok(State::Active) => Ok(Some(KeyState::Active)),
        Ok(State::Expired) => Ok(Some(KeyState::Expired)),
        Ok(State::Revoked) => Ok(Some(KeyState::Revoked)),
        Err(_) => Err(ServiceError::invalid(
            field,
            "must be STATE_ACTIVE, STATE_REVOKED or STATE_EXPIRED, or unset for every key",
        )),
    }
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
