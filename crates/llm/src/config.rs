//! The `[llm]` table of `taxonomist.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::LlmError;

/// The LLM engine's configuration, read from the `[llm]` table.
///
/// The API key is **not** here: it is read from the environment variable named by
/// [`LlmConfig::api_key_env`] when the client is built, and never stored, logged or written.
///
/// ```
/// let cfg: taxonomist_llm::LlmConfig = serde_json::from_str(r#"{"model": "gpt-4.1-mini"}"#)
///     .expect("valid");
/// assert_eq!(cfg.concurrency, 4);
/// assert_eq!(cfg.api_key_env, "OPENAI_API_KEY");
/// cfg.validate().expect("defaults are valid");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// The API's base URL, up to and including `/v1` for OpenAI-style servers
    /// (`https://api.openai.com/v1`, `http://localhost:11434/v1`), or the resource URL for
    /// Azure (`https://NAME.openai.azure.com`).
    pub base_url: String,
    /// The model name sent in requests and recorded on every score.
    pub model: String,
    /// The environment variable holding the API key. When it is unset or empty, requests
    /// go without a key (local servers).
    pub api_key_env: String,
    /// Extra request headers (an organisation or project id). Their values are never shown
    /// in `Debug` output.
    pub headers: Headers,
    /// Live calls in flight at once.
    pub concurrency: usize,
    /// Seconds before one HTTP request is abandoned (and retried).
    pub timeout_secs: u64,
    /// Retries after the first attempt for retryable errors (429, 5xx, timeouts, dropped
    /// connections).
    pub max_retries: usize,
    /// Back-off between retries.
    pub retry: RetryConfig,
    /// Azure OpenAI: the deployment name. When set, requests go to
    /// `/openai/deployments/{deployment}/chat/completions?api-version=…` with an `api-key`
    /// header instead of `Authorization: Bearer`.
    pub azure_deployment: Option<String>,
    /// Azure OpenAI: the `api-version` query parameter.
    pub azure_api_version: Option<String>,
    /// How the reply's shape is enforced.
    pub structured_output: StructuredOutput,
    /// Sampling temperature (0: as repeatable as the server allows). Not sent to reasoning
    /// models (o-series, gpt-5), which reject it.
    pub temperature: f32,
    /// Output token limit per call. Default: 300 per term asked plus 200.
    pub max_output_tokens: Option<u32>,
    /// The page's title, description and body are cut to this many tokens.
    pub max_page_tokens: usize,
    /// Multi-term mode: at most this many terms in one call.
    pub max_terms_per_call: usize,
    /// Per-term or multi-term calls.
    pub mode: Mode,
    /// A folder whose `system.txt`, `per-term.txt` or `multi-term.txt` replace the built-in
    /// templates; their content hash becomes part of the engine version.
    pub prompt_dir: Option<PathBuf>,
    /// Prices, for cost figures and the cost budget.
    pub prices: Prices,
    /// Limits for one run (live) or one submission (batch).
    pub budget: Budget,
    /// Batch API settings.
    pub batch: BatchConfig,
}

impl Default for LlmConfig {
    fn default() -> LlmConfig {
        LlmConfig {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4.1-mini".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            headers: Headers::default(),
            concurrency: 4,
            timeout_secs: 60,
            max_retries: 5,
            retry: RetryConfig::default(),
            azure_deployment: None,
            azure_api_version: None,
            structured_output: StructuredOutput::JsonSchema,
            temperature: 0.0,
            max_output_tokens: None,
            max_page_tokens: 6000,
            max_terms_per_call: 25,
            mode: Mode::MultiTerm,
            prompt_dir: None,
            prices: Prices::default(),
            budget: Budget::default(),
            batch: BatchConfig::default(),
        }
    }
}

impl LlmConfig {
    /// Checks values that would make every call fail.
    ///
    /// # Errors
    /// [`LlmError::Config`] naming the key.
    pub fn validate(&self) -> Result<(), LlmError> {
        let bad = |m: &str| Err(LlmError::Config(m.to_string()));
        if self.base_url.trim().is_empty() {
            return bad("base_url is empty");
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return bad("base_url must start with http:// or https://");
        }
        if self.model.trim().is_empty() {
            return bad("model is empty");
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1");
        }
        if self.timeout_secs == 0 {
            return bad("timeout_secs must be at least 1");
        }
        if self.max_terms_per_call == 0 {
            return bad("max_terms_per_call must be at least 1");
        }
        if self.max_page_tokens < 100 {
            return bad("max_page_tokens must be at least 100");
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return bad("temperature must be between 0 and 2");
        }
        if self.azure_deployment.is_some() && self.azure_api_version.is_none() {
            return bad("azure_deployment needs azure_api_version (e.g. \"2024-10-21\")");
        }
        if self.batch.max_requests == 0 || self.batch.max_bytes < 1024 {
            return bad("batch.max_requests must be at least 1 and batch.max_bytes at least 1024");
        }
        if self.prices.input_per_million < 0.0 || self.prices.output_per_million < 0.0 {
            return bad("prices must not be negative");
        }
        Ok(())
    }

    /// Whether the model is a reasoning model that rejects `temperature` and takes
    /// `max_completion_tokens` (o1, o3, o4-mini, gpt-5, ...).
    pub fn is_reasoning_model(&self) -> bool {
        let m = self.model.to_ascii_lowercase();
        let m = m.rsplit('/').next().unwrap_or(&m);
        (m.starts_with('o') && m[1..].starts_with(|c: char| c.is_ascii_digit()))
            || m.starts_with("gpt-5")
    }

    /// The `url` of a Batch API input line.
    pub fn batch_url(&self) -> &'static str {
        if self.azure_deployment.is_some() {
            "/chat/completions"
        } else {
            "/v1/chat/completions"
        }
    }

    /// The `model` sent in requests: the Azure deployment when set (Azure batch lines name
    /// the deployment), else [`LlmConfig::model`].
    pub fn request_model(&self) -> &str {
        self.azure_deployment.as_deref().unwrap_or(&self.model)
    }
}

/// Extra request headers. `Debug` shows their names only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, String>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// How the reply's JSON shape is enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// `response_format: {type: "json_schema", strict: true}` (OpenAI, Azure, vLLM, recent
    /// Ollama).
    #[default]
    JsonSchema,
    /// `response_format: {type: "json_object"}` plus the schema in the prompt.
    JsonObject,
    /// No `response_format`: the schema goes in the prompt and the reply is parsed
    /// tolerantly (fenced blocks, prose around the JSON).
    Prompt,
}

/// One call per page × term, or one call per page and taxonomy over its candidate terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// One call per (page, term), like the system taxonomist replaces.
    #[serde(rename = "per-term")]
    PerTerm,
    /// One call per page and taxonomy, up to `max_terms_per_call` terms each.
    #[default]
    #[serde(rename = "multi-term")]
    MultiTerm,
}

impl Mode {
    /// `per-term` or `multi-term`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::PerTerm => "per-term",
            Mode::MultiTerm => "multi-term",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Back-off between retries: exponential from `min_delay_ms`, doubling, capped at
/// `max_delay_secs`; a `Retry-After` from the server is honoured when it is longer. A
/// `Retry-After` longer than `max_delay_secs` is not waited for: the call fails (a quota
/// reset hours away should not hang a run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// First delay.
    pub min_delay_ms: u64,
    /// Longest delay (and longest `Retry-After` honoured).
    pub max_delay_secs: u64,
    /// Randomise delays (spreads concurrent retries); off makes delays exact.
    pub jitter: bool,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            min_delay_ms: 1000,
            max_delay_secs: 120,
            jitter: true,
        }
    }
}

/// Prices per million tokens, in whatever currency the user likes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prices {
    /// Input (prompt) tokens.
    pub input_per_million: f64,
    /// Output (completion) tokens.
    pub output_per_million: f64,
    /// Cached input tokens, when the provider reports them (default: the input price).
    pub cached_input_per_million: Option<f64>,
    /// Multiplier applied to Batch API calls (default 0.5, OpenAI's batch discount).
    pub batch_multiplier: Option<f64>,
}

impl Prices {
    /// The cost of one call.
    pub fn cost(&self, input: u64, cached: u64, output: u64, batch: bool) -> f64 {
        let cached = cached.min(input);
        let per = |n: u64, p: f64| n as f64 * p / 1_000_000.0;
        let c = per(input - cached, self.input_per_million)
            + per(
                cached,
                self.cached_input_per_million
                    .unwrap_or(self.input_per_million),
            )
            + per(output, self.output_per_million);
        if batch {
            c * self.batch_multiplier.unwrap_or(0.5)
        } else {
            c
        }
    }
}

/// Limits for one live run or one batch submission. Checked before each call with its
/// estimate (nothing is sent that would cross a limit) and counted with the actual usage
/// the server reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Input tokens.
    pub max_input_tokens: Option<u64>,
    /// Output tokens.
    pub max_output_tokens: Option<u64>,
    /// Cost, in the prices' currency.
    pub max_cost: Option<f64>,
}

/// Batch API settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// `completion_window` of created batches.
    pub completion_window: String,
    /// Requests per input file (the API's limit is 50,000).
    pub max_requests: usize,
    /// Bytes per input file (the API's limit is 200 MB).
    pub max_bytes: u64,
    /// Estimated input tokens one submission may enqueue (the provider's enqueued-token
    /// limit); what does not fit is reported and left for the next submission.
    pub max_enqueued_tokens: Option<u64>,
}

impl Default for BatchConfig {
    fn default() -> BatchConfig {
        BatchConfig {
            completion_window: "24h".into(),
            max_requests: 50_000,
            max_bytes: 200_000_000,
            max_enqueued_tokens: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_toml_table() {
        let text = r#"
            base_url = "https://example.openai.azure.com"
            model = "gpt-4o"
            azure_deployment = "gpt4o-prod"
            azure_api_version = "2024-10-21"
            mode = "per-term"
            structured_output = "prompt"
            headers = { "OpenAI-Organization" = "org-123" }
            [prices]
            input_per_million = 2.5
            output_per_million = 10.0
            [budget]
            max_cost = 5.0
            [batch]
            max_requests = 1000
        "#;
        let cfg: LlmConfig = toml::from_str(text).expect("parses");
        assert_eq!(cfg.mode, Mode::PerTerm);
        assert_eq!(cfg.structured_output, StructuredOutput::Prompt);
        assert_eq!(cfg.batch.max_requests, 1000);
        assert_eq!(cfg.batch.completion_window, "24h");
        assert_eq!(cfg.request_model(), "gpt4o-prod");
        assert_eq!(cfg.batch_url(), "/chat/completions");
        cfg.validate().expect("valid");
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("OpenAI-Organization"));
        assert!(!dbg.contains("org-123"));
    }

    #[test]
    fn typos_are_errors() {
        assert!(toml::from_str::<LlmConfig>("modle = \"x\"").is_err());
    }

    #[test]
    fn validation() {
        let mut c = LlmConfig::default();
        c.validate().expect("default valid");
        c.concurrency = 0;
        assert!(c.validate().is_err());
        let c = LlmConfig {
            azure_deployment: Some("d".into()),
            ..LlmConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn reasoning_models() {
        let m = |name: &str| LlmConfig {
            model: name.into(),
            ..LlmConfig::default()
        };
        assert!(m("o3-mini").is_reasoning_model());
        assert!(m("o1").is_reasoning_model());
        assert!(m("gpt-5-mini").is_reasoning_model());
        assert!(!m("gpt-4o").is_reasoning_model());
        assert!(!m("ollama").is_reasoning_model());
    }

    #[test]
    fn prices() {
        let p = Prices {
            input_per_million: 2.0,
            output_per_million: 8.0,
            cached_input_per_million: Some(0.5),
            batch_multiplier: None,
        };
        let c = p.cost(1_000_000, 0, 1_000_000, false);
        assert!((c - 10.0).abs() < 1e-9);
        let c = p.cost(1_000_000, 1_000_000, 0, false);
        assert!((c - 0.5).abs() < 1e-9);
        let c = p.cost(1_000_000, 0, 0, true);
        assert!((c - 1.0).abs() < 1e-9);
    }
}
