//! Users: the people in an account, and the roles they hold.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Store, StoreError,
    api_keys::key_changed,
    changes,
    entity::accounts,
    entity::{user_roles, users},
    error::on_foreign_key,
    model::{Changed, NewUser, Page, PageRequest, User, UserChange, UserState, UserUpdate},
    paging::{normalize_email, now, page, page_size, revised, sorted_unique},
    roles::first_unknown_role,
};

impl Store {
    /// Creates an active user at revision 1 with their roles, all or nothing.
    /// [`StoreError::AlreadyExists`] names the rule ("user id", or "user email": one user per
    /// email address per account, compared case-insensitively); [`StoreError::ForeignKey`]
    /// names an unknown account or role.
    pub async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let txn = self.begin().await?;
        let user = insert_user(&txn, new, now()).await?;
        changes::record(&txn, [user_changed(&user.account_id, &user.id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(user)
    }

    /// Reads a user of an account, with their roles.
    pub async fn get_user(&self, account_id: &str, user_id: &str) -> Result<User, StoreError> {
        let row = users::Entity::find_by_id((account_id.to_owned(), user_id.to_owned()))
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(user_id))?;
        with_roles(&self.db, row).await
    }

    /// Lists the users of an account by id, ascending, with their roles.
    pub async fn list_users(
        &self,
        account_id: &str,
        request: PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let size = page_size(request.limit);
        let mut query = users::Entity::find()
            .filter(users::Column::AccountId.eq(account_id))
            .order_by_asc(users::Column::Id);
        if let Some(after) = request.after {
            query = query.filter(users::Column::Id.gt(after));
        }
        let rows = page(query.limit(size + 1).all(&self.db).await?, size, |row| {
            row.id.clone()
        });
        let ids: Vec<String> = rows.items.iter().map(|row| row.id.clone()).collect();
        let mut roles = role_ids_of(&self.db, account_id, &ids).await?;
        Ok(Page {
            items: rows
                .items
                .into_iter()
                .map(|row| {
                    let role_ids = roles.remove(&row.id).unwrap_or_default();
                    user(row, role_ids)
                })
                .collect::<Result<_, _>>()?,
            next_after: rows.next_after,
        })
    }

    /// Changes a user and returns them; `role_ids` replaces every role at once. With
    /// `expected_revision`, refuses with [`StoreError::Conflict`] if the user changed since
    /// that revision was read. A new email must be unique in the account like at creation
    /// ([`StoreError::AlreadyExists`], "user email"); [`StoreError::ForeignKey`] names an
    /// unknown role. All or nothing.
    pub async fn update_user(
        &self,
        account_id: &str,
        user_id: &str,
        update: UserUpdate,
        expected_revision: Option<i64>,
    ) -> Result<User, StoreError> {
        let change = UserChange::Update(update);
        self.change_user(account_id, user_id, change, expected_revision, None)
            .await
            .and_then(|user| user.ok_or_else(|| not_found(user_id)))
    }

    /// Switches a user on or off and returns them. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the user changed since that revision was read.
    pub async fn set_user_state(
        &self,
        account_id: &str,
        user_id: &str,
        state: UserState,
        expected_revision: Option<i64>,
    ) -> Result<User, StoreError> {
        let change = UserChange::State(state);
        self.change_user(account_id, user_id, change, expected_revision, None)
            .await
            .and_then(|user| user.ok_or_else(|| not_found(user_id)))
    }

    /// Deletes a user, with their role assignments and API keys (one statement; the
    /// foreign keys cascade). With `expected_revision`, refuses with [`StoreError::Conflict`]
    /// if the user changed since that revision was read.
    pub async fn delete_user(
        &self,
        account_id: &str,
        user_id: &str,
        expected_revision: Option<i64>,
    ) -> Result<(), StoreError> {
        self.change_user(
            account_id,
            user_id,
            UserChange::Delete,
            expected_revision,
            None,
        )
        .await
        .map(drop)
    }

    /// Makes `change` (as [`update_user`](Self::update_user),
    /// [`set_user_state`](Self::set_user_state) or [`delete_user`](Self::delete_user)) unless
    /// it would leave an account that has an active user holding `role_id` without one:
    /// then [`StoreError::LastActiveHolder`], and nothing changes. The account's row is
    /// locked for the transaction, so concurrent changes of two holders are checked one
    /// after the other and cannot both remove the last one. Returns the user, or None
    /// once deleted.
    pub async fn change_user_keeping_holder(
        &self,
        account_id: &str,
        user_id: &str,
        role_id: &str,
        change: UserChange,
        expected_revision: Option<i64>,
    ) -> Result<Option<User>, StoreError> {
        self.change_user(
            account_id,
            user_id,
            change,
            expected_revision,
            Some(role_id),
        )
        .await
    }

    async fn change_user(
        &self,
        account_id: &str,
        user_id: &str,
        change: UserChange,
        expected_revision: Option<i64>,
        keep_holder_of: Option<&str>,
    ) -> Result<Option<User>, StoreError> {
        let txn = self.begin().await?;
        let had_holder = match keep_holder_of {
            Some(role_id) => {
                lock_account(&txn, account_id).await?;
                !active_holders(&txn, account_id, role_id).await?.is_empty()
            }
            None => false,
        };
        let mut changed = vec![user_changed(account_id, user_id)];
        let user = match change {
            UserChange::Update(update) => {
                Some(apply_update(&txn, account_id, user_id, update, expected_revision).await?)
            }
            UserChange::State(state) => {
                let columns = vec![(users::Column::State, Expr::value(state.as_str()))];
                let row =
                    update_columns(&txn, account_id, user_id, columns, expected_revision).await?;
                Some(with_roles(&txn, row).await?)
            }
            UserChange::Delete => {
                // The user's keys go with them (cascade): each is a change of its own.
                let keys = changes::keys_of_user(&txn, account_id, user_id).await?;
                delete_row(&txn, account_id, user_id, expected_revision).await?;
                changed.extend(keys.iter().map(|key| key_changed(account_id, key)));
                None
            }
        };
        if let Some(role_id) = keep_holder_of
            && had_holder
            && active_holders(&txn, account_id, role_id).await?.is_empty()
        {
            // Dropping the transaction rolls the change back.
            return Err(StoreError::LastActiveHolder {
                role_id: role_id.to_owned(),
            });
        }
        changes::record(&txn, changed).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(user)
    }
}

/// The change-log entry of a user.
pub(crate) fn user_changed(account_id: &str, user_id: &str) -> Changed {
    Changed::User {
        account_id: account_id.to_owned(),
        user_id: user_id.to_owned(),
    }
}

/// Locks an account's row until the transaction ends (a write that changes nothing:
/// a row lock on PostgreSQL, the write lock on SQLite).
async fn lock_account(db: &impl ConnectionTrait, account_id: &str) -> Result<(), StoreError> {
    let locked = accounts::Entity::update_many()
        .col_expr(
            accounts::Column::Revision,
            Expr::col(accounts::Column::Revision),
        )
        .filter(accounts::Column::Id.eq(account_id))
        .exec(db)
        .await?
        .rows_affected;
    if locked == 0 {
        return Err(StoreError::NotFound {
            entity: "account",
            id: account_id.to_owned(),
        });
    }
    Ok(())
}

/// The IDs of the active users of an account holding `role_id`, sorted.
async fn active_holders(
    db: &impl ConnectionTrait,
    account_id: &str,
    role_id: &str,
) -> Result<Vec<String>, StoreError> {
    let holders: Vec<String> = user_roles::Entity::find()
        .filter(user_roles::Column::AccountId.eq(account_id))
        .filter(user_roles::Column::RoleId.eq(role_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.user_id)
        .collect();
    if holders.is_empty() {
        return Ok(Vec::new());
    }
    let mut active: Vec<String> = users::Entity::find()
        .filter(users::Column::AccountId.eq(account_id))
        .filter(users::Column::Id.is_in(holders))
        .filter(users::Column::State.eq(UserState::Active.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    active.sort();
    Ok(active)
}

/// The columns and roles of an update, in the caller's transaction.
async fn apply_update(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
    update: UserUpdate,
    expected_revision: Option<i64>,
) -> Result<User, StoreError> {
    let mut columns = Vec::new();
    if let Some(display_name) = update.display_name {
        columns.push((users::Column::DisplayName, Expr::value(display_name)));
    }
    if let Some(email) = update.email {
        let email = email.trim().to_owned();
        columns.push((
            users::Column::EmailNormalized,
            Expr::value(normalize_email(&email)),
        ));
        columns.push((users::Column::Email, Expr::value(email)));
    }
    let row = update_columns(db, account_id, user_id, columns, expected_revision).await?;
    if let Some(role_ids) = update.role_ids {
        user_roles::Entity::delete_many()
            .filter(user_roles::Column::AccountId.eq(account_id))
            .filter(user_roles::Column::UserId.eq(user_id))
            .exec(db)
            .await?;
        insert_roles(db, account_id, user_id, &sorted_unique(&role_ids)).await?;
    }
    with_roles(db, row).await
}

/// Deletes a user's row (their roles and keys cascade), in the caller's transaction.
async fn delete_row(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
    expected_revision: Option<i64>,
) -> Result<(), StoreError> {
    let mut query = users::Entity::delete_many()
        .filter(users::Column::AccountId.eq(account_id))
        .filter(users::Column::Id.eq(user_id));
    if let Some(revision) = expected_revision {
        query = query.filter(users::Column::Revision.eq(revision));
    }
    if query.exec(db).await?.rows_affected == 0 {
        let row = users::Entity::find_by_id((account_id.to_owned(), user_id.to_owned()))
            .one(db)
            .await?;
        revised(0, row, || not_found(user_id))?;
    }
    Ok(())
}

/// Inserts an active user and their roles (part of the caller's transaction).
pub(crate) async fn insert_user(
    db: &impl ConnectionTrait,
    new: NewUser,
    now: DateTime<Utc>,
) -> Result<User, StoreError> {
    let email = new.email.trim().to_owned();
    let role_ids = sorted_unique(&new.role_ids);
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
        .exec_without_returning(db)
        .await
        .map_err(on_foreign_key("account", || {
            format!("unknown account `{account_id}`")
        }))?;
    insert_roles(db, &row.account_id, &row.id, &role_ids).await?;
    Ok(user(row, role_ids)?)
}

/// Bumps the revision and update time of a user, sets `columns`, and reads the user back
/// (part of the caller's transaction).
async fn update_columns(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
    columns: Vec<(users::Column, Expr)>,
    expected_revision: Option<i64>,
) -> Result<users::Model, StoreError> {
    let mut query = users::Entity::update_many()
        .col_expr(
            users::Column::Revision,
            Expr::col(users::Column::Revision).add(1),
        )
        .col_expr(users::Column::UpdateTime, Expr::value(now()))
        .filter(users::Column::AccountId.eq(account_id))
        .filter(users::Column::Id.eq(user_id));
    for (column, value) in columns {
        query = query.col_expr(column, value);
    }
    if let Some(revision) = expected_revision {
        query = query.filter(users::Column::Revision.eq(revision));
    }
    let updated = query.exec(db).await?.rows_affected;
    let row = users::Entity::find_by_id((account_id.to_owned(), user_id.to_owned()))
        .one(db)
        .await?;
    revised(updated, row, || not_found(user_id))
}

/// Gives a user the roles `role_ids` (sorted, without duplicates), naming the first unknown
/// one.
async fn insert_roles(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
    role_ids: &[String],
) -> Result<(), StoreError> {
    // Named here for a precise error; the foreign key still guards against a concurrent
    // deletion.
    if let Some(unknown) = first_unknown_role(db, account_id, role_ids).await? {
        return Err(StoreError::ForeignKey {
            entity: "role",
            detail: format!("unknown role `{unknown}` in account `{account_id}`"),
        });
    }
    user_roles::Entity::insert_many(role_ids.iter().map(|role_id| {
        user_roles::Model {
            account_id: account_id.to_owned(),
            user_id: user_id.to_owned(),
            role_id: role_id.clone(),
        }
        .into_active_model()
    }))
    .exec_without_returning(db)
    .await
    .map_err(on_foreign_key("role", || {
        "a role was deleted meanwhile".to_owned()
    }))?;
    Ok(())
}

fn not_found(user_id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "user",
        id: user_id.to_owned(),
    }
}

pub(crate) async fn with_roles(
    db: &impl ConnectionTrait,
    row: users::Model,
) -> Result<User, StoreError> {
    let role_ids = role_ids_of(db, &row.account_id, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(user(row, role_ids)?)
}

/// The roles of each of the users `user_ids` of an account, sorted.
async fn role_ids_of(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut roles: HashMap<String, Vec<String>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(roles);
    }
    let rows = user_roles::Entity::find()
        .filter(user_roles::Column::AccountId.eq(account_id))
        .filter(user_roles::Column::UserId.is_in(user_ids.iter().cloned()))
        .all(db)
        .await?;
    for row in rows {
        roles.entry(row.user_id).or_default().push(row.role_id);
    }
    // Sorted here, not by the database: collations differ between backends.
    roles.values_mut().for_each(|r| r.sort());
    Ok(roles)
}

/// A user from their row and their roles (sorted).
pub(crate) fn user(row: users::Model, role_ids: Vec<String>) -> Result<User, DbErr> {
    Ok(User {
        state: UserState::from_stored(&row.state)
            .ok_or_else(|| DbErr::Type(format!("unknown user state `{}`", row.state)))?,
        account_id: row.account_id,
        id: row.id,
        display_name: row.display_name,
        email: row.email,
        role_ids,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}
