//! `keyward-cli users`: create, get, list, update, disable, enable, delete, and the
//! enrollment tokens for a user's first API key (enroll, enrollments, revoke-enrollment).

use std::time::Duration;

use clap::{Args, Subcommand};
use keyward_client::{
    Client, ListEnrollmentTokens, ListUsers, NewEnrollmentToken, NewUser, UserUpdate,
};

use super::{
    EtagArg, HandOver, InAccount, Result, all_named, in_account, list, named, nothing_to_update,
    role_in, show,
};
use crate::{Global, parse_duration};

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCmd {
    /// Create a user.
    Create(CreateArgs),
    /// List the users of an account.
    List {
        #[arg(long)]
        account: String,
    },
    /// Show a user (`accounts/acme/users/bob`, or `bob --account acme`).
    #[command(visible_alias = "show")]
    Get {
        #[command(flatten)]
        user: InAccount,
    },
    /// Change a user's display name, email or roles.
    Update(UpdateArgs),
    /// Disable a user: their API keys stop working until they are enabled again.
    Disable {
        #[command(flatten)]
        user: InAccount,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Enable a disabled user.
    Enable {
        #[command(flatten)]
        user: InAccount,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Delete a user.
    Delete {
        #[command(flatten)]
        user: InAccount,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Issue a user a one-time enrollment token, printed once: the user redeems it for
    /// their own first API key (`api-keys redeem`).
    Enroll(EnrollArgs),
    /// List the enrollment tokens of a user (`accounts/acme/users/carol`, `carol --account
    /// acme`), or of every user of an account (`accounts/acme/users/-`, `- --account acme`).
    Enrollments {
        #[command(flatten)]
        user: InAccount,
    },
    /// Revoke an enrollment token that was not redeemed
    /// (`accounts/acme/users/carol/enrollmentTokens/…`).
    RevokeEnrollment { name: String },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The user ID (`kai`).
    user_id: String,
    /// The account (`acme` or `accounts/acme`).
    #[arg(long)]
    account: String,
    #[arg(long)]
    display_name: String,
    #[arg(long)]
    email: String,
    /// A role to grant (`administrator` or `accounts/acme/roles/x`); repeatable.
    #[arg(long = "role")]
    roles: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    user: InAccount,
    /// The new display name.
    #[arg(long)]
    display_name: Option<String>,
    /// The new email address.
    #[arg(long)]
    email: Option<String>,
    /// Replace the roles (`auditor` or `accounts/acme/roles/auditor`); repeatable.
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Take every role away.
    #[arg(long, conflicts_with = "roles")]
    no_roles: bool,
    #[command(flatten)]
    etag: EtagArg,
}

#[derive(Debug, Args)]
pub(crate) struct EnrollArgs {
    #[command(flatten)]
    user: InAccount,
    /// An API set the user may choose for the key (`keyward.api-keys`, `billing`);
    /// repeatable.
    #[arg(long = "api-set", required = true)]
    api_sets: Vec<String>,
    /// How long the token may be redeemed, like `24h` (the default), at most `7d`.
    #[arg(long, value_parser = parse_duration)]
    ttl: Option<Duration>,
    #[arg(long, default_value = "")]
    request_id: String,
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: UsersCmd) -> Result<u8> {
    match cmd {
        UsersCmd::Create(args) => show(g, &client.create_user(new_user(args)).await?),
        UsersCmd::List { account } => {
            list(
                g,
                client
                    .list_users_stream(ListUsers::new(named("accounts", &account)).page_size(1000)),
            )
            .await
        }
        UsersCmd::Get { user } => show(g, &client.get_user(&in_account(&user, "users")?).await?),
        UsersCmd::Update(args) => show(g, &client.update_user(user_update(args)?).await?),
        UsersCmd::Disable { user, etag } => {
            let target = etag.target(in_account(&user, "users")?);
            show(g, &client.disable_user(target).await?)
        }
        UsersCmd::Enable { user, etag } => {
            let target = etag.target(in_account(&user, "users")?);
            show(g, &client.enable_user(target).await?)
        }
        UsersCmd::Delete { user, etag } => {
            let name = in_account(&user, "users")?;
            client.delete_user(etag.target(name.clone())).await?;
            super::deleted(g, &name)
        }
        UsersCmd::Enroll(args) => enroll(g, client, args).await,
        UsersCmd::Enrollments { user } => {
            let parent = in_account(&user, "users")?;
            let tokens = ListEnrollmentTokens::new(parent).page_size(1000);
            list(g, client.list_enrollment_tokens_stream(tokens)).await
        }
        UsersCmd::RevokeEnrollment { name } => {
            show(g, &client.revoke_enrollment_token(&name).await?)
        }
    }
}

fn new_user(args: CreateArgs) -> NewUser {
    let parent = named("accounts", &args.account);
    let roles: Vec<String> = args.roles.iter().map(|r| role_in(&parent, r)).collect();
    NewUser::new(parent, args.user_id)
        .display_name(args.display_name)
        .email(args.email)
        .roles(roles)
}

/// The update of the user's display name, email and roles, conditional on `--etag`;
/// refused when it changes nothing.
fn user_update(args: UpdateArgs) -> Result<UserUpdate> {
    let name = in_account(&args.user, "users")?;
    let account = name.split('/').take(2).collect::<Vec<_>>().join("/");
    let mut update = UserUpdate::new(name);
    if let Some(v) = args.display_name {
        update = update.display_name(v);
    }
    if let Some(v) = args.email {
        update = update.email(v);
    }
    if !args.roles.is_empty() || args.no_roles {
        update = update.roles(args.roles.iter().map(|r| role_in(&account, r)));
    }
    nothing_to_update(
        update.is_empty(),
        "--display-name, --email, --role, --no-roles",
    )?;
    Ok(args.etag.apply(update, UserUpdate::etag))
}

/// Issues the enrollment token and hands it over, once.
async fn enroll(g: &Global, client: &Client, args: EnrollArgs) -> Result<u8> {
    let user = in_account(&args.user, "users")?;
    let mut new = NewEnrollmentToken::new(user, all_named("apiSets", &args.api_sets));
    if let Some(ttl) = args.ttl {
        new = new.ttl(ttl);
    }
    if !args.request_id.is_empty() {
        new = new.request_id(args.request_id);
    }
    let created = client.create_enrollment_token(new).await?;
    HandOver::of(&created.enrollment_token, "token", "enrollment token").print(g, &created.token)
}
