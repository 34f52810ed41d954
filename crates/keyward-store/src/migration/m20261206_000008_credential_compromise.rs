//! `credentials.compromise_time`: when a leak report proved that one of the credential's
//! secrets leaked. Set together with the disabled state; while set, the credential cannot be
//! enabled; the next renewal of its secret ends every earlier version at once and clears it.
//! Null for every credential before this migration.
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
                    .table("credentials")
                    .add_column(
                        ColumnDef::new("compromise_time")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("credentials")
                    .drop_column("compromise_time")
                    .to_owned(),
            )
            .await
    }
}
