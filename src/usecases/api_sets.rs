//! Use cases: api_sets.
