//! Accounts: created and read back, unique ids and client-ID prefixes, verification and
//! updates under revisions, listing, and an account created with its initial contents (a
//! seed) in one transaction.

use keyward_store::{
    AccountUpdate, ApiKeyState, NewAccount, NewUser, PageRequest, StoreError, testing::TestBackend,
};

use crate::support::{
    TestDb, assert_already_exists, assert_conflict, assert_foreign_key, assert_not_found,
    new_account, new_user, operator_seed, seed,
};

keyward_store::on_every_backend!(
    an_account_reads_back_as_created,
    account_ids_and_client_id_prefixes_are_unique,
    verifying_an_account_bumps_its_revision_and_honours_the_expected_one,
    listing_accounts_returns_every_row_once_in_id_order,
    an_account_seed_is_created_in_one_transaction_and_reads_back,
    a_failing_seed_leaves_nothing_behind,
    a_seed_item_of_another_account_is_refused_before_anything_is_written,
    two_replicas_bootstrapping_at_once_leave_one_operator_account,
    updating_an_account_honours_the_expected_revision,
);

async fn an_account_reads_back_as_created(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let created = store
        .create_account(NewAccount {
            operator: true,
            entitled_api_set_ids: Vec::new(),
            verified: true,
            ..new_account("ops", "ops-")
        })
        .await
        .unwrap();
    assert_eq!(created.revision, 1, "{b}");
    assert!(created.operator && created.verified, "{b}");
    assert_eq!(created.create_time, created.update_time, "{b}");
    assert_eq!(store.get_account("ops").await.unwrap(), created, "{b}");

    let missing = store.get_account("nobody").await;
    assert!(
        matches!(&missing, Err(StoreError::NotFound { entity: "account", id }) if id == "nobody"),
        "{b}: {missing:?}"
    );
}

async fn account_ids_and_client_id_prefixes_are_unique(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    store
        .create_account(new_account("acme", "acme-"))
        .await
        .unwrap();
    assert_already_exists(
        b,
        store.create_account(new_account("globex", "acme-")).await,
        "account",
        "account client id prefix",
    );
    assert_already_exists(
        b,
        store.create_account(new_account("acme", "other-")).await,
        "account",
        "account id",
    );
}

async fn verifying_an_account_bumps_its_revision_and_honours_the_expected_one(
    backend: TestBackend,
) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let created = store
        .create_account(new_account("acme", "acme-"))
        .await
        .unwrap();
    assert!(!created.verified, "{b}");

    let verified = store
        .set_account_verified("acme", true, Some(1))
        .await
        .unwrap();
    assert!(verified.verified, "{b}");
    assert_eq!(verified.revision, 2, "{b}");
    assert!(verified.update_time >= created.update_time, "{b}");
    assert_eq!(store.get_account("acme").await.unwrap(), verified, "{b}");

    let stale = store.set_account_verified("acme", false, Some(1)).await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{b}: {stale:?}");
    assert!(store.get_account("acme").await.unwrap().verified, "{b}");

    let unconditional = store
        .set_account_verified("acme", false, None)
        .await
        .unwrap();
    assert_eq!(unconditional.revision, 3, "{b}");
    assert!(!unconditional.verified, "{b}");

    let missing = store.set_account_verified("nobody", true, Some(1)).await;
    assert!(
        matches!(
            missing,
            Err(StoreError::NotFound {
                entity: "account",
                ..
            })
        ),
        "{b}: {missing:?}"
    );
}

async fn listing_accounts_returns_every_row_once_in_id_order(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let mut expected = Vec::new();
    // Created out of order, listed in order.
    for i in (0..23).rev() {
        let id = format!("acct-{i:03}");
        store
            .create_account(new_account(&id, &format!("p{i}-")))
            .await
            .unwrap();
        expected.push(id);
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut request = PageRequest::first(5);
    let mut pages = 0;
    loop {
        let page = store.list_accounts(request.clone()).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 5, "{b}");
        seen.extend(page.items.into_iter().map(|a| a.id));
        match page.next_after {
            Some(after) => request.after = Some(after),
            None => break,
        }
    }
    assert_eq!(seen, expected, "{b}: every account once, in order");
    assert_eq!(pages, 5, "{b}: 23 accounts in pages of 5");

    // A page size of 0 still makes progress; an exact fit has no empty last page.
    let one = store.list_accounts(PageRequest::first(0)).await.unwrap();
    assert_eq!(one.items.len(), 1, "{b}");
    let all = store.list_accounts(PageRequest::first(23)).await.unwrap();
    assert_eq!(all.items.len(), 23, "{b}");
    assert_eq!(all.next_after, None, "{b}");
}

async fn an_account_seed_is_created_in_one_transaction_and_reads_back(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    assert_eq!(store.operator_account().await.unwrap(), None, "{b}");

    let created = store
        .create_account_with(operator_seed("ops"))
        .await
        .unwrap();
    assert!(created.account.operator && created.account.verified, "{b}");
    assert_eq!(created.account.revision, 1, "{b}");
    assert_eq!(
        store.get_account("ops").await.unwrap(),
        created.account,
        "{b}"
    );
    assert_eq!(
        store.operator_account().await.unwrap().as_ref(),
        Some(&created.account),
        "{b}"
    );

    assert_eq!(created.roles.len(), 1, "{b}");
    assert!(created.roles[0].builtin, "{b}");
    assert_eq!(
        store.get_role("ops", "administrator").await.unwrap(),
        created.roles[0],
        "{b}"
    );
    assert_eq!(created.users[0].role_ids, ["administrator"], "{b}");
    assert_eq!(
        store.get_user("ops", "admin").await.unwrap(),
        created.users[0],
        "{b}"
    );
    assert_eq!(created.api_keys[0].api_set_ids, ["keyward.verify"], "{b}");
    assert_eq!(created.api_keys[0].state, ApiKeyState::Active, "{b}");
    assert_eq!(
        store.get_api_key("ops-key").await.unwrap(),
        created.api_keys[0],
        "{b}"
    );

    // A second bootstrap finds the operator account taken, whatever its id (with the
    // same id, several rules are broken at once; the backends report different ones).
    let again = store.create_account_with(operator_seed("ops")).await;
    assert!(
        matches!(
            &again,
            Err(StoreError::AlreadyExists { entity: "account", constraint })
                if constraint == "operator account" || constraint == "account id"
        ),
        "{b}: {again:?}"
    );
    assert_already_exists(
        b,
        store.create_account_with(operator_seed("ops2")).await,
        "account",
        "operator account",
    );
    assert_not_found(b, store.get_user("ops2", "admin").await, "user", "admin");
    assert_not_found(
        b,
        store.get_api_key("ops2-key").await,
        "api key",
        "ops2-key",
    );

    // `create_account` keeps working, for accounts without contents.
    let plain = store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    assert_eq!(store.get_account("globex").await.unwrap(), plain, "{b}");
    assert!(
        store
            .list_roles("globex", PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty(),
        "{b}"
    );
}

async fn a_failing_seed_leaves_nothing_behind(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;

    // The last write of the seed fails: the key names an unknown API set.
    let mut broken = operator_seed("ops");
    broken.api_keys[0].api_set_ids.push("nope".to_owned());
    assert_foreign_key(
        b,
        store.create_account_with(broken).await,
        "api set",
        "`nope`",
    );
    // A user holds a role the seed does not create.
    let mut broken = operator_seed("ops");
    broken.users[0].role_ids = vec!["auditor".to_owned()];
    assert_foreign_key(
        b,
        store.create_account_with(broken).await,
        "role",
        "`auditor`",
    );
    // Two users with the same email, case aside.
    let mut broken = operator_seed("ops");
    broken.users.push(NewUser {
        email: "ADMIN@ops.test".to_owned(),
        ..new_user("ops", "admin2", &[])
    });
    assert_already_exists(
        b,
        store.create_account_with(broken).await,
        "user",
        "user email",
    );

    assert_not_found(b, store.get_account("ops").await, "account", "ops");
    assert_eq!(store.operator_account().await.unwrap(), None, "{b}");
    assert_not_found(
        b,
        store.get_role("ops", "administrator").await,
        "role",
        "administrator",
    );
    assert_not_found(b, store.get_user("ops", "admin").await, "user", "admin");
    assert_not_found(b, store.get_api_key("ops-key").await, "api key", "ops-key");

    // Nothing holds an id, prefix or email: the same seed now goes through.
    store
        .create_account_with(operator_seed("ops"))
        .await
        .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));
}

async fn a_seed_item_of_another_account_is_refused_before_anything_is_written(
    backend: TestBackend,
) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    let mut stray = operator_seed("ops");
    stray.api_keys[0].account_id = "acme".to_owned();
    assert_foreign_key(
        b,
        store.create_account_with(stray).await,
        "account",
        "api key `ops-key` names account `acme`",
    );
    assert_not_found(b, store.get_account("ops").await, "account", "ops");
}

async fn two_replicas_bootstrapping_at_once_leave_one_operator_account(backend: TestBackend) {
    // Different ids: the operator index decides; the same id: the primary key does.
    for same_id in [false, true] {
        let db = TestDb::migrated(backend).await;
        let b = db.name;
        seed(&db.store).await;
        let (one, two) = (db.replica().await, db.replica().await);
        let mut other = operator_seed(if same_id { "ops" } else { "ops2" });
        other.account.client_id_prefix = "other-".to_owned();
        other.api_keys[0].id = "other-key".to_owned();

        let (first, second) = tokio::join!(
            one.create_account_with(operator_seed("ops")),
            two.create_account_with(other.clone()),
        );
        let (winner, loser, lost) = match (first, second) {
            (Ok(won), Err(lost)) => (won, other, lost),
            (Err(lost), Ok(won)) => (won, operator_seed("ops"), lost),
            other => panic!("{b}: exactly one bootstrap wins: {other:?}"),
        };
        assert!(
            matches!(
                &lost,
                StoreError::AlreadyExists { entity: "account", constraint }
                    if constraint == "operator account" || constraint == "account id"
            ),
            "{b}: {lost:?}"
        );
        assert_eq!(
            db.store.operator_account().await.unwrap().as_ref(),
            Some(&winner.account),
            "{b}"
        );
        let loser_key = &loser.api_keys[0].id;
        assert_not_found(
            b,
            db.store.get_api_key(loser_key).await,
            "api key",
            loser_key,
        );
        if !same_id {
            let loser_id = &loser.account.id;
            assert_not_found(b, db.store.get_account(loser_id).await, "account", loser_id);
            assert_not_found(
                b,
                db.store.get_user(loser_id, "admin").await,
                "user",
                "admin",
            );
        }
    }
}

async fn updating_an_account_honours_the_expected_revision(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let created = store
        .create_account(new_account("acme", "acme-"))
        .await
        .unwrap();
    let rename = |name: &str| AccountUpdate {
        display_name: Some(name.to_owned()),
        ..AccountUpdate::default()
    };

    let renamed = store
        .update_account("acme", rename("Acme Corp"), Some(1))
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Acme Corp", "{b}");
    assert_eq!(renamed.revision, 2, "{b}");
    assert_eq!(renamed.client_id_prefix, created.client_id_prefix, "{b}");
    assert_eq!(renamed.create_time, created.create_time, "{b}");
    assert_eq!(store.get_account("acme").await.unwrap(), renamed, "{b}");

    assert_conflict(
        b,
        store.update_account("acme", rename("Stale"), Some(1)).await,
    );
    assert_eq!(
        store.get_account("acme").await.unwrap().display_name,
        "Acme Corp",
        "{b}"
    );
    // Nothing to change still makes a new revision (the caller asked for an update).
    let untouched = store
        .update_account("acme", AccountUpdate::default(), None)
        .await
        .unwrap();
    assert_eq!(untouched.display_name, "Acme Corp", "{b}");
    assert_eq!(untouched.revision, 3, "{b}");
    assert_not_found(
        b,
        store.update_account("nobody", rename("x"), Some(1)).await,
        "account",
        "nobody",
    );
    assert_not_found(
        b,
        store.update_account("nobody", rename("x"), None).await,
        "account",
        "nobody",
    );
}
