//! The published KEYWARD-HMAC-SHA256 test vectors (`testdata/hmac-sha256-vectors.json`,
//! computed independently in Python) against this implementation.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use keyward_core::key::{Key, KeyKind};
use keyward_core::signing::{self, AuthorizationHeader, SignedRequest};
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    secret: String,
    secret_bytes_hex: String,
    client_id: String,
    timestamp: i64,
    nonce: String,
    method: String,
    path: String,
    query: String,
    body: String,
    body_sha256: String,
    canonical_request: String,
    signature: String,
    authorization: String,
}

impl Vector {
    fn request(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            body_sha256: &self.body_sha256,
        }
    }
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/hmac-sha256-vectors.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn there_are_enough_vectors_with_distinct_names() {
    let vectors = vectors();
    assert!(vectors.len() >= 6);
    let mut names: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), vectors.len());
}

#[test]
fn secrets_are_client_secret_tokens_of_the_listed_bytes() {
    for vector in vectors() {
        let key = Key::parse_kind(&vector.secret, KeyKind::ClientSecret).unwrap();
        assert_eq!(
            hex(key.expose_secret()),
            vector.secret_bytes_hex,
            "{}",
            vector.name
        );
        assert_eq!(
            key.to_token().expose_secret(),
            vector.secret,
            "{}",
            vector.name
        );
    }
}

#[test]
fn body_digests_match() {
    for vector in vectors() {
        assert_eq!(
            signing::body_sha256(vector.body.as_bytes()),
            vector.body_sha256,
            "{}",
            vector.name
        );
    }
}

#[test]
fn canonical_requests_match() {
    for vector in vectors() {
        let canonical = signing::canonical_request(
            &vector.client_id,
            vector.timestamp,
            &vector.nonce,
            &vector.request(),
        )
        .unwrap();
        assert_eq!(canonical, vector.canonical_request, "{}", vector.name);
    }
}

#[test]
fn signatures_and_headers_match() {
    for vector in vectors() {
        let key = Key::parse(&vector.secret).unwrap();
        let header = signing::sign(
            &key,
            &vector.client_id,
            vector.timestamp,
            &vector.nonce,
            &vector.request(),
        )
        .unwrap();
        assert_eq!(hex(&header.signature), vector.signature, "{}", vector.name);
        assert_eq!(
            header.to_header_value(),
            vector.authorization,
            "{}",
            vector.name
        );
    }
}

#[test]
fn published_headers_parse_and_verify() {
    for vector in vectors() {
        let key = Key::parse(&vector.secret).unwrap();
        let header = AuthorizationHeader::parse(&vector.authorization).unwrap();
        assert_eq!(header.client_id, vector.client_id, "{}", vector.name);
        assert_eq!(header.timestamp, vector.timestamp, "{}", vector.name);
        assert_eq!(header.nonce, vector.nonce, "{}", vector.name);
        assert_eq!(hex(&header.signature), vector.signature, "{}", vector.name);
        assert_eq!(header.to_header_value(), vector.authorization);
        assert!(
            signing::verify(&key, &header, &vector.request()).unwrap(),
            "{}",
            vector.name
        );
    }
}

#[test]
fn published_headers_do_not_verify_with_another_vectors_secret() {
    let vectors = vectors();
    for vector in &vectors {
        let header = AuthorizationHeader::parse(&vector.authorization).unwrap();
        for other in vectors.iter().filter(|o| o.secret != vector.secret) {
            let key = Key::parse(&other.secret).unwrap();
            assert!(!signing::verify(&key, &header, &vector.request()).unwrap());
        }
    }
}
