//! `credential_secrets.key_id`: the key id embedded in each client secret (`kw_cs_{id}_…`).
//!
//! Verifying a Basic secret picks the one secret version whose key id the presented secret
//! names and runs argon2 once against it, instead of trying every live version: one argon2
//! run whatever happens, so a wrong secret during a renewal grace period costs what any
//! other failure costs. Nullable because the column is added to an existing table; every
//! version written since this migration has it.
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
            .alter_table(
                Table::alter()
                    .table("credential_secrets")
                    .add_column(ColumnDef::new("key_id").text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("credential_secrets")
                    .drop_column("key_id")
                    .to_owned(),
            )
            .await
    }

    /// All or nothing on every backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
