//! Use cases of the API-set catalog: the platform's named groups of gRPC methods that
//! credentials and keys are scoped to. Operators manage the catalog; built-in sets (IDs
//! starting `keyward.`) follow the authorization table and cannot be changed.

use keyward_store::{ApiSet, ApiSetUpdate, NewApiSet, Page, StoreError};

use crate::audit::record_success;
use crate::auth::Caller;
use crate::auth::grants::may_grant;
use crate::error::ServiceError;
use crate::judgement::Entitlements;
use crate::state::AppState;
use crate::usecases::{PageQuery, Parsed};
use crate::validate;
use crate::verification::is_method;

/// IDs of Keyward's own API sets start with this; nobody else may use it.
const RESERVED_PREFIX: &str = "keyward.";

/// Which account a catalog listing is narrowed to.
#[derive(Debug)]
pub enum AvailableIn {
    /// The whole catalog.
    Everywhere,
    /// The caller's own account (`accounts/-`).
    CallersAccount,
    /// The sets a caller may grant in this account.
    Account(String),
}

/// An API set to add, as the request gives it.
#[derive(Debug)]
pub struct NewSet {
    /// The set's ID.
    pub id: String,
    /// Its display name.
    pub display_name: String,
    /// Its description.
    pub description: String,
    /// Its methods.
    pub methods: Vec<String>,
}

/// A change to an API set, as the request gives it.
#[derive(Debug)]
pub struct SetChange {
    /// The resource name as the request gave it.
    pub name: String,
    /// The set's ID.
    pub id: String,
    /// The field mask's paths; None when the request has no mask.
    pub paths: Option<Vec<String>>,
    /// The new display name, read when the mask names it.
    pub display_name: String,
    /// The new description, read when the mask names it.
    pub description: String,
    /// The new methods, read when the mask names them.
    pub methods: Vec<String>,
    /// The etag, if the request gives one.
    pub etag: String,
}

/// One page of the catalog; narrowed, for an account, to the sets the caller may grant
/// there (permission before existence: the rule first, then the account).
pub async fn list_api_sets(
    app: &AppState,
    caller: &Caller,
    available_in: Parsed<AvailableIn>,
    page: PageQuery,
) -> Result<Page<ApiSet>, ServiceError> {
    caller.authorize_own_account()?;
    let page = page.checked()?;
    let available_in = available_in?;
    let account_id = match available_in {
        AvailableIn::Everywhere => None,
        AvailableIn::CallersAccount => Some(caller.principal.account_id.clone()),
        AvailableIn::Account(id) => Some(id),
    };
    let account = match &account_id {
        None => None,
        Some(account_id) => {
            caller.authorize_field(account_id, "available_in")?;
            Some(app.store.get_account(account_id).await?)
        }
    };
    let mut found = app.store.list_api_sets(page).await?;
    if let Some(account) = account {
        let entitlements =
            Entitlements::of_account(account.operator, &account.entitled_api_set_ids);
        found
            .items
            .retain(|set| may_grant(&caller.principal, entitlements, &set.id).is_ok());
    }
    Ok(found)
}

/// One API set of the catalog.
pub async fn get_api_set(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ApiSet, ServiceError> {
    caller.authorize_own_account()?;
    Ok(app.store.get_api_set(id).await?)
}

/// Adds an API set to the catalog (never one with a reserved ID); audited.
pub async fn create_api_set(
    app: &AppState,
    caller: &Caller,
    new: NewSet,
) -> Result<ApiSet, ServiceError> {
    caller.authorize_own_account()?;
    let id = validate::api_set_id("api_set_id", &new.id)?;
    if id.starts_with(RESERVED_PREFIX) {
        return Err(ServiceError::invalid(
            "api_set_id",
            "must not start with `keyward.`, which is reserved for built-in API sets",
        ));
    }
    let set = NewApiSet {
        display_name: validate::display_name("api_set.display_name", &new.display_name, 100)?,
        description: validate::text("api_set.description", &new.description, 1000)?,
        methods: methods("api_set.methods", &new.methods)?,
        id,
        builtin: false,
    };
    let created = app.store.create_api_set(set).await?;
    let resource = api_set_resource(&created.id);
    let account = &caller.principal.account_id;
    record_success(&app.store, caller, account, &resource, "api set created").await;
    Ok(created)
}

/// Changes an API set's display name, description or methods (not a built-in one);
/// audited.
pub async fn update_api_set(
    app: &AppState,
    caller: &Caller,
    change: SetChange,
) -> Result<ApiSet, ServiceError> {
    caller.authorize_own_account()?;
    let allowed = ["display_name", "description", "methods"];
    let mask = validate::update_mask("update_mask", change.paths.as_deref(), &allowed)?;
    builtin_api_set(&change.id)?;
    let mut update = ApiSetUpdate::default();
    for path in &mask {
        match path.as_str() {
            "display_name" => {
                let name = &change.display_name;
                update.display_name =
                    Some(validate::display_name("api_set.display_name", name, 100)?)
            }
            "description" => {
                let text = &change.description;
                update.description = Some(validate::text("api_set.description", text, 1000)?)
            }
            _ => update.methods = Some(methods("api_set.methods", &change.methods)?),
        }
    }
    let revision = validate::etag("api_set.etag", &change.etag)?;
    let updated = app
        .store
        .update_api_set(&change.id, update, revision)
        .await?;
    let detail = format!("api set updated: {}", mask.join(", "));
    let account = &caller.principal.account_id;
    record_success(&app.store, caller, account, &change.name, detail).await;
    Ok(updated)
}

/// Deletes an API set (not a built-in one), refused while a credential or key holds it;
/// the etag, when given, must still match. Audited.
pub async fn delete_api_set(
    app: &AppState,
    caller: &Caller,
    name: &str,
    id: &str,
    etag: &str,
) -> Result<(), ServiceError> {
    caller.authorize_own_account()?;
    builtin_api_set(id)?;
    if let Some(revision) = validate::etag("etag", etag)? {
        let current = app.store.get_api_set(id).await?;
        if current.revision != revision {
            return Err(StoreError::Conflict.into());
        }
    }
    app.store.delete_api_set(id).await?;
    let account = &caller.principal.account_id;
    record_success(&app.store, caller, account, name, "api set deleted").await;
    Ok(())
}

/// `apiSets/{id}`.
pub fn api_set_resource(id: &str) -> String {
    format!("apiSets/{id}")
}

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

/// The methods of an API set: 1 to 200 characters each, no spaces or control characters,
/// unique, sorted; at most 1000.
fn methods(field: &str, values: &[String]) -> Result<Vec<String>, ServiceError> {
    if values.len() > 1000 {
        return Err(ServiceError::invalid(
            field,
            "must list at most 1000 methods",
        ));
    }
    let mut out = std::collections::BTreeSet::new();
    for value in values {
        if !is_method(value) {
            return Err(ServiceError::invalid(
                field,
                "each method must be 1 to 200 characters without spaces, for example `/billing.v1.InvoiceService/ListInvoices`",
            ));
        }
        out.insert(value.clone());
    }
    Ok(out.into_iter().collect())
}
