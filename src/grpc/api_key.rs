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
use crate::error::ServiceError;
use crate::startup::AppState;

/// Serves `keyward.v1.ApiKeyService`.
#[derive(Debug, Clone)]
pub struct ApiKeyServiceImpl {
    #[allow(dead_code)] // used by the handlers as they are built
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
        _request: Request<ListApiSetsRequest>,
    ) -> Result<Response<ListApiSetsResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListApiSets").into())
    }

    async fn get_api_set(
        &self,
        _request: Request<GetApiSetRequest>,
    ) -> Result<Response<GetApiSetResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "GetApiSet").into())
    }

    async fn create_api_set(
        &self,
        _request: Request<CreateApiSetRequest>,
    ) -> Result<Response<CreateApiSetResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "CreateApiSet").into())
    }

    async fn update_api_set(
        &self,
        _request: Request<UpdateApiSetRequest>,
    ) -> Result<Response<UpdateApiSetResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "UpdateApiSet").into())
    }

    async fn delete_api_set(
        &self,
        _request: Request<DeleteApiSetRequest>,
    ) -> Result<Response<DeleteApiSetResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DeleteApiSet").into())
    }
}
