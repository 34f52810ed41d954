//! Use cases: roles.
