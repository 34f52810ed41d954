//! Roles: created with their authorities all or nothing, listed, updated, and kept while
//! someone holds them.

use keyward_store::{NewRole, RoleUpdate, StoreError, UserUpdate, testing::TestBackend};

use crate::support::{
    TestDb, all_pages, assert_already_exists, assert_conflict, assert_foreign_key,
    assert_not_found, new_account, new_role, new_user, seed, seed_roles,
};

keyward_store::on_every_backend!(
    a_role_is_created_with_its_authorities_all_or_nothing,
    listing_roles_returns_every_role_once_with_authorities,
    updating_a_role_replaces_its_authorities,
    a_role_still_held_cannot_be_deleted,
);

async fn a_role_is_created_with_its_authorities_all_or_nothing(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    let admin = NewRole {
        account_id: "acme".to_owned(),
        id: "admin".to_owned(),
        display_name: "Administrator".to_owned(),
        description: "every authority".to_owned(),
        authorities: vec![
            "MANAGE_USERS".to_owned(),
            "MANAGE_API_CLIENTS".to_owned(),
            "MANAGE_USERS".to_owned(),
        ],
        builtin: true,
    };
    let created = store.create_role(admin.clone()).await.unwrap();
    assert_eq!(
        created.authorities,
        ["MANAGE_API_CLIENTS", "MANAGE_USERS"],
        "{b}"
    );
    assert_eq!(
        store.get_role("acme", "admin").await.unwrap(),
        created,
        "{b}"
    );

    assert_already_exists(b, store.create_role(admin.clone()).await, "role", "role id");
    let unknown = store
        .create_role(NewRole {
            account_id: "nobody".to_owned(),
            ..admin
        })
        .await;
    assert!(
        matches!(
            unknown,
            Err(StoreError::ForeignKey {
                entity: "account",
                ..
            })
        ),
        "{b}: {unknown:?}"
    );
    let missing = store.get_role("nobody", "admin").await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { entity: "role", .. })),
        "{b}: {missing:?}"
    );
}

async fn listing_roles_returns_every_role_once_with_authorities(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    store
        .create_role(new_role("globex", "r-00", &["X"], false))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for i in (0..7).rev() {
        let authority = format!("AUTH_{i}");
        expected.push(
            store
                .create_role(new_role(
                    "acme",
                    &format!("r-{i:02}"),
                    &[authority.as_str(), "COMMON"],
                    i == 0,
                ))
                .await
                .unwrap(),
        );
    }
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    let (seen, pages) = all_pages(3, |r| store.list_roles("acme", r)).await;
    assert_eq!(seen, expected, "{b}");
    assert_eq!(pages, 3, "{b}");
    assert_eq!(seen[0].authorities, ["AUTH_0", "COMMON"], "{b}");
}

async fn updating_a_role_replaces_its_authorities(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    let viewer = store.get_role("acme", "viewer").await.unwrap();

    let updated = store
        .update_role(
            "acme",
            "viewer",
            RoleUpdate {
                display_name: Some("Reader".to_owned()),
                authorities: Some(vec![
                    "VIEW_KEYS".to_owned(),
                    "VIEW".to_owned(),
                    "VIEW".to_owned(),
                ]),
                ..RoleUpdate::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Reader", "{b}");
    assert_eq!(updated.description, viewer.description, "{b}");
    assert_eq!(updated.authorities, ["VIEW", "VIEW_KEYS"], "{b}");
    assert_eq!(updated.revision, 2, "{b}");
    assert!(!updated.builtin, "{b}");
    assert_eq!(
        store.get_role("acme", "viewer").await.unwrap(),
        updated,
        "{b}"
    );

    let cleared = store
        .update_role(
            "acme",
            "viewer",
            RoleUpdate {
                authorities: Some(Vec::new()),
                ..RoleUpdate::default()
            },
            None,
        )
        .await
        .unwrap();
    assert!(cleared.authorities.is_empty(), "{b}");
    assert_eq!(cleared.display_name, "Reader", "{b}");

    assert_conflict(
        b,
        store
            .update_role(
                "acme",
                "viewer",
                RoleUpdate {
                    authorities: Some(vec!["ROOT".to_owned()]),
                    ..RoleUpdate::default()
                },
                Some(2),
            )
            .await,
    );
    assert!(
        store
            .get_role("acme", "viewer")
            .await
            .unwrap()
            .authorities
            .is_empty(),
        "{b}: authorities kept on conflict"
    );
    assert_not_found(
        b,
        store
            .update_role("acme", "nope", RoleUpdate::default(), None)
            .await,
        "role",
        "nope",
    );
}

async fn a_role_still_held_cannot_be_deleted(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    for user in ["alice", "bob"] {
        store
            .create_user(new_user("acme", user, &["viewer"]))
            .await
            .unwrap();
    }

    assert_foreign_key(
        b,
        store.delete_role("acme", "viewer", Some(1)).await,
        "role",
        "role `viewer` is still held by 2 user(s)",
    );
    assert_eq!(
        store.get_role("acme", "viewer").await.unwrap().authorities,
        ["VIEW"],
        "{b}: the role and its authorities stay"
    );

    for user in ["alice", "bob"] {
        store
            .update_user(
                "acme",
                user,
                UserUpdate {
                    role_ids: Some(Vec::new()),
                    ..UserUpdate::default()
                },
                None,
            )
            .await
            .unwrap();
    }
    assert_conflict(b, store.delete_role("acme", "viewer", Some(9)).await);
    store.delete_role("acme", "viewer", Some(1)).await.unwrap();
    assert_not_found(b, store.get_role("acme", "viewer").await, "role", "viewer");
    assert_not_found(
        b,
        store.delete_role("acme", "viewer", None).await,
        "role",
        "viewer",
    );
    // Its authorities went with it: a new role of that id starts empty.
    let again = store
        .create_role(new_role("acme", "viewer", &[], false))
        .await
        .unwrap();
    assert!(again.authorities.is_empty(), "{b}");
}
