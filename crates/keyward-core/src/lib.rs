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
