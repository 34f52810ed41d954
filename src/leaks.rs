//! Leak reports: what Keyward makes of strings a secret scanner found where they should not
//! be, and what it does about the real ones (`ReportLeakedSecrets`).
//!
//! For each reported string, in order:
//!
//! 1. **Format.** A string that [`Key::parse`] refuses (not in the key format, or its
//!    checksum fails) is [`Outcome::NotKeyward`], decided without any database work.
//! 2. **Proof.** [`Authenticator::prove_leaked`](crate::auth::Authenticator::prove_leaked):
//!    the verification path (index, remembered digest or argon2 within the credential's
//!    budget), so a report cannot be used to guess. No such key and a wrong secret are the
//!    same [`Outcome::Unknown`]; a spent budget is [`Outcome::RetryLater`].
//! 3. **Action.** A real secret is made useless unless it already is: an API key or an
//!    enrollment token is revoked; a client credential is disabled and marked compromised
//!    (it cannot be enabled until its owner renews the secret). API keys and credentials are
//!    recorded in the change log, so every replica refuses them at once; enrollment tokens
//!    are read from the database on every use. [`Outcome::Revoked`] when this report did
//!    it, [`Outcome::AlreadyRevoked`] when nothing was left to do.
//! 4. **Audit.** Each confirmed leak (revoked now or before) is an audit event in the
//!    owning account, naming the reporter and where the string was found.

use std::time::Duration;

use keyward_core::key::Key;

use crate::audit::record_success;
use crate::auth::principal::{credential_name, enrollment_token_name};
use crate::auth::{Caller, LeakProof, api_key_name};
use crate::error::{FieldViolation, ServiceError};
use crate::state::AppState;

/// The most strings one report may carry.
pub const MAX_SECRETS: usize = 100;
/// The longest reported string, in bytes (every Keyward key is shorter).
pub const MAX_SECRET_BYTES: usize = 256;
/// The longest location, in characters.
pub const MAX_LOCATION_CHARS: usize = 2048;

/// One string a scanner found, and where.
#[derive(Debug)]
pub struct Reported {
    /// The string as found. Never logged, never stored.
    pub secret: secrecy::SecretString,
    /// Where it was found: a URL or free text.
    pub location: String,
}

/// What Keyward made of a reported string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not in the key format, or its checksum fails.
    NotKeyward,
    /// No secret Keyward holds.
    Unknown,
    /// A real secret, made useless by this report.
    Revoked,
    /// A real secret that was useless already.
    AlreadyRevoked,
    /// Not checked now; report it again after this long.
    RetryLater(Duration),
}

/// The verdict on one reported string.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What it was.
    pub outcome: Outcome,
    /// `kw_{kind}_{id}` for a string in the key format.
    pub display_prefix: Option<String>,
    /// The resource name of the key, credential or token a real secret belongs to.
    pub name: Option<String>,
    /// Whether the real secret verified (or could have been redeemed) just before.
    pub was_valid: bool,
}

/// Checks a report's size: 1 to [`MAX_SECRETS`] strings, each non-empty and at most
/// [`MAX_SECRET_BYTES`], each with a location of 1 to [`MAX_LOCATION_CHARS`] characters.
pub fn check(reported: &[Reported]) -> Result<(), ServiceError> {
    use secrecy::ExposeSecret as _;
    let mut violations = Vec::new();
    if reported.is_empty() || reported.len() > MAX_SECRETS {
        violations.push(FieldViolation {
            field: "secrets".into(),
            description: format!(
                "must hold 1 to {MAX_SECRETS} strings; it holds {}",
                reported.len()
            ),
        });
    }
    for (at, item) in reported.iter().enumerate() {
        let secret = item.secret.expose_secret();
        if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
            violations.push(FieldViolation {
                field: format!("secrets[{at}].secret"),
                description: format!("must be 1 to {MAX_SECRET_BYTES} bytes"),
            });
        }
        let location = item.location.chars().count();
        if location == 0 || location > MAX_LOCATION_CHARS {
            violations.push(FieldViolation {
                field: format!("secrets[{at}].location"),
                description: format!(
                    "must say where the string was found, in 1 to {MAX_LOCATION_CHARS} characters"
                ),
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(violations))
    }
}

/// Judges and acts on each reported string, in order (see the module documentation).
pub async fn report(
    state: &AppState,
    caller: &Caller,
    reported: &[Reported],
) -> Result<Vec<Verdict>, ServiceError> {
    check(reported)?;
    let mut verdicts = Vec::with_capacity(reported.len());
    for item in reported {
        verdicts.push(judge_one(state, caller, item).await?);
    }
    Ok(verdicts)
}

async fn judge_one(
    state: &AppState,
    caller: &Caller,
    item: &Reported,
) -> Result<Verdict, ServiceError> {
    use secrecy::ExposeSecret as _;
    let Ok(key) = Key::parse(item.secret.expose_secret()) else {
        return Ok(Verdict {
            outcome: Outcome::NotKeyward,
            display_prefix: None,
            name: None,
            was_valid: false,
        });
    };
    let display_prefix = Some(key.display_prefix());
    let proof = match state
        .authenticator
        .prove_leaked(&key, &state.master_keys)
        .await
    {
        Ok(proof) => proof,
        // The argon2 pool is saturated: this string is not checked now.
        Err(ServiceError::ResourceExhausted { retry_after, .. }) => {
            LeakProof::RetryLater(retry_after.unwrap_or(Duration::from_secs(1)))
        }
        Err(err) => return Err(err),
    };
    let now = state.clock.now();
    let (outcome, account_id, name, was_valid, what) = match proof {
        LeakProof::Unknown | LeakProof::RetryLater(_) => {
            let outcome = match proof {
                LeakProof::RetryLater(after) => Outcome::RetryLater(after),
                _ => Outcome::Unknown,
            };
            return Ok(Verdict {
                outcome,
                display_prefix,
                name: None,
                was_valid: false,
            });
        }
        LeakProof::ApiKey { key: facts, valid } => {
            let revoked = state.store.revoke_api_key(&facts.id, now).await?;
            // Revoked by this report exactly when its revoke time is this report's.
            let now_here = revoked
                .revoke_time
                .is_some_and(|at| at.timestamp_micros() == now.timestamp_micros());
            (
                if now_here {
                    Outcome::Revoked
                } else {
                    Outcome::AlreadyRevoked
                },
                facts.account_id.to_string(),
                api_key_name(&facts.account_id, &facts.user_id, &facts.id),
                valid,
                "API key",
            )
        }
        LeakProof::ClientSecret { credential, valid } => {
            let (_, marked) = state
                .store
                .mark_credential_compromised(&credential.account_id, &credential.id, now)
                .await?;
            (
                if marked {
                    Outcome::Revoked
                } else {
                    Outcome::AlreadyRevoked
                },
                credential.account_id.to_string(),
                credential_name(&credential.account_id, &credential.id),
                valid,
                "client secret",
            )
        }
        LeakProof::EnrollmentToken { token, valid } => {
            let outcome = if token.redeem_time.is_some() || token.revoke_time.is_some() {
                Outcome::AlreadyRevoked
            } else {
                let after = state.store.revoke_enrollment_token(&token.id, now).await?;
                if after.revoke_time.is_some() && after.redeem_time.is_none() {
                    Outcome::Revoked
                } else {
                    Outcome::AlreadyRevoked
                }
            };
            (
                outcome,
                token.account_id.clone(),
                enrollment_token_name(&token.account_id, &token.user_id, &token.id),
                valid,
                "enrollment token",
            )
        }
    };
    let done = match outcome {
        Outcome::Revoked if what == "client secret" => {
            "its credential disabled and marked compromised"
        }
        Outcome::Revoked => "revoked",
        _ => "already unusable",
    };
    record_success(
        &state.store,
        caller,
        &account_id,
        &name,
        format!(
            "leaked {what} {} reported, found at {}: {done}",
            key.display_prefix(),
            item.location
        ),
    )
    .await;
    Ok(Verdict {
        outcome,
        display_prefix,
        name: Some(name),
        was_valid,
    })
}
