//! Keyward: a gRPC service that issues, stores, renews, revokes and verifies
//! API credentials.
//!
//! The binary (`main.rs`) only parses the command line and calls
//! [`startup::serve`]. See ARCHITECTURE.md for the map of the code.

pub mod config;
pub mod error;
pub mod grpc;
pub mod startup;
pub mod telemetry;
