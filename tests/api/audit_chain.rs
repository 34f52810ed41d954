//! The audit log's hash chain through the API: 50 concurrent writers (creating users) in
//! one account, on two replicas with PostgreSQL, leave one unbroken chain, which an export
//! proves.

use keyward_client::NewApiKey;
use keyward_client::proto as pb;

use crate::delegation::acme;
use crate::helpers::{Backend, spawn_app};

on_every_backend!(fifty_concurrent_writers_in_one_account_leave_one_unbroken_chain);

async fn fifty_concurrent_writers_in_one_account_leave_one_unbroken_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    let replica = if backend == Backend::Postgres {
        Some(app.spawn_replica().await)
    } else {
        None
    };
    let alice_key = alice
        .create_api_key(NewApiKey::new("writer", ["apiSets/keyward.accounts"]))
        .await
        .expect("a key");
    let key = secrecy::ExposeSecret::expose_secret(&alice_key.key).to_owned();
    let here = app.client_with_key(&key).await;
    let there = match &replica {
        Some(replica) => replica.client_with_key(&key).await,
        None => here.clone(),
    };
    let before = alice
        .export_audit_events("accounts/acme")
        .await
        .expect("export")
        .len();
    let writers: Vec<_> = (0..50)
        .map(|n| {
            let client = if n % 2 == 0 {
                here.clone()
            } else {
                there.clone()
            };
            tokio::spawn(async move {
                client
                    .accounts()
                    .create_user(pb::CreateUserRequest {
                        parent: "accounts/acme".into(),
                        user: Some(pb::User {
                            display_name: format!("Writer {n}"),
                            email: format!("w{n}@acme.example"),
                            ..Default::default()
                        }),
                        user_id: format!("w{n}"),
                        request_id: String::new(),
                    })
                    .await
                    .expect("a user")
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let events = alice
        .export_audit_events("accounts/acme")
        .await
        .expect("export");
    assert_eq!(events.len(), before + 50);
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    let expected: Vec<i64> = (1..=i64::try_from(events.len()).expect("small")).collect();
    assert_eq!(sequences, expected, "one chain, no gap, no fork");
    let exported: Vec<_> = events.iter().map(keyward_client::audit::exported).collect();
    let head = keyward_client::audit::verify(&exported).unwrap_or_else(|broken| panic!("{broken}"));
    assert_eq!(head, events.last().expect("events").hash);
}
