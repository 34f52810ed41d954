//! Use cases: api_keys.
