//! The audit chain against `testdata/audit-chain-vectors.json`, computed by an independent
//! Python implementation.
#![allow(clippy::expect_used, reason = "a test fails loudly")]

use keyward_core::audit_chain::{ChainedEvent, ExportedEvent, GENESIS, to_hex, verify};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    chain: Vec<Link>,
}

#[derive(Deserialize)]
struct Link {
    event: Event,
    canonical_hex: String,
    prev_hash: String,
    hash: String,
}

#[derive(Deserialize)]
struct Event {
    account_id: String,
    sequence: i64,
    time: String,
    actor: String,
    delegate: String,
    action: String,
    resource: String,
    outcome: String,
    count: i64,
    detail: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_chain_reproduces_the_published_vectors() {
    let text = include_str!("../testdata/audit-chain-vectors.json");
    let vectors: Vectors = serde_json::from_str(text).expect("the vectors parse");
    assert_eq!(vectors.chain.len(), 3);
    let mut previous = GENESIS;
    let mut exported = Vec::new();
    for link in vectors.chain {
        let e = link.event;
        let event = ChainedEvent {
            account_id: e.account_id,
            sequence: e.sequence,
            time: e.time,
            actor: e.actor,
            delegate: e.delegate,
            action: e.action,
            resource: e.resource,
            outcome: e.outcome,
            count: e.count,
            detail: e.detail,
        };
        assert_eq!(hex(&event.canonical_bytes()), link.canonical_hex);
        assert_eq!(to_hex(&previous), link.prev_hash);
        let hash = event.hash(&previous);
        assert_eq!(to_hex(&hash), link.hash, "event {}", event.sequence);
        previous = hash;
        exported.push(ExportedEvent {
            event,
            prev_hash: link.prev_hash,
            hash: link.hash,
        });
    }
    assert_eq!(verify(&exported).expect("the chain holds"), previous);
}
