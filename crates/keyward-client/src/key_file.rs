//! The `.APIKEY` file: an API key saved to disk the way people download it
//! from a console, `DISPLAY_NAME.APIKEY`.
//!
//! # Format (stable)
//!
//! UTF-8 text, one entry per line (LF; CRLF is read too):
//!
//! ```text
//! # Keyward API key. Anyone holding it can act as its owner: keep this file secret.
//! name = accounts/acme/users/alice/apiKeys/0123456789abcdef0123
//! display_name = CI deploys
//! key = kw_ak_0123456789abcdef0123_16qJFWMMHFy3xDdLmvUeyc2S6FrWRhJP51HsvDYdz9cArV58
//! ```
//!
//! - Blank lines and lines starting with `#` (after leading spaces) are
//!   comments.
//! - Every other line is `field = value`, split at the first `=`; spaces
//!   around the field and the value are ignored. Fields are lowercase.
//! - `key` (required): the API key, `kw_ak_…`, checked (prefix, length,
//!   checksum) when the file is read.
//! - `name` (optional): the key's resource name.
//! - `display_name` (optional): the key's display name.
//! - A field appears at most once. Fields this version does not know are
//!   ignored, so later versions may add some; the meaning of these three never
//!   changes.
//! - A file holding only the key on one line (a pasted key) is read too.
//!
//! A shell reads the key with `sed -n 's/^key = //p' NAME.APIKEY`.
//!
//! [`ApiKeyFile::write_new`] creates the file with mode 0600 on Unix and never
//! overwrites an existing file. The key is kept in a [`SecretString`]: `Debug`
//! never shows it, and no error carries any part of it.
//!
//! ```no_run
//! # async fn demo(client: keyward_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use keyward_client::{ApiKeyFile, NewApiKey};
//!
//! let created = client
//!     .create_api_key(NewApiKey::new("CI deploys", ["apiSets/keyward.verify"]))
//!     .await?;
//! let path = ApiKeyFile::from_created(&created)?.write_new(".")?;
//! let again = ApiKeyFile::read(&path)?;
//! # let _ = again;
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use keyward_core::key::{Key, KeyError, KeyKind};
use secrecy::{ExposeSecret, SecretString};

use crate::proto::{ApiKey, CreateApiKeyResponse};

/// The extension of API key files.
pub use keyward_core::key_file::EXTENSION;

/// Files larger than this are not API key files and are refused unread.
const MAX_FILE_LEN: u64 = 64 * 1024;

/// The first line of every file written.
const HEADER: &str =
    "# Keyward API key. Anyone holding it can act as its owner: keep this file secret.";

/// Why the text of an API key file was refused. Never carries the key.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// A line is neither a comment, nor `field = value`, nor a lone key.
    #[error("line {line}: expected `field = value`")]
    Syntax {
        /// The line, from 1.
        line: usize,
    },
    /// A field appears twice.
    #[error("line {line}: `{field}` appears a second time")]
    DuplicateField {
        /// The line of the second appearance, from 1.
        line: usize,
        /// The field.
        field: String,
    },
    /// The key is missing.
    #[error("no `key = …` line")]
    MissingKey,
    /// The key is not a well-formed Keyward API key.
    #[error("line {line}: not a Keyward API key: {source}")]
    InvalidKey {
        /// The line, from 1 (0 when the key did not come from a file).
        line: usize,
        /// What is wrong with it.
        #[source]
        source: KeyError,
    },
    /// A value spans lines or holds control characters.
    #[error("`{field}` must be one line without control characters")]
    InvalidValue {
        /// The field.
        field: &'static str,
    },
}

/// Why an API key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file exists already; it is never overwritten.
    #[error("{}: already exists; an API key file is never overwritten", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is far larger than any API key file.
    #[error("{}: larger than {MAX_FILE_LEN} bytes, not an API key file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{}: not UTF-8 text, not an API key file", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The file's contents are not an API key file.
    #[error("{}: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ParseError,
    },
    /// The values to write are not valid.
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

/// An API key with what identifies it, as saved in a `.APIKEY` file.
#[derive(Debug)]
pub struct ApiKeyFile {
    key: SecretString,
    name: Option<String>,
    display_name: Option<String>,
}

/// A value that fits on one `field = value` line and reads back the same.
fn one_line(field: &'static str, value: &str) -> Result<Option<String>, ParseError> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(ParseError::InvalidValue { field });
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// Fills a field seen for the first time.
fn set_once(
    slot: &mut Option<String>,
    line: usize,
    field: &str,
    value: &str,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateField {
            line,
            field: field.to_owned(),
        });
    }
    *slot = Some(value.to_owned());
    Ok(())
}

/// Checks that `key` is a Keyward API key.
fn checked_key(key: &str, line: usize) -> Result<(), ParseError> {
    Key::parse_kind(key, KeyKind::ApiKey)
        .map(drop)
        .map_err(|source| ParseError::InvalidKey { line, source })
}

impl ApiKeyFile {
    /// An API key file for `key`, which must be a well-formed Keyward API key.
    pub fn new(key: SecretString) -> Result<Self, ParseError> {
        checked_key(key.expose_secret(), 0)?;
        Ok(Self {
            key,
            name: None,
            display_name: None,
        })
    }

    /// With the key's resource name.
    pub fn with_name(mut self, name: &str) -> Result<Self, ParseError> {
        self.name = one_line("name", name)?;
        Ok(self)
    }

    /// With the key's display name (which names the file).
    pub fn with_display_name(mut self, display_name: &str) -> Result<Self, ParseError> {
        self.display_name = one_line("display_name", display_name)?;
        Ok(self)
    }

    /// The file of a key just created: its key, resource name and display
    /// name. [`ParseError::MissingKey`] for the response to a retried create,
    /// which never carries the key again.
    pub fn from_create_response(response: &CreateApiKeyResponse) -> Result<Self, ParseError> {
        Self::from_parts(&response.key, response.api_key.as_ref())
    }

    /// The file of a key just created through [`crate::Client::create_api_key`] or
    /// [`crate::Client::redeem_enrollment_token`]; [`ParseError::MissingKey`] for a
    /// retried create, which never carries the key again.
    pub fn from_created(created: &crate::CreatedApiKey) -> Result<Self, ParseError> {
        Self::from_parts(created.key.expose_secret(), Some(&created.api_key))
    }

    fn from_parts(key: &str, api_key: Option<&ApiKey>) -> Result<Self, ParseError> {
        if key.is_empty() {
            return Err(ParseError::MissingKey);
        }
        let file = Self::new(SecretString::from(key))?;
        match api_key {
            Some(api_key) => file
                .with_name(&api_key.name)?
                .with_display_name(&api_key.display_name),
            None => Ok(file),
        }
    }

    /// The API key.
    pub fn key(&self) -> &SecretString {
        &self.key
    }

    /// The key's resource name, if known.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The key's display name, if known.
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    /// `DISPLAY_NAME.APIKEY`, safe on every filesystem, as the server's
    /// `suggested_file_name`: see [`keyward_core::key_file::file_name`].
    /// Without a display name, the key's public prefix `kw_ak_{id}` names
    /// the file.
    pub fn file_name(&self) -> String {
        let key = self.key.expose_secret();
        let key_id = key
            .get(KeyKind::ApiKey.prefix().len()..)
            .and_then(|rest| rest.get(..keyward_core::key::KeyId::LEN))
            .unwrap_or_default();
        keyward_core::key_file::file_name(self.display_name.as_deref().unwrap_or_default(), key_id)
    }

    /// The file's contents, in the documented format.
    pub fn to_text(&self) -> SecretString {
        let mut text = String::with_capacity(256);
        text.push_str(HEADER);
        text.push('\n');
        if let Some(name) = &self.name {
            let _ = writeln!(text, "name = {name}");
        }
        if let Some(display_name) = &self.display_name {
            let _ = writeln!(text, "display_name = {display_name}");
        }
        let _ = writeln!(text, "key = {}", self.key.expose_secret());
        SecretString::from(text)
    }

    /// Reads the documented format.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut key: Option<(usize, String)> = None;
        let mut name = None;
        let mut display_name = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (field, value) = match trimmed.split_once('=') {
                Some((field, value)) => (field.trim(), value.trim()),
                // A lone key: base58 and key IDs have no `=`.
                None if trimmed.starts_with("kw_") => ("key", trimmed),
                None => return Err(ParseError::Syntax { line }),
            };
            match field {
                "key" => {
                    if key.is_some() {
                        return Err(ParseError::DuplicateField {
                            line,
                            field: "key".to_owned(),
                        });
                    }
                    checked_key(value, line)?;
                    key = Some((line, value.to_owned()));
                }
                "name" => set_once(&mut name, line, field, value)?,
                "display_name" => set_once(&mut display_name, line, field, value)?,
                other
                    if !other.is_empty()
                        && other.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {}
                _ => return Err(ParseError::Syntax { line }),
            }
        }
        let (_, key) = key.ok_or(ParseError::MissingKey)?;
        Ok(Self {
            key: SecretString::from(key),
            name: name.filter(|n| !n.is_empty()),
            display_name: display_name.filter(|n| !n.is_empty()),
        })
    }

    /// Writes the file into `dir` under [`file_name`](Self::file_name) and
    /// returns its path. See [`write_new_at`](Self::write_new_at).
    pub fn write_new(&self, dir: impl AsRef<Path>) -> Result<PathBuf, KeyFileError> {
        let path = dir.as_ref().join(self.file_name());
        self.write_new_at(&path)?;
        Ok(path)
    }

    /// Creates the file `path` (mode 0600 on Unix) and writes the key into
    /// it. Refuses with [`KeyFileError::AlreadyExists`] if `path` exists;
    /// leaves nothing behind if writing fails.
    pub fn write_new_at(&self, path: impl AsRef<Path>) -> Result<(), KeyFileError> {
        let path = path.as_ref();
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                io(err)
            }
        })?;
        let written = (|| {
            // Exactly 0600, whatever the umask took away.
            #[cfg(unix)]
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            file.write_all(self.to_text().expose_secret().as_bytes())?;
            file.sync_all()
        })();
        if let Err(err) = written {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(io(err));
        }
        Ok(())
    }

    /// Reads an API key file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, KeyFileError> {
        let path = path.as_ref();
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_LEN + 1), &mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(KeyFileError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = secrecy::zeroize::Zeroizing::new(String::from_utf8(bytes).map_err(|_| {
            KeyFileError::NotText {
                path: path.to_owned(),
            }
        })?);
        Self::parse(&text).map_err(|source| KeyFileError::Malformed {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        Key::generate(KeyKind::ApiKey)
            .unwrap()
            .to_token()
            .expose_secret()
            .to_owned()
    }

    fn sample(key: &str) -> ApiKeyFile {
        ApiKeyFile::new(SecretString::from(key.to_owned()))
            .unwrap()
            .with_name("accounts/acme/users/alice/apiKeys/0123456789abcdef0123")
            .unwrap()
            .with_display_name("CI deploys")
            .unwrap()
    }

    #[test]
    fn a_written_file_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let key = token();
        let path = sample(&key).write_new(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("CI_deploys.APIKEY"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Keyward API key."), "{text}");
        assert!(text.contains(&format!("\nkey = {key}\n")), "{text}");

        let read = ApiKeyFile::read(&path).unwrap();
        assert_eq!(read.key().expose_secret(), key);
        assert_eq!(
            read.name(),
            Some("accounts/acme/users/alice/apiKeys/0123456789abcdef0123")
        );
        assert_eq!(read.display_name(), Some("CI deploys"));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = sample(&token()).write_new(dir.path()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = token();
        let path = sample(&first).write_new(dir.path()).unwrap();
        match sample(&token()).write_new(dir.path()) {
            Err(KeyFileError::AlreadyExists { path: refused }) => assert_eq!(refused, path),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ApiKeyFile::read(&path).unwrap().key().expose_secret(),
            first
        );
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let key = token();
        let file = sample(&key);
        let debug = format!("{file:?}");
        assert!(!debug.contains(&key[10..]), "{debug}");

        let mistyped = format!("key = {}x", &key);
        let err = ApiKeyFile::parse(&mistyped).unwrap_err();
        assert!(!err.to_string().contains(&key[10..]), "{err}");
    }

    #[test]
    fn comments_blank_lines_crlf_unknown_fields_and_a_lone_key_are_read() {
        let key = token();
        let text = format!("# saved by hand\r\n\r\n  future_field = 42\r\nkey=  {key}  \r\n");
        let file = ApiKeyFile::parse(&text).unwrap();
        assert_eq!(file.key().expose_secret(), key);
        assert_eq!(file.name(), None);
        assert_eq!(file.file_name(), format!("{}.APIKEY", &key[..26]));

        let lone = ApiKeyFile::parse(&format!("{key}\n")).unwrap();
        assert_eq!(lone.key().expose_secret(), key);
    }

    #[test]
    fn malformed_files_are_refused_precisely() {
        let key = token();
        let mut mistyped = key.clone();
        let last = mistyped.pop().unwrap();
        mistyped.push(if last == '2' { '3' } else { '2' });
        let secret = Key::generate(KeyKind::ClientSecret)
            .unwrap()
            .to_token()
            .expose_secret()
            .to_owned();

        let cases: Vec<(String, &str)> = vec![
            ("name = x\n".into(), "no `key = …` line"),
            (
                format!("key = {key}\nkey = {key}\n"),
                "line 2: `key` appears a second time",
            ),
            (
                format!("name = a\nname = b\nkey = {key}\n"),
                "line 2: `name` appears a second time",
            ),
            (
                format!("key = {mistyped}\n"),
                "line 1: not a Keyward API key: key checksum does not match",
            ),
            (
                format!("key = {}\n", &key[..40]),
                "line 1: not a Keyward API key",
            ),
            (
                format!("\nkey = {secret}\n"),
                "line 2: not a Keyward API key: wrong key kind",
            ),
            (
                "key = sk_live_abc\n".into(),
                "line 1: not a Keyward API key: not a keyward key",
            ),
            (
                format!("hello\nkey = {key}\n"),
                "line 1: expected `field = value`",
            ),
            (format!("Key = {key}\n"), "line 1: expected `field = value`"),
        ];
        for (text, expected) in cases {
            let err = ApiKeyFile::parse(&text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn files_that_are_not_key_files_are_refused_unparsed() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.APIKEY");
        std::fs::write(&big, vec![b'#'; 70 * 1024]).unwrap();
        assert!(matches!(
            ApiKeyFile::read(&big),
            Err(KeyFileError::TooLarge { .. })
        ));
        let binary = dir.path().join("binary.APIKEY");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            ApiKeyFile::read(&binary),
            Err(KeyFileError::NotText { .. })
        ));
        let missing = dir.path().join("missing.APIKEY");
        let err = ApiKeyFile::read(&missing).unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }), "{err}");
        assert!(err.to_string().contains("missing.APIKEY"), "{err}");
        let malformed = dir.path().join("malformed.APIKEY");
        std::fs::write(&malformed, "key = nope\n").unwrap();
        let err = ApiKeyFile::read(&malformed).unwrap_err().to_string();
        assert!(
            err.contains("malformed.APIKEY: line 1: not a Keyward API key"),
            "{err}"
        );
    }

    #[test]
    fn values_that_would_not_read_back_are_refused() {
        let file = ApiKeyFile::new(SecretString::from(token())).unwrap();
        assert!(matches!(
            file.with_display_name("two\nlines"),
            Err(ParseError::InvalidValue {
                field: "display_name"
            })
        ));
        assert!(matches!(
            ApiKeyFile::new(SecretString::from("kw_ak_nope".to_owned())),
            Err(ParseError::InvalidKey { line: 0, .. })
        ));
    }

    #[test]
    fn file_names_are_safe_and_follow_the_display_name() {
        let key = token();
        let named = |name: &str| {
            ApiKeyFile::new(SecretString::from(key.clone()))
                .unwrap()
                .with_display_name(name)
                .unwrap()
                .file_name()
        };
        assert_eq!(named("CI deploys"), "CI_deploys.APIKEY");
        assert_eq!(named("../etc/passwd"), "etcpasswd.APIKEY");
        assert_eq!(named(".hidden"), "hidden.APIKEY");
        assert_eq!(named("été"), "t.APIKEY");
    }
}
