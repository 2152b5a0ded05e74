//! The per-page score file: deterministic JSON, one score per line.
//!
//! ```text
//! {"format":1,"page":"blog/first-post","path":"content/blog/first-post.md","content_hash":"…","engines":{"e1":{"name":"embedded",…}},
//! "scores":{
//! "tags/ci":{"final":82.3,"confidence":82.3,"lexical":60.0,"engine":"e1","definition_hash":"…","reason":"…","computed_at":"…"},
//! "tags/testing":{…}
//! }}
//! ```
//!
//! The file is valid JSON, keys are sorted (term ids), floats have at most one decimal, and
//! nothing in it changes unless a score is recomputed: a no-op run writes the same bytes,
//! and a diff or merge conflict touches only the lines of the terms that changed. What every
//! line would repeat lives in the header: the page's content hash (a line carries its own
//! only when it was scored against other content) and the engines, named `e1`, `e2`, … in
//! order of first use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taxonomist_model::{Dimensions, EngineId, Hash, Inputs, PageId, Score, TermId, Usage};

/// The format this version writes.
pub const FORMAT: u32 = 1;
/// The oldest format this version reads.
pub const OLDEST_READABLE: u32 = 1;

/// The stored scores of one page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageScores {
    /// The page id.
    pub page: PageId,
    /// The page's file, relative to the site root (informational).
    pub path: String,
    /// Scores by term id.
    pub scores: BTreeMap<TermId, Score>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(rename = "final")]
    final_score: f32,
    confidence: f32,
    lexical: f32,
    engine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_hash: Option<Hash>,
    definition_hash: Hash,
    reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dimensions: Option<Dimensions>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    computed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct Head<'a> {
    format: u32,
    page: &'a PageId,
    path: &'a str,
    content_hash: Hash,
    engines: BTreeMap<String, &'a EngineId>,
}

#[derive(Deserialize)]
struct Whole {
    format: u32,
    page: PageId,
    #[serde(default)]
    path: String,
    content_hash: Hash,
    #[serde(default)]
    engines: BTreeMap<String, EngineId>,
    scores: BTreeMap<TermId, Line>,
}

#[derive(Deserialize)]
struct Probe {
    format: Option<u32>,
}

/// Why a page file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileError {
    /// Not valid JSON, or not our shape.
    #[error("not a valid score file: {0}")]
    Invalid(String),
    /// Written by a newer taxonomist.
    #[error(
        "score file format {found} is newer than this taxonomist reads (up to {FORMAT}); upgrade taxonomist"
    )]
    TooNew {
        /// The format found.
        found: u32,
    },
    /// Older than anything this version reads.
    #[error(
        "score file format {found} is older than this taxonomist reads (from {OLDEST_READABLE}); run `taxonomist classify` to rebuild it"
    )]
    TooOld {
        /// The format found.
        found: u32,
    },
}

fn tidy(x: f32) -> f32 {
    if !x.is_finite() {
        return 0.0;
    }
    let r = (x * 10.0).round() / 10.0;
    if r == 0.0 { 0.0 } else { r }
}

impl PageScores {
    /// The content hash most scores were computed against (the header's).
    fn main_content_hash(&self) -> Hash {
        let mut counts: BTreeMap<Hash, usize> = BTreeMap::new();
        for s in self.scores.values() {
            *counts.entry(s.inputs.content_hash).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(Hash::default(), |(h, _)| h)
    }

    /// Serialises deterministically.
    pub fn to_text(&self) -> String {
        let content_hash = self.main_content_hash();
        let mut keys: BTreeMap<&EngineId, String> = BTreeMap::new();
        let mut engines: BTreeMap<String, &EngineId> = BTreeMap::new();
        for s in self.scores.values() {
            if !keys.contains_key(&s.engine) {
                let k = format!("e{}", keys.len() + 1);
                keys.insert(&s.engine, k.clone());
                engines.insert(k, &s.engine);
            }
        }
        let head = Head {
            format: FORMAT,
            page: &self.page,
            path: &self.path,
            content_hash,
            engines,
        };
        let head = serde_json::to_string(&head).unwrap_or_default();
        let mut out = String::with_capacity(128 + self.scores.len() * 320);
        // `{…}` → open it to append the scores.
        out.push_str(&head[..head.len().saturating_sub(1)]);
        out.push_str(",\n\"scores\":{");
        let mut first = true;
        for (term, s) in &self.scores {
            out.push_str(if first { "\n" } else { ",\n" });
            first = false;
            let line = Line {
                final_score: tidy(s.final_score),
                confidence: tidy(s.confidence),
                lexical: tidy(s.lexical),
                engine: keys.get(&s.engine).cloned().unwrap_or_default(),
                content_hash: (s.inputs.content_hash != content_hash)
                    .then_some(s.inputs.content_hash),
                definition_hash: s.inputs.definition_hash,
                reason: s.reason.clone(),
                dimensions: s.dimensions.clone(),
                computed_at: s.computed_at.clone(),
                usage: s.usage,
            };
            out.push_str(&serde_json::to_string(term.as_str()).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(&line).unwrap_or_default());
        }
        out.push_str("\n}}\n");
        out
    }

    /// Parses a page file.
    pub fn from_text(text: &str) -> Result<PageScores, FileError> {
        let whole: Whole = match serde_json::from_str(text) {
            Ok(w) => w,
            Err(e) => {
                // A file of another format may not have our shape: say which it is.
                if let Ok(Probe { format: Some(f) }) = serde_json::from_str::<Probe>(text) {
                    if f > FORMAT {
                        return Err(FileError::TooNew { found: f });
                    }
                    if f < OLDEST_READABLE {
                        return Err(FileError::TooOld { found: f });
                    }
                }
                return Err(FileError::Invalid(e.to_string()));
            }
        };
        if whole.format > FORMAT {
            return Err(FileError::TooNew {
                found: whole.format,
            });
        }
        if whole.format < OLDEST_READABLE {
            return Err(FileError::TooOld {
                found: whole.format,
            });
        }
        let mut scores = BTreeMap::new();
        for (term, l) in whole.scores {
            let engine = whole.engines.get(&l.engine).cloned().ok_or_else(|| {
                FileError::Invalid(format!("{term}: unknown engine {:?}", l.engine))
            })?;
            let s = Score {
                term: term.clone(),
                confidence: l.confidence,
                lexical: l.lexical,
                final_score: l.final_score,
                reason: l.reason,
                dimensions: l.dimensions,
                engine,
                inputs: Inputs {
                    content_hash: l.content_hash.unwrap_or(whole.content_hash),
                    definition_hash: l.definition_hash,
                },
                computed_at: l.computed_at,
                usage: l.usage,
            };
            scores.insert(term, s);
        }
        Ok(PageScores {
            page: whole.page,
            path: whole.path,
            scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use taxonomist_model::Hash;

    use super::*;

    pub(crate) fn score(term: &str, final_score: f32) -> Score {
        Score {
            term: TermId(term.into()),
            confidence: final_score,
            lexical: 12.34,
            final_score,
            reason: "a \"quoted\" reason\nwith a newline".into(),
            dimensions: None,
            engine: EngineId {
                name: "embedded".into(),
                model: "m".into(),
                version: "v".into(),
            },
            inputs: Inputs {
                content_hash: Hash::of(b"c"),
                definition_hash: Hash::of(b"d"),
            },
            computed_at: "2026-01-01T00:00:00Z".into(),
            usage: None,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let mut scores = BTreeMap::new();
        scores.insert(TermId("tags/b".into()), score("tags/b", 81.26));
        scores.insert(TermId("tags/a".into()), score("tags/a", 10.0));
        let p = PageScores {
            page: PageId("blog/x".into()),
            path: "content/blog/x.md".into(),
            scores,
        };
        let text = p.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[0].starts_with("{\"format\":1,\"page\":\"blog/x\""),
            "{text}"
        );
        assert!(
            lines[2].starts_with("\"tags/a\":{\"final\":10.0,"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("\"tags/b\":{\"final\":81.3,"),
            "{text}"
        );
        let back = PageScores::from_text(&text).expect("parse");
        assert_eq!(back.page, p.page);
        assert_eq!(back.scores[&TermId("tags/b".into())].final_score, 81.3);
        assert_eq!(
            back.scores[&TermId("tags/a".into())].reason,
            "a \"quoted\" reason\nwith a newline"
        );
        assert_eq!(back.to_text(), text, "re-serialising is byte-identical");
    }

    #[test]
    fn mixed_engines_and_content() {
        let mut b = score("tags/b", 50.0);
        b.engine.name = "llm".into();
        b.inputs.content_hash = Hash::of(b"older");
        let mut scores = BTreeMap::new();
        scores.insert(TermId("tags/a".into()), score("tags/a", 10.0));
        scores.insert(TermId("tags/b".into()), b.clone());
        scores.insert(TermId("tags/c".into()), score("tags/c", 20.0));
        let p = PageScores {
            page: PageId("x".into()),
            path: String::new(),
            scores,
        };
        let text = p.to_text();
        assert!(text.contains("\"e2\":{\"name\":\"llm\""), "{text}");
        let back = PageScores::from_text(&text).expect("parse");
        assert_eq!(back.scores[&TermId("tags/b".into())].engine, b.engine);
        assert_eq!(
            back.scores[&TermId("tags/b".into())].inputs.content_hash,
            Hash::of(b"older")
        );
        assert_eq!(
            back.scores[&TermId("tags/a".into())].inputs.content_hash,
            Hash::of(b"c")
        );
        assert_eq!(back.to_text(), text);
    }

    #[test]
    fn empty_scores() {
        let p = PageScores {
            page: PageId("x".into()),
            path: String::new(),
            scores: BTreeMap::new(),
        };
        let back = PageScores::from_text(&p.to_text()).expect("parse");
        assert!(back.scores.is_empty());
    }

    #[test]
    fn versions_and_garbage() {
        assert!(matches!(
            PageScores::from_text("{\"format\":99,\"page\":\"x\",\"scores\":{}}"),
            Err(FileError::TooNew { found: 99 })
        ));
        assert!(matches!(
            PageScores::from_text("{\"format\":0,\"page\":\"x\",\"scores\":{}}"),
            Err(FileError::TooOld { found: 0 })
        ));
        assert!(matches!(
            PageScores::from_text("not json"),
            Err(FileError::Invalid(_))
        ));
        assert!(matches!(
            PageScores::from_text("{\"page\":\"x\"}"),
            Err(FileError::Invalid(_))
        ));
        assert!(matches!(
            PageScores::from_text(
                "{\"format\":1,\"page\":\"x\",\"scores\":{\"t\":{\"final\":\"high\"}}}"
            ),
            Err(FileError::Invalid(_))
        ));
        assert!(matches!(
            PageScores::from_text("{\"format\":1,\"page\":\"x\",\"scores\":{\"t\":{}}}"),
            Err(FileError::Invalid(_))
        ));
    }
}
