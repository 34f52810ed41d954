//! The initial schema: every table, key, index and constraint of Keyward 0.1.
//!
//! Identifiers are spelled out as strings rather than taken from the entities, so that this
//! migration stays frozen when the entities change. Constraint and index names matter: the
//! PostgreSQL error for a unique violation names them, and `crate::error` maps them to
//! domain words (SQLite names the columns instead; both are mapped there).

use sea_orm_migration::{
    prelude::*,
    schema::{
        big_integer, big_pk_auto, blob_null, boolean, integer, text, text_null,
        timestamp_with_time_zone, timestamp_with_time_zone_null,
    },
};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Tables in creation order (every table after the tables it references).
const TABLES: [&str; 15] = [
    "accounts",
    "users",
    "roles",
    "role_authorities",
    "user_roles",
    "api_sets",
    "api_set_methods",
    "credentials",
    "credential_secrets",
    "credential_api_sets",
    "api_keys",
    "api_key_api_sets",
    "audit_events",
    "idempotency_records",
    "hmac_nonces",
];

// `&SchemaManager<'_>` would not match the trait: async-trait makes the elided lifetime
// late-bound there.
#[allow(
    elided_lifetimes_in_paths,
    reason = "must match MigrationTrait's signature under async-trait"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Indexes and foreign keys go with their tables; children before parents.
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        Ok(())
    }

    /// All or nothing on every backend (SQLite has transactional DDL too).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table("accounts")
            .col(text("id").primary_key())
            .col(text("display_name"))
            .col(text("client_id_prefix"))
            .col(boolean("verified"))
            .col(boolean("operator"))
            .col(big_integer("revision"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("update_time"))
            .to_owned(),
        Table::create()
            .table("users")
            .col(text("account_id"))
            .col(text("id"))
            .col(text("display_name"))
            .col(text("email"))
            .col(text("email_normalized"))
            .col(text("state"))
            .col(big_integer("revision"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("update_time"))
            .primary_key(Index::create().col("account_id").col("id"))
            .foreign_key(&mut fk(
                "fk_users_account",
                "users",
                "account_id",
                "accounts",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .check((
                "ck_users_state",
                Expr::col("state").is_in(["active", "disabled"]),
            ))
            .to_owned(),
        Table::create()
            .table("roles")
            .col(text("account_id"))
            .col(text("id"))
            .col(text("display_name"))
            .col(text("description"))
            .col(boolean("builtin"))
            .col(big_integer("revision"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("update_time"))
            .primary_key(Index::create().col("account_id").col("id"))
            .foreign_key(&mut fk(
                "fk_roles_account",
                "roles",
                "account_id",
                "accounts",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table("role_authorities")
            .col(text("account_id"))
            .col(text("role_id"))
            .col(text("authority"))
            .primary_key(
                Index::create()
                    .col("account_id")
                    .col("role_id")
                    .col("authority"),
            )
            .foreign_key(&mut fk(
                "fk_role_authorities_role",
                "role_authorities",
                ("account_id", "role_id"),
                "roles",
                ("account_id", "id"),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table("user_roles")
            .col(text("account_id"))
            .col(text("user_id"))
            .col(text("role_id"))
            .primary_key(
                Index::create()
                    .col("account_id")
                    .col("user_id")
                    .col("role_id"),
            )
            .foreign_key(&mut fk(
                "fk_user_roles_user",
                "user_roles",
                ("account_id", "user_id"),
                "users",
                ("account_id", "id"),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_user_roles_role",
                "user_roles",
                ("account_id", "role_id"),
                "roles",
                ("account_id", "id"),
                ForeignKeyAction::Restrict,
            ))
            .to_owned(),
        Table::create()
            .table("api_sets")
            .col(text("id").primary_key())
            .col(text("display_name"))
            .col(text("description"))
            .col(boolean("builtin"))
            .col(big_integer("revision"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("update_time"))
            .to_owned(),
        Table::create()
            .table("api_set_methods")
            .col(text("api_set_id"))
            .col(text("method"))
            .primary_key(Index::create().col("api_set_id").col("method"))
            .foreign_key(&mut fk(
                "fk_api_set_methods_api_set",
                "api_set_methods",
                "api_set_id",
                "api_sets",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table("credentials")
            .col(text("id").primary_key())
            .col(text("account_id"))
            .col(text("client_id"))
            .col(text("display_name"))
            .col(text("description"))
            .col(text("application"))
            .col(text("contact_email"))
            .col(text("contact_email_normalized"))
            .col(text("scheme"))
            .col(text("state"))
            .col(timestamp_with_time_zone_null("expire_time"))
            .col(text("creator"))
            .col(big_integer("revision"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("update_time"))
            .foreign_key(&mut fk(
                "fk_credentials_account",
                "credentials",
                "account_id",
                "accounts",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .check((
                "ck_credentials_scheme",
                Expr::col("scheme").is_in(["basic", "hmac"]),
            ))
            .check((
                "ck_credentials_state",
                Expr::col("state").is_in(["active", "disabled"]),
            ))
            .to_owned(),
        Table::create()
            .table("credential_secrets")
            .col(text("credential_id"))
            .col(integer("version"))
            .col(text_null("secret_hash"))
            .col(blob_null("secret_ciphertext"))
            .col(text_null("master_key_id"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone_null("expire_time"))
            .col(timestamp_with_time_zone_null("last_used_time"))
            .primary_key(Index::create().col("credential_id").col("version"))
            .foreign_key(&mut fk(
                "fk_credential_secrets_credential",
                "credential_secrets",
                "credential_id",
                "credentials",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .check(("ck_credential_secrets_material", one_secret_material()))
            .to_owned(),
        Table::create()
            .table("credential_api_sets")
            .col(text("credential_id"))
            .col(text("api_set_id"))
            .primary_key(Index::create().col("credential_id").col("api_set_id"))
            .foreign_key(&mut fk(
                "fk_credential_api_sets_credential",
                "credential_api_sets",
                "credential_id",
                "credentials",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_credential_api_sets_api_set",
                "credential_api_sets",
                "api_set_id",
                "api_sets",
                "id",
                ForeignKeyAction::Restrict,
            ))
            .to_owned(),
        Table::create()
            .table("api_keys")
            .col(text("id").primary_key())
            .col(text("account_id"))
            .col(text("user_id"))
            .col(text("display_name"))
            .col(text("description"))
            .col(text("secret_hash"))
            .col(text("state"))
            .col(timestamp_with_time_zone_null("expire_time"))
            .col(timestamp_with_time_zone_null("revoke_time"))
            .col(timestamp_with_time_zone_null("last_used_time"))
            .col(text("creator"))
            .col(big_integer("revision"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("update_time"))
            .foreign_key(&mut fk(
                "fk_api_keys_user",
                "api_keys",
                ("account_id", "user_id"),
                "users",
                ("account_id", "id"),
                ForeignKeyAction::Cascade,
            ))
            .check((
                "ck_api_keys_state",
                Expr::col("state").is_in(["active", "revoked"]),
            ))
            .to_owned(),
        Table::create()
            .table("api_key_api_sets")
            .col(text("api_key_id"))
            .col(text("api_set_id"))
            .primary_key(Index::create().col("api_key_id").col("api_set_id"))
            .foreign_key(&mut fk(
                "fk_api_key_api_sets_api_key",
                "api_key_api_sets",
                "api_key_id",
                "api_keys",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_api_key_api_sets_api_set",
                "api_key_api_sets",
                "api_set_id",
                "api_sets",
                "id",
                ForeignKeyAction::Restrict,
            ))
            .to_owned(),
        Table::create()
            .table("audit_events")
            // `integer primary key autoincrement` on SQLite (a rowid alias whose values are
            // never reused), `bigint generated by default as identity` on PostgreSQL.
            .col(big_pk_auto("id"))
            .col(text("account_id"))
            .col(timestamp_with_time_zone("time"))
            .col(text("actor"))
            .col(text("action"))
            .col(text("resource"))
            .col(text("outcome"))
            .col(text("detail").default(""))
            .col(big_integer("count").default(1))
            .check((
                "ck_audit_events_outcome",
                Expr::col("outcome").is_in(["success", "failure", "denied"]),
            ))
            .to_owned(),
        Table::create()
            .table("idempotency_records")
            .col(text("scope"))
            .col(text("request_id"))
            .col(text("request_fingerprint"))
            .col(text("resource_name"))
            .col(timestamp_with_time_zone("create_time"))
            .col(timestamp_with_time_zone("expire_time"))
            .primary_key(Index::create().col("scope").col("request_id"))
            .to_owned(),
        Table::create()
            .table("hmac_nonces")
            .col(text("credential_id"))
            .col(text("nonce"))
            .col(timestamp_with_time_zone("expire_time"))
            .primary_key(Index::create().col("credential_id").col("nonce"))
            .foreign_key(&mut fk(
                "fk_hmac_nonces_credential",
                "hmac_nonces",
                "credential_id",
                "credentials",
                "id",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    let unique = |name: &str, table: &'static str, cols: &[&'static str]| {
        let mut index = index(name, table, cols);
        index.unique();
        index
    };
    vec![
        unique(
            "ux_accounts_client_id_prefix",
            "accounts",
            &["client_id_prefix"],
        ),
        unique(
            "ux_users_account_email",
            "users",
            &["account_id", "email_normalized"],
        ),
        index(
            "ix_user_roles_role",
            "user_roles",
            &["account_id", "role_id"],
        ),
        index("ix_api_set_methods_method", "api_set_methods", &["method"]),
        unique("ux_credentials_client_id", "credentials", &["client_id"]),
        unique(
            "ux_credentials_account_contact_email",
            "credentials",
            &["account_id", "contact_email_normalized"],
        ),
        index(
            "ix_credentials_account",
            "credentials",
            &["account_id", "id"],
        ),
        index(
            "ix_credential_api_sets_api_set",
            "credential_api_sets",
            &["api_set_id"],
        ),
        index(
            "ix_api_keys_account_user",
            "api_keys",
            &["account_id", "user_id", "id"],
        ),
        index(
            "ix_api_key_api_sets_api_set",
            "api_key_api_sets",
            &["api_set_id"],
        ),
        index(
            "ix_audit_events_account",
            "audit_events",
            &["account_id", "id"],
        ),
        index(
            "ix_idempotency_records_expire_time",
            "idempotency_records",
            &["expire_time"],
        ),
        index(
            "ix_hmac_nonces_expire_time",
            "hmac_nonces",
            &["expire_time"],
        ),
    ]
}

fn index(name: &str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    index
}

fn fk<F: IdenList, T: IdenList>(
    name: &str,
    from_table: &'static str,
    from_cols: F,
    to_table: &'static str,
    to_cols: T,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, from_cols)
        .to(to_table, to_cols)
        .on_delete(on_delete)
        .to_owned()
}

/// Exactly one kind of secret material: a hash (Basic), or ciphertext and its master key id
/// (HMAC).
fn one_secret_material() -> Expr {
    let hash = Expr::col("secret_hash");
    let ciphertext = Expr::col("secret_ciphertext");
    let key = Expr::col("master_key_id");
    hash.clone()
        .is_not_null()
        .and(ciphertext.clone().is_null())
        .and(key.clone().is_null())
        .or(hash
            .is_null()
            .and(ciphertext.is_not_null())
            .and(key.is_not_null()))
}
