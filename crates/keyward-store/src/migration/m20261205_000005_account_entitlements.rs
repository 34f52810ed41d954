//! `account_api_sets`: the platform API sets each account is entitled to use.
//!
//! Keys and credentials of an account can be granted only the platform API sets the account
//! is entitled to, and are valid for a set only while the account is. Keyward's built-in
//! `keyward.*` sets are not entitlements (their own rule applies), and the operator account
//! is entitled to every set without rows here.
//!
//! An installation upgraded to this schema keeps working as before: every account is
//! entitled to the platform sets its keys and credentials already hold, and to nothing else.
//! An API set's entitlements go with it when it is deleted.
//!
//! Identifiers are spelled out as strings, as in the initial migration, so that this
//! migration stays frozen when the entities change.

use sea_orm_migration::{prelude::*, schema::text};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Entitles each tenant account to the platform sets its keys and credentials hold.
const BACKFILL: &str = "\
INSERT INTO account_api_sets (account_id, api_set_id) \
SELECT k.account_id, s.api_set_id FROM api_key_api_sets s \
JOIN api_keys k ON k.id = s.api_key_id \
JOIN accounts a ON a.id = k.account_id \
WHERE s.api_set_id NOT LIKE 'keyward.%' AND NOT a.operator \
UNION \
SELECT c.account_id, s.api_set_id FROM credential_api_sets s \
JOIN credentials c ON c.id = s.credential_id \
JOIN accounts a ON a.id = c.account_id \
WHERE s.api_set_id NOT LIKE 'keyward.%' AND NOT a.operator";

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
                    .table("account_api_sets")
                    .col(text("account_id"))
                    .col(text("api_set_id"))
                    .primary_key(Index::create().col("account_id").col("api_set_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_api_sets_account")
                            .from("account_api_sets", "account_id")
                            .to("accounts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_api_sets_api_set")
                            .from("account_api_sets", "api_set_id")
                            .to("api_sets", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(BACKFILL)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("account_api_sets").to_owned())
            .await
    }

    /// All or nothing on every backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
