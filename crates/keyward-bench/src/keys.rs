//! The keys and request bodies the phases present: real keys, keys with a broken checksum,
//! well-formed keys with unknown IDs, forged keys carrying a real key's ID with a random
//! secret, and keys hashed cheaply for bulk loading. Request bodies are encoded once, before
//! a phase, with the client crate's generated types.

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use bytes::{BufMut as _, Bytes, BytesMut};
use keyward_client::proto::VerifyApiKeyRequest;
use keyward_core::key::{Key, KeyError, KeyKind, random_bytes};
use prost::Message;
use secrecy::ExposeSecret as _;

use crate::{Result, fail};

/// The API set every target key holds and every VerifyApiKey request asks about.
pub(crate) const API_SET_ID: &str = "bench.api";
/// Its resource name, as VerifyApiKey takes it.
pub(crate) const API_SET: &str = "apiSets/bench.api";

/// A gRPC length-prefixed message: flag 0 (uncompressed), big-endian length, protobuf.
pub(crate) fn grpc_frame(message: &impl Message) -> Bytes {
    let len = message.encoded_len();
    let mut frame = BytesMut::with_capacity(5 + len);
    frame.put_u8(0);
    frame.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    // Encoding into a buffer with room for the message cannot fail.
    let _ = message.encode(&mut frame);
    frame.freeze()
}

/// The VerifyApiKey request the benchmark sends about `key`.
pub(crate) fn verify_request(key: &str) -> VerifyApiKeyRequest {
    VerifyApiKeyRequest {
        key: key.to_owned(),
        api_set: API_SET.to_owned(),
        api_method: String::new(),
    }
}

/// [`verify_request`] as a gRPC body.
pub(crate) fn verify_body(key: &str) -> Bytes {
    grpc_frame(&verify_request(key))
}

/// The request a body carries (to check its answer through the client).
pub(crate) fn decode_verify_body(body: &Bytes) -> Result<VerifyApiKeyRequest> {
    let message = body
        .get(5..)
        .ok_or_else(|| fail!("body shorter than a frame header"))?;
    Ok(VerifyApiKeyRequest::decode(message)?)
}

/// A fresh, well-formed API key that no record has: its token.
pub(crate) fn unknown_key() -> Result<String> {
    Ok(Key::generate(KeyKind::ApiKey)?
        .to_token()
        .expose_secret()
        .to_owned())
}

/// `key` with one character of its body changed so that its checksum no longer matches
/// (checked with the parser the server uses).
pub(crate) fn break_checksum(key: &str) -> Result<String> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let bytes = key.as_bytes();
    for position in (27..bytes.len()).rev() {
        for &replacement in ALPHABET {
            if replacement == bytes[position] {
                continue;
            }
            let mut changed = bytes.to_vec();
            changed[position] = replacement;
            let changed = String::from_utf8(changed)?;
            if matches!(Key::parse(&changed), Err(KeyError::ChecksumMismatch)) {
                return Ok(changed);
            }
        }
    }
    Err(fail!("no single-character change breaks only the checksum"))
}

/// A well-formed key (correct checksum) with the ID `id` and the secret `secret`, built by
/// hand from the documented format: `kw_ak_{id}_{base58(secret ‖ CRC32-IEEE big-endian of
/// "kw_ak_{id}_" + secret)}`. With a real key's ID and a random secret: what an attacker who
/// saw a key's public ID can send.
pub(crate) fn forge_key(id: &str, secret: &[u8; 32]) -> Result<String> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(format!("kw_ak_{id}_").as_bytes());
    crc.update(secret);
    let mut payload = secret.to_vec();
    payload.extend_from_slice(&crc.finalize().to_be_bytes());
    let token = format!("kw_ak_{id}_{}", bs58::encode(payload).into_string());
    // The server's parser must take it.
    let parsed = Key::parse_kind(&token, KeyKind::ApiKey)?;
    if parsed.id().as_str() != id {
        return Err(fail!("forged key has another id"));
    }
    Ok(token)
}

/// [`forge_key`] with a random secret.
pub(crate) fn forge_random(id: &str) -> Result<String> {
    forge_key(id, &random_bytes::<32>()?)
}

/// The public ID of a key token.
pub(crate) fn key_id(token: &str) -> Result<String> {
    Ok(Key::parse(token)?.id().as_str().to_owned())
}

/// A key for bulk loading: its token, ID and the argon2id PHC string of its secret with
/// cheap parameters (8 KiB, 1 pass, 1 lane). The server verifies a PHC string with the
/// parameters stored in it, so these cost it microseconds instead of ~20 ms.
pub(crate) struct CheapKey {
    /// The key.
    pub(crate) token: String,
    /// Its public ID.
    pub(crate) id: String,
    /// The PHC string to store.
    pub(crate) phc: String,
}

/// `count` new keys hashed with cheap parameters, on every core.
pub(crate) fn cheap_keys(count: usize) -> Result<Vec<CheapKey>> {
    let params = Params::new(8, 1, 1, None).map_err(|e| fail!("argon2 parameters: {e}"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    on_every_core(count, |_| {
        let key = Key::generate(KeyKind::ApiKey)?;
        let phc = argon2
            .hash_password(key.expose_secret())
            .map_err(|e| fail!("argon2: {e}"))?
            .to_string();
        Ok(CheapKey {
            token: key.to_token().expose_secret().to_owned(),
            id: key.id().as_str().to_owned(),
            phc,
        })
    })
}

/// `count` VerifyApiKey bodies, each about a different fresh key that no record has.
pub(crate) fn unknown_bodies(count: usize) -> Result<Vec<Bytes>> {
    on_every_core(count, |_| Ok(verify_body(&unknown_key()?)))
}

/// `make(0..count)` in order, spread over every core.
pub(crate) fn on_every_core<T: Send>(
    count: usize,
    make: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = count.div_ceil(threads).max(1);
    let make = &make;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|from| {
                let to = (from + per_thread).min(count);
                scope.spawn(move || (from..to).map(make).collect::<Result<Vec<T>>>())
            })
            .collect();
        let mut out = Vec::with_capacity(count);
        for worker in workers {
            let made = worker
                .join()
                .map_err(|_| fail!("a worker thread panicked"))??;
            out.extend(made);
        }
        Ok(out)
    })
}

/// A small, fast pseudo-random generator (SplitMix64) for choosing and shuffling, seeded
/// from the OS.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from the OS CSPRNG.
    pub(crate) fn new() -> Result<Rng> {
        Ok(Rng(u64::from_le_bytes(random_bytes::<8>()?)))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }

    /// Shuffles `items` (Fisher–Yates).
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_keys_parse_with_the_id_they_carry() {
        let real = unknown_key().unwrap();
        let id = key_id(&real).unwrap();
        let forged = forge_random(&id).unwrap();
        assert_ne!(forged, real);
        assert_eq!(key_id(&forged).unwrap(), id);
        // The documented format reproduces the key generator's own tokens.
        let key = Key::parse(&real).unwrap();
        assert_eq!(forge_key(&id, key.expose_secret()).unwrap(), real);
    }

    #[test]
    fn a_broken_checksum_is_refused_by_the_parser() {
        let real = unknown_key().unwrap();
        let broken = break_checksum(&real).unwrap();
        assert_eq!(broken.len(), real.len());
        assert_eq!(Key::parse(&broken).unwrap_err(), KeyError::ChecksumMismatch);
    }

    #[test]
    fn bodies_decode_back_to_their_request() {
        let body = verify_body("kw_ak_x");
        assert_eq!(
            decode_verify_body(&body).unwrap(),
            verify_request("kw_ak_x")
        );
        assert_eq!(body.len(), 5 + verify_request("kw_ak_x").encoded_len());
    }

    #[test]
    fn cheap_keys_verify_with_default_parameters_of_the_server() {
        use argon2::password_hash::PasswordVerifier as _;
        use argon2::password_hash::phc::PasswordHash;
        let keys = cheap_keys(3).unwrap();
        assert_eq!(keys.len(), 3);
        let key = Key::parse(&keys[0].token).unwrap();
        let phc = PasswordHash::new(&keys[0].phc).unwrap();
        // What the server does: `Argon2::default()` verifies with the stored parameters.
        assert!(
            Argon2::default()
                .verify_password(key.expose_secret(), &phc)
                .is_ok()
        );
    }
}
