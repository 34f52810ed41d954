//! The name an API key is saved under, `DISPLAY_NAME.APIKEY`: the server
//! suggests it in `CreateApiKeyResponse.suggested_file_name` and the Rust
//! client's `ApiKeyFile` writes to it, so both come from here.
//!
//! The file's contents are specified by the `keyward_client::key_file` module
//! documentation; `testdata/apikey-file-vectors.json` holds test vectors for
//! both the name and the contents, which every SDK checks itself against.
//!
//! ```
//! use keyward_core::key_file::file_name;
//!
//! assert_eq!(file_name("CI deploys", "0123456789abcdef0123"), "CI_deploys.APIKEY");
//! assert_eq!(file_name("../../etc/passwd", "0123456789abcdef0123"), "etcpasswd.APIKEY");
//! assert_eq!(file_name("✓", "0123456789abcdef0123"), "kw_ak_0123456789abcdef0123.APIKEY");
//! ```

use crate::key::KeyKind;

/// The extension of API key files.
pub const EXTENSION: &str = "APIKEY";

/// `DISPLAY_NAME.APIKEY`, safe on every filesystem: the display name is
/// trimmed, spaces become underscores, only ASCII letters, digits, `.`, `_`
/// and `-` are kept, and leading dots are dropped. When nothing is left, the
/// key's public prefix names the file: `kw_ak_{key_id}.APIKEY`.
pub fn file_name(display_name: &str, key_id: &str) -> String {
    let stem: String = display_name
        .trim()
        .chars()
        .map(|c| if c == ' ' { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        format!("{}{key_id}.{EXTENSION}", KeyKind::ApiKey.prefix())
    } else {
        format!("{stem}.{EXTENSION}")
    }
}
