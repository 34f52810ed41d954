//! `user_roles`: which roles a user holds (a role still held cannot be deleted).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_roles")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) role_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {
    /// The role held (foreign key `fk_user_roles_role`).
    #[sea_orm(
        belongs_to = "super::roles::Entity",
        from = "(Column::AccountId, Column::RoleId)",
        to = "(super::roles::Column::AccountId, super::roles::Column::Id)"
    )]
    Role,
}

impl ActiveModelBehavior for ActiveModel {}
