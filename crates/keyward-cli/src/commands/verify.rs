//! `keyward-cli verify`: ask the server whether an API key, a Basic client secret or an
//! HMAC signature is valid, with the same `--api-set`/`--api-method` question for each.

use clap::{Args, Subcommand};
use keyward_client::proto::Decision;
use keyward_client::{Client, HmacRequest, Scope};
use secrecy::ExposeSecret as _;

use super::{Result, key_from_file, named, read_body, read_stdin_line, secret_input};
use crate::Global;
use crate::exit::REFUSED;
use crate::output::{self as out, short};

#[derive(Debug, Subcommand)]
pub(crate) enum VerifyCmd {
    /// Verify an API key: from the argument, a `.APIKEY` file, or stdin.
    ApiKey(ApiKeyArgs),
    /// Verify a Basic client secret.
    Basic(BasicArgs),
    /// Verify an HMAC-signed request as a gateway saw it.
    Hmac(HmacArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ApiKeyArgs {
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
}

#[derive(Debug, Args)]
pub(crate) struct BasicArgs {
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
}

#[derive(Debug, Args)]
pub(crate) struct HmacArgs {
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
}

/// The `--api-set` and `--api-method` question.
fn scope(api_set: Option<String>, api_method: Option<String>) -> Scope {
    let mut scope = Scope::any();
    if let Some(api_set) = api_set {
        scope = scope.api_set(named("apiSets", &api_set));
    }
    if let Some(api_method) = api_method {
        scope = scope.api_method(api_method);
    }
    scope
}

pub(crate) async fn run(g: &Global, client: &Client, cmd: VerifyCmd) -> Result<u8> {
    let decision = match cmd {
        VerifyCmd::ApiKey(args) => {
            let key = match (args.key, &args.key_file) {
                (Some(key), _) => key,
                (None, Some(path)) => key_from_file(path)?.expose_secret().to_owned(),
                (None, None) => read_stdin_line("API key")?,
            };
            let scope = scope(args.api_set, args.api_method);
            client.verify_api_key(&key, scope).await?
        }
        VerifyCmd::Basic(args) => {
            let secret = secret_input(args.secret, args.secret_stdin)?;
            let scope = scope(args.api_set, args.api_method);
            client
                .verify_client_secret(&args.client_id, &secret, scope)
                .await?
        }
        VerifyCmd::Hmac(args) => verify_hmac(client, args).await?,
    };
    decided(g, &decision)
}

async fn verify_hmac(client: &Client, args: HmacArgs) -> Result<Decision> {
    let body_sha256 = match args.body_sha256 {
        Some(digest) => digest,
        None => keyward_client::hmac::signing::body_sha256(&read_body(args.body_file.as_deref())?),
    };
    let request = HmacRequest {
        authorization: &args.authorization,
        http_method: &args.method,
        path: &args.path,
        query: &args.query,
        body_sha256: &body_sha256,
    };
    let scope = scope(args.api_set, args.api_method);
    Ok(client.verify_hmac_signature(request, scope).await?)
}

/// Prints the decision; exit code 0 when valid, [`REFUSED`] with the reason otherwise.
fn decided(g: &Global, decision: &Decision) -> Result<u8> {
    out::show(g.json, decision);
    if decision.valid {
        Ok(0)
    } else {
        eprintln!(
            "refused: {}",
            short(out::reason_name(decision.reason), "REASON_")
        );
        Ok(REFUSED)
    }
}
