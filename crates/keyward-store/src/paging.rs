//! Keyset pagination and the other small helpers every query module shares.

use chrono::{DateTime, SubsecRound, Utc};

use crate::{
    StoreError,
    model::{MAX_PAGE_SIZE, Page},
};

/// The page size actually used for a requested `limit`.
pub(crate) fn page_size(limit: u64) -> u64 {
    limit.clamp(1, MAX_PAGE_SIZE)
}

/// Builds a page from up to `size + 1` rows read in list order: the extra row, if present,
/// only tells that another page follows, and the cursor is the key of the last item kept.
pub(crate) fn page<T, C>(mut rows: Vec<T>, size: u64, key: impl Fn(&T) -> C) -> Page<T, C> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() > size {
        rows.truncate(size);
        let next_after = rows.last().map(key);
        Page {
            items: rows,
            next_after,
        }
    } else {
        Page {
            items: rows,
            next_after: None,
        }
    }
}

/// The current time, rounded to microseconds: the precision of PostgreSQL timestamps, so a
/// record reads back equal to what was written on every backend.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// `time` rounded down to microseconds, like [`now`], for times the caller supplies.
pub(crate) fn micros(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// Classifies a write guarded by an expected revision (`UPDATE … WHERE id = ? AND revision =
/// ?`): `affected` rows were written, `row` is the record read by key afterwards, in the same
/// transaction. The record is gone: [`StoreError::NotFound`]; it is there but nothing was
/// written: its revision moved on, [`StoreError::Conflict`]. For the same `DELETE`, call it
/// only when nothing was deleted (`affected` 0), to tell those two apart.
pub(crate) fn revised<T>(
    affected: u64,
    row: Option<T>,
    not_found: impl FnOnce() -> StoreError,
) -> Result<T, StoreError> {
    match (affected, row) {
        (_, None) => Err(not_found()),
        (0, Some(_)) => Err(StoreError::Conflict),
        (_, Some(row)) => Ok(row),
    }
}

/// The form of an email address that uniqueness is checked on: trimmed and lowercased.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Sorted, without duplicates.
pub(crate) fn sorted_unique(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    items
}
