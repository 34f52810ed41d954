//! What every request body is held to before a service reads it: it arrives in time, and it
//! is well-formed gRPC framing. Every violation is the caller's error, answered through the
//! one status mapping, never tonic's `INTERNAL`:
//!
//! - a body that has not arrived `--body-timeout-secs` after it was first waited for:
//!   `DEADLINE_EXCEEDED` (`REQUEST_BODY_TIMEOUT`);
//! - a flag byte other than 0 or 1, a compressed message without a `grpc-encoding`, a body
//!   that ends inside a length prefix or a message, no message or more than one for a method
//!   that takes one (every Keyward RPC, health's `Check` and `Watch`): `INVALID_ARGUMENT`;
//! - a length prefix beyond the largest message accepted (`--max-message-bytes`, 4 MiB):
//!   `OUT_OF_RANGE` (`MESSAGE_TOO_LARGE`);
//! - a body whose bytes would take the request bytes the whole server holds beyond
//!   `--max-buffered-request-bytes`: `RESOURCE_EXHAUSTED` (`SERVER_OVERLOADED`, retry
//!   shortly). A body's bytes count from the moment they pass until the body is dropped,
//!   which tonic does once it has decoded the message: so bodies that stall half-sent,
//!   however many connections carry them, hold at most that much memory. The first
//!   [`UNCOUNTED_BYTES`] of each body are not counted: every ordinary request fits in them,
//!   so the hot path touches no shared counter, and they are bounded by the calls in
//!   flight (`--max-concurrent-calls` × 16 KiB).
//!
//! The checks read the 5-byte prefix of each message as its bytes pass and copy nothing;
//! the timer is armed only when the body is not already there when first polled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Sleep;
use tonic::Status;
use tonic::body::Body;

use crate::error::{FieldViolation, ServiceError};

/// The bytes of each body not counted against the server-wide limit: one HTTP/2 frame of
/// the default size, more than any ordinary Keyward request.
pub const UNCOUNTED_BYTES: u64 = 16 * 1024;

/// How soon a call refused for want of request-byte room may retry.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// The rules every request body is held to, shared by every call of one server.
#[derive(Debug, Clone)]
pub struct BodyRules {
    /// How long a body may take to arrive once waited for.
    timeout: Duration,
    /// The largest message accepted, in bytes.
    max_message_bytes: u64,
    /// Request bytes held by all bodies not yet dropped, and their limit.
    buffered: Arc<Buffered>,
}

#[derive(Debug)]
struct Buffered {
    held: AtomicU64,
    limit: u64,
}

impl BodyRules {
    /// Bodies arrive within `timeout` of being first waited for, carry messages of at most
    /// `max_message_bytes`, and together hold at most `max_buffered_bytes`.
    pub fn new(timeout: Duration, max_message_bytes: u64, max_buffered_bytes: u64) -> Self {
        Self {
            timeout,
            max_message_bytes,
            buffered: Arc::new(Buffered {
                held: AtomicU64::new(0),
                limit: max_buffered_bytes,
            }),
        }
    }

    /// Request bytes held by bodies not yet dropped.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered.held.load(Ordering::Relaxed)
    }

    /// The most request bytes held at once.
    pub fn buffered_limit(&self) -> u64 {
        self.buffered.limit
    }

    /// `request` with its body held to these rules.
    pub fn check(&self, request: http::Request<Body>) -> http::Request<Body> {
        // Every Keyward RPC and both health RPCs take exactly one request message;
        // reflection's stream takes any number.
        let path = request.uri().path();
        let unary = path.starts_with("/keyward.v1.") || path.starts_with("/grpc.health.v1.");
        let compressed_allowed = request
            .headers()
            .get("grpc-encoding")
            .is_some_and(|encoding| encoding.as_bytes() != b"identity");
        request.map(|body| {
            Body::new(Checked {
                body,
                limit: self.timeout,
                timer: None,
                framing: Framing::new(unary, compressed_allowed, self.max_message_bytes),
                buffered: self.buffered.clone(),
                seen: 0,
                held: 0,
            })
        })
    }
}

/// A request body that must arrive in time and be well framed.
struct Checked {
    body: Body,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    framing: Framing,
    buffered: Arc<Buffered>,
    /// This body's bytes so far.
    seen: u64,
    /// This body's bytes counted in `buffered`: those beyond [`UNCOUNTED_BYTES`].
    held: u64,
}

impl Checked {
    /// Counts `len` more bytes of this body (those beyond [`UNCOUNTED_BYTES`]), unless that
    /// takes the server beyond its limit.
    fn hold(&mut self, len: u64) -> Result<(), ServiceError> {
        let seen = self.seen + len;
        let bytes =
            seen.saturating_sub(UNCOUNTED_BYTES) - self.seen.saturating_sub(UNCOUNTED_BYTES);
        self.seen = seen;
        if bytes == 0 {
            return Ok(());
        }
        let before = self.buffered.held.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > self.buffered.limit {
            self.buffered.held.fetch_sub(bytes, Ordering::Relaxed);
            return Err(ServiceError::ResourceExhausted {
                reason: "SERVER_OVERLOADED",
                message: format!(
                    "the server holds {before} bytes of request bodies and may hold {}; retry shortly",
                    self.buffered.limit
                ),
                retry_after: Some(RETRY_AFTER),
            });
        }
        self.held += bytes;
        Ok(())
    }
}

impl Drop for Checked {
    fn drop(&mut self) {
        if self.held > 0 {
            self.buffered.held.fetch_sub(self.held, Ordering::Relaxed);
        }
    }
}

impl HttpBody for Checked {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Pending => {
                let limit = this.limit;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    let late = ServiceError::BodyTimeout { limit };
                    return Poll::Ready(Some(Err(Status::from(late))));
                }
                Poll::Pending
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let fed = this.framing.feed(data);
                    if let Err(err) = fed.and_then(|()| this.hold(data.len() as u64)) {
                        return Poll::Ready(Some(Err(Status::from(err))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => match this.framing.finish() {
                Ok(()) => Poll::Ready(None),
                Err(err) => Poll::Ready(Some(Err(Status::from(err)))),
            },
            errored @ Poll::Ready(Some(Err(_))) => errored,
        }
    }

    fn is_end_stream(&self) -> bool {
        // The end is where the framing is judged: never skipped.
        false
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The gRPC length-prefixed message framing of a request body, read as it passes.
#[derive(Debug)]
struct Framing {
    /// A unary call: exactly one message.
    unary: bool,
    /// The request names a `grpc-encoding`: compressed messages may come.
    compressed_allowed: bool,
    /// The prefix of the message being read, and how much of it has come.
    prefix: [u8; 5],
    prefix_len: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
    /// Messages begun.
    messages: u32,
    /// The largest message accepted.
    max_message_bytes: u64,
}

impl Framing {
    fn new(unary: bool, compressed_allowed: bool, max_message_bytes: u64) -> Self {
        Self {
            max_message_bytes,
            unary,
            compressed_allowed,
            prefix: [0; 5],
            prefix_len: 0,
            remaining: 0,
            messages: 0,
        }
    }

    /// Reads the next bytes of the body.
    fn feed(&mut self, mut data: &[u8]) -> Result<(), ServiceError> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.remaining -= take as u64;
                data = &data[take..];
                continue;
            }
            let take = (5 - self.prefix_len).min(data.len());
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&data[..take]);
            self.prefix_len += take;
            data = &data[take..];
            if self.prefix_len == 5 {
                self.prefix_len = 0;
                self.begin_message()?;
            }
        }
        Ok(())
    }

    /// A complete prefix was read.
    fn begin_message(&mut self) -> Result<(), ServiceError> {
        let [flag, length @ ..] = self.prefix;
        match flag {
            0 => {}
            1 if self.compressed_allowed => {}
            1 => {
                return Err(malformed(
                    "a message is marked compressed, but the request names no grpc-encoding",
                ));
            }
            other => {
                return Err(malformed(format!(
                    "a message's compressed-flag byte is {other}; gRPC allows only 0 or 1"
                )));
            }
        }
        let size = u64::from(u32::from_be_bytes(length));
        if size > self.max_message_bytes {
            return Err(ServiceError::MessageTooLarge {
                size,
                limit: self.max_message_bytes,
            });
        }
        self.messages += 1;
        if self.unary && self.messages > 1 {
            return Err(malformed(
                "the request body holds more than one message; this method takes one",
            ));
        }
        self.remaining = size;
        Ok(())
    }

    /// The body ended.
    fn finish(&self) -> Result<(), ServiceError> {
        if self.prefix_len > 0 {
            return Err(malformed(format!(
                "the request body ends inside a message's 5-byte length prefix ({} bytes of it came)",
                self.prefix_len
            )));
        }
        if self.remaining > 0 {
            return Err(malformed(format!(
                "the request body ends {} bytes short of the message its length prefix announced",
                self.remaining
            )));
        }
        if self.unary && self.messages == 0 {
            return Err(malformed(
                "the request body holds no message; this method takes one",
            ));
        }
        Ok(())
    }
}

fn malformed(description: impl Into<String>) -> ServiceError {
    ServiceError::InvalidArgument(vec![FieldViolation {
        field: String::new(),
        description: description.into(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    fn judge(unary: bool, compressed: bool, chunks: &[&[u8]]) -> Result<(), ServiceError> {
        let mut framing = Framing::new(unary, compressed, 4 * 1024 * 1024);
        for chunk in chunks {
            framing.feed(chunk)?;
        }
        framing.finish()
    }

    #[test]
    fn well_framed_bodies_pass_in_any_chunking() {
        let one = message(0, b"hello");
        for split in 0..=one.len() {
            let (a, b) = one.split_at(split);
            assert!(judge(true, false, &[a, b]).is_ok(), "split at {split}");
        }
        assert!(
            judge(true, false, &[&message(0, b"")]).is_ok(),
            "an empty message"
        );
        let two = [message(0, b"a"), message(0, b"bc")].concat();
        assert!(judge(false, false, &[&two]).is_ok(), "a stream of two");
        assert!(judge(false, false, &[]).is_ok(), "a stream of none");
        assert!(
            judge(true, true, &[&message(1, b"zz")]).is_ok(),
            "compressed, named"
        );
    }

    #[test]
    fn every_framing_fault_is_invalid_argument_and_size_out_of_range() {
        let whole = message(0, b"hello");
        let code = |result: Result<(), ServiceError>| match result {
            Err(ServiceError::InvalidArgument(_)) => "invalid",
            Err(ServiceError::MessageTooLarge { .. }) => "too large",
            Err(_) => "other",
            Ok(()) => "ok",
        };
        assert_eq!(code(judge(true, false, &[])), "invalid", "no message");
        assert_eq!(code(judge(true, false, &[&whole[..3]])), "invalid");
        assert_eq!(code(judge(true, false, &[&whole[..7]])), "invalid");
        assert_eq!(code(judge(true, false, &[&message(2, b"x")])), "invalid");
        assert_eq!(code(judge(true, false, &[&message(0xff, b"x")])), "invalid");
        assert_eq!(code(judge(true, false, &[&message(1, b"x")])), "invalid");
        assert_eq!(
            code(judge(
                true,
                false,
                &[&[whole.clone(), whole.clone()].concat()]
            )),
            "invalid"
        );
        let mut huge = vec![0_u8];
        huge.extend_from_slice(&(5_u32 * 1024 * 1024).to_be_bytes());
        assert_eq!(code(judge(true, false, &[&huge])), "too large");
    }
}
