//! The `.APIKEY` file test vectors (`crates/keyward-core/testdata/apikey-file-vectors.json`,
//! computed independently in Python, and checked by the Python and TypeScript SDKs too)
//! against `ApiKeyFile`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use keyward_client::key_file::{ApiKeyFile, ParseError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keyward-core/testdata/apikey-file-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text<'a>(case: &'a Value, field: &str) -> Option<&'a str> {
    case[field].as_str()
}

fn error_kind(error: &ParseError) -> &'static str {
    match error {
        ParseError::Syntax { .. } => "syntax",
        ParseError::DuplicateField { .. } => "duplicate_field",
        ParseError::MissingKey => "missing_key",
        ParseError::InvalidKey { .. } => "invalid_key",
        ParseError::InvalidValue { .. } => "invalid_value",
    }
}

#[test]
fn read_vectors() {
    let vectors = vectors();
    let cases = vectors["read"].as_array().unwrap();
    assert!(cases.len() >= 15, "the read vectors are missing");
    for case in cases {
        let name = text(case, "name").unwrap();
        let parsed = ApiKeyFile::parse(text(case, "text").unwrap());
        match text(case, "error") {
            Some(expected) => {
                let error = parsed.err().unwrap_or_else(|| panic!("{name}: read"));
                assert_eq!(error_kind(&error), expected, "{name}: {error}");
            }
            None => {
                let file = parsed.unwrap_or_else(|error| panic!("{name}: {error}"));
                let expect = &case["expect"];
                assert_eq!(
                    file.key().expose_secret(),
                    text(expect, "key").unwrap(),
                    "{name}"
                );
                assert_eq!(file.name(), text(expect, "name"), "{name}");
                assert_eq!(file.display_name(), text(expect, "display_name"), "{name}");
            }
        }
    }
}

#[test]
fn write_vectors() {
    let vectors = vectors();
    let cases = vectors["write"].as_array().unwrap();
    assert!(cases.len() >= 5, "the write vectors are missing");
    for case in cases {
        let name = text(case, "name").unwrap();
        let mut file =
            ApiKeyFile::new(SecretString::from(text(case, "key").unwrap().to_owned())).unwrap();
        if let Some(resource) = text(case, "resource_name") {
            file = file.with_name(resource).unwrap();
        }
        if let Some(display_name) = text(case, "display_name") {
            file = file.with_display_name(display_name).unwrap();
        }
        assert_eq!(
            file.to_text().expose_secret(),
            text(case, "text").unwrap(),
            "{name}"
        );
        assert_eq!(file.file_name(), text(case, "file_name").unwrap(), "{name}");
        // What is written reads back as written.
        let again = ApiKeyFile::parse(text(case, "text").unwrap()).unwrap();
        assert_eq!(again.key().expose_secret(), text(case, "key").unwrap());
        assert_eq!(again.file_name(), file.file_name(), "{name}");
    }
}

/// The server suggests the same names (`keyward_core::key_file::file_name`).
#[test]
fn suggested_names_match_the_vectors() {
    let vectors = vectors();
    for case in vectors["write"].as_array().unwrap() {
        let key = text(case, "key").unwrap();
        let key_id = &key["kw_ak_".len().."kw_ak_".len() + 20];
        assert_eq!(
            keyward_core::key_file::file_name(text(case, "display_name").unwrap_or(""), key_id),
            text(case, "file_name").unwrap(),
            "{}",
            text(case, "name").unwrap()
        );
    }
}
