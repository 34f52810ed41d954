//! `keyward-cli credentials`: create, list, show, update, renew, enable, disable, delete.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use keyward_client::proto::credential::{Scheme, State};
use keyward_client::{
    Client, CreatedCredential, CredentialUpdate, ListCredentials, NewCredential, SecretRenewal,
};

use super::{EtagArg, HandOver, Result, all_named, list, named, nothing_to_update, show};
use crate::{Global, parse_duration};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SchemeArg {
    Basic,
    Hmac,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum CredentialStateArg {
    Active,
    Disabled,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CredentialsCmd {
    /// Create a credential; prints its client secret, once.
    Create(CreateArgs),
    /// List the credentials of an account.
    List(ListArgs),
    /// Show a credential (`accounts/acme/credentials/x`).
    #[command(visible_alias = "get")]
    Show { name: String },
    /// Change a credential's display name, description, application or API sets.
    Update(UpdateArgs),
    /// Issue a new client secret; prints it, once. With `--grace`, the previous secret
    /// keeps working that long (at most 7 days).
    Renew(RenewArgs),
    /// Enable a disabled credential.
    Enable {
        name: String,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Disable a credential (it stops verifying, and can be enabled again).
    Disable {
        name: String,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Delete a credential for good.
    Delete {
        name: String,
        #[command(flatten)]
        etag: EtagArg,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The identifier; the Client ID is the account's prefix plus it.
    identifier: String,
    #[arg(long)]
    account: String,
    #[arg(long)]
    display_name: String,
    #[arg(long, value_enum, default_value = "basic")]
    scheme: SchemeArg,
    /// An API set (`billing` or `apiSets/billing`); repeatable, at least one.
    #[arg(long = "api-set", required = true)]
    api_sets: Vec<String>,
    /// Who to contact about this client.
    #[arg(long)]
    contact_email: String,
    /// The application that uses it (`billing`).
    #[arg(long)]
    application: String,
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long, default_value = "")]
    request_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[arg(long)]
    account: String,
    #[arg(long, value_enum)]
    state: Option<CredentialStateArg>,
    #[arg(long, value_enum)]
    scheme: Option<SchemeArg>,
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
    /// The new application.
    #[arg(long)]
    application: Option<String>,
    /// Replace the API sets; repeatable.
    #[arg(long = "api-set")]
    api_sets: Vec<String>,
    #[command(flatten)]
    etag: EtagArg,
}

#[derive(Debug, Args)]
pub(crate) struct RenewArgs {
    name: String,
    /// Grace period of the previous secret, like `1h`, `2d`.
    #[arg(long, value_parser = parse_duration)]
    grace: Option<Duration>,
    #[arg(long, default_value = "")]
    request_id: String,
    #[command(flatten)]
    etag: EtagArg,
}

impl From<SchemeArg> for Scheme {
    fn from(arg: SchemeArg) -> Self {
        match arg {
            SchemeArg::Basic => Scheme::Basic,
            SchemeArg::Hmac => Scheme::Hmac,
        }
    }
}

impl From<CredentialStateArg> for State {
    fn from(arg: CredentialStateArg) -> Self {
        match arg {
            CredentialStateArg::Active => State::Active,
            CredentialStateArg::Disabled => State::Disabled,
        }
    }
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: CredentialsCmd) -> Result<u8> {
    match cmd {
        CredentialsCmd::Create(args) => {
            let created = client.create_credential(new_credential(args)).await?;
            HandOver::of(&created.credential, "clientSecret", "client secret")
                .print(g, &created.client_secret)
        }
        CredentialsCmd::List(args) => {
            list(
                g,
                client.list_credentials_stream(listing(&args).page_size(1000)),
            )
            .await
        }
        CredentialsCmd::Show { name } => show(g, &client.get_credential(&name).await?),
        CredentialsCmd::Update(args) => show(
            g,
            &client.update_credential(credential_update(args)?).await?,
        ),
        CredentialsCmd::Renew(args) => renewed(g, &client.renew_secret(renewal(args)).await?),
        CredentialsCmd::Enable { name, etag } => {
            show(g, &client.enable_credential(etag.target(name)).await?)
        }
        CredentialsCmd::Disable { name, etag } => {
            show(g, &client.disable_credential(etag.target(name)).await?)
        }
        CredentialsCmd::Delete { name, etag } => {
            client.delete_credential(etag.target(name.clone())).await?;
            super::deleted(g, &name)
        }
    }
}

fn new_credential(args: CreateArgs) -> NewCredential {
    let new = NewCredential::new(named("accounts", &args.account), args.identifier)
        .display_name(args.display_name)
        .application(args.application)
        .contact_email(args.contact_email)
        .scheme(args.scheme.into())
        .api_sets(all_named("apiSets", &args.api_sets))
        .description(args.description);
    match args.request_id.as_str() {
        "" => new,
        _ => new.request_id(args.request_id),
    }
}

fn listing(args: &ListArgs) -> ListCredentials {
    let mut listing = ListCredentials::new(named("accounts", &args.account));
    if let Some(state) = args.state {
        listing = listing.state(state.into());
    }
    if let Some(scheme) = args.scheme {
        listing = listing.scheme(scheme.into());
    }
    listing
}

/// The update of the credential, conditional on `--etag`; refused when it changes
/// nothing.
fn credential_update(args: UpdateArgs) -> Result<CredentialUpdate> {
    let mut update = CredentialUpdate::new(args.name);
    if let Some(v) = args.display_name {
        update = update.display_name(v);
    }
    if let Some(v) = args.description {
        update = update.description(v);
    }
    if let Some(v) = args.application {
        update = update.application(v);
    }
    if !args.api_sets.is_empty() {
        update = update.api_sets(all_named("apiSets", &args.api_sets));
    }
    nothing_to_update(
        update.is_empty(),
        "--display-name, --description, --application, --api-set",
    )?;
    Ok(args.etag.apply(update, CredentialUpdate::etag))
}

fn renewal(args: RenewArgs) -> SecretRenewal {
    let mut renewal = SecretRenewal::new(args.name);
    if let Some(grace) = args.grace {
        renewal = renewal.grace(grace);
    }
    if !args.request_id.is_empty() {
        renewal = renewal.request_id(args.request_id);
    }
    args.etag.apply(renewal, SecretRenewal::etag)
}

/// Hands a renewed secret over, with its version.
fn renewed(g: &Global, renewed: &CreatedCredential) -> Result<u8> {
    let mut hand_over = HandOver::of(&renewed.credential, "clientSecret", "client secret");
    if renewed.secret_version > 0 {
        hand_over.value["secretVersion"] = renewed.secret_version.into();
        hand_over
            .human
            .push(("new secret version", renewed.secret_version.to_string()));
    }
    hand_over.print(g, &renewed.client_secret)
}
