//! A user's first API key without a front end: an administrator issues a one-time
//! enrollment token, and the user (nobody else) redeems it, once, for a key of their own
//! within what the token offers. Who may call which RPC with what is also in the
//! authorization matrix (`authorization.rs`).

use std::sync::Arc;

use keyward::clock::ManualClock;
use keyward_client::proto::{self as pb, decision::Reason};
use keyward_client::{ApiKeyFile, Client, NewApiKey, NewEnrollmentToken};
use keyward_core::key::{Key, KeyKind};
use secrecy::ExposeSecret as _;
use tonic::Code;

use crate::accounts::{create_account, entitle};
use crate::delegation::{acme, reason_of};
use crate::helpers::{Backend, TestApp, TestDatabase, spawn_app, spawn_app_with, test_settings};

on_every_backend!(
    seed_004_a_carol_redeems_her_enrollment_token_and_makes_further_keys_with_her_first,
    an_enrollment_token_makes_one_key_however_many_redeem_it_at_once,
    an_enrollment_token_is_good_for_nothing_but_redeeming_itself,
    the_key_holds_only_what_the_token_offers_and_the_account_may_use,
    tokens_expire_are_revoked_and_are_issued_only_to_users_who_may_hold_keys,
);

/// A client with no credential of its own, as Carol has before her first key.
async fn newcomer(app: &TestApp) -> Client {
    Client::builder(app.url.clone())
        .connect()
        .await
        .expect("connect")
}

/// Alice issues Carol a token offering `api_sets`; the token and its resource.
async fn issue(alice: &Client, api_sets: &[&str]) -> (String, pb::EnrollmentToken) {
    let created = alice
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/carol",
            api_sets.iter().map(|id| format!("apiSets/{id}")),
        ))
        .await
        .expect("alice issues carol a token");
    (
        created.token.expose_secret().to_owned(),
        created.enrollment_token,
    )
}

fn new_key(name: &str, api_sets: &[&str]) -> NewApiKey {
    NewApiKey::new(name, api_sets.iter().map(|id| format!("apiSets/{id}")))
}

fn code_and_reason(err: &keyward_client::ClientError) -> (Option<Code>, String) {
    (err.code(), err.reason().unwrap_or_default().to_owned())
}

async fn seed_004_a_carol_redeems_her_enrollment_token_and_makes_further_keys_with_her_first(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    // Alice, acme's administrator, made Carol with a custom role holding
    // MANAGE_USER_API_KEY (see `acme`).
    let alice = acme(&app).await;
    let carol_role = alice
        .get_role("accounts/acme/roles/key-holders")
        .await
        .expect("carol's role");
    assert_eq!(
        carol_role.authorities,
        vec![pb::Authority::ManageUserApiKey as i32]
    );

    let before = chrono::Utc::now();
    let (token, resource) = issue(&alice, &["keyward.api-keys", "billing", "reports"]).await;
    let parsed = Key::parse_kind(&token, KeyKind::EnrollmentToken).expect("a kw_et_ token");
    assert_eq!(
        resource.name,
        format!(
            "accounts/acme/users/carol/enrollmentTokens/{}",
            parsed.id().as_str()
        )
    );
    assert_eq!(resource.state(), pb::enrollment_token::State::Active);
    assert_eq!(
        resource.token_prefix,
        format!("kw_et_{}", parsed.id().as_str())
    );
    assert_eq!(
        resource.api_sets,
        vec![
            "apiSets/billing",
            "apiSets/keyward.api-keys",
            "apiSets/reports"
        ]
    );
    let expires = resource.expire_time.expect("an expiry").seconds;
    let day = before.timestamp() + 24 * 3600;
    assert!(
        (day..day + 60).contains(&expires),
        "24 hours by default: {expires} vs {day}"
    );
    // Stored as an argon2 hash, never as the token.
    let stored = app
        .state
        .store
        .get_enrollment_token(parsed.id().as_str())
        .await
        .expect("stored");
    assert!(stored.secret_hash.starts_with("$argon2id$"));
    assert!(!stored.secret_hash.contains(&token[27..]));
    assert!(!format!("{stored:?}").contains(&stored.secret_hash));

    // Carol, with nothing but the token, picks a name and two of the offered sets.
    let carol_first = newcomer(&app)
        .await
        .redeem_enrollment_token(
            &token,
            new_key("carol-laptop", &["keyward.api-keys", "billing"]).description("my first"),
        )
        .await
        .expect("carol redeems her token");
    let first = &carol_first.api_key;
    assert!(
        first.name.starts_with("accounts/acme/users/carol/apiKeys/"),
        "{}",
        first.name
    );
    assert_eq!(first.creator, resource.name, "the token made it");
    assert_eq!(first.description, "my first");
    assert_eq!(
        first.api_sets,
        vec!["apiSets/billing", "apiSets/keyward.api-keys"]
    );
    let dir = tempfile::tempdir().expect("a directory");
    let file = ApiKeyFile::new(carol_first.key.clone())
        .expect("a key")
        .with_name(&first.name)
        .expect("a name")
        .with_display_name(&first.display_name)
        .expect("a display name");
    let path = file.write_new(dir.path()).expect("saved");
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some(carol_first.suggested_file_name.as_str())
    );

    // The token is spent and says into which key.
    let spent = alice
        .get_enrollment_token(&resource.name)
        .await
        .expect("get");
    assert_eq!(spent.state(), pb::enrollment_token::State::Redeemed);
    assert_eq!(spent.api_key, first.name);
    assert!(spent.redeem_time.is_some());
    let again = newcomer(&app)
        .await
        .redeem_enrollment_token(&token, new_key("second", &["billing"]))
        .await
        .expect_err("a token redeems once");
    assert_eq!(again.code(), Some(Code::Unauthenticated));

    // With her first key, read back from its file, Carol makes further keys for herself.
    let saved = ApiKeyFile::read(&path).expect("read back");
    let carol = app.client_with_key(saved.key().expose_secret()).await;
    let gateway_key = carol
        .create_api_key(new_key("carol-gateway", &["billing"]))
        .await
        .expect("carol creates a further key with her first");
    assert_eq!(gateway_key.api_key.creator, first.name);
    let refused = carol
        .create_api_key(new_key("wider", &["reports"]))
        .await
        .expect_err("her first key is confined to billing");
    assert_eq!(refused.code(), Some(Code::PermissionDenied));

    // Gateways see her keys for what they hold.
    let billing = alice
        .verify_api_key(
            gateway_key.key.expose_secret(),
            keyward_client::Scope::any().api_set("apiSets/billing"),
        )
        .await
        .expect("verify");
    assert!(billing.valid, "{billing:?}");
    assert_eq!(billing.user, "accounts/acme/users/carol");
    let reports = alice
        .verify_api_key(
            gateway_key.key.expose_secret(),
            keyward_client::Scope::any().api_set("apiSets/reports"),
        )
        .await
        .expect("verify");
    assert_eq!(reports.reason(), Reason::ApiSetNotAllowed);

    // The audit log has the issue and the redemption, by who did them.
    let events: Vec<pb::AuditEvent> = alice
        .list_audit_events(keyward_client::ListAuditEvents::new("accounts/acme").page_size(100))
        .await
        .expect("audit")
        .items;
    let issued = events
        .iter()
        .find(|e| e.method.ends_with("/CreateEnrollmentToken"))
        .expect("an issue event");
    assert_eq!(issued.resource, resource.name);
    assert!(
        issued
            .actor
            .starts_with("accounts/acme/users/alice/apiKeys/")
    );
    let redeemed = events
        .iter()
        .find(|e| e.method.ends_with("/RedeemEnrollmentToken"))
        .expect("a redemption event");
    assert_eq!(redeemed.actor, resource.name);
    assert_eq!(redeemed.resource, first.name);
}

async fn an_enrollment_token_makes_one_key_however_many_redeem_it_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    let (token, _) = issue(&alice, &["billing"]).await;
    let carol = newcomer(&app).await;
    let attempts = (0..8).map(|i| {
        let carol = carol.clone();
        let token = token.clone();
        tokio::spawn(async move {
            carol
                .redeem_enrollment_token(&token, new_key(&format!("race-{i}"), &["billing"]))
                .await
        })
    });
    let mut made = 0;
    for attempt in futures_util::future::join_all(attempts).await {
        match attempt.expect("no panic") {
            Ok(_) => made += 1,
            Err(err) => assert_eq!(err.code(), Some(Code::Unauthenticated), "{err}"),
        }
    }
    assert_eq!(made, 1, "exactly one redemption makes a key");
    let keys = alice
        .list_api_keys(keyward_client::ListApiKeys::new("accounts/acme/users/carol").page_size(100))
        .await
        .expect("list")
        .items;
    assert_eq!(keys.len(), 1, "{keys:?}");
}

async fn an_enrollment_token_is_good_for_nothing_but_redeeming_itself(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;
    let (token, _) = issue(&alice, &["keyward.api-keys", "keyward.verify", "billing"]).await;
    let with_token = app.client_with_key(&token).await;

    // Any other RPC: refused, whatever the token offers.
    let listed = with_token
        .api_keys()
        .list_api_sets(pb::ListApiSetsRequest::default())
        .await
        .expect_err("not for listing");
    assert_eq!(listed.code(), Code::PermissionDenied);
    assert_eq!(reason_of(&listed), "ENROLLMENT_TOKEN_ONLY");
    let created = with_token
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "sneaky".into(),
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect_err("not for CreateApiKey");
    assert_eq!(reason_of(&created), "ENROLLMENT_TOKEN_ONLY");
    let verified = with_token
        .api_keys()
        .verify_api_key(pb::VerifyApiKeyRequest {
            key: "kw_ak_x".into(),
            ..Default::default()
        })
        .await
        .expect_err("not for verifying");
    assert_eq!(verified.code(), Code::PermissionDenied);
    // A token is no API key: a gateway asking about it hears INVALID.
    let (second, _) = issue(&alice, &["billing"]).await;
    let decision = alice
        .verify_api_key(
            &second,
            keyward_client::Scope::any().api_set("apiSets/billing"),
        )
        .await
        .expect("verify");
    assert!(!decision.valid);
    assert_eq!(decision.reason(), Reason::Invalid);
    // With a `keyward-act-as` entry the token is refused before anything is made.
    let mut request = tonic::Request::new(pb::RedeemEnrollmentTokenRequest {
        api_key: Some(pb::ApiKey {
            display_name: "as alice".into(),
            api_sets: vec!["apiSets/billing".into()],
            ..Default::default()
        }),
        ttl: None,
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {second}").parse().expect("ascii"),
    );
    request.metadata_mut().insert(
        keyward_core::ACT_AS_METADATA,
        "accounts/acme/users/alice".parse().expect("ascii"),
    );
    let refused = pb::api_key_service_client::ApiKeyServiceClient::new(app.client.channel())
        .redeem_enrollment_token(request)
        .await
        .expect_err("a token never delegates");
    assert_eq!(refused.code(), Code::PermissionDenied);

    // An API key cannot redeem (the RPC is for tokens only), and a wrong or made-up token is
    // UNAUTHENTICATED like any unusable credential.
    let by_key = alice
        .api_keys()
        .redeem_enrollment_token(pb::RedeemEnrollmentTokenRequest {
            api_key: Some(pb::ApiKey {
                display_name: "by key".into(),
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            ttl: None,
        })
        .await
        .expect_err("only tokens redeem");
    assert_eq!(by_key.code(), Code::PermissionDenied);
    let made_up = Key::generate(KeyKind::EnrollmentToken).expect("a token");
    for wrong in [
        made_up.to_token().expose_secret().to_owned(),
        crate::api_keys::same_id_other_secret(&second),
    ] {
        let err = newcomer(&app)
            .await
            .redeem_enrollment_token(&wrong, new_key("nope", &["billing"]))
            .await
            .expect_err("not a live token");
        assert_eq!(err.code(), Some(Code::Unauthenticated), "{err}");
    }
    // The second token is still good after all that.
    newcomer(&app)
        .await
        .redeem_enrollment_token(&second, new_key("carol", &["billing"]))
        .await
        .expect("the second token redeems");
}

async fn the_key_holds_only_what_the_token_offers_and_the_account_may_use(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = acme(&app).await;

    // An issuer offers only what it could grant itself.
    let unentitled = alice
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/carol",
            ["apiSets/shipping"],
        ))
        .await
        .expect_err("not in the catalog");
    assert_eq!(unentitled.code(), Some(Code::InvalidArgument));
    app.operator
        .api_keys()
        .create_api_set(pb::CreateApiSetRequest {
            api_set: Some(pb::ApiSet {
                display_name: "shipping".into(),
                methods: vec!["/shipping.v1.Service/Call".into()],
                ..Default::default()
            }),
            api_set_id: "shipping".into(),
        })
        .await
        .expect("shipping");
    let unentitled = alice
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/carol",
            ["apiSets/shipping"],
        ))
        .await
        .expect_err("acme is not entitled to shipping");
    assert_eq!(
        code_and_reason(&unentitled),
        (
            Some(Code::PermissionDenied),
            "API_SET_NOT_ENTITLED".to_owned()
        )
    );
    let billing_only = app
        .client_with_key(
            alice
                .create_api_key(new_key("billing-admin", &["keyward.api-keys", "billing"]))
                .await
                .expect("a confined key")
                .key
                .expose_secret(),
        )
        .await;
    let not_held = billing_only
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/carol",
            ["apiSets/reports"],
        ))
        .await
        .expect_err("a confined issuer offers only its own sets");
    assert_eq!(not_held.code(), Some(Code::PermissionDenied));

    // The user chooses among the offered sets only, and never a management key out of a
    // confined offer.
    let (token, _) = issue(&alice, &["keyward.api-keys", "billing"]).await;
    let carol = newcomer(&app).await;
    let not_offered = carol
        .redeem_enrollment_token(&token, new_key("wide", &["billing", "reports"]))
        .await
        .expect_err("reports is not offered");
    assert_eq!(
        code_and_reason(&not_offered),
        (
            Some(Code::PermissionDenied),
            "API_SET_NOT_OFFERED".to_owned()
        )
    );
    let management = carol
        .redeem_enrollment_token(&token, new_key("manager", &["keyward.api-keys"]))
        .await
        .expect_err("keyward.api-keys alone would grant every set");
    assert_eq!(management.code(), Some(Code::PermissionDenied));
    let invalid = carol
        .redeem_enrollment_token(&token, new_key("bad/name", &["billing"]))
        .await
        .expect_err("a bad display name");
    assert_eq!(invalid.code(), Some(Code::InvalidArgument));
    let none = carol
        .redeem_enrollment_token(&token, new_key("none", &[]))
        .await
        .expect_err("no API set");
    assert_eq!(none.code(), Some(Code::InvalidArgument));

    // An entitlement taken away since the token was issued is not granted by it.
    let (reports_token, _) = issue(&alice, &["billing", "reports"]).await;
    entitle(&app, "acme", &["billing"]).await;
    let gone = carol
        .redeem_enrollment_token(&reports_token, new_key("reports", &["reports"]))
        .await
        .expect_err("acme lost reports");
    assert_eq!(
        code_and_reason(&gone),
        (
            Some(Code::PermissionDenied),
            "API_SET_NOT_ENTITLED".to_owned()
        )
    );

    // Failed attempts spend nothing: the first token still makes a key.
    let made = carol
        .redeem_enrollment_token(&token, new_key("carol", &["billing"]))
        .await
        .expect("redeemed");
    assert_eq!(made.api_key.api_sets, vec!["apiSets/billing"]);
}

async fn tokens_expire_are_revoked_and_are_issued_only_to_users_who_may_hold_keys(
    backend: Backend,
) {
    let clock = ManualClock::default();
    let database = TestDatabase::create(backend).await;
    let mut settings = test_settings(&database);
    settings.clock = Arc::new(clock.clone());
    let app = spawn_app_with(database, settings).await;
    let alice = acme(&app).await;
    let carol_name = "accounts/acme/users/carol";

    // Lifetimes: at most 7 days, one way of saying it.
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    alice
        .create_enrollment_token(NewEnrollmentToken::new(carol_name, ["apiSets/billing"]).ttl(week))
        .await
        .expect("7 days is allowed");
    let too_long = alice
        .create_enrollment_token(
            NewEnrollmentToken::new(carol_name, ["apiSets/billing"])
                .ttl(week + std::time::Duration::from_secs(1)),
        )
        .await
        .expect_err("longer than 7 days");
    assert_eq!(too_long.code(), Some(Code::InvalidArgument));
    let mut both = NewEnrollmentToken::new(carol_name, ["apiSets/billing"])
        .ttl(std::time::Duration::from_secs(60))
        .into_request();
    both.enrollment_token.as_mut().expect("a token").expire_time = Some(prost_types::Timestamp {
        seconds: clock_now(&clock) + 120,
        nanos: 0,
    });
    let err = alice
        .api_keys()
        .create_enrollment_token(both)
        .await
        .expect_err("expire_time and ttl");
    assert_eq!(err.code(), Code::InvalidArgument);

    // Expiry.
    let hour = alice
        .create_enrollment_token(
            NewEnrollmentToken::new(carol_name, ["apiSets/billing"])
                .ttl(std::time::Duration::from_secs(3600)),
        )
        .await
        .expect("an hour");
    clock.advance(chrono::Duration::minutes(61));
    let expired = newcomer(&app)
        .await
        .redeem_enrollment_token(hour.token.expose_secret(), new_key("late", &["billing"]))
        .await
        .expect_err("expired");
    assert_eq!(expired.code(), Some(Code::Unauthenticated));
    let shown = alice
        .get_enrollment_token(&hour.enrollment_token.name)
        .await
        .expect("get");
    assert_eq!(shown.state(), pb::enrollment_token::State::Expired);

    // Revocation, idempotent; a redeemed token cannot be revoked.
    let (revoked_token, revoked) = issue(&alice, &["billing"]).await;
    let after = alice
        .revoke_enrollment_token(&revoked.name)
        .await
        .expect("revoke");
    assert_eq!(after.state(), pb::enrollment_token::State::Revoked);
    let again = alice
        .revoke_enrollment_token(&revoked.name)
        .await
        .expect("revoking again changes nothing");
    assert_eq!(again.revoke_time, after.revoke_time);
    let refused = newcomer(&app)
        .await
        .redeem_enrollment_token(&revoked_token, new_key("revoked", &["billing"]))
        .await
        .expect_err("revoked");
    assert_eq!(refused.code(), Some(Code::Unauthenticated));
    let (used_token, used) = issue(&alice, &["billing"]).await;
    newcomer(&app)
        .await
        .redeem_enrollment_token(&used_token, new_key("used", &["billing"]))
        .await
        .expect("redeemed");
    let late = alice
        .revoke_enrollment_token(&used.name)
        .await
        .expect_err("already redeemed");
    assert_eq!(
        code_and_reason(&late),
        (
            Some(Code::FailedPrecondition),
            "ENROLLMENT_TOKEN_REDEEMED".to_owned()
        )
    );

    // A retried issue with a request ID returns the first token, never a second one.
    let first = alice
        .create_enrollment_token(
            NewEnrollmentToken::new(carol_name, ["apiSets/billing"]).request_id("enroll-carol"),
        )
        .await
        .expect("issue");
    let retry = alice
        .create_enrollment_token(
            NewEnrollmentToken::new(carol_name, ["apiSets/billing"]).request_id("enroll-carol"),
        )
        .await
        .expect("retry");
    assert_eq!(retry.enrollment_token.name, first.enrollment_token.name);
    assert!(retry.token.expose_secret().is_empty());

    // Listing: carol's tokens, and every user's.
    let carols = alice
        .list_enrollment_tokens(
            keyward_client::ListEnrollmentTokens::new(carol_name).page_size(100),
        )
        .await
        .expect("list")
        .items;
    assert_eq!(carols.len(), 5, "{carols:?}");
    let everyone = alice
        .list_enrollment_tokens(
            keyward_client::ListEnrollmentTokens::new("accounts/acme/users/-").page_size(2),
        )
        .await
        .expect("a page");
    assert_eq!(everyone.items.len(), 2);
    assert!(!everyone.next_page_token.is_empty());

    // Only users who may hold keys get one, and only from who may manage users.
    alice
        .create_user(
            keyward_client::NewUser::new("accounts/acme", "dave")
                .display_name("Dave")
                .email("dave@acme.example"),
        )
        .await
        .expect("dave, without roles");
    let cannot = alice
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/dave",
            ["apiSets/billing"],
        ))
        .await
        .expect_err("dave may not hold keys");
    assert_eq!(
        code_and_reason(&cannot),
        (
            Some(Code::FailedPrecondition),
            "USER_CANNOT_HOLD_KEYS".to_owned()
        )
    );
    let missing = alice
        .create_enrollment_token(NewEnrollmentToken::new(
            "accounts/acme/users/nobody",
            ["apiSets/billing"],
        ))
        .await
        .expect_err("no such user");
    assert_eq!(missing.code(), Some(Code::NotFound));
    let (pending, _) = issue(&alice, &["billing"]).await;
    alice.disable_user(carol_name).await.expect("disable carol");
    let disabled = alice
        .create_enrollment_token(NewEnrollmentToken::new(carol_name, ["apiSets/billing"]))
        .await
        .expect_err("carol is disabled");
    assert_eq!(
        code_and_reason(&disabled),
        (Some(Code::FailedPrecondition), "USER_DISABLED".to_owned())
    );
    let while_disabled = newcomer(&app)
        .await
        .redeem_enrollment_token(&pending, new_key("disabled", &["billing"]))
        .await
        .expect_err("a disabled user redeems nothing");
    assert_eq!(while_disabled.code(), Some(Code::Unauthenticated));
    alice.enable_user(carol_name).await.expect("enable");
    let globex = app
        .client_with_key(&create_account(&app, "globex", "gina").await)
        .await;
    let other_account = globex
        .create_enrollment_token(NewEnrollmentToken::new(carol_name, ["apiSets/billing"]))
        .await
        .expect_err("gina does not manage acme's users");
    assert_eq!(other_account.code(), Some(Code::PermissionDenied));
    let seen = globex
        .get_enrollment_token(&first.enrollment_token.name)
        .await
        .expect_err("nor sees its tokens");
    assert_eq!(seen.code(), Some(Code::PermissionDenied));

    // Deleting the user takes her tokens along.
    alice.delete_user(carol_name).await.expect("delete carol");
    let gone = alice
        .get_enrollment_token(&first.enrollment_token.name)
        .await
        .expect_err("gone with carol");
    assert_eq!(gone.code(), Some(Code::NotFound));
    let orphan = newcomer(&app)
        .await
        .redeem_enrollment_token(&pending, new_key("orphan", &["billing"]))
        .await
        .expect_err("carol is gone");
    assert_eq!(orphan.code(), Some(Code::Unauthenticated));
}

fn clock_now(clock: &ManualClock) -> i64 {
    keyward::clock::Clock::now(clock).timestamp()
}
