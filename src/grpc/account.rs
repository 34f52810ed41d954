//! `keyward.v1.AccountService`: accounts, users, roles and the audit log.
//!
//! The gRPC edge only: it converts protobuf messages to domain calls and
//! back. RPCs whose behaviour is not built yet answer UNIMPLEMENTED through
//! the one error mapping, never a fake success.

use tonic::{Request, Response, Status};

use super::pb::account_service_server::{AccountService, SERVICE_NAME};
use super::pb::{
    CreateAccountRequest, CreateAccountResponse, CreateRoleRequest, CreateRoleResponse,
    CreateUserRequest, CreateUserResponse, DeleteRoleRequest, DeleteRoleResponse,
    DeleteUserRequest, DeleteUserResponse, DisableUserRequest, DisableUserResponse,
    EnableUserRequest, EnableUserResponse, GetAccountRequest, GetAccountResponse, GetRoleRequest,
    GetRoleResponse, GetUserRequest, GetUserResponse, ListAccountsRequest, ListAccountsResponse,
    ListAuditEventsRequest, ListAuditEventsResponse, ListRolesRequest, ListRolesResponse,
    ListUsersRequest, ListUsersResponse, UpdateAccountRequest, UpdateAccountResponse,
    UpdateRoleRequest, UpdateRoleResponse, UpdateUserRequest, UpdateUserResponse,
    VerifyAccountRequest, VerifyAccountResponse,
};
use crate::error::ServiceError;
use crate::startup::AppState;

/// Serves `keyward.v1.AccountService`.
#[derive(Debug, Clone)]
pub struct AccountServiceImpl {
    #[allow(dead_code)] // used by the handlers as they are built
    state: AppState,
}

impl AccountServiceImpl {
    /// A `AccountService` over the application state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl AccountService for AccountServiceImpl {
    async fn create_account(
        &self,
        _request: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "CreateAccount").into())
    }

    async fn get_account(
        &self,
        _request: Request<GetAccountRequest>,
    ) -> Result<Response<GetAccountResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "GetAccount").into())
    }

    async fn list_accounts(
        &self,
        _request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListAccounts").into())
    }

    async fn update_account(
        &self,
        _request: Request<UpdateAccountRequest>,
    ) -> Result<Response<UpdateAccountResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "UpdateAccount").into())
    }

    async fn verify_account(
        &self,
        _request: Request<VerifyAccountRequest>,
    ) -> Result<Response<VerifyAccountResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "VerifyAccount").into())
    }

    async fn create_user(
        &self,
        _request: Request<CreateUserRequest>,
    ) -> Result<Response<CreateUserResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "CreateUser").into())
    }

    async fn get_user(
        &self,
        _request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "GetUser").into())
    }

    async fn list_users(
        &self,
        _request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListUsers").into())
    }

    async fn update_user(
        &self,
        _request: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "UpdateUser").into())
    }

    async fn disable_user(
        &self,
        _request: Request<DisableUserRequest>,
    ) -> Result<Response<DisableUserResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DisableUser").into())
    }

    async fn enable_user(
        &self,
        _request: Request<EnableUserRequest>,
    ) -> Result<Response<EnableUserResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "EnableUser").into())
    }

    async fn delete_user(
        &self,
        _request: Request<DeleteUserRequest>,
    ) -> Result<Response<DeleteUserResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DeleteUser").into())
    }

    async fn create_role(
        &self,
        _request: Request<CreateRoleRequest>,
    ) -> Result<Response<CreateRoleResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "CreateRole").into())
    }

    async fn get_role(
        &self,
        _request: Request<GetRoleRequest>,
    ) -> Result<Response<GetRoleResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "GetRole").into())
    }

    async fn list_roles(
        &self,
        _request: Request<ListRolesRequest>,
    ) -> Result<Response<ListRolesResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListRoles").into())
    }

    async fn update_role(
        &self,
        _request: Request<UpdateRoleRequest>,
    ) -> Result<Response<UpdateRoleResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "UpdateRole").into())
    }

    async fn delete_role(
        &self,
        _request: Request<DeleteRoleRequest>,
    ) -> Result<Response<DeleteRoleResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "DeleteRole").into())
    }

    async fn list_audit_events(
        &self,
        _request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        Err(ServiceError::unimplemented(SERVICE_NAME, "ListAuditEvents").into())
    }
}
