//! First start: a fresh installation creates the operator account, its
//! administrator and one operator API key holding every built-in API set.
//! The key is handed out once (stderr, or a file created with mode 0600) and
//! never again; nothing is open by default.

use std::io::Write;
use std::path::Path;

use keyward_store::{NewAccount, NewUser, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::SecretHasher;
use crate::error::ServiceError;
use crate::identity::new_account_with_administrator;

/// ID of the operator account.
pub const OPERATOR_ACCOUNT_ID: &str = "operator";
/// ID of the operator account's first administrator.
pub const OPERATOR_USER_ID: &str = "admin";

/// Creates the operator account on an empty database and returns its key;
/// None when the installation was bootstrapped before (by this process or
/// another replica).
pub async fn bootstrap(
    store: &Store,
    hasher: &SecretHasher,
    operator_email: &str,
    key_file: Option<&Path>,
) -> Result<Option<SecretString>, ServiceError> {
    if store.operator_account().await?.is_some() {
        return Ok(None);
    }
    // Checked before anything is created, so a key is never minted with
    // nowhere to go.
    if let Some(path) = key_file.filter(|path| path.exists()) {
        return Err(ServiceError::FailedPrecondition {
            reason: "BOOTSTRAP_KEY_FILE_EXISTS",
            message: format!(
                "the bootstrap key file {} exists already; refusing to overwrite it",
                path.display()
            ),
        });
    }
    let prepared = new_account_with_administrator(
        hasher,
        NewAccount {
            id: OPERATOR_ACCOUNT_ID.to_owned(),
            display_name: "Operator".to_owned(),
            client_id_prefix: format!("{OPERATOR_ACCOUNT_ID}-"),
            verified: true,
            operator: true,
            entitled_api_set_ids: Vec::new(),
        },
        NewUser {
            account_id: OPERATOR_ACCOUNT_ID.to_owned(),
            id: OPERATOR_USER_ID.to_owned(),
            display_name: "Operator administrator".to_owned(),
            email: operator_email.to_owned(),
            role_ids: Vec::new(),
        },
        "keyward/bootstrap",
    )
    .await?;
    match store.create_account_with(prepared.seed).await {
        Ok(_) => {
            tracing::info!(
                account = OPERATOR_ACCOUNT_ID,
                "bootstrapped the operator account"
            );
            Ok(Some(prepared.key))
        }
        // Another replica bootstrapped at the same moment: its key stands.
        Err(StoreError::AlreadyExists { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Hands the bootstrap key over once: into `file` (created, mode 0600,
/// never overwritten) or onto stderr. Never through the logs.
pub fn hand_over(key: &SecretString, file: Option<&Path>) -> std::io::Result<()> {
    match file {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut out = options.open(path)?;
            writeln!(out, "{}", key.expose_secret())?;
            tracing::warn!(path = %path.display(), "wrote the operator API key; it will not be shown again");
            Ok(())
        }
        None => {
            let mut err = std::io::stderr().lock();
            writeln!(
                err,
                "\nKeyward created the operator account. Its API key is shown ONCE and never again:\n\n    {}\n\nStore it in a secret manager now; use it as `authorization: Bearer <key>`.\n",
                key.expose_secret()
            )
        }
    }
}
