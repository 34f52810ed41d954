//! What tests share: the in-process server (`app.rs`, re-exported here) and helpers
//! around it.

use std::time::Duration;

use keyward_client::Client;
pub use keyward_store::testing::{TestBackend as Backend, TestDatabase};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

pub use crate::app::{TestApp, spawn_app, spawn_app_with, test_settings};

impl TestApp {
    /// An API key for `user` (`accounts/{a}/users/{u}`) holding `api_sets` (IDs), made
    /// through the API the way a user gets their first key: `issuer` (a holder of
    /// `MANAGE_USERS` in the user's account) issues an enrollment token offering exactly
    /// those sets, and the user, with nothing but the token, redeems it.
    pub async fn enroll_key(&self, issuer: &Client, user: &str, api_sets: &[&str]) -> String {
        let names: Vec<String> = api_sets.iter().map(|id| format!("apiSets/{id}")).collect();
        let token = issuer
            .create_enrollment_token(keyward_client::NewEnrollmentToken::new(user, names.clone()))
            .await
            .expect("an enrollment token is issued");
        let created = self
            .client
            .redeem_enrollment_token(
                secrecy::ExposeSecret::expose_secret(&token.token),
                keyward_client::NewApiKey::new("enrolled by the test", names),
            )
            .await
            .expect("the user redeems it");
        secrecy::ExposeSecret::expose_secret(&created.key).to_owned()
    }

    /// As [`TestApp::enroll_key`], holding every built-in API set (as an account's first
    /// administrator key does).
    pub async fn enroll_builtin_key(&self, issuer: &Client, user: &str) -> String {
        let builtin = keyward::identity::builtin_api_set_ids();
        let ids: Vec<&str> = builtin.iter().map(String::as_str).collect();
        self.enroll_key(issuer, user, &ids).await
    }

    /// A health-service client on the same server.
    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.client.channel())
    }
}

/// Everything the database holds, as bytes: for SQLite the database file with its WAL, for
/// PostgreSQL a `pg_dump` of the test database. For tests that look for what must never
/// be stored.
pub async fn dump_database(database: &TestDatabase) -> Vec<u8> {
    match database.backend() {
        Backend::Sqlite => {
            let dir = database
                .dir()
                .expect("a SQLite test database has a directory");
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(dir).expect("the directory reads") {
                let path = entry.expect("an entry").path();
                if path.is_file() {
                    bytes.extend(std::fs::read(&path).expect("the file reads"));
                }
            }
            bytes
        }
        Backend::Postgres => {
            let output = tokio::process::Command::new("pg_dump")
                .args(["--data-only", "--no-owner", database.url()])
                .output()
                .await
                .expect("pg_dump runs");
            assert!(
                output.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            output.stdout
        }
    }
}

/// A fixed master key for servers started as a binary, the same for every start.
const BINARY_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Starts the built server binary in `dir` on `database_url`, with `extra` flags; the child
/// (killed when dropped) and its address. The first start writes the operator key to
/// `dir/operator.key`.
pub async fn start_binary(
    dir: &std::path::Path,
    database_url: &str,
    extra: &[&str],
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--database-url",
            database_url,
            "--bootstrap-key-file",
            "operator.key",
        ])
        .args(extra)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEYWARD_MASTER_KEY", BINARY_MASTER_KEY)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout reads") {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if event["message"] == "serving gRPC" {
                return event["address"].as_str().expect("an address").to_owned();
            }
        }
        panic!("the server exited before serving");
    })
    .await
    .expect("serving within 60 s");
    // Keep draining its logs so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, address)
}

/// Has `operator` create account `acme` with Alice as its administrator, and verify it;
/// Alice's API key.
pub async fn create_acme(operator: &Client) -> String {
    use keyward_client::proto as pb;
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
        .expect("an account")
        .into_inner();
    operator
        .verify_account("accounts/acme")
        .await
        .expect("verified");
    created.administrator_api_key
}

/// A client of a server started with [`start_binary`] at `address`, calling with `key`,
/// without retries.
pub async fn binary_client(address: &str, key: &str) -> Client {
    Client::builder(format!("http://{address}"))
        .api_key(key)
        .retries(0)
        .connect()
        .await
        .expect("connects")
}

/// A raw HTTP/2 connection to `url`: the client handle and the task driving it, which
/// ends when the server closes the connection.
pub async fn raw_connection(
    url: &str,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<()>,
) {
    let addr = url.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (client, connection) = h2::client::handshake(tcp).await.expect("handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client.ready().await.expect("ready"), driver)
}
