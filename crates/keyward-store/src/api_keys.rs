//! API keys: per-user keys with the API sets they may call, and the one lookup that
//! authentication runs on every request ([`Store::api_key_access`]).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Store, StoreError, api_sets, changes,
    entity::{accounts, api_key_api_sets, api_keys, role_authorities, roles, user_roles, users},
    error::on_foreign_key,
    model::{
        ApiKey, ApiKeyAccess, ApiKeyFilter, ApiKeyState, ApiKeyUpdate, Changed, NewApiKey, Page,
        PageRequest,
    },
    paging::{micros, now, page, page_size, revised, sorted_unique},
};

impl Store {
    /// Creates an active API key at revision 1 with its API sets, all or nothing.
    /// [`StoreError::AlreadyExists`] ("api key id") if the id is taken;
    /// [`StoreError::ForeignKey`] names an unknown user (entity `"user"`) or API set (entity
    /// `"api set"`).
    pub async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKey, StoreError> {
        let txn = self.begin().await?;
        let key = insert_api_key(&txn, new, now()).await?;
        changes::record(&txn, [key_changed(&key.account_id, &key.id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(key)
    }

    /// Reads an API key, whatever its account, with its API sets.
    pub async fn get_api_key(&self, id: &str) -> Result<ApiKey, StoreError> {
        let row = api_keys::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(id))?;
        with_api_sets(&self.db, row).await
    }

    /// Lists API keys by id, ascending, with their API sets: those of one user of the
    /// account, or of every user of the account for `user_id: None`; only those `filter`
    /// selects, if given.
    pub async fn list_api_keys(
        &self,
        account_id: &str,
        user_id: Option<&str>,
        filter: Option<ApiKeyFilter>,
        request: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let size = page_size(request.limit);
        let mut query = api_keys::Entity::find()
            .filter(api_keys::Column::AccountId.eq(account_id))
            .order_by_asc(api_keys::Column::Id);
        if let Some(user_id) = user_id {
            query = query.filter(api_keys::Column::UserId.eq(user_id));
        }
        match filter {
            None => {}
            Some(ApiKeyFilter::Revoked) => {
                query = query.filter(api_keys::Column::State.eq(ApiKeyState::Revoked.as_str()));
            }
            Some(ApiKeyFilter::Active { at }) => {
                query = query
                    .filter(api_keys::Column::State.eq(ApiKeyState::Active.as_str()))
                    .filter(
                        api_keys::Column::ExpireTime
                            .is_null()
                            .or(api_keys::Column::ExpireTime.gt(micros(at))),
                    );
            }
            Some(ApiKeyFilter::Expired { at }) => {
                query = query
                    .filter(api_keys::Column::State.eq(ApiKeyState::Active.as_str()))
                    .filter(api_keys::Column::ExpireTime.lte(micros(at)));
            }
        }
        if let Some(after) = request.after {
            query = query.filter(api_keys::Column::Id.gt(after));
        }
        let rows = page(query.limit(size + 1).all(&self.db).await?, size, |row| {
            row.id.clone()
        });
        let ids: Vec<String> = rows.items.iter().map(|row| row.id.clone()).collect();
        let mut api_sets = api_set_ids_of(&self.db, &ids).await?;
        Ok(Page {
            items: rows
                .items
                .into_iter()
                .map(|row| {
                    let api_set_ids = api_sets.remove(&row.id).unwrap_or_default();
                    api_key(row, api_set_ids)
                })
                .collect::<Result<_, _>>()?,
            next_after: rows.next_after,
        })
    }

    /// Changes an API key's name or description and returns it. With `expected_revision`,
    /// refuses with [`StoreError::Conflict`] if the key changed since that revision was read.
    pub async fn update_api_key(
        &self,
        id: &str,
        update: ApiKeyUpdate,
        expected_revision: Option<i64>,
    ) -> Result<ApiKey, StoreError> {
        let txn = self.begin().await?;
        let mut query = api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::Revision,
                Expr::col(api_keys::Column::Revision).add(1),
            )
            .col_expr(api_keys::Column::UpdateTime, Expr::value(now()))
            .filter(api_keys::Column::Id.eq(id));
        if let Some(display_name) = update.display_name {
            query = query.col_expr(api_keys::Column::DisplayName, Expr::value(display_name));
        }
        if let Some(description) = update.description {
            query = query.col_expr(api_keys::Column::Description, Expr::value(description));
        }
        if let Some(revision) = expected_revision {
            query = query.filter(api_keys::Column::Revision.eq(revision));
        }
        let updated = query.exec(&txn).await?.rows_affected;
        let row = api_keys::Entity::find_by_id(id).one(&txn).await?;
        let key = with_api_sets(&txn, revised(updated, row, || not_found(id))?).await?;
        changes::record(&txn, [key_changed(&key.account_id, &key.id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(key)
    }

    /// Revokes an API key for good at `now` (its revoke and update time) and returns it.
    /// Revoking a revoked key returns it unchanged.
    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<ApiKey, StoreError> {
        let now = micros(now);
        let txn = self.begin().await?;
        api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::State,
                Expr::value(ApiKeyState::Revoked.as_str()),
            )
            .col_expr(api_keys::Column::RevokeTime, Expr::value(now))
            .col_expr(
                api_keys::Column::Revision,
                Expr::col(api_keys::Column::Revision).add(1),
            )
            .col_expr(api_keys::Column::UpdateTime, Expr::value(now))
            .filter(api_keys::Column::Id.eq(id))
            .filter(api_keys::Column::State.eq(ApiKeyState::Active.as_str()))
            .exec(&txn)
            .await?;
        let row = api_keys::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found(id))?;
        let key = with_api_sets(&txn, row).await?;
        changes::record(&txn, [key_changed(&key.account_id, &key.id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(key)
    }

    /// Deletes an API key and its API-set grants. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the key changed since that revision was read.
    pub async fn delete_api_key(
        &self,
        id: &str,
        expected_revision: Option<i64>,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let row = api_keys::Entity::find_by_id(id).one(&txn).await?;
        let mut query = api_keys::Entity::delete_many().filter(api_keys::Column::Id.eq(id));
        if let Some(revision) = expected_revision {
            query = query.filter(api_keys::Column::Revision.eq(revision));
        }
        // One statement: the API-set grants go with the key (cascade).
        if query.exec(&txn).await?.rows_affected == 0 {
            revised(0, row, || not_found(id))?;
            return Ok(());
        }
        let account_id = row.map(|row| row.account_id).unwrap_or_default();
        changes::record(&txn, [key_changed(&account_id, id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(())
    }

    /// Records that an API key authenticated a request at `time`: one `UPDATE` by primary
    /// key, no read. Bookkeeping, not an edit: neither the revision nor the update time
    /// changes. An unknown key, or a `time` not after the recorded one (a slower concurrent
    /// request), is a no-op.
    pub async fn touch_api_key_last_used(
        &self,
        id: &str,
        time: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        touch_api_key(&self.db, id, time).await
    }

    /// Everything authentication needs about the API key `key_id`: the key, its owner with
    /// their roles, the owner's account, the union of the authorities of those roles and
    /// whether one of them is built-in; `None` when no key has that id. Nothing is checked
    /// here (state, expiry, the user's state): that is the caller's decision.
    ///
    /// Four indexed queries, whatever the number of roles and API sets: the key joined to
    /// its user and account (primary keys), the key's API sets (primary-key prefix), the
    /// account's entitlements (primary-key prefix), and the user's roles joined to their
    /// authorities (primary-key prefixes).
    pub async fn api_key_access(&self, key_id: &str) -> Result<Option<ApiKeyAccess>, StoreError> {
        let Some((key, user, account)) = api_keys::Entity::find_by_id(key_id)
            .find_also_related(users::Entity)
            .and_also_related(accounts::Entity)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let (Some(user), Some(account)) = (user, account) else {
            // The foreign keys make this impossible.
            return Err(StoreError::Internal(DbErr::RecordNotFound(format!(
                "api key `{key_id}` has no user or account"
            ))));
        };

        let api_set_ids = api_set_ids_of(&self.db, std::slice::from_ref(&key.id))
            .await?
            .remove(&key.id)
            .unwrap_or_default();

        let grants: Vec<(String, bool, Option<String>)> = user_roles::Entity::find()
            .select_only()
            .column(user_roles::Column::RoleId)
            .column(roles::Column::Builtin)
            .column(role_authorities::Column::Authority)
            .join(JoinType::InnerJoin, user_roles::Relation::Role.def())
            .join_rev(JoinType::LeftJoin, role_authorities::Relation::Role.def())
            .filter(user_roles::Column::AccountId.eq(user.account_id.as_str()))
            .filter(user_roles::Column::UserId.eq(user.id.as_str()))
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut role_ids = BTreeSet::new();
        let mut authorities = BTreeSet::new();
        let mut holds_builtin_role = false;
        for (role_id, builtin, authority) in grants {
            role_ids.insert(role_id);
            holds_builtin_role |= builtin;
            authorities.extend(authority);
        }

        Ok(Some(ApiKeyAccess {
            key: api_key(key, api_set_ids)?,
            user: crate::users::user(user, role_ids.into_iter().collect())?,
            account: crate::accounts::with_entitlements(&self.db, account).await?,
            authorities,
            holds_builtin_role,
        }))
    }
}

/// Inserts an active API key and its API sets (part of the caller's transaction).
pub(crate) async fn insert_api_key(
    db: &impl ConnectionTrait,
    new: NewApiKey,
    now: DateTime<Utc>,
) -> Result<ApiKey, StoreError> {
    let api_set_ids = sorted_unique(&new.api_set_ids);
    let row = api_keys::Model {
        id: new.id,
        account_id: new.account_id,
        user_id: new.user_id,
        display_name: new.display_name,
        description: new.description,
        secret_hash: new.secret_hash,
        state: ApiKeyState::Active.as_str().to_owned(),
        expire_time: new.expire_time.map(micros),
        revoke_time: None,
        last_used_time: None,
        creator: new.creator,
        revision: 1,
        create_time: now,
        update_time: now,
    };
    api_keys::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_foreign_key("user", || {
            format!(
                "unknown user `{}` in account `{}`",
                row.user_id, row.account_id
            )
        }))?;
    api_sets::require_api_sets(db, &api_set_ids).await?;
    api_key_api_sets::Entity::insert_many(api_set_ids.iter().map(|api_set_id| {
        api_key_api_sets::Model {
            api_key_id: row.id.clone(),
            api_set_id: api_set_id.clone(),
        }
        .into_active_model()
    }))
    .exec_without_returning(db)
    .await
    .map_err(on_foreign_key("api set", || {
        "an api set was deleted meanwhile".to_owned()
    }))?;
    Ok(api_key(row, api_set_ids)?)
}

/// The change-log entry of an API key.
pub(crate) fn key_changed(account_id: &str, key_id: &str) -> Changed {
    Changed::ApiKey {
        account_id: account_id.to_owned(),
        key_id: key_id.to_owned(),
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "api key",
        id: id.to_owned(),
    }
}

async fn with_api_sets(
    db: &impl ConnectionTrait,
    row: api_keys::Model,
) -> Result<ApiKey, StoreError> {
    let api_set_ids = api_set_ids_of(db, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(api_key(row, api_set_ids)?)
}

/// The API sets of each of `ids`, sorted.
async fn api_set_ids_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    crate::api_sets::linked_api_set_ids::<api_key_api_sets::Entity>(
        db,
        api_key_api_sets::Column::ApiKeyId,
        ids,
        |row| (row.api_key_id, row.api_set_id),
    )
    .await
}

fn api_key(row: api_keys::Model, api_set_ids: Vec<String>) -> Result<ApiKey, DbErr> {
    Ok(ApiKey {
        state: ApiKeyState::from_stored(&row.state)
            .ok_or_else(|| DbErr::Type(format!("unknown api key state `{}`", row.state)))?,
        id: row.id,
        account_id: row.account_id,
        user_id: row.user_id,
        display_name: row.display_name,
        description: row.description,
        secret_hash: row.secret_hash,
        expire_time: row.expire_time,
        revoke_time: row.revoke_time,
        last_used_time: row.last_used_time,
        creator: row.creator,
        api_set_ids,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}

/// Moves an API key's last-used time to `time` unless the recorded one is later.
pub(crate) async fn touch_api_key(
    db: &impl ConnectionTrait,
    id: &str,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    let time = micros(time);
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::LastUsedTime, Expr::value(time))
        .filter(api_keys::Column::Id.eq(id))
        .filter(
            api_keys::Column::LastUsedTime
                .is_null()
                .or(api_keys::Column::LastUsedTime.lt(time)),
        )
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The authentication lookup's budget: a fixed number of statements, each served by an
    //! index.

    use std::sync::{Arc, Mutex};

    use sea_orm::{ConnectionTrait, Statement};

    use crate::{NewAccount, NewApiSet, NewRole, NewUser, Store};

    use super::*;

    #[tokio::test]
    async fn the_access_lookup_runs_four_indexed_statements() {
        let mut store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store
            .create_account(NewAccount {
                id: "acme".to_owned(),
                display_name: "Acme".to_owned(),
                client_id_prefix: "acme-".to_owned(),
                verified: true,
                operator: false,
                entitled_api_set_ids: Vec::new(),
            })
            .await
            .unwrap();
        for id in ["set.a", "set.b"] {
            store
                .create_api_set(NewApiSet {
                    id: id.to_owned(),
                    display_name: id.to_owned(),
                    description: String::new(),
                    methods: vec![format!("/{id}/Call")],
                    builtin: false,
                })
                .await
                .unwrap();
        }
        store
            .update_account(
                "acme",
                crate::AccountUpdate {
                    entitled_api_set_ids: Some(vec!["set.a".to_owned()]),
                    ..crate::AccountUpdate::default()
                },
                None,
            )
            .await
            .unwrap();
        for (id, builtin) in [("admin", true), ("viewer", false)] {
            store
                .create_role(NewRole {
                    account_id: "acme".to_owned(),
                    id: id.to_owned(),
                    display_name: id.to_owned(),
                    description: String::new(),
                    authorities: vec![format!("{id}.one"), format!("{id}.two")],
                    builtin,
                })
                .await
                .unwrap();
        }
        store
            .create_user(NewUser {
                account_id: "acme".to_owned(),
                id: "alice".to_owned(),
                display_name: "Alice".to_owned(),
                email: "alice@acme.test".to_owned(),
                role_ids: vec!["admin".to_owned(), "viewer".to_owned()],
            })
            .await
            .unwrap();
        store
            .create_api_key(NewApiKey {
                id: "k1".to_owned(),
                account_id: "acme".to_owned(),
                user_id: "alice".to_owned(),
                display_name: "ci".to_owned(),
                description: String::new(),
                secret_hash: "hash".to_owned(),
                expire_time: None,
                creator: "accounts/acme/users/alice".to_owned(),
                api_set_ids: vec!["set.a".to_owned(), "set.b".to_owned()],
            })
            .await
            .unwrap();

        let statements: Arc<Mutex<Vec<Statement>>> = Arc::default();
        let recorded = Arc::clone(&statements);
        store.db.set_metric_callback(move |info| {
            recorded.lock().unwrap().push(info.statement.clone());
        });
        let access = store.api_key_access("k1").await.unwrap().unwrap();
        assert_eq!(access.key.api_set_ids, ["set.a", "set.b"]);
        assert_eq!(access.user.role_ids, ["admin", "viewer"]);
        assert_eq!(access.authorities.len(), 4);
        assert!(access.holds_builtin_role);
        assert_eq!(access.account.entitled_api_set_ids, ["set.a"]);

        let statements = std::mem::take(&mut *statements.lock().unwrap());
        assert_eq!(statements.len(), 4, "{statements:#?}");
        for statement in statements {
            let plan = store
                .db
                .query_all_raw(Statement::from_sql_and_values(
                    statement.db_backend,
                    format!("EXPLAIN QUERY PLAN {}", statement.sql),
                    statement.values.clone().map(|v| v.0).unwrap_or_default(),
                ))
                .await
                .unwrap();
            for step in plan {
                let detail: String = step.try_get("", "detail").unwrap();
                assert!(
                    !detail.starts_with("SCAN"),
                    "{detail}: a full scan in {}",
                    statement.sql
                );
            }
        }
    }
}
