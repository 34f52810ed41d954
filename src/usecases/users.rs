//! Use cases: users. Creating them (idempotent by request ID), reading, listing,
//! updating, disabling, enabling and deleting them — never granting more than the caller
//! holds, and never leaving an account without an active administrator.

use std::collections::BTreeSet;

use keyward_store::{Page, Store, StoreError, User, UserChange, UserState, UserUpdate};

use super::PageQuery;
use super::accounts::NAME_MAX;
use super::roles::escalation;
use crate::audit::record_success;
use crate::auth::{Authority, Caller};
use crate::error::ServiceError;
use crate::idempotency::{self, Once, RequestKey};
use crate::identity::{ADMINISTRATOR_ROLE_ID, generated_id};
use crate::state::AppState;
use crate::validate::{self, names, required};

/// A CreateUser request whose account is known (`parent`); the rest is checked by
/// [`create_user`], after the caller is authorized.
#[derive(Debug)]
pub struct CreateUser {
    /// The account of the new user.
    pub account_id: String,
    /// The request ID's key, or why the request ID is invalid.
    pub request_key: Result<Option<RequestKey>, ServiceError>,
    /// `user_id`: empty for a generated one.
    pub user_id: String,
    /// `user` (required).
    pub user: Option<UserFields>,
}

/// The fields of a user a request sets.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    /// `user.display_name`.
    pub display_name: String,
    /// `user.email`.
    pub email: String,
    /// `user.roles`: `accounts/{account}/roles/{role}` names.
    pub roles: Vec<String>,
}

/// An UpdateUser request whose user is known (`user.name`).
#[derive(Debug, Clone)]
pub struct UpdateUser {
    /// The user's account.
    pub account_id: String,
    /// The user.
    pub user_id: String,
    /// `update_mask.paths`, `None` when the mask is missing.
    pub update_mask: Option<Vec<String>>,
    /// `user`.
    pub user: UserFields,
    /// `user.etag`: empty for any revision.
    pub etag: String,
}

/// A request that names a user (`name`) at a revision (`etag`): DisableUser, EnableUser,
/// DeleteUser.
#[derive(Debug, Clone)]
pub struct UserVersion {
    /// The user's account.
    pub account_id: String,
    /// The user.
    pub user_id: String,
    /// `etag`: empty for any revision.
    pub etag: String,
}

/// Creates a user; a retry with the same request ID answers the user it made.
pub async fn create_user(
    app: &AppState,
    caller: &Caller,
    input: CreateUser,
) -> Result<User, ServiceError> {
    let account_id = input.account_id;
    caller.authorize(&account_id)?;
    let request_key = input.request_key?;
    let user = required("user", input.user)?;
    let user_id = if input.user_id.is_empty() {
        generated_id('u')?
    } else {
        validate::resource_id("user_id", &input.user_id)?
    };
    let display_name = validate::display_name("user.display_name", &user.display_name, NAME_MAX)?;
    let email = validate::email("user.email", &user.email)?;
    let role_ids = role_ids("user.roles", &account_id, &user.roles)?;
    ensure_may_grant_roles(&app.store, caller, &account_id, &role_ids).await?;
    let resource = names::user_name(&account_id, &user_id);
    let new_user = keyward_store::NewUser {
        account_id: account_id.clone(),
        id: user_id,
        display_name,
        email,
        role_ids,
    };
    let made = idempotency::once(
        &app.store,
        &app.clock,
        request_key,
        async |claim| {
            let created = claim
                .store(&app.store, resource.clone())
                .create_user(new_user)
                .await?;
            Ok(created)
        },
        |_| resource.clone(),
    )
    .await?;
    let created = match made {
        Once::Made(created) => created,
        Once::Replayed(resource) => {
            let (account_id, user_id) = names::user("request_id", &resource)?;
            return Ok(app.store.get_user(&account_id, &user_id).await?);
        }
    };
    record_success(&app.store, caller, &account_id, &resource, "user created").await;
    Ok(created)
}

/// Reads a user.
pub async fn get_user(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
    user_id: &str,
) -> Result<User, ServiceError> {
    caller.authorize(account_id)?;
    Ok(app.store.get_user(account_id, user_id).await?)
}

/// Lists the users of an account.
pub async fn list_users(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
    query: PageQuery,
) -> Result<Page<User>, ServiceError> {
    caller.authorize(account_id)?;
    let page = query.checked()?;
    Ok(app.store.list_users(account_id, page).await?)
}

/// Updates a user's display name, email or roles.
pub async fn update_user(
    app: &AppState,
    caller: &Caller,
    input: UpdateUser,
) -> Result<User, ServiceError> {
    let (account_id, user) = (&input.account_id, &input.user);
    caller.authorize(account_id)?;
    let mask = validate::update_mask(
        "update_mask",
        input.update_mask.as_deref(),
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
            _ => update.role_ids = Some(role_ids("user.roles", account_id, &user.roles)?),
        }
    }
    let revision = validate::etag("user.etag", &input.etag)?;
    if let Some(roles) = &update.role_ids {
        ensure_may_grant_roles(&app.store, caller, account_id, roles).await?;
    }
    let change = UserChange::Update(update);
    let updated = changed_user(&app.store, account_id, &input.user_id, change, revision).await?;
    let resource = names::user_name(account_id, &input.user_id);
    let detail = format!("user updated: {}", mask.join(", "));
    record_success(&app.store, caller, account_id, &resource, detail).await;
    Ok(updated)
}

/// Disables a user: its API keys stop verifying until it is enabled again.
pub async fn disable_user(
    app: &AppState,
    caller: &Caller,
    input: UserVersion,
) -> Result<User, ServiceError> {
    set_user_state(app, caller, input, UserState::Disabled, "user disabled").await
}

/// Enables a disabled user.
pub async fn enable_user(
    app: &AppState,
    caller: &Caller,
    input: UserVersion,
) -> Result<User, ServiceError> {
    set_user_state(app, caller, input, UserState::Active, "user enabled").await
}

/// Deletes a user.
pub async fn delete_user(
    app: &AppState,
    caller: &Caller,
    input: UserVersion,
) -> Result<(), ServiceError> {
    caller.authorize(&input.account_id)?;
    let revision = validate::etag("etag", &input.etag)?;
    change_user(
        &app.store,
        &input.account_id,
        &input.user_id,
        UserChange::Delete,
        revision,
    )
    .await?;
    let resource = names::user_name(&input.account_id, &input.user_id);
    record_success(
        &app.store,
        caller,
        &input.account_id,
        &resource,
        "user deleted",
    )
    .await;
    Ok(())
}

/// DisableUser and EnableUser: the same steps towards another state.
async fn set_user_state(
    app: &AppState,
    caller: &Caller,
    input: UserVersion,
    state: UserState,
    detail: &str,
) -> Result<User, ServiceError> {
    caller.authorize(&input.account_id)?;
    let revision = validate::etag("etag", &input.etag)?;
    let change = UserChange::State(state);
    let user = changed_user(
        &app.store,
        &input.account_id,
        &input.user_id,
        change,
        revision,
    )
    .await?;
    let resource = names::user_name(&input.account_id, &input.user_id);
    record_success(&app.store, caller, &input.account_id, &resource, detail).await;
    Ok(user)
}

/// Makes a change to a user, unless it would leave the account without an
/// active administrator (operators have no powers inside other accounts, so
/// nobody could repair it): FAILED_PRECONDITION `LAST_ADMINISTRATOR`. The store
/// checks it inside the change's transaction, with the account locked, so two
/// concurrent changes cannot both remove the last administrator. The user, or
/// None once deleted.
async fn change_user(
    store: &Store,
    account_id: &str,
    user_id: &str,
    change: UserChange,
    revision: Option<i64>,
) -> Result<Option<User>, ServiceError> {
    store
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

/// [`change_user`] for a change that keeps the user.
async fn changed_user(
    store: &Store,
    account_id: &str,
    user_id: &str,
    change: UserChange,
    revision: Option<i64>,
) -> Result<User, ServiceError> {
    change_user(store, account_id, user_id, change, revision)
        .await?
        .ok_or_else(|| ServiceError::NotFound {
            resource: format!("user {user_id}"),
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
