//! Connections that stay idle are closed: every accepted TCP stream is wrapped in a
//! [`TrackedStream`] whose connection counts its calls in flight and started (the call-limit
//! layer notes them through the request's [`ConnectionInfo`]). Once a whole idle period
//! (`--idle-timeout-secs`) passes with no call in flight and none started, a watchdog shuts
//! the socket down, so the HTTP/2 connection ends and its memory is freed. A connection is therefore closed between one and two idle periods after its
//! last call (or after being opened, if it never made one); HTTP/2 pings do not count as
//! use, so keepalive does not hold an abandoned connection open.
//!
//! The hot path pays two atomic increments and one decrement per call, and no clock read;
//! reads and writes pay nothing: a task per connection does the waiting.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_stream::Stream;
use tonic::transport::server::{Connected, TcpIncoming, TlsConnectInfo};

/// What a connection's calls and its stream share.
#[derive(Debug, Default)]
struct Usage {
    /// Calls in flight.
    active: AtomicU32,
    /// Calls started, ever.
    started: AtomicU64,
}

/// What a request knows of its connection (the connection info tonic puts in every
/// request's extensions).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    remote: Option<SocketAddr>,
    usage: Arc<Usage>,
}

impl ConnectionInfo {
    /// The peer's address, if known.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }
}

/// A call in flight on its connection; dropping it ends the call.
#[derive(Debug)]
pub struct CallGuard(Arc<Usage>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Release);
    }
}

/// Notes a call starting on the connection of `request` (plain or TLS); `None` for a
/// request that did not come through [`TrackedIncoming`] (tests driving the service
/// directly).
pub fn call_started<B>(request: &http::Request<B>) -> Option<CallGuard> {
    let extensions = request.extensions();
    let info = extensions.get::<ConnectionInfo>().or_else(|| {
        extensions
            .get::<TlsConnectInfo<ConnectionInfo>>()
            .map(TlsConnectInfo::get_ref)
    })?;
    info.usage.active.fetch_add(1, Ordering::Acquire);
    info.usage.started.fetch_add(1, Ordering::Relaxed);
    Some(CallGuard(info.usage.clone()))
}

/// `response` with `guard` held until its body ends: for streaming calls (health
/// `Watch`, reflection), which are in flight for as long as their answer streams.
pub fn hold_until_body_ends(
    response: http::Response<tonic::body::Body>,
    guard: CallGuard,
) -> http::Response<tonic::body::Body> {
    response.map(|body| {
        tonic::body::Body::new(Guarded {
            body,
            _guard: guard,
        })
    })
}

/// A response body that keeps its call in flight.
struct Guarded {
    body: tonic::body::Body,
    _guard: CallGuard,
}

impl HttpBody for Guarded {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The accepted connections of a listener, each a [`TrackedStream`] watched by a task of
/// its own.
pub struct TrackedIncoming {
    inner: TcpIncoming,
    idle: Duration,
}

impl TrackedIncoming {
    /// Wraps `inner`; a connection idle for `idle` is closed.
    pub fn new(inner: TcpIncoming, idle: Duration) -> Self {
        Self { inner, idle }
    }
}

impl Stream for TrackedIncoming {
    type Item = io::Result<TrackedStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let idle = self.idle;
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|next| next.map(|accepted| accepted.map(|tcp| TrackedStream::new(tcp, idle))))
    }
}

/// A TCP connection whose watchdog shuts it down after an idle period without calls.
///
/// The watchdog is a task holding a duplicate of the socket: every idle period it looks at
/// the connection's counters, and when no call was in flight or started during a whole
/// period it shuts the socket down, so the connection's pending read ends and hyper drops
/// it. Reads and writes pay nothing; when the stream is dropped first, the watchdog is told
/// at once and lets its duplicate go.
pub struct TrackedStream {
    tcp: TcpStream,
    usage: Arc<Usage>,
    dropped: Arc<Notify>,
}

impl TrackedStream {
    fn new(tcp: TcpStream, idle: Duration) -> Self {
        let usage = Arc::<Usage>::default();
        let dropped = Arc::new(Notify::new());
        match tcp.as_fd().try_clone_to_owned() {
            Ok(fd) => {
                tokio::spawn(watch(
                    std::net::TcpStream::from(fd),
                    usage.clone(),
                    dropped.clone(),
                    idle,
                ));
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot watch a connection for idleness");
            }
        }
        Self {
            tcp,
            usage,
            dropped,
        }
    }
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        // `notify_one` keeps a permit if the watchdog is not waiting right now.
        self.dropped.notify_one();
    }
}

/// Shuts `socket` down once a whole `idle` period passes without calls; returns when the
/// stream is dropped.
async fn watch(
    socket: std::net::TcpStream,
    usage: Arc<Usage>,
    dropped: Arc<Notify>,
    idle: Duration,
) {
    let mut seen = 0;
    loop {
        tokio::select! {
            () = dropped.notified() => return,
            () = tokio::time::sleep(idle) => {}
        }
        let started = usage.started.load(Ordering::Relaxed);
        if usage.active.load(Ordering::Acquire) == 0 && started == seen {
            tracing::debug!("closing a connection idle for a whole idle period");
            let _ = socket.shutdown(std::net::Shutdown::Both);
            return;
        }
        seen = started;
    }
}

impl Connected for TrackedStream {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        ConnectionInfo {
            remote: self.tcp.peer_addr().ok(),
            usage: self.usage.clone(),
        }
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}
