//! `changes`: the change log (see `crate::changes`). `seq` is an auto-increment key (never
//! reused: `autoincrement` on SQLite, identity on PostgreSQL).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "changes")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) seq: i64,
    pub(crate) kind: String,
    pub(crate) account_id: String,
    pub(crate) entity_id: String,
    pub(crate) create_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
