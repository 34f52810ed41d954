//! Use cases: accounts. Creating one together with its first administrator (idempotent
//! by request ID), reading and listing them, updating them and verifying them.

use keyward_store::{Account, AccountUpdate, NewAccount, NewUser, Page, User};
use secrecy::SecretString;

use crate::audit::record_success;
use crate::auth::Caller;
use crate::error::ServiceError;
use crate::idempotency::{self, Once, RequestKey};
use crate::identity::{BUILTIN_API_SET_PREFIX, generated_id, new_account_with_administrator};
use crate::state::AppState;
use crate::usecases::PageQuery;
use crate::validate::{self, names, required};

/// Longest display name of an account, a user or a role.
pub const NAME_MAX: usize = 100;

/// A CreateAccount request. Nothing in it is checked before the caller is authorized,
/// so every field is checked by [`create_account`].
#[derive(Debug)]
pub struct CreateAccount {
    /// The request ID's key, or why the request ID is invalid.
    pub request_key: Result<Option<RequestKey>, ServiceError>,
    /// `account_id`: empty for a generated one.
    pub account_id: String,
    /// `account` (required).
    pub account: Option<AccountFields>,
    /// `administrator` (required).
    pub administrator: Option<AdministratorFields>,
}

/// The fields of a new account.
#[derive(Debug, Clone, Default)]
pub struct AccountFields {
    /// `account.display_name`.
    pub display_name: String,
    /// `account.client_id_prefix`: empty for the account ID and a hyphen.
    pub client_id_prefix: String,
    /// `account.entitled_api_sets`: `apiSets/{api_set}` names.
    pub entitled_api_sets: Vec<String>,
}

/// The fields of a new account's first administrator.
#[derive(Debug, Clone, Default)]
pub struct AdministratorFields {
    /// `administrator.name`: `accounts/-/users/{user}`, a user of the new account, or
    /// empty for a generated ID.
    pub name: String,
    /// `administrator.display_name`.
    pub display_name: String,
    /// `administrator.email`.
    pub email: String,
}

/// What CreateAccount made.
#[derive(Debug)]
pub struct CreatedAccount {
    /// The account.
    pub account: Account,
    /// Its first administrator.
    pub administrator: User,
    /// The administrator's API key, to show once; `None` when the request ID had already
    /// made the account (a secret is never shown twice).
    pub administrator_api_key: Option<SecretString>,
}

/// An UpdateAccount request whose account is known; the rest is checked by
/// [`update_account`].
#[derive(Debug, Clone)]
pub struct UpdateAccount {
    /// The account (`account.name`).
    pub account_id: String,
    /// `update_mask.paths`, `None` when the mask is missing.
    pub update_mask: Option<Vec<String>>,
    /// `account.display_name`.
    pub display_name: String,
    /// `account.entitled_api_sets`.
    pub entitled_api_sets: Vec<String>,
    /// `account.etag`.
    pub etag: String,
}

/// A VerifyAccount request whose account is known.
#[derive(Debug, Clone)]
pub struct VerifyAccount {
    /// The account (`name`).
    pub account_id: String,
    /// `etag`.
    pub etag: String,
}

/// Creates an account with its administrator role, its first administrator and that
/// administrator's API key; a retry with the same request ID answers them without the key.
pub async fn create_account(
    app: &AppState,
    caller: &Caller,
    input: CreateAccount,
) -> Result<CreatedAccount, ServiceError> {
    caller.authorize_without_account()?;
    let request_key = input.request_key?;
    let account = required("account", input.account)?;
    let account_id = if input.account_id.is_empty() {
        generated_id('a')?
    } else {
        validate::resource_id("account_id", &input.account_id)?
    };
    let display_name =
        validate::display_name("account.display_name", &account.display_name, NAME_MAX)?;
    let client_id_prefix = client_id_prefix(&account_id, &account.client_id_prefix)?;
    let administrator = required("administrator", input.administrator)?;
    let administrator_id = administrator_id(&account_id, &administrator.name)?;
    let administrator_name = validate::display_name(
        "administrator.display_name",
        &administrator.display_name,
        NAME_MAX,
    )?;
    let administrator_email = validate::email("administrator.email", &administrator.email)?;
    let entitled_api_set_ids =
        entitlements("account.entitled_api_sets", &account.entitled_api_sets)?;
    let new_account = NewAccount {
        id: account_id.clone(),
        display_name,
        client_id_prefix,
        verified: false,
        operator: false,
        entitled_api_set_ids,
    };
    let new_administrator = NewUser {
        account_id: account_id.clone(),
        id: administrator_id.clone(),
        display_name: administrator_name,
        email: administrator_email,
        role_ids: Vec::new(),
    };
    // The administrator names both: the account is the user's parent.
    let resource = names::user_name(&account_id, &administrator_id);
    let made = idempotency::once(
        &app.store,
        &app.clock,
        request_key,
        async |claim| {
            let prepared = new_account_with_administrator(
                &app.hasher,
                new_account,
                new_administrator,
                &caller.principal.name(),
            )
            .await?;
            let created = claim
                .store(&app.store, resource.clone())
                .create_account_with(prepared.seed)
                .await?;
            Ok((prepared.key, created))
        },
        |_| resource.clone(),
    )
    .await?;
    let (key, created) = match made {
        Once::Made(made) => made,
        Once::Replayed(resource) => return replayed_account(app, &resource).await,
    };
    let administrator = created.users.into_iter().next().ok_or_else(|| {
        ServiceError::Internal("the account was stored without its administrator".into())
    })?;
    let account_resource = names::account_name(&account_id);
    record_success(
        &app.store,
        caller,
        &account_id,
        &account_resource,
        "account created",
    )
    .await;
    Ok(CreatedAccount {
        account: created.account,
        administrator,
        administrator_api_key: Some(key),
    })
}

/// The account an earlier CreateAccount with the same request ID made, named by its
/// administrator (`resource`), without the administrator's key.
async fn replayed_account(app: &AppState, resource: &str) -> Result<CreatedAccount, ServiceError> {
    let (account_id, user_id) = names::user("request_id", resource)?;
    let account = app.store.get_account(&account_id).await?;
    let administrator = app.store.get_user(&account_id, &user_id).await?;
    Ok(CreatedAccount {
        account,
        administrator,
        administrator_api_key: None,
    })
}

/// `account.client_id_prefix`, or the account ID and a hyphen when it is empty.
fn client_id_prefix(account_id: &str, asked: &str) -> Result<String, ServiceError> {
    const FIELD: &str = "account.client_id_prefix";
    if !asked.is_empty() {
        return validate::client_id_prefix(FIELD, asked);
    }
    validate::client_id_prefix(FIELD, &format!("{account_id}-")).map_err(|_| {
        ServiceError::invalid(
            FIELD,
            "is required when the account ID and a hyphen do not make a valid prefix (2 to 20 characters)",
        )
    })
}

/// The user ID of a new account's first administrator: the one `administrator.name`
/// names (`accounts/-/users/{user}` or a user of the new account), or a generated one
/// when it is empty.
fn administrator_id(account_id: &str, name: &str) -> Result<String, ServiceError> {
    if name.is_empty() {
        return generated_id('u');
    }
    let (named_account, user_id) = names::user(
        "administrator.name",
        &name.replacen("accounts/-/", &format!("accounts/{account_id}/"), 1),
    )?;
    if named_account != account_id {
        return Err(ServiceError::invalid(
            "administrator.name",
            "must be `accounts/-/users/{user}` or name a user of the new account",
        ));
    }
    Ok(user_id)
}

/// The entitlements a request sets (`apiSets/{api_set}` names in `field`): platform API
/// sets only, deduplicated and sorted; whether each exists is checked by the store.
fn entitlements(field: &str, names_: &[String]) -> Result<Vec<String>, ServiceError> {
    let mut ids = std::collections::BTreeSet::new();
    for name in names_ {
        let id = names::api_set(field, name)?;
        if id.starts_with(BUILTIN_API_SET_PREFIX) {
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

/// Reads an account.
pub async fn get_account(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
) -> Result<Account, ServiceError> {
    caller.authorize(account_id)?;
    Ok(app.store.get_account(account_id).await?)
}

/// Lists accounts: every account for operators, the caller's own for everyone else.
pub async fn list_accounts(
    app: &AppState,
    caller: &Caller,
    query: PageQuery,
) -> Result<Page<Account>, ServiceError> {
    caller.authorize_own_account()?;
    let page = query.checked()?;
    if !caller.principal.is_operator() {
        // Everyone else sees their own account, on one page.
        let own = app.store.get_account(&caller.principal.account_id).await?;
        let items = if page.after.is_none() {
            vec![own]
        } else {
            Vec::new()
        };
        return Ok(Page {
            items,
            next_after: None,
        });
    }
    Ok(app.store.list_accounts(page).await?)
}

/// Updates an account's display name or (operators only) its entitlements.
pub async fn update_account(
    app: &AppState,
    caller: &Caller,
    input: UpdateAccount,
) -> Result<Account, ServiceError> {
    let account_id = &input.account_id;
    caller.authorize(account_id)?;
    let mask = validate::update_mask(
        "update_mask",
        input.update_mask.as_deref(),
        &["display_name", "entitled_api_sets"],
    )?;
    for path in &mask {
        caller.authorize_field(account_id, path)?;
    }
    let mut update = AccountUpdate::default();
    if mask.iter().any(|p| p == "display_name") {
        update.display_name = Some(validate::display_name(
            "account.display_name",
            &input.display_name,
            NAME_MAX,
        )?);
    }
    let entitling = mask.iter().any(|p| p == "entitled_api_sets");
    if entitling {
        update.entitled_api_set_ids = Some(entitlements(
            "account.entitled_api_sets",
            &input.entitled_api_sets,
        )?);
        if app.store.get_account(account_id).await?.operator {
            return Err(ServiceError::FailedPrecondition {
                reason: "OPERATOR_ACCOUNT",
                message: "the operator account is entitled to every API set; its entitlements cannot be set".to_owned(),
            });
        }
    }
    let revision = validate::etag("account.etag", &input.etag)?;
    let updated = app
        .store
        .update_account(account_id, update, revision)
        .await?;
    let detail = if entitling {
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
    };
    let resource = names::account_name(account_id);
    record_success(&app.store, caller, account_id, &resource, detail).await;
    Ok(updated)
}

/// Marks an account verified, which lets it create credentials.
pub async fn verify_account(
    app: &AppState,
    caller: &Caller,
    input: VerifyAccount,
) -> Result<Account, ServiceError> {
    caller.authorize(&input.account_id)?;
    let revision = validate::etag("etag", &input.etag)?;
    let account = app
        .store
        .set_account_verified(&input.account_id, true, revision)
        .await?;
    let resource = names::account_name(&input.account_id);
    record_success(
        &app.store,
        caller,
        &input.account_id,
        &resource,
        "account verified",
    )
    .await;
    Ok(account)
}
