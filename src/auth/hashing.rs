//! argon2id hashing of secrets, off the async runtime.
//!
//! One argon2id verification at the OWASP minimum parameters (argon2's
//! defaults: 19 MiB, 2 passes, 1 lane) costs about 18 ms of a core, so it runs
//! on tokio's blocking pool behind a semaphore sized to the machine: a flood of
//! verifications queues instead of starving the runtime or the memory.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use keyward_core::key::Key;
use secrecy::{ExposeSecret, SecretBox};
use tokio::sync::Semaphore;

use crate::error::ServiceError;

/// The 32 secret bytes of a key, wiped from memory when dropped.
pub type SecretBytes = SecretBox<[u8; 32]>;

/// Hashes and verifies secrets as argon2id PHC strings.
#[derive(Clone)]
pub struct SecretHasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl SecretHasher {
    /// A hasher running at most `parallelism` argon2 computations at once.
    pub async fn new(parallelism: usize) -> Result<Self, ServiceError> {
        let permits = Arc::new(Semaphore::new(parallelism.max(1)));
        let mut hasher = Self {
            permits,
            dummy_hash: Arc::from(""),
        };
        let dummy = keyward_core::key::random_bytes::<32>().map_err(internal)?;
        hasher.dummy_hash = Arc::from(hasher.hash(SecretBox::new(Box::new(dummy))).await?);
        Ok(hasher)
    }

    /// The argon2id PHC string of a key's secret.
    pub async fn hash_key(&self, key: &Key) -> Result<String, ServiceError> {
        self.hash(secret_of(key)).await
    }

    /// Whether a key's secret matches the PHC string `phc`.
    pub async fn verify_key(&self, key: &Key, phc: String) -> Result<bool, ServiceError> {
        self.verify(secret_of(key), phc).await
    }

    /// Spends one verification's time on a key whose record does not exist.
    pub async fn verify_dummy_key(&self, key: &Key) -> Result<(), ServiceError> {
        self.verify_dummy(secret_of(key)).await
    }

    /// The argon2id PHC string of `secret`, with a fresh random salt.
    pub async fn hash(&self, secret: SecretBytes) -> Result<String, ServiceError> {
        self.run(move || {
            Argon2::default()
                .hash_password(secret.expose_secret())
                .map(|hash| hash.to_string())
                .map_err(internal)
        })
        .await
    }

    /// Whether `secret` matches the PHC string `phc` (constant-time inside
    /// argon2). A PHC string that does not parse is an internal error.
    pub async fn verify(&self, secret: SecretBytes, phc: String) -> Result<bool, ServiceError> {
        self.run(move || {
            let parsed = PasswordHash::new(&phc).map_err(internal)?;
            Ok(Argon2::default()
                .verify_password(secret.expose_secret(), &parsed)
                .is_ok())
        })
        .await
    }

    /// Spends the time of one verification against a hash nothing matches,
    /// so an unknown ID costs what a wrong secret costs.
    pub async fn verify_dummy(&self, secret: SecretBytes) -> Result<(), ServiceError> {
        let phc = self.dummy_hash.to_string();
        self.verify(secret, phc).await.map(drop)
    }

    async fn run<T, F>(&self, work: F) -> Result<T, ServiceError>
    where
        F: FnOnce() -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(internal)?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(internal)?
    }
}

/// A copy of a key's secret bytes for the blocking pool (wiped when dropped).
fn secret_of(key: &Key) -> SecretBytes {
    SecretBox::new(Box::new(*key.expose_secret()))
}

fn internal(err: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("argon2: {err}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> SecretBytes {
        SecretBox::new(Box::new([byte; 32]))
    }

    #[tokio::test]
    async fn a_hash_verifies_its_secret_and_no_other() {
        let hasher = SecretHasher::new(2).await.unwrap();
        let phc = hasher.hash(secret(7)).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(hasher.verify(secret(7), phc.clone()).await.unwrap());
        assert!(!hasher.verify(secret(8), phc).await.unwrap());
        hasher.verify_dummy(secret(7)).await.unwrap();
    }

    #[tokio::test]
    async fn a_corrupt_hash_is_an_error_not_a_match() {
        let hasher = SecretHasher::new(1).await.unwrap();
        assert!(hasher.verify(secret(1), "not-a-phc".into()).await.is_err());
    }
}
