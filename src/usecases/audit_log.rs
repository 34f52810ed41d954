//! Use cases: the audit log. Listing an account's audit events page by page, and
//! exporting its whole hash chain in order, part by part.

use keyward_store::{AuditEvent, Page, PageRequest, Store};

use super::PageQuery;
use crate::auth::Caller;
use crate::error::ServiceError;
use crate::state::AppState;
use crate::validate;

/// Events per part of an export.
const EXPORT_PAGE: u64 = 500;

/// An export of an account's audit log under way: its parts, in chain order, read one
/// at a time with [`AuditExport::next_part`], so that however long the log, only a part
/// is held at once.
#[derive(Debug)]
pub struct AuditExport {
    store: Store,
    account_id: String,
    /// The sequence number of the last event read.
    after: i64,
    /// Whether the last part read was the chain's last.
    finished: bool,
}

impl AuditExport {
    /// The next part of the chain, or `None` after the last one.
    pub async fn next_part(&mut self) -> Result<Option<Vec<AuditEvent>>, ServiceError> {
        if self.finished {
            return Ok(None);
        }
        let part = self
            .store
            .export_audit_events(&self.account_id, self.after, EXPORT_PAGE)
            .await?;
        self.finished = part.len() as u64 != EXPORT_PAGE;
        let Some(last) = part.last() else {
            return Ok(None);
        };
        self.after = last.sequence;
        Ok(Some(part))
    }
}

/// Exports an account's audit log: the whole hash chain, in order.
pub fn export_audit_events(
    app: &AppState,
    caller: &Caller,
    account_id: String,
) -> Result<AuditExport, ServiceError> {
    caller.authorize(&account_id)?;
    Ok(AuditExport {
        store: app.store.clone(),
        account_id,
        after: 0,
        finished: false,
    })
}

/// Lists an account's audit events, a page at a time.
pub async fn list_audit_events(
    app: &AppState,
    caller: &Caller,
    account_id: &str,
    query: PageQuery,
) -> Result<Page<AuditEvent, i64>, ServiceError> {
    caller.authorize(account_id)?;
    let after = validate::page_token("page_token", &query.page_token)?
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                ServiceError::invalid("page_token", "is not a page token from a previous response")
            })
        })
        .transpose()?;
    let limit = validate::page_size("page_size", query.page_size)?;
    Ok(app
        .store
        .list_audit_events(account_id, PageRequest { after, limit })
        .await?)
}
