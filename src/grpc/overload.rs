//! The server-wide limit on calls in flight: a call beyond it is refused at once with
//! `RESOURCE_EXHAUSTED` (reason `SERVER_OVERLOADED`, with a `RetryInfo`), through the one
//! status mapping, instead of queuing without end. The per-connection limit
//! (`max_concurrent_streams`) keeps one client from piling up work; this one keeps all of
//! them together from doing so. Health checks are never refused, so that an overloaded
//! replica is not taken for a dead one.
//!
//! The same layer notes each call's use of its connection, for the idle-connection
//! timeout (`super::connection`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::error::ServiceError;

/// When a refused caller should try again.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// Refuses calls beyond `limit` in flight.
#[derive(Debug, Clone)]
pub struct CallLimitLayer {
    permits: Arc<Semaphore>,
    limit: u32,
}

impl CallLimitLayer {
    /// At most `limit` calls in flight over the whole server.
    pub fn new(limit: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit as usize)),
            limit,
        }
    }

    /// The limit.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Calls holding a slot now.
    pub fn in_flight(&self) -> u32 {
        let free = u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX);
        self.limit.saturating_sub(free)
    }
}

impl<S> Layer<S> for CallLimitLayer {
    type Service = CallLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLimit {
            inner,
            permits: self.permits.clone(),
            limit: self.limit,
        }
    }
}

/// The service [`CallLimitLayer`] produces.
#[derive(Debug, Clone)]
pub struct CallLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
    limit: u32,
}

impl<S> Service<http::Request<Body>> for CallLimit<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Every call counts as use of its connection (see `connection`); Keyward's own
        // RPCs are unary, done when their answer is, but for its export stream, which is
        // in flight until its answer ends, as the health and reflection streams are.
        let guard = super::connection::call_started(&request);
        let path = request.uri().path();
        let streaming =
            !path.starts_with("/keyward.v1.") || super::STREAMING_METHODS.contains(&path);
        // Timed only when metrics are on: no clock read otherwise.
        let timing = crate::metrics::call_started()
            .map(|started| (crate::metrics::method_label(path), started));
        let permit = if path.starts_with("/grpc.health.v1.Health/") {
            None
        } else if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            Some(permit)
        } else {
            let refused = ServiceError::ResourceExhausted {
                reason: "SERVER_OVERLOADED",
                message: format!(
                    "the server is working on {} calls, its limit; retry shortly",
                    self.limit
                ),
                retry_after: Some(RETRY_AFTER),
            };
            if let Some((method, started)) = timing {
                crate::metrics::call_answered(method, Some(b"8"), started);
            }
            return CallFuture::Refused {
                response: Some(Status::from(refused).into_http()),
            };
        };
        CallFuture::Running {
            inner: self.inner.call(request),
            permit,
            guard,
            streaming,
            timing,
        }
    }
}

pin_project! {
    /// The future of one call through [`CallLimit`]: refused at once, or the call holding
    /// its permit (and its connection's use) until it is answered.
    #[project = CallProjection]
    pub enum CallFuture<F> {
        /// Beyond the limit: the refusal, answered once.
        Refused { response: Option<http::Response<Body>> },
        /// Admitted.
        Running {
            #[pin]
            inner: F,
            permit: Option<OwnedSemaphorePermit>,
            guard: Option<super::connection::CallGuard>,
            streaming: bool,
            timing: Option<(&'static str, std::time::Instant)>,
        },
    }
}

impl<F, E> Future for CallFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CallProjection::Refused { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| Status::internal("polled after completion").into_http()))),
            CallProjection::Running {
                inner,
                permit,
                guard,
                streaming,
                timing,
            } => {
                let answer = ready!(inner.poll(cx));
                drop(permit.take());
                if let (Some((method, started)), Ok(response)) = (timing.take(), &answer) {
                    let code = response.headers().get("grpc-status");
                    crate::metrics::call_answered(method, code.map(|c| c.as_bytes()), started);
                }
                Poll::Ready(match (*streaming, guard.take()) {
                    (true, Some(guard)) => answer
                        .map(|response| super::connection::hold_until_body_ends(response, guard)),
                    (_, guard) => {
                        drop(guard);
                        answer
                    }
                })
            }
        }
    }
}
