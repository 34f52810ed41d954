//! `keyward.v1.AccountService`: accounts, users, roles and the audit log.
//!
//! Each handler is a thin adapter: it resolves the caller, parses what must be known
//! before authorizing (the resource names; INVALID_ARGUMENT naming the field), calls the
//! use case in `crate::usecases` (which authorizes against the account the request
//! touches before looking anything up, checks the rest, acts and audits), and converts
//! the answer.

use prost::Message;
use secrecy::ExposeSecret;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert;
use super::pb::account_service_server::AccountService;
use super::pb::{
    CreateAccountRequest, CreateAccountResponse, CreateRoleRequest, CreateRoleResponse,
    CreateUserRequest, CreateUserResponse, DeleteRoleRequest, DeleteRoleResponse,
    DeleteUserRequest, DeleteUserResponse, DisableUserRequest, DisableUserResponse,
    EnableUserRequest, EnableUserResponse, ExportAuditEventsRequest, ExportAuditEventsResponse,
    GetAccountRequest, GetAccountResponse, GetRoleRequest, GetRoleResponse, GetUserRequest,
    GetUserResponse, ListAccountsRequest, ListAccountsResponse, ListAuditEventsRequest,
    ListAuditEventsResponse, ListRolesRequest, ListRolesResponse, ListUsersRequest,
    ListUsersResponse, UpdateAccountRequest, UpdateAccountResponse, UpdateRoleRequest,
    UpdateRoleResponse, UpdateUserRequest, UpdateUserResponse, VerifyAccountRequest,
    VerifyAccountResponse,
};
use crate::auth::Caller;
use crate::error::ServiceError;
use crate::idempotency;
use crate::state::AppState;
use crate::usecases::accounts::{
    self, AccountFields, AdministratorFields, CreateAccount, UpdateAccount, VerifyAccount,
};
use crate::usecases::audit_log::{self, AuditExport};
use crate::usecases::roles::{self, CreateRole, DeleteRole, RoleFields, UpdateRole};
use crate::usecases::users::{self, CreateUser, UpdateUser, UserFields, UserVersion};
use crate::validate::{names, required};

/// Serves `keyward.v1.AccountService`.
#[derive(Debug, Clone)]
pub struct AccountServiceImpl {
    state: AppState,
}

impl AccountServiceImpl {
    /// An `AccountService` over the application state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl AccountService for AccountServiceImpl {
    async fn create_account(
        &self,
        request: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = create_account_input(&caller, request.into_inner());
        let created = accounts::create_account(&self.state, &caller, input).await?;
        Ok(Response::new(CreateAccountResponse {
            account: Some(convert::account(&created.account)),
            administrator: Some(convert::user(&created.administrator)),
            administrator_api_key: created
                .administrator_api_key
                .map(|key| key.expose_secret().to_owned())
                .unwrap_or_default(),
        }))
    }

    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> Result<Response<GetAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let account_id = names::account("name", &request.get_ref().name)?;
        let account = accounts::get_account(&self.state, &caller, &account_id).await?;
        Ok(Response::new(GetAccountResponse {
            account: Some(convert::account(&account)),
        }))
    }

    async fn list_accounts(
        &self,
        request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let query = super::page_query(req.page_size, req.page_token);
        let found = accounts::list_accounts(&self.state, &caller, query).await?;
        Ok(Response::new(ListAccountsResponse {
            accounts: found.items.iter().map(convert::account).collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn update_account(
        &self,
        request: Request<UpdateAccountRequest>,
    ) -> Result<Response<UpdateAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = UpdateAccount::try_from(request.into_inner())?;
        let account = accounts::update_account(&self.state, &caller, input).await?;
        Ok(Response::new(UpdateAccountResponse {
            account: Some(convert::account(&account)),
        }))
    }

    async fn verify_account(
        &self,
        request: Request<VerifyAccountRequest>,
    ) -> Result<Response<VerifyAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("name", &req.name)?;
        let input = VerifyAccount {
            account_id,
            etag: req.etag,
        };
        let account = accounts::verify_account(&self.state, &caller, input).await?;
        Ok(Response::new(VerifyAccountResponse {
            account: Some(convert::account(&account)),
        }))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<CreateUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = create_user_input(&caller, request.into_inner())?;
        let user = users::create_user(&self.state, &caller, input).await?;
        Ok(Response::new(CreateUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (account_id, user_id) = names::user("name", &request.get_ref().name)?;
        let user = users::get_user(&self.state, &caller, &account_id, &user_id).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        let query = super::page_query(req.page_size, req.page_token);
        let found = users::list_users(&self.state, &caller, &account_id, query).await?;
        Ok(Response::new(ListUsersResponse {
            users: found.items.iter().map(convert::user).collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn update_user(
        &self,
        request: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = UpdateUser::try_from(request.into_inner())?;
        let user = users::update_user(&self.state, &caller, input).await?;
        Ok(Response::new(UpdateUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn disable_user(
        &self,
        request: Request<DisableUserRequest>,
    ) -> Result<Response<DisableUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let input = user_version(&req.name, req.etag)?;
        let user = users::disable_user(&self.state, &caller, input).await?;
        Ok(Response::new(DisableUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn enable_user(
        &self,
        request: Request<EnableUserRequest>,
    ) -> Result<Response<EnableUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let input = user_version(&req.name, req.etag)?;
        let user = users::enable_user(&self.state, &caller, input).await?;
        Ok(Response::new(EnableUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn delete_user(
        &self,
        request: Request<DeleteUserRequest>,
    ) -> Result<Response<DeleteUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let input = user_version(&req.name, req.etag)?;
        users::delete_user(&self.state, &caller, input).await?;
        Ok(Response::new(DeleteUserResponse {}))
    }

    async fn create_role(
        &self,
        request: Request<CreateRoleRequest>,
    ) -> Result<Response<CreateRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CreateRole::try_from(request.into_inner())?;
        let role = roles::create_role(&self.state, &caller, input).await?;
        Ok(Response::new(CreateRoleResponse {
            role: Some(convert::role(&role)),
        }))
    }

    async fn get_role(
        &self,
        request: Request<GetRoleRequest>,
    ) -> Result<Response<GetRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (account_id, role_id) = names::role("name", &request.get_ref().name)?;
        let role = roles::get_role(&self.state, &caller, &account_id, &role_id).await?;
        Ok(Response::new(GetRoleResponse {
            role: Some(convert::role(&role)),
        }))
    }

    async fn list_roles(
        &self,
        request: Request<ListRolesRequest>,
    ) -> Result<Response<ListRolesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        let query = super::page_query(req.page_size, req.page_token);
        let found = roles::list_roles(&self.state, &caller, &account_id, query).await?;
        Ok(Response::new(ListRolesResponse {
            roles: found.items.iter().map(convert::role).collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn update_role(
        &self,
        request: Request<UpdateRoleRequest>,
    ) -> Result<Response<UpdateRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = UpdateRole::try_from(request.into_inner())?;
        let role = roles::update_role(&self.state, &caller, input).await?;
        Ok(Response::new(UpdateRoleResponse {
            role: Some(convert::role(&role)),
        }))
    }

    async fn delete_role(
        &self,
        request: Request<DeleteRoleRequest>,
    ) -> Result<Response<DeleteRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (account_id, role_id) = names::role("name", &req.name)?;
        let input = DeleteRole {
            account_id,
            role_id,
            etag: req.etag,
        };
        roles::delete_role(&self.state, &caller, input).await?;
        Ok(Response::new(DeleteRoleResponse {}))
    }

    type ExportAuditEventsStream = ReceiverStream<Result<ExportAuditEventsResponse, Status>>;

    async fn export_audit_events(
        &self,
        request: Request<ExportAuditEventsRequest>,
    ) -> Result<Response<Self::ExportAuditEventsStream>, Status> {
        let caller = Caller::of(&request)?;
        let account_id = names::account("parent", &request.get_ref().parent)?;
        let export = audit_log::export_audit_events(&self.state, &caller, account_id)?;
        Ok(Response::new(stream_export(export)))
    }

    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        let query = super::page_query(req.page_size, req.page_token);
        let found = audit_log::list_audit_events(&self.state, &caller, &account_id, query).await?;
        let next = found.next_after.map(|sequence| sequence.to_string());
        Ok(Response::new(ListAuditEventsResponse {
            audit_events: found.items.iter().map(convert::audit_event).collect(),
            next_page_token: convert::next_page_token(next.as_deref()),
        }))
    }
}

/// Sends the parts of an export as the client reads them: at most two parts are held in
/// memory whatever the log's length. A failure ends the stream with its status.
fn stream_export(
    mut export: AuditExport,
) -> ReceiverStream<Result<ExportAuditEventsResponse, Status>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let answer = match export.next_part().await {
                Ok(None) => return,
                Ok(Some(part)) => Ok(ExportAuditEventsResponse {
                    audit_events: part.iter().map(convert::audit_event).collect(),
                }),
                Err(err) => Err(Status::from(err)),
            };
            let failed = answer.is_err();
            if sender.send(answer).await.is_err() || failed {
                return;
            }
        }
    });
    ReceiverStream::new(receiver)
}

/// CreateAccount names no account: every field is checked by the use case, after it
/// authorizes the caller; so is the request ID, whose key only the edge can compute (from
/// the request's encoding without it).
fn create_account_input(caller: &Caller, mut req: CreateAccountRequest) -> CreateAccount {
    let request_id = std::mem::take(&mut req.request_id);
    let request_key = idempotency::request_key(caller, &request_id, &req.encode_to_vec());
    CreateAccount {
        request_key,
        account_id: req.account_id,
        account: req.account.map(|account| AccountFields {
            display_name: account.display_name,
            client_id_prefix: account.client_id_prefix,
            entitled_api_sets: account.entitled_api_sets,
        }),
        administrator: req.administrator.map(|user| AdministratorFields {
            name: user.name,
            display_name: user.display_name,
            email: user.email,
        }),
    }
}

/// CreateUser: the account (`parent`) is parsed first.
fn create_user_input(
    caller: &Caller,
    mut req: CreateUserRequest,
) -> Result<CreateUser, ServiceError> {
    let account_id = names::account("parent", &req.parent)?;
    let request_id = std::mem::take(&mut req.request_id);
    let request_key = idempotency::request_key(caller, &request_id, &req.encode_to_vec());
    Ok(CreateUser {
        account_id,
        request_key,
        user_id: req.user_id,
        user: req.user.map(UserFields::from),
    })
}

/// A request naming a user (`name`) at a revision (`etag`).
fn user_version(name: &str, etag: String) -> Result<UserVersion, ServiceError> {
    let (account_id, user_id) = names::user("name", name)?;
    Ok(UserVersion {
        account_id,
        user_id,
        etag,
    })
}

fn update_mask(mask: Option<prost_types::FieldMask>) -> Option<Vec<String>> {
    mask.map(|mask| mask.paths)
}

impl TryFrom<UpdateAccountRequest> for UpdateAccount {
    type Error = ServiceError;

    fn try_from(req: UpdateAccountRequest) -> Result<Self, ServiceError> {
        let account = required("account", req.account)?;
        Ok(UpdateAccount {
            account_id: names::account("account.name", &account.name)?,
            update_mask: update_mask(req.update_mask),
            display_name: account.display_name,
            entitled_api_sets: account.entitled_api_sets,
            etag: account.etag,
        })
    }
}

impl From<super::pb::User> for UserFields {
    fn from(user: super::pb::User) -> Self {
        UserFields {
            display_name: user.display_name,
            email: user.email,
            roles: user.roles,
        }
    }
}

impl TryFrom<UpdateUserRequest> for UpdateUser {
    type Error = ServiceError;

    fn try_from(req: UpdateUserRequest) -> Result<Self, ServiceError> {
        let user = required("user", req.user)?;
        let (account_id, user_id) = names::user("user.name", &user.name)?;
        Ok(UpdateUser {
            account_id,
            user_id,
            update_mask: update_mask(req.update_mask),
            etag: user.etag.clone(),
            user: user.into(),
        })
    }
}

/// The fields of a role; its authorities are parsed here, and any error about them is
/// answered by the use case where it comes to them.
impl From<super::pb::Role> for RoleFields {
    fn from(role: super::pb::Role) -> Self {
        RoleFields {
            authorities: role
                .authorities
                .iter()
                .map(|value| convert::authority_from_pb("role.authorities", *value))
                .collect(),
            display_name: role.display_name,
            description: role.description,
        }
    }
}

impl TryFrom<CreateRoleRequest> for CreateRole {
    type Error = ServiceError;

    fn try_from(req: CreateRoleRequest) -> Result<Self, ServiceError> {
        Ok(CreateRole {
            account_id: names::account("parent", &req.parent)?,
            role_id: req.role_id,
            role: req.role.map(RoleFields::from),
        })
    }
}

impl TryFrom<UpdateRoleRequest> for UpdateRole {
    type Error = ServiceError;

    fn try_from(req: UpdateRoleRequest) -> Result<Self, ServiceError> {
        let role = required("role", req.role)?;
        let (account_id, role_id) = names::role("role.name", &role.name)?;
        Ok(UpdateRole {
            account_id,
            role_id,
            update_mask: update_mask(req.update_mask),
            etag: role.etag.clone(),
            role: role.into(),
        })
    }
}
