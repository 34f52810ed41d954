//! Crashes: the built server binary is killed with SIGKILL while concurrent creates and
//! renewals are in flight, restarted on the same database, and every secret it
//! acknowledged must verify, with nothing half-written. Twice per backend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_client::proto as pb;

use crate::helpers::{Backend, TestDatabase, binary_client as client, create_acme, start_binary};

on_every_backend!(acknowledged_secrets_survive_sigkill_during_creates_and_renewals);

/// What the server acknowledged: credentials with the newest secret it handed over, and
/// API keys.
#[derive(Default)]
struct Acknowledged {
    credentials: Vec<(String, String, String)>,
    keys: Vec<String>,
}

async fn acknowledged_secrets_survive_sigkill_during_creates_and_renewals(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let dir = tempfile::tempdir().expect("a scratch directory");
    let url = database.url().to_owned();

    let (mut server, mut address) = start_binary(dir.path(), &url, &[]).await;
    let operator_key = std::fs::read_to_string(dir.path().join("operator.key"))
        .expect("the bootstrap key file")
        .trim()
        .to_owned();
    let operator = client(&address, &operator_key).await;
    let alice_key = create_acme(&operator).await;

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    for cycle in 0..2 {
        let alice = client(&address, &alice_key).await;
        let workers: Vec<_> = (0..12)
            .map(|worker| {
                let (alice, acknowledged) = (alice.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    for round in 0.. {
                        let tag = format!("c{cycle}w{worker}r{round}");
                        if worker % 3 == 0 {
                            let Ok(made) = alice
                                .create_api_key(keyward_client::NewApiKey::new(
                                    tag.clone(),
                                    ["apiSets/keyward.verify"],
                                ))
                                .await
                            else {
                                return;
                            };
                            let key = secrecy::ExposeSecret::expose_secret(&made.key).to_owned();
                            acknowledged.lock().expect("lock").keys.push(key);
                            continue;
                        }
                        let Ok(made) = alice
                            .credentials()
                            .create_credential(pb::CreateCredentialRequest {
                                parent: "accounts/acme".into(),
                                credential: Some(pb::Credential {
                                    display_name: tag.clone(),
                                    contact_email: "ops@acme.example".into(),
                                    application: "crash".into(),
                                    scheme: pb::credential::Scheme::Basic as i32,
                                    api_sets: vec!["apiSets/keyward.verify".into()],
                                    ..Default::default()
                                }),
                                identifier: tag.to_lowercase(),
                                request_id: String::new(),
                            })
                            .await
                        else {
                            return;
                        };
                        let made = made.into_inner();
                        let credential = made.credential.expect("a credential");
                        let mut newest = made.client_secret;
                        let index = {
                            let mut acknowledged = acknowledged.lock().expect("lock");
                            acknowledged.credentials.push((
                                credential.name.clone(),
                                credential.client_id.clone(),
                                newest.clone(),
                            ));
                            acknowledged.credentials.len() - 1
                        };
                        // Renew it once: the acknowledged secret becomes the new one.
                        let Ok(renewed) = alice
                            .credentials()
                            .renew_credential_secret(pb::RenewCredentialSecretRequest {
                                name: credential.name.clone(),
                                ..Default::default()
                            })
                            .await
                        else {
                            return;
                        };
                        newest = renewed.into_inner().client_secret;
                        acknowledged.lock().expect("lock").credentials[index].2 = newest;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.kill().await.expect("SIGKILL");
        for worker in workers {
            let _ = worker.await;
        }
        let (restarted, again) = start_binary(dir.path(), &url, &[]).await;
        server = restarted;
        address = again;
        let gateway = client(&address, &alice_key).await;
        let (credentials, keys) = {
            let acknowledged = acknowledged.lock().expect("lock");
            (acknowledged.credentials.clone(), acknowledged.keys.clone())
        };
        assert!(
            !credentials.is_empty() && !keys.is_empty(),
            "cycle {cycle}: the load made something"
        );
        for (name, client_id, secret) in &credentials {
            let decision = gateway
                .verify_client_secret(client_id, secret, keyward_client::Scope::any())
                .await
                .expect("verify");
            assert!(decision.valid, "cycle {cycle}: {name}: {decision:?}");
        }
        for key in &keys {
            let decision = gateway
                .verify_api_key(key, keyward_client::Scope::any())
                .await
                .expect("verify");
            assert!(
                decision.valid,
                "cycle {cycle}: an acknowledged key: {decision:?}"
            );
        }
        // Nothing half-written: every credential has a secret that verifies or was renewed
        // away, and exactly one current secret.
        let listed = gateway
            .credentials()
            .list_credentials(pb::ListCredentialsRequest {
                parent: "accounts/acme".into(),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .credentials;
        for credential in &listed {
            let current = credential
                .secret_versions
                .iter()
                .filter(|v| v.expire_time.is_none())
                .count();
            assert_eq!(
                current, 1,
                "cycle {cycle}: {}: {credential:?}",
                credential.name
            );
        }
    }
    server.kill().await.expect("stopped");
}
