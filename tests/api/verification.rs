//! The verification plane: verifications answered from memory, kept fresh on every replica,
//! immune to junk, with guessing throttled before argon2.
//!
//! - freshness: each kind of change is refused at once by the replica that made it and,
//!   on PostgreSQL, by a second replica within the staleness bound; a load racing a
//!   revocation never answers valid afterwards; a killed feed connection or a stale index
//!   never serves a revoked key;
//! - cost: a verification answered from the index runs no query and no argon2; junk runs
//!   no argon2 (counted through the hasher, not timed); concurrent first checks of one
//!   secret share one argon2 run;
//! - guessing: unproven secrets beyond a credential's budget run no argon2 and answer
//!   TOO_MANY_ATTEMPTS (RESOURCE_EXHAUSTED for callers), while the proven secret of the
//!   attacked credential keeps verifying.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::clock::ManualMonotonic;
use keyward_client::Client;
use keyward_client::proto::{self as pb, decision::Reason};
use keyward_core::key::{Key, KeyKind};
use prost_types::FieldMask;
use rand_bytes::random32;
use secrecy::ExposeSecret;
use tonic::Code;
use tonic_types::StatusExt;

use crate::accounts::create_account;
use crate::helpers::{Backend, TestApp, TestDatabase, spawn_app_with, test_settings};

on_every_backend!(
    a_revoked_key_is_refused_here_at_once_and_on_another_replica_within_the_bound,
    a_disabled_owner_is_refused_everywhere,
    an_owner_losing_their_role_is_refused_everywhere,
    a_role_losing_its_authority_is_refused_everywhere,
    a_method_leaving_its_api_set_is_refused_everywhere,
    a_disabled_credential_is_refused_everywhere,
    a_renewed_away_secret_is_refused_everywhere,
    a_credential_losing_an_api_set_is_refused_everywhere,
    a_key_whose_account_loses_the_entitlement_is_refused_everywhere,
    a_credential_whose_account_loses_the_entitlement_is_refused_everywhere,
    a_load_racing_a_revocation_never_answers_valid_afterwards,
    a_stale_index_reads_the_database_instead_of_its_memory,
    a_cached_verification_runs_no_query_and_no_argon2,
    junk_keys_run_no_argon2,
    wrong_secrets_beyond_the_budget_run_no_argon2_and_the_proven_secret_still_verifies,
    concurrent_first_checks_of_one_secret_share_one_argon2_run,
    refused_api_keys_are_audited_as_counts,
);

#[cfg(keyward_test_postgres)]
mod postgres_only {
    #[tokio::test]
    async fn a_replica_whose_feed_connection_is_killed_refuses_a_revoked_key_within_the_bound() {
        super::feed_connection_killed().await;
    }

    #[tokio::test]
    async fn a_replica_cut_off_from_its_database_never_answers_valid_past_the_bound() {
        super::cut_off_from_the_database().await;
    }
}

/// The staleness bound the test servers run with (the default).
const BOUND: Duration = Duration::from_secs(1);

mod rand_bytes {
    /// 32 random bytes from the OS.
    pub fn random32() -> [u8; 32] {
        keyward_core::key::random_bytes().expect("random bytes")
    }
}

/// acme (verified) with alice (administrator) and kai (role `key-holders`, which grants
/// `MANAGE_USER_API_KEY`); the API set `billing` (method `/billing.v1.Invoices/List`); kai's
/// key for billing; a Basic credential for billing; a gateway key; and, on PostgreSQL, a
/// second replica over the same database with its own gateway client.
struct World {
    app: TestApp,
    replica: Option<TestApp>,
    monotonic: ManualMonotonic,
    alice: Client,
    gateway: Client,
    gateway_key: String,
    kai_key: String,
    client_id: String,
    client_secret: String,
    credential: String,
}

async fn world(backend: Backend) -> World {
    let database = TestDatabase::create(backend).await;
    let monotonic = ManualMonotonic::default();
    let mut settings = test_settings(&database);
    settings.monotonic = Arc::new(monotonic.clone());
    settings.verification.throttle.attempts = 5;
    settings.verification.throttle.window = Duration::from_secs(10);
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
                methods: vec![
                    "/billing.v1.Invoices/List".into(),
                    "/billing.v1.Invoices/Get".into(),
                ],
                ..Default::default()
            }),
            api_set_id: "billing".into(),
        })
        .await
        .expect("create api set");
    crate::accounts::entitle(&app, "acme", &["billing"]).await;
    let alice = app.client_with_key(&alice_key).await;
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
                display_name: "Kai".into(),
                email: "kai@acme.example".into(),
                roles: vec!["accounts/acme/roles/key-holders".into()],
                ..Default::default()
            }),
            user_id: "kai".into(),
            request_id: String::new(),
        })
        .await
        .expect("create user");
    let kai_key = app
        .enroll_key(&alice, "accounts/acme/users/kai", &["billing"])
        .await;
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
    let created = alice
        .credentials()
        .create_credential(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            credential: Some(pb::Credential {
                display_name: "Export".into(),
                contact_email: "export@acme.example".into(),
                application: "export".into(),
                scheme: pb::credential::Scheme::Basic as i32,
                api_sets: vec!["apiSets/billing".into()],
                ..Default::default()
            }),
            identifier: "export".into(),
            request_id: String::new(),
        })
        .await
        .expect("create credential")
        .into_inner();
    let credential = created.credential.expect("credential");
    let gateway = app.client_with_key(&gateway_key).await;
    // The gateway's own key is proven and in memory from here on.
    gateway
        .api_keys()
        .verify_api_key(pb::VerifyApiKeyRequest {
            key: "warm-up".into(),
            ..Default::default()
        })
        .await
        .expect("the gateway may verify");
    let replica = if backend == Backend::Postgres {
        Some(app.spawn_replica().await)
    } else {
        None
    };
    World {
        app,
        replica,
        monotonic,
        alice,
        gateway,
        gateway_key,
        kai_key,
        client_id: credential.client_id,
        client_secret: created.client_secret,
        credential: credential.name,
    }
}

/// What a gateway asks.
#[derive(Debug, Clone)]
enum Question {
    /// VerifyApiKey with `api_set` or `api_method`.
    Key { key: String, asked: &'static str },
    /// VerifyClientSecret for billing.
    Client { client_id: String, secret: String },
}

async fn ask(gateway: &Client, question: &Question) -> Result<pb::Decision, tonic::Status> {
    let decision = match question {
        Question::Key { key, asked } => {
            let (api_set, api_method) = if asked.starts_with('/') {
                (String::new(), (*asked).to_owned())
            } else {
                (format!("apiSets/{asked}"), String::new())
            };
            gateway
                .api_keys()
                .verify_api_key(pb::VerifyApiKeyRequest {
                    key: key.clone(),
                    api_set,
                    api_method,
                })
                .await?
                .into_inner()
                .decision
        }
        Question::Client { client_id, secret } => {
            gateway
                .credentials()
                .verify_client_secret(pb::VerifyClientSecretRequest {
                    client_id: client_id.clone(),
                    client_secret: secret.clone(),
                    api_set: "apiSets/billing".into(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .decision
        }
    };
    Ok(decision.expect("a decision"))
}

async fn decision(gateway: &Client, question: &Question) -> pb::Decision {
    ask(gateway, question)
        .await
        .expect("verification answers OK")
}

fn reason(decision: &pb::Decision) -> Reason {
    Reason::try_from(decision.reason).expect("a known reason")
}

impl World {
    fn kai_question(&self, asked: &'static str) -> Question {
        Question::Key {
            key: self.kai_key.clone(),
            asked,
        }
    }

    fn client_question(&self) -> Question {
        Question::Client {
            client_id: self.client_id.clone(),
            secret: self.client_secret.clone(),
        }
    }

    async fn replica_gateway(&self) -> Option<Client> {
        match &self.replica {
            Some(replica) => Some(replica.client_with_key(&self.gateway_key).await),
            None => None,
        }
    }
}

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.to_owned()],
    })
}

/// A change that makes a valid credential refused.
#[derive(Debug, Clone, Copy)]
enum Change {
    RevokeKey,
    DisableOwner,
    TakeOwnersRole,
    RoleLosesAuthority,
    MethodLeavesApiSet,
    DisableCredential,
    RenewCredential,
    CredentialLosesApiSet,
    AccountLosesEntitlement,
}

/// Makes `change` through the first replica's API.
async fn make(w: &World, change: Change) {
    let kai_key_name = || {
        let id = Key::parse(&w.kai_key).expect("kai's key").id().to_string();
        format!("accounts/acme/users/kai/apiKeys/{id}")
    };
    match change {
        Change::RevokeKey => {
            w.alice
                .api_keys()
                .revoke_api_key(pb::RevokeApiKeyRequest {
                    name: kai_key_name(),
                })
                .await
                .expect("revoke");
        }
        Change::DisableOwner => {
            w.alice
                .accounts()
                .disable_user(pb::DisableUserRequest {
                    name: "accounts/acme/users/kai".into(),
                    etag: String::new(),
                })
                .await
                .expect("disable kai");
        }
        Change::TakeOwnersRole => {
            w.alice
                .accounts()
                .update_user(pb::UpdateUserRequest {
                    user: Some(pb::User {
                        name: "accounts/acme/users/kai".into(),
                        roles: vec![],
                        ..Default::default()
                    }),
                    update_mask: mask("roles"),
                })
                .await
                .expect("take kai's role");
        }
        Change::RoleLosesAuthority => {
            w.alice
                .accounts()
                .update_role(pb::UpdateRoleRequest {
                    role: Some(pb::Role {
                        name: "accounts/acme/roles/key-holders".into(),
                        authorities: vec![pb::Authority::ViewAuditLog as i32],
                        ..Default::default()
                    }),
                    update_mask: mask("authorities"),
                })
                .await
                .expect("change the role");
        }
        Change::MethodLeavesApiSet => {
            w.app
                .operator
                .api_keys()
                .update_api_set(pb::UpdateApiSetRequest {
                    api_set: Some(pb::ApiSet {
                        name: "apiSets/billing".into(),
                        methods: vec!["/billing.v1.Invoices/List".into()],
                        ..Default::default()
                    }),
                    update_mask: mask("methods"),
                })
                .await
                .expect("change the catalog");
        }
        Change::DisableCredential => {
            w.alice
                .credentials()
                .disable_credential(pb::DisableCredentialRequest {
                    name: w.credential.clone(),
                    etag: String::new(),
                })
                .await
                .expect("disable");
        }
        Change::RenewCredential => {
            w.alice
                .credentials()
                .renew_credential_secret(pb::RenewCredentialSecretRequest {
                    name: w.credential.clone(),
                    grace_period: None,
                    request_id: String::new(),
                    etag: String::new(),
                })
                .await
                .expect("renew");
        }
        Change::CredentialLosesApiSet => {
            w.alice
                .credentials()
                .update_credential(pb::UpdateCredentialRequest {
                    credential: Some(pb::Credential {
                        name: w.credential.clone(),
                        api_sets: vec!["apiSets/keyward.verify".into()],
                        ..Default::default()
                    }),
                    update_mask: mask("api_sets"),
                })
                .await
                .expect("narrow the credential");
        }
        Change::AccountLosesEntitlement => {
            crate::accounts::entitle(&w.app, "acme", &[]).await;
        }
    }
}

/// The change-freshness check: `question` is valid on every replica (so every replica has
/// it in memory), `change` is made through the first replica, which refuses with
/// `expected` as soon as the change returns; the second replica (PostgreSQL) refuses within
/// the staleness bound.
async fn check_refused_everywhere(
    backend: Backend,
    question: impl Fn(&World) -> Question,
    change: Change,
    expected: Reason,
) {
    let w = world(backend).await;
    let question = question(&w);
    let elsewhere = w.replica_gateway().await;
    let here = decision(&w.gateway, &question).await;
    assert!(here.valid, "{backend}: valid before: {here:?}");
    if let Some(elsewhere) = &elsewhere {
        let there = decision(elsewhere, &question).await;
        assert!(
            there.valid,
            "{backend}: valid on the replica before: {there:?}"
        );
    }

    make(&w, change).await;
    let changed = Instant::now();
    let here = decision(&w.gateway, &question).await;
    assert!(
        !here.valid,
        "{backend} {change:?}: refused at once where it was made"
    );
    assert_eq!(reason(&here), expected, "{backend} {change:?}");

    if let Some(elsewhere) = &elsewhere {
        loop {
            let there = decision(elsewhere, &question).await;
            if !there.valid {
                assert_eq!(
                    reason(&there),
                    expected,
                    "{backend} {change:?}: on the replica"
                );
                break;
            }
            assert!(
                changed.elapsed() <= BOUND,
                "{backend} {change:?}: the replica still answered valid {:?} after the change",
                changed.elapsed()
            );
        }
    }
}

async fn a_revoked_key_is_refused_here_at_once_and_on_another_replica_within_the_bound(
    backend: Backend,
) {
    let kai = |w: &World| w.kai_question("billing");
    check_refused_everywhere(backend, kai, Change::RevokeKey, Reason::Revoked).await;
}

async fn a_disabled_owner_is_refused_everywhere(backend: Backend) {
    let kai = |w: &World| w.kai_question("billing");
    check_refused_everywhere(backend, kai, Change::DisableOwner, Reason::OwnerDisabled).await;
}

async fn an_owner_losing_their_role_is_refused_everywhere(backend: Backend) {
    let kai = |w: &World| w.kai_question("billing");
    check_refused_everywhere(backend, kai, Change::TakeOwnersRole, Reason::OwnerDisabled).await;
}

async fn a_role_losing_its_authority_is_refused_everywhere(backend: Backend) {
    let kai = |w: &World| w.kai_question("billing");
    let change = Change::RoleLosesAuthority;
    check_refused_everywhere(backend, kai, change, Reason::OwnerDisabled).await;
}

async fn a_method_leaving_its_api_set_is_refused_everywhere(backend: Backend) {
    let kai = |w: &World| w.kai_question("/billing.v1.Invoices/Get");
    let change = Change::MethodLeavesApiSet;
    check_refused_everywhere(backend, kai, change, Reason::ApiSetNotAllowed).await;
}

async fn a_disabled_credential_is_refused_everywhere(backend: Backend) {
    let change = Change::DisableCredential;
    check_refused_everywhere(backend, World::client_question, change, Reason::Disabled).await;
}

async fn a_renewed_away_secret_is_refused_everywhere(backend: Backend) {
    let change = Change::RenewCredential;
    check_refused_everywhere(backend, World::client_question, change, Reason::Invalid).await;
}

async fn a_credential_losing_an_api_set_is_refused_everywhere(backend: Backend) {
    let change = Change::CredentialLosesApiSet;
    let expected = Reason::ApiSetNotAllowed;
    check_refused_everywhere(backend, World::client_question, change, expected).await;
}

async fn a_key_whose_account_loses_the_entitlement_is_refused_everywhere(backend: Backend) {
    let kai = |w: &World| w.kai_question("billing");
    let change = Change::AccountLosesEntitlement;
    check_refused_everywhere(backend, kai, change, Reason::ApiSetNotAllowed).await;
}

async fn a_credential_whose_account_loses_the_entitlement_is_refused_everywhere(backend: Backend) {
    let change = Change::AccountLosesEntitlement;
    let expected = Reason::ApiSetNotAllowed;
    check_refused_everywhere(backend, World::client_question, change, expected).await;
}

async fn a_load_racing_a_revocation_never_answers_valid_afterwards(backend: Backend) {
    let w = world(backend).await;
    let question = w.kai_question("billing");
    assert!(decision(&w.gateway, &question).await.valid);
    let id = Key::parse(&w.kai_key).expect("kai's key").id().to_string();
    // Renaming the key is a change: the index drops the key, its proven secret stays.
    w.app
        .state
        .store
        .update_api_key(
            &id,
            keyward_store::ApiKeyUpdate {
                display_name: Some("renamed".into()),
                description: None,
            },
            None,
        )
        .await
        .expect("rename");

    // The next load reads the active key, then waits while the revocation commits.
    let gate = w.app.state.index.load_gate();
    gate.arm();
    let racing = {
        let gateway = w.gateway.clone();
        let question = question.clone();
        tokio::spawn(async move { decision(&gateway, &question).await })
    };
    gate.reached().await;
    w.alice
        .api_keys()
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: format!("accounts/acme/users/kai/apiKeys/{id}"),
        })
        .await
        .expect("revoke");
    gate.release();
    // The racing call may answer either way: it began before the revocation committed.
    let _ = racing.await.expect("the racing verification ends");
    for _ in 0..3 {
        let after = decision(&w.gateway, &question).await;
        assert_eq!(reason(&after), Reason::Revoked, "{backend}: {after:?}");
    }
}

async fn a_stale_index_reads_the_database_instead_of_its_memory(backend: Backend) {
    let w = world(backend).await;
    let question = w.kai_question("billing");
    assert!(decision(&w.gateway, &question).await.valid);
    let feed = w.app.state.feed.clone();
    let index = w.app.state.index.clone();

    // The feed is lost: a revocation commits but is not applied here.
    feed.set_paused(true);
    let id = Key::parse(&w.kai_key).expect("kai's key").id().to_string();
    w.app
        .state
        .store
        .revoke_api_key(&id, chrono::Utc::now())
        .await
        .expect("revoke in the database");
    let loads = index.stats().loads;
    let within = decision(&w.gateway, &question).await;
    assert!(
        within.valid,
        "{backend}: within the bound the memory is still trusted"
    );
    assert_eq!(index.stats().loads, loads, "{backend}: from memory");

    // Past the bound nothing comes from memory: the revocation is read from the database.
    w.monotonic.advance(BOUND + Duration::from_millis(1));
    assert!(!index.trusted());
    let past = decision(&w.gateway, &question).await;
    assert_eq!(reason(&past), Reason::Revoked, "{backend}: {past:?}");
    assert!(
        index.stats().loads > loads,
        "{backend}: read from the database"
    );

    // The feed is back: the revocation is applied, memory is trusted again.
    feed.set_paused(false);
    feed.catch_up().await.expect("the log reads");
    assert!(index.trusted());
    let loads = index.stats().loads;
    let again = decision(&w.gateway, &question).await;
    assert_eq!(reason(&again), Reason::Revoked);
    let again = decision(&w.gateway, &question).await;
    assert_eq!(reason(&again), Reason::Revoked);
    assert!(
        index.stats().loads <= loads + 5,
        "{backend}: memory answers again"
    );
}

async fn a_cached_verification_runs_no_query_and_no_argon2(backend: Backend) {
    let w = world(backend).await;
    let kai = w.kai_question("billing");
    let client = w.client_question();
    let method = w.kai_question("/billing.v1.Invoices/List");
    for question in [&kai, &client, &method] {
        assert!(decision(&w.gateway, question).await.valid, "{question:?}");
    }
    let (index, hasher) = (&w.app.state.index, &w.app.state.hasher);
    let (loads, runs) = (index.stats().loads, hasher.runs());
    for _ in 0..20 {
        for question in [&kai, &client, &method] {
            assert!(decision(&w.gateway, question).await.valid, "{question:?}");
        }
    }
    assert_eq!(index.stats().loads, loads, "{backend}: no fact read");
    assert_eq!(hasher.runs(), runs, "{backend}: no argon2 run");

    // A refusal answered from memory costs the same.
    let out_of_scope = w.kai_question("keyward.accounts");
    let refused = decision(&w.gateway, &out_of_scope).await;
    assert_eq!(reason(&refused), Reason::ApiSetNotAllowed);
    assert_eq!(index.stats().loads, loads, "{backend}");
    assert_eq!(hasher.runs(), runs, "{backend}");
}

/// A well-formed key that carries `key`'s id and kind with another secret and a valid
/// checksum: what someone guessing the secret of a known id presents.
fn guess_for(token: &str) -> String {
    let (prefix, _) = token.rsplit_once('_').expect("a token");
    let secret = random32();
    let mut crc = crc32fast::Hasher::new();
    crc.update(prefix.as_bytes());
    crc.update(b"_");
    crc.update(&secret);
    let mut payload = secret.to_vec();
    payload.extend_from_slice(&crc.finalize().to_be_bytes());
    let guess = format!("{prefix}_{}", bs58::encode(payload).into_string());
    Key::parse(&guess).expect("a guess is well formed");
    guess
}

fn unknown_key(kind: KeyKind) -> String {
    let key = Key::generate(kind).expect("a key");
    key.to_token().expose_secret().to_owned()
}

async fn junk_keys_run_no_argon2(backend: Backend) {
    let w = world(backend).await;
    let (index, hasher) = (&w.app.state.index, &w.app.state.hasher);
    let (loads, runs) = (index.stats().loads, hasher.runs());
    let mut broken = w.kai_key.clone();
    let last = broken.pop().expect("a character");
    broken.push(if last == 'a' { 'b' } else { 'a' });
    for junk in [broken, "kw_ak_not-a-key".into(), String::from("x")] {
        let refused = decision(
            &w.gateway,
            &Question::Key {
                key: junk,
                asked: "billing",
            },
        )
        .await;
        assert_eq!(reason(&refused), Reason::Invalid);
    }
    assert_eq!(
        index.stats().loads,
        loads,
        "{backend}: malformed: no lookup"
    );

    for _ in 0..50 {
        let refused = decision(
            &w.gateway,
            &Question::Key {
                key: unknown_key(KeyKind::ApiKey),
                asked: "billing",
            },
        )
        .await;
        assert_eq!(reason(&refused), Reason::Invalid);
        assert!(refused.principal.is_empty());
        let refused = decision(
            &w.gateway,
            &Question::Client {
                client_id: w.client_id.clone(),
                secret: unknown_key(KeyKind::ClientSecret),
            },
        )
        .await;
        assert_eq!(reason(&refused), Reason::Invalid);
    }
    assert_eq!(hasher.runs(), runs, "{backend}: unknown ids run no argon2");
    assert!(
        index.stats().loads <= loads + 100,
        "{backend}: at most one lookup per unknown id"
    );
}

async fn wrong_secrets_beyond_the_budget_run_no_argon2_and_the_proven_secret_still_verifies(
    backend: Backend,
) {
    let w = world(backend).await;
    let kai = w.kai_question("billing");
    let client = w.client_question();
    assert!(decision(&w.gateway, &kai).await.valid);
    assert!(decision(&w.gateway, &client).await.valid);
    let hasher = &w.app.state.hasher;

    for (name, proven, guess) in [
        (
            "api key",
            kai.clone(),
            Box::new(|| Question::Key {
                key: guess_for(&w.kai_key),
                asked: "billing",
            }) as Box<dyn Fn() -> Question>,
        ),
        (
            "client secret",
            client.clone(),
            Box::new(|| Question::Client {
                client_id: w.client_id.clone(),
                secret: guess_for(&w.client_secret),
            }),
        ),
    ] {
        // Proving the real secret spent one of the five attempts.
        let runs = hasher.runs();
        for _ in 0..4 {
            let refused = decision(&w.gateway, &guess()).await;
            assert_eq!(reason(&refused), Reason::Invalid, "{name}");
        }
        assert_eq!(
            hasher.runs(),
            runs + 4,
            "{backend} {name}: within the budget"
        );
        for _ in 0..20 {
            let refused = decision(&w.gateway, &guess()).await;
            assert_eq!(reason(&refused), Reason::TooManyAttempts, "{name}");
            assert!(refused.principal.is_empty(), "{name}: says nothing else");
        }
        assert_eq!(hasher.runs(), runs + 4, "{backend} {name}: beyond it, none");
        let still = decision(&w.gateway, &proven).await;
        assert!(still.valid, "{backend} {name}: the proven secret verifies");
        assert_eq!(hasher.runs(), runs + 4, "{backend} {name}");
    }

    // A caller presenting guesses is told to come back later.
    let status = w
        .app
        .client_with_key(&guess_for(&w.kai_key))
        .await
        .api_keys()
        .list_api_sets(pb::ListApiSetsRequest::default())
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let details = status.get_error_details();
    assert_eq!(
        details.error_info().map(|info| info.reason.as_str()),
        Some("TOO_MANY_ATTEMPTS")
    );
    assert!(
        details
            .retry_info()
            .is_some_and(|retry| retry.retry_delay.is_some())
    );

    // The budget comes back with time.
    w.monotonic.advance(Duration::from_secs(10));
    let runs = hasher.runs();
    let refused = decision(
        &w.gateway,
        &Question::Key {
            key: guess_for(&w.kai_key),
            asked: "billing",
        },
    )
    .await;
    assert_eq!(reason(&refused), Reason::Invalid);
    assert_eq!(hasher.runs(), runs + 1);
}

async fn concurrent_first_checks_of_one_secret_share_one_argon2_run(backend: Backend) {
    let w = world(backend).await;
    let fresh = w
        .app
        .enroll_key(&w.alice, "accounts/acme/users/kai", &["billing"])
        .await;
    let question = Question::Key {
        key: fresh,
        asked: "billing",
    };
    let runs = w.app.state.hasher.runs();
    let checks: Vec<_> = (0..32)
        .map(|_| {
            let (gateway, question) = (w.gateway.clone(), question.clone());
            tokio::spawn(async move { decision(&gateway, &question).await })
        })
        .collect();
    for check in checks {
        assert!(check.await.expect("a check").valid);
    }
    assert_eq!(
        w.app.state.hasher.runs(),
        runs + 1,
        "{backend}: one argon2 run for 32 concurrent first checks"
    );
}

async fn refused_api_keys_are_audited_as_counts(backend: Backend) {
    let w = world(backend).await;
    for _ in 0..3 {
        let refused = decision(
            &w.gateway,
            &Question::Key {
                key: guess_for(&w.kai_key),
                asked: "billing",
            },
        )
        .await;
        assert_eq!(reason(&refused), Reason::Invalid);
    }
    w.app.state.failures.flush(&w.app.state.store).await;
    let id = Key::parse(&w.kai_key).expect("kai's key").id().to_string();
    let resource = format!("accounts/acme/users/kai/apiKeys/{id}");
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
        .filter(|e| e.resource == resource && e.method.ends_with("VerifyApiKey"))
        .collect();
    assert_eq!(failures.len(), 1, "{backend}: {failures:#?}");
    assert_eq!(failures[0].count, 3);
    assert!(
        failures[0].detail.contains("REASON_INVALID"),
        "{failures:?}"
    );
}

#[cfg_attr(not(keyward_test_postgres), allow(dead_code))]
async fn feed_connection_killed() {
    let w = world(Backend::Postgres).await;
    let question = w.kai_question("billing");
    let elsewhere = w.replica_gateway().await.expect("a replica on PostgreSQL");
    assert!(decision(&elsewhere, &question).await.valid);
    let killed = w.app.database().terminate_listeners().await;
    assert!(killed >= 2, "both replicas were listening: {killed}");
    let id = Key::parse(&w.kai_key).expect("kai's key").id().to_string();
    w.alice
        .api_keys()
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: format!("accounts/acme/users/kai/apiKeys/{id}"),
        })
        .await
        .expect("revoke");
    let revoked = Instant::now();
    loop {
        let there = decision(&elsewhere, &question).await;
        if !there.valid {
            assert_eq!(reason(&there), Reason::Revoked);
            break;
        }
        assert!(
            revoked.elapsed() <= BOUND,
            "still valid {:?} after the revocation",
            revoked.elapsed()
        );
    }
}

#[cfg_attr(not(keyward_test_postgres), allow(dead_code))]
async fn cut_off_from_the_database() {
    let w = world(Backend::Postgres).await;
    let question = w.kai_question("billing");
    assert!(decision(&w.gateway, &question).await.valid);
    w.app.database().drop_now().await;
    // Whatever the feed does meanwhile, past the bound memory is not trusted.
    w.monotonic.advance(BOUND + Duration::from_millis(1));
    let answer = ask(&w.gateway, &question).await;
    match answer {
        Ok(decision) => panic!("answered {decision:?} with no database past the bound"),
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
    }
    w.app.database().restore().await;
}
