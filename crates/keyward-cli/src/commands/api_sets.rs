//! `keyward-cli api-sets`: list, get, create, update, delete.

use clap::Subcommand;
use keyward_client::{ApiSetUpdate, Client, ListApiSets, NewApiSet};

use super::{EtagArg, Result, list, named, nothing_to_update, show};
use crate::Global;

#[derive(Debug, Subcommand)]
pub(crate) enum ApiSetsCmd {
    /// List the API sets; with `--available`, only those the caller may put on a new key
    /// or credential.
    List {
        /// Only the sets the caller may grant in its own account, or with
        /// `--available-in`, in that account (operators).
        #[arg(long)]
        available: bool,
        /// Only the sets the caller may grant in this account (`acme` or `accounts/acme`).
        #[arg(long, value_name = "ACCOUNT", conflicts_with = "available")]
        available_in: Option<String>,
    },
    /// Create a platform API set (operators only).
    Create {
        /// The API set ID (`billing`), which names it `apiSets/billing`.
        api_set_id: String,
        #[arg(long)]
        display_name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A method (`/billing.v1.Invoices/List`); repeatable.
        #[arg(long = "method")]
        methods: Vec<String>,
    },
    /// Show an API set (`billing` or `apiSets/billing`) and its methods.
    #[command(visible_alias = "show")]
    Get { api_set: String },
    /// Change a platform API set (operators only; built-in sets are fixed).
    Update {
        api_set: String,
        /// The new display name.
        #[arg(long)]
        display_name: Option<String>,
        /// The new description (`""` clears it).
        #[arg(long)]
        description: Option<String>,
        /// Replace the methods (`/billing.v1.Invoices/List`); repeatable.
        #[arg(long = "method")]
        methods: Vec<String>,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Delete a platform API set (operators only), refused while a credential or key
    /// holds it.
    Delete {
        api_set: String,
        #[command(flatten)]
        etag: EtagArg,
    },
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: ApiSetsCmd) -> Result<u8> {
    match cmd {
        ApiSetsCmd::List {
            available,
            available_in,
        } => {
            let sets = ListApiSets::all().page_size(1000);
            let sets = match (available, available_in) {
                (_, Some(account)) => sets.available_in(named("accounts", &account)),
                (true, None) => sets.available_in("accounts/-"),
                (false, None) => sets,
            };
            list(g, client.list_api_sets_stream(sets)).await
        }
        ApiSetsCmd::Create {
            api_set_id,
            display_name,
            description,
            methods,
        } => {
            let new = NewApiSet::new(api_set_id)
                .display_name(display_name)
                .description(description)
                .methods(methods);
            show(g, &client.create_api_set(new).await?)
        }
        ApiSetsCmd::Get { api_set } => {
            show(g, &client.get_api_set(&named("apiSets", &api_set)).await?)
        }
        ApiSetsCmd::Update {
            api_set,
            display_name,
            description,
            methods,
            etag,
        } => {
            let update = api_set_update(&api_set, display_name, description, methods)?;
            let update = etag.apply(update, ApiSetUpdate::etag);
            show(g, &client.update_api_set(update).await?)
        }
        ApiSetsCmd::Delete { api_set, etag } => {
            let name = named("apiSets", &api_set);
            client.delete_api_set(etag.target(name.clone())).await?;
            super::deleted(g, &name)
        }
    }
}

/// The update of `api_set` (`None`, or no methods: unchanged); refused when it changes
/// nothing.
fn api_set_update(
    api_set: &str,
    display_name: Option<String>,
    description: Option<String>,
    methods: Vec<String>,
) -> Result<ApiSetUpdate> {
    let mut update = ApiSetUpdate::new(named("apiSets", api_set));
    if let Some(v) = display_name {
        update = update.display_name(v);
    }
    if let Some(v) = description {
        update = update.description(v);
    }
    if !methods.is_empty() {
        update = update.methods(methods);
    }
    nothing_to_update(update.is_empty(), "--display-name, --description, --method")?;
    Ok(update)
}
