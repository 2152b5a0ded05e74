//! Reasons: checkable evidence, not prose. Which page passage matches the term best, which
//! key topics it covers, whether the page names the term, which exclusion fired, and what
//! the labelled neighbours said.

use crate::features::PairFeatures;
use crate::learn::Learned;
use crate::lexical::{Tok, TokSet, tok, tok_ids, tokens};

/// Similarity from which a key topic counts as covered.
pub const TOPIC_MATCH: f32 = 0.45;
/// Margin over the definition from which an exclusion counts as fired.
pub const EXCLUSION_FIRED: f32 = 0.02;
/// Characters of a key topic a reason quotes.
pub const TOPIC_CLIP: usize = 60;
/// Characters of an exclusion a reason quotes.
pub const EXCLUSION_CLIP: usize = 80;

/// The words of a hint worth matching (longer than 3 characters), hashed.
pub fn hint_tokens(hint: &str) -> TokSet {
    tokens(hint)
        .into_iter()
        .filter(|w| w.len() > 3)
        .map(|w| tok(&w))
        .collect()
}

/// A chunk split into sentences, each tokenised once (reasons look at every chunk against
/// many terms) and cut for display at most once, the first time a reason quotes it.
#[derive(Clone, Debug, Default)]
pub struct Sentences {
    items: Vec<Sentence>,
}

#[derive(Clone, Debug)]
struct Sentence {
    range: std::ops::Range<usize>,
    toks: Vec<Tok>,
    clipped: std::sync::OnceLock<String>,
}

impl Sentences {
    /// Splits and tokenises `chunk`.
    pub fn new(chunk: &str) -> Sentences {
        let base = chunk.as_ptr() as usize;
        let items = split_sentences(chunk)
            .into_iter()
            .map(|s| {
                let start = s.as_ptr() as usize - base;
                Sentence {
                    range: start..start + s.len(),
                    toks: tok_ids(s),
                    clipped: std::sync::OnceLock::new(),
                }
            })
            .collect();
        Sentences { items }
    }

    /// The sentence sharing the most words with `want` (the first on a tie), cut to ~160
    /// characters. `chunk` is the text these sentences were split from.
    pub fn best(&self, chunk: &str, want: &TokSet) -> String {
        let mut best: Option<(&Sentence, usize)> = None;
        for item in &self.items {
            let overlap = item.toks.iter().filter(|w| want.contains(w)).count();
            if best.is_none_or(|b| overlap > b.1) {
                best = Some((item, overlap));
            }
        }
        best.map(|(item, _)| {
            item.clipped
                .get_or_init(|| {
                    chunk
                        .get(item.range.clone())
                        .map(|s| clip(s.trim(), 160))
                        .unwrap_or_default()
                })
                .clone()
        })
        .unwrap_or_default()
    }
}

/// The sentence of `chunk` sharing the most words with `hint`, cut to ~160 characters.
pub fn best_sentence(chunk: &str, hint: &str) -> String {
    Sentences::new(chunk).best(chunk, &hint_tokens(hint))
}

fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end = match b {
            b'\n' => true,
            b'.' | b'!' | b'?' => bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()),
            _ => false,
        };
        if end {
            let s = &text[start..=i];
            if s.trim().len() > 1 {
                out.push(s);
            }
            start = i + 1;
        }
    }
    if start < text.len() && text[start..].trim().len() > 1 {
        out.push(&text[start..]);
    }
    out
}

/// Cuts `s` to at most `max` characters at a word boundary, adding `…`.
pub fn clip(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let cut: String = s.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut}…")
}

/// Builds the reason for one pair. `topic_texts` and `exclusion_texts` are quoted as given
/// (the engine cuts them once, to [`TOPIC_CLIP`] and [`EXCLUSION_CLIP`]).
pub fn reason(
    f: &PairFeatures,
    sentence: String,
    topic_texts: &[String],
    exclusion_texts: &[String],
    learned: Option<&Learned>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    let lx = &f.lexical;
    let mut named = Vec::new();
    if lx.in_title {
        named.push("in the title".to_string());
    }
    if lx.in_description {
        named.push("in the description".to_string());
    }
    if lx.body_count > 0 {
        named.push(format!(
            "{} mention{} in the body",
            lx.body_count,
            if lx.body_count == 1 { "" } else { "s" }
        ));
    }
    if !named.is_empty() {
        parts.push(format!("named {}", named.join(", ")));
    }
    let covered: Vec<String> = f
        .topics
        .iter()
        .filter(|(_, s)| *s >= TOPIC_MATCH)
        .take(3)
        .filter_map(|(i, s)| topic_texts.get(*i).map(|t| format!("{t} ({s:.2})")))
        .collect();
    if !covered.is_empty() {
        parts.push(format!("key topics: {}", covered.join("; ")));
    }
    if !sentence.is_empty() {
        parts.push(format!("best passage ({:.2}): \"{sentence}\"", f.x[0]));
    }
    if let Some((i, margin)) = f.exclusion
        && margin >= EXCLUSION_FIRED
        && let Some(e) = exclusion_texts.get(i)
    {
        parts.push(format!("exclusion fired (+{margin:.2}): {e}"));
    }
    if let Some(l) = learned
        && l.evidence > 0
    {
        parts.push(format!(
            "labelled neighbours {:.0}%, {} labelled pages average {:.0}%",
            l.vote * 100.0,
            l.evidence,
            l.prior * 100.0
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_sentence_that_names_the_term() {
        let chunk = "We shipped on Friday. Pair programming made the review faster! Then lunch.";
        assert_eq!(
            best_sentence(chunk, "Pair Programming: driver navigator"),
            "Pair programming made the review faster!"
        );
    }

    #[test]
    fn clip_cuts_at_words() {
        assert_eq!(clip("one two three", 100), "one two three");
        assert_eq!(clip("alpha beta gamma delta", 12), "alpha beta…");
        assert_eq!(clip("  spaced\n out  ", 100), "spaced out");
    }

    #[test]
    fn reason_lists_evidence() {
        let f = PairFeatures {
            x: vec![0.61; 12],
            lexical: crate::lexical::LexicalMatch {
                in_title: true,
                in_description: false,
                body_count: 2,
                coverage: 1.0,
            },
            topics: vec![(1, 0.7), (0, 0.2)],
            exclusion: Some((0, 0.05)),
            best_chunk: 0,
        };
        let r = reason(
            &f,
            best_sentence("Intro. Pairing helps.", "pairing"),
            &["solo work".into(), "driver and navigator".into()],
            &["mentoring without code".into()],
            Some(&Learned {
                vote: 0.8,
                prior: 0.3,
                centroid: 0.5,
                evidence: 12,
            }),
        );
        assert!(
            r.contains("named in the title, 2 mentions in the body"),
            "{r}"
        );
        assert!(r.contains("key topics: driver and navigator (0.70)"), "{r}");
        assert!(!r.contains("solo work"), "{r}");
        assert!(r.contains("best passage (0.61): \"Pairing helps.\""), "{r}");
        assert!(
            r.contains("exclusion fired (+0.05): mentoring without code"),
            "{r}"
        );
        assert!(
            r.contains("labelled neighbours 80%, 12 labelled pages average 30%"),
            "{r}"
        );
    }
}
