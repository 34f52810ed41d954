//! Migrations: they apply to an empty database, re-run as a no-op and roll back cleanly.

use keyward_store::{StoreError, testing::TestBackend};

use crate::support::{TestDb, seed};

keyward_store::on_every_backend!(migrations_apply_to_a_fresh_database_and_roll_back_cleanly,);

async fn migrations_apply_to_a_fresh_database_and_roll_back_cleanly(backend: TestBackend) {
    let db = TestDb::fresh(backend).await;
    let (store, b) = (&db.store, db.name);
    assert!(store.applied_migrations().await.unwrap().is_empty(), "{b}");

    store.migrate().await.unwrap();
    assert_eq!(
        store.applied_migrations().await.unwrap(),
        [
            "m20261123_000001_initial",
            "m20261123_000002_access_indexes",
            "m20261123_000003_secret_key_ids",
            "m20261125_000004_change_log",
            "m20261205_000005_account_entitlements",
            "m20261205_000006_audit_delegate",
            "m20261206_000007_enrollment_tokens",
            "m20261206_000008_credential_compromise",
            "m20261206_000009_audit_chain"
        ],
        "{b}"
    );
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("{b}: re-run: {e:?}"));
    seed(store).await;

    store
        .migrate_down(None)
        .await
        .unwrap_or_else(|e| panic!("{b}: down: {e:?}"));
    assert!(store.applied_migrations().await.unwrap().is_empty(), "{b}");
    let gone = store.get_account("acme").await;
    assert!(
        matches!(gone, Err(StoreError::Internal(_))),
        "{b}: tables dropped: {gone:?}"
    );

    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("{b}: up again: {e:?}"));
    let fresh = store.get_account("acme").await;
    assert!(
        matches!(
            fresh,
            Err(StoreError::NotFound {
                entity: "account",
                ..
            })
        ),
        "{b}: {fresh:?}"
    );
    seed(store).await;
}
