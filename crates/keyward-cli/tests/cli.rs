//! Runs the `keyward-cli` binary against a real Keyward server started in-process on a
//! fresh SQLite database: the README's newcomer flow, step by step.

#![allow(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use keyward::startup::Application;
use keyward_store::testing::TestDatabase;
use serde_json::Value;

/// A running server; dropping it stops the server.
struct Server {
    url: String,
    operator_key: String,
    _database: TestDatabase,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn spawn_server() -> Server {
    let database = TestDatabase::sqlite();
    let settings = keyward::config::Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: database.url().to_owned(),
        health_interval: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(5),
        operator_email: "operator@example.com".to_owned(),
        bootstrap_key_file: None,
        clock: std::sync::Arc::new(keyward::clock::SystemClock),
        master_key: keyward::sealing::MasterKeySource::Value(
            keyward::sealing::MasterKeys::generate()
                .expect("master key")
                .1,
        ),
        last_used_interval: Duration::from_secs(60),
    };
    let mut app = Application::build(settings)
        .await
        .expect("the server builds");
    let operator_key = app
        .take_bootstrap_key()
        .map(|key| secrecy::ExposeSecret::expose_secret(&key).to_owned())
        .expect("a first start hands out the operator key");
    let url = format!("http://{}", app.local_addr());
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stop.await;
    }));
    Server {
        url,
        operator_key,
        _database: database,
        _shutdown: shutdown,
    }
}

/// What one run of the CLI produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is JSON ({e}):\n{}", self.stdout))
    }

    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
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
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` is a string in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_newcomer_flow_runs_through_the_cli() {
    let server = spawn_server().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_sets_roles_users_and_a_credential_lifecycle_are_managed_by_the_cli() {
    let server = spawn_server().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_exit_with_their_class() {
    let server = spawn_server().await;
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

    let usage = server.cli(operator, &["credentials", "renew"], None).await;
    assert_eq!(
        usage.code, 1,
        "a usage error is a local error, not UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_by_the_cli_verifies() {
    let server = spawn_server().await;
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
