//! `keyward.v1.ApiKeyService`: per-user API keys and the API-set catalog.
//!
//! The gRPC edge only: it converts protobuf messages to domain calls and
//! back. RPCs whose behaviour is not built yet answer UNIMPLEMENTED through
//! the one error mapping, never a fake success.

use tonic::{Request, Response, Status};

use super::pb::api_key_service_server::{ApiKeyService, SERVICE_NAME};
use super::pb::{
    CreateApiKeyRequest, CreateApiKeyResponse, CreateApiSetRequest, CreateApiSetResponse,
    DeleteApiKeyRequest, DeleteApiKeyResponse, DeleteApiSetRequest, DeleteApiSetResponse,
    GetApiKeyRequest, GetApiKeyResponse, GetApiSetRequest, GetApiSetResponse, ListApiKeysRequest,
    ListApiKeysResponse, ListApiSetsRequest, ListApiSetsResponse, RevokeApiKeyRequest,
    RevokeApiKeyResponse, UpdateApiKeyRequest, UpdateApiKeyResponse, UpdateApiSetRequest,
    UpdateApiSetResponse, VerifyApiKeyRequest, VerifyApiKeyResponse,
};
use keyward_store::{ApiSetUpdate, NewApiSet, PageRequest, StoreError};

use super::convert;
use crate::audit::record_success;
use crate::auth::Caller;
use crate::error::ServiceError;
use crate::startup::AppState;
use crate::validate::{self, names};

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
        let ok = (1..=200).contains(&value.len())
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
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
}

#[tonic::async_trait]
impl ApiKeyService for ApiKeyServiceImpl {
    async fn create_api_key(
        &self,
        _request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "CreateApiKey").into())
    }

    async fn get_api_key(
        &self,
        _request: Request<GetApiKeyRequest>,
    ) -> Result<Response<GetApiKeyResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "GetApiKey").into())
    }

    async fn list_api_keys(
        &self,
        _request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListApiKeys").into())
    }

    async fn update_api_key(
        &self,
        _request: Request<UpdateApiKeyRequest>,
    ) -> Result<Response<UpdateApiKeyResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "UpdateApiKey").into())
    }

    async fn revoke_api_key(
        &self,
        _request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "RevokeApiKey").into())
    }

    async fn delete_api_key(
        &self,
        _request: Request<DeleteApiKeyRequest>,
    ) -> Result<Response<DeleteApiKeyResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DeleteApiKey").into())
    }

    async fn verify_api_key(
        &self,
        _request: Request<VerifyApiKeyRequest>,
    ) -> Result<Response<VerifyApiKeyResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "VerifyApiKey").into())
    }

    async fn list_api_sets(
        &self,
        request: Request<ListApiSetsRequest>,
    ) -> Result<Response<ListApiSetsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize(&caller.principal.account_id)?;
        let req = request.into_inner();
        let page = PageRequest {
            after: validate::page_token("page_token", &req.page_token)?,
            limit: validate::page_size("page_size", req.page_size)?,
        };
        let found = self
            .state
            .store
            .list_api_sets(page)
            .await
            .map_err(ServiceError::from)?;
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
        caller.authorize(&caller.principal.account_id)?;
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
        caller.authorize(&caller.principal.account_id)?;
        let req = request.into_inner();
        let set = req
            .api_set
            .ok_or_else(|| ServiceError::invalid("api_set", "is required"))?;
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
        caller.authorize(&caller.principal.account_id)?;
        let req = request.into_inner();
        let set = req
            .api_set
            .ok_or_else(|| ServiceError::invalid("api_set", "is required"))?;
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
        caller.authorize(&caller.principal.account_id)?;
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
