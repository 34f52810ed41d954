//! Writing audit events: who did what to which resource, and how it ended.
//! Never a secret. A failure to write an event is logged, and does not undo
//! the action it describes. Failed verifications are counted and written in
//! batches ([`FailureCounter`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyward_store::{AuditOutcome, NewAuditEvent, Store, StoreError};

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
        count: 1,
        account_id: account_id.to_owned(),
        actor: caller.principal.name(),
        delegate: caller.principal.delegate.clone(),
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
    against: Against,
    action: &'static str,
    reason: &'static str,
}

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Against {
    /// A credential or key, by account and resource name.
    Resource {
        account_id: String,
        resource: String,
    },
    /// The credential a presented Client ID names, if any: resolved when the counts are
    /// written, so that answering costs the same whether the Client ID exists or not.
    ClientId(String),
    /// An API key: its resource name is made when the counts are written (counting a
    /// flood of refusals allocates nothing new per refusal).
    ApiKey {
        account_id: Arc<str>,
        user_id: Arc<str>,
        key_id: Arc<str>,
    },
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
        self.add(FailureKind {
            against: Against::Resource {
                account_id: account_id.to_owned(),
                resource: resource.to_owned(),
            },
            action,
            reason,
        });
    }

    /// Counts one failed verification of the API key `key_id` of `user_id` in `account_id`.
    pub fn count_api_key(
        &self,
        account_id: &Arc<str>,
        user_id: &Arc<str>,
        key_id: &Arc<str>,
        action: &'static str,
        reason: &'static str,
    ) {
        self.add(FailureKind {
            against: Against::ApiKey {
                account_id: account_id.clone(),
                user_id: user_id.clone(),
                key_id: key_id.clone(),
            },
            action,
            reason,
        });
    }

    /// Counts one failed verification of a secret presented for the Client ID `client_id`
    /// whose credential was not identified (the secret names no version of it); it is
    /// written against that Client ID's credential, if it has one, at the next flush.
    pub fn count_client_id(&self, client_id: &str, action: &'static str, reason: &'static str) {
        self.add(FailureKind {
            against: Against::ClientId(client_id.to_owned()),
            action,
            reason,
        });
    }

    fn add(&self, kind: FailureKind) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if counts.len() >= MAX_FAILURE_KINDS && !counts.contains_key(&kind) {
            tracing::warn!(
                reason = kind.reason,
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
            let (account_id, resource) = match kind.against {
                Against::Resource {
                    account_id,
                    resource,
                } => (account_id, resource),
                Against::ApiKey {
                    account_id,
                    user_id,
                    key_id,
                } => (
                    account_id.to_string(),
                    crate::auth::principal::api_key_name(&account_id, &user_id, &key_id),
                ),
                Against::ClientId(client_id) => {
                    match store.get_credential_by_client_id(&client_id).await {
                        Ok(credential) => {
                            let resource = format!(
                                "accounts/{}/credentials/{}",
                                credential.account_id, credential.id
                            );
                            (credential.account_id, resource)
                        }
                        // Nobody's credential: nothing to audit.
                        Err(StoreError::NotFound { .. }) => continue,
                        Err(err) => {
                            tracing::error!(error = %error_chain(&err), "cannot attribute failed verifications");
                            continue;
                        }
                    }
                }
            };
            let attempts = if count == 1 { "attempt" } else { "attempts" };
            let event = NewAuditEvent {
                count: i64::try_from(count).unwrap_or(i64::MAX),
                account_id,
                actor: resource.clone(),
                delegate: None,
                action: kind.action.to_owned(),
                resource,
                outcome: AuditOutcome::Failure,
                detail: format!("{count} failed verification {attempts}: {}", kind.reason),
            };
            if let Err(err) = store.append_audit_event(event).await {
                tracing::error!(error = %error_chain(&err), "cannot write a failure audit event");
            }
        }
    }
}
