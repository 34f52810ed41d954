//! Exit codes and the errors that choose them.

use std::process::ExitCode;

use tonic::Code;
use tonic_types::StatusExt as _;

/// The exit codes, as `--help` shows them.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0   success (for verify: the credential is valid)
  1   usage or local error (bad flag, unreadable file, cannot connect)
  2   the server refused the caller: UNAUTHENTICATED or PERMISSION_DENIED
  3   NOT_FOUND
  4   the request was refused: INVALID_ARGUMENT, FAILED_PRECONDITION,
      ALREADY_EXISTS, ABORTED (etag mismatch), OUT_OF_RANGE
  5   the server is unavailable or failed: UNAVAILABLE, DEADLINE_EXCEEDED, other codes
  10  verify: the server answered, and the credential is refused (the reason is printed);
      scan: Keyward keys were found; audit verify: the hash chain breaks";

/// A refused verification decision.
pub(crate) const REFUSED: u8 = 10;

/// What can end a command.
#[derive(Debug)]
pub(crate) enum CliError {
    /// A local problem: bad input, an unreadable file, no connection.
    Local(String),
    /// The server answered with an error.
    Status(Box<tonic::Status>),
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(Box::new(status))
    }
}

impl From<keyward_client::ClientError> for CliError {
    /// A server's answer keeps its code (and so its exit code); a local failure is local.
    fn from(error: keyward_client::ClientError) -> Self {
        match error.status() {
            Some(status) => Self::Status(Box::new(status.clone())),
            None => Self::Local(error.to_string()),
        }
    }
}

/// The exit code for a gRPC status code.
pub(crate) fn code_for(code: Code) -> u8 {
    match code {
        Code::Ok => 0,
        Code::Unauthenticated | Code::PermissionDenied => 2,
        Code::NotFound => 3,
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::Aborted
        | Code::OutOfRange => 4,
        _ => 5,
    }
}

impl CliError {
    /// Prints the error on stderr and returns its exit code.
    pub(crate) fn report(&self) -> ExitCode {
        match self {
            Self::Local(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
            Self::Status(status) => {
                let details = status.get_error_details();
                let code = code_name(status.code());
                let reason = details
                    .error_info()
                    .filter(|info| info.reason != code)
                    .map(|info| format!(" [{}]", info.reason))
                    .unwrap_or_default();
                eprintln!("error: {code}{reason}: {}", status.message());
                if let Some(bad) = details.bad_request() {
                    for violation in &bad.field_violations {
                        eprintln!("  {}: {}", violation.field, violation.description);
                    }
                }
                ExitCode::from(code_for(status.code()))
            }
        }
    }
}

/// The gRPC code in UPPER_SNAKE, as the API documentation names it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
