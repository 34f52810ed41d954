#!/usr/bin/env python3
"""Writes hmac-sha256-vectors.json: the KEYWARD-HMAC-SHA256 test vectors.

An independent implementation of the scheme (Python 3 standard library only; it shares
no code with the Rust crate), kept so the vectors can be checked and regenerated:

    python3 generate_hmac_vectors.py > hmac-sha256-vectors.json
"""

import hashlib
import hmac
import json
import sys
import zlib

SCHEME = "KEYWARD-HMAC-SHA256"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
HEX = "0123456789abcdefABCDEF"


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = BASE58[rest] + digits
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + digits


def client_secret_token(key_id: str, secret: bytes) -> str:
    """kw_cs_{id}_{base58(secret ‖ big-endian CRC32 of 'kw_cs_{id}_' ‖ secret)}."""
    assert len(secret) == 32 and len(key_id) == 20
    prefix = f"kw_cs_{key_id}_"
    checksum = zlib.crc32(prefix.encode() + secret).to_bytes(4, "big")
    return prefix + base58(secret + checksum)


def reencode(text: str) -> str:
    """Percent-decode ('+' stays '+'), then percent-encode all but RFC 3986 unreserved."""
    raw = text.encode("ascii")
    decoded = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == ord("%"):
            escape = raw[i + 1 : i + 3].decode()
            assert len(escape) == 2 and all(c in HEX for c in escape), text
            decoded.append(int(escape, 16))
            i += 3
        else:
            decoded.append(raw[i])
            i += 1
    return "".join(chr(b) if b in UNRESERVED else "%%%02X" % b for b in decoded)


def canonical_query(query: str) -> str:
    pairs = []
    for segment in query.split("&"):
        if not segment:
            continue
        key, _, value = segment.partition("=")
        pairs.append((reencode(key), reencode(value)))
    pairs.sort(key=lambda pair: (pair[0].encode(), pair[1].encode()))
    return "&".join(f"{key}={value}" for key, value in pairs)


def vector(name, key_id, secret, client_id, timestamp, nonce, method, path, query, body):
    body_sha256 = hashlib.sha256(body.encode("utf-8")).hexdigest()
    canonical = "\n".join(
        [
            SCHEME,
            client_id,
            str(timestamp),
            nonce,
            method,
            path,
            canonical_query(query),
            body_sha256,
        ]
    )
    signature = hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (
        f"{SCHEME} Credential={client_id}, Timestamp={timestamp}, "
        f"Nonce={nonce}, Signature={signature}"
    )
    return {
        "name": name,
        "secret": client_secret_token(key_id, secret),
        "secret_bytes_hex": secret.hex(),
        "client_id": client_id,
        "timestamp": timestamp,
        "nonce": nonce,
        "method": method,
        "path": path,
        "query": query,
        "body": body,
        "body_sha256": body_sha256,
        "canonical_request": canonical,
        "signature": signature,
        "authorization": authorization,
    }


COUNTING = bytes(range(32))  # 00 01 … 1f
ALL_FF = bytes([0xFF] * 32)
DESCENDING = bytes(range(0xFF, 0xFF - 32, -1))  # ff fe … e0

VECTORS = [
    vector(
        "get-without-query-or-body",
        "0123456789abcdef0123", COUNTING,
        "acme-ci", 1767225600, "AAAAAAAAAAAAAAAAAAAAAA",
        "GET", "/v1/accounts/acme", "", "",
    ),
    vector(
        "post-with-json-body",
        "0123456789abcdef0123", COUNTING,
        "acme-ci", 1767225601, "n0nce_with-dash_and_underscore",
        "POST", "/v1/accounts/acme/apiKeys", "",
        '{"displayName":"ci","expireTime":"2030-01-01T00:00:00Z"}',
    ),
    vector(
        "query-sorted-and-reencoded",
        "ffffffffffffffffffff", ALL_FF,
        "client.v2_test-1", 1700000000, "0123456789abcdef0123456789abcdef",
        "GET", "/v1/search", "b=2&a=1&a=0&sp=a%20b&plus=a+b&utf=%C3%A9", "",
    ),
    vector(
        "empty-query-trailing-slash",
        "ffffffffffffffffffff", ALL_FF,
        "client.v2_test-1", 1700000001, "trailing-slash-nonce",
        "DELETE", "/v1/accounts/acme/", "", "",
    ),
    vector(
        "unicode-body",
        "a1b2c3d4e5f60718293a", DESCENDING,
        "unicode", 1767225602, "unicode_body_nonce_0001",
        "PUT", "/v1/notes/1", "",
        '{"text":"héllo wörld — ✓ 日本語 🚀","newline":"a\\nb"}\n',
    ),
    vector(
        "key-only-query-param",
        "a1b2c3d4e5f60718293a", DESCENDING,
        "unicode", 1767225603, "key-only-query-nonce",
        "GET", "/v1/items", "verbose&&limit=10&", "",
    ),
    vector(
        "escapes-normalised",
        "0123456789abcdef0123", COUNTING,
        "acme-ci", 0, "escapes-normalised-nonce",
        "PATCH", "/v1/a%2Fb/~c", "q=%7e%2f%41&k%20ey=v=w&z=&Z=1&%2B=+", "",
    ),
]

if __name__ == "__main__":
    json.dump(VECTORS, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
