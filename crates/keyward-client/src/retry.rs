//! Retrying calls that failed with UNAVAILABLE, and nothing else.
//!
//! UNAVAILABLE means the server (or its database) could not answer now; any
//! other code is an answer, and retrying it would only repeat it. Attempts are
//! bounded and spaced by a doubling backoff.

use std::future::Future;
use std::time::Duration;

use crate::ClientError;

/// How many times a failed call is tried again, and how long to wait first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub retries: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Two retries (three attempts), 100 ms then 200 ms apart.
    fn default() -> Self {
        Self {
            retries: 2,
            initial_backoff: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails with anything but UNAVAILABLE, or
    /// the retries are spent.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut backoff = self.initial_backoff;
        let mut retries_left = self.retries;
        loop {
            match call().await {
                Err(err) if err.is_retryable() && retries_left > 0 => {
                    retries_left -= 1;
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use tonic::Status;

    use super::RetryPolicy;
    use crate::ClientError;

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            initial_backoff: Duration::from_millis(1),
        }
    }

    /// Fails with `status` `failures` times, then answers 42.
    async fn flaky(
        calls: &AtomicU32,
        failures: u32,
        status: fn() -> Status,
    ) -> Result<u32, ClientError> {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n < failures {
            Err(status().into())
        } else {
            Ok(42)
        }
    }

    #[tokio::test]
    async fn unavailable_twice_then_success_succeeds_on_the_third_attempt() {
        let calls = AtomicU32::new(0);
        let answer = policy(2)
            .run(|| flaky(&calls, 2, || Status::unavailable("db down")))
            .await
            .expect("the third attempt succeeds");
        assert_eq!(answer, 42);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let calls = AtomicU32::new(0);
        let err = policy(2)
            .run(|| flaky(&calls, 10, || Status::unavailable("db down")))
            .await
            .expect_err("still unavailable");
        assert_eq!(err.code(), Some(tonic::Code::Unavailable));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn zero_retries_tries_once() {
        let calls = AtomicU32::new(0);
        let _ = policy(0)
            .run(|| flaky(&calls, 10, || Status::unavailable("db down")))
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        for status in [
            (|| Status::aborted("etag")) as fn() -> Status,
            || Status::not_found("x"),
            || Status::internal("x"),
            || Status::deadline_exceeded("x"),
        ] {
            let calls = AtomicU32::new(0);
            let _ = policy(5).run(|| flaky(&calls, 10, status)).await;
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
    }
}
