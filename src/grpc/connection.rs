//! Connections that stay idle are closed: every accepted TCP stream is wrapped in a
//! [`TrackedStream`] that knows how many calls its connection has in flight (counted by the
//! call-limit layer through the request's [`ConnectionInfo`]) and how many it has seen.
//! Once a whole idle period (`--idle-timeout-secs`) passes with no call in flight and none
//! started, the stream reports end of file, so the HTTP/2 connection ends and its memory
//! is freed. A connection is therefore closed between one and two idle periods after its
//! last call (or after being opened, if it never made one); HTTP/2 pings do not count as
//! use, so keepalive does not hold an abandoned connection open.
//!
//! The hot path pays two atomic increments and one decrement per call, and no clock read:
//! the stream's own timer does the waiting.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
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

/// The accepted connections of a listener, each a [`TrackedStream`].
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

/// A TCP connection that ends itself after an idle period without calls.
pub struct TrackedStream {
    tcp: TcpStream,
    usage: Arc<Usage>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// Calls started as of the last check.
    seen: u64,
    /// Idle for a whole period: reads report end of file from now on.
    closed: bool,
}

impl TrackedStream {
    fn new(tcp: TcpStream, idle: Duration) -> Self {
        Self {
            tcp,
            usage: Arc::default(),
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            seen: 0,
            closed: false,
        }
    }

    /// Whether the connection has been idle for a whole period, checked each time the
    /// period's timer fires (which also wakes the connection's task).
    fn idle_for_a_period(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let started = self.usage.started.load(Ordering::Relaxed);
            if self.usage.active.load(Ordering::Acquire) == 0 && started == self.seen {
                return true;
            }
            self.seen = started;
            let next = Instant::now() + self.idle;
            self.timer.as_mut().reset(next);
        }
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
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.tcp).poll_read(cx, buf) {
            Poll::Pending if self.idle_for_a_period(cx) => {
                tracing::debug!("closing a connection idle for a whole idle period");
                self.closed = true;
                // Nothing read: end of file.
                Poll::Ready(Ok(()))
            }
            other => other,
        }
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
