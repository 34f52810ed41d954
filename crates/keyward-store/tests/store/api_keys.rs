//! API keys: created with their API sets, listed by user and state, updated, revoked and
//! deleted under revisions, their last use recorded, and their access the union of their
//! user's roles.

use keyward_store::{
    ApiKeyFilter, ApiKeyState, ApiKeyUpdate, LastUsed, NewApiKey, Store, UserState,
    testing::TestBackend,
};

use crate::support::{
    SECRET_HASH, TestDb, all_pages, assert_already_exists, assert_conflict, assert_foreign_key,
    assert_not_found, new_account, new_api_key, new_api_set, new_role, new_user, seed_roles, time,
};

keyward_store::on_every_backend!(
    an_api_key_reads_back_with_its_api_sets_and_never_debugs_its_hash,
    an_api_key_naming_an_unknown_user_or_api_set_leaves_nothing_behind,
    listing_api_keys_by_user_and_state_pages_through_every_key_once,
    updating_and_deleting_an_api_key_honour_the_expected_revision,
    revoking_an_api_key_is_idempotent,
    touching_an_api_key_records_the_latest_use_only,
    a_batch_of_uses_records_each_latest_use_in_one_transaction,
    the_access_of_an_api_key_unites_the_authorities_of_its_users_roles,
);

/// `seed_roles`, plus users `alice` (admin, viewer) and `bob` (viewer) and the API set
/// `keyward.keys`.
async fn seed_users(store: &Store) {
    seed_roles(store).await;
    store
        .create_user(new_user("acme", "alice", &["admin", "viewer"]))
        .await
        .unwrap();
    store
        .create_user(new_user("acme", "bob", &["viewer"]))
        .await
        .unwrap();
    store
        .create_api_set(new_api_set("keyward.keys"))
        .await
        .unwrap();
}

async fn an_api_key_reads_back_with_its_api_sets_and_never_debugs_its_hash(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    let expire_time = time("2027-01-31T12:00:00.123456789Z");
    let new = NewApiKey {
        expire_time: Some(expire_time),
        ..new_api_key(
            "acme",
            "alice",
            "k1",
            &["keyward.verify", "keyward.keys", "keyward.verify"],
        )
    };
    assert!(!format!("{new:?}").contains(SECRET_HASH), "{b}");

    let created = store.create_api_key(new.clone()).await.unwrap();
    assert_eq!(created.state, ApiKeyState::Active, "{b}");
    assert_eq!(created.revision, 1, "{b}");
    assert_eq!(
        created.api_set_ids,
        ["keyward.keys", "keyward.verify"],
        "{b}"
    );
    assert_eq!(created.secret_hash, SECRET_HASH, "{b}");
    assert_eq!(
        created.expire_time,
        Some(time("2027-01-31T12:00:00.123456Z")),
        "{b}: microseconds, like every stored time"
    );
    assert_eq!(created.revoke_time, None, "{b}");
    assert_eq!(created.last_used_time, None, "{b}");
    assert_eq!(store.get_api_key("k1").await.unwrap(), created, "{b}");
    let debug = format!("{created:?}");
    assert!(!debug.contains(SECRET_HASH), "{b}: {debug}");
    assert!(debug.contains("<redacted>") && debug.contains("k1"), "{b}");

    assert_already_exists(b, store.create_api_key(new).await, "api key", "api key id");
    assert_not_found(b, store.get_api_key("k9").await, "api key", "k9");
}

async fn an_api_key_naming_an_unknown_user_or_api_set_leaves_nothing_behind(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;

    assert_foreign_key(
        b,
        store
            .create_api_key(new_api_key(
                "acme",
                "alice",
                "k1",
                &["keyward.verify", "nope"],
            ))
            .await,
        "api set",
        "unknown api set `nope`",
    );
    assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
    assert_foreign_key(
        b,
        store
            .create_api_key(new_api_key("acme", "mallory", "k1", &[]))
            .await,
        "user",
        "unknown user `mallory`",
    );
    assert_foreign_key(
        b,
        store
            .create_api_key(new_api_key("nobody", "alice", "k1", &[]))
            .await,
        "user",
        "`alice` in account `nobody`",
    );
    assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
    // The API set it named is not held by a half-written key.
    store.delete_api_set("keyward.keys").await.unwrap();
    store
        .create_api_key(new_api_key("acme", "alice", "k1", &["keyward.verify"]))
        .await
        .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));
}

async fn listing_api_keys_by_user_and_state_pages_through_every_key_once(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    store
        .create_user(new_user("globex", "alice", &[]))
        .await
        .unwrap();
    store
        .create_api_key(new_api_key("globex", "alice", "g-1", &[]))
        .await
        .unwrap();

    // Expiry is judged at `at`: k-05 has expired by then, k-07 not yet, and k-04 is
    // revoked (which wins over its past expiry).
    let at = time("2026-11-24T00:00:00Z");
    let expiry = |i: i32| match i {
        4 => Some(time("2026-11-20T00:00:00Z")),
        5 => Some(at),
        7 => Some(time("2026-12-01T00:00:00Z")),
        _ => None,
    };
    let mut keys = Vec::new();
    for i in (0..9).rev() {
        let user = if i % 3 == 0 { "bob" } else { "alice" };
        keys.push(
            store
                .create_api_key(NewApiKey {
                    expire_time: expiry(i),
                    ..new_api_key("acme", user, &format!("k-{i:02}"), &["keyward.verify"])
                })
                .await
                .unwrap(),
        );
    }
    keys.sort_by(|x, y| x.id.cmp(&y.id));
    let revoked = store
        .revoke_api_key("k-04", time("2026-11-23T10:00:00Z"))
        .await
        .unwrap();
    for key in &mut keys {
        if key.id == "k-04" {
            *key = revoked.clone();
        }
    }
    let ids = |keys: &[keyward_store::ApiKey]| -> Vec<String> {
        keys.iter().map(|k| k.id.clone()).collect()
    };

    let (all, pages) = all_pages(4, |r| store.list_api_keys("acme", None, None, r)).await;
    assert_eq!(all, keys, "{b}: every key of the account once, in id order");
    assert_eq!(pages, 3, "{b}");

    let (alices, _) = all_pages(2, |r| store.list_api_keys("acme", Some("alice"), None, r)).await;
    assert_eq!(
        ids(&alices),
        ["k-01", "k-02", "k-04", "k-05", "k-07", "k-08"],
        "{b}"
    );
    let (active, _) = all_pages(2, |r| {
        store.list_api_keys("acme", Some("alice"), Some(ApiKeyFilter::Active { at }), r)
    })
    .await;
    assert_eq!(ids(&active), ["k-01", "k-02", "k-07", "k-08"], "{b}");
    let (expired, _) = all_pages(2, |r| {
        store.list_api_keys("acme", None, Some(ApiKeyFilter::Expired { at }), r)
    })
    .await;
    assert_eq!(ids(&expired), ["k-05"], "{b}");
    let (earlier, _) = all_pages(2, |r| {
        let at = time("2026-11-23T23:59:59.999999Z");
        store.list_api_keys("acme", Some("alice"), Some(ApiKeyFilter::Active { at }), r)
    })
    .await;
    assert_eq!(
        ids(&earlier),
        ["k-01", "k-02", "k-05", "k-07", "k-08"],
        "{b}: a key is active until its expire time"
    );
    let (gone, _) = all_pages(2, |r| {
        store.list_api_keys("acme", None, Some(ApiKeyFilter::Revoked), r)
    })
    .await;
    assert_eq!(gone, [revoked], "{b}");
    let (bobs, _) = all_pages(10, |r| store.list_api_keys("acme", Some("bob"), None, r)).await;
    assert_eq!(ids(&bobs), ["k-00", "k-03", "k-06"], "{b}");
    let (theirs, _) = all_pages(10, |r| store.list_api_keys("globex", None, None, r)).await;
    assert_eq!(ids(&theirs), ["g-1"], "{b}");
}

async fn updating_and_deleting_an_api_key_honour_the_expected_revision(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    let created = store
        .create_api_key(new_api_key("acme", "alice", "k1", &["keyward.verify"]))
        .await
        .unwrap();

    let updated = store
        .update_api_key(
            "k1",
            ApiKeyUpdate {
                display_name: Some("deploy".to_owned()),
                ..ApiKeyUpdate::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "deploy", "{b}");
    assert_eq!(updated.description, created.description, "{b}");
    assert_eq!(updated.api_set_ids, created.api_set_ids, "{b}");
    assert_eq!(updated.revision, 2, "{b}");
    assert_eq!(store.get_api_key("k1").await.unwrap(), updated, "{b}");

    assert_conflict(
        b,
        store
            .update_api_key("k1", ApiKeyUpdate::default(), Some(1))
            .await,
    );
    assert_not_found(
        b,
        store
            .update_api_key("k9", ApiKeyUpdate::default(), None)
            .await,
        "api key",
        "k9",
    );

    assert_conflict(b, store.delete_api_key("k1", Some(1)).await);
    assert_eq!(store.get_api_key("k1").await.unwrap(), updated, "{b}");
    store.delete_api_key("k1", Some(2)).await.unwrap();
    assert_not_found(b, store.get_api_key("k1").await, "api key", "k1");
    assert_not_found(b, store.delete_api_key("k1", None).await, "api key", "k1");
    // Its API-set grants went with it.
    store.delete_api_set("keyward.verify").await.unwrap();
}

async fn revoking_an_api_key_is_idempotent(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    store
        .create_api_key(new_api_key("acme", "alice", "k1", &[]))
        .await
        .unwrap();

    let at = time("2026-11-23T10:00:00.5Z");
    let revoked = store.revoke_api_key("k1", at).await.unwrap();
    assert_eq!(revoked.state, ApiKeyState::Revoked, "{b}");
    assert_eq!(revoked.revoke_time, Some(at), "{b}");
    assert_eq!(revoked.update_time, at, "{b}");
    assert_eq!(revoked.revision, 2, "{b}");
    assert_eq!(store.get_api_key("k1").await.unwrap(), revoked, "{b}");

    let again = store
        .revoke_api_key("k1", time("2026-11-24T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again, revoked, "{b}: unchanged");
    assert_not_found(b, store.revoke_api_key("k9", at).await, "api key", "k9");
}

async fn touching_an_api_key_records_the_latest_use_only(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    let created = store
        .create_api_key(new_api_key("acme", "alice", "k1", &[]))
        .await
        .unwrap();

    let first = time("2026-11-23T10:00:00.000001Z");
    store.touch_api_key_last_used("k1", first).await.unwrap();
    let touched = store.get_api_key("k1").await.unwrap();
    assert_eq!(touched.last_used_time, Some(first), "{b}");
    assert_eq!(touched.revision, created.revision, "{b}: not an edit");
    assert_eq!(touched.update_time, created.update_time, "{b}");

    // A slower request that started earlier does not move it back.
    store
        .touch_api_key_last_used("k1", time("2026-11-23T09:59:59.999Z"))
        .await
        .unwrap();
    assert_eq!(
        store.get_api_key("k1").await.unwrap().last_used_time,
        Some(first),
        "{b}"
    );
    let later = time("2026-11-23T10:00:00.1Z");
    store.touch_api_key_last_used("k1", later).await.unwrap();
    assert_eq!(
        store.get_api_key("k1").await.unwrap().last_used_time,
        Some(later),
        "{b}"
    );
    store
        .touch_api_key_last_used("k9", later)
        .await
        .unwrap_or_else(|e| panic!("{b}: an unknown key is a no-op: {e:?}"));
}

async fn a_batch_of_uses_records_each_latest_use_in_one_transaction(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    for id in ["k1", "k2"] {
        store
            .create_api_key(new_api_key("acme", "alice", id, &[]))
            .await
            .unwrap();
    }
    let first = time("2026-11-23T10:00:00.000001Z");
    store.touch_api_key_last_used("k2", first).await.unwrap();
    let earlier = time("2026-11-23T09:00:00Z");
    let later = time("2026-11-23T10:00:01Z");
    store
        .touch_last_used(&[
            (LastUsed::ApiKey("k1"), later),
            (LastUsed::ApiKey("k2"), earlier),
            (LastUsed::ApiKey("k9"), later),
        ])
        .await
        .unwrap_or_else(|e| panic!("{b}: an unknown key is a no-op: {e:?}"));
    let last_used = |id| async move { store.get_api_key(id).await.unwrap().last_used_time };
    assert_eq!(last_used("k1").await, Some(later), "{b}");
    assert_eq!(last_used("k2").await, Some(first), "{b}: never moved back");
}

async fn the_access_of_an_api_key_unites_the_authorities_of_its_users_roles(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_users(store).await;
    store
        .create_role(new_role("acme", "empty", &[], false))
        .await
        .unwrap();
    store
        .create_user(new_user("acme", "carol", &[]))
        .await
        .unwrap();
    store
        .create_user(new_user("acme", "dave", &["empty"]))
        .await
        .unwrap();
    for (user, key) in [
        ("alice", "ka"),
        ("bob", "kb"),
        ("carol", "kc"),
        ("dave", "kd"),
    ] {
        store
            .create_api_key(new_api_key(
                "acme",
                user,
                key,
                &["keyward.verify", "keyward.keys"],
            ))
            .await
            .unwrap();
    }

    let alice = store.api_key_access("ka").await.unwrap().unwrap();
    assert_eq!(alice.key, store.get_api_key("ka").await.unwrap(), "{b}");
    assert_eq!(
        alice.user,
        store.get_user("acme", "alice").await.unwrap(),
        "{b}"
    );
    assert_eq!(
        alice.account,
        store.get_account("acme").await.unwrap(),
        "{b}"
    );
    assert_eq!(
        alice.authorities.iter().collect::<Vec<_>>(),
        ["MANAGE_KEYS", "MANAGE_USERS", "VIEW"],
        "{b}"
    );
    assert!(alice.holds_builtin_role, "{b}");

    let bob = store.api_key_access("kb").await.unwrap().unwrap();
    assert_eq!(bob.user.role_ids, ["viewer"], "{b}");
    assert_eq!(bob.authorities.iter().collect::<Vec<_>>(), ["VIEW"], "{b}");
    assert!(!bob.holds_builtin_role, "{b}");

    let carol = store.api_key_access("kc").await.unwrap().unwrap();
    assert!(carol.user.role_ids.is_empty(), "{b}");
    assert!(
        carol.authorities.is_empty() && !carol.holds_builtin_role,
        "{b}"
    );

    // A role without authorities is still held.
    let dave = store.api_key_access("kd").await.unwrap().unwrap();
    assert_eq!(dave.user.role_ids, ["empty"], "{b}");
    assert!(dave.authorities.is_empty(), "{b}");

    // The lookup reports, it does not judge: a disabled user's revoked key is returned
    // as it is.
    store
        .set_user_state("acme", "bob", UserState::Disabled, None)
        .await
        .unwrap();
    store
        .revoke_api_key("kb", time("2026-11-23T10:00:00Z"))
        .await
        .unwrap();
    let bob = store.api_key_access("kb").await.unwrap().unwrap();
    assert_eq!(bob.user.state, UserState::Disabled, "{b}");
    assert_eq!(bob.key.state, ApiKeyState::Revoked, "{b}");

    assert_eq!(store.api_key_access("nope").await.unwrap(), None, "{b}");
}
