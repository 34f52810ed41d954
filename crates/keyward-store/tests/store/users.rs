//! Users: unique emails per account, created and updated with their roles all or nothing,
//! listed, switched off and on, and deleted with their API keys.

use keyward_store::{
    NewUser, PageRequest, StoreError, UserState, UserUpdate, testing::TestBackend,
};

use crate::support::{
    TestDb, all_pages, assert_already_exists, assert_conflict, assert_foreign_key,
    assert_not_found, new_account, new_api_key, new_role, new_user, seed, seed_roles,
};

keyward_store::on_every_backend!(
    a_user_email_is_unique_per_account_case_insensitively,
    a_user_is_created_with_their_roles_all_or_nothing,
    listing_users_returns_every_user_of_the_account_once_with_roles,
    updating_a_user_replaces_roles_atomically_and_keeps_emails_unique,
    a_user_is_switched_off_and_on_with_revision_checks,
    deleting_a_user_takes_their_api_keys_along,
);

async fn a_user_email_is_unique_per_account_case_insensitively(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    let user = |account: &str, id: &str, email: &str| NewUser {
        account_id: account.to_owned(),
        id: id.to_owned(),
        display_name: format!("User {id}"),
        email: email.to_owned(),
        role_ids: Vec::new(),
    };

    let alice = store
        .create_user(user("acme", "alice", " Alice@Acme.test "))
        .await
        .unwrap();
    assert_eq!(alice.email, "Alice@Acme.test", "{b}: trimmed, case kept");
    assert_eq!(alice.state, UserState::Active, "{b}");
    assert_eq!(store.get_user("acme", "alice").await.unwrap(), alice, "{b}");

    assert_already_exists(
        b,
        store
            .create_user(user("acme", "alice2", "alice@ACME.test"))
            .await,
        "user",
        "user email",
    );
    assert_already_exists(
        b,
        store
            .create_user(user("acme", "alice", "other@acme.test"))
            .await,
        "user",
        "user id",
    );
    store
        .create_user(user("globex", "alice", "alice@acme.test"))
        .await
        .unwrap_or_else(|e| panic!("{b}: same email and id in another account: {e:?}"));

    let unknown = store
        .create_user(user("nobody", "bob", "bob@acme.test"))
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
    let other_account = store.get_user("globex", "bob").await;
    assert!(
        matches!(
            other_account,
            Err(StoreError::NotFound { entity: "user", .. })
        ),
        "{b}: {other_account:?}"
    );
}

async fn a_user_is_created_with_their_roles_all_or_nothing(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    store
        .create_role(new_role("globex", "auditor", &["AUDIT"], false))
        .await
        .unwrap();

    let alice = store
        .create_user(new_user("acme", "alice", &["viewer", "admin", "viewer"]))
        .await
        .unwrap();
    assert_eq!(
        alice.role_ids,
        ["admin", "viewer"],
        "{b}: sorted, once each"
    );
    assert_eq!(store.get_user("acme", "alice").await.unwrap(), alice, "{b}");

    // A role of another account is unknown here; nothing of the user is left.
    assert_foreign_key(
        b,
        store
            .create_user(new_user("acme", "bob", &["viewer", "auditor"]))
            .await,
        "role",
        "unknown role `auditor`",
    );
    assert_not_found(b, store.get_user("acme", "bob").await, "user", "bob");
    store
        .create_user(new_user("acme", "bob", &["viewer"]))
        .await
        .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));
}

async fn listing_users_returns_every_user_of_the_account_once_with_roles(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    store
        .create_user(new_user("globex", "u-000", &[]))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for i in (0..11).rev() {
        let roles: &[&str] = match i % 3 {
            0 => &[],
            1 => &["viewer"],
            _ => &["viewer", "admin"],
        };
        expected.push(
            store
                .create_user(new_user("acme", &format!("u-{i:03}"), roles))
                .await
                .unwrap(),
        );
    }
    expected.sort_by(|a, b| a.id.cmp(&b.id));

    let (seen, pages) = all_pages(4, |r| store.list_users("acme", r)).await;
    assert_eq!(
        seen, expected,
        "{b}: every user once, in id order, with roles"
    );
    assert_eq!(pages, 3, "{b}");
    let none = store
        .list_users("nobody", PageRequest::first(4))
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next_after.is_none(), "{b}");
}

async fn updating_a_user_replaces_roles_atomically_and_keeps_emails_unique(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    let alice = store
        .create_user(new_user("acme", "alice", &["viewer"]))
        .await
        .unwrap();
    store
        .create_user(new_user("acme", "bob", &[]))
        .await
        .unwrap();

    let updated = store
        .update_user(
            "acme",
            "alice",
            UserUpdate {
                display_name: Some("Alice A.".to_owned()),
                email: Some(" Alice.A@Acme.test ".to_owned()),
                role_ids: Some(vec!["admin".to_owned()]),
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Alice A.", "{b}");
    assert_eq!(
        updated.email, "Alice.A@Acme.test",
        "{b}: trimmed, case kept"
    );
    assert_eq!(updated.role_ids, ["admin"], "{b}");
    assert_eq!(updated.revision, 2, "{b}");
    assert_eq!(updated.create_time, alice.create_time, "{b}");
    assert_eq!(
        store.get_user("acme", "alice").await.unwrap(),
        updated,
        "{b}"
    );

    // Only the roles: the rest stays.
    let roles_only = store
        .update_user(
            "acme",
            "alice",
            UserUpdate {
                role_ids: Some(vec!["viewer".to_owned(), "admin".to_owned()]),
                ..UserUpdate::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(roles_only.role_ids, ["admin", "viewer"], "{b}");
    assert_eq!(roles_only.email, "Alice.A@Acme.test", "{b}");

    // An unknown role: nothing changes, not the name either.
    assert_foreign_key(
        b,
        store
            .update_user(
                "acme",
                "alice",
                UserUpdate {
                    display_name: Some("Mallory".to_owned()),
                    role_ids: Some(vec!["admin".to_owned(), "root".to_owned()]),
                    ..UserUpdate::default()
                },
                Some(3),
            )
            .await,
        "role",
        "`root`",
    );
    assert_eq!(
        store.get_user("acme", "alice").await.unwrap(),
        roles_only,
        "{b}"
    );

    // Bob's email, in other case, is taken.
    assert_already_exists(
        b,
        store
            .update_user(
                "acme",
                "alice",
                UserUpdate {
                    email: Some("BOB@acme.TEST".to_owned()),
                    ..UserUpdate::default()
                },
                Some(3),
            )
            .await,
        "user",
        "user email",
    );
    // Her own address in another case is hers.
    store
        .update_user(
            "acme",
            "alice",
            UserUpdate {
                email: Some("alice.a@acme.test".to_owned()),
                ..UserUpdate::default()
            },
            Some(3),
        )
        .await
        .unwrap_or_else(|e| panic!("{b}: {e:?}"));

    assert_conflict(
        b,
        store
            .update_user("acme", "alice", UserUpdate::default(), Some(3))
            .await,
    );
    assert_not_found(
        b,
        store
            .update_user("acme", "nobody", UserUpdate::default(), None)
            .await,
        "user",
        "nobody",
    );
    // Users are per account.
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    assert_not_found(
        b,
        store
            .update_user("globex", "alice", UserUpdate::default(), None)
            .await,
        "user",
        "alice",
    );
}

async fn a_user_is_switched_off_and_on_with_revision_checks(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    store
        .create_user(new_user("acme", "alice", &["viewer"]))
        .await
        .unwrap();

    let disabled = store
        .set_user_state("acme", "alice", UserState::Disabled, Some(1))
        .await
        .unwrap();
    assert_eq!(disabled.state, UserState::Disabled, "{b}");
    assert_eq!(disabled.revision, 2, "{b}");
    assert_eq!(disabled.role_ids, ["viewer"], "{b}");
    assert_eq!(
        store.get_user("acme", "alice").await.unwrap(),
        disabled,
        "{b}"
    );

    assert_conflict(
        b,
        store
            .set_user_state("acme", "alice", UserState::Active, Some(1))
            .await,
    );
    let active = store
        .set_user_state("acme", "alice", UserState::Active, None)
        .await
        .unwrap();
    assert_eq!(active.state, UserState::Active, "{b}");
    assert_eq!(active.revision, 3, "{b}");
    assert_not_found(
        b,
        store
            .set_user_state("acme", "bob", UserState::Active, None)
            .await,
        "user",
        "bob",
    );
}

async fn deleting_a_user_takes_their_api_keys_along(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    store
        .create_user(new_user("acme", "alice", &["admin"]))
        .await
        .unwrap();
    store
        .create_user(new_user("acme", "bob", &["admin"]))
        .await
        .unwrap();
    for (user, key) in [("alice", "k1"), ("alice", "k2"), ("bob", "k3")] {
        store
            .create_api_key(new_api_key("acme", user, key, &["keyward.verify"]))
            .await
            .unwrap();
    }

    assert_conflict(b, store.delete_user("acme", "alice", Some(7)).await);
    assert!(
        store.get_api_key("k1").await.is_ok(),
        "{b}: kept on conflict"
    );
    store.delete_user("acme", "alice", Some(1)).await.unwrap();
    assert_not_found(b, store.get_user("acme", "alice").await, "user", "alice");
    assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
    assert_not_found(b, store.get_api_key("k2").await, "api key", "k2");
    assert!(
        store.get_api_key("k3").await.is_ok(),
        "{b}: bob's key stays"
    );
    assert_eq!(
        store.get_user("acme", "bob").await.unwrap().role_ids,
        ["admin"],
        "{b}"
    );
    // Her role assignment went too: the role is held by bob alone.
    assert_foreign_key(
        b,
        store.delete_role("acme", "admin", None).await,
        "role",
        "still held by 1 user(s)",
    );

    assert_not_found(
        b,
        store.delete_user("acme", "alice", None).await,
        "user",
        "alice",
    );
    assert_not_found(
        b,
        store.delete_user("acme", "alice", Some(1)).await,
        "user",
        "alice",
    );
    // The API set the keys used is free again once no key uses it.
    store.delete_user("acme", "bob", None).await.unwrap();
    store.delete_api_set("keyward.verify").await.unwrap();
}
