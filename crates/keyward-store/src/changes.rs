//! The change log: the transactional outbox that keeps every replica's verification index
//! fresh.
//!
//! Every write that can change the outcome of a verification records, in its own
//! transaction and as its last step, one row per fact it changed ([`Changed`]). Rows are
//! numbered in commit order: on PostgreSQL each recording transaction first takes one
//! advisory lock, held until it commits, so no transaction can commit a lower number after
//! a higher one became visible; SQLite has a single writer. A reader that has applied every
//! row up to `seq` therefore has missed nothing committed before it. On PostgreSQL the same
//! transaction also sends `NOTIFY keyward_changes`, delivered to listeners at commit
//! ([`ChangeListener`]), so replicas learn of a change within milliseconds; reading the log
//! periodically is the safety net.
//!
//! Within the process that wrote, a [`ChangeObserver`] registered with
//! [`Store::observe_changes`] is awaited after every such commit, before the write returns:
//! the replica that made a change has applied it before it answers.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, RuntimeErr, sqlx::postgres::PgListener,
};

use crate::{
    Backend, Store, StoreError,
    entity::changes,
    model::{Change, Changed},
    paging::now,
};

/// The PostgreSQL channel every change is announced on.
pub const CHANGE_CHANNEL: &str = "keyward_changes";

/// Key of the PostgreSQL advisory lock that orders the change log.
const CHANGE_LOG_LOCK_KEY: i64 = 0x6b65_7977_6172_6402; // "keyward\x02"

/// Told after every committed write that recorded changes, before the write returns.
pub trait ChangeObserver: Send + Sync + 'static {
    /// Changes were committed; the returned future completes once they are applied.
    fn changes_committed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl Store {
    /// Registers the observer awaited after every write that recorded changes, for this
    /// store and all its clones, for as long as the observer lives (the store holds it
    /// weakly: observers usually hold the store). Only the first registration counts;
    /// `false` if one was registered already.
    pub fn observe_changes(&self, observer: &std::sync::Arc<impl ChangeObserver>) -> bool {
        let observer: std::sync::Arc<dyn ChangeObserver> = observer.clone();
        self.observer
            .set(std::sync::Arc::downgrade(&observer))
            .is_ok()
    }

    /// Runs the observer after a commit that recorded changes.
    pub(crate) async fn after_commit(&self) {
        if let Some(observer) = self.observer.get().and_then(std::sync::Weak::upgrade) {
            observer.changes_committed().await;
        }
    }

    /// The number of the latest change committed (0 for an empty log). A replica starting
    /// now has nothing to apply up to it.
    pub async fn latest_change_seq(&self) -> Result<i64, StoreError> {
        let latest: Option<Option<i64>> = changes::Entity::find()
            .select_only()
            .column_as(changes::Column::Seq.max(), "latest")
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(latest.flatten().unwrap_or(0))
    }

    /// Up to `limit` changes after `seq`, in order.
    pub async fn changes_after(&self, seq: i64, limit: u64) -> Result<Vec<Change>, StoreError> {
        let rows = changes::Entity::find()
            .filter(changes::Column::Seq.gt(seq))
            .order_by_asc(changes::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(change).collect())
    }

    /// Deletes the changes committed before `before`; returns how many. The latest change
    /// is always kept, whatever its age, so the log never looks empty to a starting replica
    /// (its number is never reused anyway).
    pub async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let latest = self.latest_change_seq().await?;
        Ok(changes::Entity::delete_many()
            .filter(changes::Column::CreateTime.lt(before))
            .filter(changes::Column::Seq.lt(latest))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// A listener for change announcements: `Some` on PostgreSQL (a dedicated connection
    /// from the pool, `LISTEN keyward_changes`), `None` on SQLite, where only this process
    /// writes and the [`ChangeObserver`] sees every change.
    pub async fn change_listener(&self) -> Result<Option<ChangeListener>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        let pool = self.db.get_postgres_connection_pool();
        let mut listener = PgListener::connect_with(pool).await.map_err(unavailable)?;
        listener.ignore_pool_close_event(false);
        listener.eager_reconnect(true);
        listener.listen(CHANGE_CHANNEL).await.map_err(unavailable)?;
        Ok(Some(ChangeListener { inner: listener }))
    }
}

/// What a [`ChangeListener`] heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSignal {
    /// A change was committed (or several: announcements coalesce).
    Announced,
    /// The listening connection was lost and has been re-established: announcements made
    /// meanwhile are lost, so the log must be read.
    Reconnected,
}

/// Announcements of committed changes, on PostgreSQL.
pub struct ChangeListener {
    inner: PgListener,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// Waits for the next announcement. [`StoreError::Unavailable`] when the connection is
    /// lost and cannot be re-established now; calling again tries again.
    pub async fn next(&mut self) -> Result<ChangeSignal, StoreError> {
        match self.inner.try_recv().await {
            Ok(Some(_)) => Ok(ChangeSignal::Announced),
            Ok(None) => Ok(ChangeSignal::Reconnected),
            Err(err) => Err(unavailable(err)),
        }
    }
}

fn unavailable(err: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Unavailable(DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(err))))
}

/// Records `changed` in the caller's transaction: the last thing a writing transaction does
/// before it commits (on PostgreSQL it takes the log's lock, held until the commit, and
/// announces the change). Nothing to record is a no-op.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    changed: impl IntoIterator<Item = Changed>,
) -> Result<(), StoreError> {
    let time = now();
    let rows: Vec<changes::ActiveModel> = changed
        .into_iter()
        .map(|changed| {
            let (kind, account_id, entity_id) = columns(changed);
            changes::ActiveModel {
                seq: sea_orm::ActiveValue::NotSet,
                kind: sea_orm::ActiveValue::Set(kind.to_owned()),
                account_id: sea_orm::ActiveValue::Set(account_id),
                entity_id: sea_orm::ActiveValue::Set(entity_id),
                create_time: sea_orm::ActiveValue::Set(time),
            }
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if postgres {
        db.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({CHANGE_LOG_LOCK_KEY})"
        ))
        .await?;
    }
    changes::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    if postgres {
        db.execute_unprepared(&format!("SELECT pg_notify('{CHANGE_CHANNEL}', '')"))
            .await?;
    }
    Ok(())
}

/// The stored columns of a change: kind, account, entity.
fn columns(changed: Changed) -> (&'static str, String, String) {
    match changed {
        Changed::ApiKey { account_id, key_id } => ("api_key", account_id, key_id),
        Changed::User {
            account_id,
            user_id,
        } => ("user", account_id, user_id),
        Changed::Role {
            account_id,
            role_id,
        } => ("role", account_id, role_id),
        Changed::Account { account_id } => ("account", account_id.clone(), account_id),
        Changed::Credential {
            account_id,
            credential_id,
        } => ("credential", account_id, credential_id),
        Changed::ClientId {
            account_id,
            client_id,
        } => ("client_id", account_id, client_id),
        Changed::SecretKey { account_id, key_id } => ("secret_key", account_id, key_id),
        Changed::Catalog => ("catalog", String::new(), String::new()),
        Changed::Unknown => ("unknown", String::new(), String::new()),
    }
}

fn change(row: changes::Model) -> Change {
    let changes::Model {
        seq,
        kind,
        account_id,
        entity_id,
        create_time,
    } = row;
    let changed = match kind.as_str() {
        "api_key" => Changed::ApiKey {
            account_id,
            key_id: entity_id,
        },
        "user" => Changed::User {
            account_id,
            user_id: entity_id,
        },
        "role" => Changed::Role {
            account_id,
            role_id: entity_id,
        },
        "account" => Changed::Account { account_id },
        "credential" => Changed::Credential {
            account_id,
            credential_id: entity_id,
        },
        "client_id" => Changed::ClientId {
            account_id,
            client_id: entity_id,
        },
        "secret_key" => Changed::SecretKey {
            account_id,
            key_id: entity_id,
        },
        "catalog" => Changed::Catalog,
        _ => Changed::Unknown,
    };
    Change {
        seq,
        changed,
        time: create_time,
    }
}

/// The ids of the API keys of a user, for recording their changes when the user (and with
/// them their keys) is deleted.
pub(crate) async fn keys_of_user(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    use crate::entity::api_keys;
    Ok(api_keys::Entity::find()
        .select_only()
        .column(api_keys::Column::Id)
        .filter(api_keys::Column::AccountId.eq(account_id))
        .filter(api_keys::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?)
}
