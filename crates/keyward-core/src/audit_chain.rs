//! The hash chain of an account's audit log: the one canonical form of an event, shared by
//! the server that writes the chain and every client that checks an export offline.
//!
//! Each account's events are numbered 1, 2, 3… (`sequence`) and chained:
//!
//! ```text
//! hash(n) = SHA-256( hash(n-1) ‖ canonical(event n) )      hash(0) = 32 zero bytes
//! ```
//!
//! `canonical(event)` is, byte for byte, the ASCII tag `keyward.audit.v1` followed by ten
//! fields, each as a 4-byte big-endian length and that many bytes of UTF-8:
//!
//! 1. the account ID (`acme`);
//! 2. the sequence number in decimal ASCII (`1`);
//! 3. the time in RFC 3339, UTC, with exactly six fractional digits
//!    (`2026-12-06T04:05:06.123456Z`);
//! 4. the actor's resource name;
//! 5. the delegate's resource name, empty when there is none;
//! 6. the action (the RPC's full method name);
//! 7. the resource's name;
//! 8. the outcome as stored (`success`, `failure` or `denied`);
//! 9. the count in decimal ASCII;
//! 10. the detail.
//!
//! Hashes are written as 64 lowercase hex digits. Because every event carries the hash of
//! the one before, changing, deleting, inserting or reordering any stored event breaks the
//! chain at that event; [`verify`] says where. The vectors in
//! `testdata/audit-chain-vectors.json` were computed by an independent implementation
//! (`testdata/generate_audit_chain_vectors.py`).

use sha2::{Digest, Sha256};

/// The event time's canonical form as a `chrono` (strftime) format: RFC 3339, UTC, six
/// fractional digits, `2026-12-06T04:05:06.123456Z`. Every writer and reader of the chain
/// formats times with it.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// The hash before an account's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The tag every canonical form starts with.
const TAG: &[u8] = b"keyward.audit.v1";

/// One audit event as the chain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    /// The account.
    pub account_id: String,
    /// Its place in the account's chain, from 1.
    pub sequence: i64,
    /// RFC 3339, UTC, six fractional digits.
    pub time: String,
    /// Who acted.
    pub actor: String,
    /// The front end that acted for `actor`, or empty.
    pub delegate: String,
    /// What was done.
    pub action: String,
    /// To what.
    pub resource: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// How many identical events the row stands for.
    pub count: i64,
    /// Free-form detail.
    pub detail: String,
}

impl ChainedEvent {
    /// The canonical bytes of the event (see the module documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let sequence = self.sequence.to_string();
        let count = self.count.to_string();
        let fields: [&str; 10] = [
            &self.account_id,
            &sequence,
            &self.time,
            &self.actor,
            &self.delegate,
            &self.action,
            &self.resource,
            &self.outcome,
            &count,
            &self.detail,
        ];
        let mut bytes =
            Vec::with_capacity(TAG.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>());
        bytes.extend_from_slice(TAG);
        for field in fields {
            // Every field is far below 4 GiB: the server bounds what it stores.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes
    }

    /// This event's hash, following `previous`.
    pub fn hash(&self, previous: &[u8; 32]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(self.canonical_bytes());
        hasher.finalize().into()
    }
}

/// 64 lowercase hex digits.
pub fn to_hex(hash: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in hash {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// An exported event: the event, and the hashes the server stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedEvent {
    /// The event.
    pub event: ChainedEvent,
    /// The hash of the event before it, as stored (hex).
    pub prev_hash: String,
    /// Its own hash, as stored (hex).
    pub hash: String,
}

/// Where and why a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the chain breaks at event {position} (sequence {sequence}): {reason}")]
pub struct ChainBreak {
    /// The event's position in the export, from 1.
    pub position: usize,
    /// The sequence number the event claims.
    pub sequence: i64,
    /// What is wrong.
    pub reason: String,
}

/// Checks an export of one account's events, in export order: sequences 1, 2, 3… with no
/// gap, each event's `prev_hash` the hash of the one before (the first: [`GENESIS`]), and
/// each stored hash the hash of its canonical bytes. Returns the head hash, or where the
/// chain first breaks.
pub fn verify<'a>(
    events: impl IntoIterator<Item = &'a ExportedEvent>,
) -> Result<[u8; 32], ChainBreak> {
    let mut previous = GENESIS;
    let mut account: Option<&str> = None;
    for (at, exported) in events.into_iter().enumerate() {
        let event = &exported.event;
        let position = at + 1;
        let broken = |reason: String| ChainBreak {
            position,
            sequence: event.sequence,
            reason,
        };
        if let Some(account) = account
            && account != event.account_id
        {
            return Err(broken(format!(
                "it belongs to account {}, the export to {account}",
                event.account_id
            )));
        }
        account = Some(&event.account_id);
        let expected_sequence = i64::try_from(position).unwrap_or(i64::MAX);
        if event.sequence != expected_sequence {
            return Err(broken(format!(
                "its sequence number is {}, {expected_sequence} was expected (an event is missing, added or moved)",
                event.sequence
            )));
        }
        if exported.prev_hash != to_hex(&previous) {
            return Err(broken(
                "its previous hash is not the hash of the event before it".to_owned(),
            ));
        }
        let hash = event.hash(&previous);
        if exported.hash != to_hex(&hash) {
            return Err(broken(
                "its content does not hash to its stored hash (the event was changed)".to_owned(),
            ));
        }
        previous = hash;
    }
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(sequence: i64, detail: &str) -> ChainedEvent {
        ChainedEvent {
            account_id: "acme".into(),
            sequence,
            time: "2026-12-06T04:05:06.123456Z".into(),
            actor: "accounts/acme/users/alice".into(),
            delegate: String::new(),
            action: "/keyward.v1.ApiKeyService/CreateApiKey".into(),
            resource: "accounts/acme/users/alice/apiKeys/k".into(),
            outcome: "success".into(),
            count: 1,
            detail: detail.into(),
        }
    }

    fn chain(details: &[&str]) -> Vec<ExportedEvent> {
        let mut previous = GENESIS;
        details
            .iter()
            .enumerate()
            .map(|(at, detail)| {
                let event = event(i64::try_from(at).unwrap() + 1, detail);
                let hash = event.hash(&previous);
                let exported = ExportedEvent {
                    event,
                    prev_hash: to_hex(&previous),
                    hash: to_hex(&hash),
                };
                previous = hash;
                exported
            })
            .collect()
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let mut a = event(1, "x");
        a.actor = "ab".into();
        a.delegate = "c".into();
        let mut b = a.clone();
        b.actor = "a".into();
        b.delegate = "bc".into();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn a_changed_deleted_or_moved_event_breaks_the_chain_exactly_there() {
        let good = chain(&["a", "b", "c", "d"]);
        assert!(verify(&good).is_ok());

        let mut changed = good.clone();
        changed[2].event.detail = "C".into();
        assert_eq!(verify(&changed).unwrap_err().position, 3);

        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted).unwrap_err().position, 2);

        let mut moved = good.clone();
        moved.swap(1, 2);
        assert_eq!(verify(&moved).unwrap_err().position, 2);

        // Renumbered after a deletion: the previous hash gives it away.
        let mut renumbered = good;
        renumbered.remove(1);
        for (at, e) in renumbered.iter_mut().enumerate() {
            e.event.sequence = i64::try_from(at).unwrap() + 1;
        }
        let broken = verify(&renumbered).unwrap_err();
        assert_eq!(broken.position, 2, "{broken}");
    }
}
