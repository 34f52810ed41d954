//! The API-set catalog: named groups of gRPC methods that credentials and API keys are
//! scoped to.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use crate::{
    Store, StoreError,
    entity::{api_set_methods, api_sets},
    error::on_foreign_key,
    model::{ApiSet, NewApiSet, Page, PageRequest},
    paging::{now, page, page_size, sorted_unique},
};

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
        let txn = self.db.begin().await?;
        api_sets::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await?;
        api_set_methods::Entity::insert_many(methods.iter().map(|method| {
            api_set_methods::Model {
                api_set_id: row.id.clone(),
                method: method.clone(),
            }
            .into_active_model()
        }))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(api_set(row, methods))
    }

    /// Reads an API set with its methods.
    pub async fn get_api_set(&self, id: &str) -> Result<ApiSet, StoreError> {
        let row = api_sets::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                entity: "api set",
                id: id.to_owned(),
            })?;
        let methods = methods_of(&self.db, std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        Ok(api_set(row, methods))
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

    /// Deletes an API set and its methods. Refuses with [`StoreError::ForeignKey`] while a
    /// credential or an API key may still use it.
    pub async fn delete_api_set(&self, id: &str) -> Result<(), StoreError> {
        let deleted = api_sets::Entity::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(on_foreign_key("api set", || {
                format!("api set `{id}` is still granted to credentials or api keys")
            }))?;
        if deleted.rows_affected == 0 {
            return Err(StoreError::NotFound {
                entity: "api set",
                id: id.to_owned(),
            });
        }
        Ok(())
    }
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
