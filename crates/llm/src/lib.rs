//! The LLM engine: any OpenAI-compatible API, live or Batch.
