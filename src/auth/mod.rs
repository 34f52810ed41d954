//! Who is calling, and may they do this?
//!
//! - [`layer`]: resolves the caller of every Keyward RPC once, from the
//!   `authorization` metadata, and checks the RPC's API set;
//! - [`policy`]: the authorization table, RPC by RPC;
//! - [`principal`]: the resolved caller and the one `authorize` function
//!   handlers call with the account a request touches;
//! - [`grants`]: the one rule for which API sets a caller may grant;
//! - [`authenticate`]: presented API keys and client secrets, found in the verification
//!   index, proven (remembered digest or argon2) and judged; enrollment tokens, read from
//!   the store and proven the same way;
//! - [`hashing`]: argon2id on a pool of its own with bounded queues;
//! - [`throttle`]: the per-credential budget of unproven secrets;
//! - [`memo`]: outcomes of tokens presented before, kept while nothing changed.

pub mod authenticate;
pub mod grants;
pub mod hashing;
pub mod layer;
pub mod memo;
pub mod policy;
pub mod principal;
pub mod throttle;

pub use crate::judgement::{KeyRefusal, Scope};
pub use authenticate::{Authenticator, KeyJudgement, LeakProof};
pub use hashing::{HasherConfig, HasherStats, SecretHasher};
pub use layer::AuthLayer;
pub use policy::{Authority, BuiltinApiSet, Rule};
pub use principal::{Caller, Principal, PrincipalKind, api_key_name, enrollment_token_name};
