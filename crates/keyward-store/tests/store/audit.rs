//! The audit log: events listed newest first, and the per-account hash chain, unbroken under
//! concurrent writers and added by its migration to events written before it.

use std::collections::HashSet;

use keyward_store::{AuditOutcome, NewAuditEvent, PageRequest, Store, testing::TestBackend};

use crate::support::TestDb;

keyward_store::on_every_backend!(
    audit_events_list_newest_first_per_account_every_event_once,
    fifty_concurrent_writers_leave_one_unbroken_chain_per_account,
    events_written_before_the_chain_are_chained_by_its_migration,
);

fn chain_event(account: &str, n: usize) -> NewAuditEvent {
    NewAuditEvent {
        count: 1,
        account_id: account.to_owned(),
        actor: format!("accounts/{account}/users/w{n}"),
        delegate: None,
        action: "/keyward.v1.ApiKeyService/CreateApiKey".to_owned(),
        resource: format!("accounts/{account}/users/w{n}/apiKeys/k"),
        outcome: AuditOutcome::Success,
        detail: format!("event {n}"),
    }
}

/// `account`'s export, checked: the number of events.
async fn verified_export(store: &Store, account: &str) -> usize {
    let events = store.export_audit_events(account, 0, 10_000).await.unwrap();
    let exported: Vec<_> = events
        .iter()
        .map(|e| keyward_core::audit_chain::ExportedEvent {
            event: e.chained(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        })
        .collect();
    keyward_core::audit_chain::verify(&exported).unwrap_or_else(|broken| panic!("{broken}"));
    events.len()
}

async fn audit_events_list_newest_first_per_account_every_event_once(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let event = |account: &str, n: usize| NewAuditEvent {
        count: 1,
        account_id: account.to_owned(),
        actor: format!("accounts/{account}/users/alice"),
        delegate: None,
        action: "CreateCredential".to_owned(),
        resource: format!("accounts/{account}/credentials/c{n}"),
        outcome: if n.is_multiple_of(3) {
            AuditOutcome::Denied
        } else {
            AuditOutcome::Success
        },
        detail: String::new(),
    };
    let mut appended = Vec::new();
    for n in 0..12 {
        appended.push(store.append_audit_event(event("acme", n)).await.unwrap());
        store.append_audit_event(event("globex", n)).await.unwrap();
    }
    assert!(
        appended.windows(2).all(|w| w[0].id < w[1].id),
        "{b}: ids grow"
    );
    assert!(appended.iter().all(|e| e.count == 1), "{b}");

    let mut seen = Vec::new();
    let mut request = PageRequest::first(5);
    loop {
        let page = store
            .list_audit_events("acme", request.clone())
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next_after {
            Some(before) => request.after = Some(before),
            None => break,
        }
    }
    appended.reverse();
    assert_eq!(seen, appended, "{b}: every event once, newest first");
    let ids: HashSet<i64> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 12, "{b}");

    let empty = store
        .list_audit_events("nobody", PageRequest::first(5))
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next_after.is_none(), "{b}");
}

async fn fifty_concurrent_writers_leave_one_unbroken_chain_per_account(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let replica = db.replica().await;
    let writers: Vec<_> = (0..50)
        .map(|n| {
            // Half through another replica's pool: two servers writing one account.
            let store = if n % 2 == 0 {
                store.clone()
            } else {
                replica.clone()
            };
            tokio::spawn(async move {
                store
                    .append_audit_event(chain_event("acme", n))
                    .await
                    .unwrap();
                store
                    .append_audit_event(chain_event("globex", n))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(verified_export(store, "acme").await, 50, "{b}");
    assert_eq!(verified_export(store, "globex").await, 50, "{b}");
    let sequences: Vec<i64> = store
        .export_audit_events("acme", 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(sequences, (1..=50).collect::<Vec<_>>(), "{b}");
    // Pages of an export follow the sequence.
    let page = store.export_audit_events("acme", 20, 5).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [21, 22, 23, 24, 25],
        "{b}"
    );
}

async fn events_written_before_the_chain_are_chained_by_its_migration(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    for n in 0..5 {
        store
            .append_audit_event(chain_event("acme", n))
            .await
            .unwrap();
    }
    for n in 0..3 {
        store
            .append_audit_event(chain_event("globex", n))
            .await
            .unwrap();
    }
    // Back before the chain (its columns and heads gone), and up again.
    store.migrate_down(Some(1)).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(verified_export(store, "acme").await, 5, "{b}");
    assert_eq!(verified_export(store, "globex").await, 3, "{b}");
    let next = store
        .append_audit_event(chain_event("acme", 5))
        .await
        .unwrap();
    assert_eq!(next.sequence, 6, "{b}: appending continues the chain");
    assert_eq!(verified_export(store, "acme").await, 6, "{b}");
}
