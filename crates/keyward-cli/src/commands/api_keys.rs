//! `keyward-cli api-keys`: create, list, get, update, revoke, delete, and redeem an
//! enrollment token for a first key.

use std::io::BufRead as _;
use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use keyward_client::proto::api_key::State;
use keyward_client::{ApiKeyFile, ApiKeyUpdate, Client, CreatedApiKey, ListApiKeys, NewApiKey};
use secrecy::{ExposeSecret as _, SecretString};

use super::{EtagArg, HandOver, Result, all_named, list, nothing_to_update, show};
use crate::exit::CliError;
use crate::{Global, parse_duration};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ApiKeyStateArg {
    Active,
    Revoked,
    Expired,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeysCmd {
    /// Create an API key; prints it once, or writes it to a new `.APIKEY` file (mode
    /// 0600) with `--save DIR`.
    Create(CreateArgs),
    /// List API keys (`users/me`, `accounts/acme/users/kai`, `accounts/acme/users/-`).
    List {
        #[arg(long, default_value = "users/me")]
        parent: String,
        #[arg(long, value_enum)]
        state: Option<ApiKeyStateArg>,
    },
    /// Show an API key (`accounts/acme/users/kai/apiKeys/…`), never the key itself.
    #[command(visible_alias = "show")]
    Get { name: String },
    /// Change an API key's display name or description (its API sets and expiry are
    /// fixed).
    Update(UpdateArgs),
    /// Revoke an API key (`accounts/acme/users/kai/apiKeys/…`): it stops working for good.
    Revoke { name: String },
    /// Redeem an enrollment token for your first API key; prints the key once, or writes
    /// it to a new `.APIKEY` file (mode 0600) with `--save DIR`. Needs no API key: the
    /// token is the credential.
    Redeem(RedeemArgs),
    /// Delete an API key.
    Delete {
        name: String,
        #[command(flatten)]
        etag: EtagArg,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[arg(long)]
    display_name: String,
    /// The user who will own the key.
    #[arg(long, default_value = "users/me")]
    parent: String,
    /// An API set (`keyward.verify` or `apiSets/keyward.verify`); repeatable.
    #[arg(long = "api-set", required = true)]
    api_sets: Vec<String>,
    #[arg(long, default_value = "")]
    description: String,
    /// Lifetime, like `90d`; without it the key does not expire.
    #[arg(long, value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Write the key to `DIR/<display name>.APIKEY` instead of printing it.
    #[arg(long, value_name = "DIR")]
    save: Option<std::path::PathBuf>,
    #[arg(long, default_value = "")]
    request_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct RedeemArgs {
    /// The enrollment token (`kw_et_…`); prefer the environment variable or
    /// `--token-file` to the flag.
    #[arg(
        long,
        env = "KEYWARD_ENROLLMENT_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// Read the enrollment token from this file (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
    #[arg(long)]
    display_name: String,
    /// An API set among those the token offers; repeatable.
    #[arg(long = "api-set", required = true)]
    api_sets: Vec<String>,
    #[arg(long, default_value = "")]
    description: String,
    /// Lifetime, like `90d`; without it the key does not expire.
    #[arg(long, value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Write the key to `DIR/<display name>.APIKEY` instead of printing it.
    #[arg(long, value_name = "DIR")]
    save: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    name: String,
    /// The new display name.
    #[arg(long)]
    display_name: Option<String>,
    /// The new description (`""` clears it).
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    etag: EtagArg,
}

impl From<ApiKeyStateArg> for State {
    fn from(arg: ApiKeyStateArg) -> Self {
        match arg {
            ApiKeyStateArg::Active => State::Active,
            ApiKeyStateArg::Revoked => State::Revoked,
            ApiKeyStateArg::Expired => State::Expired,
        }
    }
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: ApiKeysCmd) -> Result<u8> {
    match cmd {
        ApiKeysCmd::Create(args) => {
            let save = args.save.clone();
            let created = client.create_api_key(new_api_key(args)).await?;
            save_or_hand_over(g, &created, save.as_deref())
        }
        ApiKeysCmd::Redeem(args) => {
            let token = enrollment_token(args.token.clone(), args.token_file.as_deref())?;
            let new = new_key(
                args.display_name,
                &args.api_sets,
                args.description,
                args.ttl,
            );
            let redeemed = client
                .redeem_enrollment_token(token.expose_secret(), new)
                .await?;
            save_or_hand_over(g, &redeemed, args.save.as_deref())
        }
        ApiKeysCmd::List { parent, state } => {
            let mut keys = ListApiKeys::new(parent).page_size(1000);
            if let Some(state) = state {
                keys = keys.state(State::from(state));
            }
            list(g, client.list_api_keys_stream(keys)).await
        }
        ApiKeysCmd::Get { name } => show(g, &client.get_api_key(&name).await?),
        ApiKeysCmd::Update(args) => show(g, &client.update_api_key(api_key_update(args)?).await?),
        ApiKeysCmd::Revoke { name } => show(g, &client.revoke_api_key(&name).await?),
        ApiKeysCmd::Delete { name, etag } => {
            client.delete_api_key(etag.target(name.clone())).await?;
            super::deleted(g, &name)
        }
    }
}

fn new_api_key(args: CreateArgs) -> NewApiKey {
    let new = new_key(
        args.display_name,
        &args.api_sets,
        args.description,
        args.ttl,
    )
    .parent(args.parent);
    match args.request_id.as_str() {
        "" => new,
        _ => new.request_id(args.request_id),
    }
}

/// The update of the key, conditional on `--etag`; refused when it changes nothing.
fn api_key_update(args: UpdateArgs) -> Result<ApiKeyUpdate> {
    let mut update = ApiKeyUpdate::new(args.name);
    if let Some(v) = args.display_name {
        update = update.display_name(v);
    }
    if let Some(v) = args.description {
        update = update.description(v);
    }
    nothing_to_update(update.is_empty(), "--display-name, --description")?;
    Ok(args.etag.apply(update, ApiKeyUpdate::etag))
}

fn new_key(
    display_name: String,
    api_sets: &[String],
    description: String,
    ttl: Option<Duration>,
) -> NewApiKey {
    let new = NewApiKey::new(display_name, all_named("apiSets", api_sets)).description(description);
    match ttl {
        Some(ttl) => new.ttl(ttl),
        None => new,
    }
}

/// A new API key, shown once: written to a new `.APIKEY` file in `save`, or printed.
fn save_or_hand_over(g: &Global, created: &CreatedApiKey, save: Option<&Path>) -> Result<u8> {
    let key = &created.api_key;
    let Some(dir) = save.filter(|_| !created.key.expose_secret().is_empty()) else {
        return HandOver::of(key, "key", "API key").print(g, &created.key);
    };
    let file = ApiKeyFile::from_created(created)
        .map_err(|e| CliError::Local(format!("the key was created but cannot be saved: {e}")))?;
    let path = file.write_new(dir).map_err(|e| {
        CliError::Local(format!(
            "{} was created but cannot be saved in {}: {e}",
            key.name,
            dir.display()
        ))
    })?;
    HandOver::of(key, "key", "API key").saved(g, &path, ("file", "saved to"), "the key")
}

/// The enrollment token to redeem: `--token` (or `KEYWARD_ENROLLMENT_TOKEN`), or the first
/// line of `--token-file` (`-`: standard input).
fn enrollment_token(token: Option<String>, token_file: Option<&Path>) -> Result<SecretString> {
    let text = match (token, token_file) {
        (Some(token), _) => token,
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| CliError::Local(format!("cannot read the token from stdin: {e}")))?;
            line
        }
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            CliError::Local(format!(
                "cannot read the token from {}: {e}",
                path.display()
            ))
        })?,
        (None, None) => {
            return Err(CliError::Local(
                "give the enrollment token with KEYWARD_ENROLLMENT_TOKEN, --token-file or --token"
                    .to_owned(),
            ));
        }
    };
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if !token.starts_with("kw_et_") {
        return Err(CliError::Local(
            "that is not an enrollment token: they start with kw_et_".to_owned(),
        ));
    }
    Ok(token.into())
}
