//! The store against real databases: one module per area, each a list of tests that read
//! as sentences. A test that takes `backend: TestBackend` is declared at the top of its
//! module with `keyward_store::on_every_backend!`, and runs once per backend, on a fresh
//! database of its own: `accounts::sqlite::…` on SQLite (a file in a temporary directory)
//! and, when `KEYWARD_TEST_POSTGRES_URL` is set at build time (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`), `accounts::postgres::…` on a PostgreSQL
//! database created through that URL and dropped afterwards. The few tests without a
//! `backend` are about one backend's own behaviour (connecting, SQLite's file).
//!
//! `support` holds the harness (`TestDb`) and the fixtures that several areas use.

// clippy.toml allows these inside `#[test]` functions only; the harness helpers fail the
// test the same way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

/// The harness and the fixtures shared by the areas.
mod support;

/// `Store::connect`: URLs, unreachable and missing databases, SQLite's file and lock, ping.
mod connecting;
/// Applying and rolling back the migrations.
mod migrations;

/// Accounts, and accounts created with their initial contents (seeds).
mod accounts;
/// API keys, their uses and their access.
mod api_keys;
/// API sets, built-in and custom.
mod api_sets;
/// Credentials, their secret versions, renewal and HMAC nonces.
mod credentials;
/// The API sets each account is entitled to.
mod entitlements;
/// Roles and their authorities.
mod roles;
/// Users and the roles they hold.
mod users;

/// The audit log and its hash chain.
mod audit;
/// The change log that tells replicas what changed.
mod change_log;
/// Request IDs: a retry returns the first result.
mod idempotency;
