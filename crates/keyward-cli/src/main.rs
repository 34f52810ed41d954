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

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

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
    Accounts(commands::accounts::AccountsCmd),
    /// Users of an account: create, get, list, update, disable, enable, delete, and
    /// enrollment tokens for a user's first API key (enroll, enrollments,
    /// revoke-enrollment).
    #[command(subcommand)]
    Users(commands::users::UsersCmd),
    /// Roles of an account: create, get, list, update, delete.
    #[command(subcommand)]
    Roles(commands::roles::RolesCmd),
    /// API sets, the groups of methods a credential may be given: list, get, create, update,
    /// delete.
    #[command(subcommand, name = "api-sets")]
    ApiSets(commands::api_sets::ApiSetsCmd),
    /// API client credentials (Basic or HMAC client secrets): create, list, show, update,
    /// renew, enable, disable, delete.
    #[command(subcommand)]
    Credentials(commands::credentials::CredentialsCmd),
    /// API keys of users: create, list, get, update, revoke, delete, and redeem an
    /// enrollment token for a first key.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(commands::api_keys::ApiKeysCmd),
    /// The audit log of an account: list, export with its hash chain, verify an export.
    #[command(subcommand)]
    Audit(commands::audit::AuditCmd),
    /// Ask the server whether a key, a Basic secret or an HMAC signature is valid.
    #[command(subcommand)]
    Verify(commands::verify::VerifyCmd),
    /// Sign a request with an HMAC client secret and print its Authorization header
    /// (local, no server call).
    Sign(commands::sign::SignArgs),
    /// Look for Keyward keys in files (local, no server call): every string in the key
    /// format whose checksum holds, printed as where it is and its non-secret prefix.
    /// Directories are walked respecting .gitignore, .ignore and git's exclude files;
    /// hidden files such as .env are scanned, .git is not. Exit code 10 when any key is
    /// found, 0 when none is.
    Scan(scan::ScanArgs),
}

/// `30`, `30s`, `15m`, `1h`, `7d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
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
