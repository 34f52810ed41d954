//! The high-level API of `keyward-client` against the real server: the flows
//! a platform and a gateway walk (accounts, credentials, API keys), streams
//! over every page, and the typed errors callers match on.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use keyward_client::hmac::HmacSigner;
use keyward_client::proto as pb;
use keyward_client::{
    AccountUpdate, ApiKeyUpdate, ApiSetUpdate, ClientError, CredentialUpdate, HmacRequest,
    ListAccounts, ListApiKeys, ListApiSets, ListAuditEvents, ListCredentials, ListRoles, ListUsers,
    NewAccount, NewApiKey, NewApiSet, NewCredential, NewRole, NewUser, RoleUpdate, Scope,
    SecretRenewal, UserUpdate,
};
use secrecy::ExposeSecret as _;
use tonic::Code;

use crate::helpers::{Backend, spawn_app};

on_every_backend!(
    the_high_level_api_walks_accounts_credentials_and_api_keys,
    streams_walk_every_page,
    errors_arrive_typed_with_their_reason_and_fields,
    accounts_users_and_roles_update_through_their_builders_guarded_by_etags,
    api_sets_api_keys_and_credentials_update_filter_and_delete_guarded_by_etags,
);

async fn the_high_level_api_walks_accounts_credentials_and_api_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let operator = &app.operator;

    let created = operator
        .create_account(
            NewAccount::new("acme")
                .display_name("Acme")
                .administrator("Alice", "alice@acme.example"),
        )
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
        .create_api_set(
            NewApiSet::new("billing")
                .display_name("Billing")
                .methods(["/billing.v1.Invoices/List"]),
        )
        .await
        .expect("the operator creates an API set");
    let entitled = operator
        .update_account(AccountUpdate::new("accounts/acme").entitled_api_sets(["apiSets/billing"]))
        .await
        .expect("the operator entitles acme to billing");
    assert_eq!(entitled.entitled_api_sets, ["apiSets/billing"]);
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;

    // A credential, created once even when its request is sent twice.
    let new = NewCredential::new("accounts/acme", "billing-export")
        .display_name("Billing export")
        .application("billing")
        .contact_email("ops@acme.example")
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

    let billing = || Scope::any().api_set("apiSets/billing");
    let decision = alice
        .verify_client_secret(&client_id, &first_secret, billing())
        .await
        .unwrap();
    assert!(decision.valid, "{decision:?}");
    assert_eq!(decision.secret_version, 1);

    // Renewal with a grace period: both secrets verify.
    let renewed = alice
        .renew_secret(SecretRenewal::new(&name).grace(Duration::from_secs(3600)))
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
        .verify_client_secret(&client_id, &second_secret, Scope::any())
        .await
        .unwrap();
    assert!(!decision.valid);
    assert_eq!(decision.reason(), pb::decision::Reason::Disabled);
    alice.enable_credential(&name).await.unwrap();
    let renamed = alice
        .update_credential(CredentialUpdate::new(&name).display_name("Billing export (new)"))
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
        .verify_api_key(
            key.key.expose_secret(),
            Scope::any().api_set("apiSets/billing"),
        )
        .await
        .unwrap();
    assert!(decision.valid, "{decision:?}");
    let decision = alice
        .verify_api_key(
            key.key.expose_secret(),
            Scope::any().api_set("apiSets/keyward.accounts"),
        )
        .await
        .unwrap();
    assert_eq!(decision.reason(), pb::decision::Reason::ApiSetNotAllowed);
    let revoked = alice.revoke_api_key(&key.api_key.name).await.unwrap();
    assert_eq!(revoked.state(), pb::api_key::State::Revoked);
    let decision = alice
        .verify_api_key(key.key.expose_secret(), Scope::any())
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
            NewCredential::new("accounts/acme", "invoice-signer")
                .display_name("Invoice signer")
                .application("billing")
                .contact_email("signer@acme.example")
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
        Err(e) if e.code() == Some(Code::NotFound)
    ));

    let events: Vec<_> = alice
        .list_audit_events_stream(ListAuditEvents::new("accounts/acme").page_size(3))
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
        .create_account(
            NewAccount::new("acme")
                .display_name("Acme")
                .administrator("Alice", "alice@acme.example"),
        )
        .await
        .unwrap();
    app.operator.verify_account("accounts/acme").await.unwrap();
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;
    for i in 0..5 {
        alice
            .create_credential(
                NewCredential::new("accounts/acme", format!("client-{i}"))
                    .display_name(format!("Client {i}"))
                    .application("billing")
                    .contact_email(format!("ops-{i}@acme.example"))
                    .api_sets(["apiSets/keyward.verify"]),
            )
            .await
            .unwrap();
    }

    let mut client_ids: Vec<String> = alice
        .list_credentials_stream(ListCredentials::new("accounts/acme").page_size(2))
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

    // The same list one page at a time: 2, 2, 1, and no token after the last.
    let mut token = String::new();
    let mut sizes = Vec::new();
    let mut paged = Vec::new();
    loop {
        let page = alice
            .list_credentials(
                ListCredentials::new("accounts/acme")
                    .page_size(2)
                    .page_token(&token),
            )
            .await
            .unwrap();
        sizes.push(page.items.len());
        paged.extend(page.items.into_iter().map(|c| c.client_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(sizes, [2, 2, 1]);
    paged.sort();
    assert_eq!(paged, client_ids);

    for id in ["bob", "carol", "dave"] {
        alice
            .create_user(
                NewUser::new("accounts/acme", id)
                    .display_name(id)
                    .email(format!("{id}@acme.example")),
            )
            .await
            .unwrap();
    }
    let users: Vec<_> = alice
        .list_users_stream(ListUsers::new("accounts/acme").page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 4, "alice and three more: {users:?}");

    let role = alice
        .create_role(
            NewRole::new("accounts/acme", "auditor")
                .display_name("Auditor")
                .authorities([pb::Authority::ViewAuditLog]),
        )
        .await
        .unwrap();
    let roles: Vec<_> = alice
        .list_roles_stream(ListRoles::new("accounts/acme").page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert!(roles.iter().any(|r| r.name == role.name), "{roles:?}");
    assert!(roles.len() >= 2, "{roles:?}");

    let accounts: Vec<_> = app
        .operator
        .list_accounts_stream(ListAccounts::all().page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert!(accounts.iter().any(|a| a.name == "accounts/acme"));
    assert!(accounts.len() >= 2, "the operator account and acme");

    let api_sets: Vec<_> = alice
        .list_api_sets_stream(ListApiSets::all().page_size(1))
        .try_collect()
        .await
        .unwrap();
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
        .list_api_keys_stream(ListApiKeys::new("users/me").page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert!(keys.len() >= 3, "{keys:?}");
}

async fn errors_arrive_typed_with_their_reason_and_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .operator
        .create_account(
            NewAccount::new("acme")
                .display_name("Acme")
                .administrator("Alice", "alice@acme.example"),
        )
        .await
        .unwrap();
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;

    // An unverified account may not create credentials.
    let err = alice
        .create_credential(
            NewCredential::new("accounts/acme", "too-early")
                .display_name("Too early")
                .application("billing")
                .contact_email("ops@acme.example")
                .api_sets(["apiSets/keyward.verify"]),
        )
        .await
        .expect_err("acme is not verified");
    assert!(
        err.code() == Some(Code::FailedPrecondition)
            && err.reason() == Some("ACCOUNT_NOT_VERIFIED"),
        "{err:?}"
    );

    let err = alice
        .get_credential("accounts/acme/credentials/nothing-here")
        .await
        .expect_err("no such credential");
    assert_eq!(err.code(), Some(Code::NotFound), "{err:?}");

    let err = alice
        .list_credentials_stream(ListCredentials::new("accounts/acme").page_size(-1))
        .try_collect::<Vec<_>>()
        .await
        .expect_err("a negative page size");
    match err.code() {
        Some(Code::InvalidArgument) => {
            let violations = err.violations();
            assert!(
                violations.iter().any(|v| v.field == "page_size"),
                "{violations:?}"
            );
        }
        _ => panic!("not InvalidArgument: {err:?}"),
    }

    let err = alice
        .verify_account("accounts/acme")
        .await
        .expect_err("only operators verify accounts");
    assert!(
        err.code() == Some(Code::PermissionDenied) && err.reason() == Some("PERMISSION_DENIED"),
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
        err.code() == Some(Code::PermissionDenied) && err.reason() == Some("API_SET_NOT_ALLOWED"),
        "{err:?}"
    );

    let err = app
        .client
        .get_account("accounts/acme")
        .await
        .expect_err("no credential");
    assert!(err.code() == Some(Code::Unauthenticated), "{err:?}");
}

/// `ABORTED`, as a stale etag answers.
fn is_aborted<T>(result: &Result<T, ClientError>) -> bool {
    matches!(result, Err(e) if e.code() == Some(Code::Aborted))
}

fn is_failed_precondition<T>(result: &Result<T, ClientError>, expected: &str) -> bool {
    matches!(result, Err(e) if e.code() == Some(Code::FailedPrecondition) && e.reason() == Some(expected))
}

async fn accounts_users_and_roles_update_through_their_builders_guarded_by_etags(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .operator
        .create_account(
            NewAccount::new("acme")
                .display_name("Acme")
                .administrator("Alice", "alice@acme.example"),
        )
        .await
        .unwrap();
    let stale = app
        .operator
        .verify_account(keyward_client::Target::new("accounts/acme").etag("\"999\""))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let verified = app
        .operator
        .verify_account(keyward_client::Target::new("accounts/acme").etag(&created.account.etag))
        .await
        .unwrap();
    assert!(verified.verified);
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;

    // The account: renamed with its current etag, refused with the old one.
    let renamed = alice
        .update_account(
            AccountUpdate::new("accounts/acme")
                .display_name("Acme Inc")
                .etag(&verified.etag),
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Acme Inc");
    assert_ne!(renamed.etag, verified.etag, "an update changes the etag");
    assert_eq!(
        alice
            .get_account("accounts/acme")
            .await
            .unwrap()
            .display_name,
        "Acme Inc"
    );
    let stale = alice
        .update_account(
            AccountUpdate::new("accounts/acme")
                .display_name("Acme Ltd")
                .etag(&verified.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let empty = alice
        .update_account(AccountUpdate::new("accounts/acme"))
        .await;
    match empty {
        Err(e) if e.code() == Some(Code::InvalidArgument) => assert!(
            e.violations().iter().any(|v| v.field == "update_mask"),
            "{:?}",
            e.violations()
        ),
        other => panic!("an empty mask is INVALID_ARGUMENT, not {other:?}"),
    }

    // A role: read, updated, refused when stale, deleted.
    let auditor = alice
        .create_role(
            NewRole::new("accounts/acme", "auditor")
                .display_name("Auditor")
                .authorities([pb::Authority::ViewAuditLog]),
        )
        .await
        .unwrap();
    let read = alice.get_role(&auditor.name).await.unwrap();
    assert_eq!(read.display_name, "Auditor");
    assert_eq!(read.etag, auditor.etag);
    let updated = alice
        .update_role(
            RoleUpdate::new(&auditor.name)
                .description("reads the audit log and manages users")
                .authorities([pb::Authority::ViewAuditLog, pb::Authority::ManageUsers])
                .etag(&auditor.etag),
        )
        .await
        .unwrap();
    assert_eq!(
        updated.display_name, "Auditor",
        "not in the mask: unchanged"
    );
    assert_eq!(updated.description, "reads the audit log and manages users");
    let mut authorities = updated.authorities.clone();
    authorities.sort_unstable();
    assert_eq!(
        authorities,
        [
            pb::Authority::ManageUsers as i32,
            pb::Authority::ViewAuditLog as i32
        ]
    );
    let stale = alice
        .update_role(
            RoleUpdate::new(&auditor.name)
                .display_name("Auditors")
                .etag(&auditor.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let builtin = alice
        .update_role(RoleUpdate::new("accounts/acme/roles/administrator").display_name("Boss"))
        .await;
    assert!(
        is_failed_precondition(&builtin, "BUILTIN_ROLE"),
        "the built-in role is fixed: {builtin:?}"
    );

    // A user: read, updated (email and roles), disabled, enabled, deleted.
    let bob = alice
        .create_user(
            NewUser::new("accounts/acme", "bob")
                .display_name("Bob")
                .email("bob@acme.example"),
        )
        .await
        .unwrap();
    assert_eq!(
        alice.get_user(&bob.name).await.unwrap().email,
        "bob@acme.example"
    );
    let updated = alice
        .update_user(
            UserUpdate::new(&bob.name)
                .email("robert@acme.example")
                .roles([auditor.name.as_str()])
                .etag(&bob.etag),
        )
        .await
        .unwrap();
    assert_eq!(updated.email, "robert@acme.example");
    assert_eq!(updated.display_name, "Bob");
    assert_eq!(updated.roles, [auditor.name.as_str()]);
    let stale = alice
        .update_user(
            UserUpdate::new(&bob.name)
                .display_name("Rob")
                .etag(&bob.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let stale = alice
        .disable_user(keyward_client::Target::new(&bob.name).etag(&bob.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let disabled = alice
        .disable_user(keyward_client::Target::new(&bob.name).etag(&updated.etag))
        .await
        .unwrap();
    assert_eq!(disabled.state(), pb::user::State::Disabled);
    let enabled = alice.enable_user(&bob.name).await.unwrap();
    assert_eq!(enabled.state(), pb::user::State::Active);
    let last_admin = alice.disable_user(&created.administrator.name).await;
    assert!(
        is_failed_precondition(&last_admin, "LAST_ADMINISTRATOR"),
        "an account keeps an active administrator: {last_admin:?}"
    );

    // Deletes take the etag too: a stale one deletes nothing, the current
    // one deletes.
    let stale = alice
        .delete_user(keyward_client::Target::new(&bob.name).etag(&bob.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    alice
        .delete_user(keyward_client::Target::new(&bob.name).etag(&enabled.etag))
        .await
        .unwrap();
    assert!(matches!(
        alice.get_user(&bob.name).await,
        Err(e) if e.code() == Some(Code::NotFound)
    ));
    let stale = alice
        .delete_role(keyward_client::Target::new(&auditor.name).etag(&auditor.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    alice
        .delete_role(
            keyward_client::Target::new(&auditor.name)
                .etag(updated_role_etag(&alice, &auditor.name).await),
        )
        .await
        .unwrap();
    assert!(matches!(
        alice.get_role(&auditor.name).await,
        Err(e) if e.code() == Some(Code::NotFound)
    ));
}

async fn updated_role_etag(client: &keyward_client::Client, name: &str) -> String {
    client.get_role(name).await.unwrap().etag
}

async fn api_sets_api_keys_and_credentials_update_filter_and_delete_guarded_by_etags(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let operator = &app.operator;
    let created = operator
        .create_account(
            NewAccount::new("acme")
                .display_name("Acme")
                .administrator("Alice", "alice@acme.example"),
        )
        .await
        .unwrap();
    operator.verify_account("accounts/acme").await.unwrap();
    let alice = app
        .client_with_key(created.administrator_api_key.expose_secret())
        .await;

    // API sets: the operator edits the catalog; anyone authenticated reads it.
    let reports = operator
        .create_api_set(
            NewApiSet::new("reports")
                .display_name("Reports")
                .methods(["/reports.v1.Reports/List"]),
        )
        .await
        .unwrap();
    let read = alice.get_api_set("apiSets/reports").await.unwrap();
    assert_eq!(read.methods, ["/reports.v1.Reports/List"]);
    let updated = operator
        .update_api_set(
            ApiSetUpdate::new("apiSets/reports")
                .methods(["/reports.v1.Reports/List", "/reports.v1.Reports/Get"])
                .description("read-only reports")
                .etag(&reports.etag),
        )
        .await
        .unwrap();
    assert_eq!(
        updated.methods,
        ["/reports.v1.Reports/Get", "/reports.v1.Reports/List"],
        "the catalog keeps methods sorted"
    );
    assert_eq!(updated.description, "read-only reports");
    assert_eq!(updated.display_name, "Reports");
    let stale = operator
        .update_api_set(
            ApiSetUpdate::new("apiSets/reports")
                .display_name("Old")
                .etag(&reports.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let builtin = operator
        .update_api_set(ApiSetUpdate::new("apiSets/keyward.verify").display_name("Verify"))
        .await;
    assert!(
        is_failed_precondition(&builtin, "BUILTIN_API_SET"),
        "{builtin:?}"
    );
    let denied = alice
        .update_api_set(ApiSetUpdate::new("apiSets/reports").display_name("Mine"))
        .await;
    assert!(
        matches!(&denied, Err(e) if e.code() == Some(Code::PermissionDenied)),
        "{denied:?}"
    );
    let stale = operator
        .delete_api_set(keyward_client::Target::new("apiSets/reports").etag(&reports.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    operator
        .delete_api_set(keyward_client::Target::new("apiSets/reports").etag(&updated.etag))
        .await
        .unwrap();
    assert!(matches!(
        alice.get_api_set("apiSets/reports").await,
        Err(e) if e.code() == Some(Code::NotFound)
    ));

    // API keys: renamed, filtered by state, deleted with their etag.
    let first = alice
        .create_api_key(NewApiKey::new("first", ["apiSets/keyward.verify"]))
        .await
        .unwrap();
    let second = alice
        .create_api_key(NewApiKey::new("second", ["apiSets/keyward.verify"]))
        .await
        .unwrap();
    let renamed = alice
        .update_api_key(
            ApiKeyUpdate::new(&first.api_key.name)
                .display_name("first renamed")
                .description("kept for the gateway")
                .etag(&first.api_key.etag),
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "first renamed");
    assert_eq!(renamed.description, "kept for the gateway");
    assert_eq!(renamed.api_sets, ["apiSets/keyward.verify"]);
    let stale = alice
        .update_api_key(
            ApiKeyUpdate::new(&first.api_key.name)
                .description("again")
                .etag(&first.api_key.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let revoked = alice.revoke_api_key(&second.api_key.name).await.unwrap();
    let names = |state| {
        alice
            .list_api_keys_stream(ListApiKeys::new("users/me").state(state).page_size(1))
            .map_ok(|k| k.name)
            .try_collect::<Vec<_>>()
    };
    assert_eq!(
        names(pb::api_key::State::Revoked).await.unwrap(),
        [second.api_key.name.as_str()]
    );
    let active = names(pb::api_key::State::Active).await.unwrap();
    assert!(active.contains(&first.api_key.name), "{active:?}");
    assert!(!active.contains(&second.api_key.name), "{active:?}");
    let stale = alice
        .delete_api_key(
            keyward_client::Target::new(&second.api_key.name).etag(&second.api_key.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    alice
        .delete_api_key(keyward_client::Target::new(&second.api_key.name).etag(&revoked.etag))
        .await
        .unwrap();
    assert!(matches!(
        alice.get_api_key(&second.api_key.name).await,
        Err(e) if e.code() == Some(Code::NotFound)
    ));

    // Credentials: updated, state changes and renewal guarded by the etag,
    // filtered by state and scheme.
    let new = |id: &str| {
        NewCredential::new("accounts/acme", id)
            .display_name(id)
            .application("billing")
            .contact_email(format!("{id}@acme.example"))
            .api_sets(["apiSets/keyward.verify"])
    };
    let basic = alice
        .create_credential(new("basic"))
        .await
        .unwrap()
        .credential;
    let hmac = alice
        .create_credential(new("signer").scheme(pb::credential::Scheme::Hmac))
        .await
        .unwrap()
        .credential;
    let updated = alice
        .update_credential(
            CredentialUpdate::new(&basic.name)
                .description("nightly export")
                .application("exports")
                .api_sets(["apiSets/keyward.verify", "apiSets/keyward.credentials"])
                .etag(&basic.etag),
        )
        .await
        .unwrap();
    assert_eq!(updated.description, "nightly export");
    assert_eq!(updated.application, "exports");
    assert_eq!(updated.display_name, "basic");
    let mut sets = updated.api_sets.clone();
    sets.sort();
    assert_eq!(
        sets,
        ["apiSets/keyward.credentials", "apiSets/keyward.verify"]
    );
    let stale = alice
        .update_credential(
            CredentialUpdate::new(&basic.name)
                .display_name("x")
                .etag(&basic.etag),
        )
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let stale = alice
        .disable_credential(keyward_client::Target::new(&basic.name).etag(&basic.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let disabled = alice
        .disable_credential(keyward_client::Target::new(&basic.name).etag(&updated.etag))
        .await
        .unwrap();
    assert_eq!(disabled.state(), pb::credential::State::Disabled);

    let listed = |listing: ListCredentials| {
        alice
            .list_credentials_stream(listing.page_size(1))
            .map_ok(|c| c.name)
            .try_collect::<Vec<_>>()
    };
    assert_eq!(
        listed(ListCredentials::new("accounts/acme").state(pb::credential::State::Disabled))
            .await
            .unwrap(),
        [basic.name.as_str()]
    );
    assert_eq!(
        listed(ListCredentials::new("accounts/acme").scheme(pb::credential::Scheme::Hmac))
            .await
            .unwrap(),
        [hmac.name.as_str()]
    );
    assert!(
        listed(
            ListCredentials::new("accounts/acme")
                .state(pb::credential::State::Disabled)
                .scheme(pb::credential::Scheme::Hmac)
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        listed(ListCredentials::new("accounts/acme"))
            .await
            .unwrap()
            .len(),
        2
    );

    let stale = alice
        .enable_credential(keyward_client::Target::new(&basic.name).etag(&basic.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let enabled = alice
        .enable_credential(keyward_client::Target::new(&basic.name).etag(&disabled.etag))
        .await
        .unwrap();
    assert_eq!(enabled.state(), pb::credential::State::Active);

    let stale = alice
        .renew_secret(SecretRenewal::new(&basic.name).etag(&basic.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let renewal = SecretRenewal::new(&basic.name)
        .etag(&enabled.etag)
        .request_id("0b6e-renew-basic");
    let renewed = alice.renew_secret(renewal.clone()).await.unwrap();
    assert!(!renewed.client_secret.expose_secret().is_empty());
    let retried = alice.renew_secret(renewal).await.unwrap();
    assert!(
        retried.client_secret.expose_secret().is_empty(),
        "a retry with the same request id mints no second secret"
    );
    assert_eq!(
        retried.credential.secret_versions.len(),
        renewed.credential.secret_versions.len()
    );

    let stale = alice
        .delete_credential(keyward_client::Target::new(&basic.name).etag(&basic.etag))
        .await;
    assert!(is_aborted(&stale), "{stale:?}");
    let current = alice.get_credential(&basic.name).await.unwrap();
    alice
        .delete_credential(keyward_client::Target::new(&basic.name).etag(&current.etag))
        .await
        .unwrap();
    assert!(matches!(
        alice.get_credential(&basic.name).await,
        Err(e) if e.code() == Some(Code::NotFound)
    ));
}
