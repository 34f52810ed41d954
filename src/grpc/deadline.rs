//! Deadlines: a call whose `grpc-timeout` passes before it is answered gets
//! `DEADLINE_EXCEEDED`, through the one status mapping, as gRPC specifies; and a call whose
//! request body does not arrive within the server's limit (`--body-timeout-secs`) gets
//! `DEADLINE_EXCEEDED` too (reason `REQUEST_BODY_TIMEOUT`), so that a client sending
//! headers and never a body holds neither a stream nor a call slot for long.
//!
//! tonic's own server enforces the header too, but answers `CANCELLED`, from a layer outside
//! every layer Keyward adds. This layer, inside it, stops the call slightly earlier
//! ([`MARGIN`]) so that it always answers first. A call without the header has no deadline
//! and pays nothing here. Dropping the call's future rolls back whatever it had not
//! committed, as any cancelled call does.
//!
//! The body's clock starts only when the body is first waited for: a unary call whose
//! message came with its headers, as nearly all do, never arms a timer. The same wrapper
//! checks the body's gRPC framing (`super::request_body`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

use super::request_body::BodyRules;
use crate::error::ServiceError;

/// How much earlier than the caller's deadline the call is stopped: more than one tick of
/// tokio's timer, so that tonic's own timeout (`CANCELLED`) never fires first.
const MARGIN: Duration = Duration::from_millis(2);

/// Answers `DEADLINE_EXCEEDED` when a call's `grpc-timeout` passes, or its request body
/// does not arrive in time.
#[derive(Debug, Clone)]
pub struct DeadlineLayer {
    body_rules: BodyRules,
}

impl DeadlineLayer {
    /// Request bodies are held to `body_rules`.
    pub fn new(body_rules: BodyRules) -> Self {
        Self { body_rules }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            body_rules: self.body_rules.clone(),
        }
    }
}

/// The service [`DeadlineLayer`] produces.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    body_rules: BodyRules,
}

impl<S> Service<http::Request<Body>> for Deadline<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let request = self.body_rules.check(request);
        let call = self.inner.call(request);
        match timeout {
            None => DeadlineFuture::Open { inner: call },
            Some(timeout) => DeadlineFuture::Bounded {
                inner: call,
                sleep: tokio::time::sleep(timeout.saturating_sub(MARGIN)),
                timeout,
            },
        }
    }
}

pin_project! {
    /// The future of one call through [`Deadline`]: without a deadline the call itself;
    /// with one, the call raced against it.
    #[project = DeadlineProjection]
    pub enum DeadlineFuture<F> {
        /// No `grpc-timeout`.
        Open {
            #[pin]
            inner: F,
        },
        /// A `grpc-timeout` of `timeout`, which `sleep` ends (a little early).
        Bounded {
            #[pin]
            inner: F,
            #[pin]
            sleep: Sleep,
            timeout: Duration,
        },
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            DeadlineProjection::Open { inner } => inner.poll(cx),
            DeadlineProjection::Bounded {
                inner,
                sleep,
                timeout,
            } => {
                if let Poll::Ready(answer) = inner.poll(cx) {
                    return Poll::Ready(answer);
                }
                if sleep.poll(cx).is_ready() {
                    let late = ServiceError::DeadlineExceeded { timeout: *timeout };
                    return Poll::Ready(Ok(Status::from(late).into_http()));
                }
                Poll::Pending
            }
        }
    }
}

/// A `grpc-timeout` value: at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
/// Anything else is no deadline, as tonic treats it.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_as_the_protocol_spells_them() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("30S"), Some(Duration::from_secs(30)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("5n"), Some(Duration::from_nanos(5)));
        for bad in ["", "m", "123456789m", "1x", "-1S", "1.5S", " 1S", "1s"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
