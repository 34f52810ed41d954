//! `role_authorities`: the authorities a role grants, one row each.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role_authorities")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) role_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) authority: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
