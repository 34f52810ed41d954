//! The use cases: one named function per thing a caller can ask of Keyward, taking a
//! domain input and the [`Caller`](crate::auth::Caller), answering a domain value or a
//! [`ServiceError`](crate::error::ServiceError). The gRPC edge (`crate::grpc`) parses
//! protobuf into these inputs and converts the answers back; nothing here knows
//! Keyward's protobuf types.
//!
//! Each function authorizes first (against the account its input names, before anything
//! is looked up), validates what is left, acts through the store, audits, and answers.

pub mod accounts;
pub mod api_keys;
pub mod api_sets;
pub mod audit_log;
pub mod credentials;
pub mod enrollment;
pub mod roles;
pub mod users;
