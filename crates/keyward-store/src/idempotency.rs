//! Idempotency records: the outcome of a request that carried a request id, kept until it
//! expires so that a retry gets the first result instead of doing the work twice.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::Expr,
};

use crate::{
    Store, StoreError,
    entity::idempotency_records,
    model::{IdempotencyClaim, IdempotencyRecord, NewIdempotencyRecord},
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

    /// Claims `request_id` in `scope` for a request about to do its work: stores a pending
    /// record (empty `resource_name`) unless an unexpired one holds the id. A pending record
    /// created at or before `stale_before` belonged to a request that died or hung, and is
    /// taken over, like an expired one. Two concurrent claims of one id: exactly one is
    /// [`IdempotencyClaim::Claimed`].
    pub async fn claim_idempotency_record(
        &self,
        new: NewIdempotencyRecord,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, StoreError> {
        let now = now();
        let scope = new.scope.clone();
        let request_id = new.request_id.clone();
        let row = idempotency_records::Model {
            scope: new.scope,
            request_id: new.request_id,
            request_fingerprint: new.request_fingerprint,
            resource_name: String::new(),
            create_time: now,
            expire_time: micros(new.expire_time),
        };
        let txn = self.begin().await?;
        idempotency_records::Entity::delete_many()
            .filter(idempotency_records::Column::Scope.eq(scope.as_str()))
            .filter(idempotency_records::Column::RequestId.eq(request_id.as_str()))
            .filter(
                Condition::any()
                    .add(idempotency_records::Column::ExpireTime.lte(now))
                    .add(
                        Condition::all()
                            .add(idempotency_records::Column::ResourceName.eq(""))
                            .add(idempotency_records::Column::CreateTime.lte(micros(stale_before))),
                    ),
            )
            .exec(&txn)
            .await?;
        let inserted = idempotency_records::Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(StoreError::from);
        match inserted {
            Ok(_) => {
                txn.commit().await?;
                Ok(IdempotencyClaim::Claimed)
            }
            Err(StoreError::AlreadyExists { .. }) => {
                drop(txn);
                match self.find_idempotency_record(&scope, &request_id).await? {
                    Some(record) => Ok(IdempotencyClaim::Held(record)),
                    // Expired or released in between: as good as claimed by nobody.
                    None => Err(StoreError::Conflict),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// Finishes a claim: the request created or changed `resource_name`.
    pub async fn complete_idempotency_record(
        &self,
        scope: &str,
        request_id: &str,
        resource_name: &str,
    ) -> Result<(), StoreError> {
        idempotency_records::Entity::update_many()
            .col_expr(
                idempotency_records::Column::ResourceName,
                Expr::value(resource_name),
            )
            .filter(idempotency_records::Column::Scope.eq(scope))
            .filter(idempotency_records::Column::RequestId.eq(request_id))
            .filter(idempotency_records::Column::ResourceName.eq(""))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Gives up a pending claim (the request failed and changed nothing), so that a retry
    /// may claim the id again at once. A finished record is left alone.
    pub async fn release_idempotency_record(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<(), StoreError> {
        idempotency_records::Entity::delete_many()
            .filter(idempotency_records::Column::Scope.eq(scope))
            .filter(idempotency_records::Column::RequestId.eq(request_id))
            .filter(idempotency_records::Column::ResourceName.eq(""))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// Records `completion`'s claim as done with its resource, as part of the caller's
/// transaction (a claim already done, or taken over, is left alone).
pub(crate) async fn complete_in(
    db: &impl ConnectionTrait,
    completion: &crate::store::RequestCompletion,
) -> Result<(), DbErr> {
    idempotency_records::Entity::update_many()
        .col_expr(
            idempotency_records::Column::ResourceName,
            Expr::value(completion.resource_name.as_str()),
        )
        .filter(idempotency_records::Column::Scope.eq(completion.scope.as_str()))
        .filter(idempotency_records::Column::RequestId.eq(completion.request_id.as_str()))
        .filter(idempotency_records::Column::ResourceName.eq(""))
        .exec(db)
        .await?;
    Ok(())
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
