//! The `keyward serve` binary: misconfiguration is one line on stderr and a
//! failing exit code, never a panic; SIGTERM drains and exits cleanly.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use keyward_client::Client;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{Backend, TestDatabase, spawn_app};

/// A fixed master key for servers started with an explicit database URL.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// `keyward serve ARGS` in `dir`, with no KEYWARD_* variables inherited.
fn keyward(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a server start that must fail; returns its stderr.
async fn failing_start(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = tokio::time::timeout(Duration::from_secs(60), keyward(dir.path(), args).output())
        .await
        .expect("the server gives up within 60 s")
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it must fail, stderr: {stderr}");
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_named_in_one_line() {
    let stderr = failing_start(&[
        "--listen",
        "127.0.0.1:0",
        "--master-key",
        MASTER_KEY,
        "--database-url",
        "mysql://db/x",
    ])
    .await;
    assert!(stderr.contains("mysql"), "{stderr}");
}

#[tokio::test]
async fn a_database_url_that_does_not_parse_is_named_in_one_line() {
    let stderr = failing_start(&[
        "--listen",
        "127.0.0.1:0",
        "--master-key",
        MASTER_KEY,
        "--database-url",
        "not a url",
    ])
    .await;
    assert!(stderr.contains("database"), "{stderr}");
}

#[tokio::test]
async fn an_unreachable_database_is_named_in_one_line() {
    let stderr = failing_start(&[
        "--listen",
        "127.0.0.1:0",
        "--master-key",
        MASTER_KEY,
        "--database-url",
        "postgres://postgres@127.0.0.1:1/keyward",
    ])
    .await;
    assert!(
        stderr.contains("unavailable") || stderr.contains("connect"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("postgres@"),
        "the URL's credentials are not echoed: {stderr}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_named_in_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("addr").to_string();
    let stderr = failing_start(&["--listen", &address]).await;
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let url = app.database().url().to_owned();
    let stderr = failing_start(&[
        "--listen",
        "127.0.0.1:0",
        "--master-key",
        MASTER_KEY,
        "--database-url",
        &url,
    ])
    .await;
    assert!(
        stderr.contains("another Keyward server"),
        "the second server says the file is in use: {stderr}"
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly_with_json_logs() {
    let database = TestDatabase::sqlite();
    let dir = database.dir().expect("sqlite has a dir").to_owned();
    let mut child = keyward(&dir, &["--listen", "127.0.0.1:0", "--log-format", "json"])
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();

    // The embedded default database lands in ./data; the log says where we listen.
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout reads") {
            let event: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if event["message"] == "serving gRPC" {
                return event["address"].as_str().expect("address field").to_owned();
            }
        }
        panic!("the server exited before serving");
    })
    .await
    .expect("serving within 60 s");
    assert!(
        dir.join("data/keyward.db").exists(),
        "the default SQLite file is created"
    );
    // So is the master key file, readable by the owner only.
    let master_key = dir.join("data").join(keyward::sealing::GENERATED_FILE_NAME);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&master_key)
            .expect("the master key file is generated")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the master key file is private");

    let client = Client::builder(format!("http://{address}"))
        .connect()
        .await
        .expect("connects");
    let health = HealthClient::new(client.channel())
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers");
    assert_eq!(health.into_inner().status(), ServingStatus::Serving);

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s")
        .expect("wait works");
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");

    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.expect("stdout reads") {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.contains("\"stopped\"")),
        "the last log says stopped: {rest:#?}"
    );
}

/// Lines read from a child's pipe, and a signal for each new one.
struct Collected {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    count: tokio::sync::watch::Receiver<usize>,
    reader: tokio::task::JoinHandle<()>,
}

/// Reads lines from a child's pipe until it closes.
fn collect_lines(pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Collected {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, count) = tokio::sync::watch::channel(0);
    let sink = lines.clone();
    let reader = tokio::spawn(async move {
        let mut reader = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let mut all = sink.lock().expect("lock");
            all.push(line);
            let _ = tx.send(all.len());
        }
    });
    Collected {
        lines,
        count,
        reader,
    }
}

impl Collected {
    /// Waits (bounded) until a line satisfies `find`.
    async fn wait_for(&mut self, find: impl Fn(&str) -> Option<String>) -> String {
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let Some(found) = self
                    .lines
                    .lock()
                    .expect("lock")
                    .iter()
                    .find_map(|l| find(l))
                {
                    return found;
                }
                self.count
                    .changed()
                    .await
                    .expect("the line appears before the pipe closes");
            }
        })
        .await
        .expect("the line appears within 60 s")
    }

    /// Everything the pipe carried, once it has closed.
    async fn finish(self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.reader)
            .await
            .expect("the pipe closes within 30 s")
            .expect("the reader does not panic");
        self.lines.lock().expect("lock").join("\n")
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_at_trace() {
    use keyward_client::proto as pb;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = keyward(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log",
            "trace",
        ],
    )
    .spawn()
    .expect("the server starts");
    let mut stdout = collect_lines(child.stdout.take().expect("stdout"));
    let mut stderr = collect_lines(child.stderr.take().expect("stderr"));
    let address = stdout
        .wait_for(|line| {
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            (event["message"] == "serving gRPC")
                .then(|| event["address"].as_str().map(str::to_owned))?
        })
        .await;
    let operator_key = stderr
        .wait_for(|line| {
            line.trim()
                .starts_with("kw_ak_")
                .then(|| line.trim().to_owned())
        })
        .await;

    let url = format!("http://{address}");
    let operator = Client::builder(&url)
        .api_key(&operator_key)
        .connect()
        .await
        .expect("connects");
    let created = operator
        .accounts()
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account {
                display_name: "Acme".into(),
                ..Default::default()
            }),
            account_id: "acme".into(),
            administrator: Some(pb::User {
                display_name: "Alice".into(),
                email: "alice@acme.example".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create account")
        .into_inner();
    let alice = Client::builder(&url)
        .api_key(&created.administrator_api_key)
        .connect()
        .await
        .expect("connects");
    let minted = alice
        .api_keys()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: "users/me".into(),
            api_key: Some(pb::ApiKey {
                display_name: "ci".into(),
                api_sets: vec!["apiSets/keyward.accounts".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("create api key")
        .into_inner()
        .key;
    let ci = Client::builder(&url)
        .api_key(&minted)
        .connect()
        .await
        .expect("connects");
    ci.accounts()
        .get_account(pb::GetAccountRequest {
            name: "accounts/acme".into(),
        })
        .await
        .expect("the minted key works");
    // A wrong secret for a real key id goes through argon2 and fails.
    let mut wrong = minted.clone();
    wrong.pop();
    wrong.push(if minted.ends_with('a') { 'b' } else { 'a' });
    let refused = Client::builder(&url)
        .api_key(&wrong)
        .connect()
        .await
        .expect("connects");
    refused
        .accounts()
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .expect_err("a wrong key is refused");

    let pid = child.id().expect("running").to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s")
        .expect("wait works");

    let logs = stdout.finish().await;
    assert!(logs.contains("CreateApiKey"), "TRACE logs were captured");
    assert!(
        logs.lines().count() > 50,
        "TRACE is verbose: {} lines",
        logs.lines().count()
    );
    for secret in [
        &operator_key,
        &created.administrator_api_key,
        &minted,
        &wrong,
    ] {
        let body = secret.rsplit('_').next().expect("a key body");
        assert!(!logs.contains(body), "a secret reached the logs");
    }
    let stderr = stderr.finish().await;
    for secret in [&created.administrator_api_key, &minted, &wrong] {
        let body = secret.rsplit('_').next().expect("a key body");
        assert!(!stderr.contains(body), "a secret reached stderr");
    }
}

/// Starts `keyward serve ARGS` in `dir`, waits until it serves, stops it with
/// SIGTERM; returns its stderr.
async fn serve_once(dir: &Path, args: &[&str]) -> String {
    let mut child = keyward(dir, args).spawn().expect("the server starts");
    let mut stdout = collect_lines(child.stdout.take().expect("stdout"));
    let stderr = collect_lines(child.stderr.take().expect("stderr"));
    stdout
        .wait_for(|line| line.contains("serving gRPC").then(String::new))
        .await;
    let pid = child.id().expect("running").to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s")
        .expect("wait works");
    assert!(status.success(), "clean exit: {status:?}");
    drop(stdout.finish().await);
    stderr.finish().await
}

#[tokio::test]
async fn the_bootstrap_key_file_is_private_written_once_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--bootstrap-key-file",
        "operator.key",
    ];
    let stderr = serve_once(dir.path(), &args).await;
    let file = dir.path().join("operator.key");
    let key = std::fs::read_to_string(&file).expect("the key file is written");
    assert!(key.trim().starts_with("kw_ak_"), "a Keyward API key");
    let mode = std::fs::metadata(&file)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "only the owner may read it");
    assert!(
        !stderr.contains(key.trim()),
        "the key goes to the file, not stderr"
    );

    // A restart of the same installation keeps the file and prints nothing.
    let stderr = serve_once(dir.path(), &args).await;
    assert_eq!(std::fs::read_to_string(&file).expect("still there"), key);
    assert!(!stderr.contains("kw_ak_"), "no second key: {stderr}");

    // A fresh installation refuses to overwrite an existing file, before
    // creating anything.
    let other = tempfile::tempdir().expect("temp dir");
    let existing = other.path().join("operator.key");
    std::fs::write(&existing, "keep me\n").expect("write");
    let stderr = failing_start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        other.path().join("data").to_str().expect("utf-8 path"),
        "--bootstrap-key-file",
        existing.to_str().expect("utf-8 path"),
    ])
    .await;
    assert!(stderr.contains("exists already"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&existing).expect("kept"),
        "keep me\n"
    );
}

#[tokio::test]
async fn a_missing_or_malformed_master_key_is_named_in_one_line() {
    let database = TestDatabase::sqlite();
    let stderr =
        failing_start(&["--listen", "127.0.0.1:0", "--database-url", database.url()]).await;
    assert!(stderr.contains("no master key"), "{stderr}");
    assert!(stderr.contains("KEYWARD_MASTER_KEY"), "{stderr}");

    let stderr = failing_start(&["--listen", "127.0.0.1:0", "--master-key", "c2hvcnQ="]).await;
    assert!(stderr.contains("is not 32 bytes"), "{stderr}");
    assert!(
        !stderr.contains("c2hvcnQ="),
        "the key is not echoed: {stderr}"
    );
}

#[tokio::test]
async fn a_wrong_master_key_for_sealed_secrets_stops_the_start() {
    use keyward::sealing::{MasterKeySource, MasterKeys};
    use keyward::startup::{Application, StartupError};
    use keyward_client::proto as pb;

    let database = TestDatabase::sqlite();
    let (_, right_key) = MasterKeys::generate().expect("key");
    let mut settings = crate::helpers::test_settings(&database);
    settings.master_key = MasterKeySource::Value(right_key.clone());
    let app = crate::helpers::spawn_app_with(database, settings).await;
    let alice = app
        .client_with_key(&crate::accounts::create_account(&app, "acme", "alice").await)
        .await;
    app.operator
        .accounts()
        .verify_account(pb::VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: String::new(),
        })
        .await
        .expect("verify");
    alice
        .credentials()
        .create_credential(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            credential: Some(pb::Credential {
                display_name: "Signer".into(),
                contact_email: "signer@acme.example".into(),
                application: "signing".into(),
                scheme: pb::credential::Scheme::Hmac as i32,
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("an HMAC credential");
    let database = app.stop().await.expect("stops");

    let (_, wrong_key) = MasterKeys::generate().expect("key");
    let mut settings = crate::helpers::test_settings(&database);
    settings.master_key = MasterKeySource::Value(wrong_key);
    let err = Application::build(settings).await.expect_err("a wrong key");
    assert!(matches!(err, StartupError::MasterKey(_)), "{err:?}");
    let chain = keyward::error::error_chain(&err);
    assert!(chain.contains("sealed under master key"), "{chain}");
    assert!(chain.contains("not configured"), "{chain}");

    // The right key, even after a rotation put a new key first, starts.
    let (_, new_key) = MasterKeys::generate().expect("key");
    let rotated = format!(
        "{},{}",
        secrecy::ExposeSecret::expose_secret(&new_key),
        secrecy::ExposeSecret::expose_secret(&right_key)
    );
    let mut settings = crate::helpers::test_settings(&database);
    settings.master_key = MasterKeySource::Value(rotated.clone().into());
    drop(
        Application::build(settings)
            .await
            .expect("the right key starts"),
    );

    // The new key alone cannot start yet: the secret is still sealed under the old one.
    let only_new = || {
        let mut settings = crate::helpers::test_settings(&database);
        settings.master_key = MasterKeySource::Value(new_key.clone());
        settings
    };
    let err = Application::build(only_new())
        .await
        .expect_err("the old key is still needed");
    assert!(matches!(err, StartupError::MasterKey(_)), "{err:?}");

    // `keyward reseal-secrets` re-seals it under the first key; then the old key can go.
    let reseal = || async {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["reseal-secrets", "--database-url", database.url()])
            .env_clear()
            .env("KEYWARD_MASTER_KEY", &rotated)
            .env("KEYWARD_LOG", "warn")
            .output()
            .await
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stdout}{stderr}");
        assert!(!stdout.contains(secrecy::ExposeSecret::expose_secret(&new_key)));
        stdout
    };
    let stdout = reseal().await;
    assert!(
        stdout.contains("re-sealed 1 HMAC client secret version(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("can be removed"), "{stdout}");
    // Run again, it has nothing left to do.
    let stdout = reseal().await;
    assert!(
        stdout.contains("re-sealed 0 HMAC client secret version(s)"),
        "{stdout}"
    );
    // The new key alone starts, and opens the secret (startup opens a sample of it).
    drop(
        Application::build(only_new())
            .await
            .expect("the new key alone opens every secret"),
    );
}
