//! The Rust SDK for Keyward.
//!
//! A [`Client`] holds one HTTP/2 channel and a stub per Keyward service; every
//! call carries the credential given to the builder in the `authorization`
//! metadata, marked sensitive so that it never shows in `Debug` output.
//! [`ApiKeyFile`] saves a new API key to a `NAME.APIKEY` file and reads it
//! back ([`key_file`] documents the format).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyward_client::ClientError> {
//! use keyward_client::{Client, proto::ListApiSetsRequest};
//!
//! let client = Client::builder("http://127.0.0.1:50051")
//!     .api_key("kw_...")
//!     .connect()
//!     .await?;
//! let sets = client
//!     .api_keys()
//!     .list_api_sets(ListApiSetsRequest::default())
//!     .await;
//! # let _ = sets;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::time::Duration;

pub mod key_file;

pub use key_file::{ApiKeyFile, KeyFileError};

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub mod hmac;

/// Types and stubs generated from `proto/keyward/v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod proto {
    tonic::include_proto!("keyward.v1");
}

use proto::account_service_client::AccountServiceClient;
use proto::api_key_service_client::ApiKeyServiceClient;
use proto::credential_service_client::CredentialServiceClient;

/// What can go wrong building a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL does not parse.
    #[error("invalid server url `{url}`")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: tonic::transport::Error,
    },
    /// The credential contains characters that cannot travel in metadata.
    #[error("the credential contains characters that are not allowed in a header")]
    InvalidCredential,
    /// The server cannot be reached.
    #[error("cannot connect to the Keyward server")]
    Connect(#[source] tonic::transport::Error),
}

/// Adds the `authorization` metadata to every call.
#[derive(Clone, Debug, Default)]
pub struct AuthInterceptor {
    authorization: Option<AsciiMetadataValue>,
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
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, AuthInterceptor>;

/// Builds a [`Client`]: server URL, credential, timeouts. `Debug` never shows the
/// credential.
pub struct ClientBuilder {
    url: String,
    authorization: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field(
                "credential",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
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

    /// Connects to the server.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let mut endpoint =
            Endpoint::from_shared(self.url.clone()).map_err(|source| ClientError::InvalidUrl {
                url: self.url.clone(),
                source,
            })?;
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
            interceptor: AuthInterceptor { authorization },
        })
    }
}

/// A connection to a Keyward server.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    interceptor: AuthInterceptor,
}

impl Client {
    /// Starts building a client for the server at `url`, for example
    /// `http://127.0.0.1:50051`.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            authorization: None,
            timeout: None,
            connect_timeout: Duration::from_secs(10),
        }
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
