//! Use cases: users.
