//! Leak reports (`ReportLeakedSecrets`): every kind of found string gets its own answer,
//! real live secrets are refused at once (on a replica too), a second report says already
//! revoked, a compromised credential comes back only through a renewal, and only a member
//! of the operator account holding `keyward.leak-reports` may report.

use std::time::Duration;

use keyward_client::proto as pb;
use keyward_client::proto::leak_report::Outcome;
use keyward_client::{Client, NewApiKey, NewEnrollmentToken, Scope};
use keyward_core::key::{Key, KeyKind};
use secrecy::ExposeSecret as _;

use crate::delegation::acme;
use crate::helpers::{Backend, TestApp, spawn_app};

on_every_backend!(
    a_batch_of_found_strings_gets_an_answer_each_and_live_secrets_die_everywhere,
    only_a_member_of_the_operator_account_holding_the_set_may_report,
    a_report_is_bounded_and_says_what_is_wrong,
);

/// A client of the operator's scanner: a key of the operator holding only
/// `keyward.leak-reports`.
async fn scanner(app: &TestApp) -> Client {
    let created = app
        .operator
        .create_api_key(NewApiKey::new("scanner", ["apiSets/keyward.leak-reports"]))
        .await
        .expect("the scanner's key");
    app.client_with_key(created.key.expose_secret()).await
}

/// CRC-32 (IEEE), as the key format's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0_u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A well-formed token with `token`'s kind and id and another secret: a real id, the
/// wrong secret.
fn same_id_other_secret(token: &str) -> String {
    let key = Key::parse(token).expect("a key");
    let head = format!("{}{}_", key.kind().prefix(), key.id());
    let secret = [7_u8; 32];
    let mut payload = secret.to_vec();
    payload.extend_from_slice(&crc32(&[head.as_bytes(), &secret].concat()).to_be_bytes());
    let other = format!("{head}{}", bs58::encode(payload).into_string());
    assert!(Key::parse(&other).is_ok(), "the forged token parses");
    other
}

/// Creates a credential of `scheme` in acme; its name, Client ID and secret.
async fn credential(
    alice: &Client,
    id: &str,
    scheme: pb::credential::Scheme,
) -> (String, String, String) {
    let created = alice
        .credentials()
        .create_credential(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            credential: Some(pb::Credential {
                display_name: id.into(),
                contact_email: format!("{id}@acme.example"),
                application: "leaky".into(),
                scheme: scheme as i32,
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            identifier: id.into(),
            request_id: String::new(),
        })
        .await
        .expect("a credential")
        .into_inner();
    let credential = created.credential.expect("a credential");
    (credential.name, credential.client_id, created.client_secret)
}

/// Waits up to 2 s for `check` to hold (a replica applies the change log within
/// milliseconds).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..40 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} within 2 s");
}

async fn a_batch_of_found_strings_gets_an_answer_each_and_live_secrets_die_everywhere(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    app.operator
        .verify_account("accounts/acme")
        .await
        .expect("verified");
    let replica = if backend == Backend::Postgres {
        Some(app.spawn_replica().await)
    } else {
        None
    };
    let leaky = alice
        .create_api_key(NewApiKey::new("leaky", ["apiSets/billing"]))
        .await
        .expect("a key");
    let api_key = leaky.key.expose_secret().to_owned();
    let (basic_name, client_id, basic_secret) =
        credential(&alice, "basic", pb::credential::Scheme::Basic).await;
    let (hmac_name, _, hmac_secret) =
        credential(&alice, "signer", pb::credential::Scheme::Hmac).await;
    let enrollment = alice
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/carol",
            ["apiSets/billing"],
        ))
        .await
        .expect("a token");
    let token = enrollment.token.expose_secret().to_owned();
    let mut broken = api_key.clone();
    let last = broken.pop().expect("a character");
    broken.push(if last == 'A' { 'B' } else { 'A' });
    let unknown = Key::generate(KeyKind::ApiKey)
        .expect("a key")
        .to_token()
        .expose_secret()
        .to_owned();
    let wrong = same_id_other_secret(&api_key);
    // The gateway has seen the live ones valid: their answers are remembered.
    let gateway = app
        .client_with_key(app.operator_key.as_deref().expect("key"))
        .await;
    assert!(
        gateway
            .verify_api_key(&api_key, Scope::any())
            .await
            .expect("verify")
            .valid
    );
    assert!(
        gateway
            .verify_client_secret(&client_id, &basic_secret, Scope::any())
            .await
            .expect("verify")
            .valid
    );

    let location = "https://github.com/acme/app/blob/1a2b3c/config.env#L3";
    let batch = [
        "hello, world".to_owned(),
        broken,
        unknown,
        wrong,
        api_key.clone(),
        basic_secret.clone(),
        hmac_secret.clone(),
        token.clone(),
    ];
    let scanner = scanner(&app).await;
    let results = scanner
        .report_leaked_secrets(batch.iter().map(|found| (found.clone(), location)))
        .await
        .expect("reported");
    let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::NotKeyward,
            Outcome::NotKeyward,
            Outcome::Unknown,
            Outcome::Unknown,
            Outcome::Revoked,
            Outcome::Revoked,
            Outcome::Revoked,
            Outcome::Revoked,
        ],
        "{results:?}"
    );
    let key_name = leaky.api_key.name.clone();
    let token_name = enrollment.enrollment_token.name.clone();
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "",
            "",
            "",
            "",
            &key_name,
            &basic_name,
            &hmac_name,
            &token_name
        ]
    );
    assert!(results[4..].iter().all(|r| r.was_valid), "{results:?}");
    assert!(results[..4].iter().all(|r| !r.was_valid));
    assert_eq!(results[0].display_prefix, "");
    assert_eq!(
        results[3].display_prefix,
        Key::parse(&api_key).expect("a key").display_prefix(),
        "the forged token shows the real id, and is UNKNOWN all the same"
    );
    // No answer carries a secret.
    let shown = format!("{results:?}");
    for secret in [&api_key, &basic_secret, &hmac_secret, &token] {
        assert!(!shown.contains(secret.rsplit('_').next().expect("a body")));
    }

    // Refused at once, here and on the replica.
    let decision = gateway
        .verify_api_key(&api_key, Scope::any())
        .await
        .expect("verify");
    assert_eq!(decision.reason(), pb::decision::Reason::Revoked);
    let decision = gateway
        .verify_client_secret(&client_id, &basic_secret, Scope::any())
        .await
        .expect("verify");
    assert_eq!(decision.reason(), pb::decision::Reason::Disabled);
    let redeemed = app
        .client
        .redeem_enrollment_token(&token, NewApiKey::new("mine", ["apiSets/billing"]))
        .await
        .expect_err("a revoked token");
    assert_eq!(redeemed.code(), Some(tonic::Code::Unauthenticated));
    if let Some(replica) = &replica {
        let elsewhere = replica
            .client_with_key(app.operator_key.as_deref().expect("key"))
            .await;
        eventually("the replica refuses the leaked key", || async {
            elsewhere
                .verify_api_key(&api_key, Scope::any())
                .await
                .expect("verify")
                .reason()
                == pb::decision::Reason::Revoked
        })
        .await;
        eventually("the replica refuses the leaked client secret", || async {
            elsewhere
                .verify_client_secret(&client_id, &basic_secret, Scope::any())
                .await
                .expect("verify")
                .reason()
                == pb::decision::Reason::Disabled
        })
        .await;
    }

    // Reporting again is harmless.
    let again = scanner
        .report_leaked_secrets(batch[4..].iter().map(|found| (found.clone(), "a paste")))
        .await
        .expect("reported again");
    assert!(
        again
            .iter()
            .all(|r| r.outcome() == Outcome::AlreadyRevoked && !r.was_valid),
        "{again:?}"
    );

    // The compromised credential stays off until its secret is renewed, which ends the
    // leaked secret at once whatever grace is asked.
    let credentials = alice.credentials();
    let shown = credentials
        .clone()
        .get_credential(pb::GetCredentialRequest {
            name: basic_name.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .credential
        .expect("a credential");
    assert_eq!(shown.state(), pb::credential::State::Disabled);
    assert!(shown.compromise_time.is_some());
    let refused = credentials
        .clone()
        .enable_credential(pb::EnableCredentialRequest {
            name: basic_name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("compromised");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("compromised"),
        "{}",
        refused.message()
    );
    let renewed = credentials
        .clone()
        .renew_credential_secret(pb::RenewCredentialSecretRequest {
            name: basic_name.clone(),
            grace_period: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("renewed")
        .into_inner();
    let after = renewed.credential.expect("a credential");
    assert!(after.compromise_time.is_none());
    assert_eq!(
        after.secret_versions.len(),
        1,
        "no grace for a leaked secret"
    );
    credentials
        .clone()
        .enable_credential(pb::EnableCredentialRequest {
            name: basic_name.clone(),
            ..Default::default()
        })
        .await
        .expect("enabled after the renewal");
    assert!(
        gateway
            .verify_client_secret(&client_id, &renewed.client_secret, Scope::any())
            .await
            .expect("verify")
            .valid
    );
    let old = gateway
        .verify_client_secret(&client_id, &basic_secret, Scope::any())
        .await
        .expect("verify");
    assert_eq!(old.reason(), pb::decision::Reason::Invalid);

    // Each confirmed leak is in acme's audit log, naming the location.
    let events = alice
        .accounts()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    for name in [&key_name, &basic_name, &hmac_name, &token_name] {
        let leaks: Vec<_> = events
            .iter()
            .filter(|e| &e.resource == name && e.detail.starts_with("leaked "))
            .collect();
        assert_eq!(leaks.len(), 2, "{name}: {events:#?}");
        assert!(leaks.iter().any(|e| e.detail.contains(location)));
        assert!(
            leaks
                .iter()
                .all(|e| e.actor.starts_with("accounts/operator/"))
        );
    }
}

async fn only_a_member_of_the_operator_account_holding_the_set_may_report(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    let found = [("hello".to_owned(), "here".to_owned())];
    // Alice's first key holds every built-in set, this one too: she is no operator.
    let refused = alice
        .report_leaked_secrets(found.clone())
        .await
        .expect_err("not an operator member");
    assert_eq!(refused.code(), Some(tonic::Code::PermissionDenied));
    // An operator key without the set.
    let verifier = app
        .operator
        .create_api_key(NewApiKey::new("verifier", ["apiSets/keyward.verify"]))
        .await
        .expect("a key");
    let refused = app
        .client_with_key(verifier.key.expose_secret())
        .await
        .report_leaked_secrets(found.clone())
        .await
        .expect_err("without the set");
    assert_eq!(refused.code(), Some(tonic::Code::PermissionDenied));
    assert!(
        refused.to_string().contains("keyward.leak-reports"),
        "{refused}"
    );
    // The scanner may.
    let results = scanner(&app)
        .await
        .report_leaked_secrets(found)
        .await
        .expect("reported");
    assert_eq!(results[0].outcome(), Outcome::NotKeyward);
}

async fn a_report_is_bounded_and_says_what_is_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    let scanner = scanner(&app).await;
    let too_many = (0..101).map(|at| (format!("s{at}"), "here"));
    let refused = scanner
        .report_leaked_secrets(too_many)
        .await
        .expect_err("101 strings");
    assert_eq!(refused.code(), Some(tonic::Code::InvalidArgument));
    let none: [(String, String); 0] = [];
    let refused = scanner.report_leaked_secrets(none).await.expect_err("none");
    assert_eq!(refused.code(), Some(tonic::Code::InvalidArgument));
    let refused = scanner
        .report_leaked_secrets([
            ("kw_ak_x".to_owned(), String::new()),
            ("x".repeat(300), "y".to_owned()),
        ])
        .await
        .expect_err("no location, too long");
    let (Some(tonic::Code::InvalidArgument), violations) = (refused.code(), refused.violations())
    else {
        panic!("INVALID_ARGUMENT: {refused}");
    };
    let fields: Vec<String> = violations.iter().map(|v| v.field.clone()).collect();
    assert_eq!(fields, ["secrets[0].location", "secrets[1].secret"]);
}
