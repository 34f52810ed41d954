//! `request_id`: a retried create returns the first result instead of
//! creating (and minting secrets) twice.
//!
//! A record remembers, per caller and method, the request ID, a fingerprint
//! of the request (SHA-256 of its protobuf encoding without the request ID)
//! and the name of the resource it created, for 24 hours. A retry with the
//! same ID and the same request gets the resource back — never its secret,
//! which was shown once already. The same ID with a different request is
//! INVALID_ARGUMENT.
//!
//! The ID is claimed before the work (a pending record), in one atomic
//! insert: of two concurrent requests with one ID, one does the work and the
//! other is told to retry (ABORTED), so a client retrying a call that timed
//! out never gets a second secret. The work's transaction records the ID as
//! done ([`Claim::store`]), so a request whose answer is lost after its commit
//! (a crash, a dropped connection) is found done by its retry, never redone.
//!
//! A retry gets the resource, never a secret again: a secret is shown once. A
//! renewal whose answer was lost therefore leaves its caller with the previous
//! secret only, which keeps verifying for the renewal's grace period: renew
//! with a grace period (and a request ID), and a lost answer costs a second
//! renewal, not an outage.

use chrono::Duration;
use keyward_store::{IdempotencyClaim, NewIdempotencyRecord, Store};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::clock::SharedClock;
use crate::error::ServiceError;
use crate::error::error_chain;

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
    // A front end acting for a user and the user's own key keep their request IDs apart.
    let (name, method) = (caller.principal.name(), caller.policy.method);
    let scope = match &caller.principal.delegate {
        None => format!("{name}|{method}"),
        Some(delegate) => format!("{name}|{method}|via {delegate}"),
    };
    Ok(Some(RequestKey {
        scope,
        request_id: request_id.to_owned(),
        fingerprint,
    }))
}

/// How long a claimed request ID may stay unfinished before another request
/// with it takes over: its first request died or hung. Far longer than any
/// call's deadline.
pub const PENDING_TIMEOUT: Duration = Duration::minutes(2);

/// What a request that carries a request ID should do.
#[derive(Debug)]
enum Begun {
    /// An earlier request with this ID and this request made `resource`:
    /// answer with it, without doing the work (and never with a secret).
    Done(String),
    /// Do the work, then [`Claim::finish`] it, or [`Claim::abandon`] it on
    /// failure.
    Claimed(Claim),
}

/// The right to do the work of a request: the request ID's record, pending
/// until [`Claim::finish`]. A request without a request ID holds an empty
/// claim, whose methods do nothing.
#[derive(Debug)]
#[must_use = "finish or abandon the claim"]
pub struct Claim(Option<RequestKey>);

/// Claims the request ID of `key` before the work, so that two concurrent
/// requests with one ID never both do it: the first claims it; a retry of a
/// finished request gets [`Begun::Done`]; a retry while the first is still at
/// work gets ABORTED (try again shortly); the same ID with a different request
/// is INVALID_ARGUMENT.
async fn begin(
    store: &Store,
    clock: &SharedClock,
    key: Option<RequestKey>,
) -> Result<Begun, ServiceError> {
    let Some(key) = key else {
        return Ok(Begun::Claimed(Claim(None)));
    };
    let now = clock.now();
    let record = NewIdempotencyRecord {
        scope: key.scope.clone(),
        request_id: key.request_id.clone(),
        request_fingerprint: key.fingerprint.clone(),
        expire_time: now + RETENTION,
    };
    match store
        .claim_idempotency_record(record, now - PENDING_TIMEOUT)
        .await?
    {
        IdempotencyClaim::Claimed => Ok(Begun::Claimed(Claim(Some(key)))),
        IdempotencyClaim::Held(held) if held.request_fingerprint != key.fingerprint => Err(
            ServiceError::invalid("request_id", "was already used for a different request"),
        ),
        IdempotencyClaim::Held(held) if held.resource_name.is_empty() => {
            Err(ServiceError::Aborted {
                message: "a request with this request_id is still in progress; retry shortly"
                    .to_owned(),
            })
        }
        IdempotencyClaim::Held(held) => Ok(Begun::Done(held.resource_name)),
    }
}

impl Claim {
    /// The store to do the request's work with: one whose writing transaction also records
    /// the request ID as done with `resource_name`, so that the work and its record commit
    /// together (a crash or a lost answer after the commit leaves no pending claim that a
    /// retry would take over and do the work again). Without a request ID, `store` itself.
    pub fn store(&self, store: &Store, resource_name: impl Into<String>) -> Store {
        match &self.0 {
            None => store.clone(),
            Some(key) => store.completing(keyward_store::RequestCompletion {
                scope: key.scope.clone(),
                request_id: key.request_id.clone(),
                resource_name: resource_name.into(),
            }),
        }
    }

    /// The work is done and made `resource_name`: retries get it from now on.
    /// A failure is logged: the resource exists either way, and the claim
    /// lapses after [`PENDING_TIMEOUT`].
    async fn finish(self, store: &Store, resource_name: &str) {
        let Some(key) = self.0 else { return };
        if let Err(err) = store
            .complete_idempotency_record(&key.scope, &key.request_id, resource_name)
            .await
        {
            tracing::error!(error = %error_chain(&err), "cannot remember a request id");
        }
    }

    /// The work failed and changed nothing: a retry may claim the ID at once.
    /// A failure is logged: the claim lapses after [`PENDING_TIMEOUT`].
    async fn abandon(self, store: &Store) {
        let Some(key) = self.0 else { return };
        if let Err(err) = store
            .release_idempotency_record(&key.scope, &key.request_id)
            .await
        {
            tracing::error!(error = %error_chain(&err), "cannot release a request id");
        }
    }

    /// Finishes the claim with what `work` made, or abandons it when `work`
    /// failed; `resource_name` names what it made.
    async fn settle<T>(
        self,
        store: &Store,
        work: Result<T, ServiceError>,
        resource_name: impl FnOnce(&T) -> String,
    ) -> Result<T, ServiceError> {
        match work {
            Ok(made) => {
                self.finish(store, &resource_name(&made)).await;
                Ok(made)
            }
            Err(err) => {
                self.abandon(store).await;
                Err(err)
            }
        }
    }
}

/// What [`once`] did.
#[derive(Debug)]
pub enum Once<T> {
    /// This request did the work and made `T`.
    Made(T),
    /// An earlier request with the same request ID and the same request made the resource
    /// named here: answer with it, never with a secret again.
    Replayed(String),
}

/// The one way a create or a renewal runs with its request ID: claim the ID, then either
/// hand back what an earlier request made ([`Once::Replayed`]), or do `work` with the claim
/// (its [`Claim::store`] records the ID as done in the work's own transaction) and settle
/// the claim with the name of what it made (`resource_name`), or release it when the work
/// failed. Without a request ID the work simply runs.
pub async fn once<T>(
    store: &Store,
    clock: &SharedClock,
    key: Option<RequestKey>,
    work: impl AsyncFnOnce(&Claim) -> Result<T, ServiceError>,
    resource_name: impl FnOnce(&T) -> String,
) -> Result<Once<T>, ServiceError> {
    let claim = match begin(store, clock, key).await? {
        Begun::Done(resource) => return Ok(Once::Replayed(resource)),
        Begun::Claimed(claim) => claim,
    };
    let worked = work(&claim).await;
    claim
        .settle(store, worked, resource_name)
        .await
        .map(Once::Made)
}
