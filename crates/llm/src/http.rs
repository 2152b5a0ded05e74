//! The blocking `ureq` client for OpenAI, Azure OpenAI and OpenAI-compatible local servers.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{BatchObject, ChatApi, ChatRequest, ChatResponse, CreateBatch, FileObject};
use crate::error::redact;
use crate::{ApiError, LlmConfig, LlmError};

/// Largest response body read for chat and batch calls.
const JSON_LIMIT: u64 = 64 * 1024 * 1024;
/// Largest batch output file read.
const FILE_LIMIT: u64 = 1024 * 1024 * 1024;

/// The API key. Never printed: `Debug` shows only whether there is one.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone, Debug)]
struct Azure {
    deployment: String,
    api_version: String,
}

/// A blocking HTTP client for any OpenAI-compatible endpoint.
///
/// - OpenAI, vLLM, llama.cpp, Ollama: `{base_url}/chat/completions` with
///   `Authorization: Bearer KEY` (no header when there is no key).
/// - Azure OpenAI (`azure_deployment` set):
///   `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=V` with an
///   `api-key: KEY` header; files and batches under `{base_url}/openai/...`.
///
/// The key is read once from the environment variable the configuration names. It is kept
/// in a field whose `Debug` shows `<redacted>`, and every message taken from a server's
/// answer has the key replaced by `[redacted]` (some servers echo it back).
#[derive(Clone)]
pub struct HttpApi {
    agent: ureq::Agent,
    base: String,
    azure: Option<Azure>,
    key: Option<Secret>,
    key_env: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

impl fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpApi")
            .field("base", &self.base)
            .field("azure", &self.azure)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_env", &self.key_env)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpApi {
    /// A client for `cfg`, with the key from the environment variable `cfg.api_key_env`
    /// (no key when it is unset or empty).
    ///
    /// # Errors
    /// [`LlmError::Config`] when the configuration is invalid.
    pub fn from_config(cfg: &LlmConfig) -> Result<HttpApi, LlmError> {
        let key = std::env::var(&cfg.api_key_env).ok();
        HttpApi::with_key(cfg, key)
    }

    /// A client with an explicit key (tests, embedders with their own secret store).
    ///
    /// # Errors
    /// [`LlmError::Config`] when the configuration is invalid.
    pub fn with_key(cfg: &LlmConfig, key: Option<String>) -> Result<HttpApi, LlmError> {
        cfg.validate()?;
        let timeout = Duration::from_secs(cfg.timeout_secs);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("taxonomist/", env!("CARGO_PKG_VERSION")))
            .build();
        let azure = match (&cfg.azure_deployment, &cfg.azure_api_version) {
            (Some(d), Some(v)) => Some(Azure {
                deployment: d.clone(),
                api_version: v.clone(),
            }),
            _ => None,
        };
        Ok(HttpApi {
            agent: ureq::Agent::new_with_config(config),
            base: cfg.base_url.trim_end_matches('/').to_string(),
            azure,
            key: key.filter(|k| !k.is_empty()).map(Secret),
            key_env: cfg.api_key_env.clone(),
            headers: cfg
                .headers
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout,
        })
    }

    /// The URL of an endpoint (`chat/completions`, `files`, `batches/ID`, ...).
    fn url(&self, endpoint: &str, query: &[(&str, String)]) -> String {
        let mut url = match (&self.azure, endpoint) {
            (Some(a), "chat/completions") => format!(
                "{}/openai/deployments/{}/{endpoint}",
                self.base,
                urlencode(&a.deployment)
            ),
            (Some(_), _) => format!("{}/openai/{endpoint}", self.base),
            (None, _) => format!("{}/{endpoint}", self.base),
        };
        let mut q: Vec<(&str, String)> = query.to_vec();
        if let Some(a) = &self.azure {
            q.push(("api-version", a.api_version.clone()));
        }
        for (i, (k, v)) in q.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&urlencode(v));
        }
        url
    }

    fn secret(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.0.as_str())
    }

    fn clean(&self, text: &str) -> String {
        redact(text, self.secret())
    }

    fn auth<B>(&self, mut req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if let Some(k) = &self.key {
            req = match self.azure {
                Some(_) => req.header("api-key", &k.0),
                None => req.header("Authorization", &format!("Bearer {}", k.0)),
            };
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        req
    }

    fn transport(&self, e: ureq::Error) -> ApiError {
        match e {
            ureq::Error::Timeout(_) => ApiError::Timeout(self.timeout),
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                ApiError::Timeout(self.timeout)
            }
            other => ApiError::Connection {
                message: self.clean(&other.to_string()),
            },
        }
    }

    /// Sends and reads the body; non-2xx statuses become classified errors.
    fn exchange(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        limit: u64,
    ) -> Result<Vec<u8>, ApiError> {
        let mut resp = result.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.transport(e))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let message = self.clean(&server_message(&body));
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Err(match status {
            429 if is_quota(&body) => ApiError::BadRequest { status, message },
            429 => ApiError::RateLimited {
                retry_after: retry_after(
                    header("retry-after-ms"),
                    header("retry-after"),
                    SystemTime::now(),
                ),
                message,
            },
            401 | 403 => ApiError::Auth {
                status,
                message,
                key_env: self.key_env.clone(),
            },
            404 => ApiError::NotFound { message },
            408 | 500..=599 => ApiError::Server { status, message },
            _ => ApiError::BadRequest {
                status,
                message: hint(message),
            },
        })
    }

    fn json<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed {
            message: self.clean(&format!("{e} in {}", snippet(bytes))),
        })
    }

    fn post_json<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::BadRequest {
            status: 0,
            message: e.to_string(),
        })?;
        let req = self
            .auth(self.agent.post(&self.url(endpoint, &[])))
            .header("Content-Type", "application/json");
        let out = self.exchange(req.send(&bytes[..]), JSON_LIMIT)?;
        self.json(&out)
    }

    fn get_bytes(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        limit: u64,
    ) -> Result<Vec<u8>, ApiError> {
        let req = self.auth(self.agent.get(&self.url(endpoint, query)));
        self.exchange(req.call(), limit)
    }
}

impl ChatApi for HttpApi {
    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ApiError> {
        self.post_json("chat/completions", req)
    }

    fn upload_file(
        &self,
        filename: &str,
        purpose: &str,
        bytes: &[u8],
    ) -> Result<FileObject, ApiError> {
        // The boundary is derived from the content, so the content cannot contain it.
        let boundary = format!("taxonomist-{}", &blake3::hash(bytes).to_hex()[..32]);
        let mut body = Vec::with_capacity(bytes.len() + 512);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
                 Content-Type: application/jsonl\r\n\r\n",
                filename.replace(['"', '\r', '\n'], "_")
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self.auth(self.agent.post(&self.url("files", &[]))).header(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        );
        let out = self.exchange(req.send(&body[..]), JSON_LIMIT)?;
        self.json(&out)
    }

    fn create_batch(&self, req: &CreateBatch) -> Result<BatchObject, ApiError> {
        self.post_json("batches", req)
    }

    fn get_batch(&self, id: &str) -> Result<BatchObject, ApiError> {
        let out = self.get_bytes(&format!("batches/{}", urlencode(id)), &[], JSON_LIMIT)?;
        self.json(&out)
    }

    fn list_batches(&self, limit: usize) -> Result<Vec<BatchObject>, ApiError> {
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            data: Vec<BatchObject>,
        }
        let out = self.get_bytes("batches", &[("limit", limit.to_string())], JSON_LIMIT)?;
        Ok(self.json::<List>(&out)?.data)
    }

    fn file_content(&self, id: &str) -> Result<Vec<u8>, ApiError> {
        self.get_bytes(&format!("files/{}/content", urlencode(id)), &[], FILE_LIMIT)
    }
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first 200 characters of a body, for messages.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let t: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        format!("{t:?}…")
    } else {
        format!("{t:?}")
    }
}

/// `error.message` of an OpenAI-style error body, or a snippet of the body.
fn server_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| snippet(body))
}

/// A 429 that waiting will not fix.
fn is_quota(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(Value::as_str)
                .map(|c| c == "insufficient_quota")
        })
        .unwrap_or(false)
}

/// Adds a hint to rejections that usually mean the server lacks structured outputs.
fn hint(message: String) -> String {
    if message.contains("response_format") || message.contains("json_schema") {
        format!(
            "{message} (if the server does not support structured outputs, set structured_output = \"prompt\")"
        )
    } else {
        message
    }
}

/// `retry-after-ms`, else `Retry-After` as seconds or an HTTP date (relative to `now`).
pub(crate) fn retry_after(
    ms: Option<&str>,
    value: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = ms.and_then(|m| m.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = value?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(
            retry_after(None, Some("3"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(Some("1500"), Some("3"), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(None, Some("Sun, 06 Nov 1994 08:49:37 GMT"), now),
            Some(Duration::from_secs(7))
        );
        // A date in the past means "now".
        assert_eq!(
            retry_after(None, Some("Sun, 06 Nov 1994 08:49:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(None, Some("soon"), now), None);
        assert_eq!(retry_after(None, None, now), None);
    }

    #[test]
    fn urls() {
        let cfg = LlmConfig {
            base_url: "http://localhost:8080/v1/".into(),
            ..LlmConfig::default()
        };
        let api = HttpApi::with_key(&cfg, None).expect("valid");
        assert_eq!(
            api.url("chat/completions", &[]),
            "http://localhost:8080/v1/chat/completions"
        );
        let cfg = LlmConfig {
            base_url: "https://res.openai.azure.com".into(),
            azure_deployment: Some("gpt 4o".into()),
            azure_api_version: Some("2024-10-21".into()),
            ..LlmConfig::default()
        };
        let api = HttpApi::with_key(&cfg, Some("k".into())).expect("valid");
        assert_eq!(
            api.url("chat/completions", &[]),
            "https://res.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            api.url("batches", &[("limit", "5".into())]),
            "https://res.openai.azure.com/openai/batches?limit=5&api-version=2024-10-21"
        );
        assert!(!format!("{api:?}").contains("\"k\""));
    }

    #[test]
    fn server_messages() {
        assert_eq!(server_message(br#"{"error": {"message": "nope"}}"#), "nope");
        assert_eq!(server_message(b"<html>"), "\"<html>\"");
        assert!(is_quota(br#"{"error": {"code": "insufficient_quota"}}"#));
    }
}
