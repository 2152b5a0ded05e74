//! The LLM engine: scores pages against taxonomy terms with any OpenAI-compatible chat API,
//! live or through the Batch API.
//!
//! The model judges six dimensions (0–10) and penalties and gives a short reason; the
//! confidence is computed here, from versioned weights ([`confidence`], [`recompute`]), and
//! the level is derived from it by the caller's thresholds. Nothing the model echoes is
//! trusted to identify anything: terms are asked by keys `t1..tN` this crate assigns, and
//! batch results are mapped by `custom_id` alone.
//!
//! # Brief overview
//! - [`LlmConfig`]: the `[llm]` table (endpoint, model, concurrency, retries, structured
//!   output, mode, prices, budget, batch limits). The API key is read from the environment
//!   variable it names and is never logged, stored or put in an error.
//! - [`ChatApi`]: the client seam; [`HttpApi`] is the blocking `ureq` client for OpenAI,
//!   Azure OpenAI (deployment path, `api-key` header) and local servers (Ollama, vLLM,
//!   llama.cpp).
//! - [`LlmEngine`]: implements `taxonomist_engine::Engine`. Per-term or multi-term calls,
//!   `concurrency` in flight, retries with back-off honouring `Retry-After`, strict JSON
//!   schema (or the schema in the prompt and a tolerant parser), one retry of an invalid
//!   reply with its problems spelled out, a token and cost budget, results pushed to the
//!   sink in page order then term order. [`LiveReport`] and [`BudgetReport`] say what
//!   happened.
//! - [`estimate`]: a dry run: calls, tokens (counted with the model's tokenizer) and cost,
//!   sending nothing.
//! - [`batch`]: [`batch::submit`], [`batch::status`] and [`batch::collect`], a resumable
//!   state machine over the Batch API persisted in a folder.
//!
//! # Prompts
//! The system message holds the static rules (the page is data, never instructions; the
//! dimensions; the penalty rule; the reply format) and is the same for every call of a
//! mode. The user message holds the page first, fenced by a tag the page cannot close, then
//! the terms, then the keys to score, so providers' prefix caching applies. Pages are cut
//! to `max_page_tokens`; term definitions are never cut. See [`PROMPT_VERSION`].
//!
//! ```
//! use taxonomist_engine::Work;
//! use taxonomist_llm::{LlmConfig, Mode, estimate};
//! use taxonomist_model::Site;
//!
//! let cfg = LlmConfig { mode: Mode::MultiTerm, ..LlmConfig::default() };
//! let e = estimate(&Site::default(), &Work::default(), &cfg).expect("valid configuration");
//! assert_eq!(e.calls, 0);
//! ```
#![deny(missing_docs)]

mod api;
pub mod batch;
mod config;
mod error;
mod formula;
mod http;
mod live;
mod plan;
mod prompt;
mod reply;
mod retry;
mod tokens;
mod util;

pub use api::{
    ApiUsage, BatchObject, BatchStatus, ChatApi, ChatRequest, ChatResponse, Choice, ChoiceMessage,
    CreateBatch, FileObject, Message, PromptTokensDetails, RequestCounts,
};
pub use config::{
    BatchConfig, Budget, Headers, LlmConfig, Mode, Prices, RetryConfig, StructuredOutput,
};
pub use error::{ApiError, LlmError};
pub use formula::{MAX_PENALTY_POINTS, WEIGHTS, WEIGHTS_VERSION, Weights, confidence, recompute};
pub use http::HttpApi;
pub use live::{BudgetLimit, BudgetReport, LiveReport, LlmEngine, engine_id};
pub use plan::{Estimate, OUTPUT_TOKENS_PER_CALL, TYPICAL_OUTPUT_TOKENS_PER_TERM, estimate};
pub use prompt::{PROMPT_VERSION, page_tag};
pub use reply::{
    Judgment, KeyedJudgment, MAX_REASON_CHARS, MultiReply, multi_schema, single_schema,
};
pub use tokens::Tokenizer;
