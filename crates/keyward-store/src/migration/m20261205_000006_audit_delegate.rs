//! `audit_events.delegate`: for a call a front end made for one of its signed-in users
//! (`keyward-act-as`), the resource name of the front end's credential; `actor` is then that
//! user. Null for every other event, and for every event written before this migration.
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
                    .table("audit_events")
                    .add_column(ColumnDef::new("delegate").text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_events")
                    .drop_column("delegate")
                    .to_owned(),
            )
            .await
    }

    /// All or nothing on every backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
