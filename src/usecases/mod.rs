//! The use cases: one named function per thing a caller can ask of Keyward, taking a
//! domain input and the [`Caller`](crate::auth::Caller), answering a domain value or a
//! [`ServiceError`](crate::error::ServiceError). The gRPC edge (`crate::grpc`) parses
//! protobuf into these inputs and converts the answers back; nothing here knows
//! Keyward's protobuf types.
//!
//! Each function authorizes first (against the account its input names, before anything
//! is looked up), validates what is left, acts through the store, audits, and answers.

/// A request field the edge parsed whose check stands after the authorization: the use
/// case answers its error (`?`) where the check stood, so that a caller without rights
/// learns nothing about the rest of the request.
pub type Parsed<T> = Result<T, crate::error::ServiceError>;

/// The page of a listing a request asks for, unchecked: its `page_size` (0 for the
/// default) and `page_token` (empty for the first page).
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// `page_size`.
    pub page_size: i32,
    /// `page_token`.
    pub page_token: String,
}

impl PageQuery {
    /// The page to read, or INVALID_ARGUMENT naming `page_token` or `page_size`.
    pub fn checked(&self) -> Result<keyward_store::PageRequest, crate::error::ServiceError> {
        Ok(keyward_store::PageRequest {
            after: crate::validate::page_token("page_token", &self.page_token)?,
            limit: crate::validate::page_size("page_size", self.page_size)?,
        })
    }
}

pub mod accounts;
pub mod api_keys;
pub mod api_sets;
pub mod audit_log;
pub mod credentials;
pub mod enrollment;
pub mod roles;
pub mod users;
