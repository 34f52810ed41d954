//! Pure building blocks shared by the Keyward server and its clients.
#![warn(missing_docs)]

pub mod audit_chain;
pub mod key;
pub mod key_file;
pub mod signing;

/// The request metadata entry with which a front end acts for one of its signed-in users:
/// `keyward-act-as: accounts/{account}/users/{user}`. The call runs as that user (their
/// account, roles and authorities; `users/me` is them), never beyond the API sets of the
/// calling credential, which must hold `keyward.delegation`. Modelled on Kubernetes user
/// impersonation.
pub const ACT_AS_METADATA: &str = "keyward-act-as";

/// The names of the gRPC status codes, indexed by their number (`OK` … `UNAUTHENTICATED`):
/// spelled as the API documentation and `ErrorInfo` spell them. The server, the SDK and
/// the benchmark all read this one table.
pub const GRPC_CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
