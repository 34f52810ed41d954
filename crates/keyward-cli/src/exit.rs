//! Exit codes and the errors that choose them.

use std::process::ExitCode;

use keyward_client::{ClientError, ServerError};
use tonic::Code;

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
    /// The server answered with an error, kept whole by the SDK.
    Server(Box<ServerError>),
}

impl From<ClientError> for CliError {
    /// A server's answer keeps its code (and so its exit code); a local failure is local.
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Server(server) => Self::Server(server),
            local => Self::Local(local.to_string()),
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
            Self::Server(server) => {
                // `CODE [REASON]: message`, the reason only where it says more.
                eprintln!("error: {server}");
                for violation in server.violations() {
                    eprintln!("  {}: {}", violation.field, violation.description);
                }
                ExitCode::from(code_for(server.code()))
            }
        }
    }
}
