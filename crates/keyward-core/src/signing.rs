//! `KEYWARD-HMAC-SHA256`: how an API client signs an HTTP request with its client secret,
//! and how Keyward checks the signature.
//!
//! This documentation is the specification. The client SDK (signing) and the server
//! (verifying) both use this module, and implementations in other languages must follow
//! the text below exactly; `crates/keyward-core/testdata/hmac-sha256-vectors.json` holds
//! published test vectors (see the `README.md` next to it).
//!
//! # Overview
//!
//! A client holds a client id and a client secret (a `kw_cs_…` token, see
//! [`crate::key`]). For every request it
//!
//! 1. picks the current time in Unix seconds and a fresh random nonce,
//! 2. builds the *canonical request* from those, its client id and the HTTP request,
//! 3. computes `HMAC-SHA256(secret bytes, canonical request)`, and
//! 4. sends the `Authorization` header
//!
//! ```text
//! KEYWARD-HMAC-SHA256 Credential=<client id>, Timestamp=<unix seconds>, Nonce=<nonce>, Signature=<64 lowercase hex>
//! ```
//!
//! The server parses the header, looks up the secret of the client id, rebuilds the
//! canonical request from the request it received and compares the signatures in
//! constant time.
//!
//! # Fields
//!
//! Every field is checked on both sides; a request with a field outside its rule cannot be
//! signed and is refused when verifying.
//!
//! | Field | Rule |
//! |---|---|
//! | client id | 1 to 128 characters of `A-Z a-z 0-9 . _ -` |
//! | timestamp | Unix time in whole seconds: decimal digits only, 1 to 12 of them, no sign, no leading zero (`0` itself is allowed); so `0 ..= 999999999999` |
//! | nonce | 16 to 64 characters of `A-Z a-z 0-9 _ -` (base64url without padding, or hex, both fit); unique per request |
//! | method | an RFC 9110 token (`A-Z a-z 0-9` and ``! # $ % & ' * + - . ^ _ ` \| ~``), 1 to 32 characters, with no lowercase letter. Methods are case-sensitive, so `get` is refused rather than changed into `GET` |
//! | path | starts with `/`; only visible ASCII (`0x21 ..= 0x7E`: no space, no control character, no non-ASCII byte), and neither `?` nor `#`. Used exactly as sent on the wire: not decoded, not normalised (`/a/../b`, `/a//b`, `/a/` and `%7e` are all kept as they are) |
//! | query | the raw query string after `?`, without the `?` (empty if there is none); only visible ASCII and no `#`; every `%` starts a well-formed escape (`%` and two hex digits, either case) |
//! | body digest | the SHA-256 of the exact body bytes (empty body: SHA-256 of nothing), as 64 lowercase hex characters |
//! | signature | 32 bytes, written as 64 lowercase hex characters |
//!
//! # Canonical query
//!
//! 1. Split the raw query on `&`; drop empty segments (so `a=1&&b=2&` has two).
//! 2. Split each segment at its *first* `=` into key and value; a segment without `=` is a
//!    key with an empty value (`flag` becomes `flag=`).
//! 3. Percent-decode key and value into bytes: `%XX` (hex, either case) becomes the byte
//!    `0xXX`, every other character stays as it is. In particular `+` stays `+`: it is
//!    *not* a space.
//! 4. Re-encode both per RFC 3986: the unreserved bytes `A-Z a-z 0-9 - . _ ~` as
//!    themselves, every other byte as `%` and two **uppercase** hex digits. (So a space is
//!    `%20`, `+` is `%2B`, `=` inside a value is `%3D`, `é` is `%C3%A9`.)
//! 5. Sort the `key=value` pairs by encoded key, then by encoded value, comparing bytes.
//!    Repeated keys are all kept.
//! 6. Join them as `key=value` with `&`. No pairs: the empty string.
//!
//! For example `b=2&a=1&a=0&sp=a%20b&plus=a+b&utf=%C3%A9` becomes
//! `a=0&a=1&b=2&plus=a%2Bb&sp=a%20b&utf=%C3%A9`.
//!
//! The signature therefore covers the query's *meaning under RFC 3986*, not its bytes: a
//! server must read the query the same way, or an intermediary could change it without
//! breaking the signature. In particular it must not decode `+` as a space (HTML form
//! decoding), since `+` and `%2B` sign alike, and must treat `flag` and `flag=` alike.
//!
//! # Canonical request
//!
//! Eight lines joined by a single `\n` (0x0A), with no newline after the last:
//!
//! ```text
//! KEYWARD-HMAC-SHA256
//! <client id>
//! <timestamp, decimal>
//! <nonce>
//! <method>
//! <path>
//! <canonical query>
//! <body digest>
//! ```
//!
//! No field can contain `\n` (see the rules above; the canonical query only holds
//! unreserved characters, `%`, `=` and `&`), so the canonical request splits back into
//! exactly the eight fields it was made of. Two requests therefore share a canonical
//! request only if they agree on client id, timestamp, nonce, method, path and body, and
//! their queries are equivalent under the canonicalization above (same pairs in any
//! order, `%7E` and `~`, `flag` and `flag=`, empty segments): moving characters from the
//! path into the query, or from the method into the path, changes the signed text.
//!
//! # Signature
//!
//! `signature = HMAC-SHA256(key, canonical request as UTF-8 bytes)` (RFC 2104), where
//! `key` is the 32 secret bytes of the client secret, i.e. the first 32 of the 36 bytes
//! that the base58 body of the `kw_cs_` token decodes to (not the token text). It is
//! written as 64 lowercase hex characters.
//!
//! # Authorization header
//!
//! Exactly `KEYWARD-HMAC-SHA256`, one space, then the four parameters `Credential`,
//! `Timestamp`, `Nonce`, `Signature`, in that order, each `Name=value`, separated by a
//! comma and one space. Values are not quoted. Parsers must be strict: the scheme word is
//! case-sensitive; headers longer than 1024 bytes, any whitespace other than those single
//! spaces, missing, repeated, unknown or reordered parameters, and values outside their
//! rule are refused.
//!
//! # What the verifier must also do
//!
//! A valid signature proves that the holder of the secret signed this canonical request;
//! it does not stop replays. Outside this module the server must refuse timestamps too far
//! from its clock and remember nonces (per client id) for at least that window. The client
//! id in the header decides which secret is used; a client id without a secret must be
//! refused the same way as a wrong signature.
//!
//! # Example
//!
//! ```
//! use keyward_core::key::{Key, KeyKind};
//! use keyward_core::signing::{self, AuthorizationHeader, SignedRequest};
//!
//! let secret = Key::generate(KeyKind::ClientSecret)?;
//! let body = br#"{"displayName":"ci"}"#;
//! let digest = signing::body_sha256(body);
//! let request = SignedRequest {
//!     method: "POST",
//!     path: "/v1/accounts/acme/apiKeys",
//!     query: "validate_only=true",
//!     body_sha256: &digest,
//! };
//!
//! // Client side.
//! let nonce = signing::new_nonce()?;
//! let header = signing::sign(&secret, "acme-ci", 1_767_225_600, &nonce, &request)?;
//! let value = header.to_header_value();
//!
//! // Server side.
//! let parsed = AuthorizationHeader::parse(&value)?;
//! assert_eq!(parsed.client_id, "acme-ci");
//! assert!(signing::verify(&secret, &parsed, &request)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::key::{Key, KeyError, KeyKind, random_bytes};

/// The scheme word that starts the `Authorization` header and the canonical request.
pub const SCHEME: &str = "KEYWARD-HMAC-SHA256";

/// Headers longer than this many bytes are refused before parsing.
pub const MAX_HEADER_LEN: usize = 1024;

/// Longest client id, in characters.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// Shortest nonce, in characters.
pub const MIN_NONCE_LEN: usize = 16;

/// Longest nonce, in characters.
pub const MAX_NONCE_LEN: usize = 64;

/// Largest timestamp that fits the header's 12 digits.
pub const MAX_TIMESTAMP: i64 = 999_999_999_999;

/// Longest method, in characters.
const MAX_METHOD_LEN: usize = 32;

/// Parameter names of the header, in their required order.
const PARAMETERS: [&str; 4] = ["Credential", "Timestamp", "Nonce", "Signature"];

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

type HmacSha256 = Hmac<Sha256>;

/// The parts of an HTTP request that the signature covers, as sent on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `GET`: an uppercase RFC 9110 token.
    pub method: &'a str,
    /// The path as sent, starting with `/`, without query or fragment.
    pub path: &'a str,
    /// The raw query string without the leading `?`; empty when there is none.
    pub query: &'a str,
    /// The SHA-256 of the body as 64 lowercase hex characters; see [`body_sha256`].
    pub body_sha256: &'a str,
}

/// A parsed `Authorization: KEYWARD-HMAC-SHA256 …` header.
///
/// Nothing in it is secret: the signature is a MAC over public data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// The `Credential` parameter: which client signed, and so which secret verifies.
    pub client_id: String,
    /// The `Timestamp` parameter: when the client signed, in Unix seconds.
    pub timestamp: i64,
    /// The `Nonce` parameter: unique per request, against replays.
    pub nonce: String,
    /// The `Signature` parameter: HMAC-SHA256 of the canonical request.
    pub signature: [u8; 32],
}

impl AuthorizationHeader {
    /// Parses the value of an `Authorization` header, strictly (see the module
    /// documentation): nothing is trimmed, reordered or unescaped.
    ///
    /// # Errors
    ///
    /// A [`SigningError`] naming the first part that is wrong, without repeating the input.
    pub fn parse(value: &str) -> Result<Self, SigningError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(SigningError::HeaderTooLong);
        }
        let parameters = value
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or(SigningError::UnknownScheme)?;
        if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
            || value.contains("  ")
            || value.ends_with(' ')
        {
            return Err(SigningError::MalformedHeader);
        }

        let mut values: [Option<&str>; 4] = [None; 4];
        for (position, parameter) in parameters.split(", ").enumerate() {
            let (name, text) = parameter
                .split_once('=')
                .ok_or(SigningError::MalformedHeader)?;
            if name.is_empty()
                || !name.bytes().all(|b| b.is_ascii_alphabetic())
                || text.contains([',', ' '])
            {
                return Err(SigningError::MalformedHeader);
            }
            let index = PARAMETERS
                .iter()
                .position(|known| *known == name)
                .ok_or(SigningError::UnknownParameter)?;
            let slot = &mut values[index];
            if slot.is_some() {
                return Err(SigningError::DuplicateParameter(PARAMETERS[index]));
            }
            if index != position {
                return Err(SigningError::MisorderedParameter(PARAMETERS[index]));
            }
            *slot = Some(text);
        }
        let [client_id, timestamp, nonce, signature] = values;
        let missing = |index: usize| SigningError::MissingParameter(PARAMETERS[index]);
        let client_id = client_id.ok_or_else(|| missing(0))?;
        let timestamp = timestamp.ok_or_else(|| missing(1))?;
        let nonce = nonce.ok_or_else(|| missing(2))?;
        let signature = signature.ok_or_else(|| missing(3))?;

        check_client_id(client_id)?;
        check_nonce(nonce)?;
        Ok(AuthorizationHeader {
            client_id: client_id.to_owned(),
            timestamp: parse_timestamp(timestamp)?,
            nonce: nonce.to_owned(),
            signature: decode_lower_hex(signature).ok_or(SigningError::InvalidSignature)?,
        })
    }

    /// The header value: `KEYWARD-HMAC-SHA256 Credential=…, Timestamp=…, Nonce=…,
    /// Signature=…`.
    ///
    /// The fields are written as they are; a header built by [`sign`] or
    /// [`AuthorizationHeader::parse`] always parses back to itself.
    pub fn to_header_value(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for AuthorizationHeader {
    /// Writes the header value, as [`AuthorizationHeader::to_header_value`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME} Credential={}, Timestamp={}, Nonce={}, Signature={}",
            self.client_id,
            self.timestamp,
            self.nonce,
            lower_hex(&self.signature)
        )
    }
}

/// Why a request could not be signed or verified, or a header could not be parsed.
///
/// No variant carries any part of the input (and none ever sees the secret), so errors
/// can be logged and returned to callers as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The header is longer than [`MAX_HEADER_LEN`] bytes.
    #[error("authorization header is too long")]
    HeaderTooLong,
    /// The header does not start with `KEYWARD-HMAC-SHA256` and one space.
    #[error("authorization header does not use the KEYWARD-HMAC-SHA256 scheme")]
    UnknownScheme,
    /// The header has whitespace other than single spaces, a character outside visible
    /// ASCII, or a parameter that is not `Name=value` separated by `, `.
    #[error("authorization header is malformed")]
    MalformedHeader,
    /// The header has a parameter name other than the four of the scheme.
    #[error("authorization header has an unknown parameter")]
    UnknownParameter,
    /// The header lacks the named parameter.
    #[error("authorization header is missing the {0} parameter")]
    MissingParameter(&'static str),
    /// The header has the named parameter more than once.
    #[error("authorization header repeats the {0} parameter")]
    DuplicateParameter(&'static str),
    /// The named parameter is not in its place (`Credential`, `Timestamp`, `Nonce`,
    /// `Signature`).
    #[error("authorization header parameter {0} is out of order")]
    MisorderedParameter(&'static str),
    /// The client id is not 1 to 128 characters of `A-Z a-z 0-9 . _ -`.
    #[error("client id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'")]
    InvalidClientId,
    /// The timestamp is negative, above [`MAX_TIMESTAMP`], or (in a header) not plain
    /// decimal digits without a leading zero.
    #[error("timestamp must be 1 to 12 decimal digits without sign or leading zero")]
    InvalidTimestamp,
    /// The nonce is not 16 to 64 characters of `A-Z a-z 0-9 _ -`.
    #[error("nonce must be 16 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")]
    InvalidNonce,
    /// The signature parameter is not 64 lowercase hex characters.
    #[error("signature must be 64 lowercase hex characters")]
    InvalidSignature,
    /// The method is not an RFC 9110 token of at most 32 characters without lowercase
    /// letters.
    #[error("method must be an uppercase HTTP token of at most 32 characters")]
    InvalidMethod,
    /// The path does not start with `/`, or has a character that is not visible ASCII, or
    /// a `?` or `#`.
    #[error("path must start with '/' and contain only visible ASCII other than '?' and '#'")]
    InvalidPath,
    /// The query has a character that is not visible ASCII, or a `#`.
    #[error("query must contain only visible ASCII other than '#'")]
    InvalidQuery,
    /// The query has a `%` that is not followed by two hex digits.
    #[error("query has a malformed percent escape")]
    InvalidPercentEscape,
    /// The body digest is not 64 lowercase hex characters.
    #[error("body digest must be the SHA-256 as 64 lowercase hex characters")]
    InvalidBodyDigest,
    /// The key is not a client secret ([`KeyKind::ClientSecret`]).
    #[error("key is not a client secret")]
    NotClientSecret,
}

/// The canonical request: the exact text that is signed.
///
/// # Errors
///
/// A [`SigningError`] naming the first field outside its rule.
pub fn canonical_request(
    client_id: &str,
    timestamp: i64,
    nonce: &str,
    request: &SignedRequest<'_>,
) -> Result<String, SigningError> {
    check_client_id(client_id)?;
    if !(0..=MAX_TIMESTAMP).contains(&timestamp) {
        return Err(SigningError::InvalidTimestamp);
    }
    check_nonce(nonce)?;
    check_method(request.method)?;
    check_path(request.path)?;
    let query = canonical_query(request.query)?;
    if decode_lower_hex(request.body_sha256).is_none() {
        return Err(SigningError::InvalidBodyDigest);
    }

    let mut canonical = String::with_capacity(
        SCHEME.len()
            + client_id.len()
            + 12
            + nonce.len()
            + request.method.len()
            + request.path.len()
            + query.len()
            + 64
            + 7,
    );
    for (index, line) in [
        SCHEME,
        client_id,
        &timestamp.to_string(),
        nonce,
        request.method,
        request.path,
        &query,
        request.body_sha256,
    ]
    .into_iter()
    .enumerate()
    {
        if index > 0 {
            canonical.push('\n');
        }
        canonical.push_str(line);
    }
    Ok(canonical)
}

/// The SHA-256 of a body as 64 lowercase hex characters, for
/// [`SignedRequest::body_sha256`].
///
/// ```
/// assert_eq!(
///     keyward_core::signing::body_sha256(b""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn body_sha256(body: &[u8]) -> String {
    lower_hex(&Sha256::digest(body))
}

/// Signs a request: the client side.
///
/// `timestamp` is the current Unix time in seconds and `nonce` a fresh one from
/// [`new_nonce`]; this module reads no clock.
///
/// # Errors
///
/// [`SigningError::NotClientSecret`] for a key of another kind, otherwise those of
/// [`canonical_request`].
pub fn sign(
    secret: &Key,
    client_id: &str,
    timestamp: i64,
    nonce: &str,
    request: &SignedRequest<'_>,
) -> Result<AuthorizationHeader, SigningError> {
    let mut mac = keyed_mac(secret)?;
    mac.update(canonical_request(client_id, timestamp, nonce, request)?.as_bytes());
    Ok(AuthorizationHeader {
        client_id: client_id.to_owned(),
        timestamp,
        nonce: nonce.to_owned(),
        signature: mac.finalize().into_bytes().into(),
    })
}

/// Checks the signature of a request: the server side.
///
/// The signatures are compared in constant time. Freshness of the timestamp and
/// uniqueness of the nonce are for the caller to check (see the module documentation).
///
/// # Errors
///
/// Only for malformed input: [`SigningError::NotClientSecret`], and those of
/// [`canonical_request`] for the header's fields and the request. A well-formed request
/// with a wrong signature is `Ok(false)`.
pub fn verify(
    secret: &Key,
    header: &AuthorizationHeader,
    request: &SignedRequest<'_>,
) -> Result<bool, SigningError> {
    let mut mac = keyed_mac(secret)?;
    let canonical = canonical_request(&header.client_id, header.timestamp, &header.nonce, request)?;
    mac.update(canonical.as_bytes());
    Ok(mac.verify_slice(&header.signature).is_ok())
}

/// A fresh nonce: 16 bytes from the OS CSPRNG as 32 lowercase hex characters.
///
/// # Errors
///
/// [`KeyError::Rng`] if the operating system cannot provide random bytes.
pub fn new_nonce() -> Result<String, KeyError> {
    Ok(lower_hex(&random_bytes::<16>()?))
}

/// HMAC-SHA256 keyed with the 32 secret bytes of a client secret.
fn keyed_mac(secret: &Key) -> Result<HmacSha256, SigningError> {
    if secret.kind() != KeyKind::ClientSecret {
        return Err(SigningError::NotClientSecret);
    }
    // HMAC accepts keys of any length; the error cannot happen.
    HmacSha256::new_from_slice(secret.expose_secret()).map_err(|_| SigningError::NotClientSecret)
}

fn check_client_id(client_id: &str) -> Result<(), SigningError> {
    let valid = (1..=MAX_CLIENT_ID_LEN).contains(&client_id.len())
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    valid.then_some(()).ok_or(SigningError::InvalidClientId)
}

fn check_nonce(nonce: &str) -> Result<(), SigningError> {
    let valid = (MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    valid.then_some(()).ok_or(SigningError::InvalidNonce)
}

/// `tchar` of RFC 9110 §5.6.2, without lowercase letters.
fn check_method(method: &str) -> Result<(), SigningError> {
    let valid = (1..=MAX_METHOD_LEN).contains(&method.len())
        && method.bytes().all(|b| {
            b.is_ascii_uppercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        });
    valid.then_some(()).ok_or(SigningError::InvalidMethod)
}

fn check_path(path: &str) -> Result<(), SigningError> {
    let valid = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    valid.then_some(()).ok_or(SigningError::InvalidPath)
}

/// 1 to 12 decimal digits, no leading zero unless the number is `0`.
fn parse_timestamp(text: &str) -> Result<i64, SigningError> {
    let valid = (1..=12).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !valid {
        return Err(SigningError::InvalidTimestamp);
    }
    text.parse().map_err(|_| SigningError::InvalidTimestamp)
}

/// The canonical query of a raw query string; see the module documentation.
fn canonical_query(query: &str) -> Result<String, SigningError> {
    if !query.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(SigningError::InvalidQuery);
    }
    let mut pairs = query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((reencode(key)?, reencode(value)?))
        })
        .collect::<Result<Vec<(String, String)>, SigningError>>()?;
    pairs.sort_unstable();
    let mut canonical = String::with_capacity(query.len() * 3);
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            canonical.push('&');
        }
        canonical.push_str(key);
        canonical.push('=');
        canonical.push_str(value);
    }
    Ok(canonical)
}

/// Percent-decodes `text` (`+` is kept) and encodes the bytes per RFC 3986.
fn reencode(text: &str) -> Result<String, SigningError> {
    let mut encoded = String::with_capacity(text.len() * 3);
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        let byte = if byte == b'%' {
            let high = bytes.next().and_then(hex_value);
            let low = bytes.next().and_then(hex_value);
            match (high, low) {
                (Some(high), Some(low)) => (high << 4) | low,
                _ => return Err(SigningError::InvalidPercentEscape),
            }
        } else {
            byte
        };
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
    }
    Ok(encoded)
}

/// The value of a hex digit of either case.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Exactly 64 lowercase hex characters as 32 bytes.
fn decode_lower_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let lower = |digit: u8| match digit {
        b'0'..=b'9' | b'a'..=b'f' => hex_value(digit),
        _ => None,
    };
    let mut bytes = [0_u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (lower(pair[0])? << 4) | lower(pair[1])?;
    }
    Some(bytes)
}

fn lower_hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(HEX_LOWER[usize::from(byte >> 4)]));
        text.push(char::from(HEX_LOWER[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const CLIENT_ID: &str = "acme-ci";
    const TIMESTAMP: i64 = 1_767_225_600;
    const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const BODY_SHA256: &str = "fc01b207a3232cc62908abf06d3bbba1f6af71af9a50fce57234604694a86868";
    const SIGNATURE: &str = "ab804df0c9c352cd3c5e4570a1e41280c5ad463d6b8be201461b62689f15a001";

    fn new_secret() -> Key {
        Key::generate(KeyKind::ClientSecret).unwrap()
    }

    fn request() -> SignedRequest<'static> {
        SignedRequest {
            method: "POST",
            path: "/v1/accounts/acme/apiKeys",
            query: "b=2&a=1",
            body_sha256: BODY_SHA256,
        }
    }

    fn valid_header() -> String {
        format!(
            "{SCHEME} Credential={CLIENT_ID}, Timestamp={TIMESTAMP}, Nonce={NONCE}, \
             Signature={SIGNATURE}"
        )
    }

    fn canonical(request: &SignedRequest<'_>) -> Result<String, SigningError> {
        canonical_request(CLIENT_ID, TIMESTAMP, NONCE, request)
    }

    #[test]
    fn sign_format_parse_verify_round_trips() {
        let secret = new_secret();
        let request = request();
        for _ in 0..20 {
            let nonce = new_nonce().unwrap();
            let header = sign(&secret, CLIENT_ID, TIMESTAMP, &nonce, &request).unwrap();
            let parsed = AuthorizationHeader::parse(&header.to_header_value()).unwrap();
            assert_eq!(parsed, header);
            assert_eq!(parsed.to_header_value(), header.to_string());
            assert!(verify(&secret, &parsed, &request).unwrap());
        }
    }

    #[test]
    fn known_answer() {
        // The first published vector: secret bytes 0x00..=0x1f, computed in Python.
        let secret = Key::parse(
            "kw_cs_0123456789abcdef0123_16qJFWMMHFy3xDdLmvUeyc2S6FrWRhJP51HsvDYdz9gPMDbQ",
        )
        .unwrap();
        let request = SignedRequest {
            method: "GET",
            path: "/v1/accounts/acme",
            query: "",
            body_sha256: EMPTY_SHA256,
        };
        let header = sign(&secret, CLIENT_ID, TIMESTAMP, NONCE, &request).unwrap();
        assert_eq!(lower_hex(&header.signature), SIGNATURE);
        assert_eq!(header.to_header_value(), valid_header());
        assert_eq!(body_sha256(b""), EMPTY_SHA256);
    }

    #[test]
    fn every_single_change_fails_verification() {
        let secret = new_secret();
        let request = request();
        let header = sign(&secret, CLIENT_ID, TIMESTAMP, NONCE, &request).unwrap();
        assert!(verify(&secret, &header, &request).unwrap());

        let other_digest = body_sha256(b"{}");
        let changed_requests = [
            SignedRequest {
                method: "PUT",
                ..request
            },
            SignedRequest {
                path: "/v1/accounts/acme/apiKeys/",
                ..request
            },
            SignedRequest {
                path: "/v1/accounts/acme/apikeys",
                ..request
            },
            SignedRequest {
                query: "b=2&a=2",
                ..request
            },
            SignedRequest {
                query: "b=2",
                ..request
            },
            SignedRequest {
                query: "",
                ..request
            },
            SignedRequest {
                query: "b=2&a=1&c",
                ..request
            },
            SignedRequest {
                body_sha256: &other_digest,
                ..request
            },
            SignedRequest {
                body_sha256: EMPTY_SHA256,
                ..request
            },
        ];
        for changed in &changed_requests {
            assert!(!verify(&secret, &header, changed).unwrap(), "{changed:?}");
        }

        let changed_headers = [
            AuthorizationHeader {
                timestamp: TIMESTAMP + 1,
                ..header.clone()
            },
            AuthorizationHeader {
                nonce: "AAAAAAAAAAAAAAAAAAAAAB".to_owned(),
                ..header.clone()
            },
            AuthorizationHeader {
                client_id: "acme-cj".to_owned(),
                ..header.clone()
            },
        ];
        for changed in &changed_headers {
            assert!(!verify(&secret, changed, &request).unwrap(), "{changed:?}");
        }

        // Every hex digit of the signature, changed to every other hex digit.
        let text = header.to_header_value();
        let start = text.len() - 64;
        for position in start..text.len() {
            for digit in HEX_LOWER {
                let mut bytes = text.clone().into_bytes();
                if bytes[position] == *digit {
                    continue;
                }
                bytes[position] = *digit;
                let changed =
                    AuthorizationHeader::parse(&String::from_utf8(bytes).unwrap()).unwrap();
                assert!(!verify(&secret, &changed, &request).unwrap());
            }
            // An uppercase digit is not a signature at all.
            let mut bytes = text.clone().into_bytes();
            if bytes[position].is_ascii_lowercase() {
                bytes[position] = bytes[position].to_ascii_uppercase();
                assert_eq!(
                    AuthorizationHeader::parse(&String::from_utf8(bytes).unwrap()),
                    Err(SigningError::InvalidSignature)
                );
            }
        }

        assert!(!verify(&new_secret(), &header, &request).unwrap());
    }

    #[test]
    fn equivalent_queries_share_a_canonical_form() {
        let with = |query| canonical(&SignedRequest { query, ..request() }).unwrap();
        let reference = with("a=1&b=2");
        for query in ["b=2&a=1", "&a=1&&b=2&", "a=%31&b=2", "%61=1&b=2"] {
            assert_eq!(with(query), reference, "{query}");
        }
        assert_eq!(with("flag"), with("flag="));
        assert_eq!(with("t=%7e"), with("t=~"));
        assert_eq!(with("t=%2f"), with("t=%2F"));
        assert_ne!(with("t=+"), with("t=%20"));
        assert_ne!(with("a=1&a=1"), with("a=1"));
        assert!(with("p=a+b&q=a%20b").contains("\np=a%2Bb&q=a%20b\n"));
        assert!(with("k=a=b").contains("\nk=a%3Db\n"));
        assert!(with("x=%00%FF%0a").contains("\nx=%00%FF%0A\n"));
        // Sorted by encoded key, then by encoded value, bytewise.
        assert!(with("b=1&B=2&a=2&a=10&_=3").contains("\nB=2&_=3&a=10&a=2&b=1\n"));
    }

    #[test]
    fn shifting_characters_between_fields_changes_the_canonical_form() {
        let base = SignedRequest {
            method: "GET",
            path: "/v1/a",
            query: "b=c",
            body_sha256: EMPTY_SHA256,
        };
        let shifted = [
            SignedRequest {
                path: "/v1/ab=c",
                query: "",
                ..base
            },
            SignedRequest {
                path: "/v1/a%3Fb=c",
                query: "",
                ..base
            },
            SignedRequest {
                path: "/v1/",
                query: "ab=c",
                ..base
            },
            SignedRequest {
                method: "GE",
                path: "/Tv1/a",
                ..base
            },
        ];
        let reference = canonical(&base).unwrap();
        assert_eq!(reference.split('\n').count(), 8);
        for request in &shifted {
            let changed = canonical(request).unwrap();
            assert_ne!(changed, reference, "{request:?}");
            assert_eq!(changed.split('\n').count(), 8);
        }
        // The eight lines are exactly the fields, so no split of the text is ambiguous.
        let lines: Vec<&str> = reference.split('\n').collect();
        assert_eq!(
            lines,
            [
                SCHEME,
                CLIENT_ID,
                "1767225600",
                NONCE,
                "GET",
                "/v1/a",
                "b=c",
                EMPTY_SHA256
            ]
        );
        // A method that would swallow the path's slash is not a token.
        assert_eq!(
            canonical(&SignedRequest {
                method: "GET/",
                path: "/x",
                ..base
            }),
            Err(SigningError::InvalidMethod)
        );
    }

    #[test]
    fn canonical_request_has_the_documented_layout() {
        let text = canonical(&request()).unwrap();
        assert_eq!(
            text,
            format!(
                "KEYWARD-HMAC-SHA256\n{CLIENT_ID}\n{TIMESTAMP}\n{NONCE}\nPOST\n\
                 /v1/accounts/acme/apiKeys\na=1&b=2\n{BODY_SHA256}"
            )
        );
        assert!(!text.ends_with('\n'));
    }

    #[test]
    fn request_fields_outside_their_rules_are_refused() {
        let request = request();
        let cases: Vec<(SignedRequest<'_>, SigningError)> = vec![
            (
                SignedRequest {
                    method: "",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "get",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "Get",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "GET ",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "GE\nT",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "GE(T",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "GÉT",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    method: "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG",
                    ..request
                },
                SigningError::InvalidMethod,
            ),
            (
                SignedRequest {
                    path: "",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "v1/a",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/a b",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/a\n",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/a\t",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/a\u{7f}",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/a?b=c",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/a#f",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/é",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    path: "/v1/\u{a0}",
                    ..request
                },
                SigningError::InvalidPath,
            ),
            (
                SignedRequest {
                    query: "a=b c",
                    ..request
                },
                SigningError::InvalidQuery,
            ),
            (
                SignedRequest {
                    query: "a=\n",
                    ..request
                },
                SigningError::InvalidQuery,
            ),
            (
                SignedRequest {
                    query: "a=b#f",
                    ..request
                },
                SigningError::InvalidQuery,
            ),
            (
                SignedRequest {
                    query: "a=é",
                    ..request
                },
                SigningError::InvalidQuery,
            ),
            (
                SignedRequest {
                    query: "a=%",
                    ..request
                },
                SigningError::InvalidPercentEscape,
            ),
            (
                SignedRequest {
                    query: "a=%4",
                    ..request
                },
                SigningError::InvalidPercentEscape,
            ),
            (
                SignedRequest {
                    query: "a=%4g",
                    ..request
                },
                SigningError::InvalidPercentEscape,
            ),
            (
                SignedRequest {
                    query: "%zz=1",
                    ..request
                },
                SigningError::InvalidPercentEscape,
            ),
            (
                SignedRequest {
                    query: "a=%%41",
                    ..request
                },
                SigningError::InvalidPercentEscape,
            ),
            (
                SignedRequest {
                    body_sha256: "",
                    ..request
                },
                SigningError::InvalidBodyDigest,
            ),
            (
                SignedRequest {
                    body_sha256: &BODY_SHA256[1..],
                    ..request
                },
                SigningError::InvalidBodyDigest,
            ),
            (
                SignedRequest {
                    body_sha256: "FC01B207A3232CC62908ABF06D3BBBA1F6AF71AF9A50FCE57234604694A86868",
                    ..request
                },
                SigningError::InvalidBodyDigest,
            ),
            (
                SignedRequest {
                    body_sha256: "gc01b207a3232cc62908abf06d3bbba1f6af71af9a50fce57234604694a86868",
                    ..request
                },
                SigningError::InvalidBodyDigest,
            ),
        ];
        let secret = new_secret();
        let header = sign(&secret, CLIENT_ID, TIMESTAMP, NONCE, &request).unwrap();
        for (changed, expected) in cases {
            assert_eq!(canonical(&changed), Err(expected), "{changed:?}");
            assert_eq!(
                sign(&secret, CLIENT_ID, TIMESTAMP, NONCE, &changed).map(|_| ()),
                Err(expected)
            );
            assert_eq!(verify(&secret, &header, &changed), Err(expected));
        }
    }

    #[test]
    fn header_fields_outside_their_rules_are_refused() {
        let request = request();
        let long_id = "a".repeat(129);
        let long_nonce = "n".repeat(65);
        let cases: Vec<(&str, i64, &str, SigningError)> = vec![
            ("", TIMESTAMP, NONCE, SigningError::InvalidClientId),
            (&long_id, TIMESTAMP, NONCE, SigningError::InvalidClientId),
            ("acme ci", TIMESTAMP, NONCE, SigningError::InvalidClientId),
            ("acme,ci", TIMESTAMP, NONCE, SigningError::InvalidClientId),
            ("acme\nci", TIMESTAMP, NONCE, SigningError::InvalidClientId),
            ("acmé", TIMESTAMP, NONCE, SigningError::InvalidClientId),
            (CLIENT_ID, -1, NONCE, SigningError::InvalidTimestamp),
            (
                CLIENT_ID,
                MAX_TIMESTAMP + 1,
                NONCE,
                SigningError::InvalidTimestamp,
            ),
            (CLIENT_ID, i64::MIN, NONCE, SigningError::InvalidTimestamp),
            (CLIENT_ID, TIMESTAMP, "", SigningError::InvalidNonce),
            (
                CLIENT_ID,
                TIMESTAMP,
                "AAAAAAAAAAAAAAA",
                SigningError::InvalidNonce,
            ),
            (
                CLIENT_ID,
                TIMESTAMP,
                &long_nonce,
                SigningError::InvalidNonce,
            ),
            (
                CLIENT_ID,
                TIMESTAMP,
                "AAAAAAAAAAAAAAA.",
                SigningError::InvalidNonce,
            ),
            (
                CLIENT_ID,
                TIMESTAMP,
                "AAAAAAAAAAAAAAA=",
                SigningError::InvalidNonce,
            ),
        ];
        let secret = new_secret();
        for (client_id, timestamp, nonce, expected) in cases {
            assert_eq!(
                canonical_request(client_id, timestamp, nonce, &request),
                Err(expected)
            );
            assert_eq!(
                sign(&secret, client_id, timestamp, nonce, &request).map(|_| ()),
                Err(expected)
            );
            let header = AuthorizationHeader {
                client_id: client_id.to_owned(),
                timestamp,
                nonce: nonce.to_owned(),
                signature: [0; 32],
            };
            assert_eq!(verify(&secret, &header, &request), Err(expected));
        }
        // The limits themselves are fine.
        let longest_id = "a".repeat(128);
        let longest_nonce = "n".repeat(64);
        for (client_id, timestamp, nonce) in [
            ("a", 0, "AAAAAAAAAAAAAAAA"),
            (longest_id.as_str(), MAX_TIMESTAMP, longest_nonce.as_str()),
            ("A.b_c-9", 1, "Az09_-Az09_-Az09"),
        ] {
            let header = sign(&secret, client_id, timestamp, nonce, &request).unwrap();
            let parsed = AuthorizationHeader::parse(&header.to_header_value()).unwrap();
            assert!(verify(&secret, &parsed, &request).unwrap());
        }
    }

    #[test]
    fn only_client_secrets_sign_and_verify() {
        let api_key = Key::generate(KeyKind::ApiKey).unwrap();
        let request = request();
        assert_eq!(
            sign(&api_key, CLIENT_ID, TIMESTAMP, NONCE, &request).map(|_| ()),
            Err(SigningError::NotClientSecret)
        );
        let header = sign(&new_secret(), CLIENT_ID, TIMESTAMP, NONCE, &request).unwrap();
        assert_eq!(
            verify(&api_key, &header, &request),
            Err(SigningError::NotClientSecret)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        use SigningError::*;
        let valid = valid_header();
        assert!(AuthorizationHeader::parse(&valid).is_ok());
        let params = valid.strip_prefix("KEYWARD-HMAC-SHA256 ").unwrap();
        let [credential, timestamp, nonce, signature]: [&str; 4] =
            params.split(", ").collect::<Vec<_>>().try_into().unwrap();
        let join = |parts: &[&str]| format!("{SCHEME} {}", parts.join(", "));
        let cases: Vec<(String, SigningError)> = vec![
            (String::new(), UnknownScheme),
            (params.to_owned(), UnknownScheme),
            (format!("keyward-hmac-sha256 {params}"), UnknownScheme),
            (format!("KEYWARD-HMAC-SHA256{params}"), UnknownScheme),
            (format!("KEYWARD-HMAC-SHA256\t{params}"), UnknownScheme),
            (format!("KEYWARD-HMAC-SHA512 {params}"), UnknownScheme),
            (format!("Bearer {params}"), UnknownScheme),
            (format!(" {valid}"), UnknownScheme),
            (format!("KEYWARD-HMAC-SHA256  {params}"), MalformedHeader),
            (format!("{valid} "), MalformedHeader),
            (format!("{valid}\n"), MalformedHeader),
            (valid.replacen(", ", ",  ", 1), MalformedHeader),
            (valid.replacen(", ", ",\t", 1), MalformedHeader),
            (valid.replacen(", ", ",", 1), MalformedHeader),
            (valid.replacen(", ", " ,", 1), MalformedHeader),
            (valid.replacen(", ", "; ", 1), MalformedHeader),
            (valid.replacen("acme-ci", "acmé", 1), MalformedHeader),
            (format!("{SCHEME} "), MalformedHeader),
            (format!("{valid}, "), MalformedHeader),
            (
                join(&[credential, timestamp, nonce, signature, ""]),
                MalformedHeader,
            ),
            (
                valid.replacen("Credential=", "Credential =", 1),
                MalformedHeader,
            ),
            (
                valid.replacen("Credential=", "Credential", 1),
                MalformedHeader,
            ),
            (valid.replacen("Credential=", "=", 1), MalformedHeader),
            (
                valid.replacen("Credential=", "Cred-ential=", 1),
                MalformedHeader,
            ),
            (
                valid.replacen("Credential=", "Credential=\"", 1),
                InvalidClientId,
            ),
            (
                valid.replacen("Credential", "credential", 1),
                UnknownParameter,
            ),
            (valid.replacen("Credential", "KeyId", 1), UnknownParameter),
            (
                join(&[credential, timestamp, nonce, signature, "Extra=1"]),
                UnknownParameter,
            ),
            (
                join(&[timestamp, nonce, signature]),
                MisorderedParameter("Timestamp"),
            ),
            (
                join(&[credential, timestamp, nonce]),
                MissingParameter("Signature"),
            ),
            (
                join(&[credential, timestamp, signature]),
                MisorderedParameter("Signature"),
            ),
            (join(&[credential]), MissingParameter("Timestamp")),
            (
                join(&[timestamp, credential, nonce, signature]),
                MisorderedParameter("Timestamp"),
            ),
            (
                join(&[credential, timestamp, signature, nonce]),
                MisorderedParameter("Signature"),
            ),
            (
                join(&[credential, credential, nonce, signature]),
                DuplicateParameter("Credential"),
            ),
            (
                join(&[credential, timestamp, nonce, signature, signature]),
                DuplicateParameter("Signature"),
            ),
            (
                join(&[credential, timestamp, nonce, signature, nonce]),
                DuplicateParameter("Nonce"),
            ),
            (
                valid.replacen("Credential=acme-ci", "Credential=", 1),
                InvalidClientId,
            ),
            (
                valid.replacen("acme-ci", &"a".repeat(129), 1),
                InvalidClientId,
            ),
            (valid.replacen("acme-ci", "acme/ci", 1), InvalidClientId),
            (valid.replacen("=1767225600", "=", 1), InvalidTimestamp),
            (
                valid.replacen("=1767225600", "=+1767225600", 1),
                InvalidTimestamp,
            ),
            (
                valid.replacen("=1767225600", "=-1767225600", 1),
                InvalidTimestamp,
            ),
            (
                valid.replacen("=1767225600", "=01767225600", 1),
                InvalidTimestamp,
            ),
            (valid.replacen("=1767225600", "=00", 1), InvalidTimestamp),
            (
                valid.replacen("=1767225600", "=1767225600.5", 1),
                InvalidTimestamp,
            ),
            (valid.replacen("=1767225600", "=1e9", 1), InvalidTimestamp),
            (valid.replacen("=1767225600", "=0x10", 1), InvalidTimestamp),
            (
                valid.replacen("=1767225600", "=1000000000000", 1),
                InvalidTimestamp,
            ),
            (valid.replacen("=1767225600", "=٣", 1), MalformedHeader),
            (valid.replacen(NONCE, "", 1), InvalidNonce),
            (valid.replacen(NONCE, &NONCE[..15], 1), InvalidNonce),
            (valid.replacen(NONCE, &"A".repeat(65), 1), InvalidNonce),
            (
                valid.replacen(NONCE, "AAAAAAAAAAAAAAAAAAAAA.", 1),
                InvalidNonce,
            ),
            (
                valid.replacen(NONCE, "AAAAAAAAAAAAAAAAAAAAA=", 1),
                InvalidNonce,
            ),
            (valid.replacen(SIGNATURE, "", 1), InvalidSignature),
            (
                valid.replacen(SIGNATURE, &SIGNATURE[1..], 1),
                InvalidSignature,
            ),
            (
                valid.replacen(SIGNATURE, &format!("{SIGNATURE}0"), 1),
                InvalidSignature,
            ),
            (
                valid.replacen(SIGNATURE, &SIGNATURE.to_uppercase(), 1),
                InvalidSignature,
            ),
            (
                valid.replacen("Signature=ab", "Signature=xb", 1),
                InvalidSignature,
            ),
            (
                valid.replacen("Signature=", "Signature=0x", 1),
                InvalidSignature,
            ),
        ];
        for (input, expected) in cases {
            let error = AuthorizationHeader::parse(&input).unwrap_err();
            assert_eq!(error, expected, "input {input:?}");
        }
    }

    #[test]
    fn over_long_headers_are_refused_before_parsing() {
        let valid = valid_header();
        // Exactly at the limit: refused for its content, not its length.
        let padded = valid.replacen(
            NONCE,
            &"A".repeat(MAX_HEADER_LEN - valid.len() + NONCE.len()),
            1,
        );
        assert_eq!(padded.len(), MAX_HEADER_LEN);
        assert_eq!(
            AuthorizationHeader::parse(&padded),
            Err(SigningError::InvalidNonce)
        );
        for input in [
            format!("{padded}A"),
            format!("{valid}{}", " ".repeat(MAX_HEADER_LEN)),
            "x".repeat(1 << 20),
            format!("{SCHEME} {}", "Credential=a, ".repeat(100_000)),
            "é".repeat(MAX_HEADER_LEN),
        ] {
            let started = std::time::Instant::now();
            assert_eq!(
                AuthorizationHeader::parse(&input),
                Err(SigningError::HeaderTooLong)
            );
            assert!(started.elapsed() < std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn nonces_are_fresh_and_valid() {
        let a = new_nonce().unwrap();
        let b = new_nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(check_nonce(&a), Ok(()));
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
    }

    #[test]
    fn errors_do_not_echo_the_input() {
        let secret = new_secret();
        let token = secret.to_token();
        let hex_secret = lower_hex(secret.expose_secret());
        let marker = "SENTINELxyz";
        let inputs = [
            format!("{SCHEME} Credential={marker}!, Timestamp=1, Nonce=n, Signature=s"),
            format!("{SCHEME} {marker}=1"),
            format!("{marker} Credential=a"),
        ];
        for input in inputs {
            let message = AuthorizationHeader::parse(&input).unwrap_err().to_string();
            assert!(!message.contains(marker), "{message}");
            assert!(
                message.starts_with(|c: char| c.is_ascii_lowercase()),
                "{message}"
            );
        }
        let bad = SignedRequest {
            path: "SENTINELxyz",
            ..request()
        };
        let message = sign(&secret, CLIENT_ID, TIMESTAMP, NONCE, &bad)
            .unwrap_err()
            .to_string();
        assert!(!message.contains(marker));
        assert!(!message.contains(token.expose_secret()));
        assert!(!message.contains(&hex_secret));
    }
}
