//! The API-set catalog: named groups of gRPC methods that credentials and API keys are
//! scoped to, and the built-in sets every replica keeps in step with its code.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Backend, Store, StoreError, changes,
    entity::{account_api_sets, api_set_methods, api_sets},
    error::on_foreign_key,
    model::{ApiSet, ApiSetUpdate, Changed, NewApiSet, Page, PageRequest},
    paging::{now, page, page_size, revised, sorted_unique},
};

/// Key of the PostgreSQL advisory lock that serialises [`Store::sync_builtin_api_sets`]
/// between replicas.
const BUILTIN_SYNC_LOCK_KEY: i64 = 0x6b65_7977_6172_6401; // "keyward\x01"

impl Store {
    /// Creates an API set and its methods at revision 1, all or nothing.
    /// [`StoreError::AlreadyExists`] ("api set id") if the id is taken.
    pub async fn create_api_set(&self, new: NewApiSet) -> Result<ApiSet, StoreError> {
        let now = now();
        let methods = sorted_unique(&new.methods);
        let row = api_sets::Model {
            id: new.id,
            display_name: new.display_name,
            description: new.description,
            builtin: new.builtin,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let txn = self.begin().await?;
        api_sets::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await?;
        insert_methods(&txn, &row.id, &methods).await?;
        changes::record(&txn, [Changed::Catalog]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(api_set(row, methods))
    }

    /// Reads an API set with its methods.
    pub async fn get_api_set(&self, id: &str) -> Result<ApiSet, StoreError> {
        let row = api_sets::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(id))?;
        with_methods(&self.db, row).await
    }

    /// Lists API sets by id, ascending, with their methods.
    pub async fn list_api_sets(&self, request: PageRequest) -> Result<Page<ApiSet>, StoreError> {
        let size = page_size(request.limit);
        let mut query = api_sets::Entity::find().order_by_asc(api_sets::Column::Id);
        if let Some(after) = request.after {
            query = query.filter(api_sets::Column::Id.gt(after));
        }
        let rows = page(query.limit(size + 1).all(&self.db).await?, size, |row| {
            row.id.clone()
        });
        let ids: Vec<String> = rows.items.iter().map(|row| row.id.clone()).collect();
        let mut methods = methods_of(&self.db, &ids).await?;
        Ok(Page {
            items: rows
                .items
                .into_iter()
                .map(|row| {
                    let row_methods = methods.remove(&row.id).unwrap_or_default();
                    api_set(row, row_methods)
                })
                .collect(),
            next_after: rows.next_after,
        })
    }

    /// Changes an API set and returns it; `methods` replaces every method at once. With
    /// `expected_revision`, refuses with [`StoreError::Conflict`] if the API set changed since
    /// that revision was read. (Whether a built-in set may be edited is for the caller to
    /// decide.)
    pub async fn update_api_set(
        &self,
        id: &str,
        update: ApiSetUpdate,
        expected_revision: Option<i64>,
    ) -> Result<ApiSet, StoreError> {
        let txn = self.begin().await?;
        let mut query = api_sets::Entity::update_many()
            .col_expr(
                api_sets::Column::Revision,
                Expr::col(api_sets::Column::Revision).add(1),
            )
            .col_expr(api_sets::Column::UpdateTime, Expr::value(now()))
            .filter(api_sets::Column::Id.eq(id));
        if let Some(display_name) = update.display_name {
            query = query.col_expr(api_sets::Column::DisplayName, Expr::value(display_name));
        }
        if let Some(description) = update.description {
            query = query.col_expr(api_sets::Column::Description, Expr::value(description));
        }
        if let Some(revision) = expected_revision {
            query = query.filter(api_sets::Column::Revision.eq(revision));
        }
        let updated = query.exec(&txn).await?.rows_affected;
        let row = api_sets::Entity::find_by_id(id).one(&txn).await?;
        let row = revised(updated, row, || not_found(id))?;
        if let Some(methods) = update.methods {
            replace_methods(&txn, id, &sorted_unique(&methods)).await?;
        }
        let api_set = with_methods(&txn, row).await?;
        changes::record(&txn, [Changed::Catalog]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(api_set)
    }

    /// Deletes an API set and its methods. Refuses with [`StoreError::ForeignKey`] while a
    /// credential or an API key may still use it.
    pub async fn delete_api_set(&self, id: &str) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        // Their entitlements go with the set (the foreign key cascades): those accounts
        // changed.
        let entitled: Vec<String> = account_api_sets::Entity::find()
            .select_only()
            .column(account_api_sets::Column::AccountId)
            .filter(account_api_sets::Column::ApiSetId.eq(id))
            .into_tuple()
            .all(&txn)
            .await?;
        let deleted = api_sets::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(on_foreign_key("api set", || {
                format!("api set `{id}` is still granted to credentials or api keys")
            }))?;
        if deleted.rows_affected == 0 {
            return Err(not_found(id));
        }
        let accounts = entitled
            .into_iter()
            .map(|account_id| Changed::Account { account_id });
        changes::record(&txn, std::iter::once(Changed::Catalog).chain(accounts)).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(())
    }

    /// The ids of the API sets that contain `method` (a fully-qualified gRPC method, for
    /// example `/keyward.v1.ApiKeyService/VerifyApiKey`), sorted.
    pub async fn api_sets_containing_method(
        &self,
        method: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = api_set_methods::Entity::find()
            .select_only()
            .column(api_set_methods::Column::ApiSetId)
            .filter(api_set_methods::Column::Method.eq(method))
            .into_tuple()
            .all(&self.db)
            .await?;
        // Sorted here, not by the database: collations differ between backends.
        ids.sort();
        Ok(ids)
    }

    /// Brings the built-in API sets in line with `sets`, the catalog of this version of
    /// Keyward, in one transaction: a missing set is created (built-in, whatever its
    /// `builtin` says); an existing built-in set whose display name, description or methods
    /// differ is updated (its revision grows by one); anything else is left alone: sets
    /// that are not built-in (even with the same id) and built-in sets `sets` no longer
    /// names (credentials or keys may still use them).
    ///
    /// Idempotent: a second run changes nothing. Replicas starting together on PostgreSQL
    /// take turns (an advisory lock held by the transaction), and a set created meanwhile by
    /// anyone else is skipped rather than failing startup.
    pub async fn sync_builtin_api_sets(&self, sets: Vec<NewApiSet>) -> Result<(), StoreError> {
        let now = now();
        let mut wanted: Vec<NewApiSet> = Vec::with_capacity(sets.len());
        for set in sets {
            // The last one wins if an id is listed twice.
            wanted.retain(|w| w.id != set.id);
            wanted.push(set);
        }
        wanted.sort_by(|a, b| a.id.cmp(&b.id));

        let txn = self.begin().await?;
        if self.backend() == Backend::Postgres {
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({BUILTIN_SYNC_LOCK_KEY})"
            ))
            .await?;
        }
        let mut created = 0_usize;
        let mut updated = 0_usize;
        for set in wanted {
            let methods = sorted_unique(&set.methods);
            // Insert first: on SQLite the transaction takes the write lock at once, and a
            // row someone else inserted meanwhile is a no-op instead of an error.
            let row = api_sets::Model {
                id: set.id.clone(),
                display_name: set.display_name.clone(),
                description: set.description.clone(),
                builtin: true,
                revision: 1,
                create_time: now,
                update_time: now,
            };
            let inserted = api_sets::Entity::insert(row.into_active_model())
                .on_conflict_do_nothing()
                .exec_without_returning(&txn)
                .await?;
            if matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
                insert_methods(&txn, &set.id, &methods).await?;
                created += 1;
                continue;
            }
            let Some(existing) = api_sets::Entity::find_by_id(set.id.as_str())
                .one(&txn)
                .await?
            else {
                continue; // Deleted meanwhile: the next start creates it again.
            };
            if !existing.builtin {
                continue;
            }
            let current = with_methods(&txn, existing).await?;
            if current.display_name == set.display_name
                && current.description == set.description
                && current.methods == methods
            {
                continue;
            }
            api_sets::Entity::update_many()
                .col_expr(api_sets::Column::DisplayName, Expr::value(set.display_name))
                .col_expr(api_sets::Column::Description, Expr::value(set.description))
                .col_expr(
                    api_sets::Column::Revision,
                    Expr::col(api_sets::Column::Revision).add(1),
                )
                .col_expr(api_sets::Column::UpdateTime, Expr::value(now))
                .filter(api_sets::Column::Id.eq(set.id.as_str()))
                .exec(&txn)
                .await?;
            if current.methods != methods {
                replace_methods(&txn, &set.id, &methods).await?;
            }
            updated += 1;
        }
        if created + updated > 0 {
            changes::record(&txn, [Changed::Catalog]).await?;
        }
        txn.commit().await?;
        if created + updated > 0 {
            self.after_commit().await;
        }
        tracing::info!(created, updated, "built-in api sets are up to date");
        Ok(())
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "api set",
        id: id.to_owned(),
    }
}

/// Refuses with [`StoreError::ForeignKey`] ("unknown api set `x`") when one of `ids` is not
/// in the catalog: named before writing, for a precise error; the foreign keys still guard
/// against a concurrent deletion.
pub(crate) async fn require_api_sets(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<(), StoreError> {
    match first_unknown_api_set(db, ids).await? {
        Some(unknown) => Err(StoreError::ForeignKey {
            entity: "api set",
            detail: format!("unknown api set `{unknown}`"),
        }),
        None => Ok(()),
    }
}

/// The first of `ids` (sorted) that names no API set.
async fn first_unknown_api_set(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Option<String>, StoreError> {
    if ids.is_empty() {
        return Ok(None);
    }
    let known: Vec<String> = api_sets::Entity::find()
        .select_only()
        .column(api_sets::Column::Id)
        .filter(api_sets::Column::Id.is_in(ids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.iter().find(|id| !known.contains(id)).cloned())
}

async fn insert_methods(
    db: &impl ConnectionTrait,
    api_set_id: &str,
    methods: &[String],
) -> Result<(), StoreError> {
    // A built-in set may have no RPC of its own (`keyward.delegation`).
    if methods.is_empty() {
        return Ok(());
    }
    api_set_methods::Entity::insert_many(methods.iter().map(|method| {
        api_set_methods::Model {
            api_set_id: api_set_id.to_owned(),
            method: method.clone(),
        }
        .into_active_model()
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Replaces the methods of an API set by `methods`.
async fn replace_methods(
    db: &impl ConnectionTrait,
    api_set_id: &str,
    methods: &[String],
) -> Result<(), StoreError> {
    api_set_methods::Entity::delete_many()
        .filter(api_set_methods::Column::ApiSetId.eq(api_set_id))
        .exec(db)
        .await?;
    insert_methods(db, api_set_id, methods).await
}

async fn with_methods(
    db: &impl ConnectionTrait,
    row: api_sets::Model,
) -> Result<ApiSet, StoreError> {
    let methods = methods_of(db, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(api_set(row, methods))
}

/// The methods of each of the API sets `ids`, sorted.
async fn methods_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut methods: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(methods);
    }
    let rows = api_set_methods::Entity::find()
        .filter(api_set_methods::Column::ApiSetId.is_in(ids.iter().cloned()))
        .all(db)
        .await?;
    for row in rows {
        methods.entry(row.api_set_id).or_default().push(row.method);
    }
    // Sorted here, not by the database: collations differ between backends.
    methods.values_mut().for_each(|m| m.sort());
    Ok(methods)
}

fn api_set(row: api_sets::Model, methods: Vec<String>) -> ApiSet {
    ApiSet {
        id: row.id,
        display_name: row.display_name,
        description: row.description,
        methods,
        builtin: row.builtin,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    }
}

/// The API set IDs linked to each of `owners` through the link table `E` (an API key's,
/// a credential's or an enrollment token's API sets), sorted here rather than by the
/// database, whose collations differ between backends. `link` reads (owner, API set) off
/// a row.
pub(crate) async fn linked_api_set_ids<E: EntityTrait>(
    db: &impl ConnectionTrait,
    owner_column: E::Column,
    owners: &[String],
    link: impl Fn(E::Model) -> (String, String),
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut api_sets: HashMap<String, Vec<String>> = HashMap::new();
    if owners.is_empty() {
        return Ok(api_sets);
    }
    let rows = E::find()
        .filter(owner_column.is_in(owners.iter().cloned()))
        .all(db)
        .await?;
    for (owner, api_set_id) in rows.into_iter().map(link) {
        api_sets.entry(owner).or_default().push(api_set_id);
    }
    api_sets.values_mut().for_each(|s| s.sort());
    Ok(api_sets)
}
