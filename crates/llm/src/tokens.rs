//! Token counting in-process with the model's own encoding.

use tiktoken_rs::CoreBPE;

/// Tokens a chat message costs beyond its text (role and separators), and the tokens that
/// prime the reply, as OpenAI documents for its chat models.
pub(crate) const PER_MESSAGE_TOKENS: usize = 3;
/// See [`PER_MESSAGE_TOKENS`].
pub(crate) const REPLY_PRIMING_TOKENS: usize = 3;

/// A tokenizer for one model.
#[derive(Clone, Copy)]
pub struct Tokenizer {
    bpe: &'static CoreBPE,
    name: &'static str,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer({})", self.name)
    }
}

impl Tokenizer {
    /// `cl100k_base` for gpt-3.5 and gpt-4 (not gpt-4o / gpt-4.1 / gpt-4.5), `o200k_base`
    /// for everything else: gpt-4o, gpt-4.1, the o-series, gpt-5 and unknown models (local
    /// models' counts are then an estimate).
    pub fn for_model(model: &str) -> Tokenizer {
        let m = model.to_ascii_lowercase();
        let m = m.rsplit('/').next().unwrap_or(&m);
        let cl100k = m.starts_with("gpt-3.5")
            || m.starts_with("gpt-35")
            || (m.starts_with("gpt-4")
                && !m.starts_with("gpt-4o")
                && !m.starts_with("gpt-4.1")
                && !m.starts_with("gpt-4.5"));
        if cl100k {
            Tokenizer {
                bpe: tiktoken_rs::cl100k_base_singleton(),
                name: "cl100k_base",
            }
        } else {
            Tokenizer {
                bpe: tiktoken_rs::o200k_base_singleton(),
                name: "o200k_base",
            }
        }
    }

    /// The encoding's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Tokens in `text` (special-token text counts as plain text).
    pub fn count(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// `text` cut to at most `max` tokens at a character boundary, and the token count of
    /// the whole text.
    pub fn truncate(&self, text: &str, max: usize) -> (String, usize) {
        let tokens = self.bpe.encode_ordinary(text);
        let total = tokens.len();
        if total <= max {
            return (text.to_string(), total);
        }
        // Re-encoding a cut text can take a token more than the prefix did (a word cut in
        // two encodes differently), so step back until it fits.
        let mut k = max;
        loop {
            let bytes = self.bpe.decode_bytes(&tokens[..k]).unwrap_or_default();
            // A cut inside a multi-byte character leaves a partial sequence: drop it.
            let cut = match std::str::from_utf8(&bytes) {
                Ok(s) => s.to_string(),
                Err(e) => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
            };
            if k == 0 || self.count(&cut) <= max {
                return (cut, total);
            }
            k -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_per_model() {
        assert_eq!(Tokenizer::for_model("gpt-4o-mini").name(), "o200k_base");
        assert_eq!(Tokenizer::for_model("gpt-4.1").name(), "o200k_base");
        assert_eq!(Tokenizer::for_model("o3-mini").name(), "o200k_base");
        assert_eq!(Tokenizer::for_model("llama3.1:8b").name(), "o200k_base");
        assert_eq!(Tokenizer::for_model("gpt-4").name(), "cl100k_base");
        assert_eq!(Tokenizer::for_model("gpt-4-turbo").name(), "cl100k_base");
        assert_eq!(Tokenizer::for_model("gpt-3.5-turbo").name(), "cl100k_base");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        let t = Tokenizer::for_model("gpt-4o");
        let text = "Scrum teams inspect and adapt. ".repeat(100) + "Ünïcödé 日本語のテキスト";
        let (cut, total) = t.truncate(&text, 50);
        assert!(total > 50);
        assert!(t.count(&cut) <= 50);
        assert!(text.starts_with(&cut));
        let jp = "日本語のテキスト".repeat(50);
        for max in 1..40 {
            let (cut, _) = t.truncate(&jp, max);
            assert!(jp.starts_with(&cut));
            assert!(t.count(&cut) <= max);
        }
        let (same, n) = t.truncate("short", 50);
        assert_eq!((same.as_str(), n), ("short", 1));
    }
}
