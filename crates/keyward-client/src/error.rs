//! [`ClientError`]: what a call through the SDK can fail with.
//!
//! The server answers every failure with a `google.rpc.Status` carrying one
//! `ErrorInfo` (domain `keyward`, reason in UPPER_SNAKE) and, for
//! INVALID_ARGUMENT, a `BadRequest` naming each wrong field. `From<Status>`
//! decodes those details once into [`ClientError::Server`]: every error that came from
//! the server keeps its code, reason, metadata and field violations, and the status
//! itself ([`ClientError::code`], [`ClientError::reason`], [`ClientError::violations`],
//! [`ClientError::status`]); the other variants are local failures.
//!
//! ```
//! use keyward_client::ClientError;
//! use tonic_types::{ErrorDetails, StatusExt};
//!
//! let mut details = ErrorDetails::with_error_info("INVALID_ARGUMENT", "keyward", []);
//! details.add_bad_request_violation("credential.contact_email", "not an email address");
//! let status = tonic::Status::with_error_details(
//!     tonic::Code::InvalidArgument,
//!     "invalid argument: credential.contact_email: not an email address",
//!     details,
//! );
//! let error = ClientError::from(status);
//! assert_eq!(error.code(), Some(tonic::Code::InvalidArgument));
//! assert_eq!(error.reason(), Some("INVALID_ARGUMENT"));
//! assert_eq!(error.violations()[0].field, "credential.contact_email");
//! ```

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A field of a request that the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, for example `credential.contact_email`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// What can go wrong building a client or calling the server.
///
/// [`ClientError::Server`] is the server's answer, whole; every other variant is a local
/// failure (a bad URL, no connection, a malformed answer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// The URL is `https` but this build has no TLS (enable the `tls` feature).
    #[error(
        "`{url}` needs TLS, which this build of keyward-client lacks (enable its `tls` feature)"
    )]
    TlsNotEnabled {
        /// The URL given.
        url: String,
    },
    /// A CA certificate or client identity was given for a URL that is not `https`.
    #[error(
        "a TLS CA certificate or client certificate was given, but `{url}` is not an https URL"
    )]
    TlsOptionsWithoutHttps {
        /// The URL given.
        url: String,
    },
    /// The credential contains characters that cannot travel in metadata.
    #[error("the credential contains characters that are not allowed in a header")]
    InvalidCredential,
    /// The user to act for contains characters that cannot travel in metadata.
    #[error("cannot act as `{user}`: not allowed in a header")]
    InvalidActAs {
        /// The user name given.
        user: String,
    },
    /// The server cannot be reached.
    #[error("cannot connect to the Keyward server")]
    Connect(#[source] tonic::transport::Error),
    /// The server answered with an error status: its code, message, `ErrorInfo` and
    /// `BadRequest` field violations, all kept (see [`ServerError`] and the accessors on
    /// `ClientError`).
    #[error(transparent)]
    Server(Box<ServerError>),
    /// The server answered successfully but left out a field it always sets.
    #[error("the server's response lacks `{0}`")]
    MissingField(&'static str),
}

/// An error status the server answered with, decoded once: the code, the message, the
/// `ErrorInfo` reason and metadata, the `BadRequest` field violations and the `RetryInfo`
/// delay, with the [`Status`] itself for anything else.
#[derive(Debug, Clone)]
pub struct ServerError {
    status: Status,
    reason: String,
    metadata: HashMap<String, String>,
    violations: Vec<FieldViolation>,
    retry_after: Option<Duration>,
}

impl ServerError {
    /// The gRPC code.
    pub fn code(&self) -> Code {
        self.status.code()
    }

    /// The server's message.
    pub fn message(&self) -> &str {
        self.status.message()
    }

    /// The `ErrorInfo` reason in UPPER_SNAKE (`API_SET_NOT_HELD`, `LAST_ADMINISTRATOR`…);
    /// the code's name ([`code_name`]) when the status carries no `ErrorInfo`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The `ErrorInfo` metadata (empty without one).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// The fields the server refused, from the `BadRequest` detail (INVALID_ARGUMENT).
    pub fn violations(&self) -> &[FieldViolation] {
        &self.violations
    }

    /// From the `RetryInfo` detail: when trying again makes sense (RESOURCE_EXHAUSTED).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The status as it arrived, details included.
    pub fn status(&self) -> &Status {
        &self.status
    }
}

impl std::fmt::Display for ServerError {
    /// `CODE [REASON]: message`, the reason only where it says more than the code.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = code_name(self.code());
        f.write_str(code)?;
        if self.reason != code {
            write!(f, " [{}]", self.reason)?;
        }
        write!(f, ": {}", self.message())
    }
}

impl std::error::Error for ServerError {}

impl ClientError {
    /// What the server answered, for an error that came from it; `None` for local errors.
    pub fn server(&self) -> Option<&ServerError> {
        match self {
            Self::Server(server) => Some(server),
            _ => None,
        }
    }

    /// The gRPC code of a server answer; `None` for local errors.
    pub fn code(&self) -> Option<Code> {
        self.server().map(ServerError::code)
    }

    /// The `ErrorInfo` reason of a server answer (see [`ServerError::reason`]).
    pub fn reason(&self) -> Option<&str> {
        self.server().map(ServerError::reason)
    }

    /// The fields the server refused (empty for other errors).
    pub fn violations(&self) -> &[FieldViolation] {
        self.server().map_or(&[], ServerError::violations)
    }

    /// The status the server answered with; `None` for local errors.
    pub fn status(&self) -> Option<&Status> {
        self.server().map(ServerError::status)
    }

    /// Whether the client retries this error (UNAVAILABLE only).
    pub fn is_retryable(&self) -> bool {
        self.code() == Some(Code::Unavailable)
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let (reason, metadata) = match details.error_info() {
            Some(info) => (info.reason.clone(), info.metadata.clone()),
            None => (code_name(status.code()).to_owned(), HashMap::new()),
        };
        let violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| FieldViolation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self::Server(Box::new(ServerError {
            retry_after: details.retry_info().and_then(|info| info.retry_delay),
            status,
            reason,
            metadata,
            violations,
        }))
    }
}

/// A gRPC code's name in UPPER_SNAKE, as the API documentation and `ErrorInfo` spell it.
pub fn code_name(code: Code) -> &'static str {
    keyward_core::GRPC_CODE_NAMES
        .get(code as usize)
        .copied()
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;

    use tonic::{Code, Status};
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn every_code_has_its_documented_name() {
        assert_eq!(super::code_name(Code::Ok), "OK");
        assert_eq!(super::code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(
            super::code_name(Code::FailedPrecondition),
            "FAILED_PRECONDITION"
        );
        assert_eq!(super::code_name(Code::Unauthenticated), "UNAUTHENTICATED");
        for number in 0..17 {
            let name = super::code_name(Code::from(number));
            assert_eq!(name, keyward_core::GRPC_CODE_NAMES[number as usize]);
        }
    }

    use super::{ClientError, FieldViolation};

    fn status(code: Code, reason: &str, message: &str) -> Status {
        let details = ErrorDetails::with_error_info(reason, "keyward", HashMap::new());
        Status::with_error_details(code, message, details)
    }

    #[test]
    fn invalid_argument_keeps_every_field_violation() {
        let mut details = ErrorDetails::with_error_info("INVALID_ARGUMENT", "keyward", []);
        details.add_bad_request_violation("page_size", "must not be negative");
        details.add_bad_request_violation("parent", "not a resource name");
        let err = ClientError::from(Status::with_error_details(
            Code::InvalidArgument,
            "invalid argument: page_size: must not be negative",
            details,
        ));
        let server = err.server().expect("a server error");
        assert_eq!(
            server.message(),
            "invalid argument: page_size: must not be negative"
        );
        assert_eq!(
            err.violations(),
            [
                FieldViolation {
                    field: "page_size".into(),
                    description: "must not be negative".into()
                },
                FieldViolation {
                    field: "parent".into(),
                    description: "not a resource name".into()
                },
            ]
        );
    }

    #[test]
    fn every_server_error_keeps_its_reason_metadata_and_violations() {
        let mut details = ErrorDetails::with_error_info(
            "API_SET_NOT_ALLOWED",
            "keyward",
            [("api_set".to_owned(), "apiSets/billing".to_owned())],
        );
        details.add_bad_request_violation("api_key.api_sets", "not entitled");
        let err = ClientError::from(Status::with_error_details(
            Code::FailedPrecondition,
            "the account may not use apiSets/billing",
            details,
        ));
        assert_eq!(err.code(), Some(Code::FailedPrecondition));
        assert_eq!(err.reason(), Some("API_SET_NOT_ALLOWED"));
        assert_eq!(err.violations()[0].field, "api_key.api_sets");
        let server = err.server().expect("a server error");
        assert_eq!(server.metadata()["api_set"], "apiSets/billing");
        assert_eq!(
            err.status().map(Status::message),
            Some("the account may not use apiSets/billing")
        );
        assert_eq!(
            err.to_string(),
            "FAILED_PRECONDITION [API_SET_NOT_ALLOWED]: the account may not use apiSets/billing"
        );
    }

    #[test]
    fn reasons_travel_with_permission_and_precondition_errors() {
        let err = ClientError::from(status(
            Code::PermissionDenied,
            "API_SET_NOT_HELD",
            "the credential does not hold keyward.credentials",
        ));
        assert_eq!(err.reason(), Some("API_SET_NOT_HELD"));
        assert_eq!(err.code(), Some(Code::PermissionDenied));
        assert!(err.to_string().contains("keyward.credentials"), "{err}");

        let err = ClientError::from(status(
            Code::FailedPrecondition,
            "ACCOUNT_NOT_VERIFIED",
            "the account is not verified",
        ));
        assert_eq!(err.reason(), Some("ACCOUNT_NOT_VERIFIED"));
        assert_eq!(err.code(), Some(Code::FailedPrecondition));
    }

    #[test]
    fn each_code_is_kept() {
        let cases = [
            (Code::NotFound, "NOT_FOUND"),
            (Code::AlreadyExists, "ALREADY_EXISTS"),
            (Code::Unauthenticated, "UNAUTHENTICATED"),
            (Code::Aborted, "ABORTED"),
            (Code::Unavailable, "UNAVAILABLE"),
            (Code::Unimplemented, "NOT_IMPLEMENTED"),
            (Code::Internal, "INTERNAL"),
        ];
        for (code, reason) in cases {
            let err = ClientError::from(status(code, reason, "the message"));
            assert_eq!(err.code(), Some(code), "{err:?}");
            assert_eq!(err.reason(), Some(reason), "{err:?}");
            assert!(err.to_string().contains("the message"), "{err}");
            assert_eq!(err.is_retryable(), code == Code::Unavailable);
        }
    }

    #[test]
    fn a_status_without_details_still_has_a_reason() {
        let err = ClientError::from(Status::permission_denied("no"));
        assert_eq!(err.reason(), Some("PERMISSION_DENIED"));
        assert_eq!(err.to_string(), "PERMISSION_DENIED: no");
        let err = ClientError::from(Status::invalid_argument("bad"));
        assert_eq!(err.code(), Some(Code::InvalidArgument));
        assert!(err.violations().is_empty());
    }
}
