//! Keyward's integration tests: the real server, started in-process on port
//! 0 with a fresh database, driven through `keyward-client`.
//!
//! Every test written with `on_every_backend!` (from `keyward_store::testing`,
//! shared with the store's and the CLI's tests) runs on SQLite, and also on
//! PostgreSQL when `KEYWARD_TEST_POSTGRES_URL` was set at build time (see
//! `build.rs`), as a test of its own: `accounts::sqlite::…`, `accounts::postgres::…`.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

// `on_every_backend!`, for every module.
#[macro_use]
extern crate keyward_store;

/// The in-process server, shared with the CLI's tests.
mod app;
mod helpers;

mod accounts;
mod api_keys;
mod audit_chain;
mod authorization;
mod calls;
mod client_sdk;
mod crash;
mod credentials;
mod delegation;
mod enrollment;
mod entitlements;
mod health;
mod leaks;
mod memory;
mod metrics;
mod reflection;
mod rpcs;
mod startup;
mod tls;
mod transport;
mod verification;
