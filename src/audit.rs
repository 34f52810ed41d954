//! Writing audit events: who did what to which resource, and how it ended.
//! Never a secret. A failure to write an event is logged, and does not undo
//! the action it describes. Failed verifications are counted and written in
//! batches ([`FailureCounter`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyward_store::{AuditOutcome, NewAuditEvent, Store};

use crate::auth::Caller;
use crate::grpc::status::error_chain;

/// Records that `caller` succeeded at its RPC on `resource` in `account_id`.
pub async fn record_success(
    store: &Store,
    caller: &Caller,
    account_id: &str,
    resource: &str,
    detail: impl Into<String>,
) {
    let event = NewAuditEvent {
        account_id: account_id.to_owned(),
        actor: caller.principal.name(),
        action: caller.policy.method.to_owned(),
        resource: resource.to_owned(),
        outcome: AuditOutcome::Success,
        detail: detail.into(),
    };
    if let Err(err) = store.append_audit_event(event).await {
        tracing::error!(error = %error_chain(&err), resource, "cannot write audit event");
    }
}

/// Longest list of distinct failure kinds kept between flushes; beyond it new kinds are
/// only logged, so an attack cannot grow memory without bound.
const MAX_FAILURE_KINDS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FailureKind {
    account_id: String,
    resource: String,
    action: &'static str,
    reason: &'static str,
}

/// Failed verifications, counted in memory and written as one audit event per credential,
/// method and reason at each flush: a brute-force attack leaves a few rows saying how many
/// attempts failed, not one row per attempt.
#[derive(Debug, Clone, Default)]
pub struct FailureCounter {
    counts: Arc<Mutex<HashMap<FailureKind, u64>>>,
}

impl FailureCounter {
    /// Counts one failed verification of `resource` (a credential or key, in `account_id`)
    /// by the RPC `action`, for `reason` (an UPPER_SNAKE decision reason).
    pub fn count(
        &self,
        account_id: &str,
        resource: &str,
        action: &'static str,
        reason: &'static str,
    ) {
        let kind = FailureKind {
            account_id: account_id.to_owned(),
            resource: resource.to_owned(),
            action,
            reason,
        };
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if counts.len() >= MAX_FAILURE_KINDS && !counts.contains_key(&kind) {
            tracing::warn!(
                resource,
                reason,
                "failure counter full; failure not audited"
            );
            return;
        }
        *counts.entry(kind).or_insert(0) += 1;
    }

    /// Writes the counts gathered since the last flush as audit events and starts over.
    pub async fn flush(&self, store: &Store) {
        let counts = match self.counts.lock() {
            Ok(mut counts) => std::mem::take(&mut *counts),
            Err(_) => return,
        };
        for (kind, count) in counts {
            let attempts = if count == 1 { "attempt" } else { "attempts" };
            let event = NewAuditEvent {
                account_id: kind.account_id,
                actor: kind.resource.clone(),
                action: kind.action.to_owned(),
                resource: kind.resource,
                outcome: AuditOutcome::Failure,
                detail: format!("{count} failed verification {attempts}: {}", kind.reason),
            };
            if let Err(err) = store.append_audit_event(event).await {
                tracing::error!(error = %error_chain(&err), "cannot write a failure audit event");
            }
        }
    }
}
