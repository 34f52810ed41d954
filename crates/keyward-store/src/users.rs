//! Users: the people in an account.

use sea_orm::{DbErr, EntityTrait, IntoActiveModel};

use crate::{
    Store, StoreError,
    entity::users,
    error::on_foreign_key,
    model::{NewUser, User, UserState},
    paging::{normalize_email, now},
};

impl Store {
    /// Creates an active user at revision 1. [`StoreError::AlreadyExists`] names the rule
    /// ("user id", or "user email": one user per email address per account, compared
    /// case-insensitively); [`StoreError::ForeignKey`] if the account does not exist.
    pub async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let now = now();
        let email = new.email.trim().to_owned();
        let row = users::Model {
            email_normalized: normalize_email(&email),
            account_id: new.account_id,
            id: new.id,
            display_name: new.display_name,
            email,
            state: UserState::Active.as_str().to_owned(),
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let account_id = row.account_id.clone();
        users::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(on_foreign_key("account", || {
                format!("unknown account `{account_id}`")
            }))?;
        Ok(User::try_from(row)?)
    }

    /// Reads a user of an account.
    pub async fn get_user(&self, account_id: &str, user_id: &str) -> Result<User, StoreError> {
        let row = users::Entity::find_by_id((account_id.to_owned(), user_id.to_owned()))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                entity: "user",
                id: user_id.to_owned(),
            })?;
        Ok(User::try_from(row)?)
    }
}

impl TryFrom<users::Model> for User {
    type Error = DbErr;

    fn try_from(row: users::Model) -> Result<Self, DbErr> {
        Ok(User {
            state: UserState::from_stored(&row.state)
                .ok_or_else(|| DbErr::Type(format!("unknown user state `{}`", row.state)))?,
            account_id: row.account_id,
            id: row.id,
            display_name: row.display_name,
            email: row.email,
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        })
    }
}
