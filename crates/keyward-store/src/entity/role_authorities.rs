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
pub(crate) enum Relation {
    /// The role that grants the authority (foreign key `fk_role_authorities_role`).
    #[sea_orm(
        belongs_to = "super::roles::Entity",
        from = "(Column::AccountId, Column::RoleId)",
        to = "(super::roles::Column::AccountId, super::roles::Column::Id)"
    )]
    Role,
}

impl ActiveModelBehavior for ActiveModel {}
