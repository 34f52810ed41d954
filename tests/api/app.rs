//! The in-process server a test starts: [`spawn_app`] runs the real server on port 0 over
//! a fresh database and returns a [`TestApp`] holding clients of it. Shared with the CLI's
//! tests (`crates/keyward-cli/tests/cli.rs` includes this file), so that both start the
//! server one way.

use std::net::SocketAddr;
use std::time::Duration;

use keyward::config::Settings;
use keyward::startup::{Application, StartupError};
use keyward_client::Client;
use keyward_store::testing::{TestBackend as Backend, TestDatabase};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and clients connected to it.
pub struct TestApp {
    /// A client without a credential.
    pub client: Client,
    /// The operator API key printed on first start (None after a restart).
    pub operator_key: Option<String>,
    /// A client authenticated with the operator key.
    pub operator: Client,
    /// The server's address, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's store, hasher and clock, to arrange what the API cannot.
    pub state: keyward::startup::AppState,
    /// The settings it runs with (a replica takes the same database and master keys).
    pub settings: Settings,
    /// Where it serves metrics, with `settings.metrics_listen`.
    pub metrics_addr: Option<SocketAddr>,
    database: Option<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartupError>>>,
}

/// Settings for a test server on a free port over `database`.
pub fn test_settings(database: &TestDatabase) -> Settings {
    Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: database.url().to_owned(),
        health_interval: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(30),
        operator_email: "operator@example.com".to_owned(),
        bootstrap_key_file: None,
        clock: std::sync::Arc::new(keyward::clock::SystemClock),
        monotonic: std::sync::Arc::new(keyward::clock::SystemMonotonic::default()),
        verification: keyward::config::VerificationSettings::default(),
        master_key: keyward::sealing::MasterKeySource::Value(
            keyward::sealing::MasterKeys::generate()
                .expect("master key")
                .1,
        ),
        last_used_interval: Duration::from_secs(60),
        transport: keyward::config::TransportSettings::default(),
        tls: None,
        insecure_plaintext: false,
        metrics_listen: None,
    }
}

/// Starts the real server on a fresh database of `backend`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let settings = test_settings(&database);
    spawn_app_with(database, settings).await
}

/// Starts the real server with explicit settings.
pub async fn spawn_app_with(database: TestDatabase, settings: Settings) -> TestApp {
    spawn(Some(database), settings).await
}

async fn spawn(database: Option<TestDatabase>, settings: Settings) -> TestApp {
    let mut app = Application::build(settings.clone())
        .await
        .expect("the server builds");
    let operator_key = app
        .take_bootstrap_key()
        .map(|key| secrecy::ExposeSecret::expose_secret(&key).to_owned());
    let address = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let state = app.state().clone();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stop.await;
    }));
    let url = format!("http://{address}");
    let client = connect(&url, None).await;
    let operator = connect(&url, operator_key.as_deref()).await;
    TestApp {
        client,
        operator_key,
        operator,
        url,
        state,
        settings,
        metrics_addr,
        database,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

/// A client of the server at `url`, with an API key or without credential.
pub async fn connect(url: &str, api_key: Option<&str>) -> Client {
    let mut builder = Client::builder(url).timeout(Duration::from_secs(30));
    if let Some(key) = api_key {
        builder = builder.api_key(key);
    }
    builder.connect().await.expect("the client connects")
}

impl TestApp {
    /// Another server over the same database with the same master keys, as a second
    /// replica would run (PostgreSQL: SQLite admits one server per file). It does not own
    /// the database; keep `self` alive as long as it runs.
    pub async fn spawn_replica(&self) -> TestApp {
        let settings = Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..self.settings.clone()
        };
        spawn(None, settings).await
    }

    /// A client calling with `api_key`.
    pub async fn client_with_key(&self, api_key: &str) -> Client {
        connect(&self.url, Some(api_key)).await
    }

    /// The database the server uses.
    pub fn database(&self) -> &TestDatabase {
        self.database
            .as_ref()
            .expect("the database lives as long as the app")
    }

    /// Asks the server to stop, waits (bounded) until it has drained, and
    /// hands back its database, for a restart.
    pub async fn stop(mut self) -> Result<TestDatabase, StartupError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let server = self.server.take().expect("the server runs");
        tokio::time::timeout(Duration::from_secs(20), server)
            .await
            .expect("the server stops within 20 s")
            .expect("the server task does not panic")?;
        Ok(self.database.take().expect("the database is still there"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
