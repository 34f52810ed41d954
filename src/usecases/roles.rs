//! Use cases: roles. Creating, reading, listing, updating and deleting an account's
//! roles — never putting into a role an authority the caller does not hold, and never
//! changing the built-in administrator role.

use std::collections::BTreeSet;

use keyward_store::{NewRole, Page, Role, RoleUpdate};

use super::PageQuery;
use super::accounts::NAME_MAX;
use crate::audit::record_success;
use crate::auth::{Authority, Caller};
use crate::error::ServiceError;
use crate::identity::ADMINISTRATOR_ROLE_ID;
use crate::state::AppState;
use crate::validate::{self, names, required};

/// Longest description of a role.
pub const DESCRIPTION_MAX: usize = 1000;

/// A CreateRole request whose account is known (`parent`); the rest is checked by
/// [`create_role`], after the caller is authorized.
#[derive(Debug)]
pub struct CreateRole {
    /// The account of the new role.
    pub account_id: String,
    /// `role_id`.
    pub role_id: String,
    /// `role` (required).
    pub role: Option<RoleFields>,
}

/// The fields of a role a request sets.
#[derive(Debug)]
pub struct RoleFields {
    /// `role.display_name`.
    pub display_name: String,
    /// `role.description`.
    pub description: String,
    /// `role.authorities` as the edge parsed them, or why they are invalid: answered only
    /// where the use case comes to them, after the caller is authorized.
    pub authorities: Result<BTreeSet<Authority>, ServiceError>,
}

/// An UpdateRole request whose role is known (`role.name`).
#[derive(Debug)]
pub struct UpdateRole {
    /// The role's account.
    pub account_id: String,
    /// The role.
    pub role_id: String,
    /// `update_mask.paths`, `None` when the mask is missing.
    pub update_mask: Option<Vec<String>>,
    /// `role`.
    pub role: RoleFields,
    /// `role.etag`: empty for any revision.
    pub etag: String,
}

/// A DeleteRole request whose role is known (`name`).
#[derive(Debug, Clone)]
pub struct DeleteRole {
    /// The role's account.
    pub account_id: String,
    /// The role.
    pub role_id: String,
    /// `etag`: empty for any revision.
    pub etag: String,
}

/// Creates a role holding authorities the caller holds.
pub async fn create_role(
    app: &AppState,
    caller: &Caller,
    input: CreateRole,
) -> Result<Role, ServiceError> {
    let account_id = input.account_id;
    caller.authorize(&account_id)?;
    let role = required("role", input.role)?;
    let role_id = validate::resource_id("role_id", &input.role_id)?;
    if role_id == ADMINISTRATOR_ROLE_ID {
        return Err(ServiceError::AlreadyExists {
            message: "the built-in administrator role exists in every account".to_owned(),
        });
    }
    let display_name = validate::display_name("role.display_name", &role.display_name, NAME_MAX)?;
    let description = validate::text("role.description", &role.description, DESCRIPTION_MAX)?;
    let granted = role.authorities?;
    ensure_may_grant_authorities(caller, &granted)?;
    let created = app
        .store
        .create_role(NewRole {
            account_id: account_id.clone(),
            id: role_id.clone(),
            display_name,
            description,
            authorities: stored_authorities(&granted),
            builtin: false,
        })
        .await?;
    let resource = names::role_name(&account_id, &role_id);
    record_success(&app.store, caller, &account_id, &resource, "role created").await;
    Ok(created)
}

/// Reads a role.
pub async fn get_role(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
    role_id: &str,
) -> Result<Role, ServiceError> {
    caller.authorize(account_id)?;
    Ok(app.store.get_role(account_id, role_id).await?)
}

/// Lists the roles of an account.
pub async fn list_roles(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
    query: PageQuery,
) -> Result<Page<Role>, ServiceError> {
    caller.authorize(account_id)?;
    let page = query.checked()?;
    Ok(app.store.list_roles(account_id, page).await?)
}

/// Updates a role's display name, description or authorities (not the built-in
/// administrator role's).
pub async fn update_role(
    app: &AppState,
    caller: &Caller,
    input: UpdateRole,
) -> Result<Role, ServiceError> {
    let (account_id, role_id, role) = (&input.account_id, &input.role_id, input.role);
    caller.authorize(account_id)?;
    let mask = validate::update_mask(
        "update_mask",
        input.update_mask.as_deref(),
        &["display_name", "description", "authorities"],
    )?;
    builtin_role(role_id)?;
    // What the edge made of `role.authorities`, answered where the mask comes to them.
    let (asked, mut refused) = match role.authorities {
        Ok(asked) => (asked, None),
        Err(err) => (BTreeSet::new(), Some(err)),
    };
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
                if let Some(err) = refused.take() {
                    return Err(err);
                }
                ensure_may_grant_authorities(caller, &asked)?;
                update.authorities = Some(stored_authorities(&asked));
            }
        }
    }
    let revision = validate::etag("role.etag", &input.etag)?;
    let updated = app
        .store
        .update_role(account_id, role_id, update, revision)
        .await?;
    let resource = names::role_name(account_id, role_id);
    let detail = format!("role updated: {}", mask.join(", "));
    record_success(&app.store, caller, account_id, &resource, detail).await;
    Ok(updated)
}

/// Deletes a role (not the built-in administrator role).
pub async fn delete_role(
    app: &AppState,
    caller: &Caller,
    input: DeleteRole,
) -> Result<(), ServiceError> {
    let (account_id, role_id) = (&input.account_id, &input.role_id);
    caller.authorize(account_id)?;
    builtin_role(role_id)?;
    let revision = validate::etag("etag", &input.etag)?;
    app.store.delete_role(account_id, role_id, revision).await?;
    let resource = names::role_name(account_id, role_id);
    record_success(&app.store, caller, account_id, &resource, "role deleted").await;
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

/// PERMISSION_DENIED `PRIVILEGE_ESCALATION`: the caller would grant more than it holds.
pub(super) fn escalation(message: &str) -> ServiceError {
    ServiceError::PermissionDenied {
        reason: "PRIVILEGE_ESCALATION",
        message: message.to_owned(),
    }
}

fn stored_authorities(authorities: &BTreeSet<Authority>) -> Vec<String> {
    authorities.iter().map(|a| a.as_str().to_owned()).collect()
}

/// FAILED_PRECONDITION `BUILTIN_ROLE` for the built-in administrator role.
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
