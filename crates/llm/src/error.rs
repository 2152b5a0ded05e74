//! Errors. API errors are split into retryable kinds and fatal ones, so the retry policy
//! matches on kinds, never on strings.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An error talking to the API, or with what it answered.
///
/// Messages carry what the server said (its `error.message`), with the API key redacted
/// wherever a server echoed it; no variant ever holds the key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// HTTP 429. Retryable; waits at least `retry_after` when the server said so.
    #[error("rate limited (HTTP 429){}: {message}", after(retry_after))]
    RateLimited {
        /// From `Retry-After` (seconds or an HTTP date) or `retry-after-ms`.
        retry_after: Option<Duration>,
        /// What the server said.
        message: String,
    },
    /// No complete answer within the timeout. Retryable.
    #[error("no answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    /// HTTP 5xx (or 408). Retryable.
    #[error("server error (HTTP {status}): {message}")]
    Server {
        /// The status.
        status: u16,
        /// What the server said.
        message: String,
    },
    /// The connection failed or dropped. Retryable.
    #[error("connection failed: {message}")]
    Connection {
        /// What went wrong.
        message: String,
    },
    /// HTTP 200 whose body is not the expected JSON (a proxy's error page, a cut-off
    /// body). Retryable.
    #[error("malformed response: {message}")]
    Malformed {
        /// What was wrong.
        message: String,
    },
    /// HTTP 401/403. Fatal: every other call would fail the same way.
    #[error(
        "authentication failed (HTTP {status}): {message} (the key is read from the environment variable {key_env})"
    )]
    Auth {
        /// The status.
        status: u16,
        /// What the server said (key redacted).
        message: String,
        /// The environment variable the key comes from (its name, never its value).
        key_env: String,
    },
    /// HTTP 404: a wrong base URL, model or Azure deployment. Fatal.
    #[error("not found (HTTP 404): {message}; check base_url, model and azure_deployment")]
    NotFound {
        /// What the server said.
        message: String,
    },
    /// Any other 4xx (a request the server refuses, an exhausted quota). Fatal for the call.
    #[error("request rejected (HTTP {status}): {message}")]
    BadRequest {
        /// The status.
        status: u16,
        /// What the server said.
        message: String,
    },
    /// The reply's content does not match the schema, even after one retry. Fatal for the
    /// pairs concerned.
    #[error("reply does not match the schema: {message}")]
    SchemaViolation {
        /// The problems, one per pair.
        message: String,
    },
    /// A token or cost budget would be exceeded. Fatal for the rest of the run.
    #[error("budget exhausted: {limit}")]
    BudgetExhausted {
        /// Which limit.
        limit: String,
    },
}

fn after(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry after {} s", d.as_secs_f32()),
        None => String::new(),
    }
}

impl ApiError {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. }
                | ApiError::Timeout(_)
                | ApiError::Server { .. }
                | ApiError::Connection { .. }
                | ApiError::Malformed { .. }
        )
    }

    /// Whether every other call would fail the same way, so a run should stop.
    pub fn stops_run(&self) -> bool {
        matches!(
            self,
            ApiError::Auth { .. } | ApiError::NotFound { .. } | ApiError::BudgetExhausted { .. }
        )
    }

    /// The server's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The crate's error: configuration, templates, files, or the API.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The `[llm]` configuration cannot work.
    #[error("invalid [llm] configuration: {0}")]
    Config(String),
    /// A prompt template does not parse or render.
    #[error("prompt template {name}: {message}")]
    Template {
        /// The template's name (`system.txt`, or the override file's path).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Arc<io::Error>,
    },
    /// The batch state folder holds something unreadable.
    #[error("batch state {}: {message}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
    /// The API failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl LlmError {
    pub(crate) fn io(path: impl Into<PathBuf>, e: io::Error) -> LlmError {
        LlmError::Io {
            path: path.into(),
            source: Arc::new(e),
        }
    }
}

/// Replaces every occurrence of `secret` in `text` (no-op for an empty secret).
pub(crate) fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => text.replace(s, "[redacted]"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(
            ApiError::RateLimited {
                retry_after: None,
                message: String::new()
            }
            .is_retryable()
        );
        assert!(ApiError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(
            !ApiError::Auth {
                status: 401,
                message: String::new(),
                key_env: "K".into()
            }
            .is_retryable()
        );
        assert!(
            ApiError::Auth {
                status: 401,
                message: String::new(),
                key_env: "K".into()
            }
            .stops_run()
        );
        assert!(
            !ApiError::BadRequest {
                status: 400,
                message: String::new()
            }
            .stops_run()
        );
    }

    #[test]
    fn messages() {
        let e = ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
            message: "slow down".into(),
        };
        assert_eq!(
            e.to_string(),
            "rate limited (HTTP 429), retry after 2 s: slow down"
        );
        assert_eq!(redact("key sk-1 here", Some("sk-1")), "key [redacted] here");
        assert_eq!(redact("x", Some("")), "x");
    }
}
