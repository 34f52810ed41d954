//! Who is calling, and may they do this?
//!
//! - [`layer`]: resolves the caller of every Keyward RPC once, from the
//!   `authorization` metadata, and checks the RPC's API set;
//! - [`policy`]: the authorization table, RPC by RPC;
//! - [`principal`]: the resolved caller and the one `authorize` function
//!   handlers call with the account a request touches;
//! - [`authenticate`]: API keys and client secrets, checked against the store;
//! - [`hashing`]: argon2id on a bounded blocking pool.

pub mod authenticate;
pub mod hashing;
pub mod layer;
pub mod policy;
pub mod principal;

pub use authenticate::{Authenticator, KeyJudgement, KeyRefusal, Scope, evaluate_api_key};
pub use hashing::SecretHasher;
pub use layer::AuthLayer;
pub use policy::{Authority, BuiltinApiSet, Rule};
pub use principal::{Caller, Principal, PrincipalKind};
