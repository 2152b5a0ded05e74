//! Retries with exponential back-off, honouring `Retry-After`.

use std::cell::Cell;
use std::time::Duration;

use backon::{BlockingRetryable, ExponentialBuilder};

use crate::{ApiError, LlmConfig};

/// When and how long to retry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First delay.
    pub min_delay: Duration,
    /// Longest delay, and longest `Retry-After` honoured.
    pub max_delay: Duration,
    /// Randomised delays.
    pub jitter: bool,
}

impl RetryPolicy {
    pub fn from_config(cfg: &LlmConfig) -> RetryPolicy {
        RetryPolicy {
            max_retries: cfg.max_retries,
            min_delay: Duration::from_millis(cfg.retry.min_delay_ms),
            max_delay: Duration::from_secs(cfg.retry.max_delay_secs)
                .max(Duration::from_millis(cfg.retry.min_delay_ms)),
            jitter: cfg.retry.jitter,
        }
    }

    /// Runs `op`, retrying retryable errors. The wait before a retry is the back-off delay
    /// or the server's `Retry-After`, whichever is longer; an error whose `Retry-After` is
    /// longer than `max_delay` is returned at once. `allow` narrows what may be retried
    /// (creating a batch is not retried after a timeout: it may have been created).
    pub fn run<T>(
        &self,
        mut op: impl FnMut() -> Result<T, ApiError>,
        allow: impl Fn(&ApiError) -> bool,
    ) -> Result<T, ApiError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries);
        if self.jitter {
            backoff = backoff.with_jitter();
        }
        let max_delay = self.max_delay;
        let extra = Cell::new(Duration::ZERO);
        (|| {
            // The extra wait a Retry-After asked for, beyond the back-off delay (which the
            // sleeper has just slept).
            let wait = extra.take();
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            op()
        })
        .retry(backoff)
        .when(|e: &ApiError| {
            e.is_retryable() && allow(e) && e.retry_after().is_none_or(|d| d <= max_delay)
        })
        .notify(|e: &ApiError, delay: Duration| {
            if let Some(after) = e.retry_after() {
                extra.set(after.saturating_sub(delay));
            }
        })
        .call()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn policy(n: usize) -> RetryPolicy {
        RetryPolicy {
            max_retries: n,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
            jitter: false,
        }
    }

    #[test]
    fn retries_retryable_errors_only() {
        let mut calls = 0;
        let r: Result<(), ApiError> = policy(3).run(
            || {
                calls += 1;
                Err(ApiError::Server {
                    status: 500,
                    message: String::new(),
                })
            },
            |_| true,
        );
        assert!(r.is_err());
        assert_eq!(calls, 4);
        let mut calls = 0;
        let r: Result<(), ApiError> = policy(3).run(
            || {
                calls += 1;
                Err(ApiError::BadRequest {
                    status: 400,
                    message: String::new(),
                })
            },
            |_| true,
        );
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn honours_retry_after() {
        let mut calls = 0;
        let start = Instant::now();
        let r = policy(3).run(
            || {
                calls += 1;
                if calls == 1 {
                    Err(ApiError::RateLimited {
                        retry_after: Some(Duration::from_millis(300)),
                        message: String::new(),
                    })
                } else {
                    Ok(calls)
                }
            },
            |_| true,
        );
        assert_eq!(r, Ok(2));
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn does_not_wait_hours() {
        let mut calls = 0;
        let r: Result<(), ApiError> = policy(3).run(
            || {
                calls += 1;
                Err(ApiError::RateLimited {
                    retry_after: Some(Duration::from_secs(3600)),
                    message: String::new(),
                })
            },
            |_| true,
        );
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
