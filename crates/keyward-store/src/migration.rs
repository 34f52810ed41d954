//! The database schema as `sea-orm-migration` migrations. Migrations are append-only: a
//! released migration is never edited, a schema change is a new `mYYYYMMDD_NNNNNN_*` module
//! added to [`Migrator::migrations`]. They run through [`crate::Store::migrate`].

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261123_000001_initial;
mod m20261123_000002_access_indexes;
mod m20261123_000003_secret_key_ids;
mod m20261125_000004_change_log;
mod m20261205_000005_account_entitlements;
mod m20261205_000006_audit_delegate;
mod m20261206_000007_enrollment_tokens;
mod m20261206_000008_credential_compromise;
mod m20261206_000009_audit_chain;

/// Every migration of the schema, oldest first.
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_access_indexes::Migration),
            Box::new(m20261123_000003_secret_key_ids::Migration),
            Box::new(m20261125_000004_change_log::Migration),
            Box::new(m20261205_000005_account_entitlements::Migration),
            Box::new(m20261205_000006_audit_delegate::Migration),
            Box::new(m20261206_000007_enrollment_tokens::Migration),
            Box::new(m20261206_000008_credential_compromise::Migration),
            Box::new(m20261206_000009_audit_chain::Migration),
        ]
    }
}
