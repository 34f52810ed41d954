//! `keyward.v1.CredentialService`: API client credentials and their verification.
//!
//! The gRPC edge only: it converts protobuf messages to domain calls and
//! back. RPCs whose behaviour is not built yet answer UNIMPLEMENTED through
//! the one error mapping, never a fake success.

use tonic::{Request, Response, Status};

use super::not_built;
use super::pb::credential_service_server::CredentialService;
use super::pb::{
    CreateCredentialRequest, CreateCredentialResponse, DeleteCredentialRequest,
    DeleteCredentialResponse, DisableCredentialRequest, DisableCredentialResponse,
    EnableCredentialRequest, EnableCredentialResponse, GetCredentialRequest, GetCredentialResponse,
    ListCredentialsRequest, ListCredentialsResponse, RenewCredentialSecretRequest,
    RenewCredentialSecretResponse, UpdateCredentialRequest, UpdateCredentialResponse,
    VerifyClientSecretRequest, VerifyClientSecretResponse, VerifyHmacSignatureRequest,
    VerifyHmacSignatureResponse,
};
use crate::auth::Caller;
use crate::startup::AppState;

/// Serves `keyward.v1.CredentialService`.
#[derive(Debug, Clone)]
pub struct CredentialServiceImpl {
    #[allow(dead_code)] // used by the handlers as they are built (next issue)
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
        request: Request<CreateCredentialRequest>,
    ) -> Result<Response<CreateCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "parent", Some(request.get_ref().parent.as_str())).into())
    }

    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "name", Some(request.get_ref().name.as_str())).into())
    }

    async fn list_credentials(
        &self,
        request: Request<ListCredentialsRequest>,
    ) -> Result<Response<ListCredentialsResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "parent", Some(request.get_ref().parent.as_str())).into())
    }

    async fn update_credential(
        &self,
        request: Request<UpdateCredentialRequest>,
    ) -> Result<Response<UpdateCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(
            &caller,
            "credential.name",
            request
                .get_ref()
                .credential
                .as_ref()
                .map(|r| r.name.as_str()),
        )
        .into())
    }

    async fn enable_credential(
        &self,
        request: Request<EnableCredentialRequest>,
    ) -> Result<Response<EnableCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "name", Some(request.get_ref().name.as_str())).into())
    }

    async fn disable_credential(
        &self,
        request: Request<DisableCredentialRequest>,
    ) -> Result<Response<DisableCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "name", Some(request.get_ref().name.as_str())).into())
    }

    async fn renew_credential_secret(
        &self,
        request: Request<RenewCredentialSecretRequest>,
    ) -> Result<Response<RenewCredentialSecretResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "name", Some(request.get_ref().name.as_str())).into())
    }

    async fn delete_credential(
        &self,
        request: Request<DeleteCredentialRequest>,
    ) -> Result<Response<DeleteCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "name", Some(request.get_ref().name.as_str())).into())
    }

    async fn verify_client_secret(
        &self,
        request: Request<VerifyClientSecretRequest>,
    ) -> Result<Response<VerifyClientSecretResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "", None).into())
    }

    async fn verify_hmac_signature(
        &self,
        request: Request<VerifyHmacSignatureRequest>,
    ) -> Result<Response<VerifyHmacSignatureResponse>, Status> {
        let caller = Caller::of(&request)?;
        Err(not_built(&caller, "", None).into())
    }
}
