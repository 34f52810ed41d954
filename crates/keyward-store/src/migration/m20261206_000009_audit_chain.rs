//! The audit log's hash chain (`keyward_core::audit_chain`): `audit_events.sequence`,
//! `prev_hash` and `hash`, unique per account and sequence, and `audit_heads`, one row per
//! account holding the last sequence and hash. Appending updates the account's head row
//! first, which serialises concurrent appends to one account (a row lock on PostgreSQL,
//! the write lock on SQLite), so the chain never forks.
//!
//! Events written before this migration are chained here, per account in id order, so
//! that every export verifies from the first event on.
//!
//! Identifiers are spelled out as strings, as in the initial migration, so that this
//! migration stays frozen when the entities change.

use chrono::{DateTime, Utc};
use keyward_core::audit_chain::{ChainedEvent, GENESIS, TIME_FORMAT, to_hex};
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, text};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[allow(
    elided_lifetimes_in_paths,
    reason = "must match MigrationTrait's signature under async-trait"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new("sequence").big_integer().null().to_owned(),
            ColumnDef::new("prev_hash").text().null().to_owned(),
            ColumnDef::new("hash").text().null().to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("audit_events")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("audit_heads")
                    .col(text("account_id").primary_key())
                    .col(big_integer("sequence"))
                    .col(text("hash"))
                    .to_owned(),
            )
            .await?;
        backfill(manager).await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_events_account_sequence")
                    .table("audit_events")
                    .col("account_id")
                    .col("sequence")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_audit_events_account_sequence")
                    .table("audit_events")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("audit_heads").to_owned())
            .await?;
        for column in ["hash", "prev_hash", "sequence"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("audit_events")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Chains the events already there, per account in id order, and records each head.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, account_id, time, actor, delegate, action, resource, outcome, detail, count \
             FROM audit_events ORDER BY account_id, id",
        ))
        .await?;
    let mut head: Option<(String, i64, [u8; 32])> = None;
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let account_id: String = row.try_get("", "account_id")?;
        let time: DateTime<Utc> = row.try_get("", "time")?;
        let (sequence, previous) = match &head {
            Some((account, sequence, hash)) if *account == account_id => (sequence + 1, *hash),
            _ => {
                if let Some(done) = head.take() {
                    record_head(db, done).await?;
                }
                (1, GENESIS)
            }
        };
        let event = ChainedEvent {
            account_id: account_id.clone(),
            sequence,
            time: time.format(TIME_FORMAT).to_string(),
            actor: row.try_get("", "actor")?,
            delegate: row
                .try_get::<Option<String>>("", "delegate")?
                .unwrap_or_default(),
            action: row.try_get("", "action")?,
            resource: row.try_get("", "resource")?,
            outcome: row.try_get("", "outcome")?,
            count: row.try_get("", "count")?,
            detail: row.try_get("", "detail")?,
        };
        let hash = event.hash(&previous);
        let update = Query::update()
            .table("audit_events")
            .value("sequence", sequence)
            .value("prev_hash", to_hex(&previous))
            .value("hash", to_hex(&hash))
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        db.execute(&update).await?;
        head = Some((account_id, sequence, hash));
    }
    if let Some(done) = head {
        record_head(db, done).await?;
    }
    Ok(())
}

async fn record_head(
    db: &impl ConnectionTrait,
    (account_id, sequence, hash): (String, i64, [u8; 32]),
) -> Result<(), DbErr> {
    let insert = Query::insert()
        .into_table("audit_heads")
        .columns(["account_id", "sequence", "hash"])
        .values_panic([account_id.into(), sequence.into(), to_hex(&hash).into()])
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}
