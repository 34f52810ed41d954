//! `api_keys`: per-user API keys; `id` is the lookup id embedded in the key string.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) user_id: String,
    pub(crate) display_name: String,
    pub(crate) description: String,
    pub(crate) secret_hash: String,
    pub(crate) state: String,
    pub(crate) expire_time: Option<DateTimeUtc>,
    pub(crate) revoke_time: Option<DateTimeUtc>,
    pub(crate) last_used_time: Option<DateTimeUtc>,
    pub(crate) creator: String,
    pub(crate) revision: i64,
    pub(crate) create_time: DateTimeUtc,
    pub(crate) update_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {
    /// The user who owns the key (foreign key `fk_api_keys_user`).
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "(Column::AccountId, Column::UserId)",
        to = "(super::users::Column::AccountId, super::users::Column::Id)"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
