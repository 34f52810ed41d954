//! `hmac_nonces`: nonces seen in HMAC-signed requests until they expire; inserting a seen
//! nonce is a unique violation, that is, a replay.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hmac_nonces")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) credential_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) nonce: String,
    pub(crate) expire_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
