//! `credentials`: API client credentials. `client_id` is globally unique and
//! `contact_email_normalized` unique per account.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) account_id: String,
    #[sea_orm(unique)]
    pub(crate) client_id: String,
    pub(crate) display_name: String,
    pub(crate) description: String,
    pub(crate) application: String,
    pub(crate) contact_email: String,
    pub(crate) contact_email_normalized: String,
    pub(crate) scheme: String,
    pub(crate) state: String,
    pub(crate) expire_time: Option<DateTimeUtc>,
    pub(crate) creator: String,
    pub(crate) revision: i64,
    pub(crate) create_time: DateTimeUtc,
    pub(crate) update_time: DateTimeUtc,
    pub(crate) compromise_time: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
