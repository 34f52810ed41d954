//! [`ClientError`]: what a call through the SDK can fail with.
//!
//! The server answers every failure with a `google.rpc.Status` carrying one
//! `ErrorInfo` (domain `keyward`, reason in UPPER_SNAKE) and, for
//! INVALID_ARGUMENT, a `BadRequest` naming each wrong field. `From<Status>`
//! decodes those details into typed variants, so callers match on what went
//! wrong instead of parsing a bare [`tonic::Status`].
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
//! match ClientError::from(status) {
//!     ClientError::InvalidArgument { violations, .. } => {
//!         assert_eq!(violations[0].field, "credential.contact_email");
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

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
/// Variants for server answers keep the server's message and, where the
/// code alone is ambiguous, the `ErrorInfo` reason (`API_SET_NOT_ALLOWED`,
/// `ACCOUNT_NOT_VERIFIED`, `LAST_ADMINISTRATOR`…).
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
    /// NOT_FOUND: the resource does not exist (or the caller may not see it).
    #[error("not found: {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// ALREADY_EXISTS: a resource with this identity exists already.
    #[error("already exists: {message}")]
    AlreadyExists {
        /// The server's message.
        message: String,
    },
    /// INVALID_ARGUMENT: the request is malformed; each violation names a field.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// The server's message.
        message: String,
        /// The fields refused, from the `BadRequest` detail.
        violations: Vec<FieldViolation>,
    },
    /// PERMISSION_DENIED: the caller may not do this.
    #[error("permission denied ({reason}): {message}")]
    PermissionDenied {
        /// The ErrorInfo reason, for example `PERMISSION_DENIED` or `API_SET_NOT_HELD`.
        reason: String,
        /// The server's message.
        message: String,
    },
    /// UNAUTHENTICATED: no usable credential (the server never says why).
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        /// The server's message.
        message: String,
    },
    /// FAILED_PRECONDITION: the system is not in the state the request needs.
    #[error("failed precondition ({reason}): {message}")]
    FailedPrecondition {
        /// The ErrorInfo reason, for example `ACCOUNT_NOT_VERIFIED` or `LAST_ADMINISTRATOR`.
        reason: String,
        /// The server's message.
        message: String,
    },
    /// ABORTED: the resource changed since it was read (etag) or a concurrent change won.
    #[error("aborted: {message}")]
    Aborted {
        /// The server's message.
        message: String,
    },
    /// UNAVAILABLE: the server or its database cannot answer now; retried
    /// by the client before it is returned.
    #[error("unavailable: {message}")]
    Unavailable {
        /// The server's message.
        message: String,
    },
    /// RESOURCE_EXHAUSTED: the server sheds the call (too many secrets waiting to be
    /// checked, or too many unproven secrets for one credential); try again after
    /// `retry_after`.
    #[error("resource exhausted ({reason}): {message}")]
    ResourceExhausted {
        /// The ErrorInfo reason, for example `SECRET_CHECKS_OVERLOADED`.
        reason: String,
        /// The server's message.
        message: String,
        /// From the `RetryInfo` detail: when trying again makes sense.
        retry_after: Option<std::time::Duration>,
    },
    /// UNIMPLEMENTED: the RPC is part of the API but not served.
    #[error("unimplemented: {message}")]
    Unimplemented {
        /// The server's message.
        message: String,
    },
    /// The server answered successfully but left out a field it always sets.
    #[error("the server's response lacks `{0}`")]
    MissingField(&'static str),
    /// Any other status (INTERNAL, DEADLINE_EXCEEDED, CANCELLED…).
    #[error("{}: {}", .0.code(), .0.message())]
    Other(Box<Status>),
}

impl ClientError {
    /// The gRPC code of a server answer; `None` for local errors.
    pub fn code(&self) -> Option<Code> {
        Some(match self {
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::PermissionDenied { .. } => Code::PermissionDenied,
            Self::Unauthenticated { .. } => Code::Unauthenticated,
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::Aborted { .. } => Code::Aborted,
            Self::Unavailable { .. } => Code::Unavailable,
            Self::Unimplemented { .. } => Code::Unimplemented,
            Self::ResourceExhausted { .. } => Code::ResourceExhausted,
            Self::Other(status) => status.code(),
            Self::InvalidUrl { .. }
            | Self::TlsNotEnabled { .. }
            | Self::TlsOptionsWithoutHttps { .. }
            | Self::InvalidCredential
            | Self::InvalidActAs { .. }
            | Self::Connect(_)
            | Self::MissingField(_) => return None,
        })
    }

    /// The ErrorInfo reason where the variant keeps one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::PermissionDenied { reason, .. }
            | Self::FailedPrecondition { reason, .. }
            | Self::ResourceExhausted { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Whether the client retries this error (UNAVAILABLE only).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let reason = details
            .error_info()
            .map(|info| info.reason.clone())
            .unwrap_or_else(|| default_reason(status.code()).to_owned());
        let message = status.message().to_owned();
        match status.code() {
            Code::NotFound => Self::NotFound { message },
            Code::AlreadyExists => Self::AlreadyExists { message },
            Code::InvalidArgument => Self::InvalidArgument {
                message,
                violations: details
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
                    .unwrap_or_default(),
            },
            Code::PermissionDenied => Self::PermissionDenied { reason, message },
            Code::Unauthenticated => Self::Unauthenticated { message },
            Code::FailedPrecondition => Self::FailedPrecondition { reason, message },
            Code::Aborted => Self::Aborted { message },
            Code::Unavailable => Self::Unavailable { message },
            Code::Unimplemented => Self::Unimplemented { message },
            Code::ResourceExhausted => Self::ResourceExhausted {
                reason,
                message,
                retry_after: details.retry_info().and_then(|info| info.retry_delay),
            },
            _ => Self::Other(Box::new(status)),
        }
    }
}

fn default_reason(code: Code) -> &'static str {
    match code {
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;

    use tonic::{Code, Status};
    use tonic_types::{ErrorDetails, StatusExt};

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
        let ClientError::InvalidArgument {
            message,
            violations,
        } = err
        else {
            panic!("not InvalidArgument: {err:?}");
        };
        assert_eq!(message, "invalid argument: page_size: must not be negative");
        assert_eq!(
            violations,
            vec![
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
    fn reasons_travel_with_permission_and_precondition_errors() {
        let err = ClientError::from(status(
            Code::PermissionDenied,
            "API_SET_NOT_HELD",
            "the credential does not hold keyward.credentials",
        ));
        assert!(matches!(
            &err,
            ClientError::PermissionDenied { reason, message }
                if reason == "API_SET_NOT_HELD" && message.contains("keyward.credentials")
        ));
        assert_eq!(err.reason(), Some("API_SET_NOT_HELD"));
        assert_eq!(err.code(), Some(Code::PermissionDenied));

        let err = ClientError::from(status(
            Code::FailedPrecondition,
            "ACCOUNT_NOT_VERIFIED",
            "the account is not verified",
        ));
        assert_eq!(err.reason(), Some("ACCOUNT_NOT_VERIFIED"));
        assert!(matches!(err, ClientError::FailedPrecondition { .. }));
    }

    #[test]
    fn each_code_has_its_variant() {
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
            assert!(err.to_string().contains("the message"), "{err}");
            assert_eq!(err.is_retryable(), code == Code::Unavailable);
        }
        assert!(matches!(
            ClientError::from(Status::not_found("x")),
            ClientError::NotFound { .. }
        ));
        assert!(matches!(
            ClientError::from(Status::internal("x")),
            ClientError::Other(status) if status.code() == Code::Internal
        ));
    }

    #[test]
    fn a_status_without_details_still_maps_by_code() {
        let err = ClientError::from(Status::permission_denied("no"));
        assert_eq!(err.reason(), Some("PERMISSION_DENIED"));
        let err = ClientError::from(Status::invalid_argument("bad"));
        assert!(
            matches!(err, ClientError::InvalidArgument { violations, .. } if violations.is_empty())
        );
    }
}
