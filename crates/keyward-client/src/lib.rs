//! The Rust SDK for Keyward.
//!
//! A [`Client`] holds one HTTP/2 channel; every call carries the credential
//! given to the builder in the `authorization` metadata, marked sensitive so
//! that it never shows in `Debug` output. Build it with [`Client::builder`]:
//! an API key ([`ClientBuilder::api_key`]) or a Client ID and secret
//! ([`ClientBuilder::basic`]), timeouts, retries; an `https` URL uses TLS
//! (feature `tls`).
//!
//! The high-level methods ([`api`]) have one calling style: a read takes the
//! resource's name, everything else one request — a builder of [`requests`]
//! ([`NewAccount`], [`NewCredential`], [`SecretRenewal`]…, each create and renewal
//! carrying a generated request id so that retrying it is safe), a [`Target`] (a name
//! and optionally an etag) for state changes and deletes, one update builder per
//! resource in [`update`] (whose setters fill the field mask), and one [`Scope`]
//! question for the three verification calls. They answer [`ClientError`], which keeps
//! the code, `ErrorInfo` reason and field violations of every server error (see
//! [`error`]), retry UNAVAILABLE only ([`retry`]), and hand secrets back as
//! [`secrecy::SecretString`]. A list RPC takes one list builder ([`ListUsers`],
//! [`ListCredentials`]…: page size, page token, filters), or just the parent's name, and
//! comes as one [`Page`] at a time and as a stream over every page ([`ItemStream`]). The raw tonic stubs stay available
//! ([`Client::accounts`], [`Client::credentials`], [`Client::api_keys`]) for anything
//! the high-level API does not cover.
//!
//! [`hmac::HmacSigner`] signs requests for gateways that verify signatures;
//! [`ApiKeyFile`] saves a new API key to a `NAME.APIKEY` file and reads it
//! back ([`key_file`] documents the format).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyward_client::ClientError> {
//! use std::time::Duration;
//!
//! use futures_util::TryStreamExt as _;
//! use keyward_client::proto::credential::{Scheme, State};
//! use keyward_client::{
//!     Client, CredentialUpdate, ListCredentials, NewApiKey, NewCredential, Scope, SecretRenewal,
//! };
//! use tonic::Code;
//! use secrecy::ExposeSecret as _;
//!
//! let client = Client::builder("http://127.0.0.1:50051")
//!     .api_key("kw_ak_...")
//!     .timeout(Duration::from_secs(10))
//!     .retries(3)
//!     .connect()
//!     .await?;
//!
//! // An API client credential; its secret is shown once.
//! let created = client
//!     .create_credential(
//!         NewCredential::new("accounts/acme", "billing-export")
//!             .display_name("Billing export")
//!             .application("billing")
//!             .contact_email("ops@acme.example")
//!             .api_sets(["apiSets/billing"]),
//!     )
//!     .await?;
//! let client_id = &created.credential.client_id;
//! let secret = created.client_secret.expose_secret();
//! let decision = client
//!     .verify_client_secret(client_id, secret, Scope::any().api_set("apiSets/billing"))
//!     .await?;
//! assert!(decision.valid);
//!
//! // Rotate it, keeping the old secret valid for a day.
//! let renewed = client
//!     .renew_secret(
//!         SecretRenewal::new(&created.credential.name).grace(Duration::from_secs(86_400)),
//!     )
//!     .await?;
//!
//! // Rename it, unless someone changed it since the renewal.
//! let updated = client
//!     .update_credential(
//!         CredentialUpdate::new(&renewed.credential.name)
//!             .display_name("Billing export (nightly)")
//!             .etag(&renewed.credential.etag),
//!     )
//!     .await;
//! match updated {
//!     Ok(credential) => assert_eq!(credential.display_name, "Billing export (nightly)"),
//!     Err(e) if e.code() == Some(Code::Aborted) => eprintln!("changed meanwhile: read it again"),
//!     Err(other) => return Err(other),
//! }
//!
//! // Every active HMAC credential of the account, page after page.
//! let hmac: Vec<_> = client
//!     .list_credentials_stream(
//!         ListCredentials::new("accounts/acme")
//!             .state(State::Active)
//!             .scheme(Scheme::Hmac)
//!             .page_size(100),
//!     )
//!     .try_collect()
//!     .await?;
//! # let _ = hmac;
//!
//! // An API key for the caller, then what a gateway asks about it.
//! let key = client
//!     .create_api_key(NewApiKey::new("ci", ["apiSets/billing"]).ttl(Duration::from_secs(3600)))
//!     .await?;
//! let decision = client
//!     .verify_api_key(
//!         key.key.expose_secret(),
//!         Scope::any().api_method("/billing.v1.Invoices/List"),
//!     )
//!     .await?;
//! # let _ = decision;
//!
//! // A server error keeps its code, reason and field violations.
//! if let Err(e) = client.create_api_key(NewApiKey::new("", ["apiSets/billing"])).await {
//!     eprintln!("{e}"); // INVALID_ARGUMENT: …
//!     for violation in e.violations() {
//!         eprintln!("  {}: {}", violation.field, violation.description);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::time::Duration;

pub mod key_file;

pub use key_file::{ApiKeyFile, KeyFileError};

/// Finding Keyward keys in text, as a secret scanner does: every string in the key format
/// whose checksum holds, with where it is and its non-secret prefix.
pub mod scan {
    pub use keyward_core::key::{FoundKey, KeyKind, find_keys};
}

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub mod api;
pub mod audit;
pub mod error;
pub mod hmac;
pub mod requests;
pub mod retry;
pub mod update;

pub use api::{
    CreatedAccount, CreatedApiKey, CreatedCredential, CreatedEnrollmentToken, ItemStream, Page,
};
pub use error::{ClientError, FieldViolation, ServerError};
pub use requests::{
    HmacRequest, ListAccounts, ListApiKeys, ListApiSets, ListAuditEvents, ListCredentials,
    ListEnrollmentTokens, ListRoles, ListUsers, NewAccount, NewApiKey, NewApiSet, NewCredential,
    NewEnrollmentToken, NewRole, NewUser, Scope, SecretRenewal, Target,
};
pub use retry::RetryPolicy;
pub use update::{
    AccountUpdate, ApiKeyUpdate, ApiSetUpdate, CredentialUpdate, RoleUpdate, UserUpdate,
};

/// Types and stubs generated from `proto/keyward/v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod proto {
    tonic::include_proto!("keyward.v1");
}

use proto::account_service_client::AccountServiceClient;
use proto::api_key_service_client::ApiKeyServiceClient;
use proto::credential_service_client::CredentialServiceClient;

/// Adds the `authorization` metadata to every call, and `keyward-act-as` for a client
/// acting for a user ([`Client::acting_as`]).
#[derive(Clone, Debug, Default)]
pub struct AuthInterceptor {
    authorization: Option<AsciiMetadataValue>,
    act_as: Option<AsciiMetadataValue>,
}

impl Interceptor for AuthInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(user) = &self.act_as {
            request
                .metadata_mut()
                .insert(keyward_core::ACT_AS_METADATA, user.clone());
        }
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, AuthInterceptor>;

/// Builds a [`Client`]: server URL, credential, timeouts. `Debug` never shows the
/// credential.
pub struct ClientBuilder {
    url: String,
    authorization: Option<String>,
    tls: TlsOptions,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field(
                "credential",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("tls_ca", &self.tls.ca.is_some())
            .field("tls_identity", &self.tls.identity.is_some())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientBuilder {
    /// Authenticates every call as an API client with its Client ID and secret
    /// (`authorization: Basic …`).
    pub fn basic(mut self, client_id: impl AsRef<str>, secret: impl AsRef<str>) -> Self {
        use base64::Engine as _;
        let pair = format!("{}:{}", client_id.as_ref(), secret.as_ref());
        self.authorization = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ));
        self
    }

    /// Authenticates every call with an API key (`authorization: Bearer …`).
    pub fn api_key(mut self, key: impl AsRef<str>) -> Self {
        self.authorization = Some(format!("Bearer {}", key.as_ref()));
        self
    }

    /// For an `https` URL: trust the CA certificates in `pem` (PEM) for the server's
    /// certificate, instead of the system's root certificates (a private CA, or a
    /// self-signed server). Needs the `tls` feature.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca = Some(pem.into());
        self
    }

    /// For an `https` URL to a server that asks for mutual TLS: present the client
    /// certificate chain `cert_pem` with its private key `key_pem` (both PEM). Needs the
    /// `tls` feature.
    pub fn identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// A deadline for every call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many times the high-level methods retry a call that failed with
    /// UNAVAILABLE (default 2, so three attempts, 100 ms then 200 ms apart);
    /// 0 disables retrying. Other errors are never retried. The raw stubs
    /// ([`Client::credentials`]…) never retry.
    ///
    /// A create retried after the server acted but before its answer arrived
    /// returns the first result: every create and renewal that takes a
    /// `request_id` carries a generated one ([`requests`]).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retry.retries = retries;
        self
    }

    /// The whole retry policy, backoff included.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Connects to the server. An `https` URL connects with TLS, checked
    /// against the system's root certificates (or the CA of
    /// [`ClientBuilder::ca_certificate_pem`]), when the crate's `tls`
    /// feature is on, and is [`ClientError::TlsNotEnabled`] otherwise. TLS
    /// options with an `http` URL are [`ClientError::TlsOptionsWithoutHttps`]: a
    /// CA given for nothing is a mistake to report, not to ignore.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let mut endpoint =
            Endpoint::from_shared(self.url.clone()).map_err(|source| ClientError::InvalidUrl {
                url: self.url.clone(),
                source,
            })?;
        if endpoint.uri().scheme_str() == Some("https") {
            endpoint = tls(endpoint, &self.url, self.tls)?;
        } else if self.tls.ca.is_some() || self.tls.identity.is_some() {
            return Err(ClientError::TlsOptionsWithoutHttps { url: self.url });
        }
        endpoint = endpoint.connect_timeout(self.connect_timeout);
        if let Some(timeout) = self.timeout {
            endpoint = endpoint.timeout(timeout);
        }
        let channel = endpoint.connect().await.map_err(ClientError::Connect)?;
        let authorization = match self.authorization {
            Some(value) => {
                let mut value = AsciiMetadataValue::try_from(value)
                    .map_err(|_| ClientError::InvalidCredential)?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Client {
            channel,
            interceptor: AuthInterceptor {
                authorization,
                act_as: None,
            },
            retry: self.retry,
        })
    }
}

/// A connection to a Keyward server.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    interceptor: AuthInterceptor,
    retry: RetryPolicy,
}

/// The TLS options of a [`ClientBuilder`].
#[derive(Clone, Default)]
struct TlsOptions {
    /// CA certificates to trust instead of the system's, PEM.
    ca: Option<Vec<u8>>,
    /// A client certificate chain and its key, PEM, for mutual TLS.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

#[cfg(feature = "tls")]
fn tls(endpoint: Endpoint, url: &str, options: TlsOptions) -> Result<Endpoint, ClientError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let mut config = match options.ca {
        Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)),
        None => ClientTlsConfig::new().with_native_roots(),
    };
    if let Some((cert, key)) = options.identity {
        config = config.identity(Identity::from_pem(cert, key));
    }
    endpoint
        .tls_config(config)
        .map_err(|source| ClientError::InvalidUrl {
            url: url.to_owned(),
            source,
        })
}

#[cfg(not(feature = "tls"))]
fn tls(_endpoint: Endpoint, url: &str, _options: TlsOptions) -> Result<Endpoint, ClientError> {
    Err(ClientError::TlsNotEnabled {
        url: url.to_owned(),
    })
}

impl Client {
    /// Starts building a client for the server at `url`, for example
    /// `http://127.0.0.1:50051`.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            authorization: None,
            tls: TlsOptions::default(),
            timeout: None,
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// The same connection and credential, every call acting for the signed-in user `user`
    /// (`accounts/{account}/users/{user}`), as a front end does: the calls run as that user,
    /// never beyond this client's own API sets, and need a credential holding
    /// `keyward.delegation` (see [`keyward_core::ACT_AS_METADATA`]). Cheap: share one client
    /// and call this per request.
    pub fn acting_as(&self, user: &str) -> Result<Client, ClientError> {
        let value = AsciiMetadataValue::try_from(user).map_err(|_| ClientError::InvalidActAs {
            user: user.to_owned(),
        })?;
        let mut client = self.clone();
        client.interceptor.act_as = Some(value);
        Ok(client)
    }

    /// The same connection, every call authenticated with the bearer token `token` instead
    /// of this client's credential.
    pub(crate) fn with_bearer(&self, token: &str) -> Result<Client, ClientError> {
        let mut value = AsciiMetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| ClientError::InvalidCredential)?;
        value.set_sensitive(true);
        let mut client = self.clone();
        client.interceptor = AuthInterceptor {
            authorization: Some(value),
            act_as: None,
        };
        Ok(client)
    }

    /// The `keyward.v1.AccountService` stub.
    pub fn accounts(&self) -> AccountServiceClient<Authed> {
        AccountServiceClient::with_interceptor(self.channel.clone(), self.interceptor.clone())
    }

    /// The `keyward.v1.CredentialService` stub.
    pub fn credentials(&self) -> CredentialServiceClient<Authed> {
        CredentialServiceClient::with_interceptor(self.channel.clone(), self.interceptor.clone())
    }

    /// The `keyward.v1.ApiKeyService` stub.
    pub fn api_keys(&self) -> ApiKeyServiceClient<Authed> {
        ApiKeyServiceClient::with_interceptor(self.channel.clone(), self.interceptor.clone())
    }

    /// The underlying channel, for other services on the same server (health,
    /// reflection).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::Client;

    #[cfg(not(feature = "tls"))]
    #[tokio::test]
    async fn an_https_url_without_the_tls_feature_is_a_clear_error() {
        let err = Client::builder("https://keyward.example:443")
            .connect()
            .await
            .expect_err("no TLS in this build");
        assert!(
            matches!(&err, super::ClientError::TlsNotEnabled { url } if url == "https://keyward.example:443"),
            "{err:?}"
        );
        assert!(err.to_string().contains("`tls` feature"), "{err}");
    }

    #[test]
    fn the_builder_never_shows_the_credential_and_keeps_the_retry_policy() {
        let builder = Client::builder("http://127.0.0.1:1")
            .api_key("kw_ak_secret")
            .retries(0);
        let debug = format!("{builder:?}");
        assert!(!debug.contains("kw_ak_secret"), "{debug}");
        assert!(debug.contains("retries: 0"), "{debug}");
    }
}
