//! Memory under abuse: the built server binary is put through what an attacker or a broken
//! client fleet does to a gRPC server, and its resident memory must stay within the budget
//! the README documents ("Memory budget") and come back afterwards:
//!
//! - 1,200 connections that make one call and then sit idle (closed by the server's idle
//!   timeout);
//! - 10,000 calls at once on each of four connections (`h2load -m 10000`);
//! - 2,048 calls that send their headers and never a body (ended by the body timeout);
//! - 96 calls that each upload most of a 4 MiB message and stall (the request-byte budget);
//! - 50 concurrent renewals of one credential's secret (argon2 on its bounded pool).
//!
//! Resident memory is read from `/proc/PID/status` (`VmRSS` now, `VmHWM` the peak).

use std::time::Duration;

use bytes::Bytes;
use keyward_client::proto as pb;

use crate::helpers::{
    Backend, TestDatabase, binary_client, create_acme, raw_connection, start_binary,
};

on_every_backend!(resident_memory_stays_within_its_budget_under_abuse_and_comes_back);

/// The documented budget above the idle server's resident memory, in MiB.
const BUDGET_MIB: u64 = 256;

/// `VmRSS` and `VmHWM` of process `pid`, in KiB.
fn resident_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The headers of a call to `path` on `address` with `key`.
fn call(address: &str, path: &str, key: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{address}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {key}"))
        .body(())
        .expect("a request")
}

/// `message` in gRPC framing.
fn framed(message: &impl prost::Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut frame = Vec::with_capacity(body.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&body);
    frame.into()
}

/// Sends one call with `body` (`None`: headers only, never a body) and returns its
/// `grpc-status`, or `"reset"` when the stream was reset.
async fn send(
    client: &mut h2::client::SendRequest<Bytes>,
    request: http::Request<()>,
    body: Option<Bytes>,
) -> String {
    let Ok((response, mut stream)) = client.send_request(request, false) else {
        return "reset".into();
    };
    if let Some(body) = body {
        let _ = stream.send_data(body, true);
    }
    let Ok(response) = response.await else {
        return "reset".into();
    };
    if let Some(status) = response.headers().get("grpc-status") {
        return status.to_str().unwrap_or("?").to_owned();
    }
    let mut answer = response.into_body();
    while let Some(Ok(chunk)) = answer.data().await {
        let _ = answer.flow_control().release_capacity(chunk.len());
    }
    match answer.trailers().await {
        Ok(Some(trailers)) => trailers
            .get("grpc-status")
            .and_then(|status| status.to_str().ok())
            .unwrap_or("?")
            .to_owned(),
        _ => "reset".into(),
    }
}

fn mib(kib: u64) -> u64 {
    kib / 1024
}

async fn resident_memory_stays_within_its_budget_under_abuse_and_comes_back(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let dir = tempfile::tempdir().expect("a scratch directory");
    let (server, address) = start_binary(
        dir.path(),
        database.url(),
        &["--body-timeout-secs", "2", "--idle-timeout-secs", "2"],
    )
    .await;
    let pid = server.id().expect("a pid");
    let operator_key = std::fs::read_to_string(dir.path().join("operator.key"))
        .expect("the bootstrap key file")
        .trim()
        .to_owned();
    let operator = binary_client(&address, &operator_key).await;
    let alice_key = create_acme(&operator).await;
    let alice = binary_client(&address, &alice_key).await;
    let credential = alice
        .credentials()
        .create_credential(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            credential: Some(pb::Credential {
                display_name: "Renewed".into(),
                contact_email: "ops@acme.example".into(),
                application: "memory".into(),
                scheme: pb::credential::Scheme::Basic as i32,
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            identifier: "renewed".into(),
            request_id: String::new(),
        })
        .await
        .expect("a credential")
        .into_inner()
        .credential
        .expect("a credential");

    let verify_path = "/keyward.v1.ApiKeyService/VerifyApiKey";
    let verify = framed(&pb::VerifyApiKeyRequest {
        key: alice_key.clone(),
        api_set: "apiSets/keyward.verify".into(),
        api_method: String::new(),
    });

    // Warm up: the verification path and the connection machinery have run.
    {
        let (mut client, driver) = raw_connection(&format!("http://{address}")).await;
        for _ in 0..500 {
            let status = send(
                &mut client,
                call(&address, verify_path, &alice_key),
                Some(verify.clone()),
            )
            .await;
            assert_eq!(status, "0");
        }
        driver.abort();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, _) = resident_kib(pid);
    let mut report = vec![format!("idle: {} MiB", mib(before))];

    // 1,200 connections, one call each, then idle.
    let mut idle = Vec::new();
    for _ in 0..1200 {
        let (mut client, driver) = raw_connection(&format!("http://{address}")).await;
        let status = send(
            &mut client,
            call(&address, verify_path, &alice_key),
            Some(verify.clone()),
        )
        .await;
        assert_eq!(status, "0");
        idle.push((client, driver));
    }
    report.push(format!(
        "1,200 idle connections: {} MiB",
        mib(resident_kib(pid).0)
    ));

    // 10,000 calls at once on each of four connections.
    let mut floods = Vec::new();
    for _ in 0..4 {
        let (client, driver) = raw_connection(&format!("http://{address}")).await;
        let (address, key, verify) = (address.clone(), alice_key.clone(), verify.clone());
        floods.push(tokio::spawn(async move {
            let calls: Vec<_> = (0..10_000)
                .map(|_| {
                    let mut client = client.clone();
                    let (request, body) = (call(&address, verify_path, &key), verify.clone());
                    tokio::spawn(async move { send(&mut client, request, Some(body)).await })
                })
                .collect();
            let mut answered = 0;
            for one in calls {
                if one.await.expect("a call") == "0" {
                    answered += 1;
                }
            }
            driver.abort();
            answered
        }));
    }
    let mut answered = 0;
    for flood in floods {
        answered += flood.await.expect("a flood");
    }
    report.push(format!(
        "40,000 calls, 10,000 at once per connection ({answered} valid): {} MiB",
        mib(resident_kib(pid).0)
    ));
    assert!(answered > 0, "some of the flood is answered");

    // 2,048 calls that send headers and never a body.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let (client, driver) = raw_connection(&format!("http://{address}")).await;
        let calls: Vec<_> = (0..256)
            .map(|_| {
                let mut client = client.clone();
                let request = call(&address, verify_path, &alice_key);
                tokio::spawn(async move { send(&mut client, request, None).await })
            })
            .collect();
        stalled.push((calls, driver));
    }
    let mut timed_out = 0;
    for (calls, driver) in stalled {
        for one in calls {
            if one.await.expect("a call") == "4" {
                timed_out += 1;
            }
        }
        driver.abort();
    }
    report.push(format!(
        "2,048 bodiless calls ({timed_out} DEADLINE_EXCEEDED): {} MiB",
        mib(resident_kib(pid).0)
    ));
    assert!(timed_out > 0, "the body timeout ends bodiless calls");

    // 96 calls that upload most of a 4 MiB message and stall.
    let mut uploads = Vec::new();
    let chunk = Bytes::from(vec![b'k'; 64 * 1024]);
    for _ in 0..12 {
        let (client, driver) = raw_connection(&format!("http://{address}")).await;
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let mut client = client.clone();
                let request = call(&address, verify_path, &alice_key);
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    let Ok((response, mut stream)) = client.send_request(request, false) else {
                        return "reset".to_owned();
                    };
                    let mut prefix = vec![0_u8];
                    prefix.extend_from_slice(&(4_u32 * 1024 * 1024).to_be_bytes());
                    let _ = stream.send_data(prefix.into(), false);
                    for _ in 0..63 {
                        let _ = stream.send_data(chunk.clone(), false);
                    }
                    let Ok(response) = response.await else {
                        return "reset".to_owned();
                    };
                    let status = response
                        .headers()
                        .get("grpc-status")
                        .map(|status| status.to_str().unwrap_or("?").to_owned());
                    drop(stream);
                    status.unwrap_or_else(|| "trailers".into())
                })
            })
            .collect();
        uploads.push((calls, driver));
    }
    let mut upload_statuses = std::collections::BTreeMap::<String, usize>::new();
    for (calls, driver) in uploads {
        for one in calls {
            *upload_statuses
                .entry(one.await.expect("an upload"))
                .or_default() += 1;
        }
        driver.abort();
    }
    report.push(format!(
        "96 stalled 4 MiB uploads ({upload_statuses:?}): {} MiB",
        mib(resident_kib(pid).0)
    ));

    // 50 concurrent renewals of one secret.
    let renewals: Vec<_> = (0..50)
        .map(|_| {
            let (alice, name) = (alice.clone(), credential.name.clone());
            tokio::spawn(async move {
                alice
                    .credentials()
                    .renew_credential_secret(pb::RenewCredentialSecretRequest {
                        name,
                        ..Default::default()
                    })
                    .await
                    .map(|_| ())
                    .map_err(|status| status.code())
            })
        })
        .collect();
    let mut renewed = 0;
    for renewal in renewals {
        if renewal.await.expect("a renewal").is_ok() {
            renewed += 1;
        }
    }
    assert!(renewed > 0, "some renewals succeed");
    let (during, peak) = resident_kib(pid);
    report.push(format!(
        "50 concurrent renewals ({renewed} renewed): {} MiB; peak {} MiB",
        mib(during),
        mib(peak)
    ));

    // The idle connections are closed by the server, and memory comes back.
    for (_, driver) in idle {
        tokio::time::timeout(Duration::from_secs(10), driver)
            .await
            .expect("the server closes idle connections")
            .expect("the driver ends");
    }
    // Memory a thread frees that another thread allocated goes back to its owner's heap,
    // and to the OS, when that heap works again (mimalloc's delayed frees): a server that
    // serves nothing more may hold it indefinitely. So "afterwards" is measured under
    // ordinary traffic, for at most 20 s: rounds of verifications, until memory is back
    // within the bound.
    let settled = before + before / 4 + 16 * 1024;
    let mut after = resident_kib(pid).0;
    let mut rounds = 0;
    while after > settled && rounds < 40 {
        for _ in 0..50 {
            let decision = operator
                .verify_api_key(&alice_key, keyward_client::Scope::any())
                .await
                .expect("a verification after the abuse");
            assert!(decision.valid);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = resident_kib(pid).0;
        rounds += 1;
    }
    let peak = resident_kib(pid).1;
    report.push(format!(
        "afterwards, after {rounds} rounds of 50 verifications: {} MiB",
        mib(after)
    ));
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(
        peak <= before + BUDGET_MIB * 1024,
        "peak {} MiB above the idle {} MiB exceeds the {BUDGET_MIB} MiB budget:\n{report}",
        mib(peak),
        mib(before)
    );
    assert!(
        after <= settled,
        "memory comes back to within 25 % (+16 MiB) of the idle server's:\n{report}"
    );

    // And the server still answers.
    let decision = operator
        .verify_api_key(&alice_key, keyward_client::Scope::any())
        .await
        .expect("verify after the abuse");
    assert!(decision.valid);
}
