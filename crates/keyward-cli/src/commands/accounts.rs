//! `keyward-cli accounts`: create, get, list, update, verify.

use std::path::Path;

use clap::{Args, Subcommand};
use keyward_client::{AccountUpdate, ApiKeyFile, Client, CreatedAccount, ListAccounts, NewAccount};
use secrecy::ExposeSecret as _;
use serde_json::json;

use super::{EtagArg, HandOver, Result, all_named, list, named, show};
use crate::Global;
use crate::exit::CliError;
use crate::output as out;

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCmd {
    /// Create an account with its first administrator; prints the administrator's API
    /// key, once.
    Create(CreateArgs),
    /// Show an account (`acme` or `accounts/acme`).
    #[command(visible_alias = "show")]
    Get { account: String },
    /// List the accounts the caller may see.
    List,
    /// Change an account's display name (its administrators), or the platform API sets it
    /// is entitled to use (operators).
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)
        .args(["display_name", "entitle", "no_entitlements"])))]
    Update(UpdateArgs),
    /// Mark an account verified (operators only), so it may create API client
    /// credentials.
    Verify {
        account: String,
        #[command(flatten)]
        etag: EtagArg,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The account ID (`acme`), which names it `accounts/acme`.
    account_id: String,
    #[arg(long)]
    display_name: String,
    /// The first administrator's display name.
    #[arg(long)]
    admin_name: String,
    /// The first administrator's email.
    #[arg(long)]
    admin_email: String,
    /// Idempotency key: a retry returns the first account, without the key.
    #[arg(long, default_value = "")]
    request_id: String,
    /// Write the administrator's API key to this new `.APIKEY` file (mode
    /// 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    save_admin_key: Option<std::path::PathBuf>,
    /// A platform API set the account may use (`billing` or `apiSets/billing`);
    /// repeatable. Without any, its keys and credentials can hold only Keyward's
    /// built-in sets until an operator entitles it.
    #[arg(long = "entitle", value_name = "API_SET")]
    entitle: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    account: String,
    #[arg(long)]
    display_name: Option<String>,
    /// Replace the account's entitlements with these platform API sets (`billing` or
    /// `apiSets/billing`); repeatable. Operators only.
    #[arg(
        long = "entitle",
        value_name = "API_SET",
        conflicts_with = "no_entitlements"
    )]
    entitle: Vec<String>,
    /// Take every entitlement away: the account's keys and credentials stop being
    /// valid for any platform API set. Operators only.
    #[arg(long)]
    no_entitlements: bool,
    #[command(flatten)]
    etag: EtagArg,
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: AccountsCmd) -> Result<u8> {
    match cmd {
        AccountsCmd::Create(args) => {
            let save = args.save_admin_key.clone();
            let created = client.create_account(new_account(args)).await?;
            self::created(g, &created, save.as_deref())
        }
        AccountsCmd::Get { account } => {
            show(g, &client.get_account(&named("accounts", &account)).await?)
        }
        AccountsCmd::List => {
            list(
                g,
                client.list_accounts_stream(ListAccounts::all().page_size(1000)),
            )
            .await
        }
        AccountsCmd::Update(args) => show(g, &client.update_account(account_update(args)).await?),
        AccountsCmd::Verify { account, etag } => {
            let target = etag.target(named("accounts", &account));
            show(g, &client.verify_account(target).await?)
        }
    }
}

fn new_account(args: CreateArgs) -> NewAccount {
    let new = NewAccount::new(args.account_id)
        .display_name(args.display_name)
        .administrator(args.admin_name, args.admin_email)
        .entitled_api_sets(all_named("apiSets", &args.entitle));
    match args.request_id.as_str() {
        "" => new,
        _ => new.request_id(args.request_id),
    }
}

/// The change of display name or entitlements, conditional on `--etag`.
fn account_update(args: UpdateArgs) -> AccountUpdate {
    let mut update = AccountUpdate::new(named("accounts", &args.account));
    if let Some(display_name) = args.display_name {
        update = update.display_name(display_name);
    }
    if args.no_entitlements || !args.entitle.is_empty() {
        update = update.entitled_api_sets(all_named("apiSets", &args.entitle));
    }
    args.etag.apply(update, AccountUpdate::etag)
}

/// Prints a new account and its administrator, with the administrator's API key: saved
/// to `save` when given, else handed over.
fn created(g: &Global, created: &CreatedAccount, save: Option<&Path>) -> Result<u8> {
    let mut human = out::account_fields(&created.account);
    human.push(("administrator", created.administrator.name.clone()));
    let value = json!({
        "account": out::account_json(&created.account),
        "administrator": out::user_json(&created.administrator),
    });
    let hand_over = HandOver {
        value,
        human,
        secret_field: "administratorApiKey",
        secret_label: "administrator API key",
    };
    let key = &created.administrator_api_key;
    match save {
        Some(path) if !key.expose_secret().is_empty() => {
            save_admin_key(created, path)?;
            let file = ("administratorApiKeyFile", "administrator API key saved to");
            hand_over.saved(g, path, file, "the administrator's API key")
        }
        _ => hand_over.print(g, key),
    }
}

/// Writes the administrator's API key to a new `.APIKEY` file at `path`.
fn save_admin_key(created: &CreatedAccount, path: &Path) -> Result<()> {
    ApiKeyFile::new(created.administrator_api_key.clone())
        .and_then(|file| file.with_display_name(&created.administrator.display_name))
        .map_err(keyward_client::KeyFileError::from)
        .and_then(|file| file.write_new_at(path))
        .map_err(|e| {
            CliError::Local(format!(
                "{} was created but its administrator's key cannot be saved: {e}",
                created.account.name
            ))
        })
}
