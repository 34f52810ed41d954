//! `api_set_methods`: the fully-qualified gRPC methods of each API set (indexed by method,
//! to answer "which API sets contain this method?").

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_set_methods")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) api_set_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) method: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
