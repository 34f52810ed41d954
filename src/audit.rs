//! Writing audit events: who did what to which resource, and how it ended.
//! Never a secret. A failure to write an event is logged, and does not undo
//! the action it describes.

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
