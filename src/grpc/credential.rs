//! `keyward.v1.CredentialService`: API client credentials and their verification.
//!
//! The gRPC edge only: it converts protobuf messages to domain calls and
//! back. RPCs whose behaviour is not built yet answer UNIMPLEMENTED through
//! the one error mapping, never a fake success.

use tonic::{Request, Response, Status};

use super::pb::credential_service_server::{CredentialService, SERVICE_NAME};
use super::pb::{
    CreateCredentialRequest, CreateCredentialResponse, DeleteCredentialRequest,
    DeleteCredentialResponse, DisableCredentialRequest, DisableCredentialResponse,
    EnableCredentialRequest, EnableCredentialResponse, GetCredentialRequest, GetCredentialResponse,
    ListCredentialsRequest, ListCredentialsResponse, RenewCredentialSecretRequest,
    RenewCredentialSecretResponse, UpdateCredentialRequest, UpdateCredentialResponse,
    VerifyClientSecretRequest, VerifyClientSecretResponse, VerifyHmacSignatureRequest,
    VerifyHmacSignatureResponse,
};
use crate::error::ServiceError;
use crate::startup::AppState;

/// Serves `keyward.v1.CredentialService`.
#[derive(Debug, Clone)]
pub struct CredentialServiceImpl {
    #[allow(dead_code)] // used by the handlers as they are built
    state: AppState,
}

impl CredentialServiceImpl {
    /// A `CredentialService` over the application state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl CredentialService for CredentialServiceImpl {
    async fn create_credential(
        &self,
        _request: Request<CreateCredentialRequest>,
    ) -> Result<Response<CreateCredentialResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "CreateCredential").into())
    }

    async fn get_credential(
        &self,
        _request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "GetCredential").into())
    }

    async fn list_credentials(
        &self,
        _request: Request<ListCredentialsRequest>,
    ) -> Result<Response<ListCredentialsResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListCredentials").into())
    }

    async fn update_credential(
        &self,
        _request: Request<UpdateCredentialRequest>,
    ) -> Result<Response<UpdateCredentialResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "UpdateCredential").into())
    }

    async fn enable_credential(
        &self,
        _request: Request<EnableCredentialRequest>,
    ) -> Result<Response<EnableCredentialResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "EnableCredential").into())
    }

    async fn disable_credential(
        &self,
        _request: Request<DisableCredentialRequest>,
    ) -> Result<Response<DisableCredentialResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DisableCredential").into())
    }

    async fn renew_credential_secret(
        &self,
        _request: Request<RenewCredentialSecretRequest>,
    ) -> Result<Response<RenewCredentialSecretResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "RenewCredentialSecret").into())
    }

    async fn delete_credential(
        &self,
        _request: Request<DeleteCredentialRequest>,
    ) -> Result<Response<DeleteCredentialResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DeleteCredential").into())
    }

    async fn verify_client_secret(
        &self,
        _request: Request<VerifyClientSecretRequest>,
    ) -> Result<Response<VerifyClientSecretResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "VerifyClientSecret").into())
    }

    async fn verify_hmac_signature(
        &self,
        _request: Request<VerifyHmacSignatureRequest>,
    ) -> Result<Response<VerifyHmacSignatureResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "VerifyHmacSignature").into())
    }
}
