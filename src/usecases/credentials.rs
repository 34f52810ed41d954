//! Use cases: credentials.
