//! Token utilities the scoring engine needs: counting tokens and cutting a
//! text into token-bounded, overlapping chunks.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// The model's WordPiece tokenizer without padding or truncation, for
/// counting tokens and cutting texts into chunks. Cheap to clone.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// Identifies the tokenizer's definition (keys cached chunk spans).
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

/// Loads `tokenizer.json` and clears the padding and truncation it ships
/// with (all-MiniLM-L6-v2's pads and truncates to 128).
pub(crate) fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|e| Error::tokenizer(path.display().to_string(), e))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::tokenizer(path.display().to_string(), e))?;
    Ok(tokenizer)
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<TextTokenizer> {
        let inner = load_tokenizer(path)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(TextTokenizer {
            inner,
            fingerprint: *blake3::hash(&bytes).as_bytes(),
        })
    }

    pub(crate) fn from_tokenizer(mut inner: Tokenizer) -> Result<TextTokenizer> {
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::tokenizer("truncation", e))?;
        let text = inner
            .to_string(false)
            .map_err(|e| Error::tokenizer("serialise", e))?;
        Ok(TextTokenizer {
            inner,
            fingerprint: *blake3::hash(text.as_bytes()).as_bytes(),
        })
    }

    /// A hash of the tokenizer's definition.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The underlying `tokenizers` tokenizer (no padding, no truncation).
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// The number of WordPiece tokens in `text`, special tokens excluded and
    /// nothing truncated.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.ids(text)?.len())
    }

    /// The token ids of `text`, special tokens excluded, nothing truncated.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| Error::tokenizer("encode", e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Cuts `text` into chunks of at most `max_tokens` tokens (special tokens
    /// not counted), each overlapping the previous one by about
    /// `overlap_tokens`. Returns slices of the original text.
    ///
    /// Cuts fall on token boundaries and, where possible, word boundaries. A
    /// chunk that would be cut mid-text ends at a sentence end (`.`, `!`,
    /// `?`, ... followed by a space, or a line break) when one lies in the last
    /// 20% of its window. The next chunk starts `overlap_tokens` before the
    /// cut, moved forward to the next word start.
    ///
    /// `max_tokens` is at least 1 and `overlap_tokens` at most
    /// `max_tokens - 1` (larger values are clamped). A text with no tokens
    /// (empty or blank) has no chunks; one that fits in one window is one
    /// chunk (trimmed to its first and last token).
    pub fn chunks<'a>(
        &self,
        text: &'a str,
        max_tokens: usize,
        overlap_tokens: usize,
    ) -> Result<Vec<&'a str>> {
        Ok(self
            .chunk_spans(text, max_tokens, overlap_tokens)?
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect())
    }

    /// The byte spans [`TextTokenizer::chunks`] cuts `text` into (valid char
    /// boundaries).
    pub fn chunk_spans(
        &self,
        text: &str,
        max_tokens: usize,
        overlap_tokens: usize,
    ) -> Result<Vec<(usize, usize)>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::tokenizer("encode", e))?;
        Ok(chunk_spans(
            text,
            enc.get_offsets(),
            enc.get_word_ids(),
            max_tokens,
            overlap_tokens,
        ))
    }
}

/// The chunking algorithm on token offsets; returns byte spans that are valid
/// char boundaries of `text`.
fn chunk_spans(
    text: &str,
    offsets: &[(usize, usize)],
    words: &[Option<u32>],
    max_tokens: usize,
    overlap_tokens: usize,
) -> Vec<(usize, usize)> {
    let n = offsets.len();
    let mut spans = Vec::new();
    if n == 0 {
        return spans;
    }
    let max = max_tokens.max(1);
    let overlap = overlap_tokens.min(max - 1);
    // Same word as the previous token (a `##` continuation)?
    let continues = |i: usize| i > 0 && i < n && words[i].is_some() && words[i] == words[i - 1];
    let mut start = 0;
    loop {
        let limit = (start + max).min(n);
        let mut end = limit;
        if limit < n {
            // Sentence end in the last 20% of the window?
            let earliest = start + (max - max / 5).max(1);
            let sentence = (earliest..=limit)
                .rev()
                .find(|&e| e > start && is_sentence_end(text, offsets, e - 1));
            if let Some(e) = sentence {
                end = e;
            } else {
                // Do not split a word when a word boundary is in the window.
                let mut e = limit;
                while e > start + 1 && continues(e) {
                    e -= 1;
                }
                if !continues(e) {
                    end = e;
                }
            }
        }
        let (s, e) = (offsets[start].0, offsets[end - 1].1);
        spans.push(char_span(text, s, e.max(s)));
        if end >= n {
            break;
        }
        let mut next = end.saturating_sub(overlap).max(start + 1);
        while next < end && continues(next) {
            next += 1;
        }
        start = next;
    }
    spans
}

/// Is token `i` the end of a sentence: terminal punctuation followed by
/// whitespace, or any token followed by a line break.
fn is_sentence_end(text: &str, offsets: &[(usize, usize)], i: usize) -> bool {
    let Some(&(s, e)) = offsets.get(i) else {
        return false;
    };
    let gap_end = offsets.get(i + 1).map_or(text.len(), |o| o.0);
    let gap = text.get(e..gap_end.max(e)).unwrap_or("");
    if gap.contains('\n') {
        return true;
    }
    let token = text.get(s..e).unwrap_or("");
    let terminal = matches!(
        token.chars().last(),
        Some('.' | '!' | '?' | '…' | '。' | '！' | '？')
    );
    terminal && (gap_end == text.len() || gap.chars().next().is_some_and(char::is_whitespace))
}

/// `(s, e)` widened to the nearest char boundaries inside `text`.
fn char_span(text: &str, s: usize, e: usize) -> (usize, usize) {
    let mut s = s.min(text.len());
    let mut e = e.min(text.len());
    while s > 0 && !text.is_char_boundary(s) {
        s -= 1;
    }
    while e < text.len() && !text.is_char_boundary(e) {
        e += 1;
    }
    (s, e.max(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn tok() -> TextTokenizer {
        let dir = tempfile::tempdir().expect("tempdir");
        testing::write_tokenizer(dir.path()).expect("tokenizer");
        TextTokenizer::from_file(&dir.path().join("tokenizer.json")).expect("load")
    }

    #[test]
    fn shipped_padding_and_truncation_are_cleared() {
        // The tiny tokenizer.json pads and truncates to 8, like the real one
        // does to 128.
        let t = tok();
        let text = "the cat sat on the mat and the dog sat on the log and ran far away";
        let n = t.count_tokens(text).expect("count");
        assert_eq!(n, 17);
        assert_eq!(t.count_tokens("").expect("count"), 0);
        assert_eq!(t.count_tokens("cat").expect("count"), 1);
    }

    #[test]
    fn single_window_is_one_trimmed_chunk() {
        let t = tok();
        let chunks = t.chunks("  the cat sat.  ", 10, 2).expect("chunks");
        assert_eq!(chunks, vec!["the cat sat."]);
        assert!(t.chunks("   ", 10, 2).expect("chunks").is_empty());
        assert!(t.chunks("", 10, 2).expect("chunks").is_empty());
    }

    #[test]
    fn chunks_respect_bounds_and_overlap() {
        let t = tok();
        let text = "the cat sat on the mat and the dog sat on the log and ran far away";
        let chunks = t.chunks(text, 5, 2).expect("chunks");
        assert!(chunks.len() > 3, "{chunks:?}");
        for c in &chunks {
            let n = t.count_tokens(c).expect("count");
            assert!((1..=5).contains(&n), "{c:?} has {n} tokens");
            assert!(text.contains(c));
        }
        assert!(text.starts_with(chunks[0]));
        assert!(text.ends_with(chunks[chunks.len() - 1]));
        // Consecutive chunks overlap by two words here (all words are one
        // token).
        for pair in chunks.windows(2) {
            let a: Vec<&str> = pair[0].split(' ').collect();
            let b: Vec<&str> = pair[1].split(' ').collect();
            assert_eq!(a[a.len() - 2..], b[..2], "{pair:?}");
        }
    }

    #[test]
    fn chunks_prefer_sentence_ends_near_the_window_end() {
        let t = tok();
        // 10 tokens per window; a sentence ends after token 9 (inside the last
        // 20%), so the first chunk stops there instead of at token 10.
        let text = "the cat sat on the mat and the dog. ran far away on the log and sat";
        let chunks = t.chunks(text, 10, 0).expect("chunks");
        assert_eq!(chunks[0], "the cat sat on the mat and the dog.");
        assert_eq!(chunks[1], "ran far away on the log and sat");
        // A sentence end early in the window is not used.
        let text = "the cat. sat on the mat and the dog ran far away on the log and sat";
        let chunks = t.chunks(text, 10, 0).expect("chunks");
        assert_eq!(chunks[0], "the cat. sat on the mat and the dog");
    }

    #[test]
    fn chunks_do_not_split_words() {
        let t = tok();
        // "running" is run ##ning in the tiny vocabulary.
        let ids = t.ids("running").expect("ids");
        assert_eq!(ids.len(), 2);
        let text = "the cat sat running far";
        // A 4-token window would end between run and ##ning: cut before.
        let chunks = t.chunks(text, 4, 0).expect("chunks");
        assert_eq!(chunks, vec!["the cat sat", "running far"]);
    }

    #[test]
    fn chunks_are_original_slices_with_unicode() {
        let t = tok();
        let text = "Thé Cat — sat … on the MAT. The dög ran";
        let chunks = t.chunks(text, 3, 1).expect("chunks");
        for c in &chunks {
            assert!(text.contains(c), "{c:?}");
        }
        // Overlap clamps: overlap >= max still makes progress.
        let chunks = t.chunks(text, 2, 10).expect("chunks");
        assert!(!chunks.is_empty());
        let chunks = t.chunks(text, 0, 0).expect("chunks");
        assert_eq!(chunks.len(), t.count_tokens(text).expect("count"));
    }

    #[test]
    fn char_span_widens_to_boundaries() {
        let text = "aé";
        assert_eq!(char_span(text, 2, 2), (1, 3));
        assert_eq!(char_span(text, 0, 2), (0, 3));
        assert_eq!(char_span(text, 9, 9), (3, 3));
    }
}
