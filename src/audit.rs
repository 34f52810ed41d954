//! Writing audit events: who did what to which resource, and how it ended.
//! Never a secret. A failure to write an event is logged, and does not undo
//! the action it describes. Failed verifications are counted and written in
//! batches ([`FailureCounter`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyward_store::{AuditOutcome, NewAuditEvent, Store, StoreError};

use crate::auth::Caller;
use crate::error::error_chain;

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
}

/// The hot case, kept apart: a gateway asking again and again about a known key that is
/// refused (revoked, expired, owner disabled). Counting one is a lookup by the key id's 20
/// characters in one of [`KEY_SHARDS`] maps: no allocation, no shared reference count
/// touched, and gateways on several cores seldom wait for the same lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct KeyFailure {
    id: [u8; 20],
    action: &'static str,
    reason: &'static str,
}

/// The names of a counted key, kept from its first failure; its resource name is made when
/// the counts are written.
#[derive(Debug)]
struct KeyCount {
    account_id: Arc<str>,
    user_id: Arc<str>,
    key_id: Arc<str>,
    count: u64,
}

/// How many maps the failures of API keys are spread over.
const KEY_SHARDS: usize = 8;

/// Failed verifications, counted in memory and written as one audit event per credential,
/// method and reason at each flush: a brute-force attack leaves a few rows saying how many
/// attempts failed, not one row per attempt.
#[derive(Debug, Clone, Default)]
pub struct FailureCounter {
    counts: Arc<Mutex<HashMap<FailureKind, u64>>>,
    keys: Arc<[Mutex<HashMap<KeyFailure, KeyCount>>; KEY_SHARDS]>,
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
        let Ok(id) = <[u8; 20]>::try_from(key_id.as_bytes()) else {
            // Not a key id of today's format: counted the slow way.
            let resource = crate::auth::principal::api_key_name(account_id, user_id, key_id);
            return self.count(account_id, &resource, action, reason);
        };
        let failure = KeyFailure { id, action, reason };
        let shard = &self.keys[usize::from(id[19]) % KEY_SHARDS];
        let Ok(mut counts) = shard.lock() else {
            return;
        };
        if let Some(counted) = counts.get_mut(&failure) {
            counted.count += 1;
            return;
        }
        if counts.len() >= MAX_FAILURE_KINDS / KEY_SHARDS {
            tracing::warn!(reason, "failure counter full; failure not audited");
            return;
        }
        counts.insert(
            failure,
            KeyCount {
                account_id: account_id.clone(),
                user_id: user_id.clone(),
                key_id: key_id.clone(),
                count: 1,
            },
        );
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
        let mut keys = Vec::new();
        for shard in self.keys.iter() {
            if let Ok(mut counts) = shard.lock() {
                keys.extend(std::mem::take(&mut *counts));
            }
        }
        for (failure, counted) in keys {
            let resource = crate::auth::principal::api_key_name(
                &counted.account_id,
                &counted.user_id,
                &counted.key_id,
            );
            write_failures(
                store,
                counted.account_id.to_string(),
                resource,
                failure.action,
                failure.reason,
                counted.count,
            )
            .await;
        }
        for (kind, count) in counts {
            let (account_id, resource) = match kind.against {
                Against::Resource {
                    account_id,
                    resource,
                } => (account_id, resource),
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
            write_failures(store, account_id, resource, kind.action, kind.reason, count).await;
        }
    }
}

/// Writes one counted event: `count` failed verifications of `resource` by `action`.
async fn write_failures(
    store: &Store,
    account_id: String,
    resource: String,
    action: &'static str,
    reason: &'static str,
    count: u64,
) {
    let attempts = if count == 1 { "attempt" } else { "attempts" };
    let event = NewAuditEvent {
        count: i64::try_from(count).unwrap_or(i64::MAX),
        account_id,
        actor: resource.clone(),
        delegate: None,
        action: action.to_owned(),
        resource,
        outcome: AuditOutcome::Failure,
        detail: format!("{count} failed verification {attempts}: {reason}"),
    };
    if let Err(err) = store.append_audit_event(event).await {
        tracing::error!(error = %error_chain(&err), "cannot write a failure audit event");
    }
}

#[cfg(test)]
mod tests {
    use keyward_store::PageRequest;

    use super::*;

    #[tokio::test]
    async fn failures_of_a_key_are_written_as_one_counted_event_per_method_and_reason() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let counter = FailureCounter::default();
        let (account, user, key): (Arc<str>, Arc<str>, Arc<str>) =
            ("acme".into(), "kai".into(), "0123456789abcdef0a9f".into());
        for _ in 0..3 {
            counter.count_api_key(&account, &user, &key, "/m", "REASON_REVOKED");
        }
        counter.count_api_key(&account, &user, &key, "/m", "REASON_EXPIRED");
        let odd: Arc<str> = "old-style".into();
        counter.count_api_key(&account, &user, &odd, "/m", "REASON_REVOKED");
        counter.flush(&store).await;
        counter.flush(&store).await;

        let page = PageRequest {
            after: None,
            limit: 100,
        };
        let mut events: Vec<(String, i64, String)> = store
            .list_audit_events("acme", page)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| (e.resource, e.count, e.detail))
            .collect();
        events.sort();
        let name = "accounts/acme/users/kai/apiKeys/0123456789abcdef0a9f";
        assert_eq!(
            events,
            [
                (
                    name.to_owned(),
                    1,
                    "1 failed verification attempt: REASON_EXPIRED".to_owned()
                ),
                (
                    name.to_owned(),
                    3,
                    "3 failed verification attempts: REASON_REVOKED".to_owned()
                ),
                (
                    "accounts/acme/users/kai/apiKeys/old-style".to_owned(),
                    1,
                    "1 failed verification attempt: REASON_REVOKED".to_owned()
                ),
            ],
            "one event per key, method and reason; a second flush writes nothing"
        );
    }
}
