//! `audit_events`: the audit log. `id` is an auto-increment key (rowid alias on SQLite,
//! identity on PostgreSQL); no foreign key, since events outlive the resources they name.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) account_id: String,
    pub(crate) time: DateTimeUtc,
    pub(crate) actor: String,
    pub(crate) delegate: Option<String>,
    pub(crate) action: String,
    pub(crate) resource: String,
    pub(crate) outcome: String,
    pub(crate) detail: String,
    pub(crate) count: i64,
    /// Place in the account's hash chain, from 1 (null only before the chain migration).
    pub(crate) sequence: Option<i64>,
    pub(crate) prev_hash: Option<String>,
    pub(crate) hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
