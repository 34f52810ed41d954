//! The single format of every secret Keyward issues.
//!
//! A key looks like `kw_{kind}_{id}_{body}`:
//!
//! - `kind` is `ak` for a user API key ([`KeyKind::ApiKey`]), `cs` for an API client
//!   secret ([`KeyKind::ClientSecret`]) and `et` for a one-time enrollment token
//!   ([`KeyKind::EnrollmentToken`]);
//! - `id` is 20 lowercase hex characters (10 random bytes). It is public: the lookup id of
//!   the record, see [`KeyId`];
//! - `body` is the base58 (Bitcoin alphabet) encoding of the 32 secret random bytes
//!   followed by a big-endian CRC32 (IEEE) of `kw_{kind}_{id}_` and the secret bytes.
//!
//! The fixed prefix lets secret scanners find leaked keys; the checksum covers the whole
//! token, so a typo anywhere is refused by [`Key::parse`] before any database work. All
//! random bytes come from the operating system's CSPRNG.
//!
//! ```
//! use keyward_core::key::{Key, KeyKind};
//! use secrecy::ExposeSecret;
//!
//! let key = Key::generate(KeyKind::ApiKey)?;
//! let token = key.to_token();
//! assert!(token.expose_secret().starts_with("kw_ak_"));
//!
//! let parsed = Key::parse_kind(token.expose_secret(), KeyKind::ApiKey)?;
//! assert_eq!(parsed.id(), key.id());
//! assert!(parsed.secret_digest().ct_eq(&key.secret_digest()));
//! # Ok::<(), keyward_core::key::KeyError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use rand::TryRng;
use rand::rngs::{SysError, SysRng};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Common start of every key.
const KEY_PREFIX: &str = "kw_";
/// Number of random bytes in a [`KeyId`].
const ID_BYTES: usize = 10;
/// Number of random secret bytes in a key.
const SECRET_LEN: usize = 32;
/// Number of checksum bytes appended to the secret in the body.
const CHECKSUM_LEN: usize = 4;
/// Number of bytes the body decodes to.
const PAYLOAD_LEN: usize = SECRET_LEN + CHECKSUM_LEN;
/// Inputs longer than this are refused before any decoding. A valid key is at most 77 bytes.
const MAX_INPUT_LEN: usize = 256;

/// Fills an array with bytes from the operating system's CSPRNG.
///
/// Meant for everything that must be unpredictable: key material, nonces, salts, ids.
///
/// # Errors
///
/// [`KeyError::Rng`] if the operating system cannot provide random bytes.
///
/// ```
/// let nonce: [u8; 16] = keyward_core::key::random_bytes()?;
/// # Ok::<(), keyward_core::key::KeyError>(())
/// ```
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0_u8; N];
    SysRng.try_fill_bytes(&mut bytes).map_err(KeyError::Rng)?;
    Ok(bytes)
}

/// What a key is used for; it decides the `kw_{kind}_` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A user API key, `kw_ak_…`.
    ApiKey,
    /// An API client secret, `kw_cs_…`.
    ClientSecret,
    /// A one-time enrollment token, `kw_et_…`: redeemed once by its user for their own
    /// API key, and good for nothing else.
    EnrollmentToken,
}

impl KeyKind {
    /// Every kind, for iteration.
    const ALL: [KeyKind; 3] = [
        KeyKind::ApiKey,
        KeyKind::ClientSecret,
        KeyKind::EnrollmentToken,
    ];

    /// The start of every key of this kind: `"kw_ak_"`, `"kw_cs_"` or `"kw_et_"`.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::ApiKey => "kw_ak_",
            KeyKind::ClientSecret => "kw_cs_",
            KeyKind::EnrollmentToken => "kw_et_",
        }
    }
}

impl fmt::Display for KeyKind {
    /// A lowercase name for people: `api key`, `client secret` or `enrollment token`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::ApiKey => "api key",
            KeyKind::ClientSecret => "client secret",
            KeyKind::EnrollmentToken => "enrollment token",
        })
    }
}

/// Why a key could not be generated or parsed.
///
/// No variant carries any part of the refused input, so errors can be logged and returned
/// to callers as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text does not start with `kw_`.
    #[error("not a keyward key")]
    NotKeyward,
    /// The text is far longer than any key.
    #[error("key is too long")]
    TooLong,
    /// The text contains a character outside `[A-Za-z0-9_]` (whitespace, punctuation,
    /// non-ASCII).
    #[error("key contains characters that are not allowed")]
    InvalidCharacter,
    /// The text starts with `kw_` but the kind is not `ak`, `cs` or `et`.
    #[error("unknown key kind")]
    UnknownKind,
    /// The key is well formed but of another kind than the one expected.
    #[error("wrong key kind: expected {expected}, found {found}")]
    WrongKind {
        /// The kind the caller asked for.
        expected: KeyKind,
        /// The kind of the key that was given.
        found: KeyKind,
    },
    /// The separator between the id and the body is missing.
    #[error("key is malformed")]
    Malformed,
    /// The id is not 20 lowercase hex characters.
    #[error("key id must be 20 lowercase hex characters")]
    InvalidId,
    /// The body is not base58.
    #[error("key body is not valid base58")]
    InvalidBody,
    /// The body does not decode to exactly 36 bytes.
    #[error("key body has the wrong length")]
    InvalidLength,
    /// The checksum does not match: the key was mistyped or truncated.
    #[error("key checksum does not match")]
    ChecksumMismatch,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng(#[source] SysError),
}

/// The public id of a key: 20 lowercase hex characters (10 random bytes).
///
/// It names the stored record, e.g. the `{id}` of `accounts/{a}/users/{u}/apiKeys/{id}`, and
/// is not secret.
///
/// ```
/// use keyward_core::key::KeyId;
///
/// let id: KeyId = "0123456789abcdef0123".parse()?;
/// assert_eq!(id.as_str(), "0123456789abcdef0123");
/// assert!("0123456789ABCDEF0123".parse::<KeyId>().is_err());
/// # Ok::<(), keyward_core::key::KeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Length of an id in characters.
    pub const LEN: usize = 2 * ID_BYTES;

    /// A new random id.
    fn generate() -> Result<KeyId, KeyError> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes: [u8; ID_BYTES] = random_bytes()?;
        let mut id = String::with_capacity(Self::LEN);
        for byte in bytes {
            id.push(char::from(HEX[usize::from(byte >> 4)]));
            id.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Ok(KeyId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 10 bytes the id spells in hex: a compact, copyable form for in-memory indexes.
    ///
    /// ```
    /// use keyward_core::key::KeyId;
    ///
    /// let id: KeyId = "0123456789abcdef0123".parse()?;
    /// assert_eq!(id.to_bytes(), [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23]);
    /// # Ok::<(), keyward_core::key::KeyError>(())
    /// ```
    pub fn to_bytes(&self) -> [u8; ID_BYTES] {
        let mut bytes = [0_u8; ID_BYTES];
        // Every id is 20 lowercase hex digits: checked when it was made.
        for (byte, pair) in bytes.iter_mut().zip(self.0.as_bytes().chunks_exact(2)) {
            *byte = (lower_hex(pair[0]).unwrap_or(0) << 4) | lower_hex(pair[1]).unwrap_or(0);
        }
        bytes
    }
}

/// The value of a lowercase hex digit.
fn lower_hex(digit: u8) -> Result<u8, KeyError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        _ => Err(KeyError::InvalidId),
    }
}

impl TryFrom<&str> for KeyId {
    type Error = KeyError;

    /// Accepts exactly 20 lowercase hex characters, otherwise [`KeyError::InvalidId`].
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        let valid = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(KeyId(text.to_owned()))
        } else {
            Err(KeyError::InvalidId)
        }
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        KeyId::try_from(text)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key: its kind, its public id and its 32 secret bytes.
///
/// The secret is zeroed when the key is dropped and never appears in `Debug` output. The
/// full token is only available through [`Key::to_token`].
pub struct Key {
    kind: KeyKind,
    id: KeyId,
    secret: SecretBox<[u8; SECRET_LEN]>,
}

impl Key {
    /// A new key of the given kind, with a random id and secret from the OS CSPRNG.
    ///
    /// # Errors
    ///
    /// [`KeyError::Rng`] if the operating system cannot provide random bytes.
    pub fn generate(kind: KeyKind) -> Result<Key, KeyError> {
        let id = KeyId::generate()?;
        let mut secret = SecretBox::new(Box::new([0_u8; SECRET_LEN]));
        SysRng
            .try_fill_bytes(secret.expose_secret_mut())
            .map_err(KeyError::Rng)?;
        Ok(Key { kind, id, secret })
    }

    /// Parses and checks a token of any kind.
    ///
    /// Nothing is trimmed: surrounding whitespace, a `Bearer ` prefix, an unknown kind, a
    /// malformed id or body, and a checksum mismatch are all refused. Inputs longer than
    /// 256 bytes are refused before decoding.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] saying what is wrong, without repeating the input.
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        if text.len() > MAX_INPUT_LEN {
            return Err(KeyError::TooLong);
        }
        if !text.starts_with(KEY_PREFIX) {
            return Err(KeyError::NotKeyward);
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(KeyError::InvalidCharacter);
        }
        let (kind, rest) = KeyKind::ALL
            .into_iter()
            .find_map(|kind| text.strip_prefix(kind.prefix()).map(|rest| (kind, rest)))
            .ok_or(KeyError::UnknownKind)?;
        let (id, body) = rest.split_once('_').ok_or(KeyError::Malformed)?;
        let id = KeyId::try_from(id)?;

        let mut payload = Zeroizing::new([0_u8; PAYLOAD_LEN]);
        let len = bs58::decode(body)
            .onto(&mut *payload)
            .map_err(|error| match error {
                bs58::decode::Error::BufferTooSmall => KeyError::InvalidLength,
                _ => KeyError::InvalidBody,
            })?;
        if len != PAYLOAD_LEN {
            return Err(KeyError::InvalidLength);
        }
        let (secret, checksum) = payload.split_at(SECRET_LEN);
        if checksum != compute_checksum(kind, &id, secret) {
            return Err(KeyError::ChecksumMismatch);
        }
        let secret = SecretBox::init_with_mut(|bytes: &mut [u8; SECRET_LEN]| {
            bytes.copy_from_slice(secret);
        });
        Ok(Key { kind, id, secret })
    }

    /// The kind and id (as [`KeyId::to_bytes`]) of a token, read without decoding its body,
    /// checking its checksum or allocating: cheap enough to look up what is remembered about
    /// a token before paying for [`Key::parse`]. Whatever it accepts must still be parsed
    /// before its secret is trusted.
    ///
    /// # Errors
    ///
    /// Those of [`Key::parse`] about the length, the prefix, the kind, the characters and
    /// the id.
    ///
    /// ```
    /// use keyward_core::key::{Key, KeyKind};
    /// use secrecy::ExposeSecret;
    ///
    /// let key = Key::generate(KeyKind::ApiKey)?;
    /// let (kind, id) = Key::peek_id(key.to_token().expose_secret())?;
    /// assert_eq!((kind, id), (KeyKind::ApiKey, key.id().to_bytes()));
    /// # Ok::<(), keyward_core::key::KeyError>(())
    /// ```
    pub fn peek_id(text: &str) -> Result<(KeyKind, [u8; ID_BYTES]), KeyError> {
        if text.len() > MAX_INPUT_LEN {
            return Err(KeyError::TooLong);
        }
        if !text.starts_with(KEY_PREFIX) {
            return Err(KeyError::NotKeyward);
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(KeyError::InvalidCharacter);
        }
        let (kind, rest) = KeyKind::ALL
            .into_iter()
            .find_map(|kind| text.strip_prefix(kind.prefix()).map(|rest| (kind, rest)))
            .ok_or(KeyError::UnknownKind)?;
        let (id, _) = rest.split_once('_').ok_or(KeyError::Malformed)?;
        if id.len() != KeyId::LEN {
            return Err(KeyError::InvalidId);
        }
        let mut bytes = [0_u8; ID_BYTES];
        for (byte, pair) in bytes.iter_mut().zip(id.as_bytes().chunks_exact(2)) {
            *byte = (lower_hex(pair[0])? << 4) | lower_hex(pair[1])?;
        }
        Ok((kind, bytes))
    }

    /// Like [`Key::parse`], and the key must be of the `expected` kind.
    ///
    /// # Errors
    ///
    /// Those of [`Key::parse`], and [`KeyError::WrongKind`].
    pub fn parse_kind(text: &str, expected: KeyKind) -> Result<Key, KeyError> {
        let key = Key::parse(text)?;
        if key.kind != expected {
            return Err(KeyError::WrongKind {
                expected,
                found: key.kind,
            });
        }
        Ok(key)
    }

    /// What the key is used for.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public id of the key.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The 32 secret bytes, to hash or verify (argon2id). Never log or store them in clear.
    pub fn expose_secret(&self) -> &[u8; SECRET_LEN] {
        self.secret.expose_secret()
    }

    /// The full `kw_{kind}_{id}_{body}` token, to hand to its owner exactly once.
    pub fn to_token(&self) -> SecretString {
        let mut payload = Zeroizing::new([0_u8; PAYLOAD_LEN]);
        let secret = self.expose_secret();
        payload[..SECRET_LEN].copy_from_slice(secret);
        payload[SECRET_LEN..].copy_from_slice(&compute_checksum(self.kind, &self.id, secret));
        let body = Zeroizing::new(bs58::encode(&*payload).into_string());

        let prefix = self.kind.prefix();
        // Exact capacity: no reallocation leaves a copy behind, here or in `into_boxed_str`.
        let mut token = String::with_capacity(prefix.len() + KeyId::LEN + 1 + body.len());
        token.push_str(prefix);
        token.push_str(self.id.as_str());
        token.push('_');
        token.push_str(&body);
        SecretString::from(token)
    }

    /// `kw_{kind}_{id}`: not secret, for people to recognise the key in listings.
    pub fn display_prefix(&self) -> String {
        format!("{}{}", self.kind.prefix(), self.id)
    }

    /// SHA-256 of the 32 secret bytes.
    pub fn secret_digest(&self) -> SecretDigest {
        SecretDigest(Sha256::digest(self.expose_secret()).into())
    }

    /// A key from known parts, for fixed test vectors.
    #[cfg(test)]
    fn from_parts(kind: KeyKind, id: KeyId, secret: [u8; SECRET_LEN]) -> Key {
        Key {
            kind,
            id,
            secret: SecretBox::new(Box::new(secret)),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// The CRC32 (IEEE) of `kw_{kind}_{id}_` followed by the secret bytes, big-endian.
fn compute_checksum(kind: KeyKind, id: &KeyId, secret: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind.prefix().as_bytes());
    hasher.update(id.as_str().as_bytes());
    hasher.update(b"_");
    hasher.update(secret);
    hasher.finalize().to_be_bytes()
}

/// SHA-256 of a key's secret bytes, compared in constant time.
///
/// `Debug` does not show the bytes. There is deliberately no `PartialEq`: use
/// [`SecretDigest::ct_eq`].
#[derive(Clone)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// Whether both digests are equal, in time independent of their contents.
    pub fn ct_eq(&self, other: &SecretDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretDigest")
            .field(&format_args!("[REDACTED]"))
            .finish()
    }
}

/// A Keyward key found in a text by [`find_keys`]: what and where, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundKey {
    /// What kind of key it is.
    pub kind: KeyKind,
    /// Its byte offset in the text.
    pub start: usize,
    /// Its length in bytes.
    pub len: usize,
    /// `kw_{kind}_{id}`: enough for its owner to recognise it, nothing of the secret.
    pub display_prefix: String,
}

/// Every Keyward key in `text` that [`Key::parse`] accepts, checksum included, in order:
/// what a secret scanner looks for. A candidate starts at `kw_` not preceded by a letter,
/// digit or `_`, and runs to the first character that cannot be part of a key; look-alikes
/// whose checksum fails are not keys and are not reported.
///
/// ```
/// use keyward_core::key::{find_keys, Key, KeyKind};
/// use secrecy::ExposeSecret;
///
/// let key = Key::generate(KeyKind::ApiKey)?;
/// let text = format!("export KEYWARD_API_KEY={}\n", key.to_token().expose_secret());
/// let found = find_keys(&text);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].start, "export KEYWARD_API_KEY=".len());
/// assert_eq!(found[0].display_prefix, key.display_prefix());
/// # Ok::<(), keyward_core::key::KeyError>(())
/// ```
pub fn find_keys(text: &str) -> Vec<FoundKey> {
    let bytes = text.as_bytes();
    let part_of_key = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find(KEY_PREFIX) {
        let start = from + offset;
        let end = bytes[start..]
            .iter()
            .position(|&b| !part_of_key(b))
            .map_or(bytes.len(), |len| start + len);
        from = end.max(start + KEY_PREFIX.len());
        if start > 0 && part_of_key(bytes[start - 1]) {
            continue;
        }
        if let Ok(key) = Key::parse(&text[start..end]) {
            found.push(FoundKey {
                kind: key.kind(),
                start,
                len: end - start,
                display_prefix: key.display_prefix(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently (Python `zlib.crc32` and a hand-written base58 encoder).
    const VECTOR_AK: &str =
        "kw_ak_0123456789abcdef0123_16qJFWMMHFy3xDdLmvUeyc2S6FrWRhJP51HsvDYdz9cArV58";
    /// Computed by an independent implementation (Python's `zlib.crc32` and a textbook
    /// base58 encoder) from id `00112233445566778899` and secret bytes 32..=63.
    const VECTOR_ET: &str =
        "kw_et_00112233445566778899_F9hnD6sLacskNWeRQqZDUZDaRa12QjSZGXwqSuEe6C54XWMBL";
    const VECTOR_CS: &str =
        "kw_cs_ffffffffffffffffffff_2wkBET2rRgE8pahuaczxKbmv7ciehqsne57F9gtzf1PVasw91L";

    #[test]
    fn find_keys_reports_checked_keys_only_with_their_places() {
        let text = format!(
            "a={VECTOR_AK}\n\"{VECTOR_CS}\",x_{VECTOR_ET} {}\n{VECTOR_ET}.",
            &VECTOR_AK[..VECTOR_AK.len() - 1]
        );
        let found = find_keys(&text);
        let kinds: Vec<_> = found.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                KeyKind::ApiKey,
                KeyKind::ClientSecret,
                KeyKind::EnrollmentToken
            ],
            "the key glued to `x_` and the truncated one are not reported: {found:?}"
        );
        for f in &found {
            let token = &text[f.start..f.start + f.len];
            assert!(Key::parse(token).is_ok(), "{token}");
            assert!(token.starts_with(&f.display_prefix));
        }
        assert_eq!(found[0].start, 2);
        assert_eq!(found[0].display_prefix, "kw_ak_0123456789abcdef0123");
        // A look-alike with one character changed fails its checksum.
        let mut changed = VECTOR_AK.to_owned();
        changed.replace_range(30..31, if &VECTOR_AK[30..31] == "A" { "B" } else { "A" });
        assert!(find_keys(&changed).is_empty());
        assert!(find_keys("kw_kw_kw_ kw_").is_empty());
    }

    fn vector_keys() -> [(Key, &'static str); 3] {
        let mut counting = [0_u8; 32];
        for (byte, value) in counting.iter_mut().zip(0_u8..) {
            *byte = value;
        }
        [
            (
                Key::from_parts(
                    KeyKind::ApiKey,
                    "0123456789abcdef0123".parse().unwrap(),
                    counting,
                ),
                VECTOR_AK,
            ),
            (
                Key::from_parts(
                    KeyKind::ClientSecret,
                    "ffffffffffffffffffff".parse().unwrap(),
                    [0xff; 32],
                ),
                VECTOR_CS,
            ),
            (
                Key::from_parts(
                    KeyKind::EnrollmentToken,
                    "00112233445566778899".parse().unwrap(),
                    std::array::from_fn(|i| 32 + u8::try_from(i).unwrap()),
                ),
                VECTOR_ET,
            ),
        ]
    }

    fn token(key: &Key) -> String {
        key.to_token().expose_secret().to_owned()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fixed_vectors_encode_and_parse() {
        for (key, expected) in vector_keys() {
            assert_eq!(token(&key), expected);
            let parsed = Key::parse(expected).unwrap();
            assert_eq!(parsed.kind(), key.kind());
            assert_eq!(parsed.id(), key.id());
            assert_eq!(parsed.expose_secret(), key.expose_secret());
        }
    }

    #[test]
    fn generate_round_trips() {
        for kind in KeyKind::ALL {
            let key = Key::generate(kind).unwrap();
            let parsed = Key::parse(&token(&key)).unwrap();
            assert_eq!(parsed.kind(), kind);
            assert_eq!(parsed.id(), key.id());
            assert_eq!(parsed.expose_secret(), key.expose_secret());
            assert!(parsed.secret_digest().ct_eq(&key.secret_digest()));
            assert_eq!(token(&parsed), token(&key));
            let again = Key::parse_kind(&token(&key), kind).unwrap();
            assert_eq!(again.id(), key.id());
        }
    }

    #[test]
    fn generated_keys_differ() {
        let a = Key::generate(KeyKind::ApiKey).unwrap();
        let b = Key::generate(KeyKind::ApiKey).unwrap();
        assert_ne!(a.id(), b.id());
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(!a.secret_digest().ct_eq(&b.secret_digest()));
        assert_ne!(random_bytes::<16>().unwrap(), random_bytes::<16>().unwrap());
    }

    #[test]
    fn generated_tokens_have_the_documented_format() {
        for kind in KeyKind::ALL {
            for _ in 0..200 {
                let key = Key::generate(kind).unwrap();
                let token = token(&key);
                assert!(token.starts_with(kind.prefix()));
                assert!(
                    token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                );
                // 27 bytes of `kw_xx_{id}_`, then at most 50 base58 characters for 36
                // bytes; fewer than 44 happens with probability below 2^-36.
                assert!((71..=77).contains(&token.len()), "length {}", token.len());
                let id = &token[6..26];
                assert!(
                    id.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                );
                assert_eq!(id, key.id().as_str());
                assert_eq!(&token[26..27], "_");
                assert_eq!(key.display_prefix(), format!("{}{id}", kind.prefix()));
                assert!(token.starts_with(&key.display_prefix()));
            }
        }
    }

    #[test]
    fn every_single_character_change_is_refused() {
        const ALLOWED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        // Fixed tokens only: with random ones, a CRC32 collision would make
        // this test fail about once in a million runs.
        let tokens: Vec<String> = vector_keys().iter().map(|(key, _)| token(key)).collect();
        for token in tokens {
            let original = token.as_bytes();
            for position in 0..original.len() {
                for &replacement in ALLOWED {
                    if replacement == original[position] {
                        continue;
                    }
                    let mut changed = original.to_vec();
                    changed[position] = replacement;
                    let changed = String::from_utf8(changed).unwrap();
                    assert!(
                        Key::parse(&changed).is_err(),
                        "accepted a change at {position}"
                    );
                }
            }
        }
    }

    #[test]
    fn malformed_inputs_are_refused() {
        let valid = VECTOR_AK;
        let body = &valid[27..];
        let cases: Vec<(String, KeyError)> = vec![
            (String::new(), KeyError::NotKeyward),
            (format!("Bearer {valid}"), KeyError::NotKeyward),
            (format!(" {valid}"), KeyError::NotKeyward),
            (format!("{valid}\n"), KeyError::InvalidCharacter),
            (format!("{valid} "), KeyError::InvalidCharacter),
            (valid.replacen('_', " ", 3), KeyError::NotKeyward),
            (
                format!("kw_ak_0123456789abcdef0123 {body}"),
                KeyError::InvalidCharacter,
            ),
            (
                format!("kw_ak_0123456789abcdef0123_{body}\t"),
                KeyError::InvalidCharacter,
            ),
            (valid.replacen("kw_ak_", "kw_xx_", 1), KeyError::UnknownKind),
            (valid.replacen("kw_ak_", "KW_ak_", 1), KeyError::NotKeyward),
            (valid.replacen("kw_ak_", "kw_AK_", 1), KeyError::UnknownKind),
            (valid.replacen("abcdef", "ABCDEF", 1), KeyError::InvalidId),
            (valid.replacen("0123_", "012_", 1), KeyError::InvalidId),
            (valid.replacen("0123_", "01234_", 1), KeyError::InvalidId),
            ("kw_ak_0123456789abcdef0123".to_owned(), KeyError::Malformed),
            (
                "kw_ak_0123456789abcdef0123_".to_owned(),
                KeyError::InvalidLength,
            ),
            ("kw_ak_".to_owned(), KeyError::Malformed),
            ("kw_".to_owned(), KeyError::UnknownKind),
            (valid[..valid.len() - 1].to_owned(), KeyError::InvalidLength),
            (
                valid[..valid.len() - 10].to_owned(),
                KeyError::InvalidLength,
            ),
            (format!("{valid}z"), KeyError::ChecksumMismatch),
            (format!("{VECTOR_CS}1"), KeyError::InvalidLength),
            (
                VECTOR_CS[..VECTOR_CS.len() - 1].to_owned(),
                KeyError::ChecksumMismatch,
            ),
            (format!("{valid}_"), KeyError::InvalidBody),
            (valid.replacen("16qJ", "10qJ", 1), KeyError::InvalidBody),
            (valid.replacen("16qJ", "1O", 1), KeyError::InvalidBody),
            (
                format!("kw_ak_0123456789abcdef0123_1{body}"),
                KeyError::InvalidLength,
            ),
            (valid.replacen("kw_", "kw_é", 1), KeyError::InvalidCharacter),
            (valid.replacen('q', "é", 1), KeyError::InvalidCharacter),
            ("kẃ_ak_".to_owned(), KeyError::NotKeyward),
            ("kw_ak_".to_owned() + &"z".repeat(250), KeyError::Malformed),
            (
                "kw_ak_0123456789abcdef0123_".to_owned() + &"z".repeat(229),
                KeyError::InvalidLength,
            ),
            ("x".repeat(10 * 1024), KeyError::TooLong),
            (
                "kw_ak_".to_owned() + &"é".repeat(5 * 1024),
                KeyError::TooLong,
            ),
            (
                format!("{valid}{}", "1".repeat(10 * 1024)),
                KeyError::TooLong,
            ),
        ];
        for (input, expected) in cases {
            let error = Key::parse(&input).unwrap_err();
            assert_eq!(error, expected, "input {input:?}");
            assert!(!error.to_string().contains(body));
        }
    }

    #[test]
    fn parse_kind_refuses_the_other_kind() {
        let key = Key::generate(KeyKind::ClientSecret).unwrap();
        let error = Key::parse_kind(&token(&key), KeyKind::ApiKey).unwrap_err();
        assert_eq!(
            error,
            KeyError::WrongKind {
                expected: KeyKind::ApiKey,
                found: KeyKind::ClientSecret,
            }
        );
        assert_eq!(
            error.to_string(),
            "wrong key kind: expected api key, found client secret"
        );
        assert!(Key::parse_kind(&token(&key), KeyKind::ClientSecret).is_ok());
    }

    #[test]
    fn debug_output_does_not_reveal_the_secret() {
        let mut keys: Vec<(Key, String)> = vector_keys()
            .into_iter()
            .map(|(key, vector)| (key, vector.to_owned()))
            .collect();
        for kind in KeyKind::ALL {
            let key = Key::generate(kind).unwrap();
            let token = token(&key);
            keys.push((key, token));
        }
        for (key, token) in keys {
            let secret = key.expose_secret();
            let digest = key.secret_digest();
            let forbidden = [
                token.clone(),
                token[27..].to_owned(),
                hex(secret),
                bs58::encode(secret).into_string(),
                hex(digest.as_bytes()),
                bs58::encode(digest.as_bytes()).into_string(),
                format!("{secret:?}"),
                format!("{:?}", digest.as_bytes()),
            ];
            let key_debug = format!("{key:?}");
            let digest_debug = format!("{digest:?}");
            let token_debug = format!("{:?}", key.to_token());
            for shown in [&key_debug, &digest_debug, &token_debug] {
                for needle in &forbidden {
                    assert!(
                        !shown.contains(needle.as_str()),
                        "{shown} reveals the secret"
                    );
                }
            }
            assert!(key_debug.contains(key.id().as_str()));
            assert!(key_debug.contains("secret: [REDACTED]"));
            assert_eq!(digest_debug, "SecretDigest([REDACTED])");
        }
    }

    #[test]
    fn digest_is_sha256_of_the_secret() {
        let (key, _) = vector_keys().into_iter().next().unwrap();
        // SHA-256 of the bytes 0x00..=0x1f.
        assert_eq!(
            hex(key.secret_digest().as_bytes()),
            "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
        );
        let copy = key.secret_digest().clone();
        assert!(copy.ct_eq(&key.secret_digest()));
    }

    #[test]
    fn key_id_parsing() {
        assert_eq!(
            KeyId::try_from("abcdef0123456789abcd").unwrap().to_string(),
            "abcdef0123456789abcd"
        );
        for bad in [
            "",
            "abcdef0123456789abc",
            "abcdef0123456789abcde",
            "abcdef0123456789abcg",
            "ABCDEF0123456789ABCD",
            " bcdef0123456789abcd",
            "ébcdef0123456789abc",
        ] {
            assert_eq!(bad.parse::<KeyId>(), Err(KeyError::InvalidId));
        }
    }
}
