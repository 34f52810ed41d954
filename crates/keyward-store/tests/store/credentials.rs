//! Credentials: created with their API sets and first secret, unique by contact email, client
//! ID and ID, renewed with at most two live secret versions, resealed under a new master key,
//! updated, switched, listed and deleted; HMAC nonces claimed once.

use chrono::{DateTime, Utc};
use keyward_store::{
    CredentialScheme, CredentialState, NewCredential, NewSecretVersion, PageRequest,
    SecretMaterial, SecretRenewal, StoreError, testing::TestBackend,
};

use crate::support::{
    TestDb, assert_already_exists, basic_secret, new_account, new_api_set, new_credential, seed,
};

keyward_store::on_every_backend!(
    a_credential_reads_back_with_its_api_sets_and_first_secret,
    one_credential_per_contact_email_per_account_case_insensitively,
    client_ids_and_credential_ids_are_globally_unique,
    a_credential_naming_an_unknown_api_set_leaves_nothing_behind,
    secrets_sealed_under_an_old_master_key_are_found_in_order_and_resealed_once,
    renewing_keeps_at_most_two_live_versions_and_honours_the_grace_period,
    concurrent_renewals_leave_exactly_one_current_version,
    credentials_are_updated_switched_listed_and_deleted,
    an_hmac_nonce_is_claimed_once_until_it_expires,
);

fn hash_secret(n: u8) -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Hash(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$h{n}")),
        key_id: format!("{n:020}"),
    }
}

fn live_versions(secrets: &[keyward_store::CredentialSecret], now: DateTime<Utc>) -> Vec<i32> {
    secrets
        .iter()
        .filter(|s| s.is_live(now))
        .map(|s| s.version)
        .collect()
}

fn sealed_secret(n: u8, master_key_id: &str) -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Sealed {
            ciphertext: vec![n; 48],
            master_key_id: master_key_id.to_owned(),
        },
        key_id: format!("{n:020}"),
    }
}

async fn a_credential_reads_back_with_its_api_sets_and_first_secret(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store
        .create_api_set(new_api_set("keyward.credentials"))
        .await
        .unwrap();

    let created = store
        .create_credential(new_credential(
            "acme",
            "c1",
            "Ops@Acme.test",
            &["keyward.verify", "keyward.credentials", "keyward.verify"],
        ))
        .await
        .unwrap();
    assert_eq!(created.scheme, CredentialScheme::Basic, "{b}");
    assert_eq!(created.state, CredentialState::Active, "{b}");
    assert_eq!(created.revision, 1, "{b}");
    assert_eq!(
        created.api_set_ids,
        ["keyward.credentials", "keyward.verify"],
        "{b}"
    );
    assert_eq!(
        store.get_credential("acme", "c1").await.unwrap(),
        created,
        "{b}"
    );
    assert_eq!(
        store.get_credential_by_client_id("acme-c1").await.unwrap(),
        created,
        "{b}"
    );
    let secrets = store.list_credential_secrets("c1").await.unwrap();
    assert_eq!(secrets.len(), 1, "{b}");
    assert_eq!(secrets[0].version, 1, "{b}");
    assert_eq!(secrets[0].material, basic_secret().material, "{b}");
    assert_eq!(secrets[0].expire_time, None, "{b}");

    // HMAC: the sealed secret round-trips as bytes.
    let expire_time = created.create_time + chrono::Duration::days(90);
    let sealed = SecretMaterial::Sealed {
        ciphertext: vec![0, 1, 2, 254, 255],
        master_key_id: "mk-2026".to_owned(),
    };
    let hmac = store
        .create_credential(NewCredential {
            expire_time: Some(expire_time),
            first_secret: NewSecretVersion {
                material: sealed.clone(),
                key_id: "00000000000000000002".to_owned(),
            },
            ..new_credential("acme", "c2", "hmac@acme.test", &["keyward.verify"])
        })
        .await
        .unwrap();
    assert_eq!(hmac.scheme, CredentialScheme::Hmac, "{b}");
    assert_eq!(hmac.expire_time, Some(expire_time), "{b}");
    assert_eq!(
        store.get_credential("acme", "c2").await.unwrap(),
        hmac,
        "{b}"
    );
    let secrets = store.list_credential_secrets("c2").await.unwrap();
    assert_eq!(secrets[0].material, sealed, "{b}");
    assert!(
        !format!("{:?}", secrets[0]).contains("254"),
        "{b}: Debug redacts"
    );

    // Another account cannot read it by id.
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    let hidden = store.get_credential("globex", "c1").await;
    assert!(
        matches!(
            hidden,
            Err(StoreError::NotFound {
                entity: "credential",
                ..
            })
        ),
        "{b}: {hidden:?}"
    );
}

async fn one_credential_per_contact_email_per_account_case_insensitively(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    store
        .create_credential(new_credential(
            "acme",
            "c1",
            "Ops@x.com",
            &["keyward.verify"],
        ))
        .await
        .unwrap();

    assert_already_exists(
        b,
        store
            .create_credential(new_credential(
                "acme",
                "c2",
                "ops@X.COM",
                &["keyward.verify"],
            ))
            .await,
        "credential",
        "credential contact email",
    );
    store
        .create_credential(new_credential(
            "globex",
            "c3",
            "ops@X.COM",
            &["keyward.verify"],
        ))
        .await
        .unwrap_or_else(|e| panic!("{b}: same email in another account: {e:?}"));
    let refused = store.get_credential("acme", "c2").await;
    assert!(
        matches!(refused, Err(StoreError::NotFound { .. })),
        "{b}: {refused:?}"
    );
}

async fn client_ids_and_credential_ids_are_globally_unique(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store
        .create_account(new_account("globex", "globex-"))
        .await
        .unwrap();
    store
        .create_credential(new_credential("acme", "c1", "a@acme.test", &[]))
        .await
        .unwrap();

    assert_already_exists(
        b,
        store
            .create_credential(NewCredential {
                client_id: "acme-c1".to_owned(),
                ..new_credential("globex", "c2", "b@globex.test", &[])
            })
            .await,
        "credential",
        "credential client id",
    );
    assert_already_exists(
        b,
        store
            .create_credential(new_credential("globex", "c1", "c@globex.test", &[]))
            .await,
        "credential",
        "credential id",
    );
}

async fn a_credential_naming_an_unknown_api_set_leaves_nothing_behind(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    let new = new_credential("acme", "c1", "ops@acme.test", &["keyward.verify", "nope"]);

    let refused = store.create_credential(new.clone()).await;
    assert!(
        matches!(&refused, Err(StoreError::ForeignKey { entity: "api set", detail }) if detail.contains("`nope`")),
        "{b}: {refused:?}"
    );
    let by_id = store.get_credential("acme", "c1").await;
    assert!(
        matches!(by_id, Err(StoreError::NotFound { .. })),
        "{b}: {by_id:?}"
    );
    let by_client_id = store.get_credential_by_client_id("acme-c1").await;
    assert!(
        matches!(by_client_id, Err(StoreError::NotFound { .. })),
        "{b}: {by_client_id:?}"
    );
    assert!(
        store
            .list_credential_secrets("c1")
            .await
            .unwrap()
            .is_empty(),
        "{b}: no secret left behind"
    );
    // Nothing holds the id, client ID or email: the same credential now goes through.
    store
        .create_credential(NewCredential {
            api_set_ids: vec!["keyward.verify".to_owned()],
            ..new
        })
        .await
        .unwrap_or_else(|e| panic!("{b}: retry: {e:?}"));

    let unknown_account = store
        .create_credential(new_credential("nobody", "c9", "x@acme.test", &[]))
        .await;
    assert!(
        matches!(
            &unknown_account,
            Err(StoreError::ForeignKey {
                entity: "account",
                ..
            })
        ),
        "{b}: {unknown_account:?}"
    );
}

async fn secrets_sealed_under_an_old_master_key_are_found_in_order_and_resealed_once(
    backend: TestBackend,
) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    let now = Utc::now();
    for id in ["c1", "c2"] {
        let mut credential =
            new_credential("acme", id, &format!("{id}@acme.test"), &["keyward.verify"]);
        credential.first_secret = sealed_secret(1, "mk-old");
        store.create_credential(credential).await.unwrap();
    }
    store
        .renew_credential_secret(
            "acme",
            "c1",
            SecretRenewal {
                secret: sealed_secret(2, "mk-new"),
                grace_until: Some(now + chrono::Duration::hours(1)),
            },
            None,
            now,
        )
        .await
        .unwrap();
    let found = |after: Option<(&'static str, i32)>| async move {
        store
            .secrets_sealed_under_other_keys("mk-new", after, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.credential_id, s.version))
            .collect::<Vec<_>>()
    };
    let c = |id: &str, v: i32| (id.to_owned(), v);
    assert_eq!(found(None).await, [c("c1", 1), c("c2", 1)], "{b}");
    assert_eq!(found(Some(("c1", 1))).await, [c("c2", 1)], "{b}");
    assert_eq!(
        store
            .secrets_sealed_under_other_keys("mk-new", None, 1)
            .await
            .unwrap()
            .len(),
        1,
        "{b}: the limit holds"
    );
    // A basic secret is never listed: it is hashed, not sealed.
    let mut basic = new_credential("acme", "c3", "c3@acme.test", &["keyward.verify"]);
    basic.first_secret = basic_secret();
    store.create_credential(basic).await.unwrap();

    // Replaced only while still sealed as read.
    assert!(
        !store
            .reseal_secret("c9", 1, "mk-old", vec![9; 48], "mk-new")
            .await
            .unwrap(),
        "{b}: no such secret"
    );
    assert!(
        store
            .reseal_secret("c1", 1, "mk-old", vec![9; 48], "mk-new")
            .await
            .unwrap(),
        "{b}"
    );
    assert!(
        !store
            .reseal_secret("c1", 1, "mk-old", vec![8; 48], "mk-new")
            .await
            .unwrap(),
        "{b}: already re-sealed"
    );
    assert_eq!(found(None).await, [c("c2", 1)], "{b}");
    let secrets = store
        .credential_secrets_of(&["c1".to_owned()])
        .await
        .unwrap();
    let v1 = secrets["c1"].iter().find(|s| s.version == 1).unwrap();
    assert_eq!(
        v1.material,
        SecretMaterial::Sealed {
            ciphertext: vec![9; 48],
            master_key_id: "mk-new".to_owned()
        },
        "{b}"
    );
    assert_eq!(v1.key_id.as_deref(), Some("00000000000000000001"), "{b}");
}

async fn renewing_keeps_at_most_two_live_versions_and_honours_the_grace_period(
    backend: TestBackend,
) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store
        .create_credential(new_credential(
            "acme",
            "c1",
            "a@acme.test",
            &["keyward.verify"],
        ))
        .await
        .unwrap();
    let now = Utc::now();
    let renewal = |n: u8, grace: Option<chrono::Duration>| keyward_store::SecretRenewal {
        secret: hash_secret(n),
        grace_until: grace.map(|g| now + g),
    };

    // Without a grace period the old version is gone at once.
    let renewed = store
        .renew_credential_secret("acme", "c1", renewal(2, None), None, now)
        .await
        .unwrap();
    assert_eq!(renewed.credential.revision, 2, "{b}");
    assert_eq!(renewed.version, 2, "{b}");
    assert_eq!(
        renewed.secrets,
        store.list_credential_secrets("c1").await.unwrap(),
        "{b}"
    );
    let secrets = store.list_credential_secrets("c1").await.unwrap();
    assert_eq!(live_versions(&secrets, now), [2], "{b}");
    assert_eq!(secrets.len(), 1, "{b}: the replaced version is deleted");
    assert_eq!(
        secrets[0].key_id.as_deref(),
        Some("00000000000000000002"),
        "{b}"
    );

    // With one, the previous version verifies until it ends.
    store
        .renew_credential_secret(
            "acme",
            "c1",
            renewal(3, Some(chrono::Duration::hours(1))),
            None,
            now,
        )
        .await
        .unwrap();
    let secrets = store.list_credential_secrets("c1").await.unwrap();
    assert_eq!(live_versions(&secrets, now), [3, 2], "{b}");
    assert_eq!(
        secrets[1].expire_time.map(|t| t.timestamp()),
        Some((now + chrono::Duration::hours(1)).timestamp()),
        "{b}"
    );
    assert_eq!(
        live_versions(&secrets, now + chrono::Duration::hours(2)),
        [3],
        "{b}: after the grace period only the current one"
    );

    // A renewal during a grace period ends the older version: never three.
    store
        .renew_credential_secret(
            "acme",
            "c1",
            renewal(4, Some(chrono::Duration::hours(1))),
            None,
            now,
        )
        .await
        .unwrap();
    let secrets = store.list_credential_secrets("c1").await.unwrap();
    assert_eq!(live_versions(&secrets, now), [4, 3], "{b}");
    assert_eq!(secrets.len(), 2, "{b}");

    // A stale revision is a conflict; another account's credential is not found.
    assert!(
        matches!(
            store
                .renew_credential_secret("acme", "c1", renewal(5, None), Some(1), now)
                .await,
            Err(StoreError::Conflict)
        ),
        "{b}"
    );
    assert!(
        matches!(
            store
                .renew_credential_secret("globex", "c1", renewal(5, None), None, now)
                .await,
            Err(StoreError::NotFound { .. })
        ),
        "{b}"
    );
    assert_eq!(
        live_versions(&store.list_credential_secrets("c1").await.unwrap(), now),
        [4, 3],
        "{b}: failed renewals change nothing"
    );
}

async fn concurrent_renewals_leave_exactly_one_current_version(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let b = db.name;
    seed(&db.store).await;
    db.store
        .create_credential(new_credential(
            "acme",
            "c1",
            "a@acme.test",
            &["keyward.verify"],
        ))
        .await
        .unwrap();
    let now = Utc::now();
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let store = db.replica().await;
        tasks.push(tokio::spawn(async move {
            let renewal = keyward_store::SecretRenewal {
                secret: hash_secret(10 + n),
                grace_until: (n % 2 == 0).then(|| now + chrono::Duration::hours(1)),
            };
            store
                .renew_credential_secret("acme", "c1", renewal, None, now)
                .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(other) => panic!("{b}: {other:?}"),
        }
    }
    assert!(ok >= 1, "{b}");
    let secrets = db.store.list_credential_secrets("c1").await.unwrap();
    let current: Vec<_> = secrets.iter().filter(|s| s.expire_time.is_none()).collect();
    assert_eq!(current.len(), 1, "{b}: {secrets:?}");
    assert_eq!(
        current[0].version,
        1 + ok,
        "{b}: versions count the renewals"
    );
    assert!(live_versions(&secrets, now).len() <= 2, "{b}");
    let credential = db.store.get_credential("acme", "c1").await.unwrap();
    assert_eq!(credential.revision, 1 + i64::from(ok), "{b}");
}

async fn credentials_are_updated_switched_listed_and_deleted(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed(store).await;
    store.create_api_set(new_api_set("billing")).await.unwrap();
    for (id, email) in [
        ("c1", "one@acme.test"),
        ("c2", "two@acme.test"),
        ("c3", "three@acme.test"),
    ] {
        store
            .create_credential(new_credential("acme", id, email, &["keyward.verify"]))
            .await
            .unwrap();
    }

    let updated = store
        .update_credential(
            "acme",
            "c1",
            keyward_store::CredentialUpdate {
                display_name: Some("Renamed".to_owned()),
                api_set_ids: Some(vec!["billing".to_owned(), "keyward.verify".to_owned()]),
                ..Default::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Renamed", "{b}");
    assert_eq!(updated.application, "billing", "{b}: untouched");
    assert_eq!(updated.api_set_ids, ["billing", "keyward.verify"], "{b}");
    assert_eq!(updated.revision, 2, "{b}");
    let stale = store
        .update_credential("acme", "c1", Default::default(), Some(1))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{b}: {stale:?}");
    let unknown_set = store
        .update_credential(
            "acme",
            "c1",
            keyward_store::CredentialUpdate {
                api_set_ids: Some(vec!["ghost".to_owned()]),
                ..Default::default()
            },
            None,
        )
        .await;
    assert!(
        matches!(unknown_set, Err(StoreError::ForeignKey { .. })),
        "{b}: {unknown_set:?}"
    );
    assert_eq!(
        store.get_credential("acme", "c1").await.unwrap(),
        updated,
        "{b}: a failed update changes nothing"
    );

    let disabled = store
        .set_credential_state("acme", "c2", CredentialState::Disabled, Some(1))
        .await
        .unwrap();
    assert_eq!(disabled.state, CredentialState::Disabled, "{b}");
    assert_eq!(disabled.revision, 2, "{b}");
    let again = store
        .set_credential_state("acme", "c2", CredentialState::Disabled, None)
        .await
        .unwrap();
    assert_eq!(again, disabled, "{b}: idempotent");

    let active = store
        .list_credentials(
            "acme",
            Some(CredentialState::Active),
            None,
            PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    let ids: Vec<_> = active.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c1", "c3"], "{b}");
    let first = store
        .list_credentials(
            "acme",
            None,
            Some(CredentialScheme::Basic),
            PageRequest {
                after: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2, "{b}");
    let rest = store
        .list_credentials(
            "acme",
            None,
            None,
            PageRequest {
                after: first.next_after.clone(),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1, "{b}");
    assert_eq!(rest.next_after, None, "{b}");
    let hmac = store
        .list_credentials(
            "acme",
            None,
            Some(CredentialScheme::Hmac),
            PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(hmac.items.is_empty(), "{b}");

    assert!(
        matches!(
            store.delete_credential("acme", "c3", Some(7)).await,
            Err(StoreError::Conflict)
        ),
        "{b}"
    );
    store
        .delete_credential("acme", "c3", Some(1))
        .await
        .unwrap();
    assert!(
        matches!(
            store.delete_credential("acme", "c3", None).await,
            Err(StoreError::NotFound { .. })
        ),
        "{b}"
    );
    assert!(
        store
            .list_credential_secrets("c3")
            .await
            .unwrap()
            .is_empty(),
        "{b}"
    );
    let secrets = store
        .credential_secrets_of(&["c1".to_owned(), "c2".to_owned(), "c3".to_owned()])
        .await
        .unwrap();
    assert_eq!(secrets.len(), 2, "{b}");
}

async fn an_hmac_nonce_is_claimed_once_until_it_expires(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let b = db.name;
    seed(&db.store).await;
    db.store
        .create_credential(new_credential(
            "acme",
            "c1",
            "a@acme.test",
            &["keyward.verify"],
        ))
        .await
        .unwrap();
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(300);

    let mut tasks = Vec::new();
    for _ in 0..24 {
        let store = db.replica().await;
        tasks.push(tokio::spawn(async move {
            store
                .claim_hmac_nonce("c1", "nonce-0123456789ab", until, now)
                .await
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1, "{b}: exactly one claim wins");
    assert!(
        !db.store
            .claim_hmac_nonce("c1", "nonce-0123456789ab", until, now)
            .await
            .unwrap(),
        "{b}"
    );
    // After it expired the nonce can be claimed again.
    let later = until + chrono::Duration::seconds(1);
    assert!(
        db.store
            .claim_hmac_nonce(
                "c1",
                "nonce-0123456789ab",
                later + chrono::Duration::seconds(300),
                later
            )
            .await
            .unwrap(),
        "{b}"
    );
    assert!(
        db.store
            .claim_hmac_nonce("c1", "another-nonce-0123", until, now)
            .await
            .unwrap(),
        "{b}"
    );
    assert_eq!(
        db.store.purge_expired_hmac_nonces(until).await.unwrap(),
        1,
        "{b}: only the expired claim is purged"
    );
}
