//! Signing HTTP requests with a client secret (`KEYWARD-HMAC-SHA256`), for API clients of
//! gateways that check signatures with `VerifyHmacSignature`.
//!
//! The scheme is specified in [`keyward_core::signing`]; this module is a thin,
//! convenient wrapper over the very code the server verifies with, so the two cannot
//! drift.
//!
//! ```
//! use keyward_client::hmac::HmacSigner;
//! # let secret = keyward_core::key::Key::generate(keyward_core::key::KeyKind::ClientSecret).unwrap();
//! # let secret = secrecy::ExposeSecret::expose_secret(&secret.to_token()).to_owned();
//!
//! let signer = HmacSigner::new("acme-billing-export", &secret)?;
//! let signed = signer.sign("POST", "/v1/invoices", "", br#"{"amount":42}"#)?;
//! // Send `signed.authorization` as the request's `Authorization` header.
//! assert!(signed.authorization.starts_with("KEYWARD-HMAC-SHA256 Credential=acme-billing-export, "));
//! # Ok::<(), keyward_client::hmac::HmacError>(())
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use keyward_core::key::{Key, KeyKind};
pub use keyward_core::signing::{self, SignedRequest, SigningError};

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum HmacError {
    /// The secret is not a well-formed client secret (`kw_cs_…`).
    #[error("not a client secret: {0}")]
    Secret(#[source] keyward_core::key::KeyError),
    /// A part of the request is outside the scheme's rules.
    #[error("cannot sign the request: {0}")]
    Signing(#[from] SigningError),
    /// No randomness for the nonce, or a clock before 1970.
    #[error("cannot make a nonce or read the clock")]
    Environment,
}

/// A signed request's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The SHA-256 of the body as lowercase hex (what a gateway passes on as `body_sha256`).
    pub body_sha256: String,
}

/// Signs requests as one API client. `Debug` never shows the secret.
pub struct HmacSigner {
    client_id: String,
    secret: Key,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacSigner")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl HmacSigner {
    /// A signer for `client_id` with its client secret (the `kw_cs_…` token).
    pub fn new(client_id: impl Into<String>, secret: &str) -> Result<Self, HmacError> {
        let secret = Key::parse_kind(secret, KeyKind::ClientSecret).map_err(HmacError::Secret)?;
        Ok(Self {
            client_id: client_id.into(),
            secret,
        })
    }

    /// Signs a request now, with a fresh nonce. `query` is the raw query string without
    /// `?`; `body` the exact bytes sent.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<SignedHeaders, HmacError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| HmacError::Environment)?;
        let timestamp = i64::try_from(now.as_secs()).map_err(|_| HmacError::Environment)?;
        let nonce = signing::new_nonce().map_err(|_| HmacError::Environment)?;
        self.sign_with(timestamp, &nonce, method, path, query, body)
    }

    /// Signs a request with an explicit timestamp (Unix seconds) and nonce: for tests and
    /// for replaying published vectors.
    pub fn sign_with(
        &self,
        timestamp: i64,
        nonce: &str,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<SignedHeaders, HmacError> {
        let body_sha256 = signing::body_sha256(body);
        let request = SignedRequest {
            method,
            path,
            query,
            body_sha256: &body_sha256,
        };
        let header = signing::sign(&self.secret, &self.client_id, timestamp, nonce, &request)?;
        Ok(SignedHeaders {
            authorization: header.to_header_value(),
            body_sha256,
        })
    }
}
