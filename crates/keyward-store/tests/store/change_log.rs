//! The change log: every write that can change a verification records what it changed, in
//! its own transaction, numbered in commit order; PostgreSQL announces it; the observer
//! runs before the write returns.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use keyward_store::{
    ApiKeyUpdate, ApiSetUpdate, Backend, ChangeObserver, ChangeSignal, Changed, CredentialState,
    NewAccount, NewApiKey, NewApiSet, NewCredential, NewRole, NewSecretVersion, NewUser,
    RoleUpdate, SecretMaterial, SecretRenewal, Store, UserChange, UserState, UserUpdate,
    testing::{TestBackend, TestDatabase},
};

use crate::support::TestDb;

keyward_store::on_every_backend!(
    every_write_that_can_change_a_verification_records_what_it_changed,
    concurrent_writers_never_commit_a_change_behind_one_already_read,
    the_observer_has_run_when_a_write_returns,
    pruning_old_changes_keeps_the_latest,
);

async fn store(backend: TestBackend) -> (Store, TestDatabase) {
    let db = TestDb::migrated(backend).await;
    (db.store, db.database)
}

fn account(id: &str) -> NewAccount {
    NewAccount {
        id: id.to_owned(),
        display_name: id.to_owned(),
        client_id_prefix: format!("{id}-"),
        verified: true,
        operator: false,
        entitled_api_set_ids: Vec::new(),
    }
}

fn key_id(n: u32) -> String {
    format!("{n:020x}")
}

fn api_key(n: u32) -> NewApiKey {
    NewApiKey {
        id: key_id(n),
        account_id: "acme".to_owned(),
        user_id: "alice".to_owned(),
        display_name: "key".to_owned(),
        description: String::new(),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        expire_time: None,
        creator: "tests".to_owned(),
        api_set_ids: vec!["billing".to_owned()],
    }
}

fn secret(n: u32) -> NewSecretVersion {
    NewSecretVersion {
        material: SecretMaterial::Hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        key_id: key_id(n),
    }
}

/// The changes recorded since `cursor` (moved past them).
async fn recorded(store: &Store, cursor: &mut i64) -> Vec<Changed> {
    let changes = store.changes_after(*cursor, 1000).await.unwrap();
    if let Some(last) = changes.last() {
        *cursor = last.seq;
    }
    changes.into_iter().map(|change| change.changed).collect()
}

fn user(id: &str) -> Changed {
    Changed::User {
        account_id: "acme".into(),
        user_id: id.into(),
    }
}

fn key(n: u32) -> Changed {
    Changed::ApiKey {
        account_id: "acme".into(),
        key_id: key_id(n),
    }
}

fn role(id: &str) -> Changed {
    Changed::Role {
        account_id: "acme".into(),
        role_id: id.into(),
    }
}

fn credential(id: &str) -> Changed {
    Changed::Credential {
        account_id: "acme".into(),
        credential_id: id.into(),
    }
}

async fn every_write_that_can_change_a_verification_records_what_it_changed(backend: TestBackend) {
    let (store, _db) = store(backend).await;
    let mut cursor = store.latest_change_seq().await.unwrap();
    assert_eq!(cursor, 0, "a fresh log is empty");
    let b = backend;

    store.create_account(account("acme")).await.unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [Changed::Account {
            account_id: "acme".into()
        }],
        "{b}"
    );
    store
        .set_account_verified("acme", false, None)
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [Changed::Account {
            account_id: "acme".into()
        }],
        "{b}"
    );

    store
        .create_api_set(NewApiSet {
            id: "billing".into(),
            display_name: "Billing".into(),
            description: String::new(),
            methods: vec!["/b.v1.B/Pay".into()],
            builtin: false,
        })
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [Changed::Catalog],
        "{b}"
    );
    store
        .update_api_set(
            "billing",
            ApiSetUpdate {
                methods: Some(vec!["/b.v1.B/Refund".into()]),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [Changed::Catalog],
        "{b}"
    );

    store
        .create_role(NewRole {
            account_id: "acme".into(),
            id: "holders".into(),
            display_name: "Holders".into(),
            description: String::new(),
            authorities: vec!["MANAGE_USER_API_KEY".into()],
            builtin: false,
        })
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [role("holders")],
        "{b}"
    );
    store
        .update_role(
            "acme",
            "holders",
            RoleUpdate {
                authorities: Some(vec![]),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [role("holders")],
        "{b}"
    );

    store
        .create_user(NewUser {
            account_id: "acme".into(),
            id: "alice".into(),
            display_name: "Alice".into(),
            email: "alice@acme.test".into(),
            role_ids: vec!["holders".into()],
        })
        .await
        .unwrap();
    assert_eq!(recorded(&store, &mut cursor).await, [user("alice")], "{b}");
    store.create_api_key(api_key(1)).await.unwrap();
    store.create_api_key(api_key(2)).await.unwrap();
    assert_eq!(recorded(&store, &mut cursor).await, [key(1), key(2)], "{b}");
    store
        .update_api_key(
            &key_id(1),
            ApiKeyUpdate {
                display_name: Some("renamed".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    store.revoke_api_key(&key_id(1), Utc::now()).await.unwrap();
    store.delete_api_key(&key_id(1), None).await.unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [key(1), key(1), key(1)],
        "{b}: update, revoke, delete"
    );
    store
        .update_user(
            "acme",
            "alice",
            UserUpdate {
                role_ids: Some(vec![]),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    store
        .set_user_state("acme", "alice", UserState::Disabled, None)
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [user("alice"), user("alice")],
        "{b}"
    );
    store
        .change_user_keeping_holder("acme", "alice", "admin", UserChange::Delete, None)
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [user("alice"), key(2)],
        "{b}: deleting a user deletes their keys, each a change"
    );
    store.delete_role("acme", "holders", None).await.unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [role("holders")],
        "{b}"
    );

    store
        .create_credential(NewCredential {
            id: "c1".into(),
            account_id: "acme".into(),
            client_id: "acme-one".into(),
            display_name: "One".into(),
            description: String::new(),
            application: "app".into(),
            contact_email: "one@acme.test".into(),
            expire_time: None,
            creator: "tests".into(),
            api_set_ids: vec!["billing".into()],
            first_secret: secret(11),
        })
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [
            credential("c1"),
            Changed::ClientId {
                account_id: "acme".into(),
                client_id: "acme-one".into()
            },
            Changed::SecretKey {
                account_id: "acme".into(),
                key_id: key_id(11)
            },
        ],
        "{b}"
    );
    store
        .set_credential_state("acme", "c1", CredentialState::Disabled, None)
        .await
        .unwrap();
    store
        .set_credential_state("acme", "c1", CredentialState::Disabled, None)
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [credential("c1")],
        "{b}: setting the state it has changes nothing"
    );
    store
        .renew_credential_secret(
            "acme",
            "c1",
            SecretRenewal {
                secret: secret(12),
                grace_until: None,
            },
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [
            credential("c1"),
            Changed::SecretKey {
                account_id: "acme".into(),
                key_id: key_id(12)
            }
        ],
        "{b}"
    );
    store.delete_credential("acme", "c1", None).await.unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [
            credential("c1"),
            Changed::ClientId {
                account_id: "acme".into(),
                client_id: "acme-one".into()
            }
        ],
        "{b}"
    );

    // Bookkeeping is not a change.
    store.delete_api_set("billing").await.unwrap();
    assert_eq!(
        recorded(&store, &mut cursor).await,
        [Changed::Catalog],
        "{b}"
    );
    store
        .append_audit_event(keyward_store::NewAuditEvent {
            count: 1,
            account_id: "acme".into(),
            actor: "tests".into(),
            delegate: None,
            action: "Test".into(),
            resource: "accounts/acme".into(),
            outcome: keyward_store::AuditOutcome::Success,
            detail: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(recorded(&store, &mut cursor).await, [], "{b}");
}

/// Writers commit changes concurrently while a reader follows the log by its last number:
/// the reader must end up with every change, none skipped because a lower number
/// committed after a higher one was read.
async fn concurrent_writers_never_commit_a_change_behind_one_already_read(backend: TestBackend) {
    const WRITERS: u32 = 8;
    const EACH: u32 = 25;
    let (store, db) = store(backend).await;
    store.create_account(account("acme")).await.unwrap();
    let mut cursor = store.latest_change_seq().await.unwrap();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        // Separate pools on PostgreSQL, as separate replicas would have.
        let store = match backend {
            TestBackend::Postgres => Store::connect(db.url()).await.unwrap(),
            TestBackend::Sqlite => store.clone(),
        };
        writers.push(tokio::spawn(async move {
            for n in 0..EACH {
                store
                    .create_role(NewRole {
                        account_id: "acme".into(),
                        id: format!("r{writer}-{n}"),
                        display_name: "r".into(),
                        description: String::new(),
                        authorities: vec![],
                        builtin: false,
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    let mut seen = HashSet::new();
    let expected = usize::try_from(WRITERS * EACH).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < expected && tokio::time::Instant::now() < deadline {
        for changed in recorded(&store, &mut cursor).await {
            assert!(seen.insert(changed.clone()), "{backend}: {changed:?} twice");
        }
        if writers.iter().all(tokio::task::JoinHandle::is_finished) {
            // One last read after every writer committed.
            for changed in recorded(&store, &mut cursor).await {
                assert!(seen.insert(changed.clone()), "{backend}: {changed:?} twice");
            }
            break;
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        seen.len(),
        expected,
        "{backend}: every change was read by following the log"
    );
}

#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
}

impl ChangeObserver for Counting {
    fn changes_committed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
        })
    }
}

async fn the_observer_has_run_when_a_write_returns(backend: TestBackend) {
    let (store, _db) = store(backend).await;
    let observer = Arc::new(Counting::default());
    assert!(store.observe_changes(&observer));
    assert!(
        !store.observe_changes(&Arc::new(Counting::default())),
        "one observer"
    );
    let mut listener = store.change_listener().await.unwrap();
    assert_eq!(
        listener.is_some(),
        store.backend() == Backend::Postgres,
        "PostgreSQL announces changes, SQLite has one writer"
    );

    store.clone().create_account(account("acme")).await.unwrap();
    assert_eq!(observer.calls.load(Ordering::SeqCst), 1, "{backend}");
    store
        .append_audit_event(keyward_store::NewAuditEvent {
            count: 1,
            account_id: "acme".into(),
            actor: "tests".into(),
            delegate: None,
            action: "Test".into(),
            resource: "accounts/acme".into(),
            outcome: keyward_store::AuditOutcome::Success,
            detail: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        observer.calls.load(Ordering::SeqCst),
        1,
        "{backend}: no change, no call"
    );
    if let Some(listener) = &mut listener {
        let heard = tokio::time::timeout(Duration::from_secs(5), listener.next())
            .await
            .expect("announced within 5 s")
            .unwrap();
        assert_eq!(heard, ChangeSignal::Announced);
    }
    drop(observer);
    store.create_account(account("globex")).await.unwrap();
}

async fn pruning_old_changes_keeps_the_latest(backend: TestBackend) {
    let (store, _db) = store(backend).await;
    store.create_account(account("acme")).await.unwrap();
    store.create_account(account("globex")).await.unwrap();
    let latest = store.latest_change_seq().await.unwrap();
    let pruned = store
        .prune_changes(Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(pruned, 1, "{backend}: all but the latest");
    assert_eq!(store.latest_change_seq().await.unwrap(), latest);
    store.create_account(account("initech")).await.unwrap();
    let after = store.changes_after(latest, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].seq > latest, "{backend}: numbers are never reused");
}
