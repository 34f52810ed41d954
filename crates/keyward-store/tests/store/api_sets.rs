//! API sets: created with their methods, listed, edited atomically, refused deletion while
//! in use, and the built-in ones kept in sync.

use keyward_store::{ApiSetUpdate, NewApiSet, PageRequest, StoreError, testing::TestBackend};

use crate::support::{
    TestDb, all_pages, assert_already_exists, assert_conflict, assert_not_found, new_api_set,
    new_credential, seed,
};

keyward_store::on_every_backend!(
    an_api_set_reads_back_with_its_methods_and_its_id_is_unique,
    listing_api_sets_returns_every_row_once_with_its_methods,
    an_api_set_in_use_cannot_be_deleted,
    syncing_builtin_api_sets_inserts_updates_and_leaves_the_rest_alone,
    replicas_syncing_builtin_api_sets_at_once_all_succeed,
    updating_an_api_set_replaces_its_methods_atomically,
    api_sets_containing_a_method_are_listed_sorted,
);

fn builtin_set(id: &str, description: &str, methods: &[&str]) -> NewApiSet {
    NewApiSet {
        id: id.to_owned(),
        display_name: format!("Built-in {id}"),
        description: description.to_owned(),
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        builtin: true,
    }
}

async fn an_api_set_reads_back_with_its_methods_and_its_id_is_unique(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let created = store
        .create_api_set(NewApiSet {
            id: "keyward.api-keys".to_owned(),
            display_name: "API keys".to_owned(),
            description: "manage your own API keys".to_owned(),
            methods: vec![
                "/keyward.v1.ApiKeyService/RevokeApiKey".to_owned(),
                "/keyward.v1.ApiKeyService/CreateApiKey".to_owned(),
                "/keyward.v1.ApiKeyService/CreateApiKey".to_owned(),
            ],
            builtin: true,
        })
        .await
        .unwrap();
    assert_eq!(
        created.methods,
        [
            "/keyward.v1.ApiKeyService/CreateApiKey",
            "/keyward.v1.ApiKeyService/RevokeApiKey"
        ],
        "{b}: sorted, duplicates once"
    );
    assert_eq!(
        store.get_api_set("keyward.api-keys").await.unwrap(),
        created,
        "{b}"
    );
    assert_already_exists(
        b,
        store.create_api_set(new_api_set("keyward.api-keys")).await,
        "api set",
        "api set id",
    );
}

async fn listing_api_sets_returns_every_row_once_with_its_methods(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    for i in 0..7 {
        store
            .create_api_set(new_api_set(&format!("set.{i}")))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut request = PageRequest::first(3);
    loop {
        let page = store.list_api_sets(request.clone()).await.unwrap();
        for set in &page.items {
            assert_eq!(set.methods, [format!("/{}.Service/Call", set.id)], "{b}");
        }
        seen.extend(page.items.into_iter().map(|s| s.id));
        match page.next_after {
            Some(after) => request.after = Some(after),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("set.{i}")).collect();
    assert_eq!(seen, expected, "{b}");
}

async fn an_api_set_in_use_cannot_be_deleted(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store.create_api_set(new_api_set("unused")).await.unwrap();
    store
        .create_credential(new_credential(
            "acme",
            "c1",
            "ops@acme.test",
            &["keyward.verify"],
        ))
        .await
        .unwrap();

    let refused = store.delete_api_set("keyward.verify").await;
    assert!(
        matches!(&refused, Err(StoreError::ForeignKey { entity: "api set", detail }) if detail.contains("keyward.verify")),
        "{b}: {refused:?}"
    );
    assert_eq!(
        store
            .get_api_set("keyward.verify")
            .await
            .unwrap()
            .methods
            .len(),
        1,
        "{b}: methods kept too"
    );

    store.delete_api_set("unused").await.unwrap();
    let gone = store.get_api_set("unused").await;
    assert!(
        matches!(
            gone,
            Err(StoreError::NotFound {
                entity: "api set",
                ..
            })
        ),
        "{b}: {gone:?}"
    );
    let again = store.delete_api_set("unused").await;
    assert!(
        matches!(again, Err(StoreError::NotFound { .. })),
        "{b}: {again:?}"
    );
}

async fn syncing_builtin_api_sets_inserts_updates_and_leaves_the_rest_alone(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    // Someone's own set that happens to use a built-in id, and an unrelated one.
    let custom = store
        .create_api_set(new_api_set("keyward.audit"))
        .await
        .unwrap();
    let unrelated = store.create_api_set(new_api_set("billing")).await.unwrap();

    let catalog = vec![
        builtin_set(
            "keyward.verify",
            "verify",
            &["/V/Verify", "/V/Check", "/V/Check"],
        ),
        builtin_set("keyward.accounts", "accounts", &["/A/Get"]),
        builtin_set("keyward.audit", "audit", &["/Audit/List"]),
    ];
    store.sync_builtin_api_sets(catalog.clone()).await.unwrap();
    let verify = store.get_api_set("keyward.verify").await.unwrap();
    assert!(verify.builtin, "{b}");
    assert_eq!(verify.revision, 1, "{b}");
    assert_eq!(verify.methods, ["/V/Check", "/V/Verify"], "{b}");
    let accounts = store.get_api_set("keyward.accounts").await.unwrap();
    assert_eq!(accounts.methods, ["/A/Get"], "{b}");
    assert_eq!(
        store.get_api_set("keyward.audit").await.unwrap(),
        custom,
        "{b}"
    );
    assert_eq!(
        store.get_api_set("billing").await.unwrap(),
        unrelated,
        "{b}"
    );

    // Idempotent: nothing changes, not even revisions.
    store.sync_builtin_api_sets(catalog.clone()).await.unwrap();
    assert_eq!(
        store.get_api_set("keyward.verify").await.unwrap(),
        verify,
        "{b}"
    );
    assert_eq!(
        store.get_api_set("keyward.accounts").await.unwrap(),
        accounts,
        "{b}"
    );

    // A new version of the catalog: one set changes, one is dropped from it.
    store
        .sync_builtin_api_sets(vec![builtin_set(
            "keyward.verify",
            "verify, and more",
            &["/V/Verify", "/V/Explain"],
        )])
        .await
        .unwrap();
    let changed = store.get_api_set("keyward.verify").await.unwrap();
    assert_eq!(changed.revision, 2, "{b}");
    assert_eq!(changed.description, "verify, and more", "{b}");
    assert_eq!(changed.methods, ["/V/Explain", "/V/Verify"], "{b}");
    assert_eq!(changed.create_time, verify.create_time, "{b}");
    assert_eq!(
        store.get_api_set("keyward.accounts").await.unwrap(),
        accounts,
        "{b}: a built-in set the catalog no longer names is kept"
    );
    assert_eq!(
        store.api_sets_containing_method("/V/Check").await.unwrap(),
        Vec::<String>::new(),
        "{b}: the old method is gone"
    );
}

async fn replicas_syncing_builtin_api_sets_at_once_all_succeed(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let b = db.name;
    let catalog: Vec<NewApiSet> = (0..8)
        .map(|i| builtin_set(&format!("keyward.s{i}"), "d", &[&format!("/S{i}/Call")]))
        .collect();
    let mut replicas = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (store, catalog) = (db.replica().await, catalog.clone());
        replicas.spawn(async move { store.sync_builtin_api_sets(catalog).await });
    }
    for result in replicas.join_all().await {
        result.unwrap_or_else(|e| panic!("{b}: a replica failed to start: {e:?}"));
    }
    let (sets, _) = all_pages(100, |r| db.store.list_api_sets(r)).await;
    assert_eq!(sets.len(), 8, "{b}");
    assert!(
        sets.iter().all(|s| s.revision == 1 && s.methods.len() == 1),
        "{b}: {sets:?}"
    );
}

async fn updating_an_api_set_replaces_its_methods_atomically(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let created = store.create_api_set(new_api_set("billing")).await.unwrap();
    let updated = store
        .update_api_set(
            "billing",
            ApiSetUpdate {
                description: Some("invoices".to_owned()),
                methods: Some(vec![
                    "/B/Pay".to_owned(),
                    "/B/Bill".to_owned(),
                    "/B/Pay".to_owned(),
                ]),
                ..ApiSetUpdate::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(updated.revision, 2, "{b}");
    assert_eq!(updated.display_name, created.display_name, "{b}");
    assert_eq!(updated.description, "invoices", "{b}");
    assert_eq!(updated.methods, ["/B/Bill", "/B/Pay"], "{b}");
    assert_eq!(store.get_api_set("billing").await.unwrap(), updated, "{b}");

    let stale = store
        .update_api_set(
            "billing",
            ApiSetUpdate {
                methods: Some(Vec::new()),
                ..ApiSetUpdate::default()
            },
            Some(1),
        )
        .await;
    assert_conflict(b, stale);
    assert_eq!(
        store.get_api_set("billing").await.unwrap().methods,
        ["/B/Bill", "/B/Pay"],
        "{b}: methods kept on conflict"
    );
    assert_not_found(
        b,
        store
            .update_api_set("nope", ApiSetUpdate::default(), None)
            .await,
        "api set",
        "nope",
    );
}

async fn api_sets_containing_a_method_are_listed_sorted(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    for (id, methods) in [
        ("zeta", vec!["/K/Verify", "/K/Other"]),
        ("alpha", vec!["/K/Verify"]),
        ("mid", vec!["/K/Other"]),
    ] {
        store
            .create_api_set(NewApiSet {
                methods: methods.into_iter().map(str::to_owned).collect(),
                ..new_api_set(id)
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store.api_sets_containing_method("/K/Verify").await.unwrap(),
        ["alpha", "zeta"],
        "{b}"
    );
    assert_eq!(
        store.api_sets_containing_method("/K/Other").await.unwrap(),
        ["mid", "zeta"],
        "{b}"
    );
    assert!(
        store
            .api_sets_containing_method("/K/None")
            .await
            .unwrap()
            .is_empty(),
        "{b}"
    );
}
