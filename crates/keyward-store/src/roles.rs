//! Roles: named sets of authorities in an account.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Store, StoreError, changes,
    entity::{role_authorities, roles, user_roles},
    error::{is_foreign_key_violation, on_foreign_key},
    model::{Changed, NewRole, Page, PageRequest, Role, RoleUpdate},
    paging::{now, page, page_size, revised, sorted_unique},
};

impl Store {
    /// Creates a role and its authorities at revision 1, all or nothing.
    /// [`StoreError::AlreadyExists`] ("role id") if the account already has that role;
    /// [`StoreError::ForeignKey`] if the account does not exist.
    pub async fn create_role(&self, new: NewRole) -> Result<Role, StoreError> {
        let txn = self.begin().await?;
        let role = insert_role(&txn, new, now()).await?;
        changes::record(&txn, [role_changed(&role.account_id, &role.id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(role)
    }

    /// Reads a role of an account, with its authorities.
    pub async fn get_role(&self, account_id: &str, role_id: &str) -> Result<Role, StoreError> {
        let row = roles::Entity::find_by_id((account_id.to_owned(), role_id.to_owned()))
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(role_id))?;
        with_authorities(&self.db, row).await
    }

    /// Lists the roles of an account by id, ascending, with their authorities.
    pub async fn list_roles(
        &self,
        account_id: &str,
        request: PageRequest,
    ) -> Result<Page<Role>, StoreError> {
        let size = page_size(request.limit);
        let mut query = roles::Entity::find()
            .filter(roles::Column::AccountId.eq(account_id))
            .order_by_asc(roles::Column::Id);
        if let Some(after) = request.after {
            query = query.filter(roles::Column::Id.gt(after));
        }
        let rows = page(query.limit(size + 1).all(&self.db).await?, size, |row| {
            row.id.clone()
        });
        let ids: Vec<String> = rows.items.iter().map(|row| row.id.clone()).collect();
        let mut authorities = authorities_of(&self.db, account_id, &ids).await?;
        Ok(Page {
            items: rows
                .items
                .into_iter()
                .map(|row| {
                    let row_authorities = authorities.remove(&row.id).unwrap_or_default();
                    role(row, row_authorities)
                })
                .collect(),
            next_after: rows.next_after,
        })
    }

    /// Changes a role and returns it; `authorities` replaces every authority at once. With
    /// `expected_revision`, refuses with [`StoreError::Conflict`] if the role changed since
    /// that revision was read. (Whether a built-in role may be edited is for the caller to
    /// decide.)
    pub async fn update_role(
        &self,
        account_id: &str,
        role_id: &str,
        update: RoleUpdate,
        expected_revision: Option<i64>,
    ) -> Result<Role, StoreError> {
        let txn = self.begin().await?;
        let mut query = roles::Entity::update_many()
            .col_expr(
                roles::Column::Revision,
                Expr::col(roles::Column::Revision).add(1),
            )
            .col_expr(roles::Column::UpdateTime, Expr::value(now()))
            .filter(roles::Column::AccountId.eq(account_id))
            .filter(roles::Column::Id.eq(role_id));
        if let Some(display_name) = update.display_name {
            query = query.col_expr(roles::Column::DisplayName, Expr::value(display_name));
        }
        if let Some(description) = update.description {
            query = query.col_expr(roles::Column::Description, Expr::value(description));
        }
        if let Some(revision) = expected_revision {
            query = query.filter(roles::Column::Revision.eq(revision));
        }
        let updated = query.exec(&txn).await?.rows_affected;
        let row = roles::Entity::find_by_id((account_id.to_owned(), role_id.to_owned()))
            .one(&txn)
            .await?;
        let row = revised(updated, row, || not_found(role_id))?;
        if let Some(authorities) = update.authorities {
            role_authorities::Entity::delete_many()
                .filter(role_authorities::Column::AccountId.eq(account_id))
                .filter(role_authorities::Column::RoleId.eq(role_id))
                .exec(&txn)
                .await?;
            insert_authorities(&txn, account_id, role_id, &sorted_unique(&authorities)).await?;
        }
        let role = with_authorities(&txn, row).await?;
        changes::record(&txn, [role_changed(account_id, role_id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(role)
    }

    /// Deletes a role and its authorities. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the role changed since that revision was read; refuses
    /// with [`StoreError::ForeignKey`] while a user still holds the role.
    pub async fn delete_role(
        &self,
        account_id: &str,
        role_id: &str,
        expected_revision: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut query = roles::Entity::delete_many()
            .filter(roles::Column::AccountId.eq(account_id))
            .filter(roles::Column::Id.eq(role_id));
        if let Some(revision) = expected_revision {
            query = query.filter(roles::Column::Revision.eq(revision));
        }
        // One statement: the authorities go with the role (cascade), and the `RESTRICT`
        // foreign key from `user_roles` refuses while the role is held, even by an
        // assignment made a moment ago.
        let txn = self.begin().await?;
        let deleted = match query.exec(&txn).await {
            Ok(result) => result.rows_affected,
            Err(err) if is_foreign_key_violation(&err) => {
                // The failed statement aborted the transaction on PostgreSQL: count outside.
                drop(txn);
                let holders = user_roles::Entity::find()
                    .filter(user_roles::Column::AccountId.eq(account_id))
                    .filter(user_roles::Column::RoleId.eq(role_id))
                    .count(&self.db)
                    .await?;
                return Err(StoreError::ForeignKey {
                    entity: "role",
                    detail: format!("role `{role_id}` is still held by {holders} user(s)"),
                });
            }
            Err(err) => return Err(err.into()),
        };
        if deleted == 0 {
            let row = roles::Entity::find_by_id((account_id.to_owned(), role_id.to_owned()))
                .one(&txn)
                .await?;
            revised(0, row, || not_found(role_id))?;
            return Ok(());
        }
        changes::record(&txn, [role_changed(account_id, role_id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(())
    }
}

/// The change-log entry of a role.
pub(crate) fn role_changed(account_id: &str, role_id: &str) -> Changed {
    Changed::Role {
        account_id: account_id.to_owned(),
        role_id: role_id.to_owned(),
    }
}

/// Inserts a role and its authorities (part of the caller's transaction).
pub(crate) async fn insert_role(
    db: &impl ConnectionTrait,
    new: NewRole,
    now: DateTime<Utc>,
) -> Result<Role, StoreError> {
    let authorities = sorted_unique(&new.authorities);
    let row = roles::Model {
        account_id: new.account_id,
        id: new.id,
        display_name: new.display_name,
        description: new.description,
        builtin: new.builtin,
        revision: 1,
        create_time: now,
        update_time: now,
    };
    let account_id = row.account_id.clone();
    roles::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_foreign_key("account", || {
            format!("unknown account `{account_id}`")
        }))?;
    insert_authorities(db, &row.account_id, &row.id, &authorities).await?;
    Ok(role(row, authorities))
}

/// The first of `ids` (sorted) that names no role of the account.
pub(crate) async fn first_unknown_role(
    db: &impl ConnectionTrait,
    account_id: &str,
    ids: &[String],
) -> Result<Option<String>, StoreError> {
    if ids.is_empty() {
        return Ok(None);
    }
    let known: Vec<String> = roles::Entity::find()
        .select_only()
        .column(roles::Column::Id)
        .filter(roles::Column::AccountId.eq(account_id))
        .filter(roles::Column::Id.is_in(ids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.iter().find(|id| !known.contains(id)).cloned())
}

fn not_found(role_id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "role",
        id: role_id.to_owned(),
    }
}

async fn insert_authorities(
    db: &impl ConnectionTrait,
    account_id: &str,
    role_id: &str,
    authorities: &[String],
) -> Result<(), StoreError> {
    role_authorities::Entity::insert_many(authorities.iter().map(|authority| {
        role_authorities::Model {
            account_id: account_id.to_owned(),
            role_id: role_id.to_owned(),
            authority: authority.clone(),
        }
        .into_active_model()
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn with_authorities(
    db: &impl ConnectionTrait,
    row: roles::Model,
) -> Result<Role, StoreError> {
    let authorities = authorities_of(db, &row.account_id, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(role(row, authorities))
}

/// The authorities of each of the roles `role_ids` of an account, sorted.
async fn authorities_of(
    db: &impl ConnectionTrait,
    account_id: &str,
    role_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut authorities: HashMap<String, Vec<String>> = HashMap::new();
    if role_ids.is_empty() {
        return Ok(authorities);
    }
    let rows = role_authorities::Entity::find()
        .filter(role_authorities::Column::AccountId.eq(account_id))
        .filter(role_authorities::Column::RoleId.is_in(role_ids.iter().cloned()))
        .all(db)
        .await?;
    for row in rows {
        authorities
            .entry(row.role_id)
            .or_default()
            .push(row.authority);
    }
    // Sorted here, not by the database: collations differ between backends.
    authorities.values_mut().for_each(|a| a.sort());
    Ok(authorities)
}

fn role(row: roles::Model, authorities: Vec<String>) -> Role {
    Role {
        account_id: row.account_id,
        id: row.id,
        display_name: row.display_name,
        description: row.description,
        authorities,
        builtin: row.builtin,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    }
}
