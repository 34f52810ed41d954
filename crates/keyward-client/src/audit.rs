//! Checking an account's audit log offline: an export (`Client::export_audit_events`) holds
//! every event with its place in the account's hash chain, and [`verify`] recomputes the
//! chain with `keyward_core::audit_chain`, the canonical form the server writes it with,
//! and names the first event where it breaks.

pub use keyward_core::audit_chain::{ChainBreak, ChainedEvent, ExportedEvent, to_hex};

use crate::proto as pb;

/// An exported event as the chain sees it: the account from its name, the time in the
/// canonical form (RFC 3339, UTC, six fractional digits), the outcome as stored.
pub fn exported(event: &pb::AuditEvent) -> ExportedEvent {
    let account_id = event
        .name
        .strip_prefix("accounts/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let time = event
        .event_time
        .as_ref()
        .and_then(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .map(|t| t.format(keyward_core::audit_chain::TIME_FORMAT).to_string())
        .unwrap_or_default();
    let outcome = match event.outcome() {
        pb::audit_event::Outcome::Success => "success",
        pb::audit_event::Outcome::Failure => "failure",
        pb::audit_event::Outcome::Denied => "denied",
        pb::audit_event::Outcome::Unspecified => "",
    };
    ExportedEvent {
        event: ChainedEvent {
            account_id,
            sequence: event.sequence,
            time,
            actor: event.actor.clone(),
            delegate: event.delegate.clone(),
            action: event.method.clone(),
            resource: event.resource.clone(),
            outcome: outcome.to_owned(),
            count: event.count,
            detail: event.detail.clone(),
        },
        prev_hash: event.prev_hash.clone(),
        hash: event.hash.clone(),
    }
}

/// Checks an export, in export order: the head hash (hex), or where the chain breaks.
pub fn verify<'a>(
    events: impl IntoIterator<Item = &'a ExportedEvent>,
) -> Result<String, ChainBreak> {
    keyward_core::audit_chain::verify(events).map(|head| to_hex(&head))
}
