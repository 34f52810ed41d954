//! The benchmark run: per backend (SQLite always, PostgreSQL with `--postgres-url`) a fresh
//! database and Keyward process, the setup through the API, then the phases in order; the
//! echo baseline once; the cache comparison at the end; then the summary table.
//!
//! Every phase checks, through `keyward-client`, the decision each kind of request body it
//! sends gets (before the phase, or just after for the cold phase, whose point is that nothing
//! was verified before), and fails on any answer that is not gRPC OK. A failed phase is
//! reported and the run goes on with the next; the exit code is 1 if any phase failed. The
//! figures never decide the exit code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use bytes::Bytes;
use keyward_client::proto::VerifyApiKeyResponse;
use keyward_client::proto::decision::Reason;
use keyward_client::{Client, Scope};
use keyward_store::testing::{TestBackend, TestDatabase};
use keyward_store::{NewApiKey, Store};
use prost::Message as _;

use crate::keys::{self, API_SET, API_SET_ID, Rng};
use crate::loadgen::{self, Load, LoadResult, Target, Until};
use crate::process::{self, KeywardSpec, Purpose, ServerFlags, ServerProcess};
use crate::report::{Bound, Figures, Machine, Outcome, Report, Unit, micros, secs};
use crate::setup::{self, CreatedKey, Expect, World};
use crate::{Result, echo, fail};

/// The phases, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PhaseName {
    /// The echo baseline.
    Echo,
    /// R1, R2: cached valid keys.
    Cached,
    /// R3: refusals.
    Refusals,
    /// R5 and memory: legitimate load under attack.
    Attack,
    /// Revocation lag across replicas (PostgreSQL).
    Revocation,
    /// Cold start under load.
    ColdStart,
    /// R6: cold verifications against raw argon2.
    ColdVerify,
    /// R7: a large verification index.
    Index,
    /// quick_cache against moka.
    Caches,
}

/// What the command line asked for.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// CI mode: every phase, tiny durations and counts.
    pub(crate) quick: bool,
    /// Also run on PostgreSQL (admin URL for fresh databases).
    pub(crate) postgres_url: Option<String>,
    /// Where to write every figure as JSON.
    pub(crate) json: Option<PathBuf>,
    /// argon2 threads of the raw rate (R6); must match the server's pool.
    pub(crate) argon2_threads: usize,
    /// R7's large key count instead of the mode's default.
    pub(crate) r7_keys: Option<usize>,
    /// Raw flags appended to every Keyward child.
    pub(crate) server_args: Vec<String>,
    /// Only these phases (setup always runs).
    pub(crate) only: Option<Vec<PhaseName>>,
}

impl Options {
    fn wants(&self, phase: PhaseName) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(&phase))
    }
}

/// Durations and counts of one mode.
#[derive(Clone, Debug)]
struct Plan {
    /// Rounds of interleaved windows each ratio is the median of.
    rounds: usize,
    warmup: Duration,
    measure: Duration,
    latency_warmup: Duration,
    latency_measure: Duration,
    unknown_keys: usize,
    attack_keys: usize,
    after_attack: Duration,
    cold_before: Duration,
    cold_limit: Duration,
    cold_keys: usize,
    raw_argon2: Duration,
    index_small: usize,
    index_large: usize,
    lag_keys: usize,
    cache_entries: usize,
    cache_seconds: f64,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        let mut plan = if options.quick {
            Plan {
                rounds: 1,
                warmup: Duration::from_millis(200),
                measure: Duration::from_millis(500),
                latency_warmup: Duration::from_millis(100),
                latency_measure: Duration::from_millis(500),
                unknown_keys: 10_000,
                attack_keys: 2_000,
                after_attack: Duration::from_secs(2),
                cold_before: Duration::from_millis(1500),
                cold_limit: Duration::from_secs(10),
                cold_keys: 10,
                raw_argon2: Duration::from_millis(500),
                index_small: 1_000,
                index_large: 20_000,
                lag_keys: 10,
                cache_entries: 50_000,
                cache_seconds: 0.5,
            }
        } else {
            Plan {
                rounds: 5,
                warmup: Duration::from_secs(1),
                measure: Duration::from_secs(3),
                latency_warmup: Duration::from_millis(500),
                latency_measure: Duration::from_secs(3),
                unknown_keys: 500_000,
                attack_keys: 100_000,
                after_attack: Duration::from_secs(10),
                cold_before: Duration::from_secs(5),
                cold_limit: Duration::from_secs(60),
                cold_keys: 300,
                raw_argon2: Duration::from_secs(3),
                index_small: 1_000,
                index_large: 1_000_000,
                lag_keys: 100,
                cache_entries: 1_000_000,
                cache_seconds: 3.0,
            }
        };
        if let Some(keys) = options.r7_keys {
            plan.index_large = keys;
        }
        plan
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rounds": self.rounds,
            "throughput_warmup_s": self.warmup.as_secs_f64(),
            "throughput_measure_s": self.measure.as_secs_f64(),
            "latency_warmup_s": self.latency_warmup.as_secs_f64(),
            "latency_measure_s": self.latency_measure.as_secs_f64(),
            "unknown_keys": self.unknown_keys,
            "attack_keys": self.attack_keys,
            "after_attack_s": self.after_attack.as_secs_f64(),
            "cold_start_before_s": self.cold_before.as_secs_f64(),
            "cold_start_limit_s": self.cold_limit.as_secs_f64(),
            "cold_keys": self.cold_keys,
            "raw_argon2_s": self.raw_argon2.as_secs_f64(),
            "index_small": self.index_small,
            "index_large": self.index_large,
            "lag_keys": self.lag_keys,
            "cache_entries": self.cache_entries,
            "cache_seconds": self.cache_seconds,
        })
    }

    fn throughput(&self) -> Until {
        Until::Timed {
            warmup: self.warmup,
            measure: self.measure,
        }
    }

    fn latency(&self) -> Until {
        Until::Timed {
            warmup: self.latency_warmup,
            measure: self.latency_measure,
        }
    }
}

/// The echo baseline: a running echo server and the body it is sent.
struct Echo {
    _server: ServerProcess,
    target: Target,
    bodies: Arc<[Bytes]>,
}

/// The summary figures of one backend.
#[derive(Debug, Default)]
struct Summary {
    r1: Option<f64>,
    r2_p50: Option<f64>,
    r2_p99: Option<f64>,
    r3_checksum: Option<f64>,
    r3_unknown: Option<f64>,
    r3_revoked: Option<f64>,
    r5_throughput: Option<f64>,
    r5_p99: Option<f64>,
    r6: Option<f64>,
    r7: Option<f64>,
    cold_from_spawn: Option<f64>,
    cold_from_accept: Option<f64>,
    memory: Option<f64>,
    lag_p50: Option<f64>,
    lag_p99: Option<f64>,
    lag_max: Option<f64>,
}

/// One backend's database, server and clients.
struct Backend {
    name: &'static str,
    database: TestDatabase,
    spec: KeywardSpec,
    server: Option<ServerProcess>,
    world: World,
    /// Four target keys, each verified once.
    targets: Vec<CreatedKey>,
    gateway: Client,
    attacker_gateway: Client,
    /// The encoded size of the VerifyApiKey request about a target key (gRPC frame).
    request_frame_len: usize,
    /// The encoded size of a valid VerifyApiKeyResponse (message).
    response_len: usize,
    /// The echo baseline, running beside this backend's server.
    echo: Option<Echo>,
    flags: ServerFlags,
    extra_args: Vec<String>,
}

macro_rules! phase {
    ($report:expr, $backend:expr, $title:expr, $figures:ident => $body:expr) => {{
        $report.begin($backend, $title);
        let mut $figures = Figures::default();
        let result: Result<()> = $body.await;
        $report.end($backend, $title, outcome(result), $figures);
    }};
}

fn outcome(result: Result<()>) -> Outcome {
    match result {
        Ok(()) => Outcome::Ok,
        Err(err) => Outcome::Failed(crate::error_chain(&*err)),
    }
}

/// Runs the benchmark; true when a phase failed.
pub(crate) async fn run(options: Options) -> Result<bool> {
    let plan = Plan::new(&options);
    let mut report = Report::new(options.quick, Machine::detect());
    report.print_header();
    report.setting("plan", plan.to_json());
    report.setting("argon2_threads", options.argon2_threads);
    report.setting("server_args", options.server_args.clone());
    let flags = ServerFlags::detect()?;
    report.setting("server_has_index_capacity", flags.index_capacity);
    let logs = tempfile::Builder::new()
        .prefix("keyward-bench-")
        .tempdir()?;

    let mut backends = vec![TestBackend::Sqlite];
    if options.postgres_url.is_some() {
        backends.push(TestBackend::Postgres);
    }
    let mut summaries: Vec<(&'static str, Summary)> = Vec::new();
    for kind in backends {
        let name = kind.name();
        let mut summary = Summary::default();
        report.begin(name, "setup");
        let mut figures = Figures::default();
        let setup = Backend::setup(kind, logs.path(), &flags, &options, &mut figures).await;
        let mut backend = match setup {
            Ok(backend) => {
                report.end(name, "setup", Outcome::Ok, figures);
                backend
            }
            Err(err) => {
                report.end(name, "setup", outcome(Err(err)), figures);
                summaries.push((name, summary));
                continue;
            }
        };

        if options.wants(PhaseName::Echo) {
            let title = "echo baseline";
            report.begin(name, title);
            let mut figures = Figures::default();
            match echo_phase(&backend, logs.path(), &mut figures).await {
                Ok(echo) => {
                    report.end(name, title, Outcome::Ok, figures);
                    backend.echo = Some(echo);
                }
                Err(err) => report.end(name, title, outcome(Err(err)), figures),
            }
        }
        if options.wants(PhaseName::Cached) {
            phase!(report, name, "cached valid (R1, R2)", figures =>
                cached(&mut backend, &plan, &mut figures, &mut summary));
        }
        if options.wants(PhaseName::Refusals) {
            phase!(report, name, "refusals (R3)", figures =>
                refusals(&mut backend, &plan, &mut figures, &mut summary));
        }
        if options.wants(PhaseName::Attack) {
            phase!(report, name, "under attack (R5, memory)", figures =>
                attack(&mut backend, &plan, &mut figures, &mut summary));
        }
        if options.wants(PhaseName::Revocation) {
            if kind == TestBackend::Postgres {
                phase!(report, name, "revocation lag", figures =>
                    revocation(&mut backend, &plan, &mut figures, &mut summary));
            } else {
                report.skip(
                    name,
                    "revocation lag",
                    "needs replicas sharing a database: PostgreSQL only",
                );
            }
        }
        if options.wants(PhaseName::ColdStart) {
            phase!(report, name, "cold start under load", figures =>
                cold_start(&mut backend, &plan, &mut figures, &mut summary));
        }
        if options.wants(PhaseName::ColdVerify) {
            phase!(report, name, "cold verifications (R6)", figures =>
                cold_verify(&mut backend, &plan, &options, &mut figures, &mut summary));
        }
        if options.wants(PhaseName::Index) {
            phase!(report, name, "index size (R7)", figures =>
                index_size(&mut backend, &plan, &mut figures, &mut summary));
        }
        backend.shutdown().await;
        summaries.push((name, summary));
    }
    if options.postgres_url.is_none() && options.wants(PhaseName::Revocation) {
        report.skip("postgres", "revocation lag", "no --postgres-url");
    }
    if options.wants(PhaseName::Caches) {
        phase!(report, "-", "cache comparison (quick_cache vs moka)", figures =>
            crate::caches::compare(plan.cache_entries, plan.cache_seconds, &mut figures));
    }

    for (name, s) in &summaries {
        summary_rows(&mut report, name, s);
    }
    if options.postgres_url.is_none() {
        summary_rows_lag(&mut report, "postgres", &Summary::default());
    }
    report.print_summary();
    if report.any_failed() {
        // The servers' logs explain failures: keep them.
        let kept = logs.keep();
        #[allow(clippy::print_stdout, reason = "the report")]
        {
            println!("server logs kept in {}", kept.display());
        }
    }
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report.to_json())?)?;
        #[allow(clippy::print_stdout, reason = "the report")]
        {
            println!("figures written to {}", path.display());
        }
    }
    Ok(report.any_failed())
}

fn summary_rows(report: &mut Report, name: &str, s: &Summary) {
    use Bound::{AtLeast, AtMost};
    let rows = [
        ("R1 cached/echo rps", s.r1, AtLeast(0.90), Unit::Ratio),
        ("R2 p50 cached/echo", s.r2_p50, AtMost(1.10), Unit::Ratio),
        ("R2 p99 cached/echo", s.r2_p99, AtMost(1.25), Unit::Ratio),
        (
            "R3 checksum/cached rps",
            s.r3_checksum,
            AtLeast(0.95),
            Unit::Ratio,
        ),
        (
            "R3 unknown/cached rps",
            s.r3_unknown,
            AtLeast(0.95),
            Unit::Ratio,
        ),
        (
            "R3 revoked/cached rps",
            s.r3_revoked,
            AtLeast(0.95),
            Unit::Ratio,
        ),
        (
            "R5 rps attack/alone",
            s.r5_throughput,
            AtLeast(0.80),
            Unit::Ratio,
        ),
        ("R5 p99 attack/alone", s.r5_p99, AtMost(2.0), Unit::Ratio),
        ("R6 cold/raw argon2", s.r6, AtLeast(0.90), Unit::Ratio),
        ("R7 p50 large/1k index", s.r7, AtMost(1.2), Unit::Ratio),
        (
            "cold start from spawn",
            s.cold_from_spawn,
            AtMost(1.0),
            Unit::Seconds,
        ),
        (
            "cold start from accept",
            s.cold_from_accept,
            AtMost(1.0),
            Unit::Seconds,
        ),
        ("memory after/before", s.memory, AtMost(1.25), Unit::Ratio),
    ];
    for (label, value, bound, unit) in rows {
        report.ratio(label, name, value, Some(bound), unit);
    }
    if name == "postgres" {
        summary_rows_lag(report, name, s);
    }
}

fn summary_rows_lag(report: &mut Report, name: &str, s: &Summary) {
    report.ratio("revocation lag p50", name, s.lag_p50, None, Unit::Millis);
    report.ratio(
        "revocation lag p99",
        name,
        s.lag_p99,
        Some(Bound::AtMost(0.1)),
        Unit::Millis,
    );
    report.ratio(
        "revocation lag max",
        name,
        s.lag_max,
        Some(Bound::AtMost(1.0)),
        Unit::Millis,
    );
}

impl Backend {
    /// A fresh database, a Keyward process on it, the account, API set and keys.
    async fn setup(
        kind: TestBackend,
        logs: &Path,
        flags: &ServerFlags,
        options: &Options,
        figures: &mut Figures,
    ) -> Result<Backend> {
        let name = kind.name();
        let database = TestDatabase::create(kind).await;
        let dir = logs.join(name);
        std::fs::create_dir_all(&dir)?;
        let master_key = base64::engine::general_purpose::STANDARD
            .encode(keyward_core::key::random_bytes::<32>()?);
        let spec = KeywardSpec {
            name: name.to_owned(),
            database_url: database.url().to_owned(),
            dir,
            master_key,
            addr: process::free_addr()?,
        };
        let started = Instant::now();
        let args = process::server_args(Purpose::Main, flags, &options.server_args);
        let server = process::start_keyward(&spec, &args).await?;
        figures.set("first_start_s", started.elapsed().as_secs_f64());
        let pid = server.pid().ok_or_else(|| fail!("no server process"))?;
        figures.say(&format!(
            "keyward serving on {} after {} (logs in {})",
            spec.addr,
            secs(started.elapsed()),
            spec.dir.display()
        ));
        let world = setup::world(&spec).await?;
        let targets = setup::target_keys(&world, "target", 4).await?;
        let gateway = setup::connect(spec.addr, &world.gateway_key).await?;
        let attacker_gateway = setup::connect(spec.addr, &world.attacker_gateway_key).await?;
        for (i, target) in targets.iter().enumerate() {
            let body = keys::verify_body(&target.token);
            setup::check_body(&gateway, &body, Expect::Valid, &format!("target key {i}")).await?;
        }
        // The sizes the echo baseline mimics: this request, and a valid answer to it.
        let request_frame_len = keys::verify_body(&targets[0].token).len();
        let decision = gateway
            .verify_api_key(&targets[0].token, Scope::any().api_set(API_SET))
            .await?;
        let response_len = VerifyApiKeyResponse {
            decision: Some(decision),
        }
        .encoded_len();
        figures.set("request_frame_bytes", request_frame_len);
        figures.set("response_message_bytes", response_len);
        let rss = process::rss_kib(pid);
        figures.set("server_rss_after_setup_kib", rss);
        figures.say(&format!(
            "account, API set {API_SET_ID}, gateway keys and 4 target keys created; VerifyApiKey request {request_frame_len} B, valid response {response_len} B"
        ));
        figures.say(&format!(
            "server RSS after setup: {} MiB",
            rss.unwrap_or(0) / 1024
        ));
        Ok(Backend {
            name,
            database,
            spec,
            server: Some(server),
            world,
            targets,
            gateway,
            attacker_gateway,
            request_frame_len,
            response_len,
            echo: None,
            flags: flags.clone(),
            extra_args: options.server_args.clone(),
        })
    }

    fn target(&self, bearer: &str) -> Result<Target> {
        Target::new(
            self.spec.addr,
            "/keyward.v1.ApiKeyService/VerifyApiKey",
            Some(bearer),
        )
    }

    fn gateway_target(&self) -> Result<Target> {
        self.target(&self.world.gateway_key)
    }

    fn server_pid(&self) -> Result<u32> {
        self.server
            .as_ref()
            .and_then(ServerProcess::pid)
            .ok_or_else(|| fail!("the {} server is not running", self.name))
    }

    /// Stops the server (SIGTERM, waiting for it to drain).
    async fn stop_server(&mut self) -> Result<Duration> {
        let server = self
            .server
            .take()
            .ok_or_else(|| fail!("the {} server is not running", self.name))?;
        let asked = Instant::now();
        server.terminate(Duration::from_secs(60)).await?;
        Ok(asked.elapsed())
    }

    /// Starts the server for `purpose` on the same database and port, and reconnects the
    /// clients.
    async fn start_server(&mut self, purpose: Purpose) -> Result<()> {
        let args = process::server_args(purpose, &self.flags, &self.extra_args);
        self.server = Some(process::start_keyward(&self.spec, &args).await?);
        self.reconnect().await
    }

    async fn reconnect(&mut self) -> Result<()> {
        self.gateway = setup::connect(self.spec.addr, &self.world.gateway_key).await?;
        self.attacker_gateway =
            setup::connect(self.spec.addr, &self.world.attacker_gateway_key).await?;
        self.world.admin = setup::connect(self.spec.addr, &self.world.admin_key).await?;
        Ok(())
    }

    async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.terminate(Duration::from_secs(30)).await;
        }
        drop(self.database);
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then_some(a / b)
}

fn ratio_us(a: Option<u32>, b: Option<u32>) -> Option<f64> {
    ratio(f64::from(a?), f64::from(b?))
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

/// The echo baseline: the same generator against a bare tonic service.
async fn echo_phase(backend: &Backend, logs: &Path, figures: &mut Figures) -> Result<Echo> {
    let server = process::start_echo(logs, backend.response_len).await?;
    // The same request bytes as Keyward gets: the gateway's `authorization` header too
    // (the echo server ignores it, but the transport carries and decodes it).
    let target = Target::new(server.addr, echo::PATH, Some(&backend.world.gateway_key))?;
    let body = echo::request_body(backend.request_frame_len);
    let (status, answer) = loadgen::unary(&target, body.clone()).await?;
    if status != 0 {
        return Err(fail!("the echo server answered status {status}"));
    }
    // The answer is one frame: 5 bytes of header, then the message.
    let answered = answer.len().saturating_sub(5);
    if answered.abs_diff(backend.response_len) > 1 {
        return Err(fail!(
            "the echo server answered {answered} B instead of {} B",
            backend.response_len
        ));
    }
    figures.set("request_frame_bytes", body.len());
    figures.set("response_message_bytes", answered);
    figures.say(&format!(
        "echo server up: request {} B (VerifyApiKey: {} B), response {answered} B \
         (VerifyApiKey: {} B); measured in rounds beside Keyward in the next phase",
        body.len(),
        backend.request_frame_len,
        backend.response_len
    ));
    Ok(Echo {
        _server: server,
        target,
        bodies: Arc::from(vec![body]),
    })
}

/// One load of a round: where to, what, how.
struct Leg {
    key: &'static str,
    label: &'static str,
    target: Target,
    bodies: Arc<[Bytes]>,
    connections: usize,
    streams: usize,
}

/// Runs `legs` one after the other, `rounds` times over (A, B, C, A, B, C…), each a timed
/// window of `until`. The servers share a machine whose speed drifts from one second to the
/// next, so a ratio is taken between windows of the same round and the median of the rounds
/// is kept. Returns each leg's windows in round order; fails on any answer that is not OK.
async fn rounds(legs: &[Leg], rounds: usize, until: &Until) -> Result<Vec<Vec<LoadResult>>> {
    let mut results: Vec<Vec<LoadResult>> = legs.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds.max(1) {
        for (leg, windows) in legs.iter().zip(results.iter_mut()) {
            let load = Load::new(
                leg.connections,
                leg.streams,
                leg.bodies.clone(),
                until.clone(),
            );
            let result = loadgen::run(&leg.target, load).await?;
            result.require_all_ok(leg.label)?;
            windows.push(result);
        }
    }
    Ok(results)
}

/// Prints and records each leg's windows taken together.
fn record_legs(figures: &mut Figures, legs: &[Leg], results: &[Vec<LoadResult>]) {
    for (leg, windows) in legs.iter().zip(results) {
        let label = format!("{} ({} rounds)", leg.label, windows.len());
        figures.load(leg.key, &label, &LoadResult::combined(windows));
    }
}

/// The median of the per-round ratios `f(a_i) / f(b_i)`.
fn median_ratio(
    a: &[LoadResult],
    b: &[LoadResult],
    f: impl Fn(&LoadResult) -> Option<f64>,
) -> Option<f64> {
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(a, b)| ratio(f(a)?, f(b)?))
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    Some(ratios[ratios.len() / 2])
}

fn rps(result: &LoadResult) -> Option<f64> {
    Some(result.throughput())
}

fn p50(result: &LoadResult) -> Option<f64> {
    result.quantile_us(0.50).map(f64::from)
}

/// The ratio of the p99s of every window taken together (one window's p99 rests on few
/// answers).
fn pooled_p99_ratio(a: &[LoadResult], b: &[LoadResult]) -> Option<f64> {
    ratio_us(
        LoadResult::combined(a).quantile_us(0.99),
        LoadResult::combined(b).quantile_us(0.99),
    )
}

/// R1, R2: a cached valid key against the echo baseline, in interleaved rounds.
async fn cached(
    backend: &mut Backend,
    plan: &Plan,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let body = keys::verify_body(&backend.targets[0].token);
    setup::check_body(&backend.gateway, &body, Expect::Valid, "cached valid key").await?;
    let bodies: Arc<[Bytes]> = Arc::from(vec![body]);
    let target = backend.gateway_target()?;
    let leg = |key, label, target: &Target, bodies: &Arc<[Bytes]>, connections, streams| Leg {
        key,
        label,
        target: target.clone(),
        bodies: bodies.clone(),
        connections,
        streams,
    };
    let Some(echo) = &backend.echo else {
        let legs = [leg(
            "throughput_4x64",
            "cached valid 4×64",
            &target,
            &bodies,
            4,
            64,
        )];
        let results = rounds(&legs, plan.rounds, &plan.throughput()).await?;
        record_legs(figures, &legs, &results);
        figures.say("no echo baseline: R1 and R2 not computed");
        return Ok(());
    };
    let throughput_legs = [
        leg(
            "echo_throughput_4x64",
            "echo 4×64",
            &echo.target,
            &echo.bodies,
            4,
            64,
        ),
        leg(
            "throughput_4x64",
            "cached valid 4×64",
            &target,
            &bodies,
            4,
            64,
        ),
    ];
    let throughput = rounds(&throughput_legs, plan.rounds, &plan.throughput()).await?;
    record_legs(figures, &throughput_legs, &throughput);
    let latency_legs = [
        leg(
            "echo_latency_1x1",
            "echo 1×1",
            &echo.target,
            &echo.bodies,
            1,
            1,
        ),
        leg("latency_1x1", "cached valid 1×1", &target, &bodies, 1, 1),
    ];
    let latency = rounds(&latency_legs, plan.rounds, &plan.latency()).await?;
    record_legs(figures, &latency_legs, &latency);

    summary.r1 = median_ratio(&throughput[1], &throughput[0], rps);
    summary.r2_p50 = median_ratio(&latency[1], &latency[0], p50);
    summary.r2_p99 = pooled_p99_ratio(&latency[1], &latency[0]);
    figures.set("r1", summary.r1);
    figures.set("r2_p50", summary.r2_p50);
    figures.set("r2_p99", summary.r2_p99);
    figures.say(&format!(
        "R1 {}   R2 p50 {}   R2 p99 {}   (medians of {} rounds; p99 over every round's answers)",
        show(summary.r1),
        show(summary.r2_p50),
        show(summary.r2_p99),
        plan.rounds
    ));
    Ok(())
}

/// R3: refusals (broken checksum, unknown IDs, revoked) against cached valid keys.
async fn refusals(
    backend: &mut Backend,
    plan: &Plan,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let broken: Vec<Bytes> = backend
        .targets
        .iter()
        .map(|t| keys::break_checksum(&t.token).map(|k| keys::verify_body(&k)))
        .collect::<Result<_>>()?;
    let generated = Instant::now();
    let count = plan.unknown_keys;
    let unknown = tokio::task::spawn_blocking(move || keys::unknown_bodies(count)).await??;
    figures.say(&format!(
        "{} unknown keys generated in {}",
        unknown.len(),
        secs(generated.elapsed())
    ));
    let revoked = setup::target_keys(&backend.world, "revoked", 1).await?;
    let revoked_body = keys::verify_body(&revoked[0].token);
    setup::check_body(
        &backend.gateway,
        &revoked_body,
        Expect::Valid,
        "key before revocation",
    )
    .await?;
    backend.world.admin.revoke_api_key(&revoked[0].name).await?;

    let target = backend.gateway_target()?;
    let valid = vec![keys::verify_body(&backend.targets[0].token)];
    setup::check_bodies(&backend.gateway, &valid, Expect::Valid, "cached valid key").await?;
    let invalid = Expect::Refused(Reason::Invalid);
    setup::check_bodies(&backend.gateway, &broken, invalid, "checksum-broken keys").await?;
    setup::check_bodies(&backend.gateway, &unknown, invalid, "unknown IDs").await?;
    let revoked_bodies = vec![revoked_body];
    let expect = Expect::Refused(Reason::Revoked);
    setup::check_bodies(&backend.gateway, &revoked_bodies, expect, "revoked key").await?;
    let distinct = unknown.len();
    let leg = |key, label, bodies: Vec<Bytes>| Leg {
        key,
        label,
        target: target.clone(),
        bodies: bodies.into(),
        connections: 4,
        streams: 64,
    };
    let legs = [
        leg("valid", "cached valid 4×64", valid),
        leg("checksum", "checksum-broken 4×64", broken),
        leg("unknown", "unknown IDs 4×64", unknown),
        leg("revoked", "revoked 4×64", revoked_bodies),
    ];
    let results = rounds(&legs, plan.rounds, &plan.throughput()).await?;
    record_legs(figures, &legs, &results);
    let answered: u64 = results[2].iter().map(LoadResult::answers).sum();
    figures.set("unknown_distinct_keys", distinct);
    if answered > distinct as u64 {
        figures.say(&format!(
            "note: {answered} answers for {distinct} distinct unknown keys (keys repeated)"
        ));
    }
    summary.r3_checksum = median_ratio(&results[1], &results[0], rps);
    summary.r3_unknown = median_ratio(&results[2], &results[0], rps);
    summary.r3_revoked = median_ratio(&results[3], &results[0], rps);
    figures.set("r3_checksum", summary.r3_checksum);
    figures.set("r3_unknown", summary.r3_unknown);
    figures.set("r3_revoked", summary.r3_revoked);
    figures.say(&format!(
        "R3 checksum {}   unknown {}   revoked {}   (medians of {} rounds, each against the \
         cached-valid window of its round)",
        show(summary.r3_checksum),
        show(summary.r3_unknown),
        show(summary.r3_revoked),
        plan.rounds
    ));
    Ok(())
}

/// R5 and memory: the legitimate 4×64 load alone, then while one connection floods with
/// unknown IDs and forged secrets of real IDs; the server's RSS around it.
async fn attack(
    backend: &mut Backend,
    plan: &Plan,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let legit: Arc<[Bytes]> = Arc::from(vec![keys::verify_body(&backend.targets[0].token)]);
    setup::check_bodies(&backend.gateway, &legit, Expect::Valid, "legitimate key").await?;
    let ids: Vec<String> = backend
        .targets
        .iter()
        .map(|t| keys::key_id(&t.token))
        .collect::<Result<_>>()?;
    let count = plan.attack_keys;
    let attack_bodies = tokio::task::spawn_blocking(move || {
        keys::on_every_core(count, |i| {
            let key = if i % 2 == 0 {
                keys::unknown_key()?
            } else {
                keys::forge_random(&ids[(i / 2) % ids.len()])?
            };
            Ok(keys::verify_body(&key))
        })
    })
    .await??;
    let forged: Vec<Bytes> = attack_bodies.iter().skip(1).step_by(2).cloned().collect();
    let unknown: Vec<Bytes> = attack_bodies.iter().step_by(2).cloned().collect();
    let invalid = Expect::Refused(Reason::Invalid);
    setup::check_bodies(
        &backend.attacker_gateway,
        &unknown,
        invalid,
        "attack: unknown ID",
    )
    .await?;
    setup::check_bodies(
        &backend.attacker_gateway,
        &forged,
        invalid,
        "attack: real ID, forged secret",
    )
    .await?;

    let target = backend.gateway_target()?;
    let attacker_target = backend.target(&backend.world.attacker_gateway_key)?;
    let attack_bodies: Arc<[Bytes]> = attack_bodies.into();
    let pid = backend.server_pid()?;
    let sampling = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let sampler = tokio::spawn({
        let (sampling, samples) = (sampling.clone(), samples.clone());
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !sampling.load(Ordering::Relaxed) {
                tick.tick().await;
                if let (Some(kib), Ok(mut samples)) = (process::rss_kib(pid), samples.lock()) {
                    samples.push((Instant::now(), kib));
                }
            }
        }
    });
    let before = process::rss_kib(pid).ok_or_else(|| fail!("cannot read the server's RSS"))?;

    // Rounds of (the legitimate load alone, the legitimate load under attack).
    let mut alone = Vec::new();
    let mut under = Vec::new();
    let mut attackers = Vec::new();
    let mut attack_windows = Vec::new();
    for _ in 0..plan.rounds.max(1) {
        let load = Load::new(4, 64, legit.clone(), plan.throughput());
        let result = loadgen::run(&target, load).await?;
        result.require_all_ok("legitimate load alone")?;
        alone.push(result);
        let started = Instant::now();
        let attacker = loadgen::start(
            &attacker_target,
            Load::new(1, 64, attack_bodies.clone(), Until::Stopped),
        );
        let load = Load::new(4, 64, legit.clone(), plan.throughput());
        let result = loadgen::run(&target, load).await;
        attacker.stop();
        attack_windows.push((started, Instant::now()));
        let attacker = attacker.finish().await?;
        let result = result?;
        result.require_all_ok("legitimate load under attack")?;
        under.push(result);
        attackers.push(attacker);
    }
    tokio::time::sleep(plan.after_attack).await;
    let after = process::rss_kib(pid);
    sampling.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let legs = [
        ("legit_alone", "legitimate 4×64 alone", &alone),
        ("legit_under_attack", "legitimate 4×64 under attack", &under),
        ("attacker", "attacker 1×64 (answers)", &attackers),
    ];
    for (key, label, windows) in legs {
        let label = format!("{label} ({} rounds)", windows.len());
        figures.load(key, &label, &LoadResult::combined(windows));
    }
    let peak = samples
        .lock()
        .map_err(|_| fail!("sampler poisoned"))?
        .iter()
        .filter(|(at, _)| {
            attack_windows
                .iter()
                .any(|(from, to)| at >= from && at <= to)
        })
        .map(|(_, kib)| *kib)
        .max()
        .unwrap_or(before);
    let after = after.ok_or_else(|| fail!("the server is gone after the attack"))?;
    figures.set("rss_before_kib", before);
    figures.set("rss_peak_kib", peak);
    figures.set("rss_after_kib", after);
    figures.set("rss_after_wait_s", plan.after_attack.as_secs_f64());
    summary.r5_throughput = median_ratio(&under, &alone, rps);
    summary.r5_p99 = pooled_p99_ratio(&under, &alone);
    summary.memory = ratio(after as f64, before as f64);
    figures.set("r5_throughput", summary.r5_throughput);
    figures.set("r5_p99", summary.r5_p99);
    figures.set("memory_after_before", summary.memory);
    figures.say(&format!(
        "server RSS: before {} MiB, peak during attack {} MiB, {} s after {} MiB",
        before / 1024,
        peak / 1024,
        plan.after_attack.as_secs(),
        after / 1024
    ));
    figures.say(&format!(
        "R5 throughput {}   R5 p99 {}   memory after/before {}   (throughput: median of {} \
         rounds; p99 over every round's answers)",
        show(summary.r5_throughput),
        show(summary.r5_p99),
        show(summary.memory),
        plan.rounds
    ));
    let attacker = LoadResult::combined(&attackers);
    if !attacker.non_ok().is_empty() || attacker.transport_errors > 0 {
        figures.say(
            "note: the attacker got answers other than OK decisions (reported, not a failure)",
        );
    }
    if let Some(echo) = &backend.echo {
        echo_under_flood(echo, plan, figures).await?;
    }
    Ok(())
}

/// The reference for R5: the bare echo server under the same extra connection (1×64,
/// sending as fast as answers come) beside its 4×64 load. Whatever the server does, a fifth
/// connection with a fifth of the streams in flight takes its share of the machine: this is
/// the ceiling R5 is measured against.
async fn echo_under_flood(echo: &Echo, plan: &Plan, figures: &mut Figures) -> Result<()> {
    let mut alone = Vec::new();
    let mut under = Vec::new();
    for _ in 0..plan.rounds.max(1) {
        let load = Load::new(4, 64, echo.bodies.clone(), plan.throughput());
        let result = loadgen::run(&echo.target, load).await?;
        result.require_all_ok("echo alone")?;
        alone.push(result);
        let flood = loadgen::start(
            &echo.target,
            Load::new(1, 64, echo.bodies.clone(), Until::Stopped),
        );
        let load = Load::new(4, 64, echo.bodies.clone(), plan.throughput());
        let result = loadgen::run(&echo.target, load).await;
        flood.stop();
        flood.finish().await?;
        let result = result?;
        result.require_all_ok("echo under the extra connection")?;
        under.push(result);
    }
    let label = |what: &str| format!("{what} ({} rounds)", alone.len());
    figures.load(
        "echo_alone",
        &label("echo 4×64 alone"),
        &LoadResult::combined(&alone),
    );
    figures.load(
        "echo_flooded",
        &label("echo 4×64 beside 1×64 more"),
        &LoadResult::combined(&under),
    );
    let reference = median_ratio(&under, &alone, rps);
    figures.set("r5_echo_reference", reference);
    figures.say(&format!(
        "reference: the echo server keeps {} of its throughput beside the same extra \
         connection (the fair-share ceiling of R5)",
        show(reference)
    ));
    Ok(())
}

/// Revocation lag: three replicas on one PostgreSQL database; revoke through A, poll B and C.
async fn revocation(
    backend: &mut Backend,
    plan: &Plan,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let mut replicas = Vec::new();
    let mut gateways = Vec::new();
    for letter in ["B", "C"] {
        let spec = KeywardSpec {
            name: format!("{}-{letter}", backend.name),
            addr: process::free_addr()?,
            ..backend.spec.clone()
        };
        let args = process::server_args(Purpose::Replica, &backend.flags, &backend.extra_args);
        let replica = process::start_keyward(&spec, &args).await?;
        gateways.push(setup::connect(spec.addr, &backend.world.gateway_key).await?);
        replicas.push(replica);
    }
    figures.say(&format!(
        "replicas: A {} (main), B {}, C {}",
        backend.spec.addr, replicas[0].addr, replicas[1].addr
    ));
    let keys = setup::target_keys(&backend.world, "lag", plan.lag_keys).await?;
    for key in &keys {
        let body = keys::verify_body(&key.token);
        for (gateway, letter) in gateways.iter().zip(["B", "C"]) {
            setup::check_body(
                gateway,
                &body,
                Expect::Valid,
                &format!("key on replica {letter}"),
            )
            .await?;
        }
    }
    let limit = Duration::from_secs(5);
    // A poll that times out counts as a lag of the limit (a lower bound).
    let mut lags: Vec<Duration> = Vec::new();
    let mut timeouts = 0_usize;
    for key in &keys {
        backend.world.admin.revoke_api_key(&key.name).await?;
        let revoked_at = Instant::now();
        let (b, c) = tokio::join!(
            poll_until_revoked(&gateways[0], &key.token, revoked_at, limit),
            poll_until_revoked(&gateways[1], &key.token, revoked_at, limit)
        );
        for lag in [b?, c?] {
            lags.push(lag.unwrap_or_else(|| {
                timeouts += 1;
                limit
            }));
        }
    }
    let mut us: Vec<u32> = lags
        .iter()
        .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
        .collect();
    us.sort_unstable();
    let p50 = loadgen::quantile(&us, 0.50);
    let p99 = loadgen::quantile(&us, 0.99);
    let max = us.last().copied();
    figures.set("keys", keys.len());
    figures.set("lags", us.len());
    figures.set("timeouts_5s", timeouts);
    figures.set("p50_us", p50);
    figures.set("p99_us", p99);
    figures.set("max_us", max);
    figures.say(&format!(
        "{} lags ({} keys × replicas B and C): p50 {}  p99 {}  max {}  ({timeouts} polls timed out at 5 s, counted as 5 s)",
        us.len(),
        keys.len(),
        micros(p50),
        micros(p99),
        micros(max)
    ));
    let seconds = |v: Option<u32>| v.map(|us| f64::from(us) / 1e6);
    summary.lag_p50 = seconds(p50);
    summary.lag_p99 = seconds(p99);
    summary.lag_max = seconds(max);
    for replica in replicas {
        let _ = replica.terminate(Duration::from_secs(30)).await;
    }
    Ok(())
}

/// Polls `gateway` with VerifyApiKey about `key` until it is refused as revoked: the time
/// since `since`, or None after `limit`.
async fn poll_until_revoked(
    gateway: &Client,
    key: &str,
    since: Instant,
    limit: Duration,
) -> Result<Option<Duration>> {
    loop {
        let decision = gateway
            .verify_api_key(key, Scope::any().api_set(API_SET))
            .await?;
        if !decision.valid {
            if decision.reason() == Reason::Revoked {
                return Ok(Some(since.elapsed()));
            }
            return Err(fail!(
                "a key being revoked was refused as {:?}",
                decision.reason()
            ));
        }
        if since.elapsed() > limit {
            return Ok(None);
        }
    }
}

/// Cold start: SIGTERM and restart under a continuous 4×64 load on cached keys; the time
/// until throughput (100 ms buckets) is back to 90 % of what it was.
async fn cold_start(
    backend: &mut Backend,
    plan: &Plan,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let bodies: Vec<Bytes> = backend
        .targets
        .iter()
        .map(|t| keys::verify_body(&t.token))
        .collect();
    setup::check_bodies(&backend.gateway, &bodies, Expect::Valid, "target keys").await?;
    let width = Duration::from_millis(100);
    let mut load = Load::new(4, 64, bodies.into(), Until::Stopped);
    load.reconnect = true;
    load.buckets = Some(width);
    let target = backend.gateway_target()?;
    let running = loadgen::start(&target, load);
    let started = running.started();
    let bucket_of = |at: Instant| {
        (at.saturating_duration_since(started).as_secs_f64() / width.as_secs_f64()) as usize
    };

    tokio::time::sleep(plan.cold_before).await;
    let full = bucket_of(Instant::now());
    let counts = running.bucket_counts();
    let steady = &counts[full / 2..full];
    let before_per_bucket = steady.iter().sum::<u64>() as f64 / steady.len().max(1) as f64;
    let before_rps = before_per_bucket / width.as_secs_f64();

    let result = async {
        let stopped_in = backend.stop_server().await?;
        let args = process::server_args(Purpose::Main, &backend.flags, &backend.extra_args);
        let mut server = process::spawn_keyward(&backend.spec, &args)?;
        let spawned = server.spawned;
        let deadline = spawned + plan.cold_limit;
        let mut accepted: Option<Instant> = None;
        let mut recovered: Option<Instant> = None;
        let mut first_ok: Option<Instant> = None;
        while Instant::now() < deadline {
            if server.has_exited()? {
                return Err(fail!(
                    "the restarted server exited: {}",
                    server.stderr_tail()
                ));
            }
            if accepted.is_none()
                && tokio::net::TcpStream::connect(backend.spec.addr)
                    .await
                    .is_ok()
            {
                accepted = Some(Instant::now());
            }
            let counts = running.bucket_counts();
            let now_bucket = bucket_of(Instant::now());
            let first = bucket_of(spawned);
            for (b, count) in counts.iter().enumerate().take(now_bucket).skip(first) {
                let end = started + width * u32::try_from(b + 1)?;
                if first_ok.is_none() && *count > 0 {
                    first_ok = Some(end);
                }
                if *count as f64 >= 0.9 * before_per_bucket {
                    recovered = Some(end);
                    break;
                }
            }
            if recovered.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok::<_, crate::Error>((server, stopped_in, spawned, accepted, first_ok, recovered))
    }
    .await;
    running.stop();
    let load = running.finish().await;
    let (mut server, stopped_in, spawned, accepted, first_ok, recovered) = result?;
    let load = load?;
    server
        .wait_ready(
            process::health_target(backend.spec.addr)?,
            Duration::from_secs(60),
        )
        .await?;
    backend.server = Some(server);
    backend.reconnect().await?;

    let since = |from: Instant, to: Option<Instant>| {
        to.map(|t| t.saturating_duration_since(from).as_secs_f64())
    };
    figures.set("before_rps", before_rps);
    figures.set("sigterm_to_exit_s", stopped_in.as_secs_f64());
    figures.set("spawn_to_accept_s", since(spawned, accepted));
    figures.set("spawn_to_first_ok_bucket_s", since(spawned, first_ok));
    figures.set("spawn_to_recovered_s", since(spawned, recovered));
    figures.set(
        "accept_to_recovered_s",
        accepted.and_then(|a| since(a, recovered)),
    );
    figures.set("recovered", recovered.is_some());
    figures.load("load", "load across the restart", &load);
    let show_s = |v: Option<f64>| v.map_or_else(|| "never".to_owned(), |s| format!("{s:.3} s"));
    figures.say(&format!(
        "before: {before_rps:.0} req/s; SIGTERM to exit {}; from spawn: accepting {}, first OK bucket {}, 90 % again {}; from accepting: {}",
        secs(stopped_in),
        show_s(since(spawned, accepted)),
        show_s(since(spawned, first_ok)),
        show_s(since(spawned, recovered)),
        show_s(accepted.and_then(|a| since(a, recovered)))
    ));
    summary.cold_from_spawn = since(spawned, recovered).or(Some(plan.cold_limit.as_secs_f64()));
    summary.cold_from_accept = accepted
        .and_then(|a| since(a, recovered))
        .or(Some(plan.cold_limit.as_secs_f64()));
    if recovered.is_none() {
        figures.say(&format!(
            "throughput did not reach 90 % within {} s of the spawn",
            plan.cold_limit.as_secs()
        ));
    }
    let non_ok = load.non_ok();
    if !non_ok.is_empty() {
        return Err(fail!(
            "answers that were not OK across the restart: {non_ok:?}"
        ));
    }
    if load.ok == 0 {
        return Err(fail!("no answer across the restart"));
    }
    Ok(())
}

/// R6: keys verified for the first time after a restart, against raw argon2id.
async fn cold_verify(
    backend: &mut Backend,
    plan: &Plan,
    options: &Options,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let created = Instant::now();
    let keys = setup::target_keys(&backend.world, "cold", plan.cold_keys).await?;
    figures.say(&format!(
        "{} keys created in {}",
        keys.len(),
        secs(created.elapsed())
    ));
    backend.stop_server().await?;
    backend.start_server(Purpose::Main).await?;
    // The gateway's own key is verified once here (a refused body costs no argon2 of its own),
    // so the measured run verifies only the cold keys.
    let broken = keys::verify_body(&keys::break_checksum(&keys[0].token)?);
    setup::check_body(
        &backend.gateway,
        &broken,
        Expect::Refused(Reason::Invalid),
        "gateway warm-up",
    )
    .await?;

    let bodies: Vec<Bytes> = keys.iter().map(|k| keys::verify_body(&k.token)).collect();
    let result = loadgen::run(
        &backend.gateway_target()?,
        Load::new(1, 8, bodies.clone().into(), Until::EachOnce),
    )
    .await?;
    figures.load("cold", "cold keys, each once, 1×8", &result);
    result.require_all_ok("cold verifications")?;
    if result.ok != keys.len() as u64 {
        return Err(fail!("{} answers for {} keys", result.ok, keys.len()));
    }
    // The answers were not decoded: each key must now be valid (and a cached answer says
    // what the cold one said).
    setup::check_bodies(&backend.gateway, &bodies, Expect::Valid, "cold key").await?;
    let cold_rate = result.throughput();

    let threads = options.argon2_threads;
    let raw_rate = tokio::task::spawn_blocking({
        let duration = plan.raw_argon2;
        move || raw_argon2_rate(threads, duration)
    })
    .await??;
    summary.r6 = ratio(cold_rate, raw_rate);
    figures.set("cold_per_s", cold_rate);
    figures.set("raw_argon2_per_s", raw_rate);
    figures.set("argon2_threads", threads);
    figures.set("r6", summary.r6);
    figures.say(&format!(
        "cold {cold_rate:.1}/s, raw argon2id (default params, {threads} threads) {raw_rate:.1}/s: R6 {}",
        show(summary.r6)
    ));
    Ok(())
}

/// argon2id verifications per second (default parameters) on `threads` threads.
fn raw_argon2_rate(threads: usize, duration: Duration) -> Result<f64> {
    let secret = keyward_core::key::random_bytes::<32>()?;
    let phc = Argon2::default()
        .hash_password(&secret)
        .map_err(|e| fail!("argon2: {e}"))?
        .to_string();
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let phc = phc.as_str();
                scope.spawn(move || -> Result<u64> {
                    let parsed = PasswordHash::new(phc).map_err(|e| fail!("argon2: {e}"))?;
                    let argon2 = Argon2::default();
                    let mut count = 0_u64;
                    while started.elapsed() < duration {
                        argon2
                            .verify_password(&secret, &parsed)
                            .map_err(|e| fail!("argon2: {e}"))?;
                        count += 1;
                    }
                    Ok(count)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| fail!("an argon2 thread panicked"))?)
            .collect::<Result<Vec<u64>>>()
    })?;
    Ok(counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64())
}

/// R7: cached p50 at 1×1 over random keys, with a large index against a 1,000-key one.
async fn index_size(
    backend: &mut Backend,
    plan: &Plan,
    figures: &mut Figures,
    summary: &mut Summary,
) -> Result<()> {
    let (small, large) = (plan.index_small, plan.index_large);
    if large <= small {
        return Err(fail!(
            "the large index ({large}) must hold more than {small} keys"
        ));
    }
    if !backend.flags.index_capacity {
        figures.say("the server has no --index-capacity flag yet: started with its defaults");
    }
    let mut rng = Rng::new()?;
    backend.stop_server().await?;
    let mut bodies = insert_cheap_keys(backend, small, figures).await?;
    backend.start_server(Purpose::LargeIndex).await?;
    let small_run = warm_and_measure(backend, &bodies, &mut rng, plan, figures, "small").await?;

    backend.stop_server().await?;
    bodies.extend(insert_cheap_keys(backend, large - small, figures).await?);
    backend.start_server(Purpose::LargeIndex).await?;
    let large_run = warm_and_measure(backend, &bodies, &mut rng, plan, figures, "large").await?;

    // The two sizes are minutes apart and the machine drifts meanwhile: each is taken
    // against the echo baseline measured in the same rounds, when there is one.
    let (p50_small, p50_large) = (small_run.p50(), large_run.p50());
    summary.r7 = match (small_run.against_echo(), large_run.against_echo()) {
        (Some(small), Some(large)) => ratio(large, small),
        _ => ratio_us(p50_large, p50_small),
    };
    figures.set("r7", summary.r7);
    figures.say(&format!(
        "p50 with {large} keys {} / with {small} keys {}; against echo in the same rounds: \
         {} / {}: R7 {}",
        micros(p50_large),
        micros(p50_small),
        show(large_run.against_echo()),
        show(small_run.against_echo()),
        show(summary.r7)
    ));
    Ok(())
}

/// The 1×1 windows over one index size, and the echo windows of the same rounds.
struct IndexRun {
    keyward: Vec<LoadResult>,
    echo: Option<Vec<LoadResult>>,
}

impl IndexRun {
    /// Keyward's p50 over every round's answers.
    fn p50(&self) -> Option<u32> {
        LoadResult::combined(&self.keyward).quantile_us(0.50)
    }

    /// The median over rounds of Keyward's p50 ÷ echo's p50.
    fn against_echo(&self) -> Option<f64> {
        median_ratio(&self.keyward, self.echo.as_ref()?, p50)
    }
}

/// Inserts `count` cheaply hashed keys of the administrator straight into the database (the
/// server is stopped), and returns their VerifyApiKey bodies.
///
/// The keys are inserted in ID order: random IDs inserted at random would touch a different
/// page of every index for each row, and a million-row SQLite file would spend most of its
/// time rewriting pages; in order, each chunk fills pages one after the other.
async fn insert_cheap_keys(
    backend: &Backend,
    count: usize,
    figures: &mut Figures,
) -> Result<Vec<Bytes>> {
    const CHUNK: usize = 50_000;
    let started = Instant::now();
    if count > CHUNK {
        figures.say(&format!(
            "hashing {count} keys (cheap argon2id parameters)..."
        ));
    }
    let made = tokio::task::spawn_blocking(move || {
        let mut made = keys::cheap_keys(count)?;
        made.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok::<_, crate::Error>(made)
    })
    .await??;
    if count > CHUNK {
        figures.say(&format!("hashed in {}", secs(started.elapsed())));
    }
    let owner = &backend.world.admin_user_id;
    let store = Store::connect(&backend.spec.database_url).await?;
    let mut done = 0;
    for chunk in made.chunks(CHUNK) {
        let records: Vec<NewApiKey> = chunk
            .iter()
            .map(|key| NewApiKey {
                id: key.id.clone(),
                account_id: setup::ACCOUNT.to_owned(),
                user_id: owner.clone(),
                display_name: "bulk".to_owned(),
                description: String::new(),
                secret_hash: key.phc.clone(),
                expire_time: None,
                creator: format!("accounts/{}/users/{owner}", setup::ACCOUNT),
                api_set_ids: vec![API_SET_ID.to_owned()],
            })
            .collect();
        store.bulk_insert_api_keys(&records).await?;
        done += chunk.len();
        if count > CHUNK {
            figures.say(&format!(
                "inserted {done}/{count} keys ({})",
                secs(started.elapsed())
            ));
        }
    }
    store.close().await;
    figures.say(&format!(
        "{count} keys hashed and inserted in {}",
        secs(started.elapsed())
    ));
    Ok(made
        .iter()
        .map(|key| keys::verify_body(&key.token))
        .collect())
}

/// Verifies every body once (1×32) so that all keys are cached, checks a sample, then
/// measures 1×1 over the keys in random order, in rounds beside the echo baseline.
async fn warm_and_measure(
    backend: &Backend,
    bodies: &[Bytes],
    rng: &mut Rng,
    plan: &Plan,
    figures: &mut Figures,
    key: &str,
) -> Result<IndexRun> {
    let target = backend.gateway_target()?;
    let running = loadgen::start(
        &target,
        Load::new(1, 32, bodies.to_vec().into(), Until::EachOnce),
    );
    let started = Instant::now();
    let mut last_report = Instant::now();
    while !running.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let done = running.done();
            figures.say(&format!(
                "warming: {done}/{} keys verified ({:.0}/s)",
                bodies.len(),
                done as f64 / started.elapsed().as_secs_f64()
            ));
        }
    }
    let warm = running.finish().await?;
    figures.load(
        &format!("warm_{key}"),
        &format!("warm {} keys, 1×32", bodies.len()),
        &warm,
    );
    warm.require_all_ok("warming")?;
    if warm.ok != bodies.len() as u64 {
        return Err(fail!("{} answers for {} keys", warm.ok, bodies.len()));
    }
    setup::check_bodies(&backend.gateway, bodies, Expect::Valid, "bulk-inserted key").await?;
    let mut shuffled = bodies.to_vec();
    rng.shuffle(&mut shuffled);
    let shuffled: Arc<[Bytes]> = shuffled.into();
    let keyward = Leg {
        key: "latency",
        label: "keys in random order, 1×1",
        target,
        bodies: shuffled,
        connections: 1,
        streams: 1,
    };
    let mut legs = vec![keyward];
    if let Some(echo) = &backend.echo {
        legs.push(Leg {
            key: "echo_latency",
            label: "echo 1×1",
            target: echo.target.clone(),
            bodies: echo.bodies.clone(),
            connections: 1,
            streams: 1,
        });
    }
    let mut results = rounds(&legs, plan.rounds, &plan.latency())
        .await?
        .into_iter();
    let keyward = results.next().unwrap_or_default();
    let echo = results.next();
    figures.load(
        &format!("latency_{key}"),
        &format!(
            "{} keys, random, 1×1 ({} rounds)",
            bodies.len(),
            keyward.len()
        ),
        &LoadResult::combined(&keyward),
    );
    if let Some(echo) = &echo {
        figures.load(
            &format!("echo_latency_{key}"),
            &format!("echo 1×1 ({} rounds)", echo.len()),
            &LoadResult::combined(echo),
        );
    }
    Ok(IndexRun { keyward, echo })
}
