//! `enrollment_tokens`: one-time tokens with which a user obtains their own first API key,
//! and `enrollment_token_api_sets`, the API sets each offers.
//!
//! A token belongs to a user (it goes with them), is stored as an argon2 hash of its secret
//! only, and is spent once: `redeem_time` and `api_key_id` say when and into which key,
//! `revoke_time` that an administrator took it back. An offered API set goes with the set
//! when it is deleted. Nothing here takes part in verification, so nothing is recorded in
//! the change log.
//!
//! Identifiers are spelled out as strings, as in the initial migration, so that this
//! migration stays frozen when the entities change.

use sea_orm_migration::{
    prelude::*,
    schema::{text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null},
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
                    .table("enrollment_tokens")
                    .col(text("id").primary_key())
                    .col(text("account_id"))
                    .col(text("user_id"))
                    .col(text("secret_hash"))
                    .col(text("creator"))
                    .col(timestamp_with_time_zone("create_time"))
                    .col(timestamp_with_time_zone("expire_time"))
                    .col(timestamp_with_time_zone_null("redeem_time"))
                    .col(text_null("api_key_id"))
                    .col(timestamp_with_time_zone_null("revoke_time"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_enrollment_tokens_user")
                            .from("enrollment_tokens", ("account_id", "user_id"))
                            .to("users", ("account_id", "id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_enrollment_tokens_owner")
                    .table("enrollment_tokens")
                    .col("account_id")
                    .col("user_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("enrollment_token_api_sets")
                    .col(text("enrollment_token_id"))
                    .col(text("api_set_id"))
                    .primary_key(Index::create().col("enrollment_token_id").col("api_set_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_enrollment_token_api_sets_token")
                            .from("enrollment_token_api_sets", "enrollment_token_id")
                            .to("enrollment_tokens", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_enrollment_token_api_sets_api_set")
                            .from("enrollment_token_api_sets", "api_set_id")
                            .to("api_sets", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("enrollment_token_api_sets").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("enrollment_tokens").to_owned())
            .await
    }

    /// All or nothing on every backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
