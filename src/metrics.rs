//! Metrics in the Prometheus text format, on a listener of their own (`--metrics-listen`,
//! off by default), built on the `metrics` facade and `metrics-exporter-prometheus`'s
//! recorder; this module only serves its rendering over HTTP/1 (`GET /metrics`).
//!
//! The series:
//!
//! - `keyward_rpc_requests_total{method, code}` and `keyward_rpc_duration_seconds{method}`:
//!   every call, counted and timed by one tower layer (the call-limit layer, outermost);
//!   `method` is a known RPC (`keyward.v1.ApiKeyService/VerifyApiKey`, the health and
//!   reflection methods) or `other`, so arbitrary paths cannot grow the series;
//! - `keyward_calls_in_flight` and `keyward_calls_limit`: saturation of the server-wide limit;
//! - `keyward_request_body_bytes_buffered` and `keyward_request_body_bytes_limit`: request
//!   bytes held by calls whose message is not decoded yet (`--max-buffered-request-bytes`);
//! - `keyward_verification_decisions_total{rpc, reason}`: every decision of the three
//!   `Verify*` RPCs, `reason` `VALID` or the refusal's;
//! - `keyward_index_*`: the verification index's facts and proven secrets held, loads
//!   (misses read from the database), ids refused by the id filter, changes applied, whether
//!   it is trusted, and its staleness (the feed's lag: time since the start of its last
//!   successful read of the change log);
//! - `keyward_argon2_*`: computations running, queued, run and shed;
//! - `keyward_db_pool_connections` and `keyward_db_pool_idle_connections`.
//!
//! Gauges of the index, argon2 and the pool are read when the endpoint is scraped. Without
//! `--metrics-listen` no recorder is installed and recording costs next to nothing.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::AppState;

/// Whether a recorder is installed (the first server of the process with
/// `--metrics-listen` installs it).
static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The latency buckets of `keyward_rpc_duration_seconds`: 50 µs to 5 s.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];

/// The process's recorder, installed on first use; `None` if another recorder was installed
/// first (an embedding program's).
fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("keyward_rpc_duration_seconds".to_owned()),
                    &BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    ENABLED.store(true, Ordering::Release);
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot install the metrics recorder");
                    None
                }
            }
        })
        .clone()
}

/// When a call started, if metrics are on (no clock read otherwise).
pub fn call_started() -> Option<Instant> {
    ENABLED.load(Ordering::Relaxed).then(Instant::now)
}

/// Records a call to `method` (a known method's name, or `other`) answered with the gRPC
/// status `code` (its number, as the `grpc-status` header carries it) after `started`.
pub fn call_answered(method: &'static str, code: Option<&[u8]>, started: Instant) {
    let code = code_name(code);
    metrics::counter!("keyward_rpc_requests_total", "method" => method, "code" => code)
        .increment(1);
    metrics::histogram!("keyward_rpc_duration_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
}

/// Records a decision of the verification RPC `rpc`: `reason` `VALID` or the refusal's.
pub fn decision(rpc: &'static str, reason: &'static str) {
    if ENABLED.load(Ordering::Relaxed) {
        metrics::counter!("keyward_verification_decisions_total", "rpc" => rpc, "reason" => reason)
            .increment(1);
    }
}

/// The label of a request path: the method of a known service without its leading slash,
/// else `other`.
pub fn method_label(path: &str) -> &'static str {
    if let Some(policy) = crate::auth::policy::policy_for(path) {
        return policy.method.trim_start_matches('/');
    }
    const OTHERS: [&str; 4] = [
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ];
    OTHERS
        .into_iter()
        .find(|known| path.strip_prefix('/') == Some(*known))
        .unwrap_or("other")
}

/// The name of a `grpc-status` value; a response without one answered OK (its status is
/// in trailers, which a unary answer only uses for OK).
fn code_name(code: Option<&[u8]>) -> &'static str {
    let Some(code) = code else { return "OK" };
    std::str::from_utf8(code)
        .ok()
        .and_then(|text| text.parse::<usize>().ok())
        .and_then(|number| crate::grpc::status::CODE_NAMES.get(number).copied())
        .unwrap_or("UNKNOWN")
}

/// What the transport holds, sampled at each scrape.
#[derive(Debug, Clone)]
pub struct Transport {
    /// The server-wide call limit.
    pub calls: crate::grpc::overload::CallLimitLayer,
    /// The request-body rules, with the bytes they hold.
    pub bodies: crate::grpc::request_body::BodyRules,
}

/// Reads the gauges (index, argon2, pool, calls in flight, request bytes) into the recorder.
fn sample(state: &AppState, transport: &Transport) {
    let calls = &transport.calls;
    let index = state.index.stats();
    metrics::gauge!("keyward_index_facts").set(index.facts as f64);
    metrics::gauge!("keyward_index_proven_secrets").set(index.proven as f64);
    metrics::counter!("keyward_index_loads_total").absolute(index.loads);
    metrics::counter!("keyward_index_filtered_total").absolute(index.filtered);
    metrics::counter!("keyward_index_changes_applied_total").absolute(index.changes);
    metrics::gauge!("keyward_index_trusted").set(if state.index.trusted() { 1.0 } else { 0.0 });
    match state.index.staleness() {
        Some(staleness) => {
            metrics::gauge!("keyward_index_staleness_seconds").set(staleness.as_secs_f64());
        }
        None => metrics::gauge!("keyward_index_staleness_seconds").set(f64::INFINITY),
    }
    let argon2 = state.hasher.stats();
    metrics::gauge!("keyward_argon2_running").set(argon2.running as f64);
    metrics::gauge!("keyward_argon2_queued").set(argon2.queued as f64);
    metrics::counter!("keyward_argon2_runs_total").absolute(argon2.runs);
    metrics::counter!("keyward_argon2_shed_total").absolute(argon2.shed);
    let pool = state.store.pool_stats();
    metrics::gauge!("keyward_db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("keyward_db_pool_idle_connections").set(f64::from(pool.idle));
    metrics::gauge!("keyward_calls_in_flight").set(f64::from(calls.in_flight()));
    metrics::gauge!("keyward_calls_limit").set(f64::from(calls.limit()));
    let bodies = &transport.bodies;
    metrics::gauge!("keyward_request_body_bytes_buffered").set(bodies.buffered_bytes() as f64);
    metrics::gauge!("keyward_request_body_bytes_limit").set(bodies.buffered_limit() as f64);
}

/// A bound metrics listener, ready to serve.
#[derive(Debug)]
pub struct MetricsListener {
    listener: TcpListener,
    handle: PrometheusHandle,
}

impl MetricsListener {
    /// Installs the recorder and binds `addr`; `None` when the recorder cannot be installed.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Option<Self>> {
        let Some(handle) = handle() else {
            return Ok(None);
        };
        let listener = TcpListener::bind(addr).await?;
        Ok(Some(Self { listener, handle }))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Answers `GET /metrics` (and `GET /`) until `stopping` turns true.
    pub async fn serve(
        self,
        state: AppState,
        transport: Transport,
        mut stopping: watch::Receiver<bool>,
    ) {
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = stopping.wait_for(|stopping| *stopping) => return,
            };
            let Ok((tcp, _)) = accepted else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let (handle, state, transport) =
                (self.handle.clone(), state.clone(), transport.clone());
            let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                let answer = match (request.method(), request.uri().path()) {
                    (&hyper::Method::GET, "/metrics" | "/") => {
                        sample(&state, &transport);
                        hyper::Response::builder()
                            .header("content-type", "text/plain; version=0.0.4")
                            .body(Full::new(Bytes::from(handle.render())))
                    }
                    _ => hyper::Response::builder()
                        .status(hyper::StatusCode::NOT_FOUND)
                        .body(Full::new(Bytes::from_static(b"metrics are at /metrics\n"))),
                };
                std::future::ready(answer)
            });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(tcp);
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(io, service);
                if let Err(err) = served.await {
                    tracing::debug!(error = %err, "a metrics connection ended with an error");
                }
            });
        }
    }
}
