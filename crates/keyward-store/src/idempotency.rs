//! Idempotency records: the outcome of a request that carried a request id, kept until it
//! expires so that a retry gets the first result instead of doing the work twice.

use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait};

use crate::{
    Store, StoreError,
    entity::idempotency_records,
    model::{IdempotencyRecord, NewIdempotencyRecord},
    paging::{micros, now},
};

impl Store {
    /// The unexpired record of `request_id` in `scope`, if any.
    pub async fn find_idempotency_record(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(
            idempotency_records::Entity::find_by_id((scope.to_owned(), request_id.to_owned()))
                .filter(idempotency_records::Column::ExpireTime.gt(now()))
                .one(&self.db)
                .await?
                .map(IdempotencyRecord::from),
        )
    }

    /// Stores a record (create time now) and returns it, replacing an expired record of the
    /// same request id, in one transaction. [`StoreError::AlreadyExists`] ("request id") when
    /// an unexpired record holds the request id, for example one stored a moment ago by a
    /// concurrent duplicate of the request.
    pub async fn put_idempotency_record(
        &self,
        new: NewIdempotencyRecord,
    ) -> Result<IdempotencyRecord, StoreError> {
        let now = now();
        let row = idempotency_records::Model {
            scope: new.scope,
            request_id: new.request_id,
            request_fingerprint: new.request_fingerprint,
            resource_name: new.resource_name,
            create_time: now,
            expire_time: micros(new.expire_time),
        };
        let txn = self.db.begin().await?;
        idempotency_records::Entity::delete_many()
            .filter(idempotency_records::Column::Scope.eq(row.scope.as_str()))
            .filter(idempotency_records::Column::RequestId.eq(row.request_id.as_str()))
            .filter(idempotency_records::Column::ExpireTime.lte(now))
            .exec(&txn)
            .await?;
        idempotency_records::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(row.into())
    }
}

impl From<idempotency_records::Model> for IdempotencyRecord {
    fn from(row: idempotency_records::Model) -> Self {
        IdempotencyRecord {
            scope: row.scope,
            request_id: row.request_id,
            request_fingerprint: row.request_fingerprint,
            resource_name: row.resource_name,
            create_time: row.create_time,
            expire_time: row.expire_time,
        }
    }
}
