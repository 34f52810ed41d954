//! `accounts`: the tenants.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) display_name: String,
    #[sea_orm(unique)]
    pub(crate) client_id_prefix: String,
    pub(crate) verified: bool,
    pub(crate) operator: bool,
    pub(crate) revision: i64,
    pub(crate) create_time: DateTimeUtc,
    pub(crate) update_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
