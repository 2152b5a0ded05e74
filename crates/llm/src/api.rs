//! The client seam: a small trait over the OpenAI-compatible endpoints taxonomist uses, and
//! the wire types they exchange.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ApiError;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message with this role.
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message {
            role: role.to_string(),
            content: content.into(),
        }
    }
}

/// A `POST /chat/completions` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model (the deployment, for Azure batch lines).
    pub model: String,
    /// System message first, then the user message (and, on a validation retry, the
    /// previous reply and the problems found in it).
    pub messages: Vec<Message>,
    /// Sampling temperature (not sent to reasoning models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Output limit for classic models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Output limit for reasoning models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// `{"type": "json_schema", ...}` or `{"type": "json_object"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
}

/// A chat completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The completion id.
    #[serde(default)]
    pub id: Option<String>,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The choices (taxonomist asks for one).
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<ApiUsage>,
}

/// One choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The reply.
    #[serde(default)]
    pub message: ChoiceMessage,
    /// `stop`, `length`, `content_filter`, ...
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant's reply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChoiceMessage {
    /// The text (absent on a refusal).
    #[serde(default)]
    pub content: Option<String>,
    /// Why the model refused, when it did.
    #[serde(default)]
    pub refusal: Option<String>,
}

/// Token counts as the API reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiUsage {
    /// Input tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Input token details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

impl ApiUsage {
    /// Cached input tokens (0 when not reported).
    pub fn cached(&self) -> u64 {
        self.prompt_tokens_details.map_or(0, |d| d.cached_tokens)
    }
}

/// Input token details.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Tokens served from the provider's prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

/// An uploaded file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    /// `file-...`.
    pub id: String,
    /// Size.
    #[serde(default)]
    pub bytes: u64,
    /// Name.
    #[serde(default)]
    pub filename: String,
}

/// A `POST /batches` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateBatch {
    /// The uploaded JSONL file.
    pub input_file_id: String,
    /// `/v1/chat/completions` (`/chat/completions` on Azure).
    pub endpoint: String,
    /// `24h`.
    pub completion_window: String,
    /// Free-form metadata; taxonomist sets `taxonomist_local_id` so a batch created just
    /// before a crash can be found again.
    pub metadata: BTreeMap<String, String>,
}

/// A batch's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// The input file is being validated.
    Validating,
    /// Validation failed, or the batch failed as a whole.
    Failed,
    /// Running.
    InProgress,
    /// Results are being prepared.
    Finalizing,
    /// Done; the output (and maybe error) file is ready.
    Completed,
    /// The completion window ran out; the finished part is in the output file.
    Expired,
    /// Being cancelled.
    Cancelling,
    /// Cancelled; the finished part is in the output file.
    Cancelled,
    /// A status this client does not know (treated as still running).
    #[serde(other)]
    Unknown,
}

impl BatchStatus {
    /// Whether the batch will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BatchStatus::Failed
                | BatchStatus::Completed
                | BatchStatus::Expired
                | BatchStatus::Cancelled
        )
    }

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Validating => "validating",
            BatchStatus::Failed => "failed",
            BatchStatus::InProgress => "in_progress",
            BatchStatus::Finalizing => "finalizing",
            BatchStatus::Completed => "completed",
            BatchStatus::Expired => "expired",
            BatchStatus::Cancelling => "cancelling",
            BatchStatus::Cancelled => "cancelled",
            BatchStatus::Unknown => "unknown",
        }
    }
}

/// Request counts of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Lines in the input.
    #[serde(default)]
    pub total: u64,
    /// Lines answered.
    #[serde(default)]
    pub completed: u64,
    /// Lines failed.
    #[serde(default)]
    pub failed: u64,
}

/// A batch, as the API describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchObject {
    /// `batch_...`.
    pub id: String,
    /// Where it is.
    pub status: BatchStatus,
    /// The input file.
    #[serde(default)]
    pub input_file_id: Option<String>,
    /// Answered lines.
    #[serde(default)]
    pub output_file_id: Option<String>,
    /// Failed lines.
    #[serde(default)]
    pub error_file_id: Option<String>,
    /// Counts.
    #[serde(default)]
    pub request_counts: Option<RequestCounts>,
    /// Metadata given at creation.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Batch-level errors (validation), as the API gives them.
    #[serde(default)]
    pub errors: Option<Value>,
    /// Unix time of creation.
    #[serde(default)]
    pub created_at: Option<u64>,
    /// Unix time of completion.
    #[serde(default)]
    pub completed_at: Option<u64>,
    /// Unix time of expiry.
    #[serde(default)]
    pub expired_at: Option<u64>,
    /// Unix time of failure.
    #[serde(default)]
    pub failed_at: Option<u64>,
    /// Unix time of cancellation.
    #[serde(default)]
    pub cancelled_at: Option<u64>,
}

impl BatchObject {
    /// When the batch reached its terminal status, if it has.
    pub fn finished_at(&self) -> Option<u64> {
        self.completed_at
            .or(self.expired_at)
            .or(self.cancelled_at)
            .or(self.failed_at)
    }

    /// The batch-level error messages, joined.
    pub fn error_messages(&self) -> Vec<String> {
        self.errors
            .as_ref()
            .and_then(|e| e.get("data"))
            .and_then(Value::as_array)
            .map(|d| {
                d.iter()
                    .map(|e| {
                        let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
                        let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                        match e.get("line").and_then(Value::as_u64) {
                            Some(l) => format!("{code}: {msg} (line {l})"),
                            None => format!("{code}: {msg}"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The endpoints taxonomist needs from an OpenAI-compatible API.
///
/// [`crate::HttpApi`] is the real one; tests can wrap it (to simulate a crash between two
/// steps) or replace it. Implementations return errors already classified into
/// [`ApiError`] kinds and do **not** retry: the engine and the batch state machine decide
/// what is safe to retry.
pub trait ChatApi: Send + Sync {
    /// `POST /chat/completions`.
    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ApiError>;
    /// `POST /files` (multipart), `purpose` is `batch`.
    fn upload_file(
        &self,
        filename: &str,
        purpose: &str,
        bytes: &[u8],
    ) -> Result<FileObject, ApiError>;
    /// `POST /batches`.
    fn create_batch(&self, req: &CreateBatch) -> Result<BatchObject, ApiError>;
    /// `GET /batches/{id}`.
    fn get_batch(&self, id: &str) -> Result<BatchObject, ApiError>;
    /// `GET /batches?limit=N`, newest first.
    fn list_batches(&self, limit: usize) -> Result<Vec<BatchObject>, ApiError>;
    /// `GET /files/{id}/content`.
    fn file_content(&self, id: &str) -> Result<Vec<u8>, ApiError>;
}
