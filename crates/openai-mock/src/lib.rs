//! An OpenAI-compatible HTTP server on loopback for tests: it scores deterministically from
//! the prompt, records every request and injects faults on demand.
//!
//! # Brief overview
//! - [`MockServer`]: a real HTTP/1.1 server on `127.0.0.1` (an ephemeral port by default),
//!   one thread per connection. It serves `POST /v1/chat/completions` (and the Azure path
//!   `/openai/deployments/{d}/chat/completions?api-version=…`), `POST /v1/files`
//!   (multipart), `GET /v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches` and
//!   `GET /v1/batches/{id}` (the Azure `/openai/...` forms too). Every endpoint checks the
//!   key (`Authorization: Bearer K` or `api-key: K`) and answers 401 otherwise; the 401 body
//!   echoes the key it was given, as some real servers do, so a client's redaction is
//!   tested.
//! - The mock model ([`model`]) reads the page block and the term blocks out of the prompt
//!   and scores from word overlap, so results depend on the page's topical words only.
//! - [`Fault`] and [`Rule`]: HTTP faults (429 with `Retry-After`, 5xx, a hang, a malformed
//!   body, 401, 400) and reply faults (schema violations, a wrong or missing key, a cut-off
//!   reply), for the next request ([`MockServer::fail_next`]) or for every request whose
//!   prompt contains some text ([`MockServer::add_rule`]).
//! - [`BatchScenario`]: how the next created batch behaves over successive polls
//!   (completes, expires half-done with an error file, fails, is cancelled).
//! - [`MockServer::requests`]: every request received, for assertions such as "a re-run
//!   sends zero requests".
//!
//! ```
//! let mock = openai_mock::MockServer::start("sk-test").expect("binds");
//! assert!(mock.base_url().starts_with("http://127.0.0.1:"));
//! assert!(mock.requests().is_empty());
//! ```
#![deny(missing_docs)]

mod batch;
mod http;
pub mod model;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

pub use batch::BatchScenario;
use batch::MockBatch;
use http::{Request, Response};

/// A fault to inject.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// HTTP 429 with a `Retry-After` header (seconds), or none when `None`.
    RateLimit {
        /// Seconds to wait, as the header says.
        retry_after: Option<u64>,
    },
    /// HTTP 429 with `Retry-After` as an HTTP date this many seconds ahead.
    RateLimitDate {
        /// Seconds ahead of now.
        seconds: u64,
    },
    /// An HTTP 5xx status.
    ServerError(u16),
    /// Waits this long before answering (past a client's timeout).
    Hang(Duration),
    /// HTTP 200 whose body is not JSON.
    MalformedBody,
    /// HTTP 401.
    Unauthorized,
    /// HTTP 400.
    BadRequest,
    /// The reply is prose, not JSON.
    MalformedContent,
    /// The first term's `depth` is 42.
    DimensionOutOfRange,
    /// The first term lacks `depth` and `reason`.
    MissingFields,
    /// The first term's key is `t99`.
    WrongKey,
    /// The last term is missing from the reply.
    MissingKey,
    /// The reply is cut in half with `finish_reason: "length"`.
    Truncated,
    /// The model refuses (`content: null`, `refusal` set).
    Refusal,
}

impl Fault {
    /// Whether the fault is at the HTTP level (the request never reaches the model).
    fn is_http(&self) -> bool {
        matches!(
            self,
            Fault::RateLimit { .. }
                | Fault::RateLimitDate { .. }
                | Fault::ServerError(_)
                | Fault::Hang(_)
                | Fault::MalformedBody
                | Fault::Unauthorized
                | Fault::BadRequest
        )
    }
}

/// When a [`Rule`] applies.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// To every chat request (and batch line).
    Always,
    /// To requests whose messages contain this text.
    PromptContains(String),
}

/// A standing fault: applies to every matching chat request (live or batch line), at most
/// `times` times when set.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Which requests.
    pub when: When,
    /// What goes wrong.
    pub fault: Fault,
    /// How many times, `None` for always.
    pub times: Option<usize>,
}

/// How a request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer` with the right key.
    Bearer,
    /// `api-key` header with the right key (Azure).
    ApiKey,
    /// No key, or a wrong one.
    Rejected,
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// How it authenticated.
    pub auth: Auth,
    /// Extra headers other than auth, lowercase names (for custom-header assertions).
    pub headers: BTreeMap<String, String>,
    /// The body as text (lossy).
    pub body: String,
    /// Whether this was a chat completion.
    pub is_chat: bool,
}

impl Recorded {
    /// The body parsed as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    next_faults: VecDeque<Fault>,
    rules: Vec<Rule>,
    requests: Vec<Recorded>,
    files: BTreeMap<String, (String, Vec<u8>)>,
    batches: BTreeMap<String, MockBatch>,
    scenarios: VecDeque<BatchScenario>,
    counter: u64,
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:06}", self.counter)
    }

    /// The rule fault for a prompt, consuming one use.
    fn rule_fault(&mut self, prompt: &str) -> Option<Fault> {
        for rule in &mut self.rules {
            if rule.times == Some(0) {
                continue;
            }
            let hit = match &rule.when {
                When::Always => true,
                When::PromptContains(s) => prompt.contains(s.as_str()),
            };
            if hit {
                if let Some(t) = rule.times.as_mut() {
                    *t -= 1;
                }
                return Some(rule.fault.clone());
            }
        }
        None
    }
}

struct Shared {
    key: String,
    state: Mutex<State>,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in one connection thread must not take the whole mock down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running server. Stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockServer {
    /// Starts on an ephemeral loopback port, accepting `key`.
    pub fn start(key: &str) -> io::Result<MockServer> {
        MockServer::start_on(key, 0)
    }

    /// Starts on a given loopback port (0 for an ephemeral one).
    pub fn start_on(key: &str, port: u16) -> io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            key: key.to_string(),
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("openai-mock".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let s2 = s.clone();
                    let _ = std::thread::Builder::new()
                        .name("openai-mock-conn".into())
                        .spawn(move || handle(stream, &s2));
                }
            })?;
        Ok(MockServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL an OpenAI client wants.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Injects `fault` into the next chat request (queued: call several times for several
    /// requests).
    pub fn fail_next(&self, fault: Fault) {
        self.shared.lock().next_faults.push_back(fault);
    }

    /// Adds a standing rule.
    pub fn add_rule(&self, rule: Rule) {
        self.shared.lock().rules.push(rule);
    }

    /// Removes every queued fault and rule.
    pub fn clear_faults(&self) {
        let mut st = self.shared.lock();
        st.next_faults.clear();
        st.rules.clear();
    }

    /// How the next created batch behaves (queued; the default is
    /// [`BatchScenario::Complete`]).
    pub fn next_batch(&self, scenario: BatchScenario) {
        self.shared.lock().scenarios.push_back(scenario);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The chat completion requests received so far.
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.is_chat).collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How many batches were created.
    pub fn batch_count(&self) -> usize {
        self.shared.lock().batches.len()
    }

    /// Blocks the calling thread until the process ends (for the binary).
    pub fn wait(mut self) {
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn handle(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(req) = http::read_request(&mut stream) else {
        return;
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let resp = route(&req, shared);
    let _ = http::write_response(&mut stream, &resp);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn authenticate(req: &Request, key: &str) -> (Auth, Option<String>) {
    if let Some(v) = req.header("authorization") {
        let given = v.strip_prefix("Bearer ").unwrap_or(v).to_string();
        if given == key {
            return (Auth::Bearer, None);
        }
        return (Auth::Rejected, Some(given));
    }
    if let Some(v) = req.header("api-key") {
        if v == key {
            return (Auth::ApiKey, None);
        }
        return (Auth::Rejected, Some(v.to_string()));
    }
    (Auth::Rejected, None)
}

/// The route of a path: `/v1/x` and Azure `/openai/x` are the same; the Azure chat path
/// names its deployment.
fn normalise(path: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix("/v1/") {
        return Some(rest.to_string());
    }
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        let (_deployment, tail) = rest.split_once('/')?;
        return Some(tail.to_string());
    }
    path.strip_prefix("/openai/").map(str::to_string)
}

fn route(req: &Request, shared: &Shared) -> Response {
    let (auth, given) = authenticate(req, &shared.key);
    let route = normalise(&req.path);
    let is_chat = route.as_deref() == Some("chat/completions");
    {
        let headers = req
            .headers
            .iter()
            .filter(|(k, _)| k != "authorization" && k != "api-key")
            .cloned()
            .collect();
        shared.lock().requests.push(Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            auth,
            headers,
            body: String::from_utf8_lossy(&req.body).into_owned(),
            is_chat,
        });
    }
    if auth == Auth::Rejected {
        let msg = match given {
            Some(k) => format!(
                "Incorrect API key provided: {k}. You can find your API key in your account settings."
            ),
            None => "You didn't provide an API key.".to_string(),
        };
        return Response::error(401, &msg, "invalid_api_key");
    }
    if req.path.starts_with("/openai/") && req.query_param("api-version").is_none() {
        return Response::error(404, "Resource not found (api-version missing)", "404");
    }
    let Some(route) = route else {
        return Response::error(404, "not found", "not_found");
    };
    let parts: Vec<&str> = route.split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["chat", "completions"]) => chat(req, shared),
        ("POST", ["files"]) => upload(req, shared),
        ("GET", ["files", id, "content"]) => file_content(id, shared),
        ("POST", ["batches"]) => batch::create(req, shared),
        ("GET", ["batches"]) => batch::list(req, shared),
        ("GET", ["batches", id]) => batch::get(id, shared),
        _ => Response::error(404, "not found", "not_found"),
    }
}

/// The text of every message, joined (what rules match against).
fn prompt_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m.get("content").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// An HTTP-level fault's response (`None` for a hang that the caller handles).
fn http_fault(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::RateLimit { retry_after } => {
            let r = Response::error(
                429,
                "Rate limit reached. Please try again later.",
                "rate_limit_exceeded",
            );
            Some(match retry_after {
                Some(s) => r.with_header("retry-after", &s.to_string()),
                None => r,
            })
        }
        Fault::RateLimitDate { seconds } => {
            let at = SystemTime::now() + Duration::from_secs(*seconds);
            Some(
                Response::error(429, "Rate limit reached.", "rate_limit_exceeded")
                    .with_header("retry-after", &batch::http_date(at)),
            )
        }
        Fault::ServerError(code) => Some(Response::error(
            *code,
            "The server had an error.",
            "server_error",
        )),
        Fault::MalformedBody => Some(Response::raw(
            200,
            "application/json",
            b"{\"id\": \"chatcmpl-1\", \"choices\": [".to_vec(),
        )),
        Fault::Unauthorized => Some(Response::error(
            401,
            "Invalid authentication.",
            "invalid_api_key",
        )),
        Fault::BadRequest => Some(Response::error(
            400,
            "Invalid request: something is wrong.",
            "invalid_request_error",
        )),
        _ => None,
    }
}

fn chat(req: &Request, shared: &Shared) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return Response::error(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_json",
        );
    };
    if body.get("model").and_then(Value::as_str).is_none() {
        return Response::error(400, "you must provide a model parameter", "missing_model");
    }
    let prompt = prompt_text(&body);
    let fault = {
        let mut st = shared.lock();
        match st.next_faults.pop_front() {
            Some(f) => Some(f),
            None => st.rule_fault(&prompt),
        }
    };
    if let Some(Fault::Hang(d)) = &fault {
        // The client has given up by now; answer anyway in case it has not.
        std::thread::sleep(*d);
    }
    if let Some(resp) = fault.as_ref().and_then(http_fault) {
        return resp;
    }
    let reply_fault = fault.as_ref().filter(|f| !f.is_http());
    let id = shared.lock().next_id("chatcmpl");
    Response::json(200, &chat_body(&body, reply_fault, id))
}

/// A chat completion response body for a request body.
fn chat_body(body: &Value, fault: Option<&Fault>, id: String) -> Value {
    let c = model::complete(body, fault);
    let prompt_tokens = model::approx_tokens(&prompt_text(body)) + 7;
    let completion_tokens = c
        .content
        .as_deref()
        .or(c.refusal.as_deref())
        .map(model::approx_tokens)
        .unwrap_or(0);
    json!({
        "id": id,
        "object": "chat.completion",
        "created": unix_now(),
        "model": body.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": c.content, "refusal": c.refusal},
            "finish_reason": c.finish_reason,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })
}

fn upload(req: &Request, shared: &Shared) -> Response {
    let ct = req.header("content-type").unwrap_or("");
    let Some(parts) = http::multipart(ct, &req.body) else {
        return Response::error(400, "expected multipart/form-data", "invalid_multipart");
    };
    let purpose = parts
        .iter()
        .find(|(n, _, _)| n == "purpose")
        .map(|(_, _, c)| String::from_utf8_lossy(c).into_owned());
    let Some((_, filename, content)) = parts.iter().find(|(n, _, _)| n == "file") else {
        return Response::error(400, "missing file", "missing_file");
    };
    let Some(purpose) = purpose else {
        return Response::error(400, "missing purpose", "missing_purpose");
    };
    let filename = filename.clone().unwrap_or_else(|| "upload".into());
    let mut st = shared.lock();
    let id = st.next_id("file");
    let bytes = content.len();
    st.files
        .insert(id.clone(), (filename.clone(), content.clone()));
    Response::json(
        200,
        &json!({"id": id, "object": "file", "bytes": bytes, "created_at": unix_now(), "filename": filename, "purpose": purpose}),
    )
}

fn file_content(id: &str, shared: &Shared) -> Response {
    match shared.lock().files.get(id) {
        Some((_, bytes)) => Response::raw(200, "application/octet-stream", bytes.clone()),
        None => Response::error(404, &format!("No such File object: {id}"), "not_found"),
    }
}
