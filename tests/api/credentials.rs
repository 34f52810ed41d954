//! CredentialService end to end through `keyward-client`: the seed scenarios (create,
//! secret shown once, verify, renew with and without grace, disable, delete), the rules
//! around creation, HMAC signing and replay, concurrency, the audit of failures, and a
//! dump of the database that must hold no secret in clear.

use std::sync::Arc;

use chrono::Duration;
use keyward::clock::ManualClock;
use keyward_client::Client;
use keyward_client::hmac::HmacSigner;
use keyward_client::proto as pb;
use keyward_core::key::Key;
use prost::Message;
use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt;

use crate::accounts::create_account;
use crate::helpers::{Backend, TestApp, TestDatabase, spawn_app_with, test_settings};

on_every_backend!(
    a_basic_credential_lives_through_create_verify_renew_disable_and_delete,
    a_grace_period_keeps_the_previous_secret_until_it_ends,
    creating_credentials_follows_the_rules,
    an_hmac_signature_from_the_client_crate_verifies_and_nothing_else_does,
    the_hmac_timestamp_window_is_300_seconds_either_way,
    a_nonce_replayed_concurrently_is_accepted_exactly_once,
    concurrent_renewals_leave_exactly_one_current_secret,
    a_client_credential_authenticates_with_basic_until_disabled,
    failed_verifications_are_audited_as_counts,
    credentials_are_listed_filtered_and_updated,
    the_database_holds_no_secret_in_clear,
    a_renewal_whose_answer_is_lost_is_found_done_by_its_retry_and_the_previous_secret_carries_on,
);

/// acme (verified) with its administrator alice, an API set `billing`, a gateway key
/// holding only `keyward.verify`, and a clock the test moves.
struct World {
    app: TestApp,
    clock: ManualClock,
    alice: Client,
    gateway: Client,
}

async fn world(backend: Backend) -> World {
    let database = TestDatabase::create(backend).await;
    let clock = ManualClock::default();
    let mut settings = test_settings(&database);
    settings.clock = Arc::new(clock.clone());
    let app = spawn_app_with(database, settings).await;
    let alice_key = create_account(&app, "acme", "alice").await;
    app.operator
        .accounts()
        .verify_account(pb::VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: String::new(),
        })
        .await
        .expect("verify acme");
    app.operator
        .api_keys()
        .create_api_set(pb::CreateApiSetRequest {
            api_set: Some(pb::ApiSet {
                display_name: "Billing".into(),
                methods: vec!["/billing.v1.Invoices/List".into()],
                ..Default::default()
            }),
            api_set_id: "billing".into(),
        })
        .await
        .expect("create api set");
    crate::accounts::entitle(&app, "acme", &["billing"]).await;
    let alice = app.client_with_key(&alice_key).await;
    let gateway_key = alice
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "gateway".into(),
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("gateway key")
        .into_inner()
        .key;
    let gateway = app.client_with_key(&gateway_key).await;
    World {
        app,
        clock,
        alice,
        gateway,
    }
}

fn new_credential(name: &str, email: &str, scheme: pb::credential::Scheme) -> pb::Credential {
    pb::Credential {
        display_name: name.into(),
        description: "nightly export".into(),
        contact_email: email.into(),
        application: "billing".into(),
        scheme: scheme as i32,
        api_sets: vec!["apiSets/billing".into(), "apiSets/keyward.verify".into()],
        ..Default::default()
    }
}

async fn create(
    client: &Client,
    credential: pb::Credential,
    identifier: &str,
) -> Result<pb::CreateCredentialResponse, tonic::Status> {
    client
        .credentials()
        .create_credential(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            credential: Some(credential),
            identifier: identifier.into(),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn renew(
    client: &Client,
    name: &str,
    grace: Option<Duration>,
) -> pb::RenewCredentialSecretResponse {
    client
        .credentials()
        .renew_credential_secret(pb::RenewCredentialSecretRequest {
            name: name.into(),
            grace_period: grace.map(|g| prost_types::Duration {
                seconds: g.num_seconds(),
                nanos: 0,
            }),
            request_id: String::new(),
            etag: String::new(),
        })
        .await
        .expect("renew")
        .into_inner()
}

async fn verify(gateway: &Client, client_id: &str, secret: &str, api_set: &str) -> pb::Decision {
    gateway
        .credentials()
        .verify_client_secret(pb::VerifyClientSecretRequest {
            client_id: client_id.into(),
            client_secret: secret.into(),
            api_set: api_set.into(),
            ..Default::default()
        })
        .await
        .expect("verification answers OK")
        .into_inner()
        .decision
        .expect("a decision")
}

fn reason(decision: &pb::Decision) -> pb::decision::Reason {
    pb::decision::Reason::try_from(decision.reason).expect("a known reason")
}

fn assert_valid(decision: &pb::Decision, version: i32) {
    assert!(decision.valid, "{decision:?}");
    assert_eq!(reason(decision), pb::decision::Reason::Unspecified);
    assert_eq!(decision.secret_version, version, "{decision:?}");
}

fn assert_refused(decision: &pb::Decision, expected: pb::decision::Reason) {
    assert!(!decision.valid, "{decision:?}");
    assert_eq!(reason(decision), expected, "{decision:?}");
}

/// The ways a secret could leak: its token and the base58 part that carries the secret.
fn secret_forms(token: &str) -> Vec<String> {
    let tail = token.rsplit('_').next().expect("a token").to_owned();
    vec![token.to_owned(), tail]
}

fn assert_hides(bytes: &[u8], token: &str, context: &str) {
    for form in secret_forms(token) {
        assert!(
            !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
            "{context} contains the secret"
        );
    }
}

fn status_reason(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
}

async fn a_basic_credential_lives_through_create_verify_renew_disable_and_delete(backend: Backend) {
    let w = world(backend).await;
    let created = create(
        &w.alice,
        new_credential(
            "Billing export",
            "Ops@Acme.example",
            pb::credential::Scheme::Basic,
        ),
        "billing-export",
    )
    .await
    .expect("create");
    let secret = created.client_secret.clone();
    let credential = created.credential.expect("credential");
    assert!(
        secret.starts_with("kw_cs_"),
        "a client secret in the key format"
    );
    assert!(Key::parse(&secret).is_ok(), "with a valid checksum");
    assert_eq!(credential.client_id, "acme-billing-export");
    assert_eq!(credential.state, pb::credential::State::Active as i32);
    assert_eq!(credential.secret_versions.len(), 1);
    assert_eq!(credential.secret_versions[0].version, 1);
    assert!(
        credential
            .creator
            .starts_with("accounts/acme/users/alice/apiKeys/"),
        "the creator is alice's key: {}",
        credential.creator
    );
    let name = credential.name.clone();

    // Shown once: Get and List never carry it.
    let got = w
        .alice
        .credentials()
        .get_credential(pb::GetCredentialRequest { name: name.clone() })
        .await
        .expect("get")
        .into_inner();
    assert_hides(&got.encode_to_vec(), &secret, "GetCredential");
    let listed = w
        .alice
        .credentials()
        .list_credentials(pb::ListCredentialsRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.credentials.len(), 1);
    assert_hides(&listed.encode_to_vec(), &secret, "ListCredentials");

    // Verify: valid, with the account, client ID, API sets and version.
    let client_id = credential.client_id.clone();
    let decision = verify(&w.gateway, &client_id, &secret, "").await;
    assert_valid(&decision, 1);
    assert_eq!(decision.principal, name);
    assert_eq!(decision.account, "accounts/acme");
    assert_eq!(decision.client_id, client_id);
    assert_eq!(
        decision.api_sets,
        ["apiSets/billing", "apiSets/keyward.verify"]
    );
    assert_valid(
        &verify(&w.gateway, &client_id, &secret, "apiSets/billing").await,
        1,
    );
    assert_refused(
        &verify(&w.gateway, &client_id, &secret, "apiSets/keyward.accounts").await,
        pb::decision::Reason::ApiSetNotAllowed,
    );
    let by_method = w
        .gateway
        .credentials()
        .verify_client_secret(pb::VerifyClientSecretRequest {
            client_id: client_id.clone(),
            client_secret: secret.clone(),
            api_method: "/billing.v1.Invoices/List".into(),
            ..Default::default()
        })
        .await
        .expect("verify by method")
        .into_inner()
        .decision
        .expect("decision");
    assert_valid(&by_method, 1);
    // The raw Basic header, as a gateway received it.
    use base64::Engine as _;
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    let by_header = w
        .gateway
        .credentials()
        .verify_client_secret(pb::VerifyClientSecretRequest {
            authorization: header,
            ..Default::default()
        })
        .await
        .expect("verify header")
        .into_inner()
        .decision
        .expect("decision");
    assert_valid(&by_header, 1);

    // Wrong secret, unknown client ID, garbage: INVALID, identifying nothing.
    let other = Key::generate(keyward_core::key::KeyKind::ClientSecret).expect("key");
    let other = secrecy::ExposeSecret::expose_secret(&other.to_token()).to_owned();
    for (id, presented) in [
        (client_id.as_str(), other.as_str()),
        ("acme-nobody", secret.as_str()),
        (client_id.as_str(), "kw_cs_garbage"),
    ] {
        let decision = verify(&w.gateway, id, presented, "").await;
        assert_refused(&decision, pb::decision::Reason::Invalid);
        assert!(decision.principal.is_empty() && decision.account.is_empty());
    }

    // Renew without grace: same Client ID, new secret, the old one stops at once.
    let renewed = renew(&w.alice, &name, None).await;
    let new_secret = renewed.client_secret.clone();
    assert_ne!(new_secret, secret);
    let renewed = renewed.credential.expect("credential");
    assert_eq!(renewed.client_id, client_id);
    assert_eq!(renewed.secret_versions.len(), 1);
    assert_eq!(renewed.secret_versions[0].version, 2);
    assert_refused(
        &verify(&w.gateway, &client_id, &secret, "").await,
        pb::decision::Reason::Invalid,
    );
    assert_valid(&verify(&w.gateway, &client_id, &new_secret, "").await, 2);

    // Disable: refused as DISABLED (to the holder of the right secret); enable again.
    let disabled = w
        .alice
        .credentials()
        .disable_credential(pb::DisableCredentialRequest {
            name: name.clone(),
            etag: renewed.etag.clone(),
        })
        .await
        .expect("disable")
        .into_inner()
        .credential
        .expect("credential");
    assert_eq!(disabled.state, pb::credential::State::Disabled as i32);
    assert_refused(
        &verify(&w.gateway, &client_id, &new_secret, "").await,
        pb::decision::Reason::Disabled,
    );
    let stale = w
        .alice
        .credentials()
        .enable_credential(pb::EnableCredentialRequest {
            name: name.clone(),
            etag: renewed.etag.clone(),
        })
        .await
        .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    w.alice
        .credentials()
        .enable_credential(pb::EnableCredentialRequest {
            name: name.clone(),
            etag: disabled.etag,
        })
        .await
        .expect("enable");
    assert_valid(&verify(&w.gateway, &client_id, &new_secret, "").await, 2);
    w.alice
        .credentials()
        .disable_credential(pb::DisableCredentialRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .expect("disable again");

    // Delete: gone, and the secret means nothing any more.
    w.alice
        .credentials()
        .delete_credential(pb::DeleteCredentialRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    let missing = w
        .alice
        .credentials()
        .get_credential(pb::GetCredentialRequest { name: name.clone() })
        .await
        .expect_err("deleted");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert_refused(
        &verify(&w.gateway, &client_id, &new_secret, "").await,
        pb::decision::Reason::Invalid,
    );

    // Every change was audited.
    let events = w
        .alice
        .accounts()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    for method in [
        "CreateCredential",
        "RenewCredentialSecret",
        "DisableCredential",
        "EnableCredential",
        "DeleteCredential",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.method.ends_with(method) && e.resource == name),
            "{method} audited: {events:#?}"
        );
    }
}

async fn a_grace_period_keeps_the_previous_secret_until_it_ends(backend: Backend) {
    let w = world(backend).await;
    let created = create(
        &w.alice,
        new_credential("Export", "ops@acme.example", pb::credential::Scheme::Basic),
        "",
    )
    .await
    .expect("create");
    let credential = created.credential.expect("credential");
    let (name, client_id) = (credential.name, credential.client_id);
    assert!(
        client_id.starts_with("acme-"),
        "a generated identifier: {client_id}"
    );
    let first = created.client_secret;

    let renewed = renew(&w.alice, &name, Some(Duration::hours(2))).await;
    let second = renewed.client_secret;
    let versions = renewed.credential.expect("credential").secret_versions;
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1],
        "newest first, both live"
    );
    assert!(versions[0].expire_time.is_none());
    assert!(versions[1].expire_time.is_some());
    // Both verify, and the decision tells which one the client still uses.
    assert_valid(&verify(&w.gateway, &client_id, &first, "").await, 1);
    assert_valid(&verify(&w.gateway, &client_id, &second, "").await, 2);

    // A renewal during the grace period ends the older secret: never three.
    let third = renew(&w.alice, &name, Some(Duration::hours(1))).await;
    assert_eq!(
        third
            .credential
            .expect("credential")
            .secret_versions
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [3, 2]
    );
    assert_refused(
        &verify(&w.gateway, &client_id, &first, "").await,
        pb::decision::Reason::Invalid,
    );
    assert_valid(&verify(&w.gateway, &client_id, &second, "").await, 2);

    // When the grace period ends the previous secret is refused; the current one is not.
    w.clock.advance(Duration::minutes(61));
    assert_refused(
        &verify(&w.gateway, &client_id, &second, "").await,
        pb::decision::Reason::Expired,
    );
    assert_valid(
        &verify(&w.gateway, &client_id, &third.client_secret, "").await,
        3,
    );

    // The grace period is bounded.
    for seconds in [-1, 7 * 24 * 3600 + 1] {
        let status = w
            .alice
            .credentials()
            .renew_credential_secret(pb::RenewCredentialSecretRequest {
                name: name.clone(),
                grace_period: Some(prost_types::Duration { seconds, nanos: 0 }),
                ..Default::default()
            })
            .await
            .expect_err("out of range");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains("grace_period"), "{status:?}");
    }
}

async fn creating_credentials_follows_the_rules(backend: Backend) {
    let w = world(backend).await;
    let basic = || new_credential("Export", "ops@acme.example", pb::credential::Scheme::Basic);
    create(&w.alice, basic(), "export").await.expect("create");

    // One credential per contact email per account, case-insensitively.
    let mut again = basic();
    again.contact_email = "OPS@acme.EXAMPLE".into();
    let status = create(&w.alice, again, "export-two")
        .await
        .expect_err("same email");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("contact email"), "{status:?}");
    // A Client ID is unique.
    let mut other = basic();
    other.contact_email = "other@acme.example".into();
    let status = create(&w.alice, other, "export")
        .await
        .expect_err("same identifier");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    // Bad input names its field.
    let cases: Vec<(pb::Credential, &str, &str)> = vec![
        (
            pb::Credential {
                display_name: " ".into(),
                ..basic()
            },
            "x-1",
            "credential.display_name",
        ),
        (
            pb::Credential {
                contact_email: "nope".into(),
                ..basic()
            },
            "x-2",
            "credential.contact_email",
        ),
        (
            pb::Credential {
                application: String::new(),
                ..basic()
            },
            "x-3",
            "credential.application",
        ),
        (
            pb::Credential {
                scheme: 0,
                ..basic()
            },
            "x-4",
            "credential.scheme",
        ),
        (
            pb::Credential {
                api_sets: vec![],
                ..basic()
            },
            "x-5",
            "credential.api_sets",
        ),
        (
            pb::Credential {
                api_sets: vec!["billing".into()],
                ..basic()
            },
            "x-6",
            "credential.api_sets",
        ),
        (
            pb::Credential {
                api_sets: vec!["apiSets/ghost".into()],
                ..basic()
            },
            "x-7",
            "credential.api_sets",
        ),
        (basic(), "No Spaces", "identifier"),
        (basic(), "ab", "identifier"),
        (
            pb::Credential {
                expire_time: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: 0,
                }),
                ..basic()
            },
            "x-8",
            "credential.expire_time",
        ),
    ];
    for (credential, identifier, field) in cases {
        let status = create(&w.alice, credential, identifier)
            .await
            .expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let violations = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.clone())
            .unwrap_or_default();
        assert!(
            violations.iter().any(|v| v.field == field),
            "{field}: {status:?}"
        );
    }

    // A built-in API set the caller's key does not hold cannot be granted.
    let narrow = w
        .alice
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "narrow".into(),
                api_sets: vec!["apiSets/keyward.credentials".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("narrow key")
        .into_inner()
        .key;
    let narrow = w.app.client_with_key(&narrow).await;
    let mut broad = basic();
    broad.contact_email = "broad@acme.example".into();
    broad.api_sets = vec!["apiSets/keyward.accounts".into()];
    let status = create(&narrow, broad, "").await.expect_err("not held");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(status_reason(&status).as_deref(), Some("API_SET_NOT_HELD"));

    // A retried create returns the same credential and no second secret.
    let request = |id: &str| pb::CreateCredentialRequest {
        parent: "accounts/acme".into(),
        credential: Some(pb::Credential {
            contact_email: "retry@acme.example".into(),
            ..basic()
        }),
        identifier: "retry".into(),
        request_id: id.into(),
    };
    let first = w
        .alice
        .credentials()
        .create_credential(request("r-1"))
        .await
        .expect("first")
        .into_inner();
    assert!(!first.client_secret.is_empty());
    let retry = w
        .alice
        .credentials()
        .create_credential(request("r-1"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry.credential, first.credential);
    assert!(retry.client_secret.is_empty(), "never a second secret");

    // An unverified account cannot create credentials.
    let gina_key = create_account(&w.app, "globex", "gina").await;
    crate::accounts::entitle(&w.app, "globex", &["billing"]).await;
    let gina = w.app.client_with_key(&gina_key).await;
    let in_globex = pb::CreateCredentialRequest {
        parent: "accounts/globex".into(),
        credential: Some(basic()),
        request_id: "globex-first".into(),
        ..Default::default()
    };
    let status = gina
        .credentials()
        .create_credential(in_globex.clone())
        .await
        .expect_err("unverified");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status_reason(&status).as_deref(),
        Some("ACCOUNT_NOT_VERIFIED")
    );
    assert!(status.message().contains("not verified"), "{status:?}");
    // A failed request gives its request ID back: once the account is verified,
    // the same request succeeds at once (not "still in progress"), with its secret.
    w.app
        .operator
        .accounts()
        .verify_account(pb::VerifyAccountRequest {
            name: "accounts/globex".into(),
            etag: String::new(),
        })
        .await
        .expect("verify globex");
    let created = gina
        .credentials()
        .create_credential(in_globex)
        .await
        .expect("the retry after verification")
        .into_inner();
    assert!(!created.client_secret.is_empty(), "the secret, once");

    // A user without MANAGE_API_CLIENTS cannot, even in a verified account.
    w.alice
        .accounts()
        .create_role(pb::CreateRoleRequest {
            parent: "accounts/acme".into(),
            role: Some(pb::Role {
                display_name: "Key holders".into(),
                authorities: vec![pb::Authority::ManageUserApiKey as i32],
                ..Default::default()
            }),
            role_id: "key-holders".into(),
        })
        .await
        .expect("role");
    w.alice
        .accounts()
        .create_user(pb::CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(pb::User {
                display_name: "Kai".into(),
                email: "kai@acme.example".into(),
                roles: vec!["accounts/acme/roles/key-holders".into()],
                ..Default::default()
            }),
            user_id: "kai".into(),
            request_id: String::new(),
        })
        .await
        .expect("kai");
    let kai = w
        .app
        .client_with_key(
            &w.app
                .enroll_builtin_key(&w.alice, "accounts/acme/users/kai")
                .await,
        )
        .await;
    let mut theirs = basic();
    theirs.contact_email = "kai@acme.example".into();
    let status = create(&kai, theirs, "").await.expect_err("no authority");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("MANAGE_API_CLIENTS"),
        "{status:?}"
    );
}

async fn hmac_credential(w: &World, identifier: &str) -> (String, String, String) {
    let created = create(
        &w.alice,
        new_credential(
            identifier,
            &format!("{identifier}@acme.example"),
            pb::credential::Scheme::Hmac,
        ),
        identifier,
    )
    .await
    .expect("create hmac credential");
    let credential = created.credential.expect("credential");
    assert_eq!(credential.scheme, pb::credential::Scheme::Hmac as i32);
    (credential.name, credential.client_id, created.client_secret)
}

fn hmac_request(
    authorization: &str,
    method: &str,
    path: &str,
    query: &str,
    body_sha256: &str,
) -> pb::VerifyHmacSignatureRequest {
    pb::VerifyHmacSignatureRequest {
        authorization: authorization.into(),
        http_method: method.into(),
        path: path.into(),
        query: query.into(),
        body_sha256: body_sha256.into(),
        ..Default::default()
    }
}

async fn verify_hmac(gateway: &Client, request: pb::VerifyHmacSignatureRequest) -> pb::Decision {
    gateway
        .credentials()
        .verify_hmac_signature(request)
        .await
        .expect("verification answers OK")
        .into_inner()
        .decision
        .expect("a decision")
}

async fn an_hmac_signature_from_the_client_crate_verifies_and_nothing_else_does(backend: Backend) {
    let w = world(backend).await;
    let (name, client_id, secret) = hmac_credential(&w, "signer").await;
    let signer = HmacSigner::new(&client_id, &secret).expect("signer");
    let now = w.clock_now();
    let body = br#"{"amount":42}"#;
    let signed = signer
        .sign_with(
            now,
            "nonce-0000000000000001",
            "POST",
            "/v1/invoices",
            "b=2&a=1",
            body,
        )
        .expect("sign");
    let request = || {
        hmac_request(
            &signed.authorization,
            "POST",
            "/v1/invoices",
            "b=2&a=1",
            &signed.body_sha256,
        )
    };

    // Each single change is refused; none of them burns the nonce.
    let other_body = keyward_core::signing::body_sha256(b"{\"amount\":43}");
    let changed_timestamp = signed.authorization.replace(
        &format!("Timestamp={now}"),
        &format!("Timestamp={}", now + 1),
    );
    let changed_nonce = signed
        .authorization
        .replace("nonce-0000000000000001", "nonce-0000000000000002");
    for (what, request) in [
        (
            "method",
            hmac_request(
                &signed.authorization,
                "PUT",
                "/v1/invoices",
                "b=2&a=1",
                &signed.body_sha256,
            ),
        ),
        (
            "path",
            hmac_request(
                &signed.authorization,
                "POST",
                "/v1/invoice",
                "b=2&a=1",
                &signed.body_sha256,
            ),
        ),
        (
            "query",
            hmac_request(
                &signed.authorization,
                "POST",
                "/v1/invoices",
                "b=3&a=1",
                &signed.body_sha256,
            ),
        ),
        (
            "body",
            hmac_request(
                &signed.authorization,
                "POST",
                "/v1/invoices",
                "b=2&a=1",
                &other_body,
            ),
        ),
        (
            "timestamp",
            hmac_request(
                &changed_timestamp,
                "POST",
                "/v1/invoices",
                "b=2&a=1",
                &signed.body_sha256,
            ),
        ),
        (
            "nonce",
            hmac_request(
                &changed_nonce,
                "POST",
                "/v1/invoices",
                "b=2&a=1",
                &signed.body_sha256,
            ),
        ),
        (
            "garbage header",
            hmac_request(
                "KEYWARD-HMAC-SHA256 nonsense",
                "POST",
                "/v1/invoices",
                "",
                &signed.body_sha256,
            ),
        ),
    ] {
        let decision = verify_hmac(&w.gateway, request).await;
        assert_refused(&decision, pb::decision::Reason::Invalid);
        assert!(decision.principal.is_empty(), "{what}: nothing identified");
    }

    // The signed request itself verifies, with the query in any order.
    let decision = verify_hmac(&w.gateway, request()).await;
    assert_valid(&decision, 1);
    assert_eq!(decision.principal, name);
    assert_eq!(decision.client_id, client_id);
    // API-set scoping applies to signed requests too (a fresh nonce each time).
    let scoped = |nonce: &str, api_set: &str| {
        let signed = signer
            .sign_with(now, nonce, "GET", "/v1/invoices", "", b"")
            .expect("sign");
        pb::VerifyHmacSignatureRequest {
            api_set: api_set.into(),
            ..hmac_request(
                &signed.authorization,
                "GET",
                "/v1/invoices",
                "",
                &signed.body_sha256,
            )
        }
    };
    assert_valid(
        &verify_hmac(
            &w.gateway,
            scoped("nonce-scope-00000001", "apiSets/billing"),
        )
        .await,
        1,
    );
    assert_refused(
        &verify_hmac(
            &w.gateway,
            scoped("nonce-scope-00000002", "apiSets/keyward.accounts"),
        )
        .await,
        pb::decision::Reason::ApiSetNotAllowed,
    );

    // The gateway's own mistakes are errors naming the field.
    let status = w
        .gateway
        .credentials()
        .verify_hmac_signature(hmac_request(
            &signed.authorization,
            "POST",
            "/v1/invoices",
            "",
            "abc",
        ))
        .await
        .expect_err("bad digest");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("body_sha256"), "{status:?}");

    // Renewing without grace stops the old secret's signatures at once.
    renew(&w.alice, &name, None).await;
    let late = signer
        .sign_with(now, "nonce-after-renewal-1", "GET", "/", "", b"")
        .expect("sign");
    assert_refused(
        &verify_hmac(
            &w.gateway,
            hmac_request(&late.authorization, "GET", "/", "", &late.body_sha256),
        )
        .await,
        pb::decision::Reason::Invalid,
    );
}

impl World {
    fn clock_now(&self) -> i64 {
        use keyward::clock::Clock as _;
        self.clock.now().timestamp()
    }
}

async fn the_hmac_timestamp_window_is_300_seconds_either_way(backend: Backend) {
    let w = world(backend).await;
    let (_, client_id, secret) = hmac_credential(&w, "window").await;
    let signer = HmacSigner::new(&client_id, &secret).expect("signer");
    let now = w.clock_now();
    for (n, (offset, valid)) in [(-299, true), (299, true), (-301, false), (301, false)]
        .into_iter()
        .enumerate()
    {
        let signed = signer
            .sign_with(
                now + offset,
                &format!("nonce-window-{n:08}"),
                "GET",
                "/v1/x",
                "",
                b"",
            )
            .expect("sign");
        let decision = verify_hmac(
            &w.gateway,
            hmac_request(
                &signed.authorization,
                "GET",
                "/v1/x",
                "",
                &signed.body_sha256,
            ),
        )
        .await;
        if valid {
            assert_valid(&decision, 1);
        } else {
            assert_refused(&decision, pb::decision::Reason::StaleTimestamp);
        }
    }
}

async fn a_nonce_replayed_concurrently_is_accepted_exactly_once(backend: Backend) {
    let w = world(backend).await;
    let (_, client_id, secret) = hmac_credential(&w, "replay").await;
    let signer = HmacSigner::new(&client_id, &secret).expect("signer");
    let signed = signer
        .sign_with(
            w.clock_now(),
            "nonce-replayed-000001",
            "DELETE",
            "/v1/orders/7",
            "",
            b"",
        )
        .expect("sign");
    let request = hmac_request(
        &signed.authorization,
        "DELETE",
        "/v1/orders/7",
        "",
        &signed.body_sha256,
    );
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let gateway = w.gateway.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(
            async move { verify_hmac(&gateway, request).await },
        ));
    }
    let mut accepted = 0;
    for task in tasks {
        let decision = task.await.expect("task");
        if decision.valid {
            accepted += 1;
        } else {
            assert_refused(&decision, pb::decision::Reason::ReplayedNonce);
        }
    }
    assert_eq!(
        accepted, 1,
        "exactly one of the concurrent replays is accepted"
    );
    assert_refused(
        &verify_hmac(&w.gateway, request).await,
        pb::decision::Reason::ReplayedNonce,
    );
}

async fn concurrent_renewals_leave_exactly_one_current_secret(backend: Backend) {
    let w = world(backend).await;
    let created = create(
        &w.alice,
        new_credential("Busy", "busy@acme.example", pb::credential::Scheme::Basic),
        "busy",
    )
    .await
    .expect("create");
    let name = created.credential.expect("credential").name;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let alice = w.alice.clone();
        let name = name.clone();
        tasks.push(tokio::spawn(
            async move { renew(&alice, &name, None).await },
        ));
    }
    let mut secrets = Vec::new();
    let mut versions = Vec::new();
    for task in tasks {
        let renewed = task.await.expect("task");
        // Each answer names its own version and shows the credential as it left it.
        let shown = renewed.credential.expect("credential");
        assert_eq!(
            shown.secret_versions.first().map(|v| v.version),
            Some(renewed.secret_version),
            "{shown:?}"
        );
        versions.push(renewed.secret_version);
        secrets.push(renewed.client_secret);
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=13).collect::<Vec<_>>(), "one version each");
    let mut valid = 0;
    for secret in &secrets {
        if verify(&w.gateway, "acme-busy", secret, "").await.valid {
            valid += 1;
        }
    }
    assert_eq!(valid, 1, "exactly one of the renewed secrets is current");
    let credential = w
        .alice
        .credentials()
        .get_credential(pb::GetCredentialRequest { name })
        .await
        .expect("get")
        .into_inner()
        .credential
        .expect("credential");
    assert_eq!(credential.secret_versions.len(), 1);
    assert_eq!(credential.secret_versions[0].version, 13);
}

async fn a_client_credential_authenticates_with_basic_until_disabled(backend: Backend) {
    let w = world(backend).await;
    let created = create(
        &w.alice,
        new_credential("Gateway", "gw@acme.example", pb::credential::Scheme::Basic),
        "gateway",
    )
    .await
    .expect("create");
    let credential = created.credential.expect("credential");
    let as_client = Client::builder(&w.app.url)
        .basic(&credential.client_id, &created.client_secret)
        .connect()
        .await
        .expect("connect");
    // It holds keyward.verify: it may verify, and nothing else.
    let decision = verify(
        &as_client,
        &credential.client_id,
        &created.client_secret,
        "",
    )
    .await;
    assert_valid(&decision, 1);
    let status = as_client
        .api_keys()
        .list_api_sets(pb::ListApiSetsRequest::default())
        .await
        .expect_err("not its API set");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // The version's last-used time shows (written in the background).
    let mut seen = false;
    for _ in 0..50 {
        let got = w
            .alice
            .credentials()
            .get_credential(pb::GetCredentialRequest {
                name: credential.name.clone(),
            })
            .await
            .expect("get")
            .into_inner()
            .credential
            .expect("credential");
        if got.secret_versions[0].last_used_time.is_some() {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "last-used time recorded");

    w.alice
        .credentials()
        .disable_credential(pb::DisableCredentialRequest {
            name: credential.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("disable");
    let status = verify_result(&as_client, &credential.client_id, &created.client_secret)
        .await
        .expect_err("disabled");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

async fn verify_result(
    client: &Client,
    client_id: &str,
    secret: &str,
) -> Result<pb::VerifyClientSecretResponse, tonic::Status> {
    client
        .credentials()
        .verify_client_secret(pb::VerifyClientSecretRequest {
            client_id: client_id.into(),
            client_secret: secret.into(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn failed_verifications_are_audited_as_counts(backend: Backend) {
    let w = world(backend).await;
    let created = create(
        &w.alice,
        new_credential(
            "Target",
            "target@acme.example",
            pb::credential::Scheme::Basic,
        ),
        "target",
    )
    .await
    .expect("create");
    let name = created.credential.expect("credential").name;
    for _ in 0..7 {
        let wrong = Key::generate(keyward_core::key::KeyKind::ClientSecret).expect("key");
        let wrong = secrecy::ExposeSecret::expose_secret(&wrong.to_token()).to_owned();
        let decision = verify(&w.gateway, "acme-target", &wrong, "").await;
        assert_refused(&decision, pb::decision::Reason::Invalid);
    }
    w.app.state.failures.flush(&w.app.state.store).await;
    let events = w
        .alice
        .accounts()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    let failures: Vec<_> = events
        .iter()
        .filter(|e| e.resource == name && e.method.ends_with("VerifyClientSecret"))
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "one row for seven failures: {failures:#?}"
    );
    assert!(
        failures[0]
            .detail
            .contains("7 failed verification attempts: REASON_INVALID"),
        "{:?}",
        failures[0].detail
    );
    assert_eq!(failures[0].count, 7, "the row counts the attempts");
}

async fn credentials_are_listed_filtered_and_updated(backend: Backend) {
    let w = world(backend).await;
    for (n, scheme) in [
        pb::credential::Scheme::Basic,
        pb::credential::Scheme::Hmac,
        pb::credential::Scheme::Basic,
    ]
    .into_iter()
    .enumerate()
    {
        create(
            &w.alice,
            new_credential(&format!("C{n}"), &format!("c{n}@acme.example"), scheme),
            &format!("c-{n}"),
        )
        .await
        .expect("create");
    }
    let list = |page_size: i32, page_token: String, scheme: i32| {
        let alice = w.alice.clone();
        async move {
            alice
                .credentials()
                .list_credentials(pb::ListCredentialsRequest {
                    parent: "accounts/acme".into(),
                    page_size,
                    page_token,
                    state: 0,
                    scheme,
                })
                .await
                .expect("list")
                .into_inner()
        }
    };
    let first = list(2, String::new(), 0).await;
    assert_eq!(first.credentials.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let rest = list(2, first.next_page_token.clone(), 0).await;
    assert_eq!(rest.credentials.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let hmac = list(0, String::new(), pb::credential::Scheme::Hmac as i32).await;
    assert_eq!(hmac.credentials.len(), 1);
    assert_eq!(hmac.credentials[0].client_id, "acme-c-1");

    let target = first.credentials[0].clone();
    let updated = w
        .alice
        .credentials()
        .update_credential(pb::UpdateCredentialRequest {
            credential: Some(pb::Credential {
                name: target.name.clone(),
                display_name: "Renamed".into(),
                api_sets: vec!["apiSets/keyward.verify".into()],
                etag: target.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into(), "api_sets".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner()
        .credential
        .expect("credential");
    assert_eq!(updated.display_name, "Renamed");
    assert_eq!(updated.api_sets, ["apiSets/keyward.verify"]);
    assert_eq!(updated.application, target.application, "not in the mask");
    assert_ne!(updated.etag, target.etag);
    let stale = w
        .alice
        .credentials()
        .update_credential(pb::UpdateCredentialRequest {
            credential: Some(pb::Credential {
                name: target.name.clone(),
                display_name: "Again".into(),
                etag: target.etag,
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let immutable = w
        .alice
        .credentials()
        .update_credential(pb::UpdateCredentialRequest {
            credential: Some(pb::Credential {
                name: target.name,
                contact_email: "new@acme.example".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["contact_email".into()],
            }),
        })
        .await
        .expect_err("immutable");
    assert_eq!(immutable.code(), Code::InvalidArgument, "{immutable:?}");
}

async fn the_database_holds_no_secret_in_clear(backend: Backend) {
    let w = world(backend).await;
    let mut secrets = Vec::new();
    for (n, scheme) in [pb::credential::Scheme::Basic, pb::credential::Scheme::Hmac]
        .into_iter()
        .enumerate()
    {
        let created = create(
            &w.alice,
            new_credential(&format!("D{n}"), &format!("d{n}@acme.example"), scheme),
            &format!("dump-{n}"),
        )
        .await
        .expect("create");
        let name = created.credential.expect("credential").name;
        secrets.push(created.client_secret);
        secrets.push(
            renew(&w.alice, &name, Some(Duration::hours(1)))
                .await
                .client_secret,
        );
    }
    secrets.extend(w.app.operator_key.clone());
    let dump = crate::helpers::dump_database(w.app.database()).await;
    assert!(dump.len() > 1000, "the dump has content");
    let dump_text = String::from_utf8_lossy(&dump);
    assert!(
        dump_text.contains("acme-dump-1"),
        "the dump holds the credentials"
    );
    for secret in &secrets {
        assert_hides(&dump, secret, "the database dump");
        let key = Key::parse(secret).expect("a key");
        let raw = key.expose_secret();
        assert!(
            !dump.windows(raw.len()).any(|w| w == raw),
            "the dump holds raw secret bytes"
        );
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dump_text.contains(&hex), "the dump holds a hex secret");
    }
}

/// What a client whose renewal answer was lost gets when it retries with the same request
/// ID: the renewal is found done (it committed with its request-ID record), no second
/// renewal happens and no secret is handed out again; the previous secret keeps verifying
/// for the grace period, so renewing again with a secret it holds is all it takes.
async fn a_renewal_whose_answer_is_lost_is_found_done_by_its_retry_and_the_previous_secret_carries_on(
    backend: Backend,
) {
    let w = world(backend).await;
    let created = create(
        &w.alice,
        new_credential("Export", "ops@acme.example", pb::credential::Scheme::Basic),
        "lost",
    )
    .await
    .expect("create");
    let credential = created.credential.expect("a credential");
    let first = created.client_secret;
    let renewal = pb::RenewCredentialSecretRequest {
        name: credential.name.clone(),
        grace_period: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        request_id: "renew-lost-1".into(),
        etag: String::new(),
    };
    // The first answer is lost on its way back.
    let lost = w
        .alice
        .credentials()
        .renew_credential_secret(renewal.clone())
        .await
        .expect("renewed")
        .into_inner();
    assert_eq!(lost.secret_version, 2);
    let retry = w
        .alice
        .credentials()
        .renew_credential_secret(renewal)
        .await
        .expect("the retry is answered")
        .into_inner();
    assert!(retry.client_secret.is_empty(), "a secret is shown once");
    assert_eq!(retry.secret_version, 0, "no version handed over");
    let shown = retry.credential.expect("the credential");
    let versions: Vec<i32> = shown.secret_versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![2, 1], "one renewal, not two");
    let decision = verify(&w.gateway, &credential.client_id, &first, "").await;
    assert!(
        decision.valid,
        "the previous secret carries on: {decision:?}"
    );
    // Renewing again gives the client a secret it holds.
    let again = renew(&w.alice, &credential.name, None).await;
    assert_eq!(again.secret_version, 3);
    assert!(
        verify(&w.gateway, &credential.client_id, &again.client_secret, "")
            .await
            .valid
    );
}
