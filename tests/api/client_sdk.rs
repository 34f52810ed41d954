//! The high-level API of `keyward-client` against the real server: the flows
//! a platform and a gateway walk (accounts, credentials, API keys), streams
//! over every page, and the typed errors callers match on.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use keyward_client::hmac::HmacSigner;
use keyward_client::proto as pb;
use keyward_client::{ClientError, HmacRequest, NewApiKey, NewCredential, Scope};
use secrecy::ExposeSecret as _;

use crate::helpers::{Backend, spawn_app};

on_every_backend!(
    the_high_level_api_walks_accounts_credentials_and_api_keys,
    streams_walk_every_page,
    errors_arrive_typed_with_their_reason_and_fields,
);

async fn the_high_level_api_walks_accounts_credentials_and_api_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let operator = &app.operator;

    let created = operator
        .create_account("acme", "Acme", "Alice", "alice@acme.example")
        .await
        .expect("the operator creates acme");
    assert_eq!(created.account.name, "accounts/acme");
    assert!(!created.account.verified);
    assert!(!format!("{created:?}").contains(created.administrator_api_key.expose_secret()));
    let account = operator
        .verify_account("accounts/acme")
        .await
        .expect("the operator verifies acme");
    assert!(account.verified);
    assert!(
        operator
            .get_account("accounts/acme")
            .await
            .unwrap()
            .verified
    );
    operator
        .create_api_set("billing", "Billing", ["/billing.v1.Invoices/List"])
        .await
        .expect("the operator creates an API set");
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;

    // A credential, created once even when its request is sent twice.
    let new = NewCredential::new(
        "accounts/acme",
        "billing-export",
        "Billing export",
        "billing",
        "ops@acme.example",
    )
    .api_sets(["apiSets/billing"])
    .description("nightly export")
    .request_id("6b1f2a9e-billing-export");
    let first = alice.create_credential(new.clone()).await.unwrap();
    let again = alice.create_credential(new).await.unwrap();
    assert_eq!(again.credential.name, first.credential.name);
    assert!(again.client_secret.expose_secret().is_empty());
    let name = first.credential.name.clone();
    let client_id = first.credential.client_id.clone();
    assert_eq!(client_id, "acme-billing-export");
    let first_secret = first.client_secret.expose_secret().to_owned();
    assert!(!format!("{first:?}").contains(&first_secret));

    let billing = || Scope::ApiSet("apiSets/billing".into());
    let decision = alice
        .verify_client_secret(&client_id, &first_secret, billing())
        .await
        .unwrap();
    assert!(decision.valid, "{decision:?}");
    assert_eq!(decision.secret_version, 1);

    // Renewal with a grace period: both secrets verify.
    let renewed = alice
        .renew_secret(&name, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let second_secret = renewed.client_secret.expose_secret().to_owned();
    assert_ne!(second_secret, first_secret);
    for (secret, version) in [(&first_secret, 1), (&second_secret, 2)] {
        let decision = alice
            .verify_client_secret(&client_id, secret, billing())
            .await
            .unwrap();
        assert!(decision.valid, "{decision:?}");
        assert_eq!(decision.secret_version, version);
    }

    // Disabled, it stops verifying; enabled, it verifies again.
    let disabled = alice.disable_credential(&name).await.unwrap();
    assert_eq!(disabled.state(), pb::credential::State::Disabled);
    let decision = alice
        .verify_client_secret(&client_id, &second_secret, Scope::Any)
        .await
        .unwrap();
    assert!(!decision.valid);
    assert_eq!(decision.reason(), pb::decision::Reason::Disabled);
    alice.enable_credential(&name).await.unwrap();
    let renamed = alice
        .update_credential_display_name(&name, "Billing export (new)")
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Billing export (new)");
    assert_eq!(
        alice.get_credential(&name).await.unwrap().display_name,
        "Billing export (new)"
    );

    // An API key for the caller, verified, then revoked.
    let key = alice
        .create_api_key(
            NewApiKey::new("ci", ["apiSets/billing"])
                .description("the CI pipeline")
                .ttl(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert!(!format!("{key:?}").contains(key.key.expose_secret()));
    let decision = alice
        .verify_api_key(key.key.expose_secret(), Some("apiSets/billing"))
        .await
        .unwrap();
    assert!(decision.valid, "{decision:?}");
    let decision = alice
        .verify_api_key(key.key.expose_secret(), Some("apiSets/keyward.accounts"))
        .await
        .unwrap();
    assert_eq!(decision.reason(), pb::decision::Reason::ApiSetNotAllowed);
    let revoked = alice.revoke_api_key(&key.api_key.name).await.unwrap();
    assert_eq!(revoked.state(), pb::api_key::State::Revoked);
    let decision = alice
        .verify_api_key(key.key.expose_secret(), None)
        .await
        .unwrap();
    assert!(!decision.valid);
    assert_eq!(
        alice.get_api_key(&key.api_key.name).await.unwrap().state(),
        pb::api_key::State::Revoked
    );
    alice.delete_api_key(&key.api_key.name).await.unwrap();

    // An HMAC credential: a request signed with the client crate's signer
    // verifies once; the same signature replayed does not.
    let hmac = alice
        .create_credential(
            NewCredential::new(
                "accounts/acme",
                "invoice-signer",
                "Invoice signer",
                "billing",
                "signer@acme.example",
            )
            .scheme(pb::credential::Scheme::Hmac)
            .api_sets(["apiSets/billing"]),
        )
        .await
        .unwrap();
    let signer = HmacSigner::new(
        &hmac.credential.client_id,
        hmac.client_secret.expose_secret(),
    )
    .unwrap();
    let signed = signer
        .sign("POST", "/v1/invoices", "", br#"{"amount":42}"#)
        .unwrap();
    let request = HmacRequest {
        authorization: &signed.authorization,
        http_method: "POST",
        path: "/v1/invoices",
        query: "",
        body_sha256: &signed.body_sha256,
    };
    let decision = alice
        .verify_hmac_signature(request, billing())
        .await
        .unwrap();
    assert!(decision.valid, "{decision:?}");
    assert_eq!(decision.client_id, hmac.credential.client_id);
    let decision = alice
        .verify_hmac_signature(request, billing())
        .await
        .unwrap();
    assert_eq!(decision.reason(), pb::decision::Reason::ReplayedNonce);

    // Deleted, it is gone.
    alice.delete_credential(&name).await.unwrap();
    assert!(matches!(
        alice.get_credential(&name).await,
        Err(ClientError::NotFound { .. })
    ));

    let events: Vec<_> = alice
        .list_audit_events_stream("accounts/acme", 3)
        .try_collect()
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.method.ends_with("RenewCredentialSecret")),
        "{events:?}"
    );
}

async fn streams_walk_every_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .operator
        .create_account("acme", "Acme", "Alice", "alice@acme.example")
        .await
        .unwrap();
    app.operator.verify_account("accounts/acme").await.unwrap();
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;
    for i in 0..5 {
        alice
            .create_credential(
                NewCredential::new(
                    "accounts/acme",
                    format!("client-{i}"),
                    format!("Client {i}"),
                    "billing",
                    format!("ops-{i}@acme.example"),
                )
                .api_sets(["apiSets/keyward.verify"]),
            )
            .await
            .unwrap();
    }

    let mut client_ids: Vec<String> = alice
        .list_credentials_stream("accounts/acme", 2)
        .map_ok(|c| c.client_id)
        .try_collect()
        .await
        .unwrap();
    client_ids.sort();
    assert_eq!(
        client_ids,
        (0..5)
            .map(|i| format!("acme-client-{i}"))
            .collect::<Vec<_>>()
    );

    for id in ["bob", "carol", "dave"] {
        alice
            .create_user(
                "accounts/acme",
                id,
                id,
                &format!("{id}@acme.example"),
                Vec::<String>::new(),
            )
            .await
            .unwrap();
    }
    let users: Vec<_> = alice
        .list_users_stream("accounts/acme", 1)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 4, "alice and three more: {users:?}");

    let role = alice
        .create_role(
            "accounts/acme",
            "auditor",
            "Auditor",
            &[pb::Authority::ViewAuditLog],
        )
        .await
        .unwrap();
    let roles: Vec<_> = alice
        .list_roles_stream("accounts/acme", 1)
        .try_collect()
        .await
        .unwrap();
    assert!(roles.iter().any(|r| r.name == role.name), "{roles:?}");
    assert!(roles.len() >= 2, "{roles:?}");

    let accounts: Vec<_> = app
        .operator
        .list_accounts_stream(1)
        .try_collect()
        .await
        .unwrap();
    assert!(accounts.iter().any(|a| a.name == "accounts/acme"));
    assert!(accounts.len() >= 2, "the operator account and acme");

    let api_sets: Vec<_> = alice.list_api_sets_stream(1).try_collect().await.unwrap();
    assert!(
        api_sets
            .iter()
            .any(|s| s.name == "apiSets/keyward.credentials"),
        "{api_sets:?}"
    );

    for i in 0..3 {
        alice
            .create_api_key(NewApiKey::new(
                format!("key {i}"),
                ["apiSets/keyward.verify"],
            ))
            .await
            .unwrap();
    }
    let keys: Vec<_> = alice
        .list_api_keys_stream("users/me", 1)
        .try_collect()
        .await
        .unwrap();
    assert!(keys.len() >= 3, "{keys:?}");
}

async fn errors_arrive_typed_with_their_reason_and_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .operator
        .create_account("acme", "Acme", "Alice", "alice@acme.example")
        .await
        .unwrap();
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;

    // An unverified account may not create credentials.
    let err = alice
        .create_credential(
            NewCredential::new(
                "accounts/acme",
                "too-early",
                "Too early",
                "billing",
                "ops@acme.example",
            )
            .api_sets(["apiSets/keyward.verify"]),
        )
        .await
        .expect_err("acme is not verified");
    assert!(
        matches!(&err, ClientError::FailedPrecondition { reason, .. } if reason == "ACCOUNT_NOT_VERIFIED"),
        "{err:?}"
    );

    let err = alice
        .get_credential("accounts/acme/credentials/nothing-here")
        .await
        .expect_err("no such credential");
    assert!(matches!(err, ClientError::NotFound { .. }), "{err:?}");

    let err = alice
        .list_credentials_stream("accounts/acme", -1)
        .try_collect::<Vec<_>>()
        .await
        .expect_err("a negative page size");
    match err {
        ClientError::InvalidArgument { violations, .. } => {
            assert!(
                violations.iter().any(|v| v.field == "page_size"),
                "{violations:?}"
            );
        }
        other => panic!("not InvalidArgument: {other:?}"),
    }

    let err = alice
        .verify_account("accounts/acme")
        .await
        .expect_err("only operators verify accounts");
    assert!(
        matches!(&err, ClientError::PermissionDenied { reason, .. } if reason == "PERMISSION_DENIED"),
        "{err:?}"
    );

    let narrow = alice
        .create_api_key(NewApiKey::new("verify only", ["apiSets/keyward.verify"]))
        .await
        .unwrap();
    let gateway = app.client_with_key(narrow.key.expose_secret()).await;
    let err = gateway
        .get_account("accounts/acme")
        .await
        .expect_err("the key lacks keyward.accounts");
    assert!(
        matches!(&err, ClientError::PermissionDenied { reason, .. } if reason == "API_SET_NOT_ALLOWED"),
        "{err:?}"
    );

    let err = app
        .client
        .get_account("accounts/acme")
        .await
        .expect_err("no credential");
    assert!(
        matches!(err, ClientError::Unauthenticated { .. }),
        "{err:?}"
    );
}
