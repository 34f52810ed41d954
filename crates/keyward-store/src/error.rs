//! [`StoreError`], the one error type of the store, and the single place where database
//! errors are classified: unique and foreign-key violations become domain errors, connection
//! trouble becomes [`StoreError::Unavailable`], everything else [`StoreError::Internal`].
//!
//! Messages never include SQL parameter values (they may be secret hashes); the database
//! error stays attached as the `source` for logs.

use std::path::PathBuf;

use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Kind of record, for example `"credential"`.
        entity: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// A uniqueness rule refused the write.
    #[error("{entity} already exists: {constraint} must be unique")]
    AlreadyExists {
        /// Kind of record that was being written.
        entity: &'static str,
        /// The rule (its `Display` is in domain words, for example `credential contact email`).
        constraint: Unique,
    },
    /// A reference to another record is broken: it names a record that does not exist, or a
    /// deletion would leave records pointing at nothing.
    #[error("{entity} reference refused: {detail}")]
    ForeignKey {
        /// Kind of record referred to, for example `"api set"`.
        entity: &'static str,
        /// What is wrong, for example "unknown api set `x`".
        detail: String,
    },
    /// The change would leave the account without an active user holding the role.
    #[error("the account must keep an active user holding the role `{role_id}`")]
    LastActiveHolder {
        /// The role.
        role_id: String,
    },
    /// The record changed since the caller read it (revision mismatch).
    #[error("the record was modified concurrently, read it again and retry")]
    Conflict,
    /// The credential cannot be enabled: a leak report proved that one of its secrets
    /// leaked, and its secret has not been renewed since.
    #[error(
        "credential `{id}` is compromised: a leak report proved one of its secrets; renew its secret before enabling it"
    )]
    Compromised {
        /// The credential.
        id: String,
    },
    /// The database cannot be reached or is overloaded (connection refused, pool exhausted,
    /// timeout, busy); worth retrying later.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// The database URL is not one the store accepts.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// Another process holds the SQLite database file.
    #[error(
        "another Keyward server is already using the database file {}",
        path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// Anything else: a bug, a schema mismatch, corrupt data.
    #[error("internal database error")]
    Internal(#[source] DbErr),
}

/// A uniqueness rule of the schema, so that callers tell conflicts apart by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unique {
    /// `account id`.
    AccountId,
    /// `account client id prefix`.
    AccountClientIdPrefix,
    /// `operator account`.
    OperatorAccount,
    /// `user id`.
    UserId,
    /// `user email`.
    UserEmail,
    /// `role id`.
    RoleId,
    /// `role authority`.
    RoleAuthority,
    /// `user role`.
    UserRole,
    /// `api set id`.
    ApiSetId,
    /// `api set method`.
    ApiSetMethod,
    /// `credential id`.
    CredentialId,
    /// `credential client id`.
    CredentialClientId,
    /// `credential contact email`.
    CredentialContactEmail,
    /// `credential secret version`.
    CredentialSecretVersion,
    /// `credential api set`.
    CredentialApiSet,
    /// `api key id`.
    ApiKeyId,
    /// `api key api set`.
    ApiKeyApiSet,
    /// `audit event id`.
    AuditEventId,
    /// `request id`.
    RequestId,
    /// `hmac nonce`.
    HmacNonce,
    /// `an unnamed rule`.
    Unnamed,
}

impl Unique {
    /// The rule in domain words, for example `credential contact email`.
    pub fn words(self) -> &'static str {
        match self {
            Self::AccountId => "account id",
            Self::AccountClientIdPrefix => "account client id prefix",
            Self::OperatorAccount => "operator account",
            Self::UserId => "user id",
            Self::UserEmail => "user email",
            Self::RoleId => "role id",
            Self::RoleAuthority => "role authority",
            Self::UserRole => "user role",
            Self::ApiSetId => "api set id",
            Self::ApiSetMethod => "api set method",
            Self::CredentialId => "credential id",
            Self::CredentialClientId => "credential client id",
            Self::CredentialContactEmail => "credential contact email",
            Self::CredentialSecretVersion => "credential secret version",
            Self::CredentialApiSet => "credential api set",
            Self::ApiKeyId => "api key id",
            Self::ApiKeyApiSet => "api key api set",
            Self::AuditEventId => "audit event id",
            Self::RequestId => "request id",
            Self::HmacNonce => "hmac nonce",
            Self::Unnamed => "an unnamed rule",
        }
    }
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

impl PartialEq<str> for Unique {
    fn eq(&self, other: &str) -> bool {
        self.words() == other
    }
}

impl PartialEq<&str> for Unique {
    fn eq(&self, other: &&str) -> bool {
        self.words() == *other
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match violation(&err) {
            Some(Violation::Unique(message)) => {
                let (entity, constraint) = unique_rule(&message);
                StoreError::AlreadyExists { entity, constraint }
            }
            Some(Violation::ForeignKey) => StoreError::ForeignKey {
                // SQLite does not say which reference failed; call sites that know add it
                // with `on_foreign_key`.
                entity: "record",
                detail: "a referenced record does not exist or is still referenced".to_owned(),
            },
            None if is_unavailable(&err) => StoreError::Unavailable(err),
            None => StoreError::Internal(err),
        }
    }
}

/// Maps a foreign-key violation to `ForeignKey { entity, detail }` and any other error as
/// [`From<DbErr>`] does: for call sites where only one reference can fail.
pub(crate) fn on_foreign_key(
    entity: &'static str,
    detail: impl FnOnce() -> String,
) -> impl FnOnce(DbErr) -> StoreError {
    move |err| match violation(&err) {
        Some(Violation::ForeignKey) => StoreError::ForeignKey {
            entity,
            detail: detail(),
        },
        _ => StoreError::from(err),
    }
}

/// Whether `err` is a foreign-key violation (a broken reference, or a deletion refused
/// because rows still refer to the record), for call sites that need to look further before
/// naming it.
pub(crate) fn is_foreign_key_violation(err: &DbErr) -> bool {
    matches!(violation(err), Some(Violation::ForeignKey))
}

/// The constraint violations the store turns into domain errors.
enum Violation {
    /// With the database's message, which names the index or the columns (never values).
    Unique(String),
    ForeignKey,
}

fn violation(err: &DbErr) -> Option<Violation> {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => Some(Violation::Unique(message)),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => Some(Violation::ForeignKey),
        _ => is_sqlite_restrict_violation(err).then_some(Violation::ForeignKey),
    }
}

/// SQLite reports an `ON DELETE RESTRICT` refusal as `SQLITE_CONSTRAINT_TRIGGER` (1811) with
/// the foreign-key message, which `DbErr::sql_err` does not recognise.
fn is_sqlite_restrict_violation(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let sqlx::Error::Database(db) = &**e else {
        return false;
    };
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && db.code().as_deref() == Some("1811")
        && db.message() == "FOREIGN KEY constraint failed"
}

/// One uniqueness rule of the schema, and the words that describe it.
struct UniqueRule {
    table: &'static str,
    columns: &'static [&'static str],
    /// The index name for unique indexes; `None` for primary keys (`<table>_pkey`).
    index: Option<&'static str>,
    entity: &'static str,
    rule: Unique,
}

const fn rule(
    table: &'static str,
    columns: &'static [&'static str],
    index: Option<&'static str>,
    entity: &'static str,
    rule: Unique,
) -> UniqueRule {
    UniqueRule {
        table,
        columns,
        index,
        entity,
        rule,
    }
}

/// Every primary key and unique index of the schema (see the migrations).
const UNIQUE_RULES: &[UniqueRule] = &[
    rule("accounts", &["id"], None, "account", Unique::AccountId),
    rule(
        "accounts",
        &["client_id_prefix"],
        Some("ux_accounts_client_id_prefix"),
        "account",
        Unique::AccountClientIdPrefix,
    ),
    rule(
        "accounts",
        &["operator"],
        Some("ux_accounts_operator"),
        "account",
        Unique::OperatorAccount,
    ),
    rule("users", &["account_id", "id"], None, "user", Unique::UserId),
    rule(
        "users",
        &["account_id", "email_normalized"],
        Some("ux_users_account_email"),
        "user",
        Unique::UserEmail,
    ),
    rule("roles", &["account_id", "id"], None, "role", Unique::RoleId),
    rule(
        "role_authorities",
        &["account_id", "role_id", "authority"],
        None,
        "role",
        Unique::RoleAuthority,
    ),
    rule(
        "user_roles",
        &["account_id", "user_id", "role_id"],
        None,
        "user role",
        Unique::UserRole,
    ),
    rule("api_sets", &["id"], None, "api set", Unique::ApiSetId),
    rule(
        "api_set_methods",
        &["api_set_id", "method"],
        None,
        "api set",
        Unique::ApiSetMethod,
    ),
    rule(
        "credentials",
        &["id"],
        None,
        "credential",
        Unique::CredentialId,
    ),
    rule(
        "credentials",
        &["client_id"],
        Some("ux_credentials_client_id"),
        "credential",
        Unique::CredentialClientId,
    ),
    rule(
        "credentials",
        &["account_id", "contact_email_normalized"],
        Some("ux_credentials_account_contact_email"),
        "credential",
        Unique::CredentialContactEmail,
    ),
    rule(
        "credential_secrets",
        &["credential_id", "version"],
        None,
        "credential secret",
        Unique::CredentialSecretVersion,
    ),
    rule(
        "credential_api_sets",
        &["credential_id", "api_set_id"],
        None,
        "credential",
        Unique::CredentialApiSet,
    ),
    rule("api_keys", &["id"], None, "api key", Unique::ApiKeyId),
    rule(
        "api_key_api_sets",
        &["api_key_id", "api_set_id"],
        None,
        "api key",
        Unique::ApiKeyApiSet,
    ),
    rule(
        "audit_events",
        &["id"],
        None,
        "audit event",
        Unique::AuditEventId,
    ),
    rule(
        "idempotency_records",
        &["scope", "request_id"],
        None,
        "idempotency record",
        Unique::RequestId,
    ),
    rule(
        "hmac_nonces",
        &["credential_id", "nonce"],
        None,
        "hmac nonce",
        Unique::HmacNonce,
    ),
];

/// Finds the rule a unique-violation message is about.
///
/// PostgreSQL names the constraint (`duplicate key value violates unique constraint
/// "ux_credentials_client_id"`, or `"credentials_pkey"`); SQLite names the columns
/// (`UNIQUE constraint failed: credentials.client_id`).
fn unique_rule(message: &str) -> (&'static str, Unique) {
    let sqlite_columns = message
        .strip_prefix("UNIQUE constraint failed: ")
        .map(str::trim);
    let found = UNIQUE_RULES.iter().find(|rule| match sqlite_columns {
        Some(columns) => {
            let mut expected = rule.columns.iter().map(|c| format!("{}.{c}", rule.table));
            let mut actual = columns.split(',').map(str::trim);
            loop {
                match (expected.next(), actual.next()) {
                    (Some(e), Some(a)) if e == a => {}
                    (None, None) => break true,
                    _ => break false,
                }
            }
        }
        None => {
            let name = match rule.index {
                Some(index) => format!("\"{index}\""),
                None => format!("\"{}_pkey\"", rule.table),
            };
            message.contains(&name)
        }
    });
    match found {
        Some(rule) => (rule.entity, rule.rule),
        None => {
            // The message names tables and columns, never values.
            tracing::warn!(message, "unique violation of an unmapped rule");
            ("record", Unique::Unnamed)
        }
    }
}

/// Connection trouble, pool exhaustion, timeouts and lock contention: transient conditions
/// a client may retry, as opposed to bugs.
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Transient SQLSTATEs (PostgreSQL) and result codes (SQLite).
fn transient_code(code: &str) -> bool {
    // PostgreSQL: connection exception (08…), operator intervention (57P01 admin shutdown,
    // 57P02 crash shutdown, 57P03 cannot connect now), too many connections, serialization
    // failure and deadlock (the transaction can simply be retried).
    if code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
    {
        return true;
    }
    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), including their extended codes.
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_are_named_in_domain_words_on_both_backends() {
        let cases = [
            (
                "UNIQUE constraint failed: credentials.account_id, credentials.contact_email_normalized",
                ("credential", "credential contact email"),
            ),
            (
                "duplicate key value violates unique constraint \"ux_credentials_account_contact_email\"",
                ("credential", "credential contact email"),
            ),
            (
                "UNIQUE constraint failed: accounts.id",
                ("account", "account id"),
            ),
            (
                "duplicate key value violates unique constraint \"accounts_pkey\"",
                ("account", "account id"),
            ),
            (
                "UNIQUE constraint failed: credentials.client_id",
                ("credential", "credential client id"),
            ),
            (
                "UNIQUE constraint failed: users.account_id, users.id",
                ("user", "user id"),
            ),
            (
                "UNIQUE constraint failed: accounts.operator",
                ("account", "operator account"),
            ),
            (
                "duplicate key value violates unique constraint \"ux_accounts_operator\"",
                ("account", "operator account"),
            ),
            (
                "duplicate key value violates unique constraint \"idempotency_records_pkey\"",
                ("idempotency record", "request id"),
            ),
            ("something else entirely", ("record", "an unnamed rule")),
        ];
        for (message, expected) in cases {
            let (entity, rule) = unique_rule(message);
            assert_eq!((entity, rule.words()), expected, "{message}");
        }
    }

    #[test]
    fn sqlite_busy_and_postgres_connection_codes_are_transient() {
        for code in ["5", "517", "6", "08006", "57P01", "40001"] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["2067", "787", "23505", "42P01"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
