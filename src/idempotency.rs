//! `request_id`: a retried create returns the first result instead of
//! creating (and minting secrets) twice.
//!
//! A record remembers, per caller and method, the request ID, a fingerprint
//! of the request (SHA-256 of its protobuf encoding without the request ID)
//! and the name of the resource it created, for 24 hours. A retry with the
//! same ID and the same request gets the resource back — never its secret,
//! which was shown once already. The same ID with a different request is
//! INVALID_ARGUMENT.

use chrono::Duration;
use keyward_store::{NewIdempotencyRecord, Store, StoreError};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::clock::SharedClock;
use crate::error::ServiceError;
use crate::grpc::status::error_chain;

/// How long a request ID is remembered.
pub const RETENTION: Duration = Duration::hours(24);

/// A checked request ID and what identifies its request.
#[derive(Debug, Clone)]
pub struct RequestKey {
    scope: String,
    request_id: String,
    fingerprint: String,
}

/// Parses `request_id` (None when empty): 1 to 128 visible ASCII
/// characters. `encoded_without_id` is the request's protobuf encoding with
/// the request ID cleared.
pub fn request_key(
    caller: &Caller,
    request_id: &str,
    encoded_without_id: &[u8],
) -> Result<Option<RequestKey>, ServiceError> {
    if request_id.is_empty() {
        return Ok(None);
    }
    if request_id.len() > 128 || !request_id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ServiceError::invalid(
            "request_id",
            "must be 1 to 128 visible ASCII characters (a UUID is recommended)",
        ));
    }
    let digest = Sha256::digest(encoded_without_id);
    let fingerprint = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Some(RequestKey {
        scope: format!("{}|{}", caller.principal.name(), caller.policy.method),
        request_id: request_id.to_owned(),
        fingerprint,
    }))
}

/// The resource a previous request with this key created, if any.
pub async fn previous(store: &Store, key: &RequestKey) -> Result<Option<String>, ServiceError> {
    match store
        .find_idempotency_record(&key.scope, &key.request_id)
        .await?
    {
        Some(record) if record.request_fingerprint == key.fingerprint => {
            Ok(Some(record.resource_name))
        }
        Some(_) => Err(ServiceError::invalid(
            "request_id",
            "was already used for a different request",
        )),
        None => Ok(None),
    }
}

/// Remembers that the request created `resource_name`. A failure is logged:
/// the resource exists either way.
pub async fn remember(store: &Store, clock: &SharedClock, key: RequestKey, resource_name: &str) {
    let record = NewIdempotencyRecord {
        scope: key.scope,
        request_id: key.request_id,
        request_fingerprint: key.fingerprint,
        resource_name: resource_name.to_owned(),
        expire_time: clock.now() + RETENTION,
    };
    match store.put_idempotency_record(record).await {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
        Err(err) => tracing::error!(error = %error_chain(&err), "cannot remember a request id"),
    }
}
