//! `credential_secrets`: the versions of a credential's secret. Exactly one of
//! `secret_hash` (Basic) or `secret_ciphertext` + `master_key_id` (HMAC) is set; `key_id` is the id embedded in the
//! secret token, which picks the version a presented secret claims to be.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credential_secrets")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) credential_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) version: i32,
    pub(crate) secret_hash: Option<String>,
    pub(crate) secret_ciphertext: Option<Vec<u8>>,
    pub(crate) master_key_id: Option<String>,
    pub(crate) create_time: DateTimeUtc,
    pub(crate) expire_time: Option<DateTimeUtc>,
    pub(crate) last_used_time: Option<DateTimeUtc>,
    pub(crate) key_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
