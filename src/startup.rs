//! Building and running the server: storage, migrations, the gRPC services,
//! health, reflection and graceful shutdown.
//!
//! [`Application::build`] does everything that can fail before serving (bind
//! the port, open the database, migrate), so that a misconfiguration is one
//! clear error at startup. [`Application::run_until_stopped`] serves until the
//! shutdown future completes, then drains in-flight calls.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use keyward_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use secrecy::SecretString;

use crate::audit::FailureCounter;
use crate::auth::throttle::Throttle;
use crate::auth::{AuthLayer, Authenticator, SecretHasher};
use crate::bootstrap::{bootstrap, hand_over};
use crate::config::{ResealArgs, ServeArgs, Settings};
use crate::error::ServiceError;
use crate::error::error_chain;
use crate::grpc::pb::account_service_server::AccountServiceServer;
use crate::grpc::pb::api_key_service_server::ApiKeyServiceServer;
use crate::grpc::pb::credential_service_server::CredentialServiceServer;
use crate::grpc::{
    AccountServiceImpl, ApiKeyServiceImpl, CredentialServiceImpl, SERVICE_NAMES, pb,
};
use crate::identity::sync_builtin_api_sets;
use crate::index::feed::RETENTION;
use crate::index::{ChangeFeed, VerificationIndex};
use crate::sealing::{MasterKeyError, MasterKeys};
pub use crate::state::AppState;
use crate::telemetry;
use crate::usage::UsageRecorder;

/// What can stop the server from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address cannot be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened or migrated.
    #[error("database")]
    Store(#[from] StoreError),
    /// The reflection descriptors do not decode (a build problem).
    #[error("server reflection")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed while serving.
    #[error("serving")]
    Serve(#[from] tonic::transport::Error),
    /// The master keys are missing, malformed, or not those that sealed the stored secrets.
    #[error("master key")]
    MasterKey(#[from] MasterKeyError),
    /// Preparing the catalog, the hasher or the operator account failed.
    #[error("preparing the installation")]
    Prepare(#[from] ServiceError),
    /// A TLS file cannot be read.
    #[error("cannot read the TLS file {}", path.display())]
    TlsFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate, key or client CA do not make a TLS configuration.
    #[error("the TLS certificate, key or client CA are not usable (PEM expected)")]
    Tls(#[source] tonic::transport::Error),
    /// Clear text on an address other hosts can reach, without saying that it is meant.
    #[error(
        "refusing to serve clear text on {addr}, which is not a loopback address: every key \
         and secret would cross the network readable. Give --tls-cert and --tls-key (see \
         the README's TLS section), or --insecure-plaintext if a proxy terminates TLS for \
         Keyward"
    )]
    PlaintextNotLoopback {
        /// The listen address.
        addr: SocketAddr,
    },
}

/// The server's TLS configuration from its files, checked (a configuration tonic refuses
/// is an error at startup, not at the first connection).
fn tls_config(files: &crate::config::TlsFiles) -> Result<ServerTlsConfig, StartupError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| StartupError::TlsFile {
            path: path.to_owned(),
            source,
        })
    };
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?))
        .timeout(TLS_HANDSHAKE_TIMEOUT);
    if let Some(ca) = &files.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Server::builder()
        .tls_config(config.clone())
        .map_err(StartupError::Tls)?;
    Ok(config)
}

/// How long a client may take over its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server that is bound, connected and migrated, ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<ServerTlsConfig>,
    metrics: Option<crate::metrics::MetricsListener>,
    state: AppState,
    settings: Settings,
    bootstrap_key: Option<SecretString>,
}

impl Application {
    /// Binds the listen address, opens the database and runs the migrations.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let tls = settings.tls.as_ref().map(tls_config).transpose()?;
        if tls.is_none() && !settings.insecure_plaintext && !settings.listen.ip().is_loopback() {
            return Err(StartupError::PlaintextNotLoopback {
                addr: settings.listen,
            });
        }
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?;
        let metrics = match settings.metrics_listen {
            Some(addr) => crate::metrics::MetricsListener::bind(addr)
                .await
                .map_err(|source| StartupError::Bind { addr, source })?,
            None => None,
        };
        let master_keys = MasterKeys::load(&settings.master_key)?;
        let store = Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        tracing::info!(backend = ?store.backend(), "database ready, migrations applied");
        master_keys.check_against(&store).await?;
        tracing::info!(
            current = master_keys.current_id(),
            keys = master_keys.ids().len(),
            "master keys ready"
        );
        let hasher = SecretHasher::new(settings.verification.hasher)?;
        tracing::info!(
            threads = hasher.config().threads,
            queue = hasher.config().verify_queue,
            "argon2 pool ready"
        );
        let index = Arc::new(VerificationIndex::new(
            store.clone(),
            settings.verification.index,
            settings.monotonic.clone(),
        ));
        let feed = ChangeFeed::start(index.clone()).await?;
        store.observe_changes(&feed);
        sync_builtin_api_sets(&store).await?;
        let bootstrap_key = bootstrap(
            &store,
            &hasher,
            &settings.operator_email,
            settings.bootstrap_key_file.as_deref(),
        )
        .await?;
        let clock = settings.clock.clone();
        let usage = UsageRecorder::new(store.clone(), settings.last_used_interval);
        let throttle = Throttle::new(settings.verification.throttle, settings.monotonic.clone());
        let authenticator = Authenticator::new(
            index.clone(),
            store.clone(),
            hasher.clone(),
            throttle,
            clock.clone(),
            usage.clone(),
        );
        Ok(Self {
            listener,
            local_addr,
            tls,
            metrics,
            state: AppState {
                failures: FailureCounter::default(),
                store,
                hasher,
                clock,
                authenticator,
                usage,
                index,
                feed,
                master_keys: Arc::new(master_keys),
            },
            settings,
            bootstrap_key,
        })
    }

    /// On the first start of an installation, the operator API key, once:
    /// the caller hands it over, it is never available again.
    pub fn take_bootstrap_key(&mut self) -> Option<SecretString> {
        self.bootstrap_key.take()
    }

    /// The shared state (store, hasher, clock, authenticator, usage): for
    /// tests that arrange records directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address metrics are served on, with `--metrics-listen`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|m| m.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then reports NOT_SERVING and gives
    /// in-flight calls the configured grace period to finish.
    pub async fn run_until_stopped<F>(self, shutdown: F) -> Result<(), StartupError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Self {
            listener,
            local_addr,
            tls,
            metrics,
            state,
            settings,
            bootstrap_key: _,
        } = self;
        let usage = state.usage.clone();
        let clock = state.clock.clone();

        let reporter = HealthReporter::new();
        let health_service = crate::grpc::health::service(&reporter);
        set_all(&reporter, ServingStatus::Serving).await;

        let reflection_v1 = reflection_builder().build_v1()?;
        let reflection_v1alpha = reflection_builder().build_v1alpha()?;

        let (stopping_tx, stopping_rx) = watch::channel(false);
        let watchdog = tokio::spawn(watch_database(
            state.store.clone(),
            reporter.clone(),
            settings.health_interval,
            stopping_rx.clone(),
        ));
        let flusher = tokio::spawn(
            usage
                .clone()
                .flush_periodically(clock.clone(), stopping_rx.clone()),
        );

        let feed = tokio::spawn(
            state
                .feed
                .clone()
                .run(reporter.clone(), stopping_rx.clone()),
        );

        let housekeeper = tokio::spawn(housekeeping(
            state.clone(),
            HOUSEKEEPING_INTERVAL,
            stopping_rx.clone(),
        ));

        let index = state.index.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutdown requested, draining in-flight calls");
            let _ = stopping_tx.send(true);
            let _ = watchdog.await;
            let _ = housekeeper.await;
            let _ = feed.await;
            set_all(&reporter, ServingStatus::NotServing).await;
        };

        let transport = settings.transport;
        let call_limit = crate::grpc::overload::CallLimitLayer::new(transport.max_concurrent_calls);
        let max_message = transport.max_message_bytes as usize;
        let body_rules = crate::grpc::request_body::BodyRules::new(
            transport.body_timeout,
            u64::from(transport.max_message_bytes),
            transport
                .max_buffered_request_bytes
                .max(u64::from(transport.max_message_bytes)),
        );
        if let Some(metrics) = metrics {
            if let Ok(addr) = metrics.local_addr() {
                tracing::info!(address = %addr, "serving metrics at /metrics");
            }
            let transport = crate::metrics::Transport {
                calls: call_limit.clone(),
                bodies: body_rules.clone(),
            };
            tokio::spawn(metrics.serve(state.clone(), transport, stopping_rx.clone()));
        }
        let mut builder = Server::builder();
        let secure = tls.is_some();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).map_err(StartupError::Tls)?;
        }
        let server = builder
            .max_concurrent_streams(transport.max_concurrent_streams)
            .http2_keepalive_interval(transport.keepalive)
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .http2_max_header_list_size(transport.max_header_list_bytes)
            // Every call's log lines carry its method, at debug level: a span that is not
            // enabled costs next to nothing, and the hot path pays no more at `info`.
            .trace_fn(|request| tracing::debug_span!("rpc", method = %request.uri().path()))
            // Outermost: a call beyond the server's limit costs nothing more.
            .layer(call_limit)
            // Outside authentication, so that a deadline covers the whole call.
            .layer(crate::grpc::deadline::DeadlineLayer::new(body_rules))
            .layer(AuthLayer::new(state.authenticator.clone()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(
                AccountServiceServer::new(AccountServiceImpl::new(state.clone()))
                    .max_decoding_message_size(max_message),
            )
            .add_service(
                CredentialServiceServer::new(CredentialServiceImpl::new(state.clone()))
                    .max_decoding_message_size(max_message),
            )
            .add_service(
                ApiKeyServiceServer::new(ApiKeyServiceImpl::new(state))
                    .max_decoding_message_size(max_message),
            )
            .serve_with_incoming_shutdown(
                crate::grpc::connection::TrackedIncoming::new(
                    TcpIncoming::from(listener).with_nodelay(Some(true)),
                    transport.idle_timeout,
                ),
                signal,
            );
        tracing::info!(address = %local_addr, tls = secure, "serving gRPC");

        let grace = settings.shutdown_grace;
        let mut stopping = stopping_rx;
        let grace_elapsed = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result?,
            () = grace_elapsed => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over, closing remaining calls");
            }
        }
        // In-flight calls are drained (or cut off): their uses are final.
        let _ = flusher.await;
        let flushed = usage.flush(clock.now()).await;
        let stats = index.stats();
        tracing::info!(
            last_used_written = flushed,
            index_loads = stats.loads,
            index_filtered = stats.filtered,
            index_changes = stats.changes,
            index_facts = stats.facts,
            index_proven = stats.proven,
            "stopped"
        );
        Ok(())
    }
}

/// How often failure counts are written to the audit log, expired HMAC nonces purged and
/// the change log pruned.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

/// How long a keepalive ping may go unanswered before its connection is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Periodic bookkeeping until shutdown, then one last flush: failed verifications counted
/// since the last round go to the audit log; expired HMAC nonce claims are deleted.
async fn housekeeping(state: AppState, interval: Duration, mut stopping: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopping.changed() => {
                state.failures.flush(&state.store).await;
                return;
            }
        }
        state.failures.flush(&state.store).await;
        match state
            .store
            .purge_expired_hmac_nonces(state.clock.now())
            .await
        {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged expired HMAC nonces"),
            Err(err) => tracing::warn!(error = %error_chain(&err), "cannot purge HMAC nonces"),
        }
        let kept_since = state.clock.now()
            - chrono::Duration::from_std(RETENTION).unwrap_or(chrono::Duration::MAX);
        match state.store.prune_changes(kept_since).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "pruned the change log"),
            Err(err) => tracing::warn!(error = %error_chain(&err), "cannot prune the change log"),
        }
    }
}

/// Reflection over Keyward's API, the health service, both reflection
/// versions and the `google.rpc` error details, so that grpcurl can list and
/// describe everything and decode error details.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// Probes the database every `interval` and reports NOT_SERVING while it is
/// unreachable, SERVING again once it answers. Stops when shutdown starts.
async fn watch_database(
    store: Store,
    reporter: HealthReporter,
    interval: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let mut healthy = true;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopping.changed() => return,
        }
        let ok = match tokio::time::timeout(interval, store.ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                if healthy {
                    tracing::error!(error = %error_chain(&err), "database unreachable");
                }
                false
            }
            Err(_) => {
                if healthy {
                    tracing::error!("database probe timed out");
                }
                false
            }
        };
        if ok != healthy {
            healthy = ok;
            if ok {
                tracing::info!("database reachable again");
                set_all(&reporter, ServingStatus::Serving).await;
            } else {
                set_all(&reporter, ServingStatus::NotServing).await;
            }
        }
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so that a signal arriving while the server starts is
/// a request to stop rather than the default, abrupt exit.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// `keyward reseal-secrets`: re-seals every HMAC client secret under the first master key,
/// reports what it did on stdout, and exits (1 when a secret could not be opened or the
/// database or keys are unusable). The server may run meanwhile on PostgreSQL; the embedded
/// SQLite file is held by a running server, which must be stopped first.
#[allow(clippy::print_stdout, reason = "a command reports its result")]
pub async fn reseal_secrets(args: ResealArgs) -> ExitCode {
    if let Err(message) = telemetry::init(args.storage.log_format, &args.storage.log_filter()) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let (database_url, source) = args.storage.resolve();
    let run = async {
        let keys = MasterKeys::load(&source)?;
        let store = Store::connect(&database_url).await?;
        store.migrate().await?;
        keys.check_against(&store).await?;
        let report = keys.reseal_all(&store).await?;
        Ok::<_, StartupError>((keys, report))
    };
    match run.await {
        Ok((keys, report)) => {
            let current = keys.current_id();
            println!(
                "re-sealed {} HMAC client secret version(s) under master key {current} ({} changed meanwhile)",
                report.resealed, report.changed_meanwhile
            );
            if report.unopened > 0 {
                println!(
                    "{} secret version(s) could not be opened (see the log): keep every master key until they are repaired or deleted",
                    report.unopened
                );
                return ExitCode::FAILURE;
            }
            let others: Vec<&str> = keys.ids().into_iter().filter(|id| *id != current).collect();
            if !others.is_empty() {
                println!(
                    "every HMAC secret is sealed under {current}: once every replica runs with {current} first, the other keys ({}) can be removed",
                    others.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// `keyward serve`: logs, builds and runs the server until a signal. Every
/// failure is one line on stderr and a non-zero exit code.
pub async fn serve(args: ServeArgs) -> ExitCode {
    let stop = shutdown_signal();
    if let Err(message) = telemetry::init(args.storage.log_format, &args.storage.log_filter()) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let mut app = match Application::build(args.settings()).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            return ExitCode::FAILURE;
        }
    };
    if let Some(key) = app.take_bootstrap_key()
        && let Err(err) = hand_over(&key, app.settings.bootstrap_key_file.as_deref())
    {
        eprintln!("error: cannot hand over the operator API key: {err}");
        return ExitCode::FAILURE;
    }
    match app.run_until_stopped(stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}
