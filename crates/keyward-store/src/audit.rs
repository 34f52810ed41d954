//! The audit log: append-only events per account, listed newest first, each account's
//! events a hash chain (`keyward_core::audit_chain`) that an export lets anyone check.

use keyward_core::audit_chain::{GENESIS, to_hex};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    Store, StoreError,
    entity::{audit_events, audit_heads},
    model::{AuditEvent, AuditOutcome, NewAuditEvent, Page, PageRequest},
    paging::{now, page, page_size},
};

impl Store {
    /// Appends an event (time now) to its account's hash chain and returns it with its id,
    /// sequence and hashes. The account's head row is updated first, in the same
    /// transaction: concurrent appends to one account take turns, so the chain never forks.
    pub async fn append_audit_event(&self, new: NewAuditEvent) -> Result<AuditEvent, StoreError> {
        let time = now();
        let count = Ord::max(new.count, 1);
        let txn = self.begin().await?;
        audit_heads::Entity::insert(audit_heads::ActiveModel {
            account_id: Set(new.account_id.clone()),
            sequence: Set(0),
            hash: Set(to_hex(&GENESIS)),
        })
        .on_conflict(
            OnConflict::column(audit_heads::Column::AccountId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        audit_heads::Entity::update_many()
            .col_expr(
                audit_heads::Column::Sequence,
                Expr::col(audit_heads::Column::Sequence).add(1),
            )
            .filter(audit_heads::Column::AccountId.eq(&new.account_id))
            .exec(&txn)
            .await?;
        let head = audit_heads::Entity::find_by_id(new.account_id.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("audit head of {}", new.account_id)))?;
        let mut event = AuditEvent {
            id: 0,
            account_id: new.account_id,
            time,
            actor: new.actor,
            delegate: new.delegate,
            action: new.action,
            resource: new.resource,
            outcome: new.outcome,
            detail: new.detail,
            count,
            sequence: head.sequence,
            prev_hash: head.hash,
            hash: String::new(),
        };
        let previous = from_hex(&event.prev_hash).ok_or_else(|| {
            DbErr::Type(format!(
                "the audit head of {} is not a hash",
                event.account_id
            ))
        })?;
        event.hash = to_hex(&event.chained().hash(&previous));
        audit_heads::Entity::update_many()
            .col_expr(audit_heads::Column::Hash, Expr::value(event.hash.clone()))
            .filter(audit_heads::Column::AccountId.eq(&event.account_id))
            .exec(&txn)
            .await?;
        let inserted = audit_events::Entity::insert(audit_events::ActiveModel {
            id: NotSet,
            account_id: Set(event.account_id.clone()),
            time: Set(time),
            actor: Set(event.actor.clone()),
            delegate: Set(event.delegate.clone()),
            action: Set(event.action.clone()),
            resource: Set(event.resource.clone()),
            outcome: Set(event.outcome.as_str().to_owned()),
            detail: Set(event.detail.clone()),
            count: Set(count),
            sequence: Set(Some(event.sequence)),
            prev_hash: Set(Some(event.prev_hash.clone())),
            hash: Set(Some(event.hash.clone())),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        event.id = inserted.last_insert_id;
        Ok(event)
    }

    /// An account's events in chain order (sequence ascending), those after `after` (a
    /// sequence number; 0 for the start), at most `limit`: the pages of an export.
    pub async fn export_audit_events(
        &self,
        account_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = audit_events::Entity::find()
            .filter(audit_events::Column::AccountId.eq(account_id))
            .filter(audit_events::Column::Sequence.gt(after))
            .order_by_asc(audit_events::Column::Sequence)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(AuditEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Lists an account's events, newest first. The cursor is an event id: a page holds the
    /// events older than it.
    pub async fn list_audit_events(
        &self,
        account_id: &str,
        request: PageRequest<i64>,
    ) -> Result<Page<AuditEvent, i64>, StoreError> {
        let size = page_size(request.limit);
        let mut query = audit_events::Entity::find()
            .filter(audit_events::Column::AccountId.eq(account_id))
            .order_by_desc(audit_events::Column::Id);
        if let Some(before) = request.after {
            query = query.filter(audit_events::Column::Id.lt(before));
        }
        let rows = query.limit(size + 1).all(&self.db).await?;
        let events = rows
            .into_iter()
            .map(AuditEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(events, size, |event| event.id))
    }
}

impl TryFrom<audit_events::Model> for AuditEvent {
    type Error = DbErr;

    fn try_from(row: audit_events::Model) -> Result<Self, DbErr> {
        Ok(AuditEvent {
            outcome: AuditOutcome::from_stored(&row.outcome)
                .ok_or_else(|| DbErr::Type(format!("unknown audit outcome `{}`", row.outcome)))?,
            id: row.id,
            account_id: row.account_id,
            time: row.time,
            actor: row.actor,
            delegate: row.delegate,
            action: row.action,
            resource: row.resource,
            detail: row.detail,
            count: row.count,
            sequence: row.sequence.unwrap_or_default(),
            prev_hash: row.prev_hash.unwrap_or_default(),
            hash: row.hash.unwrap_or_default(),
        })
    }
}

/// The 32 bytes 64 hex digits spell.
fn from_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0_u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(bytes)
}
