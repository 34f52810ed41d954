//! Runs the `keyward-cli` binary against a real Keyward server started in-process on a
//! fresh database: the README's newcomer flow, step by step, and every command family.
//!
//! Like `tests/api`, whose server harness it shares (`tests/api/app.rs`), every test runs
//! on SQLite and, when `KEYWARD_TEST_POSTGRES_URL` is set at build time, on PostgreSQL too
//! (`keyward_store::on_every_backend!`), each on a database of its own that is dropped
//! afterwards.

#![allow(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use keyward_store::testing::TestBackend as Backend;
use serde_json::Value;

/// The in-process server of the workspace's `tests/api`, started the same way here.
#[allow(
    dead_code,
    unreachable_pub,
    reason = "shared with tests/api, which uses all of it"
)]
#[path = "../../../tests/api/app.rs"]
mod app;

use app::{TestApp, spawn_app};

mod support;

use support::Run;

keyward_store::on_every_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    the_readme_newcomer_flow_runs_through_the_cli,
    api_sets_roles_users_and_a_credential_lifecycle_are_managed_by_the_cli,
    server_errors_exit_with_their_class,
    a_request_signed_by_the_cli_verifies,
    users_and_roles_are_read_updated_and_deleted_with_etags,
    api_sets_api_keys_and_the_audit_log_are_managed_with_etags,
    credential_changes_honour_the_etag_and_never_print_a_secret_when_refused,
    keys_are_saved_to_and_used_from_apikey_files,
    an_enrollment_token_is_issued_listed_and_redeemed_into_a_key_file,
    scan_report_revokes_what_it_finds_and_says_so,
    audit_verify_names_the_event_where_a_tampered_log_breaks,
);

/// A running server (`tests/api`'s `TestApp`); dropping it stops the server.
struct Server {
    url: String,
    operator_key: String,
    app: TestApp,
}

async fn spawn_server(backend: Backend) -> Server {
    let app = spawn_app(backend).await;
    Server {
        url: app.url.clone(),
        operator_key: app
            .operator_key
            .clone()
            .expect("a first start hands out the operator key"),
        app,
    }
}

impl Server {
    /// Runs the CLI with `key` as `KEYWARD_API_KEY` and `stdin` on its standard input.
    async fn cli(&self, key: Option<&str>, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward-cli"));
        command
            .args(args)
            .env("KEYWARD_URL", &self.url)
            .env_remove("KEYWARD_CLIENT_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match key {
            Some(key) => command.env("KEYWARD_API_KEY", key),
            None => command.env_remove("KEYWARD_API_KEY"),
        };
        let stdin = stdin.map(str::to_owned);
        let output: Output = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("the CLI starts");
            if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
                pipe.write_all(text.as_bytes()).expect("stdin is written");
            }
            child.wait_with_output().expect("the CLI ends")
        })
        .await
        .expect("the CLI runs");
        Run::from(output)
    }
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` is a string in {value}"))
}

async fn the_readme_newcomer_flow_runs_through_the_cli(backend: Backend) {
    let server = spawn_server(backend).await;
    let operator = Some(server.operator_key.as_str());

    // Operator key → create the account; its administrator's key is handed over once.
    let created = server
        .cli(
            operator,
            &[
                "--json",
                "accounts",
                "create",
                "acme",
                "--display-name",
                "Acme",
                "--admin-name",
                "Alice",
                "--admin-email",
                "alice@acme.example",
            ],
            None,
        )
        .await
        .ok();
    assert!(created.stderr.contains("will not be shown again"));
    let created_json = created.json();
    assert_eq!(created_json["account"]["name"], "accounts/acme");
    let alice = field(&created_json, "administratorApiKey").to_owned();
    assert!(alice.starts_with("kw_ak_"));
    let alice = Some(alice.as_str());

    // Verify the account (operators only), in the human form.
    let verified = server
        .cli(operator, &["accounts", "verify", "acme"], None)
        .await
        .ok();
    assert!(
        verified
            .stdout
            .lines()
            .any(|l| l.starts_with("verified:") && l.ends_with("true")),
        "{}",
        verified.stdout
    );

    // A Basic credential; the secret is in the JSON, with the warning on stderr.
    let credential = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "create",
                "export",
                "--account",
                "acme",
                "--display-name",
                "Export",
                "--contact-email",
                "ops@acme.example",
                "--application",
                "billing",
                "--api-set",
                "keyward.verify",
            ],
            None,
        )
        .await
        .ok();
    assert!(credential.stderr.contains("will not be shown again"));
    let credential = credential.json();
    let name = field(&credential, "name").to_owned();
    let client_id = field(&credential, "clientId").to_owned();
    let old_secret = field(&credential, "clientSecret").to_owned();

    // Listing and showing never print a secret.
    let listed = server
        .cli(alice, &["credentials", "list", "--account", "acme"], None)
        .await
        .ok();
    assert!(listed.stdout.starts_with("CLIENT ID"), "{}", listed.stdout);
    assert!(listed.stdout.contains(&client_id));
    assert!(!listed.stdout.contains(&old_secret));
    let shown = server
        .cli(alice, &["credentials", "show", &name], None)
        .await
        .ok();
    assert!(shown.stdout.contains(&client_id));
    assert!(!shown.stdout.contains("kw_cs_"));

    // Renew with a grace period: the old and the new secret both verify.
    let renewed = server
        .cli(
            alice,
            &["--json", "credentials", "renew", &name, "--grace", "1h"],
            None,
        )
        .await
        .ok();
    assert!(renewed.stderr.contains("will not be shown again"));
    let new_secret = field(&renewed.json(), "clientSecret").to_owned();
    assert_ne!(new_secret, old_secret);
    for secret in [&old_secret, &new_secret] {
        let verdict = server
            .cli(
                alice,
                &["verify", "basic", &client_id, "--secret-stdin"],
                Some(&format!("{secret}\n")),
            )
            .await
            .ok();
        assert!(verdict.stdout.contains("VALID"), "{}", verdict.stdout);
        assert!(!verdict.stdout.contains(secret.as_str()));
    }

    // An API key saved to a .APIKEY file, never printed.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir_path = dir.path().to_str().expect("a UTF-8 path");
    let saved = server
        .cli(
            alice,
            &[
                "--json",
                "api-keys",
                "create",
                "--display-name",
                "gateway",
                "--api-set",
                "keyward.verify",
                "--save",
                dir_path,
            ],
            None,
        )
        .await
        .ok();
    let saved_stdout = saved.stdout.clone();
    let saved = saved.json();
    let key_name = field(&saved, "name").to_owned();
    let file = std::path::PathBuf::from(field(&saved, "file"));
    assert_eq!(file, dir.path().join("gateway.APIKEY"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)
            .expect("the file exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key_file = keyward_client::ApiKeyFile::read(&file).expect("the file reads back");
    let key = secrecy::ExposeSecret::expose_secret(key_file.key()).to_owned();
    assert_eq!(key_file.name(), Some(key_name.as_str()));
    assert!(!saved_stdout.contains(&key), "a saved key is not printed");

    // The key verifies (read from stdin), then is revoked and refused with exit code 10.
    let verdict = server
        .cli(
            alice,
            &["verify", "api-key", "--api-set", "keyward.verify"],
            Some(&key),
        )
        .await
        .ok();
    assert!(verdict.stdout.contains("VALID"));
    let keys = server.cli(alice, &["api-keys", "list"], None).await.ok();
    assert!(keys.stdout.contains(&key_name), "{}", keys.stdout);
    server
        .cli(alice, &["api-keys", "revoke", &key_name], None)
        .await
        .ok();
    let refused = server
        .cli(alice, &["--json", "verify", "api-key", &key], None)
        .await;
    assert_eq!(refused.code, 10, "{}", refused.stderr);
    assert_eq!(refused.json()["reason"], "REASON_REVOKED");
    assert!(refused.stderr.contains("REVOKED"));

    // A wrong Basic secret is refused too.
    let wrong = server
        .cli(
            alice,
            &["verify", "basic", &client_id, "--secret-stdin"],
            Some(&key),
        )
        .await;
    assert_eq!(wrong.code, 10, "{}", wrong.stderr);
}

/// Creates and verifies `accounts/acme`; Alice's API key.
async fn verified_acme(server: &Server) -> String {
    let operator = Some(server.operator_key.as_str());
    let created = server
        .cli(
            operator,
            &[
                "--json",
                "accounts",
                "create",
                "acme",
                "--display-name",
                "Acme",
                "--admin-name",
                "Alice",
                "--admin-email",
                "alice@acme.example",
            ],
            None,
        )
        .await
        .ok()
        .json();
    server
        .cli(operator, &["accounts", "verify", "accounts/acme"], None)
        .await
        .ok();
    field(&created, "administratorApiKey").to_owned()
}

async fn api_sets_roles_users_and_a_credential_lifecycle_are_managed_by_the_cli(backend: Backend) {
    let server = spawn_server(backend).await;
    let operator = Some(server.operator_key.as_str());
    let alice = verified_acme(&server).await;
    let alice = Some(alice.as_str());

    server
        .cli(
            operator,
            &[
                "api-sets",
                "create",
                "billing",
                "--display-name",
                "Billing",
                "--method",
                "/billing.v1.Invoices/List",
            ],
            None,
        )
        .await
        .ok();
    let sets = server.cli(alice, &["api-sets", "list"], None).await.ok();
    assert!(sets.stdout.contains("apiSets/billing"), "{}", sets.stdout);
    assert!(sets.stdout.contains("apiSets/keyward.verify"));
    let available = server
        .cli(alice, &["api-sets", "list", "--available"], None)
        .await
        .ok();
    assert!(
        !available.stdout.contains("apiSets/billing"),
        "acme is not entitled to billing yet: {}",
        available.stdout
    );
    let denied = server
        .cli(
            alice,
            &["accounts", "update", "acme", "--entitle", "billing"],
            None,
        )
        .await;
    assert_ne!(
        denied.code, 0,
        "administrators do not entitle: {}",
        denied.stderr
    );
    let entitled = server
        .cli(
            operator,
            &[
                "--json",
                "accounts",
                "update",
                "acme",
                "--entitle",
                "billing",
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(
        entitled["entitledApiSets"][0], "apiSets/billing",
        "{entitled}"
    );
    let available = server
        .cli(alice, &["api-sets", "list", "--available"], None)
        .await
        .ok();
    assert!(
        available.stdout.contains("apiSets/billing"),
        "{}",
        available.stdout
    );
    // The operator's key holds keyward.delegation: it may act for alice.
    let users = server
        .cli(
            operator,
            &["--json", "users", "list", "--account", "acme"],
            None,
        )
        .await
        .ok()
        .json();
    let alice_name = users[0]["name"]
        .as_str()
        .expect("alice, acme's only user")
        .to_owned();
    let as_alice = server
        .cli(
            operator,
            &["--json", "--act-as", &alice_name, "api-keys", "list"],
            None,
        )
        .await
        .ok()
        .json();
    let names: Vec<&str> = as_alice
        .as_array()
        .map(|keys| keys.iter().filter_map(|k| k["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !names.is_empty()
            && names
                .iter()
                .all(|n| n.starts_with(&format!("{alice_name}/"))),
        "alice's keys: {as_alice}"
    );

    let role = server
        .cli(
            alice,
            &[
                "--json",
                "roles",
                "create",
                "auditors",
                "--account",
                "acme",
                "--display-name",
                "Auditors",
                "--authority",
                "view-audit-log",
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(role["authorities"][0], "AUTHORITY_VIEW_AUDIT_LOG");
    let roles = server
        .cli(
            alice,
            &["--json", "roles", "list", "--account", "acme"],
            None,
        )
        .await
        .ok()
        .json();
    assert!(roles.as_array().is_some_and(|r| {
        r.iter()
            .any(|r| r["name"] == "accounts/acme/roles/auditors")
    }));

    server
        .cli(
            alice,
            &[
                "users",
                "create",
                "bob",
                "--account",
                "acme",
                "--display-name",
                "Bob",
                "--email",
                "bob@acme.example",
                "--role",
                "auditors",
            ],
            None,
        )
        .await
        .ok();
    let users = server
        .cli(alice, &["users", "list", "--account", "acme"], None)
        .await
        .ok();
    let bob = users
        .stdout
        .lines()
        .find(|l| l.starts_with("accounts/acme/users/bob"))
        .unwrap_or_else(|| panic!("bob is listed:\n{}", users.stdout));
    assert!(bob.contains("accounts/acme/roles/auditors"));

    let credential = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "create",
                "billing",
                "--account",
                "acme",
                "--display-name",
                "Billing",
                "--contact-email",
                "ops@acme.example",
                "--application",
                "billing",
                "--api-set",
                "billing",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let name = field(&credential, "name").to_owned();
    let client_id = field(&credential, "clientId").to_owned();
    let secret = format!("{}\n", field(&credential, "clientSecret"));

    let updated = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "update",
                &name,
                "--display-name",
                "Billing export",
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(updated["displayName"], "Billing export");
    assert_eq!(updated["apiSets"][0], "apiSets/billing");

    let verify = |api_set: &'static str| {
        let (server, client_id, secret) = (&server, client_id.clone(), secret.clone());
        async move {
            server
                .cli(
                    alice,
                    &[
                        "--json",
                        "verify",
                        "basic",
                        &client_id,
                        "--secret-stdin",
                        "--api-set",
                        api_set,
                    ],
                    Some(&secret),
                )
                .await
        }
    };
    assert_eq!(verify("billing").await.code, 0);
    let outside = verify("keyward.verify").await;
    assert_eq!(outside.code, 10);
    assert_eq!(outside.json()["reason"], "REASON_API_SET_NOT_ALLOWED");

    server
        .cli(alice, &["credentials", "disable", &name], None)
        .await
        .ok();
    let disabled = verify("billing").await;
    assert_eq!(disabled.code, 10);
    assert_eq!(disabled.json()["reason"], "REASON_DISABLED");
    let listed = server
        .cli(
            alice,
            &[
                "credentials",
                "list",
                "--account",
                "acme",
                "--state",
                "disabled",
            ],
            None,
        )
        .await
        .ok();
    assert!(listed.stdout.contains(&client_id), "{}", listed.stdout);

    server
        .cli(alice, &["credentials", "enable", &name], None)
        .await
        .ok();
    assert_eq!(verify("billing").await.code, 0);

    server
        .cli(alice, &["credentials", "delete", &name], None)
        .await
        .ok();
    let gone = server
        .cli(alice, &["credentials", "show", &name], None)
        .await;
    assert_eq!(gone.code, 3, "{}", gone.stderr);
    assert_eq!(verify("billing").await.code, 10);
}

async fn server_errors_exit_with_their_class(backend: Backend) {
    let server = spawn_server(backend).await;
    let operator = Some(server.operator_key.as_str());

    let missing = server
        .cli(operator, &["accounts", "get", "nope"], None)
        .await;
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.contains("NOT_FOUND"), "{}", missing.stderr);

    let anonymous = server.cli(None, &["accounts", "list"], None).await;
    assert_eq!(anonymous.code, 2, "{}", anonymous.stderr);
    assert!(anonymous.stderr.contains("UNAUTHENTICATED"));

    let invalid = server
        .cli(
            operator,
            &[
                "api-keys",
                "create",
                "--display-name",
                "",
                "--api-set",
                "keyward.verify",
            ],
            None,
        )
        .await;
    assert_eq!(invalid.code, 4, "{}", invalid.stderr);
    assert!(
        invalid.stderr.contains("api_key.display_name"),
        "the field violation is printed: {}",
        invalid.stderr
    );

    let empty_etag = server
        .cli(
            operator,
            &["users", "delete", "accounts/acme/users/bob", "--etag", ""],
            None,
        )
        .await
        .exits(1);
    assert!(
        empty_etag.stderr.contains("--etag"),
        "an empty etag is a usage error, not an unconditional delete: {}",
        empty_etag.stderr
    );

    let usage = server.cli(operator, &["credentials", "renew"], None).await;
    assert_eq!(
        usage.code, 1,
        "a usage error is a local error, not UNAUTHENTICATED"
    );
}

async fn a_request_signed_by_the_cli_verifies(backend: Backend) {
    let server = spawn_server(backend).await;
    let alice = verified_acme(&server).await;
    let alice = Some(alice.as_str());
    let credential = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "create",
                "signer",
                "--account",
                "acme",
                "--scheme",
                "hmac",
                "--display-name",
                "Signer",
                "--contact-email",
                "ops@acme.example",
                "--application",
                "billing",
                "--api-set",
                "keyward.verify",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let client_id = field(&credential, "clientId").to_owned();
    let secret = field(&credential, "clientSecret").to_owned();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let body = dir.path().join("body.json");
    std::fs::write(&body, br#"{"amount": 42}"#).expect("the body is written");
    let body = body.to_str().expect("a UTF-8 path");
    let signed = server
        .cli(
            None,
            &[
                "--json",
                "sign",
                "--client-id",
                &client_id,
                "--secret-stdin",
                "--method",
                "POST",
                "--path",
                "/v1/invoices",
                "--query",
                "draft=true",
                "--body-file",
                body,
            ],
            Some(&secret),
        )
        .await
        .ok();
    assert!(!signed.stdout.contains(&secret));
    let authorization = field(&signed.json(), "authorization").to_owned();

    let verdict = |path: &'static str| {
        let authorization = authorization.clone();
        let server = &server;
        async move {
            server
                .cli(
                    alice,
                    &[
                        "verify",
                        "hmac",
                        "--authorization",
                        &authorization,
                        "--method",
                        "POST",
                        "--path",
                        path,
                        "--query",
                        "draft=true",
                        "--body-file",
                        body,
                    ],
                    None,
                )
                .await
        }
    };
    let valid = verdict("/v1/invoices").await;
    assert_eq!(valid.code, 0, "{}\n{}", valid.stdout, valid.stderr);
    assert!(valid.stdout.contains(&client_id));
    let tampered = verdict("/v1/other").await;
    assert_eq!(tampered.code, 10, "{}", tampered.stderr);
}

/// The `etag` of a JSON resource.
fn etag(value: &Value) -> String {
    field(value, "etag").to_owned()
}

async fn users_and_roles_are_read_updated_and_deleted_with_etags(backend: Backend) {
    let server = spawn_server(backend).await;
    let alice = verified_acme(&server).await;
    let alice = Some(alice.as_str());
    let json = |args: &'static [&'static str]| server.cli(alice, args, None);

    // The account, renamed by its administrator; the old etag no longer works.
    let account = json(&["--json", "accounts", "get", "acme"])
        .await
        .ok()
        .json();
    let first_etag = etag(&account);
    let renamed = server
        .cli(
            alice,
            &[
                "--json",
                "accounts",
                "update",
                "acme",
                "--display-name",
                "Acme Inc",
                "--etag",
                &first_etag,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(renamed["displayName"], "Acme Inc");
    assert_ne!(etag(&renamed), first_etag);
    server
        .cli(
            alice,
            &[
                "accounts",
                "update",
                "acme",
                "--display-name",
                "Acme Ltd",
                "--etag",
                &first_etag,
            ],
            None,
        )
        .await
        .aborted();
    let shown = json(&["accounts", "show", "acme"]).await.ok();
    assert!(shown.stdout.contains("Acme Inc"), "{}", shown.stdout);

    // A role: shown, updated with its etag, refused with a stale one.
    let role = json(&[
        "--json",
        "roles",
        "create",
        "auditors",
        "--account",
        "acme",
        "--display-name",
        "Auditors",
        "--authority",
        "view-audit-log",
    ])
    .await
    .ok()
    .json();
    let role_etag = etag(&role);
    let shown = json(&["roles", "get", "auditors", "--account", "acme"])
        .await
        .ok();
    assert!(
        shown
            .stdout
            .lines()
            .any(|l| l.starts_with("name:") && l.ends_with("accounts/acme/roles/auditors")),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .lines()
            .any(|l| l.starts_with("etag:") && l.ends_with(&role_etag)),
        "the etag is shown for --etag: {}",
        shown.stdout
    );
    let short = json(&["roles", "get", "auditors"]).await.exits(1);
    assert!(short.stderr.contains("add --account"), "{}", short.stderr);
    let both = json(&[
        "roles",
        "get",
        "accounts/acme/roles/auditors",
        "--account",
        "acme",
    ])
    .await
    .exits(1);
    assert!(both.stderr.contains("drop --account"), "{}", both.stderr);

    let updated = server
        .cli(
            alice,
            &[
                "--json",
                "roles",
                "update",
                "accounts/acme/roles/auditors",
                "--description",
                "reads the log, manages users",
                "--authority",
                "view-audit-log",
                "--authority",
                "manage-users",
                "--etag",
                &role_etag,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(updated["description"], "reads the log, manages users");
    assert_eq!(updated["displayName"], "Auditors", "not given: unchanged");
    let authorities = updated["authorities"].as_array().expect("an array");
    assert_eq!(authorities.len(), 2, "{updated}");
    assert!(authorities.contains(&Value::from("AUTHORITY_MANAGE_USERS")));
    server
        .cli(
            alice,
            &[
                "roles",
                "update",
                "auditors",
                "--account",
                "acme",
                "--display-name",
                "Readers",
                "--etag",
                &role_etag,
            ],
            None,
        )
        .await
        .aborted();
    let nothing = json(&["roles", "update", "auditors", "--account", "acme"])
        .await
        .exits(1);
    assert!(
        nothing.stderr.contains("nothing to update"),
        "{}",
        nothing.stderr
    );
    let builtin = json(&[
        "roles",
        "update",
        "accounts/acme/roles/administrator",
        "--display-name",
        "Boss",
    ])
    .await
    .exits(4);
    assert!(
        builtin.stderr.contains("BUILTIN_ROLE"),
        "{}",
        builtin.stderr
    );

    // A user: shown, updated (email, roles taken away), disabled, enabled, deleted.
    let bob = json(&[
        "--json",
        "users",
        "create",
        "bob",
        "--account",
        "acme",
        "--display-name",
        "Bob",
        "--email",
        "bob@acme.example",
        "--role",
        "auditors",
    ])
    .await
    .ok()
    .json();
    let bob_etag = etag(&bob);
    let got = json(&["--json", "users", "get", "accounts/acme/users/bob"])
        .await
        .ok()
        .json();
    assert_eq!(got["email"], "bob@acme.example");
    assert_eq!(got["roles"][0], "accounts/acme/roles/auditors");
    let updated = server
        .cli(
            alice,
            &[
                "--json",
                "users",
                "update",
                "bob",
                "--account",
                "acme",
                "--email",
                "robert@acme.example",
                "--no-roles",
                "--etag",
                &bob_etag,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(updated["email"], "robert@acme.example");
    assert_eq!(updated["roles"], Value::Array(Vec::new()));
    let updated_etag = etag(&updated);
    for verb in ["disable", "enable", "delete"] {
        server
            .cli(
                alice,
                &[
                    "users",
                    verb,
                    "accounts/acme/users/bob",
                    "--etag",
                    &bob_etag,
                ],
                None,
            )
            .await
            .aborted();
    }
    let disabled = server
        .cli(
            alice,
            &[
                "--json",
                "users",
                "disable",
                "accounts/acme/users/bob",
                "--etag",
                &updated_etag,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(disabled["state"], "STATE_DISABLED");
    let enabled = json(&["users", "enable", "bob", "--account", "acme"])
        .await
        .ok();
    assert!(
        enabled
            .stdout
            .lines()
            .any(|l| l.starts_with("state:") && l.ends_with("ACTIVE")),
        "{}",
        enabled.stdout
    );

    let users = json(&["--json", "users", "list", "--account", "acme"])
        .await
        .ok()
        .json();
    let alice_name = users
        .as_array()
        .and_then(|users| {
            users
                .iter()
                .find(|u| u["email"] == "alice@acme.example")
                .and_then(|u| u["name"].as_str())
        })
        .expect("alice is listed")
        .to_owned();
    let last = server
        .cli(alice, &["users", "disable", &alice_name], None)
        .await
        .exits(4);
    assert!(
        last.stderr.contains("LAST_ADMINISTRATOR"),
        "{}",
        last.stderr
    );

    let deleted = json(&["users", "delete", "bob", "--account", "acme"])
        .await
        .ok();
    assert_eq!(deleted.stdout.trim(), "deleted accounts/acme/users/bob");
    json(&["users", "get", "accounts/acme/users/bob"])
        .await
        .exits(3);

    server
        .cli(
            alice,
            &[
                "roles",
                "delete",
                "auditors",
                "--account",
                "acme",
                "--etag",
                &role_etag,
            ],
            None,
        )
        .await
        .aborted();
    let deleted = server
        .cli(
            alice,
            &[
                "--json",
                "roles",
                "delete",
                "auditors",
                "--account",
                "acme",
                "--etag",
                &etag(&updated_role(&server, alice).await),
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(deleted["deleted"], "accounts/acme/roles/auditors");
    json(&["roles", "get", "auditors", "--account", "acme"])
        .await
        .exits(3);
}

/// The auditors role as it is now.
async fn updated_role(server: &Server, key: Option<&str>) -> Value {
    server
        .cli(
            key,
            &["--json", "roles", "get", "accounts/acme/roles/auditors"],
            None,
        )
        .await
        .ok()
        .json()
}

async fn api_sets_api_keys_and_the_audit_log_are_managed_with_etags(backend: Backend) {
    let server = spawn_server(backend).await;
    let operator = Some(server.operator_key.as_str());
    let alice = verified_acme(&server).await;
    let alice = Some(alice.as_str());

    // API sets: the operator edits the catalog, everyone reads it.
    let created = server
        .cli(
            operator,
            &[
                "--json",
                "api-sets",
                "create",
                "reports",
                "--display-name",
                "Reports",
                "--method",
                "/reports.v1.Reports/List",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let first_etag = etag(&created);
    let shown = server
        .cli(alice, &["api-sets", "get", "reports"], None)
        .await
        .ok();
    assert!(
        shown.stdout.contains("/reports.v1.Reports/List"),
        "{}",
        shown.stdout
    );
    let updated = server
        .cli(
            operator,
            &[
                "--json",
                "api-sets",
                "update",
                "apiSets/reports",
                "--method",
                "/reports.v1.Reports/List",
                "--method",
                "/reports.v1.Reports/Get",
                "--description",
                "read-only reports",
                "--etag",
                &first_etag,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(updated["description"], "read-only reports");
    assert_eq!(updated["displayName"], "Reports");
    assert_eq!(
        updated["methods"],
        serde_json::json!(["/reports.v1.Reports/Get", "/reports.v1.Reports/List"])
    );
    server
        .cli(
            operator,
            &[
                "api-sets",
                "update",
                "reports",
                "--display-name",
                "Old",
                "--etag",
                &first_etag,
            ],
            None,
        )
        .await
        .aborted();
    let denied = server
        .cli(
            alice,
            &["api-sets", "update", "reports", "--display-name", "Mine"],
            None,
        )
        .await
        .exits(2);
    assert!(
        denied.stderr.contains("PERMISSION_DENIED"),
        "{}",
        denied.stderr
    );
    let builtin = server
        .cli(
            operator,
            &[
                "api-sets",
                "update",
                "keyward.verify",
                "--display-name",
                "V",
            ],
            None,
        )
        .await
        .exits(4);
    assert!(
        builtin.stderr.contains("BUILTIN_API_SET"),
        "{}",
        builtin.stderr
    );
    server
        .cli(
            operator,
            &["api-sets", "delete", "reports", "--etag", &first_etag],
            None,
        )
        .await
        .aborted();
    let deleted = server
        .cli(
            operator,
            &["api-sets", "delete", "reports", "--etag", &etag(&updated)],
            None,
        )
        .await
        .ok();
    assert_eq!(deleted.stdout.trim(), "deleted apiSets/reports");
    server
        .cli(alice, &["api-sets", "get", "reports"], None)
        .await
        .exits(3);

    // API keys: shown without the key, updated, deleted with their etag.
    let created = server
        .cli(
            alice,
            &[
                "--json",
                "api-keys",
                "create",
                "--display-name",
                "ci",
                "--api-set",
                "keyward.verify",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let name = field(&created, "name").to_owned();
    let key = field(&created, "key").to_owned();
    let first_etag = etag(&created);
    let shown = server
        .cli(alice, &["api-keys", "get", &name], None)
        .await
        .ok();
    assert!(
        shown.stdout.contains(field(&created, "keyPrefix")),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains(&key), "a key is never shown again");
    let updated = server
        .cli(
            alice,
            &[
                "--json",
                "api-keys",
                "update",
                &name,
                "--display-name",
                "ci pipeline",
                "--description",
                "builds and deploys",
                "--etag",
                &first_etag,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(updated["displayName"], "ci pipeline");
    assert_eq!(updated["description"], "builds and deploys");
    assert_eq!(updated["apiSets"][0], "apiSets/keyward.verify");
    assert!(!updated.to_string().contains(&key));
    server
        .cli(
            alice,
            &[
                "api-keys",
                "update",
                &name,
                "--description",
                "again",
                "--etag",
                &first_etag,
            ],
            None,
        )
        .await
        .aborted();
    let nothing = server
        .cli(alice, &["api-keys", "update", &name], None)
        .await
        .exits(1);
    assert!(
        nothing.stderr.contains("--display-name, --description"),
        "{}",
        nothing.stderr
    );
    server
        .cli(
            alice,
            &["api-keys", "delete", &name, "--etag", &first_etag],
            None,
        )
        .await
        .aborted();
    let deleted = server
        .cli(alice, &["--json", "api-keys", "delete", &name], None)
        .await
        .ok()
        .json();
    assert_eq!(deleted["deleted"], name.as_str());
    server
        .cli(alice, &["api-keys", "get", &name], None)
        .await
        .exits(3);

    // The audit log of the account holds those changes, newest first.
    let events = server
        .cli(
            alice,
            &["--json", "audit", "list", "--account", "acme"],
            None,
        )
        .await
        .ok()
        .json();
    let events = events.as_array().expect("an array of events");
    let methods: Vec<&str> = events.iter().filter_map(|e| e["method"].as_str()).collect();
    let updated_at = methods
        .iter()
        .position(|m| m.ends_with("/UpdateApiKey"))
        .unwrap_or_else(|| panic!("the key update is audited: {methods:?}"));
    let deleted_at = methods
        .iter()
        .position(|m| m.ends_with("/DeleteApiKey"))
        .unwrap_or_else(|| panic!("the key deletion is audited: {methods:?}"));
    assert!(deleted_at < updated_at, "newest first: {methods:?}");
    let one = server
        .cli(
            alice,
            &[
                "--json",
                "audit",
                "list",
                "--account",
                "acme",
                "--limit",
                "1",
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(one.as_array().map(Vec::len), Some(1), "{one}");
    let table = server
        .cli(alice, &["audit", "list", "--account", "acme"], None)
        .await
        .ok();
    assert!(table.stdout.starts_with("TIME"), "{}", table.stdout);
    assert!(table.stdout.contains("DeleteApiKey"), "{}", table.stdout);
    server
        .cli(
            alice,
            &["audit", "list", "--account", "acme", "--limit", "0"],
            None,
        )
        .await
        .exits(1);
}

async fn credential_changes_honour_the_etag_and_never_print_a_secret_when_refused(
    backend: Backend,
) {
    let server = spawn_server(backend).await;
    let alice = verified_acme(&server).await;
    let alice = Some(alice.as_str());
    let created = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "create",
                "export",
                "--account",
                "acme",
                "--display-name",
                "Export",
                "--contact-email",
                "ops@acme.example",
                "--application",
                "billing",
                "--api-set",
                "keyward.verify",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let name = field(&created, "name").to_owned();
    let stale = etag(&created);

    let updated = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "update",
                &name,
                "--application",
                "exports",
                "--description",
                "nightly",
                "--etag",
                &stale,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(updated["application"], "exports");
    assert_eq!(updated["description"], "nightly");
    assert_eq!(updated["displayName"], "Export");
    let current = etag(&updated);

    server
        .cli(
            alice,
            &[
                "credentials",
                "update",
                &name,
                "--display-name",
                "X",
                "--etag",
                &stale,
            ],
            None,
        )
        .await
        .aborted();
    for verb in ["disable", "enable", "delete"] {
        server
            .cli(alice, &["credentials", verb, &name, "--etag", &stale], None)
            .await
            .aborted();
    }
    let refused = server
        .cli(
            alice,
            &["--json", "credentials", "renew", &name, "--etag", &stale],
            None,
        )
        .await
        .aborted();
    assert!(!refused.stderr.contains("kw_cs_"), "{}", refused.stderr);
    let contact = server
        .cli(
            alice,
            &[
                "credentials",
                "update",
                &name,
                "--contact-email",
                "x@acme.example",
            ],
            None,
        )
        .await
        .exits(1);
    assert!(
        contact.stderr.contains("--contact-email"),
        "{}",
        contact.stderr
    );

    let renewed = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "renew",
                &name,
                "--grace",
                "1h",
                "--etag",
                &current,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert!(field(&renewed, "clientSecret").starts_with("kw_cs_"));
    let disabled = server
        .cli(
            alice,
            &[
                "--json",
                "credentials",
                "disable",
                &name,
                "--etag",
                &etag(&renewed),
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(disabled["state"], "STATE_DISABLED");
    server
        .cli(
            alice,
            &["credentials", "delete", &name, "--etag", &etag(&disabled)],
            None,
        )
        .await
        .ok();
    server
        .cli(alice, &["credentials", "get", &name], None)
        .await
        .exits(3);
}

async fn keys_are_saved_to_and_used_from_apikey_files(backend: Backend) {
    use std::os::unix::fs::PermissionsExt as _;

    let server = spawn_server(backend).await;
    let operator = Some(server.operator_key.as_str());
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let alice_file = path("alice.APIKEY");

    // The administrator's key goes to a new 0600 file, never to stdout.
    let created = server
        .cli(
            operator,
            &[
                "accounts",
                "create",
                "acme",
                "--display-name",
                "Acme",
                "--admin-name",
                "Alice",
                "--admin-email",
                "alice@acme.example",
                "--save-admin-key",
                &alice_file,
            ],
            None,
        )
        .await
        .ok();
    assert!(!created.stdout.contains("kw_ak_"), "{}", created.stdout);
    assert!(created.stdout.contains(&alice_file), "{}", created.stdout);
    assert!(created.stderr.contains("will not be shown again"));
    let mode = std::fs::metadata(&alice_file)
        .expect("the key file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let saved = keyward_client::ApiKeyFile::read(&alice_file).expect("a key file");
    assert_eq!(saved.display_name(), Some("Alice"));

    // An existing file is never overwritten: the account is created, the key not saved.
    let refused = server
        .cli(
            operator,
            &[
                "accounts",
                "create",
                "globex",
                "--display-name",
                "Globex",
                "--admin-name",
                "Bob",
                "--admin-email",
                "bob@globex.example",
                "--save-admin-key",
                &alice_file,
            ],
            None,
        )
        .await
        .exits(1);
    assert!(
        refused.stderr.contains("accounts/globex was created"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("already exists"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("kw_ak_") && !refused.stderr.contains("kw_ak_"));
    let again = keyward_client::ApiKeyFile::read(&alice_file).expect("still Alice's file");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(again.key()),
        secrecy::ExposeSecret::expose_secret(saved.key())
    );

    // --api-key-file beats KEYWARD_API_KEY: with the operator key in the environment,
    // the key is created for Alice, and saved in the directory given.
    let gateway = server
        .cli(
            operator,
            &[
                "--json",
                "--api-key-file",
                &alice_file,
                "api-keys",
                "create",
                "--display-name",
                "gateway",
                "--api-set",
                "keyward.verify",
                "--save",
                &dir.path().display().to_string(),
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert!(
        field(&gateway, "name").starts_with("accounts/acme/users/"),
        "{gateway}"
    );
    let gateway_file = path("gateway.APIKEY");
    assert_eq!(field(&gateway, "file"), gateway_file);

    // The key in a file verifies, for its API set only (10: refused).
    let key_file_args = |api_set: &'static str| {
        [
            "--api-key-file",
            &gateway_file,
            "verify",
            "api-key",
            "--key-file",
            &gateway_file,
            "--api-set",
            api_set,
        ]
        .map(str::to_owned)
    };
    let args = key_file_args("keyward.verify");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server.cli(None, &args, None).await.ok();
    let args = key_file_args("keyward.accounts");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outside = server.cli(None, &args, None).await.exits(10);
    assert!(
        outside.stdout.contains("API_SET_NOT_ALLOWED"),
        "{}",
        outside.stdout
    );

    // Usage mistakes are local errors (1), and name the problem.
    let both = server
        .cli(
            None,
            &[
                "--api-key",
                "kw_ak_x",
                "--api-key-file",
                &alice_file,
                "accounts",
                "list",
            ],
            None,
        )
        .await
        .exits(1);
    assert!(both.stderr.contains("not both"), "{}", both.stderr);
    let missing = path("missing.APIKEY");
    let missing_run = server
        .cli(
            operator,
            &["verify", "api-key", "--key-file", &missing],
            None,
        )
        .await
        .exits(1);
    assert!(
        missing_run.stderr.contains("missing.APIKEY"),
        "{}",
        missing_run.stderr
    );
    let not_a_key = path("notes.txt");
    std::fs::write(&not_a_key, "hello world\n").expect("written");
    let malformed = server
        .cli(
            None,
            &["--api-key-file", &not_a_key, "accounts", "list"],
            None,
        )
        .await
        .exits(1);
    assert!(malformed.stderr.contains("line 1"), "{}", malformed.stderr);
}

async fn an_enrollment_token_is_issued_listed_and_redeemed_into_a_key_file(backend: Backend) {
    use std::os::unix::fs::PermissionsExt as _;

    let server = spawn_server(backend).await;
    let alice_key = verified_acme(&server).await;
    let alice = Some(alice_key.as_str());
    server
        .cli(
            alice,
            &[
                "roles",
                "create",
                "key-holders",
                "--account",
                "acme",
                "--display-name",
                "Key holders",
                "--authority",
                "manage-user-api-key",
            ],
            None,
        )
        .await
        .ok();
    server
        .cli(
            alice,
            &[
                "users",
                "create",
                "dave",
                "--account",
                "acme",
                "--display-name",
                "Dave",
                "--email",
                "dave@acme.example",
                "--role",
                "key-holders",
            ],
            None,
        )
        .await
        .ok();
    let enroll = |ttl: &'static str| {
        let server = &server;
        async move {
            server
                .cli(
                    alice,
                    &[
                        "--json",
                        "users",
                        "enroll",
                        "accounts/acme/users/dave",
                        "--api-set",
                        "keyward.api-keys",
                        "--api-set",
                        "apiSets/keyward.verify",
                        "--ttl",
                        ttl,
                    ],
                    None,
                )
                .await
                .ok()
                .json()
        }
    };
    let issued = enroll("2h").await;
    let token = field(&issued, "token").to_owned();
    assert!(token.starts_with("kw_et_"), "{issued}");
    assert_eq!(field(&issued, "state"), "STATE_ACTIVE");
    let name = field(&issued, "name").to_owned();
    assert!(name.starts_with("accounts/acme/users/dave/enrollmentTokens/"));

    // Listed without the token.
    let listed = server
        .cli(
            alice,
            &["users", "enrollments", "-", "--account", "acme"],
            None,
        )
        .await
        .ok();
    assert!(listed.stdout.contains(&name), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&token), "{}", listed.stdout);

    // Redeemed from standard input, with no API key, into a new 0600 file; nothing
    // secret on stdout.
    let dir = tempfile::tempdir().expect("a scratch directory");
    let dir_arg = dir.path().display().to_string();
    let redeem_args = [
        "api-keys",
        "redeem",
        "--token-file",
        "-",
        "--display-name",
        "dave-laptop",
        "--api-set",
        "keyward.verify",
        "--save",
        &dir_arg,
    ];
    let redeemed = server
        .cli(None, &redeem_args, Some(&format!("{token}\n")))
        .await
        .ok();
    assert!(!redeemed.stdout.contains(&token), "{}", redeemed.stdout);
    assert!(
        redeemed.stdout.contains(&name),
        "created by the token: {}",
        redeemed.stdout
    );
    let file = dir.path().join("dave-laptop.APIKEY");
    let mode = std::fs::metadata(&file)
        .expect("the key file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let saved = keyward_client::ApiKeyFile::read(&file).expect("a key file");
    assert!(
        saved
            .name()
            .is_some_and(|n| n.starts_with("accounts/acme/users/dave/apiKeys/"))
    );
    let secret = secrecy::ExposeSecret::expose_secret(saved.key()).to_owned();
    assert!(!redeemed.stdout.contains(&secret), "{}", redeemed.stdout);

    // Once only: the second redemption is refused (exit 2) and the token says what it
    // became.
    server
        .cli(None, &redeem_args, Some(&format!("{token}\n")))
        .await
        .exits(2);
    let shown = server
        .cli(
            alice,
            &["--json", "users", "enrollments", "accounts/acme/users/dave"],
            None,
        )
        .await
        .ok()
        .json();
    let spent = shown
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| field(t, "name") == name)
        .expect("the token");
    assert_eq!(field(spent, "state"), "STATE_REDEEMED");
    assert_eq!(Some(field(spent, "apiKey")), saved.name());

    // A revoked token redeems nothing; a redeemed one cannot be revoked (exit 4); what is
    // not a token is refused before any call (exit 1).
    let second = enroll("1h").await;
    let revoked = server
        .cli(
            alice,
            &[
                "--json",
                "users",
                "revoke-enrollment",
                field(&second, "name"),
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(field(&revoked, "state"), "STATE_REVOKED");
    server
        .cli(
            None,
            &redeem_args,
            Some(&format!("{}\n", field(&second, "token"))),
        )
        .await
        .exits(2);
    server
        .cli(alice, &["users", "revoke-enrollment", &name], None)
        .await
        .exits(4);
    let not_a_token = server
        .cli(
            None,
            &[
                "api-keys",
                "redeem",
                "--token",
                &alice_key,
                "--display-name",
                "x",
                "--api-set",
                "keyward.verify",
            ],
            None,
        )
        .await
        .exits(1);
    assert!(
        not_a_token.stderr.contains("kw_et_"),
        "{}",
        not_a_token.stderr
    );
    assert!(!not_a_token.stderr.contains(&alice_key));
}

async fn scan_report_revokes_what_it_finds_and_says_so(backend: Backend) {
    let server = spawn_server(backend).await;
    let alice = verified_acme(&server).await;
    let dir = tempfile::tempdir().expect("a scratch directory");
    // Alice's key, committed by mistake.
    std::fs::write(
        dir.path().join("app.env"),
        format!("# deploy\nKEYWARD_API_KEY={alice}\n"),
    )
    .expect("written");
    let tree = dir.path().to_str().expect("utf-8");
    let operator = Some(server.operator_key.as_str());
    let scanner = server
        .cli(
            operator,
            &[
                "--json",
                "api-keys",
                "create",
                "--display-name",
                "scanner",
                "--api-set",
                "keyward.leak-reports",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let scanner_key = field(&scanner, "key").to_owned();

    let run = server
        .cli(Some(&scanner_key), &["scan", "--report", tree], None)
        .await
        .exits(10);
    assert!(
        run.stdout.contains("app.env:2:17: api key kw_ak_")
            && run
                .stdout
                .contains("was live, now revoked (accounts/acme/users/"),
        "{}",
        run.stdout
    );
    let body = alice.rsplit('_').next().expect("a body");
    assert!(!run.stdout.contains(body) && !run.stderr.contains(body));
    // Alice's key is refused now; a second report says so.
    let refused = server
        .cli(Some(&alice), &["accounts", "get", "accounts/acme"], None)
        .await
        .exits(2);
    assert!(
        refused.stderr.contains("UNAUTHENTICATED"),
        "{}",
        refused.stderr
    );
    let again = server
        .cli(
            Some(&scanner_key),
            &["--json", "scan", "--report", tree],
            None,
        )
        .await
        .exits(10)
        .json();
    assert_eq!(
        again["findings"][0]["report"]["outcome"], "OUTCOME_ALREADY_REVOKED",
        "{again}"
    );
}

async fn audit_verify_names_the_event_where_a_tampered_log_breaks(backend: Backend) {
    let server = spawn_server(backend).await;
    let operator = Some(server.operator_key.as_str());
    let dir = tempfile::tempdir().expect("a scratch directory");
    // Three accounts, each with an administrator and three users: a chain each.
    let mut admins = Vec::new();
    for account in ["acme", "globex", "initech"] {
        let created = server
            .cli(
                operator,
                &[
                    "--json",
                    "accounts",
                    "create",
                    account,
                    "--display-name",
                    account,
                    "--admin-name",
                    "Admin",
                    "--admin-email",
                    &format!("admin@{account}.example"),
                ],
                None,
            )
            .await
            .ok()
            .json();
        let admin = field(&created, "administratorApiKey").to_owned();
        for user in ["kai", "lea", "max"] {
            server
                .cli(
                    Some(&admin),
                    &[
                        "users",
                        "create",
                        user,
                        "--account",
                        account,
                        "--display-name",
                        user,
                        "--email",
                        &format!("{user}@{account}.example"),
                    ],
                    None,
                )
                .await
                .ok();
        }
        admins.push((account, admin));
    }
    let export = |account: &'static str, admin: String| {
        let file = dir.path().join(format!("{account}.jsonl"));
        let server = &server;
        async move {
            let path = file.to_str().expect("utf-8").to_owned();
            server
                .cli(
                    Some(&admin),
                    &["audit", "export", "--account", account, "--output", &path],
                    None,
                )
                .await
                .ok();
            path
        }
    };
    // Verifying needs no server and no key.
    let verify = |path: String| {
        let server = &server;
        async move {
            server
                .cli(
                    None,
                    &["--url", "http://127.0.0.1:9", "audit", "verify", &path],
                    None,
                )
                .await
        }
    };
    for (account, admin) in &admins {
        let path = export(account, admin.clone()).await;
        let events = std::fs::read_to_string(&path)
            .expect("the export")
            .lines()
            .count();
        assert!(events >= 4, "{account}: {events} events");
        let run = verify(path).await.ok();
        assert!(
            run.stdout
                .contains(&format!("holds: {events} events of accounts/{account}")),
            "{}",
            run.stdout
        );
    }

    // Changed, reordered, deleted, each in the database: the chain breaks at exactly that
    // event, and says how.
    let db = server.app.database();
    db.execute("UPDATE audit_events SET detail = 'nothing to see' WHERE account_id = 'acme' AND sequence = 3")
        .await;
    for (from, to) in [(3, -1), (4, 3), (-1, 4)] {
        db.execute(&format!(
            "UPDATE audit_events SET sequence = {to} WHERE account_id = 'globex' AND sequence = {from}"
        ))
        .await;
    }
    db.execute("DELETE FROM audit_events WHERE account_id = 'initech' AND sequence = 3")
        .await;
    for ((account, admin), how) in admins.iter().zip([
        "was changed",
        "previous hash is not the hash of the event before it",
        "its sequence number is 4, 3 was expected",
    ]) {
        let path = export(account, admin.clone()).await;
        let run = verify(path).await.exits(10);
        assert!(
            run.stdout.contains(&format!(
                "breaks at event 3 (sequence 3, accounts/{account}/auditEvents/"
            )) || (*account == "initech"
                && run
                    .stdout
                    .contains("breaks at event 3 (sequence 4, accounts/initech/auditEvents/")),
            "{account}: {}",
            run.stdout
        );
        assert!(run.stdout.contains(how), "{account}: {}", run.stdout);
    }
}
