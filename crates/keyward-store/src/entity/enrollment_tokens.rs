//! `enrollment_tokens`: one-time tokens a user redeems for their own first API key; `id` is
//! the lookup id embedded in the token string.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment_tokens")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) user_id: String,
    pub(crate) secret_hash: String,
    pub(crate) creator: String,
    pub(crate) create_time: DateTimeUtc,
    pub(crate) expire_time: DateTimeUtc,
    pub(crate) redeem_time: Option<DateTimeUtc>,
    pub(crate) api_key_id: Option<String>,
    pub(crate) revoke_time: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
