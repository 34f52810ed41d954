//! Use cases: accounts.
