//! ApiKeyService end to end: users create keys for themselves, scoped to API
//! sets; the key is shown once; gateways verify keys and get a decision; the
//! owner's standing, revocation and expiry are judged at every verification;
//! last uses are recorded; the `.APIKEY` file round-trips.

use std::sync::Arc;
use std::time::Duration;

use keyward::clock::{Clock, ManualClock};
use keyward_client::proto::{
    self as pb, ApiKey, CreateApiKeyRequest, CreateApiKeyResponse, DeleteApiKeyRequest,
    GetApiKeyRequest, ListApiKeysRequest, ListApiSetsRequest, RevokeApiKeyRequest,
    UpdateApiKeyRequest, VerifyApiKeyRequest, api_key::State, decision::Reason,
};
use keyward_client::{ApiKeyFile, Client, KeyFileError};
use keyward_core::key::{Key, KeyKind};
use prost::Message;
use prost_types::FieldMask;
use secrecy::ExposeSecret;
use tonic::Code;
use tonic_types::StatusExt;

use crate::accounts::create_account;
use crate::helpers::{Backend, TestApp, TestDatabase, spawn_app, spawn_app_with, test_settings};

on_every_backend!(
    a_key_holder_creates_a_key_that_verifies_for_its_own_api_sets_only,
    the_key_is_shown_once_and_never_listed,
    users_without_the_authority_and_keys_for_someone_else_are_refused,
    a_narrow_key_cannot_create_a_broader_key,
    platform_api_sets_are_granted_by_management_keys_and_confinement_is_inherited,
    a_revoked_key_is_revoked_at_the_next_verification,
    an_expired_key_verifies_as_expired,
    the_owner_losing_the_authority_stops_their_keys_at_once,
    keys_are_listed_by_page_and_state_and_administrators_see_their_account,
    keys_are_renamed_and_deleted_but_never_rescoped,
    verification_requests_are_checked_and_garbage_keys_are_invalid,
    a_successful_use_records_the_last_use_time_coalesced,
    the_apikey_file_round_trips,
    concurrent_retries_of_a_create_issue_one_key,
);

/// acme with alice (administrator), kai (holds MANAGE_USER_API_KEY only) and
/// bob (VIEW_AUDIT_LOG only); globex with gina; the API sets billing,
/// reports and shipping.
struct World {
    app: TestApp,
    clock: Option<ManualClock>,
    alice: Client,
    gina: Client,
    /// Kai's first key, from an enrollment token: the management and verification sets,
    /// billing and reports.
    kai: Client,
    /// Bob's first key, from an enrollment token while he held MANAGE_USER_API_KEY, every
    /// built-in set.
    bob_key: String,
    /// A gateway: alice's key, which holds `keyward.verify`.
    gateway: Client,
}

async fn world(backend: Backend) -> World {
    world_on(spawn_app(backend).await, None).await
}

async fn world_with_clock(backend: Backend) -> World {
    let clock = ManualClock::default();
    let database = TestDatabase::create(backend).await;
    let mut settings = test_settings(&database);
    settings.clock = Arc::new(clock.clone());
    settings.last_used_interval = Duration::from_secs(60);
    world_on(spawn_app_with(database, settings).await, Some(clock)).await
}

async fn world_on(app: TestApp, clock: Option<ManualClock>) -> World {
    let alice_key = create_account(&app, "acme", "alice").await;
    let gina_key = create_account(&app, "globex", "gina").await;
    for (id, methods) in [
        (
            "billing",
            vec!["/billing.v1.Invoices/List", "/billing.v1.Invoices/Get"],
        ),
        ("reports", vec!["/reports.v1.Reports/Run"]),
        ("shipping", vec!["/shipping.v1.Parcels/Track"]),
    ] {
        app.operator
            .api_keys()
            .create_api_set(pb::CreateApiSetRequest {
                api_set: Some(pb::ApiSet {
                    display_name: id.into(),
                    methods: methods.into_iter().map(str::to_owned).collect(),
                    ..Default::default()
                }),
                api_set_id: id.into(),
            })
            .await
            .expect("create api set");
    }
    for account in ["acme", "globex"] {
        crate::accounts::entitle(&app, account, &["billing", "reports", "shipping"]).await;
    }
    let alice = app.client_with_key(&alice_key).await;
    for (role, authority) in [
        ("key-holders", pb::Authority::ManageUserApiKey),
        ("auditors", pb::Authority::ViewAuditLog),
    ] {
        alice
            .accounts()
            .create_role(pb::CreateRoleRequest {
                parent: "accounts/acme".into(),
                role: Some(pb::Role {
                    display_name: role.into(),
                    authorities: vec![authority as i32],
                    ..Default::default()
                }),
                role_id: role.into(),
            })
            .await
            .expect("create role");
    }
    // Bob starts as a key holder, to enroll, and is then an auditor only.
    for (user, role) in [("kai", "key-holders"), ("bob", "key-holders")] {
        alice
            .accounts()
            .create_user(pb::CreateUserRequest {
                parent: "accounts/acme".into(),
                user: Some(pb::User {
                    display_name: user.into(),
                    email: format!("{user}@acme.example"),
                    roles: vec![format!("accounts/acme/roles/{role}")],
                    ..Default::default()
                }),
                user_id: user.into(),
                request_id: String::new(),
            })
            .await
            .expect("create user");
    }
    let kai_key = app
        .enroll_key(
            &alice,
            "accounts/acme/users/kai",
            &["keyward.api-keys", "keyward.verify", "billing", "reports"],
        )
        .await;
    let bob_key = app
        .enroll_builtin_key(&alice, "accounts/acme/users/bob")
        .await;
    alice
        .accounts()
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                name: "accounts/acme/users/bob".into(),
                roles: vec!["accounts/acme/roles/auditors".into()],
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["roles".into()],
            }),
        })
        .await
        .expect("bob becomes an auditor only");
    World {
        kai: app.client_with_key(&kai_key).await,
        gina: app.client_with_key(&gina_key).await,
        gateway: alice.clone(),
        alice,
        bob_key,
        clock,
        app,
    }
}

fn create_request(display_name: &str, api_sets: &[&str]) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        parent: "users/me".into(),
        api_key: Some(ApiKey {
            display_name: display_name.into(),
            description: "made by a test".into(),
            api_sets: api_sets.iter().map(|s| format!("apiSets/{s}")).collect(),
            ..Default::default()
        }),
        ttl: None,
        request_id: String::new(),
    }
}

async fn create(client: &Client, display_name: &str, api_sets: &[&str]) -> CreateApiKeyResponse {
    client
        .api_keys()
        .create_api_key(create_request(display_name, api_sets))
        .await
        .expect("create api key")
        .into_inner()
}

fn resource(created: &CreateApiKeyResponse) -> ApiKey {
    created.api_key.clone().expect("the key resource")
}

/// Asks the gateway about `key`, for an API set (`apiSets/…`), a method
/// (`/…`) or nothing.
async fn verify(gateway: &Client, key: &str, asked: &str) -> pb::Decision {
    let (api_set, api_method) = match asked {
        "" => (String::new(), String::new()),
        method if method.starts_with('/') => (String::new(), method.to_owned()),
        set => (format!("apiSets/{set}"), String::new()),
    };
    gateway
        .api_keys()
        .verify_api_key(VerifyApiKeyRequest {
            key: key.to_owned(),
            api_set,
            api_method,
        })
        .await
        .expect("verification answers OK")
        .into_inner()
        .decision
        .expect("a decision")
}

fn reason_of(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
}

fn field_of(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first())
        .map(|v| v.field.clone())
}

fn sets(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| format!("apiSets/{s}")).collect()
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn list(client: &Client, parent: &str, state: State) -> Vec<ApiKey> {
    client
        .api_keys()
        .list_api_keys(ListApiKeysRequest {
            parent: parent.into(),
            page_size: 0,
            page_token: String::new(),
            state: state as i32,
        })
        .await
        .expect("list api keys")
        .into_inner()
        .api_keys
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap(),
    }
}

async fn a_key_holder_creates_a_key_that_verifies_for_its_own_api_sets_only(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "CI deploys", &["reports", "billing"]).await;
    let key = resource(&created);
    assert!(created.key.starts_with(&key.key_prefix), "the key, once");
    assert_eq!(created.suggested_file_name, "CI_deploys.APIKEY");
    assert!(key.name.starts_with("accounts/acme/users/kai/apiKeys/"));
    assert!(key.creator.starts_with("accounts/acme/users/kai/apiKeys/"));
    assert_eq!(key.api_sets, sets(&["billing", "reports"]), "sorted");
    assert_eq!(key.state(), State::Active);

    for asked in ["billing", "reports", "", "/billing.v1.Invoices/Get"] {
        let decision = verify(&w.gateway, &created.key, asked).await;
        assert!(decision.valid, "{asked}: {decision:?}");
        assert_eq!(decision.reason(), Reason::Unspecified);
        assert_eq!(decision.principal, key.name);
        assert_eq!(decision.account, "accounts/acme");
        assert_eq!(decision.user, "accounts/acme/users/kai");
        assert_eq!(decision.api_sets, sets(&["billing", "reports"]));
        assert_eq!(decision.client_id, "");
        assert_eq!(decision.expire_time, None);
    }
    // A third API set, a method of it, a method in no API set, an API set
    // that is not in the catalog: valid key, not for this.
    for asked in [
        "shipping",
        "/shipping.v1.Parcels/Track",
        "/billing.v1.Invoices/Delete",
        "nothing.like.this",
        "keyward.verify",
    ] {
        let decision = verify(&w.gateway, &created.key, asked).await;
        assert!(!decision.valid, "{asked}");
        assert_eq!(decision.reason(), Reason::ApiSetNotAllowed, "{asked}");
        assert_eq!(decision.principal, key.name, "the gateway may know whose");
        assert_eq!(decision.api_sets, sets(&["billing", "reports"]));
    }

    // The key holds none of Keyward's own API sets: it can call none of its RPCs.
    let status = w
        .app
        .client_with_key(&created.key)
        .await
        .api_keys()
        .list_api_sets(ListApiSetsRequest::default())
        .await
        .expect_err("no keyward.api-keys");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason_of(&status).as_deref(), Some("API_SET_NOT_ALLOWED"));
}

async fn the_key_is_shown_once_and_never_listed(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "deploys", &["billing"]).await;
    let key = resource(&created);
    let secret_part = created.key.rsplit('_').next().expect("a body").to_owned();
    assert!(secret_part.len() > 40);

    let listed = w
        .kai
        .api_keys()
        .list_api_keys(ListApiKeysRequest {
            parent: "users/me".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let got = w
        .kai
        .api_keys()
        .get_api_key(GetApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    let by_admin = list(&w.alice, "accounts/acme/users/-", State::Unspecified).await;
    for bytes in [
        listed.encode_to_vec(),
        got.encode_to_vec(),
        pb::ListApiKeysResponse {
            api_keys: by_admin,
            next_page_token: String::new(),
        }
        .encode_to_vec(),
    ] {
        assert!(
            !bytes
                .windows(secret_part.len())
                .any(|w| w == secret_part.as_bytes()),
            "the key's secret part appears in a response"
        );
    }
    let shown = listed
        .api_keys
        .iter()
        .find(|k| k.name == key.name)
        .expect("listed");
    assert_eq!(shown, &key, "listed as created");
    assert_eq!(got.api_key.as_ref(), Some(&key));
    let prefix = format!("kw_ak_{}", key.name.rsplit('/').next().expect("an id"));
    assert_eq!(shown.key_prefix, prefix, "recognisable, never usable");
    assert!(Key::parse(&shown.key_prefix).is_err());

    // A retry with the same request ID returns the key resource, never the key.
    let mut request = create_request("retried", &["billing"]);
    request.request_id = "7b0c3a4e-retry".into();
    let first = w
        .kai
        .api_keys()
        .create_api_key(request.clone())
        .await
        .expect("create")
        .into_inner();
    let retry = w
        .kai
        .api_keys()
        .create_api_key(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry.api_key, first.api_key);
    assert!(!first.key.is_empty());
    assert_eq!(retry.key, "", "shown once");
}

async fn users_without_the_authority_and_keys_for_someone_else_are_refused(backend: Backend) {
    let w = world(backend).await;
    // Bob holds no role granting MANAGE_USER_API_KEY: his key authenticates
    // nothing, and a gateway is told why.
    let bob = w.app.client_with_key(&w.bob_key).await;
    let status = bob
        .api_keys()
        .create_api_key(create_request("mine", &["keyward.verify"]))
        .await
        .expect_err("bob may not hold keys");
    assert_eq!(status.code(), Code::Unauthenticated);
    let decision = verify(&w.gateway, &w.bob_key, "").await;
    assert_eq!(decision.reason(), Reason::OwnerDisabled);
    assert!(
        decision.api_sets.is_empty(),
        "a refused key may use nothing"
    );

    // Nobody creates a key for someone else: not the user's administrator,
    // not another user, not an operator, not another account.
    let before = list(&w.alice, "accounts/acme/users/kai", State::Unspecified).await;
    let attempts = [
        (&w.alice, "accounts/acme/users/kai"),
        (&w.kai, "accounts/acme/users/alice"),
        (&w.app.operator, "accounts/acme/users/kai"),
        (&w.gina, "accounts/acme/users/kai"),
    ];
    for (caller, parent) in attempts {
        let mut request = create_request("for someone else", &["keyward.verify"]);
        request.parent = parent.into();
        let status = caller
            .api_keys()
            .create_api_key(request)
            .await
            .expect_err("never for someone else");
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{parent}: {status:?}"
        );
        assert_eq!(reason_of(&status).as_deref(), Some("PERMISSION_DENIED"));
    }
    let after = list(&w.alice, "accounts/acme/users/kai", State::Unspecified).await;
    let names = |keys: &[ApiKey]| keys.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(&before), "nothing was created");

    // Naming oneself in full is the same as users/me.
    let mut request = create_request("mine", &["billing"]);
    request.parent = "accounts/acme/users/kai".into();
    w.kai
        .api_keys()
        .create_api_key(request)
        .await
        .expect("kai names himself");
}

async fn a_narrow_key_cannot_create_a_broader_key(backend: Backend) {
    let w = world(backend).await;
    let narrow = create(&w.kai, "narrow", &["keyward.api-keys", "billing"]).await;
    let narrow = w.app.client_with_key(&narrow.key).await;
    let narrower = create(&narrow, "narrower", &["billing"]).await;
    assert_eq!(resource(&narrower).api_sets, sets(&["billing"]));
    for wider in [
        &["billing", "reports"][..],
        &["keyward.verify"],
        &["keyward.accounts"],
    ] {
        let status = narrow
            .api_keys()
            .create_api_key(create_request("wider", wider))
            .await
            .expect_err("not broader than the creating key");
        assert_eq!(status.code(), Code::PermissionDenied, "{wider:?}");
        assert_eq!(reason_of(&status).as_deref(), Some("API_SET_NOT_HELD"));
    }

    // A key restricted to keyward.verify verifies, and does nothing else.
    let verifier = create(&w.kai, "verifier", &["keyward.verify"]).await;
    let verifier = w.app.client_with_key(&verifier.key).await;
    assert!(verify(&verifier, &narrower.key, "billing").await.valid);
    let listing = verifier
        .api_keys()
        .list_api_keys(ListApiKeysRequest {
            parent: "users/me".into(),
            ..Default::default()
        })
        .await
        .expect_err("keyward.verify only");
    let creating = verifier
        .api_keys()
        .create_api_key(create_request("x", &["keyward.verify"]))
        .await
        .expect_err("keyward.verify only");
    for status in [listing, creating] {
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(reason_of(&status).as_deref(), Some("API_SET_NOT_ALLOWED"));
    }
}

async fn a_revoked_key_is_revoked_at_the_next_verification(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "soon revoked", &["keyward.api-keys", "billing"]).await;
    let key = resource(&created);
    // Verified once: its secret is remembered, and still the revocation counts.
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);
    let as_itself = w.app.client_with_key(&created.key).await;
    as_itself
        .api_keys()
        .list_api_sets(ListApiSetsRequest::default())
        .await
        .expect("usable before");

    let revoked = w
        .kai
        .api_keys()
        .revoke_api_key(RevokeApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .expect("revoke")
        .into_inner()
        .api_key
        .expect("the key");
    assert_eq!(revoked.state(), State::Revoked);
    assert!(revoked.revoke_time.is_some());

    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert!(!decision.valid);
    assert_eq!(decision.reason(), Reason::Revoked);
    assert_eq!(decision.principal, key.name);
    assert!(decision.api_sets.is_empty());
    let status = as_itself
        .api_keys()
        .list_api_sets(ListApiSetsRequest::default())
        .await
        .expect_err("revoked");
    assert_eq!(status.code(), Code::Unauthenticated);

    let again = w
        .kai
        .api_keys()
        .revoke_api_key(RevokeApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .expect("revoking twice succeeds")
        .into_inner()
        .api_key
        .expect("the key");
    assert_eq!(again, revoked, "and changes nothing");
}

async fn an_expired_key_verifies_as_expired(backend: Backend) {
    let w = world_with_clock(backend).await;
    let clock = w.clock.clone().expect("a manual clock");
    let mut request = create_request("an hour", &["billing"]);
    request.ttl = Some(prost_types::Duration {
        seconds: 3600,
        nanos: 0,
    });
    let created = w
        .kai
        .api_keys()
        .create_api_key(request)
        .await
        .expect("create")
        .into_inner();
    let key = resource(&created);
    let expiry = clock.now() + chrono::Duration::hours(1);
    assert_eq!(key.expire_time, Some(timestamp(expiry)));

    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert!(decision.valid);
    assert_eq!(decision.expire_time, Some(timestamp(expiry)));

    clock.advance(chrono::Duration::minutes(59));
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);
    clock.advance(chrono::Duration::minutes(1));
    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert!(!decision.valid);
    assert_eq!(decision.reason(), Reason::Expired, "at its expire time");
    assert_eq!(decision.principal, key.name);
    assert!(decision.api_sets.is_empty());

    let names = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.name).collect::<Vec<_>>();
    assert_eq!(
        names(list(&w.kai, "users/me", State::Expired).await),
        [key.name.as_str()]
    );
    assert!(!names(list(&w.kai, "users/me", State::Active).await).contains(&key.name));
    let got = w
        .kai
        .api_keys()
        .get_api_key(GetApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .api_key
        .expect("the key");
    assert_eq!(got.state(), State::Expired);
}

async fn the_owner_losing_the_authority_stops_their_keys_at_once(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "kais", &["billing"]).await;
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);

    let set_roles = |roles: &'static [&'static str]| {
        let alice = w.alice.clone();
        async move {
            alice
                .accounts()
                .update_user(pb::UpdateUserRequest {
                    user: Some(pb::User {
                        name: "accounts/acme/users/kai".into(),
                        roles: roles
                            .iter()
                            .map(|r| format!("accounts/acme/roles/{r}"))
                            .collect(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["roles"]),
                })
                .await
                .expect("update kai's roles")
        }
    };
    set_roles(&["auditors"]).await;
    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert!(!decision.valid);
    assert_eq!(decision.reason(), Reason::OwnerDisabled);
    assert!(decision.api_sets.is_empty());
    let status = w
        .kai
        .api_keys()
        .list_api_sets(ListApiSetsRequest::default())
        .await
        .expect_err("kai's own key stops too");
    assert_eq!(status.code(), Code::Unauthenticated);

    set_roles(&["key-holders"]).await;
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);

    w.alice
        .accounts()
        .disable_user(pb::DisableUserRequest {
            name: "accounts/acme/users/kai".into(),
            etag: String::new(),
        })
        .await
        .expect("disable kai");
    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert_eq!(decision.reason(), Reason::OwnerDisabled);
    w.alice
        .accounts()
        .enable_user(pb::EnableUserRequest {
            name: "accounts/acme/users/kai".into(),
            etag: String::new(),
        })
        .await
        .expect("enable kai");
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);

    w.alice
        .accounts()
        .delete_user(pb::DeleteUserRequest {
            name: "accounts/acme/users/kai".into(),
            etag: String::new(),
        })
        .await
        .expect("delete kai");
    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert_eq!(decision.reason(), Reason::Invalid, "the key went with kai");
    assert_eq!(decision.principal, "");
}

async fn keys_are_listed_by_page_and_state_and_administrators_see_their_account(backend: Backend) {
    let w = world(backend).await;
    let mut made = Vec::new();
    for name in ["one", "two", "three"] {
        made.push(resource(&create(&w.kai, name, &["billing"]).await).name);
    }
    let alices = resource(&create(&w.alice, "alices", &["keyward.verify"]).await).name;

    // Pages of two, in ID order, every key once.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = w
            .kai
            .api_keys()
            .list_api_keys(ListApiKeysRequest {
                parent: "users/me".into(),
                page_size: 2,
                page_token: token,
                state: 0,
            })
            .await
            .expect("a page")
            .into_inner();
        assert!(page.api_keys.len() <= 2);
        pages += 1;
        seen.extend(page.api_keys.into_iter().map(|k| k.name));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 4, "three made and the arranged one: {seen:?}");
    assert_eq!(pages, 2);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert!(made.iter().all(|name| seen.contains(name)));

    w.kai
        .api_keys()
        .revoke_api_key(RevokeApiKeyRequest {
            name: made[1].clone(),
        })
        .await
        .expect("revoke");
    let names = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.name).collect::<Vec<_>>();
    assert_eq!(
        names(list(&w.kai, "users/me", State::Revoked).await),
        [made[1].clone()]
    );
    assert_eq!(list(&w.kai, "users/me", State::Active).await.len(), 3);

    // Administrators list and read every key of their account, and revoke them.
    let everyone = names(list(&w.alice, "accounts/acme/users/-", State::Unspecified).await);
    assert!(everyone.contains(&alices) && made.iter().all(|n| everyone.contains(n)));
    assert_eq!(
        names(list(&w.alice, "accounts/acme/users/kai", State::Revoked).await),
        [made[1].clone()]
    );
    w.alice
        .api_keys()
        .get_api_key(GetApiKeyRequest {
            name: made[0].clone(),
        })
        .await
        .expect("an administrator reads kai's key");
    w.alice
        .api_keys()
        .revoke_api_key(RevokeApiKeyRequest {
            name: made[2].clone(),
        })
        .await
        .expect("an administrator revokes kai's key");
    // …but neither edit nor delete them.
    let update = w
        .alice
        .api_keys()
        .update_api_key(UpdateApiKeyRequest {
            api_key: Some(ApiKey {
                name: made[0].clone(),
                display_name: "renamed".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect_err("not the owner");
    let delete = w
        .alice
        .api_keys()
        .delete_api_key(DeleteApiKeyRequest {
            name: made[0].clone(),
            etag: String::new(),
        })
        .await
        .expect_err("not the owner");
    // Users see only their own; other accounts see nothing.
    let mut denied = vec![update, delete];
    for (client, parent) in [
        (&w.kai, "accounts/acme/users/-"),
        (&w.kai, "accounts/acme/users/alice"),
        (&w.gina, "accounts/acme/users/-"),
        (&w.gina, "accounts/acme/users/kai"),
    ] {
        denied.push(
            client
                .api_keys()
                .list_api_keys(ListApiKeysRequest {
                    parent: parent.into(),
                    ..Default::default()
                })
                .await
                .expect_err("not theirs"),
        );
    }
    denied.push(
        w.gina
            .api_keys()
            .get_api_key(GetApiKeyRequest {
                name: made[0].clone(),
            })
            .await
            .expect_err("not theirs"),
    );
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }

    // Bad requests name their field.
    for (request, field) in [
        (
            ListApiKeysRequest {
                parent: "users/me".into(),
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListApiKeysRequest {
                parent: "users/me".into(),
                page_token: "not a token".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            ListApiKeysRequest {
                parent: "users/me".into(),
                state: 42,
                ..Default::default()
            },
            "state",
        ),
        (
            ListApiKeysRequest {
                parent: "accounts/acme".into(),
                ..Default::default()
            },
            "parent",
        ),
    ] {
        let status = w
            .kai
            .api_keys()
            .list_api_keys(request)
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(field_of(&status).as_deref(), Some(field));
    }
}

async fn keys_are_renamed_and_deleted_but_never_rescoped(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "before", &["billing"]).await;
    let key = resource(&created);
    let update = |name: &str, display_name: &str, etag: &str, paths: &[&str]| UpdateApiKeyRequest {
        api_key: Some(ApiKey {
            name: name.into(),
            display_name: display_name.into(),
            description: "renamed by a test".into(),
            etag: etag.into(),
            api_sets: sets(&["billing", "reports"]),
            ..Default::default()
        }),
        update_mask: mask(paths),
    };
    let updated = w
        .kai
        .api_keys()
        .update_api_key(update(
            &key.name,
            "after",
            &key.etag,
            &["display_name", "description"],
        ))
        .await
        .expect("rename")
        .into_inner()
        .api_key
        .expect("the key");
    assert_eq!(updated.display_name, "after");
    assert_eq!(updated.description, "renamed by a test");
    assert_eq!(updated.api_sets, key.api_sets, "the API sets never change");
    assert_ne!(updated.etag, key.etag);
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);

    let stale = w
        .kai
        .api_keys()
        .update_api_key(update(&key.name, "again", &key.etag, &["display_name"]))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);

    for (request, field, needle) in [
        (
            update(&key.name, "after", "", &["api_sets"]),
            "update_mask",
            "create a new key",
        ),
        (
            update(&key.name, "after", "", &["expire_time"]),
            "update_mask",
            "cannot be updated",
        ),
        (
            update(&key.name, "a/b", "", &["display_name"]),
            "api_key.display_name",
            "letters, digits",
        ),
        (
            update(&key.name, "after", "", &[]),
            "update_mask",
            "at least one",
        ),
        (
            update("accounts/acme/users/kai", "x", "", &["display_name"]),
            "api_key.name",
            "apiKeys",
        ),
    ] {
        let status = w
            .kai
            .api_keys()
            .update_api_key(request)
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(field_of(&status).as_deref(), Some(field));
        assert!(status.message().contains(needle), "{status:?}");
    }

    // Someone else's key under one's own name is not found, like a missing one.
    let alices = resource(&create(&w.alice, "alices", &["keyward.verify"]).await);
    let id = alices.name.rsplit('/').next().expect("an id");
    let disguised = format!("accounts/acme/users/kai/apiKeys/{id}");
    let status = w
        .kai
        .api_keys()
        .get_api_key(GetApiKeyRequest {
            name: disguised.clone(),
        })
        .await
        .expect_err("not kai's");
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains(&disguised), "{status:?}");

    let stale = w
        .kai
        .api_keys()
        .delete_api_key(DeleteApiKeyRequest {
            name: key.name.clone(),
            etag: key.etag.clone(),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    w.kai
        .api_keys()
        .delete_api_key(DeleteApiKeyRequest {
            name: key.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .expect("delete");
    let gone = w
        .kai
        .api_keys()
        .get_api_key(GetApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    let again = w
        .kai
        .api_keys()
        .delete_api_key(DeleteApiKeyRequest {
            name: key.name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(again.code(), Code::NotFound);
    let decision = verify(&w.gateway, &created.key, "billing").await;
    assert_eq!(decision.reason(), Reason::Invalid);

    let events = w
        .alice
        .accounts()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        })
        .await
        .expect("audit log")
        .into_inner()
        .audit_events;
    for detail in [
        "api key created",
        "api key updated: display_name, description",
        "api key deleted",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.resource == key.name && e.detail == detail),
            "{detail}: {events:#?}"
        );
    }
}

/// A token with the ID of `key` and another secret: well formed, wrong.
pub fn same_id_other_secret(key: &str) -> String {
    let (prefix, id) = (&key[..6], &key[6..26]);
    let secret = [7_u8; 32];
    let mut crc = crc32fast::Hasher::new();
    crc.update(format!("{prefix}{id}_").as_bytes());
    crc.update(&secret);
    let mut payload = secret.to_vec();
    payload.extend_from_slice(&crc.finalize().to_be_bytes());
    format!("{prefix}{id}_{}", bs58::encode(payload).into_string())
}

async fn verification_requests_are_checked_and_garbage_keys_are_invalid(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "real", &["billing"]).await;

    for (request, field) in [
        (VerifyApiKeyRequest::default(), "key"),
        (
            VerifyApiKeyRequest {
                key: created.key.clone(),
                api_set: "apiSets/billing".into(),
                api_method: "/billing.v1.Invoices/List".into(),
            },
            "api_method",
        ),
        (
            VerifyApiKeyRequest {
                key: created.key.clone(),
                api_set: "billing".into(),
                api_method: String::new(),
            },
            "api_set",
        ),
        (
            VerifyApiKeyRequest {
                key: created.key.clone(),
                api_set: String::new(),
                api_method: "/billing.v1 Invoices/List".into(),
            },
            "api_method",
        ),
    ] {
        let status = w
            .gateway
            .api_keys()
            .verify_api_key(request)
            .await
            .expect_err("a malformed request");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(field_of(&status).as_deref(), Some(field), "{status:?}");
    }

    let client_secret = Key::generate(KeyKind::ClientSecret)
        .expect("key")
        .to_token()
        .expose_secret()
        .to_owned();
    let unknown = Key::generate(KeyKind::ApiKey)
        .expect("key")
        .to_token()
        .expose_secret()
        .to_owned();
    let mut mistyped = created.key.clone();
    let last = mistyped.pop().expect("a character");
    mistyped.push(if last == 'a' { 'b' } else { 'a' });
    for garbage in [
        "hello".to_owned(),
        format!("Bearer {}", created.key),
        created.key[..created.key.len() - 3].to_owned(),
        format!("{}abc", created.key),
        mistyped,
        client_secret,
        "x".repeat(5000),
        unknown,
        same_id_other_secret(&created.key),
    ] {
        let decision = verify(&w.gateway, &garbage, "billing").await;
        assert!(!decision.valid, "{garbage:.40}");
        assert_eq!(decision.reason(), Reason::Invalid, "{garbage:.40}");
        assert_eq!(
            (
                decision.principal.as_str(),
                decision.account.as_str(),
                decision.user.as_str()
            ),
            ("", "", ""),
            "INVALID tells nothing more"
        );
        assert!(decision.api_sets.is_empty() && decision.expire_time.is_none());
    }
    // And the real key still verifies (a wrong secret did not spoil it).
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);

    // Another account's administrator may verify too: gateways are trusted.
    assert!(verify(&w.gina, &created.key, "billing").await.valid);
}

async fn a_successful_use_records_the_last_use_time_coalesced(backend: Backend) {
    let w = world_with_clock(backend).await;
    let clock = w.clock.clone().expect("a manual clock");
    let created = create(&w.kai, "used", &["billing"]).await;
    let key = resource(&created);
    let last_used = |client: Client, name: String| async move {
        client
            .api_keys()
            .get_api_key(GetApiKeyRequest { name })
            .await
            .expect("get")
            .into_inner()
            .api_key
            .expect("the key")
            .last_used_time
    };
    assert_eq!(last_used(w.kai.clone(), key.name.clone()).await, None);

    // Uses are noted in memory and written by the recorder's writer task, never on the
    // request path; `write_due` waits for what it has in hand.
    let settled = || async { w.app.state.usage.write_due().await };
    let first = clock.now();
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);
    settled().await;
    assert_eq!(
        last_used(w.kai.clone(), key.name.clone()).await,
        Some(timestamp(first)),
        "the first use is written at once, off the request path"
    );

    clock.advance(chrono::Duration::seconds(10));
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);
    settled().await;
    assert_eq!(
        last_used(w.kai.clone(), key.name.clone()).await,
        Some(timestamp(first)),
        "not a write per use"
    );

    clock.advance(chrono::Duration::seconds(60));
    let third = clock.now();
    assert!(verify(&w.gateway, &created.key, "billing").await.valid);
    settled().await;
    assert_eq!(
        last_used(w.kai.clone(), key.name.clone()).await,
        Some(timestamp(third)),
        "written again once the interval has passed"
    );

    // A refusal is not a use.
    clock.advance(chrono::Duration::seconds(120));
    assert!(!verify(&w.gateway, &created.key, "shipping").await.valid);
    settled().await; // the gateway's own key was used; the refused one was not
    assert_eq!(
        last_used(w.kai.clone(), key.name.clone()).await,
        Some(timestamp(third))
    );

    // Authenticating with a key is a use of it too.
    let kai_key = list(&w.kai, "users/me", State::Unspecified)
        .await
        .into_iter()
        .find(|k| k.display_name == "enrolled by the test")
        .expect("kai's first key");
    assert_eq!(kai_key.last_used_time.map(|_| ()), Some(()));

    // A use kept in memory is written at graceful shutdown.
    assert!(verify(&w.gateway, &created.key, "").await.valid);
    clock.advance(chrono::Duration::seconds(5));
    let pending = clock.now();
    assert!(verify(&w.gateway, &created.key, "").await.valid);
    let id = key.name.rsplit('/').next().expect("an id").to_owned();
    let database = w.app.stop().await.expect("a clean stop");
    let store = database.migrated_store().await;
    let stored = store.get_api_key(&id).await.expect("the key");
    assert_eq!(stored.last_used_time, Some(pending));
}

async fn the_apikey_file_round_trips(backend: Backend) {
    let w = world(backend).await;
    let created = create(&w.kai, "CI deploys", &["keyward.verify", "billing"]).await;
    let dir = tempfile::tempdir().expect("a temporary directory");

    let file = ApiKeyFile::from_create_response(&created).expect("a key file");
    let path = file.write_new(dir.path()).expect("written");
    assert_eq!(path, dir.path().join(&created.suggested_file_name));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let read = ApiKeyFile::read(&path).expect("read back");
    assert_eq!(read.key().expose_secret(), created.key);
    assert_eq!(read.name(), Some(resource(&created).name.as_str()));
    assert_eq!(read.display_name(), Some("CI deploys"));
    // The key read back works.
    let from_file = w.app.client_with_key(read.key().expose_secret()).await;
    let decision = verify(&from_file, read.key().expose_secret(), "billing").await;
    assert!(decision.valid, "{decision:?}");

    match file.write_new(dir.path()) {
        Err(KeyFileError::AlreadyExists { path: refused }) => assert_eq!(refused, path),
        other => panic!("{other:?}"),
    }
    // A retried create carries no key, so there is nothing to save.
    let mut retry = created.clone();
    retry.key.clear();
    assert!(ApiKeyFile::from_create_response(&retry).is_err());
}

async fn platform_api_sets_are_granted_by_management_keys_and_confinement_is_inherited(
    backend: Backend,
) {
    let w = world(backend).await;
    // alice's first key holds only Keyward's own API sets: a management key, which may
    // grant any platform API set of the catalog.
    let billing = create(&w.alice, "billing", &["billing", "keyward.api-keys"]).await;
    assert_eq!(
        resource(&billing).api_sets,
        sets(&["billing", "keyward.api-keys"])
    );
    // kai's key is confined to billing and reports: it cannot mint an unconfined key that
    // could grant other platform sets ...
    for unconfined in [
        &["keyward.api-keys"][..],
        &["keyward.api-keys", "keyward.verify"],
    ] {
        let status = w
            .kai
            .api_keys()
            .create_api_key(create_request("unconfined", unconfined))
            .await
            .expect_err("confinement is inherited");
        assert_eq!(status.code(), Code::PermissionDenied, "{unconfined:?}");
        assert_eq!(reason_of(&status).as_deref(), Some("API_SET_NOT_HELD"));
    }
    // ... but may mint a verify-only key, which grants nothing.
    let verifier = create(&w.kai, "verify-only", &["keyward.verify"]).await;
    assert_eq!(resource(&verifier).api_sets, sets(&["keyward.verify"]));
}

/// A client whose call timed out retries it while the first is still at work:
/// the request ID is claimed before the work, so however the calls interleave,
/// one key is created and shown once; the others get that key's resource
/// without the key, or ABORTED (still in progress: retry).
async fn concurrent_retries_of_a_create_issue_one_key(backend: Backend) {
    let w = world(backend).await;
    let mut request = create_request("retried at once", &["billing"]);
    request.request_id = "5d9e2f71-concurrent".into();
    let calls = (0..8).map(|_| {
        let mut stub = w.kai.api_keys();
        let request = request.clone();
        async move { stub.create_api_key(request).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut keys = 0;
    let mut names = std::collections::BTreeSet::new();
    for answer in &answers {
        match answer {
            Ok(response) => {
                let response = response.get_ref();
                keys += usize::from(!response.key.is_empty());
                names.insert(
                    response
                        .api_key
                        .as_ref()
                        .expect("a key resource")
                        .name
                        .clone(),
                );
            }
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(keys, 1, "exactly one answer carries the key: {answers:?}");
    assert_eq!(names.len(), 1, "every answer names the same key: {names:?}");
    let listed = list(&w.kai, "users/me", State::Unspecified).await;
    assert_eq!(
        listed
            .iter()
            .filter(|k| k.display_name == "retried at once")
            .count(),
        1,
        "one key was stored"
    );
    // Finished: a later retry gets the key's resource, without the key.
    let retry = w
        .kai
        .api_keys()
        .create_api_key(request)
        .await
        .expect("retry")
        .into_inner();
    assert!(retry.key.is_empty());
    assert_eq!(retry.api_key.map(|k| k.name), names.into_iter().next());
}
