//! Parse, don't validate: every request field becomes a checked value here,
//! or an INVALID_ARGUMENT naming the field and what is wrong with it. Nothing
//! reaches the store unchecked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ServiceError;

/// Default page size when a request gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page a request may ask for; larger sizes are lowered to it.
pub const MAX_PAGE_SIZE: u64 = 1000;

fn invalid(field: &str, description: impl Into<String>) -> ServiceError {
    ServiceError::invalid(field, description)
}

/// An identifier: 2 to 63 characters from lowercase letters, digits and
/// `extra`, starting with a letter and not ending with one of `extra`.
fn identifier(
    field: &str,
    value: &str,
    extra: &[char],
    rule: &str,
) -> Result<String, ServiceError> {
    let ok = (2..=63).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && !value.ends_with(extra)
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(field, rule))
    }
}

/// A required message field.
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, ServiceError> {
    value.ok_or_else(|| invalid(field, "is required"))
}

/// A resource ID: lowercase letters, digits and hyphens, starting with a
/// letter, not ending with a hyphen, 2 to 63 characters.
pub fn resource_id(field: &str, value: &str) -> Result<String, ServiceError> {
    identifier(
        field,
        value,
        &['-'],
        "must be 2 to 63 lowercase letters, digits and hyphens, starting with a letter",
    )
}

/// An API-set ID: like a resource ID, dots allowed, for example
/// `billing.read`.
pub fn api_set_id(field: &str, value: &str) -> Result<String, ServiceError> {
    identifier(
        field,
        value,
        &['-', '.'],
        "must be 2 to 63 lowercase letters, digits, dots and hyphens, starting with a letter",
    )
}

/// A client-ID prefix: lowercase letters, digits and hyphens, starting with
/// a letter, 2 to 20 characters.
pub fn client_id_prefix(field: &str, value: &str) -> Result<String, ServiceError> {
    let ok = (2..=20).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            field,
            "must be 2 to 20 lowercase letters, digits and hyphens, starting with a letter",
        ))
    }
}

/// A required display name: trimmed, 1 to `max` characters, no control
/// characters.
pub fn display_name(field: &str, value: &str, max: usize) -> Result<String, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    text(field, value, max)
}

/// Optional free text: at most `max` characters, no control characters
/// other than newlines and tabs.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ServiceError> {
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// A required email address: one `@`, a non-empty local part, a domain with
/// a dot or `localhost`, at most 254 characters, no spaces.
pub fn email(field: &str, value: &str) -> Result<String, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    let well_formed = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && (domain == "localhost"
                        || (domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !domain.contains("..")))
            }
            None => false,
        };
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err(invalid(field, "must be a valid email address"))
    }
}

/// An optional expiry, which must be a valid time in the future.
pub fn future_time(
    field: &str,
    value: Option<&prost_types::Timestamp>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let time = u32::try_from(value.nanos)
        .ok()
        .and_then(|nanos| chrono::DateTime::from_timestamp(value.seconds, nanos))
        .ok_or_else(|| invalid(field, "is not a valid time"))?;
    if time <= now {
        return Err(invalid(field, "must be in the future"));
    }
    Ok(Some(time))
}

/// `page_size`: negative is an error, 0 means the default, larger than the
/// maximum means the maximum.
pub fn page_size(field: &str, value: i32) -> Result<u64, ServiceError> {
    match value {
        n if n < 0 => Err(invalid(field, "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok(u64::from(n.unsigned_abs()).min(MAX_PAGE_SIZE)),
    }
}

/// Encodes a keyset cursor as an opaque page token.
pub fn encode_page_token(cursor: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{cursor}"))
}

/// Decodes a page token from a previous response; empty means the first
/// page.
pub fn page_token(field: &str, token: &str) -> Result<Option<String>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("v1:").map(str::to_owned))
        .map(Some)
        .ok_or_else(|| invalid(field, "is not a page token from a previous response"))
}

/// The etag of a revision.
pub fn etag_of(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// An optional etag sent back by the caller: the revision it names.
pub fn etag(field: &str, value: &str) -> Result<Option<i64>, ServiceError> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| invalid(field, "is not an etag this server issued"))
}

/// The paths of a required update mask, each one of `allowed`; `*` means
/// all of them.
pub fn update_mask(
    field: &str,
    paths: Option<&[String]>,
    allowed: &[&str],
) -> Result<Vec<String>, ServiceError> {
    let paths = paths.ok_or_else(|| invalid(field, "is required"))?;
    if paths.is_empty() {
        return Err(invalid(field, "must name at least one field"));
    }
    if paths.iter().any(|p| p == "*") {
        return Ok(allowed.iter().map(|p| (*p).to_owned()).collect());
    }
    for path in paths {
        if !allowed.contains(&path.as_str()) {
            return Err(invalid(
                field,
                format!(
                    "`{path}` cannot be updated; updatable: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(paths.to_vec())
}

/// Resource names: `collection/{id}/…` patterns with their IDs checked.
pub mod names {
    use super::{api_set_id, invalid, resource_id};
    use crate::error::ServiceError;

    fn segments<'a, const N: usize>(
        field: &str,
        value: &'a str,
        collections: [&str; N],
        pattern: &str,
    ) -> Result<[&'a str; N], ServiceError> {
        let parts: Vec<&str> = value.split('/').collect();
        let wrong = || invalid(field, format!("must be a resource name `{pattern}`"));
        if parts.len() != 2 * N {
            return Err(wrong());
        }
        let mut ids = [""; N];
        for (i, collection) in collections.iter().enumerate() {
            if parts[2 * i] != *collection || parts[2 * i + 1].is_empty() {
                return Err(wrong());
            }
            ids[i] = parts[2 * i + 1];
        }
        Ok(ids)
    }

    /// `accounts/{account}` → account ID.
    pub fn account(field: &str, value: &str) -> Result<String, ServiceError> {
        let [a] = segments(field, value, ["accounts"], "accounts/{account}")?;
        resource_id(field, a)
    }

    /// `accounts/{account}/users/{user}` → (account ID, user ID).
    pub fn user(field: &str, value: &str) -> Result<(String, String), ServiceError> {
        let [a, u] = segments(
            field,
            value,
            ["accounts", "users"],
            "accounts/{account}/users/{user}",
        )?;
        Ok((resource_id(field, a)?, resource_id(field, u)?))
    }

    /// `accounts/{account}/roles/{role}` → (account ID, role ID).
    pub fn role(field: &str, value: &str) -> Result<(String, String), ServiceError> {
        let [a, r] = segments(
            field,
            value,
            ["accounts", "roles"],
            "accounts/{account}/roles/{role}",
        )?;
        Ok((resource_id(field, a)?, resource_id(field, r)?))
    }

    /// `accounts/{account}/users/{user}/apiKeys/{api_key}` → (account ID,
    /// user ID, key ID).
    pub fn api_key(field: &str, value: &str) -> Result<(String, String, String), ServiceError> {
        let [a, u, k] = segments(
            field,
            value,
            ["accounts", "users", "apiKeys"],
            "accounts/{account}/users/{user}/apiKeys/{api_key}",
        )?;
        let key_id = keyward_core::key::KeyId::try_from(k).map_err(|_| {
            invalid(
                field,
                "names an API key ID that is not 20 lowercase hex digits",
            )
        })?;
        Ok((
            resource_id(field, a)?,
            resource_id(field, u)?,
            key_id.as_str().to_owned(),
        ))
    }

    /// `accounts/{account}/users/{user}/enrollmentTokens/{enrollment_token}` → (account ID,
    /// user ID, token ID).
    pub fn enrollment_token(
        field: &str,
        value: &str,
    ) -> Result<(String, String, String), ServiceError> {
        let [a, u, t] = segments(
            field,
            value,
            ["accounts", "users", "enrollmentTokens"],
            "accounts/{account}/users/{user}/enrollmentTokens/{enrollment_token}",
        )?;
        let token_id = keyward_core::key::KeyId::try_from(t).map_err(|_| {
            invalid(
                field,
                "names an enrollment token ID that is not 20 lowercase hex digits",
            )
        })?;
        Ok((
            resource_id(field, a)?,
            resource_id(field, u)?,
            token_id.as_str().to_owned(),
        ))
    }

    /// `accounts/{account}/credentials/{credential}` → (account ID, credential ID).
    pub fn credential(field: &str, value: &str) -> Result<(String, String), ServiceError> {
        let [a, c] = segments(
            field,
            value,
            ["accounts", "credentials"],
            "accounts/{account}/credentials/{credential}",
        )?;
        Ok((resource_id(field, a)?, resource_id(field, c)?))
    }

    /// `apiSets/{api_set}` → API-set ID.
    pub fn api_set(field: &str, value: &str) -> Result<String, ServiceError> {
        let [s] = segments(field, value, ["apiSets"], "apiSets/{api_set}")?;
        api_set_id(field, s)
    }

    /// `accounts/{account}`: the one place it is made (`crate::grpc::convert` calls it).
    pub fn account_name(account_id: &str) -> String {
        format!("accounts/{account_id}")
    }

    /// `accounts/{account}/users/{user}`: the one place it is made.
    pub fn user_name(account_id: &str, user_id: &str) -> String {
        format!("accounts/{account_id}/users/{user_id}")
    }

    /// `accounts/{account}/roles/{role}`: the one place it is made.
    pub fn role_name(account_id: &str, role_id: &str) -> String {
        format!("accounts/{account_id}/roles/{role_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_follow_the_documented_rule() {
        for ok in ["ab", "acme", "acme-eu-1", &format!("a{}", "b".repeat(62))] {
            assert!(resource_id("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "1acme",
            "acme-",
            "ac me",
            "acme_x",
            "é",
            &"a".repeat(64),
        ] {
            assert!(resource_id("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_parse_and_refuse_with_the_field() {
        assert_eq!(
            names::user("name", "accounts/acme/users/bob").unwrap(),
            ("acme".into(), "bob".into())
        );
        assert_eq!(
            names::api_set("name", "apiSets/billing.read").unwrap(),
            "billing.read"
        );
        for bad in [
            "accounts/acme",
            "accounts//users/bob",
            "users/bob",
            "accounts/acme/users/bob/x",
            "accounts/ACME/users/bob",
        ] {
            match names::user("user.name", bad) {
                Err(ServiceError::InvalidArgument(v)) => assert_eq!(v[0].field, "user.name"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn page_sizes_and_tokens() {
        assert_eq!(page_size("p", 0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size("p", 5000).unwrap(), MAX_PAGE_SIZE);
        assert!(page_size("p", -1).is_err());
        let token = encode_page_token("acme");
        assert_eq!(page_token("t", &token).unwrap(), Some("acme".to_owned()));
        assert!(page_token("t", "garbage!").is_err());
        assert_eq!(page_token("t", "").unwrap(), None);
    }

    #[test]
    fn etags_round_trip() {
        assert_eq!(etag("e", &etag_of(7)).unwrap(), Some(7));
        assert_eq!(etag("e", "").unwrap(), None);
        assert!(etag("e", "7").is_err());
    }

    #[test]
    fn emails() {
        assert!(email("e", "ops@example.com").is_ok());
        assert!(email("e", "operator@localhost").is_ok());
        for bad in [
            "",
            "ops",
            "ops@",
            "@x.com",
            "a b@x.com",
            "a@b@c.com",
            "a@x..com",
            "a@.x.com",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }
}
