//! The gRPC edge: the generated protobuf types, one service implementation
//! per protobuf service, and the one conversion from service errors to
//! `tonic::Status`. Nothing below this module knows protobuf types.

mod account;
mod api_key;
pub mod convert;
mod credential;
pub mod status;

pub use account::AccountServiceImpl;
pub use api_key::ApiKeyServiceImpl;
pub use credential::CredentialServiceImpl;

/// Code generated from `proto/keyward/v1` by `build.rs`.
#[allow(clippy::all, clippy::pedantic, unreachable_pub, missing_docs)]
pub mod pb {
    tonic::include_proto!("keyward.v1");

    /// The encoded file descriptor set of `proto/`, with comments, for server
    /// reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/keyward_descriptor.bin"));
}

/// The fully-qualified names of the services Keyward serves, for health.
pub const SERVICE_NAMES: [&str; 3] = [
    pb::account_service_server::SERVICE_NAME,
    pb::credential_service_server::SERVICE_NAME,
    pb::api_key_service_server::SERVICE_NAME,
];
