//! Use cases: enrollment.
