//! Keyward: a gRPC service that issues, stores, renews, revokes and verifies
//! API credentials.
//!
//! The binary (`main.rs`) only parses the command line and calls
//! [`startup::serve`]. See ARCHITECTURE.md for the map of the code.

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod error;
pub mod grpc;
pub mod idempotency;
pub mod identity;
pub mod index;
pub mod judgement;
#[cfg(test)]
mod layering;
pub mod leaks;
pub mod memory;
pub mod metrics;
pub mod sealing;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod usage;
pub mod usecases;
pub mod validate;
pub mod verification;
