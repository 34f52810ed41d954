//! Use cases: audit_log.
