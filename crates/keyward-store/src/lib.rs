//! Keyward's persistence layer: the database schema, its migrations and every query the
//! server runs, behind one cheap-to-clone [`Store`] handle.
//!
//! The same code runs on SQLite (the embedded default) and PostgreSQL (shared by any number of
//! stateless replicas). SeaORM is an implementation detail of this crate: callers see plain
//! domain structs from [`model`] and one error type, [`StoreError`], and never need SeaORM as a
//! dependency of their own.
//!
//! Code map:
//! - [`store`](Store): connecting (URL parsing, SQLite file lock, pool settings), migrating,
//!   health checks;
//! - `accounts`, `users`, `roles`, `api_sets`, `api_keys`, `enrollment`, `credentials`,
//!   `idempotency`, `audit`: the queries of each area, as methods on [`Store`];
//! - `changes`: the change log every write that can change a verification records in its
//!   transaction, read by every replica's verification index ([`ChangeListener`],
//!   [`ChangeObserver`]);
//! - `lookups`: what the verification index loads on a miss, one fact at a time;
//! - [`model`]: the plain structs those methods take and return;
//! - `entity`: one SeaORM entity per table (private);
//! - `migration`: the schema, as `sea-orm-migration` migrations (private; run through
//!   [`Store::migrate`]);
//! - [`StoreError`]: what can go wrong, classified once for every caller;
//! - `testing` (feature `testing`): a fresh SQLite or PostgreSQL database per test.

mod accounts;
mod api_keys;
mod api_sets;
mod audit;
#[cfg(feature = "testing")]
mod bulk;
mod changes;
mod credentials;
mod enrollment;
mod entity;
mod error;
mod idempotency;
mod lookups;
mod migration;
pub mod model;
mod paging;
mod roles;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use changes::{CHANGE_CHANNEL, ChangeListener, ChangeObserver, ChangeSignal};
pub use error::{StoreError, Unique};
pub use model::*;
pub use store::{Backend, PoolStats, RequestCompletion, Store, StoreOptions};
