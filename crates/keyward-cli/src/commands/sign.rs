//! `keyward-cli sign`: an HMAC Authorization header for a request, made locally with
//! `keyward_client::hmac` (no server call).

use clap::Args;
use serde_json::json;

use super::{Result, read_body, secret_input};
use crate::Global;
use crate::exit::CliError;
use crate::output as out;

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

pub(crate) fn run(g: &Global, args: SignArgs) -> Result<u8> {
    let secret = secret_input(args.secret, args.secret_stdin)?;
    let signer = keyward_client::hmac::HmacSigner::new(args.client_id, &secret)
        .map_err(|e| CliError::Local(format!("cannot sign: {e}")))?;
    let body = read_body(args.body_file.as_deref())?;
    let signed = signer
        .sign(&args.method, &args.path, &args.query, &body)
        .map_err(|e| CliError::Local(format!("cannot sign: {e}")))?;
    if g.json {
        out::json(&json!({
            "authorization": signed.authorization,
            "bodySha256": signed.body_sha256,
        }));
    } else {
        println!("Authorization: {}", signed.authorization);
        println!("X-Body-SHA256: {}", signed.body_sha256);
    }
    Ok(0)
}
