//! `keyward-cli roles`: create, get, list, update, delete.

use clap::{Subcommand, ValueEnum};
use keyward_client::proto::Authority;
use keyward_client::{Client, ListRoles, NewRole, RoleUpdate};

use super::{EtagArg, InAccount, Result, in_account, list, named, nothing_to_update, show};
use crate::Global;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AuthorityArg {
    ManageUsers,
    ManageApiClients,
    ManageUserApiKey,
    ViewAuditLog,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolesCmd {
    /// Create a role.
    Create {
        /// The role ID (`auditor`).
        role_id: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        display_name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// An authority the role grants; repeatable.
        #[arg(long = "authority", value_enum)]
        authorities: Vec<AuthorityArg>,
    },
    /// List the roles of an account.
    List {
        #[arg(long)]
        account: String,
    },
    /// Show a role (`accounts/acme/roles/auditor`, or `auditor --account acme`).
    #[command(visible_alias = "show")]
    Get {
        #[command(flatten)]
        role: InAccount,
    },
    /// Change a role's display name, description or authorities.
    Update {
        #[command(flatten)]
        role: InAccount,
        /// The new display name.
        #[arg(long)]
        display_name: Option<String>,
        /// The new description (`""` clears it).
        #[arg(long)]
        description: Option<String>,
        /// Replace the authorities; repeatable.
        #[arg(long = "authority", value_enum)]
        authorities: Vec<AuthorityArg>,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Delete a role.
    Delete {
        #[command(flatten)]
        role: InAccount,
        #[command(flatten)]
        etag: EtagArg,
    },
}

impl From<AuthorityArg> for Authority {
    fn from(a: AuthorityArg) -> Self {
        match a {
            AuthorityArg::ManageUsers => Authority::ManageUsers,
            AuthorityArg::ManageApiClients => Authority::ManageApiClients,
            AuthorityArg::ManageUserApiKey => Authority::ManageUserApiKey,
            AuthorityArg::ViewAuditLog => Authority::ViewAuditLog,
        }
    }
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: RolesCmd) -> Result<u8> {
    match cmd {
        RolesCmd::Create {
            role_id,
            account,
            display_name,
            description,
            authorities,
        } => {
            let new = NewRole::new(named("accounts", &account), role_id)
                .display_name(display_name)
                .description(description)
                .authorities(authorities.into_iter().map(Authority::from));
            show(g, &client.create_role(new).await?)
        }
        RolesCmd::List { account } => {
            list(
                g,
                client
                    .list_roles_stream(ListRoles::new(named("accounts", &account)).page_size(1000)),
            )
            .await
        }
        RolesCmd::Get { role } => show(g, &client.get_role(&in_account(&role, "roles")?).await?),
        RolesCmd::Update {
            role,
            display_name,
            description,
            authorities,
            etag,
        } => {
            let update = role_update(&role, display_name, description, &authorities)?;
            let update = etag.apply(update, RoleUpdate::etag);
            show(g, &client.update_role(update).await?)
        }
        RolesCmd::Delete { role, etag } => {
            let name = in_account(&role, "roles")?;
            client.delete_role(etag.target(name.clone())).await?;
            super::deleted(g, &name)
        }
    }
}

/// The update of `role` (`None`, or no authorities: unchanged); refused when it changes
/// nothing.
fn role_update(
    role: &InAccount,
    display_name: Option<String>,
    description: Option<String>,
    authorities: &[AuthorityArg],
) -> Result<RoleUpdate> {
    let mut update = RoleUpdate::new(in_account(role, "roles")?);
    if let Some(v) = display_name {
        update = update.display_name(v);
    }
    if let Some(v) = description {
        update = update.description(v);
    }
    if !authorities.is_empty() {
        update = update.authorities(authorities.iter().copied().map(Authority::from));
    }
    nothing_to_update(
        update.is_empty(),
        "--display-name, --description, --authority",
    )?;
    Ok(update)
}
