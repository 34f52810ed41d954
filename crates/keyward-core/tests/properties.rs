//! Property tests of what parses untrusted input: the key format and the
//! `KEYWARD-HMAC-SHA256` header and canonical request. Round trips hold for every value,
//! any single changed character is refused, nothing panics, and two requests that differ
//! never share a canonical form.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyward_core::key::{Key, KeyKind};
use keyward_core::signing::{self, AuthorizationHeader, SignedRequest};
use proptest::prelude::*;
use secrecy::ExposeSecret as _;

const KINDS: [(KeyKind, &str); 3] = [
    (KeyKind::ApiKey, "ak"),
    (KeyKind::ClientSecret, "cs"),
    (KeyKind::EnrollmentToken, "et"),
];

/// A token spelled out from its parts, as the format's documentation says, independently
/// of `Key::to_token`.
fn token(kind: &str, id: &[u8; 10], secret: &[u8; 32]) -> String {
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let prefix = format!("kw_{kind}_{id}_");
    let mut crc = crc32fast::Hasher::new();
    crc.update(prefix.as_bytes());
    crc.update(secret);
    let mut payload = secret.to_vec();
    payload.extend_from_slice(&crc.finalize().to_be_bytes());
    format!("{prefix}{}", bs58::encode(payload).into_string())
}

/// Characters a key may contain.
const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

proptest! {
    #[test]
    fn every_key_round_trips(kind in 0_usize..3, id in any::<[u8; 10]>(), secret in any::<[u8; 32]>()) {
        let (kind, name) = KINDS[kind];
        let text = token(name, &id, &secret);
        let key = Key::parse(&text).unwrap();
        prop_assert_eq!(key.kind(), kind);
        prop_assert_eq!(key.id().to_bytes(), id);
        let again = key.to_token();
        prop_assert_eq!(again.expose_secret(), text.as_str());
        prop_assert_eq!(Key::peek_id(&text).unwrap(), (kind, id));
    }

    #[test]
    fn any_single_changed_character_is_refused(
        kind in 0_usize..3,
        id in any::<[u8; 10]>(),
        secret in any::<[u8; 32]>(),
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(KEY_CHARS),
    ) {
        let text = token(KINDS[kind].1, &id, &secret);
        let at = at.index(text.len());
        prop_assume!(text.as_bytes()[at] != replacement);
        let mut changed = text.into_bytes();
        changed[at] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        prop_assert!(Key::parse(&changed).is_err(), "{} parsed", changed);
    }

    #[test]
    fn arbitrary_text_never_panics_the_key_parser(text in "\\PC{0,120}") {
        let _ = Key::parse(&text);
        let _ = Key::peek_id(&text);
        let _ = Key::parse_kind(&text, KeyKind::ApiKey);
    }

    #[test]
    fn arbitrary_text_never_panics_the_header_parser(text in "\\PC{0,300}") {
        let _ = AuthorizationHeader::parse(&text);
    }
}

/// A valid request's fields.
fn request_fields() -> impl Strategy<Value = (String, i64, String, String, String, String, [u8; 32])>
{
    (
        "[A-Za-z0-9._-]{1,40}",
        0_i64..4_000_000_000,
        "[A-Za-z0-9_-]{16,64}",
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]).prop_map(str::to_owned),
        "/[a-z0-9/._-]{0,30}",
        "([a-z]{1,5}=[a-z0-9]{0,5}(&[a-z]{1,5}=[a-z0-9]{0,5}){0,3})?",
        any::<[u8; 32]>(),
    )
}

fn body_hex(body: &[u8; 32]) -> String {
    signing::body_sha256(body)
}

proptest! {
    #[test]
    fn a_signed_header_round_trips_and_any_changed_character_changes_or_breaks_it(
        (client_id, timestamp, nonce, method, path, query, body) in request_fields(),
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(b"ABCDEFabcdef0123456789=,_- ".as_slice()),
    ) {
        let secret = Key::generate(KeyKind::ClientSecret).unwrap();
        let body = body_hex(&body);
        let request = SignedRequest { method: &method, path: &path, query: &query, body_sha256: &body };
        let header = signing::sign(&secret, &client_id, timestamp, &nonce, &request).unwrap();
        let value = header.to_header_value();
        let parsed = AuthorizationHeader::parse(&value).unwrap();
        prop_assert_eq!(&parsed, &header);
        prop_assert!(signing::verify(&secret, &parsed, &request).unwrap());

        let at = at.index(value.len());
        prop_assume!(value.as_bytes()[at] != replacement);
        let mut changed = value.clone().into_bytes();
        changed[at] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        match AuthorizationHeader::parse(&changed) {
            Err(_) => {}
            Ok(other) => {
                prop_assert_ne!(&other, &header, "{} parsed as the original", changed);
                // A header that still parses no longer verifies (or is refused as invalid).
                prop_assert!(!signing::verify(&secret, &other, &request).unwrap_or(false));
            }
        }
    }

    #[test]
    fn two_different_requests_never_share_a_canonical_form(
        a in request_fields(),
        b in request_fields(),
    ) {
        let canonical = |(client_id, timestamp, nonce, method, path, query, body): &(String, i64, String, String, String, String, [u8; 32])| {
            let body = body_hex(body);
            let request = SignedRequest { method, path, query, body_sha256: &body };
            signing::canonical_request(client_id, *timestamp, nonce, &request).unwrap()
        };
        // The query is canonicalised (its parameters sorted), so compare requests by their
        // parameters as a set of pairs.
        let normalised = |fields: &(String, i64, String, String, String, String, [u8; 32])| {
            let mut pairs: Vec<&str> = fields.5.split('&').filter(|p| !p.is_empty()).collect();
            pairs.sort_unstable();
            (fields.0.clone(), fields.1, fields.2.clone(), fields.3.clone(), fields.4.clone(), pairs.join("&"), fields.6)
        };
        if normalised(&a) != normalised(&b) {
            prop_assert_ne!(canonical(&a), canonical(&b));
        } else {
            prop_assert_eq!(canonical(&a), canonical(&b));
        }
    }
}
