//! Acting for a signed-in user (`keyward-act-as`): a front end's credential holding
//! `keyward.delegation` calls as one of its users, never beyond its own API sets, and the
//! audit log records both. Who may act for whom is in the authorization matrix
//! (`authorization.rs`); this file covers what a delegated call is.

use futures_util::TryStreamExt as _;
use keyward_client::proto::{self as pb, decision::Reason};
use keyward_client::{ApiKeyFile, Client};
use secrecy::ExposeSecret as _;
use tonic::Code;
use tonic_types::StatusExt;

use crate::accounts::{create_account, entitle};
use crate::helpers::{Backend, TestApp, spawn_app};

on_every_backend!(
    seed_004_b_portal_gives_carol_the_key_she_chose_from_her_available_api_sets,
    a_front_end_acts_for_a_user_within_its_own_api_sets_and_both_are_audited,
    a_malformed_act_as_entry_is_invalid_and_a_delegated_call_cannot_delegate_again,
);

pub fn reason_of(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

async fn create_key(client: &Client, api_sets: &[&str]) -> Result<String, tonic::Status> {
    Ok(client
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "key".into(),
                api_sets: api_sets.iter().map(|id| format!("apiSets/{id}")).collect(),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .key)
}

/// acme with alice (administrator) and carol (MANAGE_USER_API_KEY), entitled to billing
/// and reports; alice's client.
pub async fn acme(app: &TestApp) -> Client {
    for id in ["billing", "reports"] {
        app.operator
            .api_keys()
            .create_api_set(pb::CreateApiSetRequest {
                api_set: Some(pb::ApiSet {
                    display_name: id.into(),
                    methods: vec![format!("/{id}.v1.Service/Call")],
                    ..Default::default()
                }),
                api_set_id: id.into(),
            })
            .await
            .expect("create api set");
    }
    let alice = app
        .client_with_key(&create_account(app, "acme", "alice").await)
        .await;
    entitle(app, "acme", &["billing", "reports"]).await;
    alice
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
        .expect("create role");
    alice
        .accounts()
        .create_user(pb::CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(pb::User {
                display_name: "Carol".into(),
                email: "carol@acme.example".into(),
                roles: vec!["accounts/acme/roles/key-holders".into()],
                ..Default::default()
            }),
            user_id: "carol".into(),
            request_id: String::new(),
        })
        .await
        .expect("create carol");
    alice
}

async fn a_front_end_acts_for_a_user_within_its_own_api_sets_and_both_are_audited(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    // The portal may manage keys and delegate, and grant billing only.
    let portal_key = create_key(
        &alice,
        &["keyward.api-keys", "keyward.delegation", "billing"],
    )
    .await
    .expect("alice's first key holds keyward.delegation and grants it");
    let portal = app.client_with_key(&portal_key).await;
    let as_carol = portal
        .acting_as("accounts/acme/users/carol")
        .expect("a user name");

    // `users/me` is carol; the key is hers, created by her.
    let created = as_carol
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "Generated in the portal".into(),
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: "portal-1".into(),
        })
        .await
        .expect("the portal creates a key for carol")
        .into_inner();
    let key = created.api_key.expect("the key's resource");
    assert!(
        key.name.starts_with("accounts/acme/users/carol/apiKeys/"),
        "{}",
        key.name
    );
    assert_eq!(key.creator, "accounts/acme/users/carol");

    // Never beyond the portal's own sets, even though carol could hold reports.
    let refused = create_key(&as_carol, &["reports"])
        .await
        .expect_err("the portal does not hold reports");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason_of(&refused), "API_SET_NOT_HELD");
    let available: Vec<String> = as_carol
        .api_keys()
        .list_api_sets(pb::ListApiSetsRequest {
            page_size: 100,
            page_token: String::new(),
            available_in: "accounts/-".into(),
        })
        .await
        .expect("carol's available sets")
        .into_inner()
        .api_sets
        .into_iter()
        .map(|set| set.name)
        .collect();
    assert_eq!(
        available,
        ["apiSets/billing", "apiSets/keyward.api-keys"],
        "the portal's sets carol may use, delegation excepted"
    );
    // Nor beyond carol's own authorities: she manages no users.
    let denied = as_carol
        .accounts()
        .create_user(pb::CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(pb::User {
                display_name: "Eve".into(),
                email: "eve@acme.example".into(),
                ..Default::default()
            }),
            user_id: "eve".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("the portal lacks keyward.accounts and carol MANAGE_USERS");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // The key works, and is carol's.
    let gateway = app
        .client_with_key(&create_key(&alice, &["keyward.verify"]).await.unwrap())
        .await;
    let decision = gateway
        .api_keys()
        .verify_api_key(pb::VerifyApiKeyRequest {
            key: created.key.clone(),
            api_set: "apiSets/billing".into(),
            api_method: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert!(decision.valid, "{decision:?}");
    assert_eq!(decision.user, "accounts/acme/users/carol");

    // A retry by the portal for carol replays; carol's own request IDs are hers.
    let replay = as_carol
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "Generated in the portal".into(),
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: "portal-1".into(),
        })
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replay.api_key.unwrap().name, key.name);
    assert!(replay.key.is_empty(), "the key is shown once");

    // The audit log names carol and the portal's key.
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
    let event = events
        .iter()
        .find(|e| e.method.ends_with("/CreateApiKey") && e.resource == key.name)
        .expect("the creation is audited");
    assert_eq!(event.actor, "accounts/acme/users/carol");
    assert!(
        event
            .delegate
            .starts_with("accounts/acme/users/alice/apiKeys/"),
        "{event:?}"
    );
    let own = events
        .iter()
        .find(|e| e.method.ends_with("/CreateApiKey") && e.actor.contains("/apiKeys/"))
        .expect("alice's own creations");
    assert!(own.delegate.is_empty(), "{own:?}");

    // Disabling carol stops the portal from acting for her at once.
    alice
        .accounts()
        .disable_user(pb::DisableUserRequest {
            name: "accounts/acme/users/carol".into(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let denied = create_key(&as_carol, &["billing"])
        .await
        .expect_err("carol is disabled");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let refused = gateway
        .api_keys()
        .verify_api_key(pb::VerifyApiKeyRequest {
            key: created.key,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert_eq!(refused.reason, Reason::OwnerDisabled as i32);
}

async fn a_malformed_act_as_entry_is_invalid_and_a_delegated_call_cannot_delegate_again(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    let portal = app
        .client_with_key(
            &create_key(&alice, &["keyward.api-keys", "keyward.delegation"])
                .await
                .unwrap(),
        )
        .await;
    let malformed = create_key(&portal.acting_as("carol").unwrap(), &["billing"])
        .await
        .expect_err("not a user name");
    assert_eq!(malformed.code(), Code::InvalidArgument, "{malformed:?}");
    assert!(
        malformed.message().contains("keyward-act-as"),
        "{malformed:?}"
    );

    // Acting as alice, an administrator whose key holds keyward.delegation, the portal
    // still cannot hand out delegation: the delegated call does not hold it.
    let as_alice = portal.acting_as("accounts/acme/users/alice").unwrap();
    let refused = create_key(&as_alice, &["keyward.delegation"])
        .await
        .expect_err("delegation is not passed on");
    assert_eq!(reason_of(&refused), "API_SET_NOT_HELD", "{refused:?}");
}

/// Seed 004 through a front end: the portal (an API client credential holding
/// `keyward.delegation`) signs Carol in, shows the API sets available to her, creates a key
/// with the ones she selects, hands it to her as a `.APIKEY` file; the key is refused
/// outside its sets.
async fn seed_004_b_portal_gives_carol_the_key_she_chose_from_her_available_api_sets(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    app.operator
        .accounts()
        .verify_account(pb::VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: String::new(),
        })
        .await
        .expect("verify acme");
    let portal_credential = alice
        .credentials()
        .create_credential(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            identifier: "portal".into(),
            credential: Some(pb::Credential {
                display_name: "Developer portal".into(),
                contact_email: "portal@acme.example".into(),
                application: "portal".into(),
                scheme: pb::credential::Scheme::Basic as i32,
                api_sets: [
                    "keyward.api-keys",
                    "keyward.delegation",
                    "billing",
                    "reports",
                ]
                .iter()
                .map(|id| format!("apiSets/{id}"))
                .collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the portal's credential")
        .into_inner();
    let portal = Client::builder(app.url.clone())
        .basic(
            &portal_credential.credential.as_ref().unwrap().client_id,
            &portal_credential.client_secret,
        )
        .connect()
        .await
        .expect("the portal connects");
    // Carol signed in to the portal.
    let as_carol = portal.acting_as("accounts/acme/users/carol").unwrap();

    // The "Available API" column.
    let available: Vec<String> = as_carol
        .list_api_sets_stream(
            keyward_client::ListApiSets::all()
                .available_in("accounts/-")
                .page_size(100),
        )
        .map_ok(|set| set.name)
        .try_collect()
        .await
        .expect("carol's available sets");
    assert_eq!(
        available,
        [
            "apiSets/billing",
            "apiSets/keyward.api-keys",
            "apiSets/reports"
        ]
    );

    // She picks billing: "Generate key".
    let created = as_carol
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "Invoices export".into(),
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("the portal creates carol's key")
        .into_inner();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = ApiKeyFile::from_create_response(&created)
        .expect("a key file")
        .write_new(dir.path())
        .expect("saved");
    let saved = ApiKeyFile::read(&path).expect("read back");
    assert_eq!(saved.key().expose_secret(), created.key);
    assert!(
        saved
            .name()
            .is_some_and(|name| name.starts_with("accounts/acme/users/carol/apiKeys/")),
        "{:?}",
        saved.name()
    );

    let gateway = app
        .client_with_key(&create_key(&alice, &["keyward.verify"]).await.unwrap())
        .await;
    let verify = |api_set: &'static str| {
        let gateway = gateway.clone();
        let key = saved.key().expose_secret().to_owned();
        async move {
            gateway
                .api_keys()
                .verify_api_key(pb::VerifyApiKeyRequest {
                    key,
                    api_set: format!("apiSets/{api_set}"),
                    api_method: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .decision
                .unwrap()
        }
    };
    let billing = verify("billing").await;
    assert!(billing.valid, "{billing:?}");
    assert_eq!(billing.user, "accounts/acme/users/carol");
    let reports = verify("reports").await;
    assert!(!reports.valid, "outside its sets: {reports:?}");
    assert_eq!(reports.reason, Reason::ApiSetNotAllowed as i32);
}
