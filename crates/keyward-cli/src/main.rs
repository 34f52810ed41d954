//! `keyward-cli`: manage and verify Keyward credentials from a terminal or a script.
//!
//! Built on `keyward-client`. Tables for people, `--json` for scripts, exit codes by
//! class of error (see [`exit::EXIT_CODES`]), and secrets printed only by the commands
//! that hand one over (create and renew), followed by a warning on stderr.
#![allow(clippy::print_stdout, reason = "a command line prints its answers")]

mod audit_chain;
mod commands;
mod exit;
mod output;
mod scan;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

use crate::exit::CliError;

/// Manage and verify Keyward credentials.
#[derive(Debug, Parser)]
#[command(name = "keyward-cli", version, after_help = exit::EXIT_CODES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The Keyward server.
    #[arg(
        long,
        env = "KEYWARD_URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub(crate) url: String,
    /// The API key to call with (prefer the environment variable to the flag).
    #[arg(long, env = "KEYWARD_API_KEY", hide_env_values = true, global = true)]
    pub(crate) api_key: Option<String>,
    /// Call with the API key saved in this `.APIKEY` file instead; it wins over
    /// `KEYWARD_API_KEY` (but not over `--api-key`, which it conflicts with).
    #[arg(long, env = "KEYWARD_API_KEY_FILE", value_name = "FILE", global = true)]
    pub(crate) api_key_file: Option<std::path::PathBuf>,
    /// Whether `api_key` came from the command line rather than the environment.
    #[arg(skip)]
    pub(crate) api_key_flag: bool,
    /// For an `https://` URL: trust the CA certificates in this PEM file for the server's
    /// certificate, instead of the system's roots.
    #[arg(long, env = "KEYWARD_CA_FILE", value_name = "FILE", global = true)]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// For a server that asks for mutual TLS: this client certificate chain (PEM), with
    /// `--client-key`.
    #[arg(
        long,
        env = "KEYWARD_CLIENT_CERT",
        value_name = "FILE",
        global = true,
        requires = "client_key"
    )]
    pub(crate) client_cert: Option<std::path::PathBuf>,
    /// The private key of `--client-cert` (PEM).
    #[arg(
        long,
        env = "KEYWARD_CLIENT_KEY",
        value_name = "FILE",
        global = true,
        requires = "client_cert"
    )]
    pub(crate) client_key: Option<std::path::PathBuf>,
    /// Print JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Deadline for each call, like `30s`, `2m`.
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    pub(crate) timeout: Duration,
    /// Act for this signed-in user (`accounts/acme/users/carol`), as a front end does: the
    /// calls run as that user, within the API key's own API sets, which must include
    /// `keyward.delegation` (the `keyward-act-as` metadata entry).
    #[arg(long, env = "KEYWARD_ACT_AS", value_name = "USER", global = true)]
    pub(crate) act_as: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Accounts (tenants): create, get, list, update, verify.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Users of an account: create, get, list, update, disable, enable, delete, and
    /// enrollment tokens for a user's first API key (enroll, enrollments,
    /// revoke-enrollment).
    #[command(subcommand)]
    Users(UsersCmd),
    /// Roles of an account: create, get, list, update, delete.
    #[command(subcommand)]
    Roles(RolesCmd),
    /// API sets, the groups of methods a credential may be given: list, get, create, update,
    /// delete.
    #[command(subcommand, name = "api-sets")]
    ApiSets(ApiSetsCmd),
    /// API client credentials (Basic or HMAC client secrets): create, list, show, update,
    /// renew, enable, disable, delete.
    #[command(subcommand)]
    Credentials(CredentialsCmd),
    /// API keys of users: create, list, get, update, revoke, delete, and redeem an
    /// enrollment token for a first key.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeysCmd),
    /// The audit log of an account: list, export with its hash chain, verify an export.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Ask the server whether a key, a Basic secret or an HMAC signature is valid.
    #[command(subcommand)]
    Verify(VerifyCmd),
    /// Sign a request with an HMAC client secret and print its Authorization header
    /// (local, no server call).
    Sign(SignArgs),
    /// Look for Keyward keys in files (local, no server call): every string in the key
    /// format whose checksum holds, printed as where it is and its non-secret prefix.
    /// Directories are walked respecting .gitignore, .ignore and git's exclude files;
    /// hidden files such as .env are scanned, .git is not. Exit code 10 when any key is
    /// found, 0 when none is.
    Scan(scan::ScanArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCmd {
    /// Create an account with its first administrator; prints the administrator's API
    /// key, once.
    Create {
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
    },
    /// Show an account (`acme` or `accounts/acme`).
    #[command(visible_alias = "show")]
    Get { account: String },
    /// List the accounts the caller may see.
    List,
    /// Change an account's display name (its administrators), or the platform API sets it
    /// is entitled to use (operators).
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)
        .args(["display_name", "entitle", "no_entitlements"])))]
    Update {
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
    },
    /// Mark an account verified (operators only), so it may create API client
    /// credentials.
    Verify {
        account: String,
        #[command(flatten)]
        etag: EtagArg,
    },
}

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

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// List the audit events of an account, newest first.
    List {
        /// The account (`acme` or `accounts/acme`).
        #[arg(long)]
        account: String,
        /// Show at most this many events.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Export every event of an account, oldest first, with its hash chain: one JSON
    /// object per line, for `audit verify`.
    Export {
        /// The account (`acme` or `accounts/acme`).
        #[arg(long)]
        account: String,
        /// Where to write it (`-`: standard output).
        #[arg(long, short, default_value = "-")]
        output: std::path::PathBuf,
    },
    /// Check an export offline (no server, no key): exit 0 when the hash chain holds,
    /// 10 when it breaks, naming the first event where it does.
    Verify {
        /// The export (`-`: standard input).
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCmd {
    /// Create a user.
    Create {
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
    },
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
    Update {
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
    },
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
    Enroll {
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
    },
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
    Create {
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
    },
    /// List the credentials of an account.
    List {
        #[arg(long)]
        account: String,
        #[arg(long, value_enum)]
        state: Option<CredentialStateArg>,
        #[arg(long, value_enum)]
        scheme: Option<SchemeArg>,
    },
    /// Show a credential (`accounts/acme/credentials/x`).
    #[command(visible_alias = "get")]
    Show { name: String },
    /// Change a credential's display name, description, application or API sets.
    Update {
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
    },
    /// Issue a new client secret; prints it, once. With `--grace`, the previous secret
    /// keeps working that long (at most 7 days).
    Renew {
        name: String,
        /// Grace period of the previous secret, like `1h`, `2d`.
        #[arg(long, value_parser = parse_duration)]
        grace: Option<Duration>,
        #[arg(long, default_value = "")]
        request_id: String,
        #[command(flatten)]
        etag: EtagArg,
    },
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
    Create {
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
    },
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
    Update {
        name: String,
        /// The new display name.
        #[arg(long)]
        display_name: Option<String>,
        /// The new description (`""` clears it).
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        etag: EtagArg,
    },
    /// Revoke an API key (`accounts/acme/users/kai/apiKeys/…`): it stops working for good.
    Revoke { name: String },
    /// Redeem an enrollment token for your first API key; prints the key once, or writes
    /// it to a new `.APIKEY` file (mode 0600) with `--save DIR`. Needs no API key: the
    /// token is the credential.
    Redeem {
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
    },
    /// Delete an API key.
    Delete {
        name: String,
        #[command(flatten)]
        etag: EtagArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum VerifyCmd {
    /// Verify an API key: from the argument, a `.APIKEY` file, or stdin.
    ApiKey {
        /// The key (`kw_ak_…`); read from stdin when neither it nor `--key-file` is given.
        key: Option<String>,
        /// Read the key from this `.APIKEY` file.
        #[arg(long, value_name = "FILE", conflicts_with = "key")]
        key_file: Option<std::path::PathBuf>,
        /// The API set it must hold.
        #[arg(long)]
        api_set: Option<String>,
        /// A method (`/pkg.Service/Method`) one of its API sets must contain.
        #[arg(long)]
        api_method: Option<String>,
    },
    /// Verify a Basic client secret.
    Basic {
        client_id: String,
        /// The client secret (prefer `--secret-stdin` or the environment variable).
        #[arg(long, env = "KEYWARD_CLIENT_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Read the client secret from stdin.
        #[arg(long, conflicts_with = "secret")]
        secret_stdin: bool,
        #[arg(long)]
        api_set: Option<String>,
        #[arg(long)]
        api_method: Option<String>,
    },
    /// Verify an HMAC-signed request as a gateway saw it.
    Hmac {
        /// The `Authorization` header value (`KEYWARD-HMAC-SHA256 …`).
        #[arg(long)]
        authorization: String,
        #[arg(long)]
        method: String,
        #[arg(long)]
        path: String,
        /// The raw query string, without `?`.
        #[arg(long, default_value = "")]
        query: String,
        /// The request body, hashed locally.
        #[arg(long, conflicts_with = "body_sha256")]
        body_file: Option<std::path::PathBuf>,
        /// The body's SHA-256, lowercase hex (default: the empty body's).
        #[arg(long)]
        body_sha256: Option<String>,
        #[arg(long)]
        api_set: Option<String>,
        #[arg(long)]
        api_method: Option<String>,
    },
}

/// `sign`: an HMAC Authorization header for a request.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[arg(long)]
    pub(crate) client_id: String,
    /// The client secret (prefer `--secret-stdin` or the environment variable).
    #[arg(long, env = "KEYWARD_CLIENT_SECRET", hide_env_values = true)]
    pub(crate) secret: Option<String>,
    #[arg(long, conflicts_with = "secret")]
    pub(crate) secret_stdin: bool,
    #[arg(long)]
    pub(crate) method: String,
    #[arg(long)]
    pub(crate) path: String,
    #[arg(long, default_value = "")]
    pub(crate) query: String,
    /// The exact body that will be sent (default: empty).
    #[arg(long)]
    pub(crate) body_file: Option<std::path::PathBuf>,
}

/// `30`, `30s`, `15m`, `1h`, `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 15m, 1h or 7d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    n.checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

fn main() -> ExitCode {
    let parsed = Cli::command().try_get_matches().and_then(|matches| {
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.global.api_key_flag =
            matches.value_source("api_key") == Some(clap::parser::ValueSource::CommandLine);
        Ok(cli)
    });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout and succeed; a usage error is exit code 1
            // (clap's own 2 would read as "unauthenticated").
            let _ = error.print();
            return ExitCode::from(u8::from(error.use_stderr()));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return CliError::Local(format!("cannot start: {error}")).report(),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => error.report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
