//! The master key: sealing HMAC client secrets so that the database never holds them in
//! clear, while the server can still get them back to check signatures.
//!
//! # Format
//!
//! A master key is 32 random bytes written as standard base64 (44 characters). Keyward reads
//! one or more of them, the first being the *current* key, which seals every new secret;
//! the others only open secrets sealed before a rotation:
//!
//! - `KEYWARD_MASTER_KEY` (or `--master-key`): the keys separated by commas;
//! - `KEYWARD_MASTER_KEY_FILE` (or `--master-key-file`): a file with one key per line;
//!   blank lines and lines starting with `#` are ignored;
//! - neither, with the embedded SQLite default: `master.key` in the data directory, generated
//!   with mode 0600 on first start. With an explicit `--database-url` a key must be given,
//!   so that every replica seals and opens with the same one.
//!
//! Each key is known by an id derived from it (`mk-` and 16 hex digits of a SHA-256 over a
//! fixed label and the key): stored next to every sealed secret, it names the key that
//! opens it, and it cannot be mistaken: a different key has a different id. At startup every
//! id found in the database must be configured, and one secret per id must open, or the
//! server refuses to start: a missing or wrong key is a clear error, never garbage.
//!
//! # Sealing
//!
//! XChaCha20-Poly1305 with a fresh 24-byte random nonce per secret; the stored ciphertext is
//! `nonce ‖ ciphertext ‖ tag`. The associated data binds a ciphertext to its credential and
//! to the key id in the secret token, so a sealed secret copied onto another row does not
//! open.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use keyward_core::key::{Key, KeyKind};
use keyward_store::{SecretMaterial, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Name of the key file generated in the data directory.
pub const GENERATED_FILE_NAME: &str = "master.key";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const ID_LABEL: &[u8] = b"keyward master key id v1\0";

/// Where the master keys come from, as configured.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// The keys themselves (`KEYWARD_MASTER_KEY`), comma-separated, current first.
    Value(SecretString),
    /// A file of keys, one per line, current first.
    File(PathBuf),
    /// The embedded default: this file, generated on first start.
    Generated(PathBuf),
    /// Nothing was configured where something must be.
    Missing,
}

/// Why the master keys cannot be used. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// No key was configured, and none may be generated.
    #[error(
        "no master key: set KEYWARD_MASTER_KEY or --master-key-file (required with an explicit \
         --database-url, so that every replica uses the same key; generate one with \
         `head -c 32 /dev/urandom | base64`)"
    )]
    Missing,
    /// The key file cannot be read or created.
    #[error("master key file {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A key is not 32 bytes of base64.
    #[error(
        "master key {position} from {origin} is not 32 bytes in standard base64 (44 characters)"
    )]
    Malformed {
        /// 1-based position of the key in its list.
        position: usize,
        /// Where it came from.
        origin: String,
    },
    /// The list holds no key.
    #[error("{origin} holds no master key")]
    Empty {
        /// Where the list came from.
        origin: String,
    },
    /// The database holds secrets sealed under a key that is not configured.
    #[error(
        "the database holds HMAC secrets sealed under master key `{id}`, which is not \
         configured (configured: {configured}); start with the master key that sealed them"
    )]
    NotConfigured {
        /// The id found in the database.
        id: String,
        /// The ids that are configured.
        configured: String,
    },
    /// A configured key does not open what it supposedly sealed.
    #[error(
        "master key `{id}` does not open the secrets sealed under it: wrong key or damaged data"
    )]
    DoesNotOpen {
        /// The key's id.
        id: String,
    },
    /// Reading the database failed.
    #[error("reading sealed secrets")]
    Store(#[from] StoreError),
}

/// Why a sealed secret cannot be opened (or a secret not sealed).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The secret was sealed under a key that is not configured.
    #[error("master key `{0}` is not configured")]
    UnknownKey(String),
    /// The ciphertext does not authenticate under the key and associated data.
    #[error("sealed secret does not open under master key `{0}`")]
    DoesNotOpen(String),
    /// The operating system's random source failed.
    #[error("no randomness for a nonce")]
    Rng,
}

struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The configured master keys, the current one first. `Debug` shows only their ids.
pub struct MasterKeys {
    keys: Vec<MasterKey>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("ids", &self.ids())
            .finish()
    }
}

impl MasterKeys {
    /// Reads the keys from their configured source, generating the key file of the
    /// embedded default if it does not exist yet.
    pub fn load(source: &MasterKeySource) -> Result<Self, MasterKeyError> {
        match source {
            MasterKeySource::Value(value) => Self::parse(
                value.expose_secret().split(','),
                "KEYWARD_MASTER_KEY".to_owned(),
            ),
            MasterKeySource::File(path) => Self::read_file(path),
            MasterKeySource::Generated(path) => {
                generate_file(path)?;
                Self::read_file(path)
            }
            MasterKeySource::Missing => Err(MasterKeyError::Missing),
        }
    }

    /// One fresh random key, for tests and for the generated file.
    pub fn generate() -> Result<(Self, SecretString), MasterKeyError> {
        let encoded = new_encoded_key()?;
        let keys = Self::parse(std::iter::once(encoded.expose_secret()), "a new key".into())?;
        Ok((keys, encoded))
    }

    fn read_file(path: &Path) -> Result<Self, MasterKeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| MasterKeyError::File {
            path: path.to_owned(),
            source,
        })?;
        let text = SecretString::from(text);
        let lines = text
            .expose_secret()
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'));
        Self::parse(lines, path.display().to_string())
    }

    fn parse<'a>(
        entries: impl Iterator<Item = &'a str>,
        origin: String,
    ) -> Result<Self, MasterKeyError> {
        let mut keys = Vec::new();
        for entry in entries.map(str::trim).filter(|e| !e.is_empty()) {
            let position = keys.len() + 1;
            let malformed = || MasterKeyError::Malformed {
                position,
                origin: origin.clone(),
            };
            let bytes = secrecy::SecretBox::new(Box::new(
                base64::engine::general_purpose::STANDARD
                    .decode(entry)
                    .map_err(|_| malformed())?,
            ));
            let bytes = bytes.expose_secret();
            if bytes.len() != KEY_LEN {
                return Err(malformed());
            }
            let cipher = XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| malformed())?;
            let digest = Sha256::new()
                .chain_update(ID_LABEL)
                .chain_update(bytes)
                .finalize();
            let id = format!("mk-{}", hex(&digest[..8]));
            keys.push(MasterKey { id, cipher });
        }
        if keys.is_empty() {
            return Err(MasterKeyError::Empty { origin });
        }
        Ok(Self { keys })
    }

    /// The ids of the configured keys, current first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the key that seals new secrets.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals a client secret for credential `credential_id` under the current key.
    pub fn seal(&self, credential_id: &str, secret: &Key) -> Result<SecretMaterial, SealError> {
        let key = &self.keys[0];
        let nonce = keyward_core::key::random_bytes::<NONCE_LEN>().map_err(|_| SealError::Rng)?;
        let token = secret.to_token();
        let aad = associated_data(credential_id, secret.id().as_str());
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: token.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::DoesNotOpen(key.id.clone()))?;
        let mut ciphertext = Vec::with_capacity(NONCE_LEN + sealed.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        Ok(SecretMaterial::Sealed {
            ciphertext,
            master_key_id: key.id.clone(),
        })
    }

    /// Opens a secret sealed for `credential_id` whose token carries `key_id`.
    pub fn open(
        &self,
        credential_id: &str,
        key_id: &str,
        ciphertext: &[u8],
        master_key_id: &str,
    ) -> Result<Key, SealError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == master_key_id)
            .ok_or_else(|| SealError::UnknownKey(master_key_id.to_owned()))?;
        let fail = || SealError::DoesNotOpen(key.id.clone());
        if ciphertext.len() <= NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = ciphertext.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| fail())?;
        let aad = associated_data(credential_id, key_id);
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| fail())?;
        let plain = SecretString::from(String::from_utf8(plain).map_err(|_| fail())?);
        let secret =
            Key::parse_kind(plain.expose_secret(), KeyKind::ClientSecret).map_err(|_| fail())?;
        if secret.id().as_str() != key_id {
            return Err(fail());
        }
        Ok(secret)
    }

    /// Startup check: every master key id the database names is configured, and opens one
    /// of the secrets sealed under it.
    pub async fn check_against(&self, store: &Store) -> Result<(), MasterKeyError> {
        for id in store.sealing_master_key_ids().await? {
            if !self.keys.iter().any(|k| k.id == id) {
                return Err(MasterKeyError::NotConfigured {
                    id,
                    configured: self.ids().join(", "),
                });
            }
            let Some(sample) = store.sealed_secret_sample(&id).await? else {
                continue;
            };
            let opened = match (&sample.material, &sample.key_id) {
                (
                    SecretMaterial::Sealed {
                        ciphertext,
                        master_key_id,
                    },
                    Some(key_id),
                ) => self
                    .open(&sample.credential_id, key_id, ciphertext, master_key_id)
                    .is_ok(),
                _ => false,
            };
            if !opened {
                return Err(MasterKeyError::DoesNotOpen { id });
            }
        }
        Ok(())
    }
}

/// What a re-seal pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    /// Secret versions now sealed under the current key.
    pub resealed: u64,
    /// Secret versions that changed or went while the pass ran (renewed, deleted,
    /// re-sealed by another pass): nothing to do.
    pub changed_meanwhile: u64,
    /// Secret versions that could not be opened (damaged data): left as they are, and
    /// logged with their credential and version.
    pub unopened: u64,
}

impl MasterKeys {
    /// Re-seals every HMAC client secret sealed under another configured key under the
    /// current (first) key, 100 at a time, so that the other keys can be removed. Each
    /// version is replaced only if it is still sealed as it was read; run it again at any
    /// time, and it does only what is left.
    pub async fn reseal_all(&self, store: &Store) -> Result<ResealReport, StoreError> {
        const BATCH: u64 = 100;
        let current = self.current_id();
        let mut report = ResealReport::default();
        let mut after: Option<(String, i32)> = None;
        loop {
            let batch = store
                .secrets_sealed_under_other_keys(
                    current,
                    after.as_ref().map(|(id, version)| (id.as_str(), *version)),
                    BATCH,
                )
                .await?;
            let Some(last) = batch.last() else {
                return Ok(report);
            };
            after = Some((last.credential_id.clone(), last.version));
            for secret in batch {
                let resealed = match (&secret.material, &secret.key_id) {
                    (
                        SecretMaterial::Sealed {
                            ciphertext,
                            master_key_id,
                        },
                        Some(key_id),
                    ) => self
                        .open(&secret.credential_id, key_id, ciphertext, master_key_id)
                        .and_then(|key| self.seal(&secret.credential_id, &key))
                        .map(|sealed| (master_key_id.clone(), sealed)),
                    _ => Err(SealError::DoesNotOpen(String::new())),
                };
                match resealed {
                    Ok((
                        previous,
                        SecretMaterial::Sealed {
                            ciphertext,
                            master_key_id,
                        },
                    )) => {
                        let replaced = store
                            .reseal_secret(
                                &secret.credential_id,
                                secret.version,
                                &previous,
                                ciphertext,
                                &master_key_id,
                            )
                            .await?;
                        if replaced {
                            report.resealed += 1;
                        } else {
                            report.changed_meanwhile += 1;
                        }
                    }
                    Ok((_, SecretMaterial::Hash(_))) | Err(_) => {
                        tracing::error!(
                            credential = %secret.credential_id,
                            version = secret.version,
                            "cannot re-seal a client secret: it does not open"
                        );
                        report.unopened += 1;
                    }
                }
            }
        }
    }
}

fn associated_data(credential_id: &str, key_id: &str) -> Vec<u8> {
    format!("keyward sealed client secret v1\0{credential_id}\0{key_id}").into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_encoded_key() -> Result<SecretString, MasterKeyError> {
    let bytes =
        keyward_core::key::random_bytes::<KEY_LEN>().map_err(|err| MasterKeyError::File {
            path: PathBuf::from("<random>"),
            source: std::io::Error::other(err.to_string()),
        })?;
    Ok(SecretString::from(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// Creates the key file with a fresh key (mode 0600) unless it exists already.
fn generate_file(path: &Path) -> Result<(), MasterKeyError> {
    use std::io::Write as _;
    let file_error = |source| MasterKeyError::File {
        path: path.to_owned(),
        source,
    };
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(file_error)?;
    }
    let key = new_encoded_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another process created it meanwhile: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(err) => return Err(file_error(err)),
    };
    let text = format!(
        "# Keyward master key: seals the HMAC client secrets in the database.\n\
         # Back it up with the database; without it those secrets cannot be used.\n\
         # To rotate, put a new key on the first line and keep the old ones below.\n\
         {}\n",
        key.expose_secret()
    );
    file.write_all(text.as_bytes()).map_err(file_error)?;
    file.sync_all().map_err(file_error)?;
    tracing::info!(path = %path.display(), "generated a new master key file");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> MasterKeys {
        MasterKeys::parse(text.split(','), "test".into()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_credential_and_key_id() {
        let (master, _) = MasterKeys::generate().unwrap();
        let secret = Key::generate(KeyKind::ClientSecret).unwrap();
        let SecretMaterial::Sealed {
            ciphertext,
            master_key_id,
        } = master.seal("c1", &secret).unwrap()
        else {
            panic!("sealed material expected");
        };
        let token = secret.to_token();
        let token = token.expose_secret();
        assert!(
            !ciphertext
                .windows(token.len())
                .any(|w| w == token.as_bytes()),
            "no clear text"
        );
        let key_id = secret.id().as_str();
        let opened = master
            .open("c1", key_id, &ciphertext, &master_key_id)
            .unwrap();
        assert_eq!(opened.expose_secret(), secret.expose_secret());
        assert!(
            master
                .open("c2", key_id, &ciphertext, &master_key_id)
                .is_err()
        );
        assert!(
            master
                .open("c1", "00000000000000000000", &ciphertext, &master_key_id)
                .is_err()
        );
        let mut flipped = ciphertext.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(master.open("c1", key_id, &flipped, &master_key_id).is_err());
        assert!(matches!(
            master.open("c1", key_id, &ciphertext, "mk-0000000000000000"),
            Err(SealError::UnknownKey(_))
        ));
        let (other, _) = MasterKeys::generate().unwrap();
        assert!(
            other
                .open("c1", key_id, &ciphertext, &master_key_id)
                .is_err()
        );
    }

    #[test]
    fn ids_are_derived_from_the_keys_and_the_first_key_is_current() {
        let a = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let b = "HxAdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
        let both = keys(&format!("{a}, {b}"));
        assert_eq!(both.ids().len(), 2);
        assert_eq!(both.current_id(), keys(a).current_id());
        assert_ne!(keys(a).current_id(), keys(b).current_id());
        assert!(both.current_id().starts_with("mk-"));
        assert_eq!(both.current_id().len(), 19);
        assert!(!format!("{both:?}").contains(a));
    }

    #[test]
    fn malformed_keys_are_refused_without_echoing_them() {
        for bad in [
            "",
            "not base64!",
            "AAECAwQ=",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8fHw==",
        ] {
            let err = MasterKeys::parse(bad.split(','), "KEYWARD_MASTER_KEY".into()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("KEYWARD_MASTER_KEY"), "{text}");
            if !bad.is_empty() {
                assert!(!text.contains(bad), "{text}");
            }
        }
    }

    #[test]
    fn the_generated_file_is_private_stable_and_commented() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(GENERATED_FILE_NAME);
        let first = MasterKeys::load(&MasterKeySource::Generated(path.clone())).unwrap();
        let again = MasterKeys::load(&MasterKeySource::Generated(path.clone())).unwrap();
        assert_eq!(first.current_id(), again.current_id(), "not regenerated");
        let from_file = MasterKeys::load(&MasterKeySource::File(path.clone())).unwrap();
        assert_eq!(first.current_id(), from_file.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            MasterKeys::load(&MasterKeySource::Missing),
            Err(MasterKeyError::Missing)
        ));
        let missing = MasterKeys::load(&MasterKeySource::File(dir.path().join("nope")));
        assert!(matches!(missing, Err(MasterKeyError::File { .. })));
    }
}
