//! Enrollment tokens: one-time tokens with which a user creates their own first API key.
//! Redeeming spends the token and creates the key in one transaction, so a token makes at
//! most one key whatever races it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use crate::{
    Store, StoreError, api_keys, api_sets, changes,
    entity::{enrollment_token_api_sets, enrollment_tokens},
    error::on_foreign_key,
    model::{ApiKey, EnrollmentToken, NewApiKey, NewEnrollmentToken, Page, PageRequest},
    paging::{micros, now, page, page_size, sorted_unique},
};

impl Store {
    /// Stores a new enrollment token with the API sets it offers, all or nothing.
    /// [`StoreError::ForeignKey`] names an unknown user (entity `"user"`) or API set (entity
    /// `"api set"`).
    pub async fn create_enrollment_token(
        &self,
        new: NewEnrollmentToken,
    ) -> Result<EnrollmentToken, StoreError> {
        let api_set_ids = sorted_unique(&new.api_set_ids);
        let row = enrollment_tokens::Model {
            id: new.id,
            account_id: new.account_id,
            user_id: new.user_id,
            secret_hash: new.secret_hash,
            creator: new.creator,
            create_time: now(),
            expire_time: micros(new.expire_time),
            redeem_time: None,
            api_key_id: None,
            revoke_time: None,
        };
        let txn = self.begin().await?;
        enrollment_tokens::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_foreign_key("user", || {
                format!(
                    "unknown user `{}` in account `{}`",
                    row.user_id, row.account_id
                )
            }))?;
        api_sets::require_api_sets(&txn, &api_set_ids).await?;
        enrollment_token_api_sets::Entity::insert_many(api_set_ids.iter().map(|api_set_id| {
            enrollment_token_api_sets::Model {
                enrollment_token_id: row.id.clone(),
                api_set_id: api_set_id.clone(),
            }
            .into_active_model()
        }))
        .exec_without_returning(&txn)
        .await
        .map_err(on_foreign_key("api set", || {
            "an api set was deleted meanwhile".to_owned()
        }))?;
        txn.commit().await?;
        Ok(token(row, api_set_ids))
    }

    /// Reads an enrollment token, whatever its account, with its API sets.
    pub async fn get_enrollment_token(&self, id: &str) -> Result<EnrollmentToken, StoreError> {
        let row = enrollment_tokens::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(id))?;
        with_api_sets(&self.db, row).await
    }

    /// Lists enrollment tokens by id, ascending: those of one user of the account, or of
    /// every user of the account for `user_id: None`.
    pub async fn list_enrollment_tokens(
        &self,
        account_id: &str,
        user_id: Option<&str>,
        request: PageRequest,
    ) -> Result<Page<EnrollmentToken>, StoreError> {
        let size = page_size(request.limit);
        let mut query = enrollment_tokens::Entity::find()
            .filter(enrollment_tokens::Column::AccountId.eq(account_id))
            .order_by_asc(enrollment_tokens::Column::Id);
        if let Some(user_id) = user_id {
            query = query.filter(enrollment_tokens::Column::UserId.eq(user_id));
        }
        if let Some(after) = request.after {
            query = query.filter(enrollment_tokens::Column::Id.gt(after));
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
                    token(row, api_set_ids)
                })
                .collect(),
            next_after: rows.next_after,
        })
    }

    /// Revokes an enrollment token that is neither redeemed nor revoked, at `now`, and
    /// returns it as it is afterwards: a token redeemed or revoked before is returned
    /// unchanged (the caller tells which from its times).
    pub async fn revoke_enrollment_token(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<EnrollmentToken, StoreError> {
        let txn = self.begin().await?;
        enrollment_tokens::Entity::update_many()
            .col_expr(
                enrollment_tokens::Column::RevokeTime,
                Expr::value(micros(now)),
            )
            .filter(enrollment_tokens::Column::Id.eq(id))
            .filter(enrollment_tokens::Column::RedeemTime.is_null())
            .filter(enrollment_tokens::Column::RevokeTime.is_null())
            .exec(&txn)
            .await?;
        let row = enrollment_tokens::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found(id))?;
        let token = with_api_sets(&txn, row).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Spends the enrollment token `id` and creates `key` with it, in one transaction: the
    /// token must be neither redeemed nor revoked and not expired at `now`, checked by the
    /// update that spends it, so that of concurrent redemptions exactly one creates a key.
    /// `None` when the token was not redeemable (any more). The key's change is recorded.
    pub async fn redeem_enrollment_token(
        &self,
        id: &str,
        key: NewApiKey,
        now: DateTime<Utc>,
    ) -> Result<Option<(EnrollmentToken, ApiKey)>, StoreError> {
        let now = micros(now);
        let txn = self.begin().await?;
        let spent = enrollment_tokens::Entity::update_many()
            .col_expr(enrollment_tokens::Column::RedeemTime, Expr::value(now))
            .col_expr(
                enrollment_tokens::Column::ApiKeyId,
                Expr::value(key.id.clone()),
            )
            .filter(enrollment_tokens::Column::Id.eq(id))
            .filter(enrollment_tokens::Column::RedeemTime.is_null())
            .filter(enrollment_tokens::Column::RevokeTime.is_null())
            .filter(enrollment_tokens::Column::ExpireTime.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        if spent != 1 {
            return Ok(None);
        }
        let key = api_keys::insert_api_key(&txn, key, now).await?;
        changes::record(&txn, [api_keys::key_changed(&key.account_id, &key.id)]).await?;
        let row = enrollment_tokens::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found(id))?;
        let token = with_api_sets(&txn, row).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(Some((token, key)))
    }
}

async fn with_api_sets(
    db: &impl ConnectionTrait,
    row: enrollment_tokens::Model,
) -> Result<EnrollmentToken, StoreError> {
    let api_set_ids = api_set_ids_of(db, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(token(row, api_set_ids))
}

/// The API sets of each of `ids`, sorted.
async fn api_set_ids_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    crate::api_sets::linked_api_set_ids::<enrollment_token_api_sets::Entity>(
        db,
        enrollment_token_api_sets::Column::EnrollmentTokenId,
        ids,
        |row| (row.enrollment_token_id, row.api_set_id),
    )
    .await
}

fn token(row: enrollment_tokens::Model, api_set_ids: Vec<String>) -> EnrollmentToken {
    EnrollmentToken {
        id: row.id,
        account_id: row.account_id,
        user_id: row.user_id,
        secret_hash: row.secret_hash,
        api_set_ids,
        creator: row.creator,
        create_time: row.create_time,
        expire_time: row.expire_time,
        redeem_time: row.redeem_time,
        api_key_id: row.api_key_id,
        revoke_time: row.revoke_time,
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "enrollment token",
        id: id.to_owned(),
    }
}
