//! The service's error type: what a use case can answer besides success.
//!
//! Every failure of a Keyward RPC is a [`ServiceError`]. Exactly one
//! conversion turns it into a gRPC status (`crate::grpc::status`), so the
//! codes, the `google.rpc.ErrorInfo` reasons and the wording live in one
//! place. Store errors are classified here, once.

use keyward_store::StoreError;

/// A field of a request that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, for example `credential.contact_email`.
    pub field: String,
    /// What is wrong with it, lowercase, without a trailing period.
    pub description: String,
}

/// Everything a Keyward RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; each violation names the field.
    #[error("invalid argument: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The caller did not present a usable credential. Deliberately says
    /// nothing about why, so that missing, malformed, unknown, expired and
    /// revoked credentials cannot be told apart.
    #[error("the request does not carry a valid credential")]
    Unauthenticated,
    /// The caller may not do this (or may not see the resource, which
    /// answers the same as a resource that does not exist elsewhere).
    #[error("{message}")]
    PermissionDenied {
        /// UPPER_SNAKE reason for the ErrorInfo.
        reason: &'static str,
        /// What is not allowed.
        message: String,
    },
    /// The resource does not exist.
    #[error("{resource} not found")]
    NotFound {
        /// Resource name (or kind) that was not found.
        resource: String,
    },
    /// A resource with the same identity, or breaking a uniqueness rule,
    /// exists already.
    #[error("{message}")]
    AlreadyExists {
        /// What already exists.
        message: String,
    },
    /// The system is not in the state the request needs (for example an
    /// unverified account creating credentials).
    #[error("{message}")]
    FailedPrecondition {
        /// UPPER_SNAKE reason for the ErrorInfo.
        reason: &'static str,
        /// What precondition failed.
        message: String,
    },
    /// The resource changed since the caller read it (etag mismatch) or a
    /// concurrent change won.
    #[error("{message}")]
    Aborted {
        /// What changed.
        message: String,
    },
    /// The RPC is part of the API but not served yet.
    #[error("{method} is not implemented yet")]
    Unimplemented {
        /// Fully-qualified method, `/keyward.v1.Service/Method`.
        method: String,
    },
    /// The server, or the credential presented, is asked more than it can answer right
    /// now (secret checks queued up, too many unproven secrets for one credential): shed at
    /// once, to be retried after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        /// UPPER_SNAKE reason for the ErrorInfo.
        reason: &'static str,
        /// What is exhausted.
        message: String,
        /// When trying again makes sense (a `google.rpc.RetryInfo`).
        retry_after: Option<std::time::Duration>,
    },
    /// The caller's deadline (`grpc-timeout`) passed before the answer was ready; whatever
    /// the call had not committed is rolled back.
    #[error("the deadline of the call ({timeout:?}) expired before it was answered")]
    DeadlineExceeded {
        /// The timeout the caller sent.
        timeout: std::time::Duration,
    },
    /// A request message is larger than the server accepts.
    #[error("the request message of {size} bytes is larger than the {limit} bytes accepted")]
    MessageTooLarge {
        /// The size its length prefix announces.
        size: u64,
        /// The largest accepted.
        limit: u64,
    },
    /// The request's body had not arrived when the server's limit on waiting for it
    /// (`--body-timeout-secs`) passed.
    #[error("the request body did not arrive within {limit:?}")]
    BodyTimeout {
        /// The server's limit.
        limit: std::time::Duration,
    },
    /// A dependency (the database) is unreachable; the caller may retry.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// A bug or an unexpected failure. Logged with its whole chain, answered
    /// opaquely.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    /// A single-field INVALID_ARGUMENT.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// The `google.rpc.ErrorInfo` reason of this error, UPPER_SNAKE.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "INVALID_ARGUMENT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied { reason, .. }
            | Self::FailedPrecondition { reason, .. }
            | Self::ResourceExhausted { reason, .. } => reason,
            Self::NotFound { .. } => "NOT_FOUND",
            Self::AlreadyExists { .. } => "ALREADY_EXISTS",
            Self::Aborted { .. } => "ABORTED",
            Self::Unimplemented { .. } => "NOT_IMPLEMENTED",
            Self::DeadlineExceeded { .. } => "DEADLINE_EXCEEDED",
            Self::BodyTimeout { .. } => "REQUEST_BODY_TIMEOUT",
            Self::MessageTooLarge { .. } => "MESSAGE_TOO_LARGE",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| match v.field.as_str() {
            "" => v.description.clone(),
            field => format!("{field}: {}", v.description),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { entity, id } => Self::NotFound {
                resource: format!("{entity} {id}"),
            },
            err @ StoreError::AlreadyExists { .. } => Self::AlreadyExists {
                message: err.to_string(),
            },
            err @ StoreError::ForeignKey { .. } => Self::FailedPrecondition {
                reason: "REFERENCE_VIOLATION",
                message: err.to_string(),
            },
            err @ StoreError::Compromised { .. } => Self::FailedPrecondition {
                reason: "CREDENTIAL_COMPROMISED",
                message: err.to_string(),
            },
            StoreError::Conflict => Self::Aborted {
                message: "the resource changed concurrently; read it again and retry".into(),
            },
            err @ StoreError::Unavailable(_) => Self::Unavailable(err),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Renders an error and all its sources on one line, `outer: inner: root`.
/// A cause whose text its parent already shows (some errors embed their
/// source in their own message) is not repeated.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
