//! TLS: the server speaks it with `--tls-cert`/`--tls-key`, asks callers for a
//! certificate of its client CA with `--tls-client-ca`, and refuses to serve clear text on
//! a non-loopback address unless told `--insecure-plaintext`. Certificates are made here,
//! at test time, by a private CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use keyward::config::{Settings, TlsFiles};
use keyward::startup::{Application, StartupError};
use keyward_client::Client;
use keyward_client::proto as pb;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::sync::oneshot;

use crate::helpers::{Backend, TestDatabase, test_settings};

on_every_backend!(
    a_tls_server_answers_callers_that_trust_its_ca_and_nobody_in_clear_text,
    mutual_tls_admits_only_clients_with_a_certificate_of_the_client_ca,
);

/// A private CA and the PEM files it made, in a scratch directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a CA key"))
            .expect("a CA certificate");
        let pki = Pki {
            dir: tempfile::tempdir().expect("a scratch directory"),
            ca,
        };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).expect("write the CA");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A certificate for `names` signed by this CA, written as `{file}.pem` and
    /// `{file}.key`; their paths.
    fn issue(&self, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("a key");
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.ca).expect("signed");
        let (cert_path, key_path) = (
            self.path(&format!("{file}.pem")),
            self.path(&format!("{file}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).expect("write the certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
        (cert_path, key_path)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }
}

/// A running server and its operator key.
struct Running {
    addr: SocketAddr,
    operator_key: String,
    _database: TestDatabase,
    _shutdown: oneshot::Sender<()>,
}

async fn serve(settings: Settings, database: TestDatabase) -> Running {
    let mut app = Application::build(settings)
        .await
        .expect("the server builds");
    let operator_key = app
        .take_bootstrap_key()
        .map(|key| secrecy::ExposeSecret::expose_secret(&key).to_owned())
        .expect("a bootstrap key");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    Running {
        addr,
        operator_key,
        _database: database,
        _shutdown: tx,
    }
}

/// Whether `client` gets an answer from the server (its operator key listing API sets).
async fn answers(client: Result<Client, keyward_client::ClientError>) -> bool {
    match client {
        Ok(client) => client
            .api_keys()
            .list_api_sets(pb::ListApiSetsRequest::default())
            .await
            .is_ok(),
        Err(_) => false,
    }
}

fn tls_files(pki: &Pki, client_ca: Option<&Path>) -> TlsFiles {
    let (cert, key) = pki.issue("server", &["localhost", "127.0.0.1"]);
    TlsFiles {
        cert,
        key,
        client_ca: client_ca.map(Path::to_owned),
    }
}

async fn a_tls_server_answers_callers_that_trust_its_ca_and_nobody_in_clear_text(backend: Backend) {
    let pki = Pki::new("server");
    let database = TestDatabase::create(backend).await;
    let mut settings = test_settings(&database);
    settings.tls = Some(tls_files(&pki, None));
    let server = serve(settings, database).await;
    let port = server.addr.port();
    let key = server.operator_key.as_str();

    for host in ["localhost", "127.0.0.1"] {
        let trusted = Client::builder(format!("https://{host}:{port}"))
            .api_key(key)
            .ca_certificate_pem(pki.read("ca.pem"))
            .connect()
            .await;
        assert!(answers(trusted).await, "{host}: a client trusting the CA");
    }
    let other = Pki::new("other");
    let untrusted = Client::builder(format!("https://localhost:{port}"))
        .api_key(key)
        .ca_certificate_pem(other.read("ca.pem"))
        .connect()
        .await;
    assert!(!answers(untrusted).await, "another CA's client");
    let system_roots = Client::builder(format!("https://localhost:{port}"))
        .api_key(key)
        .connect()
        .await;
    assert!(!answers(system_roots).await, "the system's roots");
    let clear = Client::builder(format!("http://127.0.0.1:{port}"))
        .api_key(key)
        .connect()
        .await;
    assert!(!answers(clear).await, "clear text to a TLS server");
    let mistaken = Client::builder(format!("http://127.0.0.1:{port}"))
        .ca_certificate_pem(pki.read("ca.pem"))
        .connect()
        .await
        .expect_err("a CA for an http URL");
    assert!(
        matches!(
            mistaken,
            keyward_client::ClientError::TlsOptionsWithoutHttps { .. }
        ),
        "{mistaken}"
    );
}

async fn mutual_tls_admits_only_clients_with_a_certificate_of_the_client_ca(backend: Backend) {
    let pki = Pki::new("server");
    let clients = Pki::new("clients");
    let (client_cert, client_key) = clients.issue("gateway", &["gateway.internal"]);
    let stranger = Pki::new("stranger");
    let (stranger_cert, stranger_key) = stranger.issue("stranger", &["stranger.internal"]);
    let database = TestDatabase::create(backend).await;
    let mut settings = test_settings(&database);
    settings.tls = Some(tls_files(&pki, Some(&clients.path("ca.pem"))));
    let server = serve(settings, database).await;
    let url = format!("https://localhost:{}", server.addr.port());
    let key = server.operator_key.as_str();
    let read = |path: &Path| std::fs::read(path).expect("read");

    let with_certificate = Client::builder(url.clone())
        .api_key(key)
        .ca_certificate_pem(pki.read("ca.pem"))
        .identity_pem(read(&client_cert), read(&client_key))
        .connect()
        .await;
    assert!(answers(with_certificate).await, "a client of the client CA");
    let without = Client::builder(url.clone())
        .api_key(key)
        .ca_certificate_pem(pki.read("ca.pem"))
        .connect()
        .await;
    assert!(!answers(without).await, "no client certificate");
    let foreign = Client::builder(url)
        .api_key(key)
        .ca_certificate_pem(pki.read("ca.pem"))
        .identity_pem(read(&stranger_cert), read(&stranger_key))
        .connect()
        .await;
    assert!(!answers(foreign).await, "a certificate of another CA");
}

#[tokio::test]
async fn clear_text_beyond_loopback_needs_the_flag_that_says_so() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let mut settings = test_settings(&database);
    settings.listen = SocketAddr::from(([0, 0, 0, 0], 0));
    let refused = Application::build(settings.clone())
        .await
        .expect_err("clear text on every interface");
    assert!(
        matches!(refused, StartupError::PlaintextNotLoopback { .. }),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.contains("--tls-cert") && message.contains("--insecure-plaintext"),
        "{message}"
    );

    settings.insecure_plaintext = true;
    let app = Application::build(settings.clone())
        .await
        .expect("clear text when asked for");
    drop(app);

    let pki = Pki::new("server");
    settings.insecure_plaintext = false;
    settings.tls = Some(tls_files(&pki, None));
    drop(
        Application::build(settings.clone())
            .await
            .expect("TLS on every interface"),
    );

    // Unusable TLS files are refused at startup, naming the file.
    let missing = pki.path("missing.pem");
    settings.tls = Some(TlsFiles {
        cert: missing.clone(),
        key: pki.path("server.key"),
        client_ca: None,
    });
    let unreadable = Application::build(settings.clone())
        .await
        .expect_err("a missing certificate");
    assert!(
        unreadable
            .to_string()
            .contains(&missing.display().to_string()),
        "{unreadable}"
    );
    settings.tls = Some(TlsFiles {
        cert: pki.path("ca.pem"),
        key: pki.path("ca.pem"),
        client_ca: None,
    });
    let garbage = Application::build(settings)
        .await
        .expect_err("a certificate as the key");
    assert!(matches!(garbage, StartupError::Tls(_)), "{garbage:?}");
}
