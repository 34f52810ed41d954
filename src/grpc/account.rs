//! `keyward.v1.AccountService`: accounts, users, roles and the audit log.
//!
//! Each handler: resolve the caller, parse the request (INVALID_ARGUMENT
//! naming the field), authorize against the account the request touches
//! (before looking anything up, so other accounts' resources stay invisible),
//! act through the store, audit, convert.

use std::collections::BTreeSet;

use keyward_store::{
    AccountUpdate, NewAccount, NewRole, NewUser, PageRequest, RoleUpdate, Store, StoreError,
    UserChange, UserState, UserUpdate,
};
use prost::Message;
use secrecy::ExposeSecret;
use tonic::{Request, Response, Status};

use super::convert;
use super::pb::account_service_server::AccountService;
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
use crate::audit::record_success;
use crate::auth::{Authority, Caller};
use crate::error::ServiceError;
use crate::idempotency::{self, Begun};
use crate::identity::{ADMINISTRATOR_ROLE_ID, generated_id, new_account_with_administrator};
use crate::state::AppState;
use crate::validate::{self, names, required};

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;

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

    fn store(&self) -> &Store {
        &self.state.store
    }

    /// Makes a change to a user, unless it would leave the account without an
    /// active administrator (operators have no powers inside other accounts, so
    /// nobody could repair it): FAILED_PRECONDITION `LAST_ADMINISTRATOR`. The store
    /// checks it inside the change's transaction, with the account locked, so two
    /// concurrent changes cannot both remove the last administrator. The user, or
    /// None once deleted.
    async fn change_user(
        &self,
        account_id: &str,
        user_id: &str,
        change: UserChange,
        revision: Option<i64>,
    ) -> Result<Option<keyward_store::User>, ServiceError> {
        self.store()
            .change_user_keeping_holder(account_id, user_id, ADMINISTRATOR_ROLE_ID, change, revision)
            .await
            .map_err(|err| match err {
                StoreError::LastActiveHolder { .. } => ServiceError::FailedPrecondition {
                    reason: "LAST_ADMINISTRATOR",
                    message: "the account must keep an active administrator; make another user administrator first"
                        .to_owned(),
                },
                other => other.into(),
            })
    }

    /// [`change_user`](Self::change_user) for a change that keeps the user.
    async fn changed_user(
        &self,
        account_id: &str,
        user_id: &str,
        change: UserChange,
        revision: Option<i64>,
    ) -> Result<keyward_store::User, ServiceError> {
        self.change_user(account_id, user_id, change, revision)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                resource: format!("user {user_id}"),
            })
    }

    /// DisableUser and EnableUser: the same steps towards another state.
    async fn set_user_state(
        &self,
        caller: &Caller,
        name: &str,
        etag: &str,
        state: UserState,
        detail: &str,
    ) -> Result<keyward_store::User, ServiceError> {
        let (account_id, user_id) = names::user("name", name)?;
        caller.authorize(&account_id)?;
        let revision = validate::etag("etag", etag)?;
        let user = self
            .changed_user(&account_id, &user_id, UserChange::State(state), revision)
            .await?;
        record_success(self.store(), caller, &account_id, name, detail).await;
        Ok(user)
    }
}

fn page(
    field_size: &str,
    size: i32,
    field_token: &str,
    token: &str,
) -> Result<PageRequest, ServiceError> {
    Ok(PageRequest {
        after: validate::page_token(field_token, token)?,
        limit: validate::page_size(field_size, size)?,
    })
}

/// The role IDs named by `names` (all in `account_id`), sorted and unique.
fn role_ids(
    field: &str,
    account_id: &str,
    role_names: &[String],
) -> Result<Vec<String>, ServiceError> {
    let mut ids = BTreeSet::new();
    for name in role_names {
        let (role_account, role_id) = names::role(field, name)?;
        if role_account != account_id {
            return Err(ServiceError::invalid(
                field,
                "must name roles of the user's own account",
            ));
        }
        ids.insert(role_id);
    }
    Ok(ids.into_iter().collect())
}

/// Nobody grants more than they hold: only administrators grant the
/// administrator role, and any other role's authorities must all be held by
/// the caller.
async fn ensure_may_grant_roles(
    store: &Store,
    caller: &Caller,
    account_id: &str,
    role_ids: &[String],
) -> Result<(), ServiceError> {
    if caller.principal.is_administrator() {
        return Ok(());
    }
    let held = caller.principal.authorities();
    for role_id in role_ids {
        if role_id == ADMINISTRATOR_ROLE_ID {
            return Err(escalation(
                "only administrators may grant the administrator role",
            ));
        }
        let role = match store.get_role(account_id, role_id).await {
            Ok(role) => role,
            Err(StoreError::NotFound { .. }) => {
                return Err(ServiceError::invalid(
                    "user.roles",
                    format!("names role `{role_id}`, which does not exist"),
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let granted = Authority::set_from_stored(&role.authorities);
        if !granted.is_subset(&held) {
            return Err(escalation(
                "a role may only be granted by a caller holding all of its authorities",
            ));
        }
    }
    Ok(())
}

/// Nobody puts into a role authorities they do not hold themselves.
fn ensure_may_grant_authorities(
    caller: &Caller,
    authorities: &BTreeSet<Authority>,
) -> Result<(), ServiceError> {
    if authorities.is_subset(&caller.principal.authorities()) {
        Ok(())
    } else {
        Err(escalation(
            "a role may only hold authorities the caller holds",
        ))
    }
}

fn escalation(message: &str) -> ServiceError {
    ServiceError::PermissionDenied {
        reason: "PRIVILEGE_ESCALATION",
        message: message.to_owned(),
    }
}

fn authorities(field: &str, values: &[i32]) -> Result<BTreeSet<Authority>, ServiceError> {
    values
        .iter()
        .map(|v| convert::authority_from_pb(field, *v))
        .collect()
}

fn stored_authorities(authorities: &BTreeSet<Authority>) -> Vec<String> {
    authorities.iter().map(|a| a.as_str().to_owned()).collect()
}

fn builtin_role(role_id: &str) -> Result<(), ServiceError> {
    if role_id == ADMINISTRATOR_ROLE_ID {
        Err(ServiceError::FailedPrecondition {
            reason: "BUILTIN_ROLE",
            message: "the built-in administrator role cannot be changed or deleted".to_owned(),
        })
    } else {
        Ok(())
    }
}

#[tonic::async_trait]
impl AccountService for AccountServiceImpl {
    async fn create_account(
        &self,
        request: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_without_account()?;
        let mut req = request.into_inner();
        let request_id = std::mem::take(&mut req.request_id);
        let request_key = idempotency::request_key(&caller, &request_id, &req.encode_to_vec())?;

        let account = required("account", req.account)?;
        let account_id = if req.account_id.is_empty() {
            generated_id('a')?
        } else {
            validate::resource_id("account_id", &req.account_id)?
        };
        let display_name =
            validate::display_name("account.display_name", &account.display_name, NAME_MAX)?;
        let client_id_prefix = if account.client_id_prefix.is_empty() {
            validate::client_id_prefix("account.client_id_prefix", &format!("{account_id}-"))
                .map_err(|_| {
                    ServiceError::invalid(
                        "account.client_id_prefix",
                        "is required when the account ID and a hyphen do not make a valid prefix (2 to 20 characters)",
                    )
                })?
        } else {
            validate::client_id_prefix("account.client_id_prefix", &account.client_id_prefix)?
        };
        let administrator = required("administrator", req.administrator)?;
        let administrator_id = if administrator.name.is_empty() {
            generated_id('u')?
        } else {
            let (named_account, user_id) = names::user(
                "administrator.name",
                &administrator
                    .name
                    .replacen("accounts/-/", &format!("accounts/{account_id}/"), 1),
            )?;
            if named_account != account_id {
                return Err(ServiceError::invalid(
                    "administrator.name",
                    "must be `accounts/-/users/{user}` or name a user of the new account",
                )
                .into());
            }
            user_id
        };
        let administrator_name = validate::display_name(
            "administrator.display_name",
            &administrator.display_name,
            NAME_MAX,
        )?;
        let administrator_email = validate::email("administrator.email", &administrator.email)?;
        let entitled_api_set_ids =
            entitlements("account.entitled_api_sets", &account.entitled_api_sets)?;

        let claim = match idempotency::begin(self.store(), &self.state.clock, request_key).await? {
            Begun::Claimed(claim) => claim,
            Begun::Done(resource) => {
                let (account_id, user_id) = names::user("request_id", &resource)?;
                let account = self
                    .store()
                    .get_account(&account_id)
                    .await
                    .map_err(ServiceError::from)?;
                let user = self
                    .store()
                    .get_user(&account_id, &user_id)
                    .await
                    .map_err(ServiceError::from)?;
                return Ok(Response::new(CreateAccountResponse {
                    account: Some(convert::account(&account)),
                    administrator: Some(convert::user(&user)),
                    administrator_api_key: String::new(),
                }));
            }
        };

        let work = async {
            let prepared = new_account_with_administrator(
                &self.state.hasher,
                NewAccount {
                    id: account_id.clone(),
                    display_name,
                    client_id_prefix,
                    verified: false,
                    operator: false,
                    entitled_api_set_ids,
                },
                NewUser {
                    account_id: account_id.clone(),
                    id: administrator_id.clone(),
                    display_name: administrator_name,
                    email: administrator_email,
                    role_ids: Vec::new(),
                },
                &caller.principal.name(),
            )
            .await?;
            let created = claim
                .store(
                    self.store(),
                    convert::user_name(&account_id, &administrator_id),
                )
                .create_account_with(prepared.seed)
                .await
                .map_err(ServiceError::from)?;
            Ok::<_, ServiceError>((prepared.key, created))
        };
        // The administrator names both: the account is the user's parent.
        let administrator_resource = convert::user_name(&account_id, &administrator_id);
        let worked = work.await;
        let (administrator_key, created) = claim
            .settle(self.store(), worked, |_| administrator_resource)
            .await?;
        let user = created.users.first().ok_or_else(|| {
            ServiceError::Internal("the account was stored without its administrator".into())
        })?;
        let account_resource = convert::account_name(&account_id);
        record_success(
            self.store(),
            &caller,
            &account_id,
            &account_resource,
            "account created",
        )
        .await;
        Ok(Response::new(CreateAccountResponse {
            account: Some(convert::account(&created.account)),
            administrator: Some(convert::user(user)),
            administrator_api_key: administrator_key.expose_secret().to_owned(),
        }))
    }

    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> Result<Response<GetAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let account_id = names::account("name", &request.get_ref().name)?;
        caller.authorize(&account_id)?;
        let account = self
            .store()
            .get_account(&account_id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(GetAccountResponse {
            account: Some(convert::account(&account)),
        }))
    }

    async fn list_accounts(
        &self,
        request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let page = page("page_size", req.page_size, "page_token", &req.page_token)?;
        if !caller.principal.is_operator() {
            // Everyone else sees their own account, on one page.
            let own = self
                .store()
                .get_account(&caller.principal.account_id)
                .await
                .map_err(ServiceError::from)?;
            let accounts = if page.after.is_none() {
                vec![convert::account(&own)]
            } else {
                Vec::new()
            };
            return Ok(Response::new(ListAccountsResponse {
                accounts,
                next_page_token: String::new(),
            }));
        }
        let found = self
            .store()
            .list_accounts(page)
            .await
            .map_err(ServiceError::from)?;
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
        let req = request.into_inner();
        let account = required("account", req.account)?;
        let account_id = names::account("account.name", &account.name)?;
        caller.authorize(&account_id)?;
        let mask = validate::update_mask(
            "update_mask",
            req.update_mask.as_ref().map(|m| m.paths.as_slice()),
            &["display_name", "entitled_api_sets"],
        )?;
        for path in &mask {
            caller.authorize_field(&account_id, path)?;
        }
        let mut update = AccountUpdate::default();
        if mask.iter().any(|p| p == "display_name") {
            update.display_name = Some(validate::display_name(
                "account.display_name",
                &account.display_name,
                NAME_MAX,
            )?);
        }
        if mask.iter().any(|p| p == "entitled_api_sets") {
            update.entitled_api_set_ids = Some(entitlements(
                "account.entitled_api_sets",
                &account.entitled_api_sets,
            )?);
            let current = self
                .store()
                .get_account(&account_id)
                .await
                .map_err(ServiceError::from)?;
            if current.operator {
                return Err(ServiceError::FailedPrecondition {
                    reason: "OPERATOR_ACCOUNT",
                    message: "the operator account is entitled to every API set; its entitlements cannot be set".to_owned(),
                }
                .into());
            }
        }
        let revision = validate::etag("account.etag", &account.etag)?;
        let updated = self
            .store()
            .update_account(&account_id, update, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &account.name,
            &if mask.iter().any(|p| p == "entitled_api_sets") {
                format!(
                    "account updated ({}); entitled API sets now: {}",
                    mask.join(", "),
                    if updated.entitled_api_set_ids.is_empty() {
                        "none".to_owned()
                    } else {
                        updated.entitled_api_set_ids.join(", ")
                    }
                )
            } else {
                format!("account updated ({})", mask.join(", "))
            },
        )
        .await;
        Ok(Response::new(UpdateAccountResponse {
            account: Some(convert::account(&updated)),
        }))
    }

    async fn verify_account(
        &self,
        request: Request<VerifyAccountRequest>,
    ) -> Result<Response<VerifyAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("name", &req.name)?;
        caller.authorize(&account_id)?;
        let revision = validate::etag("etag", &req.etag)?;
        let account = self
            .store()
            .set_account_verified(&account_id, true, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &req.name,
            "account verified",
        )
        .await;
        Ok(Response::new(VerifyAccountResponse {
            account: Some(convert::account(&account)),
        }))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<CreateUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let request_id = std::mem::take(&mut req.request_id);
        let request_key = idempotency::request_key(&caller, &request_id, &req.encode_to_vec())?;
        let user = required("user", req.user)?;
        let user_id = if req.user_id.is_empty() {
            generated_id('u')?
        } else {
            validate::resource_id("user_id", &req.user_id)?
        };
        let display_name =
            validate::display_name("user.display_name", &user.display_name, NAME_MAX)?;
        let email = validate::email("user.email", &user.email)?;
        let role_ids = role_ids("user.roles", &account_id, &user.roles)?;
        ensure_may_grant_roles(self.store(), &caller, &account_id, &role_ids).await?;
        let claim = match idempotency::begin(self.store(), &self.state.clock, request_key).await? {
            Begun::Claimed(claim) => claim,
            Begun::Done(resource) => {
                let (account_id, user_id) = names::user("request_id", &resource)?;
                let user = self
                    .store()
                    .get_user(&account_id, &user_id)
                    .await
                    .map_err(ServiceError::from)?;
                return Ok(Response::new(CreateUserResponse {
                    user: Some(convert::user(&user)),
                }));
            }
        };
        let resource = convert::user_name(&account_id, &user_id);
        let created = claim
            .store(self.store(), resource.clone())
            .create_user(NewUser {
                account_id: account_id.clone(),
                id: user_id.clone(),
                display_name,
                email,
                role_ids,
            })
            .await
            .map_err(ServiceError::from);
        let created = claim
            .settle(self.store(), created, |_| resource.clone())
            .await?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &resource,
            "user created",
        )
        .await;
        Ok(Response::new(CreateUserResponse {
            user: Some(convert::user(&created)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (account_id, user_id) = names::user("name", &request.get_ref().name)?;
        caller.authorize(&account_id)?;
        let user = self
            .store()
            .get_user(&account_id, &user_id)
            .await
            .map_err(ServiceError::from)?;
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
        caller.authorize(&account_id)?;
        let page = page("page_size", req.page_size, "page_token", &req.page_token)?;
        let found = self
            .store()
            .list_users(&account_id, page)
            .await
            .map_err(ServiceError::from)?;
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
        let req = request.into_inner();
        let user = required("user", req.user)?;
        let (account_id, user_id) = names::user("user.name", &user.name)?;
        caller.authorize(&account_id)?;
        let mask = validate::update_mask(
            "update_mask",
            req.update_mask.as_ref().map(|m| m.paths.as_slice()),
            &["display_name", "email", "roles"],
        )?;
        let mut update = UserUpdate::default();
        for path in &mask {
            match path.as_str() {
                "display_name" => {
                    update.display_name = Some(validate::display_name(
                        "user.display_name",
                        &user.display_name,
                        NAME_MAX,
                    )?)
                }
                "email" => update.email = Some(validate::email("user.email", &user.email)?),
                _ => update.role_ids = Some(role_ids("user.roles", &account_id, &user.roles)?),
            }
        }
        let revision = validate::etag("user.etag", &user.etag)?;
        if let Some(roles) = &update.role_ids {
            ensure_may_grant_roles(self.store(), &caller, &account_id, roles).await?;
        }
        let updated = self
            .changed_user(&account_id, &user_id, UserChange::Update(update), revision)
            .await?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &user.name,
            format!("user updated: {}", mask.join(", ")),
        )
        .await;
        Ok(Response::new(UpdateUserResponse {
            user: Some(convert::user(&updated)),
        }))
    }

    async fn disable_user(
        &self,
        request: Request<DisableUserRequest>,
    ) -> Result<Response<DisableUserResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let user = self
            .set_user_state(
                &caller,
                &req.name,
                &req.etag,
                UserState::Disabled,
                "user disabled",
            )
            .await?;
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
        let user = self
            .set_user_state(
                &caller,
                &req.name,
                &req.etag,
                UserState::Active,
                "user enabled",
            )
            .await?;
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
        let (account_id, user_id) = names::user("name", &req.name)?;
        caller.authorize(&account_id)?;
        let revision = validate::etag("etag", &req.etag)?;
        self.change_user(&account_id, &user_id, UserChange::Delete, revision)
            .await?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &req.name,
            "user deleted",
        )
        .await;
        Ok(Response::new(DeleteUserResponse {}))
    }

    async fn create_role(
        &self,
        request: Request<CreateRoleRequest>,
    ) -> Result<Response<CreateRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let role = required("role", req.role)?;
        let role_id = validate::resource_id("role_id", &req.role_id)?;
        if role_id == ADMINISTRATOR_ROLE_ID {
            return Err(ServiceError::AlreadyExists {
                message: "the built-in administrator role exists in every account".to_owned(),
            }
            .into());
        }
        let display_name =
            validate::display_name("role.display_name", &role.display_name, NAME_MAX)?;
        let description = validate::text("role.description", &role.description, DESCRIPTION_MAX)?;
        let granted = authorities("role.authorities", &role.authorities)?;
        ensure_may_grant_authorities(&caller, &granted)?;
        let created = self
            .store()
            .create_role(NewRole {
                account_id: account_id.clone(),
                id: role_id.clone(),
                display_name,
                description,
                authorities: stored_authorities(&granted),
                builtin: false,
            })
            .await
            .map_err(ServiceError::from)?;
        let resource = convert::role_name(&account_id, &role_id);
        record_success(
            self.store(),
            &caller,
            &account_id,
            &resource,
            "role created",
        )
        .await;
        Ok(Response::new(CreateRoleResponse {
            role: Some(convert::role(&created)),
        }))
    }

    async fn get_role(
        &self,
        request: Request<GetRoleRequest>,
    ) -> Result<Response<GetRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (account_id, role_id) = names::role("name", &request.get_ref().name)?;
        caller.authorize(&account_id)?;
        let role = self
            .store()
            .get_role(&account_id, &role_id)
            .await
            .map_err(ServiceError::from)?;
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
        caller.authorize(&account_id)?;
        let page = page("page_size", req.page_size, "page_token", &req.page_token)?;
        let found = self
            .store()
            .list_roles(&account_id, page)
            .await
            .map_err(ServiceError::from)?;
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
        let req = request.into_inner();
        let role = required("role", req.role)?;
        let (account_id, role_id) = names::role("role.name", &role.name)?;
        caller.authorize(&account_id)?;
        let mask = validate::update_mask(
            "update_mask",
            req.update_mask.as_ref().map(|m| m.paths.as_slice()),
            &["display_name", "description", "authorities"],
        )?;
        builtin_role(&role_id)?;
        let mut update = RoleUpdate::default();
        for path in &mask {
            match path.as_str() {
                "display_name" => {
                    update.display_name = Some(validate::display_name(
                        "role.display_name",
                        &role.display_name,
                        NAME_MAX,
                    )?)
                }
                "description" => {
                    update.description = Some(validate::text(
                        "role.description",
                        &role.description,
                        DESCRIPTION_MAX,
                    )?)
                }
                _ => {
                    let granted = authorities("role.authorities", &role.authorities)?;
                    ensure_may_grant_authorities(&caller, &granted)?;
                    update.authorities = Some(stored_authorities(&granted));
                }
            }
        }
        let revision = validate::etag("role.etag", &role.etag)?;
        let updated = self
            .store()
            .update_role(&account_id, &role_id, update, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &role.name,
            format!("role updated: {}", mask.join(", ")),
        )
        .await;
        Ok(Response::new(UpdateRoleResponse {
            role: Some(convert::role(&updated)),
        }))
    }

    async fn delete_role(
        &self,
        request: Request<DeleteRoleRequest>,
    ) -> Result<Response<DeleteRoleResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (account_id, role_id) = names::role("name", &req.name)?;
        caller.authorize(&account_id)?;
        builtin_role(&role_id)?;
        let revision = validate::etag("etag", &req.etag)?;
        self.store()
            .delete_role(&account_id, &role_id, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            self.store(),
            &caller,
            &account_id,
            &req.name,
            "role deleted",
        )
        .await;
        Ok(Response::new(DeleteRoleResponse {}))
    }

    type ExportAuditEventsStream = tokio_stream::wrappers::ReceiverStream<
        Result<super::pb::ExportAuditEventsResponse, Status>,
    >;

    async fn export_audit_events(
        &self,
        request: Request<super::pb::ExportAuditEventsRequest>,
    ) -> Result<Response<Self::ExportAuditEventsStream>, Status> {
        let caller = Caller::of(&request)?;
        let account_id = names::account("parent", &request.get_ref().parent)?;
        caller.authorize(&account_id)?;
        // Pages of the chain, in order, as the client reads them: at most two pages are
        // held in memory whatever the log's length.
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let store = self.store().clone();
        tokio::spawn(async move {
            let mut after = 0;
            loop {
                let part = match store
                    .export_audit_events(&account_id, after, EXPORT_PAGE)
                    .await
                {
                    Ok(part) => part,
                    Err(err) => {
                        let _ = sender.send(Err(ServiceError::from(err).into())).await;
                        return;
                    }
                };
                let Some(last) = part.last() else { return };
                after = last.sequence;
                let full = part.len() as u64 == EXPORT_PAGE;
                let response = super::pb::ExportAuditEventsResponse {
                    audit_events: part.iter().map(convert::audit_event).collect(),
                };
                if sender.send(Ok(response)).await.is_err() || !full {
                    return;
                }
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }

    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let after = validate::page_token("page_token", &req.page_token)?
            .map(|cursor| {
                cursor.parse::<i64>().map_err(|_| {
                    ServiceError::invalid(
                        "page_token",
                        "is not a page token from a previous response",
                    )
                })
            })
            .transpose()?;
        let limit = validate::page_size("page_size", req.page_size)?;
        let found = self
            .store()
            .list_audit_events(&account_id, PageRequest { after, limit })
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(ListAuditEventsResponse {
            audit_events: found.items.iter().map(convert::audit_event).collect(),
            next_page_token: convert::next_page_token(
                found.next_after.map(|id| id.to_string()).as_deref(),
            ),
        }))
    }
}

/// Events per part of an export.
const EXPORT_PAGE: u64 = 500;

/// The entitlements a request sets (`apiSets/{api_set}` names in `field`): platform API
/// sets only, deduplicated and sorted; whether each exists is checked by the store.
fn entitlements(field: &str, names_: &[String]) -> Result<Vec<String>, ServiceError> {
    let mut ids = std::collections::BTreeSet::new();
    for name in names_ {
        let id = names::api_set(field, name)?;
        if id.starts_with(crate::identity::BUILTIN_API_SET_PREFIX) {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "{name} is one of Keyward's built-in API sets, which are not entitlements: every account may use them, by their own rule"
                ),
            ));
        }
        ids.insert(id);
    }
    Ok(ids.into_iter().collect())
}
