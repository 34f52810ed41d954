//! The audit log: append-only events per account, listed newest first.

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    Store, StoreError,
    entity::audit_events,
    model::{AuditEvent, AuditOutcome, NewAuditEvent, Page, PageRequest},
    paging::{now, page, page_size},
};

impl Store {
    /// Appends an event (time now) and returns it with its id.
    pub async fn append_audit_event(&self, new: NewAuditEvent) -> Result<AuditEvent, StoreError> {
        let time = now();
        let count = new.count.max(1);
        let inserted = audit_events::Entity::insert(audit_events::ActiveModel {
            id: NotSet,
            account_id: Set(new.account_id.clone()),
            time: Set(time),
            actor: Set(new.actor.clone()),
            delegate: Set(new.delegate.clone()),
            action: Set(new.action.clone()),
            resource: Set(new.resource.clone()),
            outcome: Set(new.outcome.as_str().to_owned()),
            detail: Set(new.detail.clone()),
            count: Set(count),
        })
        .exec(&self.db)
        .await?;
        Ok(AuditEvent {
            id: inserted.last_insert_id,
            account_id: new.account_id,
            time,
            actor: new.actor,
            delegate: new.delegate,
            action: new.action,
            resource: new.resource,
            outcome: new.outcome,
            detail: new.detail,
            count,
        })
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
        })
    }
}
