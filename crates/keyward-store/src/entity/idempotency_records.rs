//! `idempotency_records`: results of create/renew requests that carried a `request_id`, so
//! that a retry returns the first result instead of minting a second secret.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) request_id: String,
    pub(crate) request_fingerprint: String,
    pub(crate) resource_name: String,
    pub(crate) create_time: DateTimeUtc,
    pub(crate) expire_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
