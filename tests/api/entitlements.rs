//! Entitlements: operators decide which platform API sets each account may use. Keys and
//! credentials can be granted only those; taking one away stops that account's keys and
//! credentials from being valid for it at once, and giving it back re-grants nothing that
//! was never granted. (That the refusal reaches a second server instance is proven with the
//! other changes, in `verification.rs`.)

use keyward_client::Client;
use keyward_client::proto::{
    self as pb, Account, CreateAccountRequest, CreateApiKeyRequest, CreateApiSetRequest,
    CreateCredentialRequest, UpdateAccountRequest, UpdateCredentialRequest, User,
    VerifyApiKeyRequest, VerifyClientSecretRequest, decision::Reason,
};
use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt;

use crate::accounts::{create_account, entitle};
use crate::helpers::{Backend, TestApp, spawn_app};

on_every_backend!(
    granting_an_unentitled_api_set_is_refused_with_a_reason_that_says_so,
    taking_an_entitlement_away_refuses_only_that_accounts_keys_and_giving_it_back_regrants_nothing_new,
    only_operators_set_entitlements_and_only_to_platform_api_sets,
    the_api_sets_available_to_a_caller_are_the_entitled_ones_it_may_grant,
);

fn sets(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| format!("apiSets/{id}")).collect()
}

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.to_owned()],
    })
}

fn reason_of(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

async fn create_api_set(app: &TestApp, id: &str) {
    app.operator
        .api_keys()
        .create_api_set(CreateApiSetRequest {
            api_set: Some(pb::ApiSet {
                display_name: id.to_owned(),
                methods: vec![format!("/{id}.v1.Service/Call")],
                ..Default::default()
            }),
            api_set_id: id.to_owned(),
        })
        .await
        .expect("create api set");
}

/// An account `id` whose administrator `admin` is verified (so it may hold credentials);
/// the administrator's client.
async fn tenant(app: &TestApp, id: &str, admin: &str) -> Client {
    let key = create_account(app, id, admin).await;
    app.operator
        .accounts()
        .verify_account(pb::VerifyAccountRequest {
            name: format!("accounts/{id}"),
            etag: String::new(),
        })
        .await
        .expect("verify the account");
    app.client_with_key(&key).await
}

async fn create_key(owner: &Client, api_sets: &[&str]) -> Result<String, tonic::Status> {
    Ok(owner
        .api_keys()
        .create_api_key(CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "key".into(),
                api_sets: sets(api_sets),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .key)
}

async fn create_credential(
    admin: &Client,
    account: &str,
    api_sets: &[&str],
) -> Result<pb::CreateCredentialResponse, tonic::Status> {
    Ok(admin
        .credentials()
        .create_credential(CreateCredentialRequest {
            parent: format!("accounts/{account}"),
            identifier: format!("export-{}", api_sets.join("-").replace('.', "-")),
            credential: Some(pb::Credential {
                display_name: "Export".into(),
                contact_email: format!("export@{account}.example"),
                application: "export".into(),
                scheme: pb::credential::Scheme::Basic as i32,
                api_sets: sets(api_sets),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner())
}

async fn verify_key(gateway: &Client, key: &str, api_set: &str) -> pb::Decision {
    gateway
        .api_keys()
        .verify_api_key(VerifyApiKeyRequest {
            key: key.to_owned(),
            api_set: format!("apiSets/{api_set}"),
            api_method: String::new(),
        })
        .await
        .expect("verification answers")
        .into_inner()
        .decision
        .expect("a decision")
}

async fn verify_secret(
    gateway: &Client,
    created: &pb::CreateCredentialResponse,
    api_set: &str,
) -> pb::Decision {
    gateway
        .credentials()
        .verify_client_secret(VerifyClientSecretRequest {
            client_id: created.credential.as_ref().unwrap().client_id.clone(),
            client_secret: created.client_secret.clone(),
            api_set: format!("apiSets/{api_set}"),
            ..Default::default()
        })
        .await
        .expect("verification answers")
        .into_inner()
        .decision
        .expect("a decision")
}

fn refused_for_api_set(decision: &pb::Decision) -> bool {
    !decision.valid && decision.reason == Reason::ApiSetNotAllowed as i32
}

async fn granting_an_unentitled_api_set_is_refused_with_a_reason_that_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    for id in ["billing", "reports"] {
        create_api_set(&app, id).await;
    }
    let alice = tenant(&app, "acme", "alice").await;
    let acme = entitle(&app, "acme", &["billing"]).await;
    assert_eq!(acme.entitled_api_sets, sets(&["billing"]));

    create_key(&alice, &["billing"])
        .await
        .expect("an entitled set is granted");
    create_key(&alice, &["keyward.verify"])
        .await
        .expect("built-in sets are not entitlements");
    let refused = create_key(&alice, &["billing", "reports"])
        .await
        .expect_err("reports is not an entitlement of acme");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason_of(&refused), "API_SET_NOT_ENTITLED");
    assert!(
        refused.message().contains("acme") && refused.message().contains("reports"),
        "the message names the account and the set: {}",
        refused.message()
    );

    let refused = create_credential(&alice, "acme", &["reports"])
        .await
        .expect_err("credentials follow the same rule");
    assert_eq!(reason_of(&refused), "API_SET_NOT_ENTITLED", "{refused:?}");
    let created = create_credential(&alice, "acme", &["billing"])
        .await
        .expect("an entitled set is granted to a credential");
    let refused = alice
        .credentials()
        .update_credential(UpdateCredentialRequest {
            credential: Some(pb::Credential {
                name: created.credential.unwrap().name,
                api_sets: sets(&["reports"]),
                ..Default::default()
            }),
            update_mask: mask("api_sets"),
        })
        .await
        .expect_err("nor can a credential be moved to an unentitled set");
    assert_eq!(reason_of(&refused), "API_SET_NOT_ENTITLED", "{refused:?}");

    // The operator account is entitled to every set.
    let operator_key = create_key(&app.operator, &["reports"]).await;
    assert!(operator_key.is_ok(), "{operator_key:?}");
}

async fn taking_an_entitlement_away_refuses_only_that_accounts_keys_and_giving_it_back_regrants_nothing_new(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    for id in ["billing", "reports"] {
        create_api_set(&app, id).await;
    }
    let alice = tenant(&app, "acme", "alice").await;
    let gina = tenant(&app, "globex", "gina").await;
    entitle(&app, "acme", &["billing"]).await;
    entitle(&app, "globex", &["billing"]).await;
    let acme_key = create_key(&alice, &["billing"]).await.unwrap();
    let acme_credential = create_credential(&alice, "acme", &["billing"])
        .await
        .unwrap();
    let globex_key = create_key(&gina, &["billing"]).await.unwrap();
    let gateway = app
        .client_with_key(&create_key(&alice, &["keyward.verify"]).await.unwrap())
        .await;

    let before = verify_key(&gateway, &acme_key, "billing").await;
    assert!(before.valid, "{before:?}");
    assert_eq!(before.api_sets, sets(&["billing"]));
    assert!(
        verify_secret(&gateway, &acme_credential, "billing")
            .await
            .valid
    );
    assert!(verify_key(&gateway, &globex_key, "billing").await.valid);

    entitle(&app, "acme", &[]).await;
    let after = verify_key(&gateway, &acme_key, "billing").await;
    assert!(refused_for_api_set(&after), "refused at once: {after:?}");
    assert!(after.api_sets.is_empty(), "{after:?}");
    let secret = verify_secret(&gateway, &acme_credential, "billing").await;
    assert!(refused_for_api_set(&secret), "{secret:?}");
    assert!(secret.api_sets.is_empty(), "{secret:?}");
    let validity = gateway
        .api_keys()
        .verify_api_key(VerifyApiKeyRequest {
            key: acme_key.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert!(
        validity.valid,
        "the key itself is still valid: {validity:?}"
    );
    let other = verify_key(&gateway, &globex_key, "billing").await;
    assert!(other.valid, "another account is unaffected: {other:?}");

    entitle(&app, "acme", &["billing", "reports"]).await;
    let back = verify_key(&gateway, &acme_key, "billing").await;
    assert!(back.valid, "valid again for what it was granted: {back:?}");
    assert_eq!(back.api_sets, sets(&["billing"]));
    let never = verify_key(&gateway, &acme_key, "reports").await;
    assert!(
        refused_for_api_set(&never),
        "an entitlement never grants a key what it was not granted: {never:?}"
    );
    assert!(
        verify_secret(&gateway, &acme_credential, "billing")
            .await
            .valid
    );
}

async fn only_operators_set_entitlements_and_only_to_platform_api_sets(backend: Backend) {
    let app = spawn_app(backend).await;
    create_api_set(&app, "billing").await;
    let update = |name: &str, api_sets: Vec<String>| UpdateAccountRequest {
        account: Some(Account {
            name: name.to_owned(),
            entitled_api_sets: api_sets,
            ..Default::default()
        }),
        update_mask: mask("entitled_api_sets"),
    };

    // At creation, by the operator.
    let created = app
        .operator
        .accounts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: "Acme".into(),
                entitled_api_sets: sets(&["billing", "billing"]),
                ..Default::default()
            }),
            account_id: "acme".into(),
            administrator: Some(User {
                display_name: "Alice".into(),
                email: "alice@acme.example".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create an entitled account")
        .into_inner();
    let account = created.account.unwrap();
    assert_eq!(account.entitled_api_sets, sets(&["billing"]));
    let alice = app.client_with_key(&created.administrator_api_key).await;
    let read = alice
        .accounts()
        .get_account(pb::GetAccountRequest {
            name: "accounts/acme".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        read.entitled_api_sets,
        sets(&["billing"]),
        "listed on the account"
    );

    // An administrator renames their account but cannot entitle it.
    let denied = alice
        .accounts()
        .update_account(update("accounts/acme", vec![]))
        .await
        .expect_err("administrators do not set entitlements");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("entitled_api_sets"), "{denied:?}");

    let builtin = app
        .operator
        .accounts()
        .update_account(update("accounts/acme", sets(&["keyward.accounts"])))
        .await
        .expect_err("built-in sets are not entitlements");
    assert_eq!(builtin.code(), Code::InvalidArgument, "{builtin:?}");

    let unknown = app
        .operator
        .accounts()
        .update_account(update("accounts/acme", sets(&["nope"])))
        .await
        .expect_err("an unknown set");
    assert_eq!(unknown.code(), Code::FailedPrecondition, "{unknown:?}");
    assert!(unknown.message().contains("nope"), "{unknown:?}");

    let operator = app
        .operator
        .accounts()
        .update_account(update("accounts/operator", sets(&["billing"])))
        .await
        .expect_err("the operator account has every set");
    assert_eq!(operator.code(), Code::FailedPrecondition, "{operator:?}");

    // Conditional on the etag, and audited.
    let stale = app
        .operator
        .accounts()
        .update_account(UpdateAccountRequest {
            account: Some(Account {
                name: "accounts/acme".into(),
                etag: "\"999\"".into(),
                ..Default::default()
            }),
            update_mask: mask("entitled_api_sets"),
        })
        .await
        .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let emptied = entitle(&app, "acme", &[]).await;
    assert!(emptied.entitled_api_sets.is_empty());
    let events = alice
        .accounts()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    assert!(
        events.iter().any(|e| e.method.ends_with("/UpdateAccount")
            && e.detail.contains("entitled API sets now: none")),
        "{events:?}"
    );
}

async fn available(client: &Client, account: &str) -> Result<Vec<String>, tonic::Status> {
    Ok(client
        .api_keys()
        .list_api_sets(pb::ListApiSetsRequest {
            page_size: 1000,
            page_token: String::new(),
            available_in: account.to_owned(),
        })
        .await?
        .into_inner()
        .api_sets
        .into_iter()
        .map(|set| set.name)
        .collect())
}

async fn the_api_sets_available_to_a_caller_are_the_entitled_ones_it_may_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    for id in ["billing", "reports", "shipping"] {
        create_api_set(&app, id).await;
    }
    let alice = tenant(&app, "acme", "alice").await;
    let gina = tenant(&app, "globex", "gina").await;
    entitle(&app, "acme", &["billing", "reports"]).await;
    let builtin = [
        "keyward.accounts",
        "keyward.api-keys",
        "keyward.credentials",
        "keyward.delegation",
        "keyward.leak-reports",
        "keyward.verify",
    ];
    let everything: Vec<&str> = builtin.into_iter().chain(["billing", "reports"]).collect();
    let mut expected = sets(&everything);
    expected.sort();

    // The administrator's first key holds every built-in set: a management credential.
    assert_eq!(available(&alice, "accounts/-").await.unwrap(), expected);
    assert_eq!(available(&alice, "accounts/acme").await.unwrap(), expected);
    let catalog = available(&alice, "").await.unwrap();
    assert!(
        catalog.contains(&"apiSets/shipping".to_owned()),
        "without available_in, the whole catalog: {catalog:?}"
    );

    // A key confined to billing grants billing only, and the built-in sets it holds.
    let confined = app
        .client_with_key(
            &create_key(&alice, &["keyward.api-keys", "billing"])
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(
        available(&confined, "accounts/-").await.unwrap(),
        sets(&["billing", "keyward.api-keys"])
    );

    // Another account's: its members and operators only; permission before existence.
    for name in ["accounts/acme", "accounts/nobody"] {
        let denied = available(&gina, name)
            .await
            .expect_err("not gina's account");
        assert_eq!(denied.code(), Code::PermissionDenied, "{name}: {denied:?}");
    }
    let mut operators = sets(&["billing", "reports"]);
    operators.extend(
        available(&app.operator, "accounts/-")
            .await
            .unwrap()
            .into_iter()
            .filter(|name| name.starts_with("apiSets/keyward.")),
    );
    operators.sort();
    assert_eq!(
        available(&app.operator, "accounts/acme").await.unwrap(),
        operators
    );
    let missing = available(&app.operator, "accounts/nobody")
        .await
        .expect_err("no such account");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let malformed = available(&alice, "acme").await.expect_err("not a name");
    assert_eq!(malformed.code(), Code::InvalidArgument, "{malformed:?}");
    let globex = available(&gina, "accounts/-").await.unwrap();
    assert_eq!(globex, sets(&builtin), "globex is entitled to nothing yet");
}
