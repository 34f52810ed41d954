//! The load generator every phase shares: raw HTTP/2 (the `h2` crate tonic itself uses) over
//! tokio TCP streams with `TCP_NODELAY`, `C` connections × `S` concurrent streams each.
//!
//! Each stream slot loops: take the next pre-encoded gRPC body (round-robin over a shared
//! counter, so phases can present a different key on every request), POST it with
//! `content-type: application/grpc`, `te: trailers` and, for Keyward, the gateway's
//! `authorization`, read the whole response body and the trailers, and count the answer by
//! its `grpc-status` (a trailers-only answer carries it in the headers). Answers are never
//! decoded here, so the per-request cost of the generator is the same for the echo baseline
//! and for Keyward: the phases check what each kind of body is answered with beforehand,
//! through `keyward-client`.
//!
//! A run is timed (warm-up, then a measured window: only answers completed inside it count),
//! runs each body exactly once, or runs until told to stop. When a timed run's window closes
//! or a run is stopped, no new request is sent and those in flight are let finish (at most
//! 30 s), so that the next phase does not start under the previous one's backlog. (They are
//! not cancelled: resetting dozens of streams at once is what HTTP/2 servers treat as a
//! rapid-reset attack, and they answer it with GOAWAY.) With `reconnect`, a connection
//! that fails is replaced as soon as the server accepts again (connection errors are counted
//! apart, never as requests): what the cold-start phase needs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{Result, fail};

/// gRPC status codes are 0..=16.
const GRPC_CODES: usize = keyward::grpc::status::CODE_NAMES.len();

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPING: u8 = 2;

/// Where requests go and how they are labelled.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The server.
    pub(crate) addr: SocketAddr,
    /// `http://ADDR/PATH`, the gRPC method.
    uri: Uri,
    /// `Bearer <gateway key>` for Keyward; none for the echo server.
    authorization: Option<HeaderValue>,
}

impl Target {
    /// Requests to gRPC method `path` (`/package.Service/Method`) on `addr`.
    pub(crate) fn new(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Result<Target> {
        let uri: Uri = format!("http://{addr}{path}").parse()?;
        let authorization = match bearer {
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {key}"))?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Target {
            addr,
            uri,
            authorization,
        })
    }

    /// The gRPC method path.
    pub(crate) fn uri_path(&self) -> &str {
        self.uri.path()
    }

    fn request(&self) -> Result<Request<()>> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE.clone())
            .header(http::header::TE, TRAILERS.clone())
            .body(())?;
        if let Some(value) = &self.authorization {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}

static GRPC_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/grpc");
static TRAILERS: HeaderValue = HeaderValue::from_static("trailers");

/// When a run ends.
#[derive(Clone, Debug)]
pub(crate) enum Until {
    /// Warm up, then count what completes within the measured window.
    Timed {
        /// Not counted.
        warmup: Duration,
        /// Counted.
        measure: Duration,
    },
    /// Every body exactly once (index order), then stop; everything counts.
    EachOnce,
    /// Until [`Running::stop`]; everything counts.
    Stopped,
}

/// One run of the generator.
#[derive(Clone, Debug)]
pub(crate) struct Load {
    /// Concurrent HTTP/2 connections.
    pub(crate) connections: usize,
    /// Concurrent streams on each connection.
    pub(crate) streams: usize,
    /// Pre-encoded gRPC request bodies (5-byte prefix + protobuf), used round-robin.
    pub(crate) bodies: Arc<[Bytes]>,
    /// When to stop.
    pub(crate) until: Until,
    /// Replace failed connections (the cold-start phase) instead of failing the run.
    pub(crate) reconnect: bool,
    /// Count OK answers in buckets of this width from the start of the run.
    pub(crate) buckets: Option<Duration>,
}

impl Load {
    /// `connections` × `streams` over `bodies`, until `until`.
    pub(crate) fn new(
        connections: usize,
        streams: usize,
        bodies: Arc<[Bytes]>,
        until: Until,
    ) -> Load {
        Load {
            connections,
            streams,
            bodies,
            until,
            reconnect: false,
            buckets: None,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadResult {
    /// Answers with `grpc-status: 0`.
    pub(crate) ok: u64,
    /// Answers per gRPC status code (index = code), OK included.
    pub(crate) statuses: [u64; GRPC_CODES],
    /// Answers that were not HTTP 200 or had no valid `grpc-status`.
    pub(crate) malformed: u64,
    /// Requests lost to a broken connection or stream (not answers).
    pub(crate) transport_errors: u64,
    /// Failed connection attempts (reconnecting runs retry them).
    pub(crate) connect_errors: u64,
    /// The first transport or connection error, for the report.
    pub(crate) first_error: Option<String>,
    /// Length of the measured window.
    pub(crate) elapsed: Duration,
    /// Latencies of the counted answers, in microseconds, sorted.
    pub(crate) latencies_us: Vec<u32>,
    /// OK answers per bucket, when asked for.
    pub(crate) buckets: Vec<u64>,
    /// When the run started (bucket 0 starts here).
    pub(crate) started: Option<Instant>,
}

impl LoadResult {
    /// Counted answers, whatever their status.
    pub(crate) fn answers(&self) -> u64 {
        self.statuses.iter().sum::<u64>() + self.malformed
    }

    /// OK answers per second over the measured window.
    pub(crate) fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The latency at quantile `q` (0..=1) in microseconds (nearest rank).
    pub(crate) fn quantile_us(&self, q: f64) -> Option<u32> {
        quantile(&self.latencies_us, q)
    }

    /// Non-OK statuses as `CODE×COUNT` pairs, and malformed answers.
    pub(crate) fn non_ok(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .statuses
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code_name(code).to_owned(), *n))
            .collect();
        if self.malformed > 0 {
            out.push(("malformed".to_owned(), self.malformed));
        }
        out
    }

    /// Fails unless every counted answer was OK and no request was lost (what a phase
    /// expecting OK answers requires), and at least one answer was counted.
    pub(crate) fn require_all_ok(&self, what: &str) -> Result<()> {
        let non_ok = self.non_ok();
        if !non_ok.is_empty() {
            return Err(fail!("{what}: answers that were not OK: {non_ok:?}"));
        }
        if self.transport_errors > 0 {
            return Err(fail!(
                "{what}: {} requests lost to transport errors (first: {})",
                self.transport_errors,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        if self.ok == 0 {
            return Err(fail!(
                "{what}: no answer at all{}",
                self.first_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// The runs taken together: their answers and errors added, their windows laid end to
    /// end, their latencies pooled.
    pub(crate) fn combined(results: &[LoadResult]) -> LoadResult {
        let mut all = LoadResult::default();
        for result in results {
            all.ok += result.ok;
            for (total, n) in all.statuses.iter_mut().zip(result.statuses) {
                *total += n;
            }
            all.malformed += result.malformed;
            all.transport_errors += result.transport_errors;
            all.connect_errors += result.connect_errors;
            if all.first_error.is_none() {
                all.first_error.clone_from(&result.first_error);
            }
            all.elapsed += result.elapsed;
            all.latencies_us.extend_from_slice(&result.latencies_us);
        }
        all.latencies_us.sort_unstable();
        all
    }

    fn merge(&mut self, other: StreamStats) {
        for (total, n) in self.statuses.iter_mut().zip(other.statuses) {
            *total += n;
        }
        self.malformed += other.malformed;
        self.latencies_us.extend(other.latencies_us);
    }
}

/// The value at quantile `q` of sorted `values` (nearest rank).
pub(crate) fn quantile(values: &[u32], q: f64) -> Option<u32> {
    if values.is_empty() {
        return None;
    }
    let rank = ((values.len() as f64) * q).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

/// The name of a gRPC status code.
pub(crate) fn code_name(code: usize) -> &'static str {
    keyward::grpc::status::CODE_NAMES
        .get(code)
        .copied()
        .unwrap_or("?")
}

struct Shared {
    target: Target,
    load: Load,
    phase: AtomicU8,
    /// Raised when the run stops: in-flight requests are dropped.
    stop: watch::Sender<bool>,
    next: AtomicUsize,
    /// Completed requests (counted or not): progress for long runs.
    done: AtomicU64,
    /// Completed requests counted in the measured window.
    counted: AtomicU64,
    started: Instant,
    buckets: Vec<AtomicU64>,
    transport_errors: AtomicU64,
    connect_errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == STOPPING
    }

    fn stop(&self) {
        self.phase.store(STOPPING, Ordering::SeqCst);
        self.stop.send_replace(true);
    }

    fn note_error(&self, error: String, connect: bool) {
        if connect {
            self.connect_errors.fetch_add(1, Ordering::Relaxed);
        } else {
            self.transport_errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(error);
        }
    }
}

#[derive(Default)]
struct StreamStats {
    statuses: [u64; GRPC_CODES],
    malformed: u64,
    latencies_us: Vec<u32>,
}

/// A handle on a run in progress: its progress, and its result when it ends.
pub(crate) struct Running {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<Result<LoadResult>>,
}

impl Running {
    /// Requests completed so far.
    pub(crate) fn done(&self) -> u64 {
        self.shared.done.load(Ordering::Relaxed)
    }

    /// OK answers so far per bucket (for runs with buckets).
    pub(crate) fn bucket_counts(&self) -> Vec<u64> {
        self.shared
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// When the run started.
    pub(crate) fn started(&self) -> Instant {
        self.shared.started
    }

    /// Stops the run: no new request, those in flight cancelled.
    pub(crate) fn stop(&self) {
        self.shared.stop();
    }

    /// Whether the run has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the run to end.
    pub(crate) async fn finish(self) -> Result<LoadResult> {
        self.task.await?
    }
}

/// Runs `load` against `target` to its end.
pub(crate) async fn run(target: &Target, load: Load) -> Result<LoadResult> {
    start(target, load).finish().await
}

/// Starts `load` against `target` in the background.
pub(crate) fn start(target: &Target, load: Load) -> Running {
    let bucket_count = match load.buckets {
        // Enough for ten minutes of buckets.
        Some(width) => (600.0 / width.as_secs_f64().max(0.001)).ceil() as usize,
        None => 0,
    };
    let measuring_from_start = !matches!(load.until, Until::Timed { .. });
    let shared = Arc::new(Shared {
        target: target.clone(),
        load,
        phase: AtomicU8::new(if measuring_from_start {
            MEASURING
        } else {
            WARMING
        }),
        stop: watch::Sender::new(false),
        next: AtomicUsize::new(0),
        done: AtomicU64::new(0),
        counted: AtomicU64::new(0),
        started: Instant::now(),
        buckets: (0..bucket_count).map(|_| AtomicU64::new(0)).collect(),
        transport_errors: AtomicU64::new(0),
        connect_errors: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    });
    let task = tokio::spawn(drive(shared.clone()));
    Running { shared, task }
}

async fn drive(shared: Arc<Shared>) -> Result<LoadResult> {
    if shared.load.bodies.is_empty() {
        return Err(fail!("a load needs at least one request body"));
    }
    let mut connections = JoinSet::new();
    for _ in 0..shared.load.connections {
        connections.spawn(connection_loop(shared.clone()));
    }
    let (window_start, window_end) = match shared.load.until.clone() {
        Until::Timed { warmup, measure } => {
            tokio::time::sleep(warmup).await;
            shared.phase.store(MEASURING, Ordering::SeqCst);
            let from = Instant::now();
            tokio::time::sleep(measure).await;
            // A server slower than the window (a short quick-mode window under attack) still
            // gets its first answers counted: the window stretches until one arrives.
            let stretch = Instant::now() + Duration::from_secs(30);
            while shared.counted.load(Ordering::Relaxed) == 0 && Instant::now() < stretch {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            shared.stop();
            (from, Some(Instant::now()))
        }
        Until::EachOnce | Until::Stopped => (shared.started, None),
    };

    let mut result = LoadResult::default();
    // In-flight requests finish after the window closes; a server that stops answering
    // does not hang the benchmark.
    let drain = async {
        while let Some(joined) = connections.join_next().await {
            for stats in joined? {
                result.merge(stats);
            }
        }
        Ok::<_, crate::Error>(())
    };
    let limit = match shared.load.until {
        Until::Timed { .. } => Duration::from_secs(30),
        // The whole run happens here; bounded by the caller.
        Until::EachOnce | Until::Stopped => Duration::from_secs(24 * 3600),
    };
    match tokio::time::timeout(limit, drain).await {
        Ok(drained) => drained?,
        Err(_) => {
            connections.abort_all();
            return Err(fail!(
                "requests still unanswered {} s after the run ended",
                limit.as_secs()
            ));
        }
    }
    let window_end = window_end.unwrap_or_else(Instant::now);
    result.elapsed = window_end.saturating_duration_since(window_start);
    result.ok = result.statuses[0];
    result.transport_errors = shared.transport_errors.load(Ordering::Relaxed);
    result.connect_errors = shared.connect_errors.load(Ordering::Relaxed);
    result.first_error = shared.first_error.lock().ok().and_then(|e| e.clone());
    result.latencies_us.sort_unstable();
    result.buckets = shared
        .buckets
        .iter()
        .map(|b| b.load(Ordering::Relaxed))
        .collect();
    result.started = Some(shared.started);
    Ok(result)
}

/// One connection slot: connect, run its streams until they end, and with `reconnect`
/// connect again until the run stops.
async fn connection_loop(shared: Arc<Shared>) -> Vec<StreamStats> {
    let mut all = Vec::new();
    loop {
        if shared.stopping() || each_once_exhausted(&shared) {
            return all;
        }
        let sender = match connect(shared.target.addr).await {
            Ok(sender) => sender,
            Err(err) => {
                shared.note_error(format!("connect: {err}"), true);
                if !shared.load.reconnect {
                    return all;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
        };
        let mut streams = JoinSet::new();
        for _ in 0..shared.load.streams {
            let shared = shared.clone();
            let sender = sender.clone();
            streams.spawn(async move {
                let mut stats = StreamStats::default();
                if let Err(err) = stream_loop(&shared, sender, &mut stats).await {
                    shared.note_error(err.to_string(), false);
                }
                stats
            });
        }
        drop(sender);
        while let Some(stats) = streams.join_next().await {
            if let Ok(stats) = stats {
                all.push(stats);
            }
        }
        if !shared.load.reconnect {
            return all;
        }
    }
}

fn each_once_exhausted(shared: &Shared) -> bool {
    matches!(shared.load.until, Until::EachOnce)
        && shared.next.load(Ordering::Relaxed) >= shared.load.bodies.len()
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Bytes>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = h2::client::handshake(tcp).await?;
    tokio::spawn(async move {
        // Ends when the connection closes; its errors reach the streams.
        let _ = connection.await;
    });
    Ok(sender)
}

async fn stream_loop(
    shared: &Shared,
    mut sender: SendRequest<Bytes>,
    stats: &mut StreamStats,
) -> Result<()> {
    let bodies = &shared.load.bodies;
    let mut stop = shared.stop.subscribe();
    loop {
        if shared.stopping() || *stop.borrow_and_update() {
            return Ok(());
        }
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        let body = match shared.load.until {
            Until::EachOnce => match bodies.get(index) {
                Some(body) => body.clone(),
                None => return Ok(()),
            },
            _ => bodies[index % bodies.len()].clone(),
        };
        let sent = Instant::now();
        // A stopped run lets the requests in flight finish (resetting dozens of streams at
        // once is what HTTP/2 servers treat as a rapid-reset attack and answer with GOAWAY).
        let status = exchange(&shared.target, &mut sender, body).await?;
        let latency = sent.elapsed();
        shared.done.fetch_add(1, Ordering::Relaxed);
        if shared.phase.load(Ordering::Relaxed) != MEASURING {
            continue;
        }
        shared.counted.fetch_add(1, Ordering::Relaxed);
        match status {
            Some(Ok(code)) => {
                stats.statuses[code] += 1;
                if code == 0
                    && let Some(width) = shared.load.buckets
                {
                    let at = sent.duration_since(shared.started) + latency;
                    let bucket = (at.as_secs_f64() / width.as_secs_f64()) as usize;
                    if let Some(counter) = shared.buckets.get(bucket) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Some(Err(())) | None => stats.malformed += 1,
        }
        stats
            .latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }
}

/// One request on a stream of `sender`'s connection: its `grpc-status` (None when absent,
/// `Err` when not HTTP 200 or not a valid code), the whole body and trailers read.
async fn exchange(
    target: &Target,
    sender: &mut SendRequest<Bytes>,
    body: Bytes,
) -> Result<Option<std::result::Result<usize, ()>>> {
    std::future::poll_fn(|cx| sender.poll_ready(cx)).await?;
    let (response, mut send) = sender.send_request(target.request()?, false)?;
    send.send_data(body, true)?;
    let response = response.await?;
    let (parts, mut recv) = response.into_parts();
    let mut status = if parts.status == http::StatusCode::OK {
        grpc_status(&parts.headers)
    } else {
        Some(Err(()))
    };
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        recv.flow_control().release_capacity(chunk.len())?;
    }
    if let Some(trailers) = recv.trailers().await?
        && status.is_none()
    {
        status = grpc_status(&trailers);
    }
    Ok(status)
}

/// The `grpc-status` of a header block: None when absent, `Err` when not a valid code.
fn grpc_status(headers: &HeaderMap) -> Option<std::result::Result<usize, ()>> {
    let value = headers.get("grpc-status")?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|code| *code < GRPC_CODES)
            .ok_or(()),
    )
}

/// One request on a fresh connection: the `grpc-status` and the response body (gRPC frames
/// as received). For readiness probes and answer checks, never in a measured loop.
pub(crate) async fn unary(target: &Target, body: Bytes) -> Result<(usize, Bytes)> {
    let mut sender = connect(target.addr).await?.ready().await?;
    let (response, mut send) = sender.send_request(target.request()?, false)?;
    send.send_data(body, true)?;
    let response = response.await?;
    let (parts, mut recv) = response.into_parts();
    if parts.status != http::StatusCode::OK {
        return Err(fail!("HTTP status {}", parts.status));
    }
    let mut status = grpc_status(&parts.headers);
    let mut data = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        recv.flow_control().release_capacity(chunk.len())?;
        data.extend_from_slice(&chunk);
    }
    if let Some(trailers) = recv.trailers().await?
        && status.is_none()
    {
        status = grpc_status(&trailers);
    }
    match status {
        Some(Ok(code)) => Ok((code, Bytes::from(data))),
        _ => Err(fail!("no valid grpc-status in the answer")),
    }
}
