//! The change log that keeps every replica's verification index fresh, and the lookup of a
//! client secret by the key id it embeds.
//!
//! - `changes`: one row per fact that a verification may depend on and that a write changed
//!   (an API key, a user, a role, an account, a credential, a client ID, a secret key id, the
//!   API-set catalog), written in the same transaction as the change itself (the
//!   transactional outbox). `seq` orders them: every transaction that records changes takes
//!   one lock just before it inserts them (an advisory lock on PostgreSQL; SQLite has a
//!   single writer), so sequence numbers are handed out in commit order and a replica that
//!   has applied every change up to `seq` has missed none before it. `integer primary key
//!   autoincrement` on SQLite and an identity column on PostgreSQL: values are never reused,
//!   even after old rows are pruned.
//! - `ix_changes_create_time`: pruning old rows.
//! - `ix_credential_secrets_key_id`: finding a client secret version by the key id embedded
//!   in a presented secret, before anything else (so the cost of a refusal says nothing about
//!   whether a Client ID exists). Key ids are random 80-bit values that name one version
//!   each; the verification checks the Client ID of the version it finds, so the index need
//!   not refuse a duplicate.
//!
//! Identifiers are spelled out as strings, as in the initial migration, so that this
//! migration stays frozen when the entities change.

use sea_orm_migration::{
    prelude::*,
    schema::{big_pk_auto, text, timestamp_with_time_zone},
};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[allow(
    elided_lifetimes_in_paths,
    reason = "must match MigrationTrait's signature under async-trait"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("changes")
                    .col(big_pk_auto("seq"))
                    .col(text("kind"))
                    .col(text("account_id"))
                    .col(text("entity_id"))
                    .col(timestamp_with_time_zone("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_changes_create_time")
                    .table("changes")
                    .col("create_time")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_credential_secrets_key_id")
                    .table("credential_secrets")
                    .col("key_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_credential_secrets_key_id")
                    .table("credential_secrets")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("changes").to_owned())
            .await
    }

    /// All or nothing on every backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
