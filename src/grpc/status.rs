//! The one conversion from [`ServiceError`] to [`tonic::Status`].
//!
//! Every error status carries one `google.rpc.ErrorInfo` (reason in
//! UPPER_SNAKE, domain `keyward`), and INVALID_ARGUMENT also carries a
//! `google.rpc.BadRequest` with one field violation per wrong field. Internal
//! errors are logged here with their whole chain and answered opaquely.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{ServiceError, error_chain};

/// The ErrorInfo domain of every Keyward error.
pub const ERROR_DOMAIN: &str = "keyward";

/// The names of the gRPC status codes, indexed by their number: for metrics labels and
/// the benchmark's tallies (one table, in `keyward_core`, shared with the SDK).
pub use keyward_core::GRPC_CODE_NAMES as CODE_NAMES;

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let code = match &err {
            ServiceError::InvalidArgument(_) => Code::InvalidArgument,
            ServiceError::Unauthenticated => Code::Unauthenticated,
            ServiceError::PermissionDenied { .. } => Code::PermissionDenied,
            ServiceError::NotFound { .. } => Code::NotFound,
            ServiceError::AlreadyExists { .. } => Code::AlreadyExists,
            ServiceError::FailedPrecondition { .. } => Code::FailedPrecondition,
            ServiceError::Aborted { .. } => Code::Aborted,
            ServiceError::Unimplemented { .. } => Code::Unimplemented,
            ServiceError::ResourceExhausted { .. } => Code::ResourceExhausted,
            ServiceError::DeadlineExceeded { .. } | ServiceError::BodyTimeout { .. } => {
                Code::DeadlineExceeded
            }
            ServiceError::MessageTooLarge { .. } => Code::OutOfRange,
            ServiceError::Unavailable(_) => Code::Unavailable,
            ServiceError::Internal(_) => Code::Internal,
        };

        let mut metadata = HashMap::new();
        if let ServiceError::Unimplemented { method } = &err {
            metadata.insert("method".to_owned(), method.clone());
        }
        let mut details = ErrorDetails::with_error_info(err.reason(), ERROR_DOMAIN, metadata);
        if let ServiceError::InvalidArgument(violations) = &err {
            for v in violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
        }
        if let ServiceError::ResourceExhausted {
            retry_after: Some(delay),
            ..
        } = &err
        {
            details.set_retry_info(Some(*delay));
        }

        match &err {
            ServiceError::Internal(_) | ServiceError::Unavailable(_) => {
                tracing::error!(error = %error_chain(&err), code = ?code, "request failed");
            }
            _ => tracing::debug!(error = %err, code = ?code, "request refused"),
        }

        Status::with_error_details(code, err.to_string(), details)
    }
}

#[cfg(test)]
mod tests {
    use crate::error::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("embeds: {0}")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn the_chain_is_one_line_without_repeats() {
        let err = Outer(Inner(std::io::Error::other("connection refused")));
        assert_eq!(error_chain(&err), "outer: embeds: connection refused");
    }
}
