#!/usr/bin/env python3
"""Writes audit-chain-vectors.json: test vectors of the audit log's hash chain.

An independent implementation of the canonical form and the chain (Python 3 standard
library only; it shares no code with the Rust crate), kept so the vectors can be checked
and regenerated:

    python3 generate_audit_chain_vectors.py > audit-chain-vectors.json

canonical(event) = b"keyward.audit.v1" followed by ten fields, each a 4-byte big-endian
length and that many UTF-8 bytes: account_id, sequence (decimal), time, actor, delegate,
action, resource, outcome, count (decimal), detail.
hash(n) = SHA-256(hash(n-1) || canonical(event n)), hash(0) = 32 zero bytes.
"""

import hashlib
import json
import struct
import sys

FIELDS = ["account_id", "sequence", "time", "actor", "delegate", "action",
          "resource", "outcome", "count", "detail"]


def canonical(event: dict) -> bytes:
    out = b"keyward.audit.v1"
    for name in FIELDS:
        value = str(event[name]).encode("utf-8")
        out += struct.pack(">I", len(value)) + value
    return out


EVENTS = [
    {"account_id": "acme", "sequence": 1, "time": "2026-12-06T04:05:06.123456Z",
     "actor": "accounts/operator/users/admin", "delegate": "",
     "action": "/keyward.v1.AccountService/CreateAccount", "resource": "accounts/acme",
     "outcome": "success", "count": 1, "detail": "account created"},
    {"account_id": "acme", "sequence": 2, "time": "2026-12-06T04:05:07.000000Z",
     "actor": "accounts/acme/users/carol",
     "delegate": "accounts/acme/users/alice/apiKeys/0123456789abcdef0123",
     "action": "/keyward.v1.ApiKeyService/CreateApiKey",
     "resource": "accounts/acme/users/carol/apiKeys/00112233445566778899",
     "outcome": "success", "count": 1, "detail": "API key created"},
    {"account_id": "acme", "sequence": 3, "time": "2026-12-06T04:06:00.999999Z",
     "actor": "accounts/acme/users/alice/apiKeys/0123456789abcdef0123", "delegate": "",
     "action": "/keyward.v1.ApiKeyService/VerifyApiKey",
     "resource": "accounts/acme/users/carol/apiKeys/00112233445566778899",
     "outcome": "failure", "count": 42,
     "detail": "42 failed verifications: REASON_REVOKED\nline two, ünïcode ✓"},
]

previous = bytes(32)
chain = []
for event in EVENTS:
    data = canonical(event)
    digest = hashlib.sha256(previous + data).digest()
    chain.append({"event": event, "canonical_hex": data.hex(),
                  "prev_hash": previous.hex(), "hash": digest.hex()})
    previous = digest

json.dump({"description": __doc__.strip().splitlines()[0], "chain": chain}, sys.stdout,
          indent=2, ensure_ascii=False)
sys.stdout.write("\n")
