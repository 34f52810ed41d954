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
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
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
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Every call counts as use of its connection (see `connection`); Keyward's own
        // RPCs are unary, done when their answer is, while the health and reflection
        // streams are in flight until their answer ends.
        let guard = super::connection::call_started(&request);
        let path = request.uri().path();
        let streaming = !path.starts_with("/keyward.v1.");
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
            let response = Status::from(refused).into_http();
            return Box::pin(async move { Ok(response) });
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            let answer = call.await;
            drop(permit);
            match (streaming, guard) {
                (true, Some(guard)) => {
                    answer.map(|response| super::connection::hold_until_body_ends(response, guard))
                }
                _ => answer,
            }
        })
    }
}
