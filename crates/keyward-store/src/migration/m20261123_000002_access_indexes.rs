//! What authentication and account management need on top of the initial schema:
//!
//! - `ux_accounts_operator`: at most one operator account. A partial unique index (on both
//!   backends) over the rows with `operator = true`, so that two replicas bootstrapping at once
//!   cannot both create one, whatever ids they pick: the second gets a unique violation
//!   ("operator account") and its whole bootstrap transaction rolls back.
//! - `ix_api_keys_account`: listing every API key of an account in id order (the initial
//!   `ix_api_keys_account_user` serves the listing of one user's keys).
//!
//! Identifiers are spelled out as strings, as in the initial migration, so that this
//! migration stays frozen when the entities change.

use sea_orm_migration::prelude::*;

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
            .create_index(
                Index::create()
                    .name("ux_accounts_operator")
                    .table("accounts")
                    .col("operator")
                    .unique()
                    .and_where(Expr::col("operator").eq(true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_account")
                    .table("api_keys")
                    .col("account_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("ix_api_keys_account", "api_keys"),
            ("ux_accounts_operator", "accounts"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    /// All or nothing on every backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
