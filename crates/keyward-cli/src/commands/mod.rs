//! One module per command family, each command a short function over one call of
//! `keyward-client`'s public API: parse the arguments into the SDK's request, call,
//! print. What they share lives here: connecting, naming resources from short IDs,
//! reading secrets from stdin, and handing a secret over once.

pub(crate) mod accounts;
pub(crate) mod api_keys;
pub(crate) mod api_sets;
pub(crate) mod audit;
pub(crate) mod credentials;
pub(crate) mod roles;
pub(crate) mod sign;
pub(crate) mod users;
pub(crate) mod verify;

use std::io::BufRead as _;

use clap::Args;
use futures_util::{Stream, TryStreamExt as _};
use keyward_client::{ApiKeyFile, Client, ClientError, Target};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::exit::CliError;
use crate::output::{self as out, Listed, Shown};
use crate::{Cli, Command, Global};

pub(crate) type Result<T> = std::result::Result<T, CliError>;

/// `--etag`: make a change conditional on the resource being unchanged.
#[derive(Debug, Args)]
pub(crate) struct EtagArg {
    /// Act only if the resource still has this etag (as `get` or `--json` shows it,
    /// quotes included: --etag '"3"'); otherwise ABORTED, exit code 4.
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) etag: Option<String>,
}

/// A resource of an account: its full name, or a short ID with `--account`.
#[derive(Debug, Args)]
pub(crate) struct InAccount {
    /// The resource name (`accounts/acme/users/bob`, `accounts/acme/roles/auditor`), or
    /// its short ID (`bob`, `auditor`) with `--account`.
    pub(crate) name: String,
    /// The account of a short ID (`acme` or `accounts/acme`).
    #[arg(long)]
    pub(crate) account: Option<String>,
}

impl EtagArg {
    /// `update` made conditional on this etag (`set` is the builder's `etag`), when one
    /// was given.
    pub(crate) fn apply<U>(self, update: U, set: impl FnOnce(U, String) -> U) -> U {
        match self.etag {
            Some(etag) => set(update, etag),
            None => update,
        }
    }

    /// The resource `name`, conditional on this etag when one was given.
    pub(crate) fn target(self, name: String) -> Target {
        match self.etag {
            Some(etag) => Target::new(name).etag(etag),
            None => Target::new(name),
        }
    }
}

/// Runs the command; the exit code when it ran (0, or [`crate::exit::REFUSED`]).
pub(crate) async fn run(cli: Cli) -> Result<u8> {
    let g = &cli.global;
    match cli.command {
        Command::Sign(args) => sign::run(g, args),
        Command::Scan(args) => crate::scan::scan(g, &args).await,
        Command::Audit(audit::AuditCmd::Verify { file }) => crate::audit_chain::verify(g, &file),
        command => {
            let client = connect(g).await?;
            match command {
                Command::Accounts(cmd) => accounts::run(g, &client, cmd).await,
                Command::Users(cmd) => users::run(g, &client, cmd).await,
                Command::Roles(cmd) => roles::run(g, &client, cmd).await,
                Command::ApiSets(cmd) => api_sets::run(g, &client, cmd).await,
                Command::Credentials(cmd) => credentials::run(g, &client, cmd).await,
                Command::ApiKeys(cmd) => api_keys::run(g, &client, cmd).await,
                Command::Audit(cmd) => audit::run(g, &client, cmd).await,
                Command::Verify(cmd) => verify::run(g, &client, cmd).await,
                // Handled above, without a connection.
                Command::Sign(_) | Command::Scan(_) => Ok(0),
            }
        }
    }
}

/// The key in a `.APIKEY` file.
pub(crate) fn key_from_file(path: &std::path::Path) -> Result<SecretString> {
    ApiKeyFile::read(path)
        .map(|file| file.key().clone())
        .map_err(|e| CliError::Local(e.to_string()))
}

/// A connection to the server with the global flags' TLS options and API key, acting
/// for `--act-as` when given.
pub(crate) async fn connect(g: &Global) -> Result<Client> {
    let mut builder = Client::builder(g.url.clone()).timeout(g.timeout);
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| CliError::Local(format!("cannot read the {what} {}: {e}", path.display())))
    };
    if let Some(path) = &g.ca_file {
        builder = builder.ca_certificate_pem(read("CA file", path)?);
    }
    if let (Some(cert), Some(key)) = (&g.client_cert, &g.client_key) {
        builder = builder.identity_pem(read("client certificate", cert)?, read("client key", key)?);
    }
    match (&g.api_key_file, &g.api_key) {
        (Some(_), Some(_)) if g.api_key_flag => {
            return Err(CliError::Local(
                "give the API key with --api-key or --api-key-file, not both".to_owned(),
            ));
        }
        (Some(path), _) => builder = builder.api_key(key_from_file(path)?.expose_secret()),
        (None, Some(key)) => builder = builder.api_key(key),
        (None, None) => {}
    }
    let client = builder.connect().await.map_err(|e| connect_error(g, &e))?;
    match &g.act_as {
        Some(user) => client
            .acting_as(user)
            .map_err(|e| CliError::Local(e.to_string())),
        None => Ok(client),
    }
}

/// Why connecting failed, with every cause that adds something.
fn connect_error(g: &Global, error: &ClientError) -> CliError {
    let mut message = format!("{error} ({})", g.url);
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.ends_with(&cause_text) {
            message.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    CliError::Local(message)
}

/// `acme` → `accounts/acme`; a name with a `/` is taken as given.
pub(crate) fn named(collection: &str, id: &str) -> String {
    if id.contains('/') {
        id.to_owned()
    } else {
        format!("{collection}/{id}")
    }
}

/// Each of `ids` named in `collection` (see [`named`]).
pub(crate) fn all_named(collection: &str, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| named(collection, id)).collect()
}

/// A resource of an account, `collection` (`users`, `roles`) within it: a full name
/// as given, or a short ID with `--account`.
pub(crate) fn in_account(r: &InAccount, collection: &str) -> Result<String> {
    let singular = collection.trim_end_matches('s');
    match (&r.account, r.name.contains('/')) {
        (None, true) => Ok(r.name.clone()),
        (Some(account), false) => Ok(format!(
            "{}/{collection}/{}",
            named("accounts", account),
            r.name
        )),
        (Some(_), true) => Err(CliError::Local(format!(
            "`{}` is a full {singular} name: drop --account, or give the short {singular} ID",
            r.name
        ))),
        (None, false) => Err(CliError::Local(format!(
            "`{0}` is a short {singular} ID: add --account ACCOUNT, or give \
             accounts/ACCOUNT/{collection}/{0}",
            r.name
        ))),
    }
}

/// A role of `account` (`accounts/acme`): `auditor` or a full role name.
pub(crate) fn role_in(account: &str, role: &str) -> String {
    if role.contains('/') {
        role.to_owned()
    } else {
        format!("{account}/roles/{role}")
    }
}

/// Refuses an update that names no field, listing the flags that would.
pub(crate) fn nothing_to_update(empty: bool, flags: &str) -> Result<()> {
    if empty {
        Err(CliError::Local(format!(
            "nothing to update: give at least one of {flags}"
        )))
    } else {
        Ok(())
    }
}

/// Prints one resource; exit code 0.
pub(crate) fn show(g: &Global, resource: &impl Shown) -> Result<u8> {
    out::show(g.json, resource);
    Ok(0)
}

/// Collects every item the SDK's stream yields (its pages fetched as it goes) and
/// prints them; exit code 0.
pub(crate) async fn list<T: Listed>(
    g: &Global,
    items: impl Stream<Item = std::result::Result<T, ClientError>>,
) -> Result<u8> {
    let all: Vec<T> = items.try_collect().await?;
    out::list(g.json, &all);
    Ok(0)
}

/// Says that `name` is gone; exit code 0.
pub(crate) fn deleted(g: &Global, name: &str) -> Result<u8> {
    if g.json {
        out::json(&json!({"deleted": name}));
    } else {
        println!("deleted {name}");
    }
    Ok(0)
}

/// One line from stdin, without its line ending.
pub(crate) fn read_stdin_line(what: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Local(format!("cannot read the {what} from stdin: {e}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err(CliError::Local(format!("no {what} on stdin")));
    }
    Ok(line)
}

/// The client secret: from stdin with `--secret-stdin`, else from `--secret` or
/// `KEYWARD_CLIENT_SECRET`.
pub(crate) fn secret_input(secret: Option<String>, from_stdin: bool) -> Result<String> {
    match (secret, from_stdin) {
        (_, true) => read_stdin_line("client secret"),
        (Some(secret), false) => Ok(secret),
        (None, false) => Err(CliError::Local(
            "give the client secret with --secret-stdin, KEYWARD_CLIENT_SECRET or --secret"
                .to_owned(),
        )),
    }
}

/// The bytes of `path`, or none without one.
pub(crate) fn read_body(path: Option<&std::path::Path>) -> Result<Vec<u8>> {
    match path {
        None => Ok(Vec::new()),
        Some(path) => std::fs::read(path)
            .map_err(|e| CliError::Local(format!("cannot read {}: {e}", path.display()))),
    }
}

/// A secret handed over once: `human`/`value` show the resource, the secret goes under
/// `secret_label` (or `secret_field` in JSON), then the warning. An empty secret is a
/// retried create (same request id), which returns the resource without it.
pub(crate) struct HandOver<'a> {
    pub(crate) value: serde_json::Value,
    pub(crate) human: Vec<(&'a str, String)>,
    pub(crate) secret_field: &'a str,
    pub(crate) secret_label: &'a str,
}

impl HandOver<'_> {
    /// The `key: value` lines and JSON of `resource`, for a secret called `secret_label`.
    pub(crate) fn of<'a>(
        resource: &impl Shown,
        secret_field: &'a str,
        secret_label: &'a str,
    ) -> HandOver<'a> {
        HandOver {
            value: resource.json(),
            human: resource.fields(),
            secret_field,
            secret_label,
        }
    }

    /// Prints it with `secret`; exit code 0.
    pub(crate) fn print(mut self, g: &Global, secret: &SecretString) -> Result<u8> {
        let secret = secret.expose_secret();
        if secret.is_empty() {
            self.print_resource(g);
            eprintln!(
                "note: no {} in this answer: it was handed over by the first request with this request id",
                self.secret_label
            );
            return Ok(0);
        }
        if g.json {
            self.value[self.secret_field] = json!(secret);
        } else {
            self.human.push((self.secret_label, secret.to_owned()));
        }
        self.print_resource(g);
        out::warn_shown_once(self.secret_label);
        Ok(0)
    }

    /// Prints it without the secret, which went to the file at `path` instead (named
    /// under `file_field` in JSON and `file_label` for people), with a note that
    /// `whose` key is only there now; exit code 0.
    pub(crate) fn saved(
        mut self,
        g: &Global,
        path: &std::path::Path,
        (file_field, file_label): (&str, &'static str),
        whose: &str,
    ) -> Result<u8> {
        self.value[file_field] = json!(path.display().to_string());
        self.human.push((file_label, path.display().to_string()));
        self.print_resource(g);
        eprintln!(
            "note: {whose} is only in {} (mode 0600); it will not be shown again",
            path.display()
        );
        Ok(0)
    }

    fn print_resource(&self, g: &Global) {
        if g.json {
            out::json(&self.value);
        } else {
            out::fields(&self.human);
        }
    }
}
