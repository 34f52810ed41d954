//! Entitlements: the API sets an account may hand out, stored, replaced and dropped with a
//! deleted API set, and derived for accounts of an upgraded installation.

use keyward_store::{AccountUpdate, NewAccount, PageRequest, StoreError, testing::TestBackend};

use crate::support::{TestDb, new_account, new_api_key, new_api_set, new_credential, new_user};

keyward_store::on_every_backend!(
    entitlements_are_stored_replaced_and_go_with_a_deleted_api_set,
    an_upgraded_installation_entitles_each_account_to_the_sets_its_keys_and_credentials_hold,
);

async fn entitlements_are_stored_replaced_and_go_with_a_deleted_api_set(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    for id in ["billing", "reports"] {
        store.create_api_set(new_api_set(id)).await.unwrap();
    }
    let created = store
        .create_account(NewAccount {
            entitled_api_set_ids: vec!["reports".into(), "billing".into(), "billing".into()],
            ..new_account("acme", "acme-")
        })
        .await
        .unwrap();
    assert_eq!(created.entitled_api_set_ids, ["billing", "reports"], "{b}");
    assert_eq!(store.get_account("acme").await.unwrap(), created, "{b}");
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();

    let replace = |ids: &[&str]| AccountUpdate {
        entitled_api_set_ids: Some(ids.iter().map(|id| (*id).to_owned()).collect()),
        ..AccountUpdate::default()
    };
    let updated = store
        .update_account("acme", replace(&["reports"]), Some(created.revision))
        .await
        .unwrap();
    assert_eq!(updated.entitled_api_set_ids, ["reports"], "{b}");
    assert_eq!(updated.revision, created.revision + 1, "{b}");
    let listed = store
        .list_accounts(PageRequest {
            after: None,
            limit: 100,
        })
        .await
        .unwrap()
        .items;
    let entitled: Vec<(&str, &[String])> = listed
        .iter()
        .map(|a| (a.id.as_str(), a.entitled_api_set_ids.as_slice()))
        .collect();
    assert_eq!(
        entitled,
        [("acme", &["reports".to_owned()][..]), ("globex", &[][..])],
        "{b}"
    );

    let unknown = store.update_account("acme", replace(&["nope"]), None).await;
    assert!(
        matches!(&unknown, Err(StoreError::ForeignKey { detail, .. }) if detail.contains("nope")),
        "{b}: {unknown:?}"
    );
    assert_eq!(
        store
            .get_account("acme")
            .await
            .unwrap()
            .entitled_api_set_ids,
        ["reports"],
        "{b}: a refused update changes nothing"
    );

    store.delete_api_set("reports").await.unwrap();
    assert!(
        store
            .get_account("acme")
            .await
            .unwrap()
            .entitled_api_set_ids
            .is_empty(),
        "{b}: an entitlement goes with its API set"
    );
}

async fn an_upgraded_installation_entitles_each_account_to_the_sets_its_keys_and_credentials_hold(
    backend: TestBackend,
) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    for id in ["billing", "reports", "shipping", "keyward.verify"] {
        store.create_api_set(new_api_set(id)).await.unwrap();
    }
    for (id, operator) in [("acme", false), ("globex", false), ("ops", true)] {
        store
            .create_account(NewAccount {
                operator,
                ..new_account(id, &format!("{id}-"))
            })
            .await
            .unwrap();
        store.create_user(new_user(id, "admin", &[])).await.unwrap();
    }
    store
        .create_api_key(new_api_key(
            "acme",
            "admin",
            "k1",
            &["billing", "keyward.verify"],
        ))
        .await
        .unwrap();
    store
        .create_api_key(new_api_key("acme", "admin", "k2", &["billing"]))
        .await
        .unwrap();
    store
        .create_credential(new_credential("acme", "c1", "c@acme.test", &["reports"]))
        .await
        .unwrap();
    store
        .create_api_key(new_api_key("globex", "admin", "k3", &["keyward.verify"]))
        .await
        .unwrap();
    store
        .create_api_key(new_api_key("ops", "admin", "k4", &["shipping"]))
        .await
        .unwrap();

    // Back to the schema before entitlements (and the audit delegate, enrollment
    // tokens, credential compromise and the audit chain after them), and up again.
    store.migrate_down(Some(5)).await.unwrap();
    store.migrate().await.unwrap();

    let entitled =
        |id: &'static str| async move { store.get_account(id).await.unwrap().entitled_api_set_ids };
    assert_eq!(entitled("acme").await, ["billing", "reports"], "{b}");
    assert!(
        entitled("globex").await.is_empty(),
        "{b}: built-in sets are not entitlements"
    );
    assert!(
        entitled("ops").await.is_empty(),
        "{b}: the operator account has every set without rows"
    );
}
