//! The per-page score file: deterministic JSON, one score per line.
//!
//! ```text
//! {"format":1,"page":"blog/first-post","path":"content/blog/first-post.md",
//! "scores":{
//! "tags/ci":{"final":82.3,"confidence":82.3,"lexical":60,"reason":"…","engine":{…},"inputs":{…},"computed_at":"…"},
//! "tags/testing":{…}
//! }}
//! ```
//!
//! The file is valid JSON, keys are sorted (term ids), floats have at most one decimal, and
//! nothing in it changes unless a score is recomputed: a no-op run writes the same bytes,
//! and a diff or merge conflict touches only the lines of the terms that changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taxonomist_model::{Dimensions, EngineId, Inputs, PageId, Score, TermId, Usage};

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
    reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dimensions: Option<Dimensions>,
    engine: EngineId,
    inputs: Inputs,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    computed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Whole {
    format: u32,
    page: PageId,
    #[serde(default)]
    path: String,
    scores: BTreeMap<TermId, Line>,
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
    /// Serialises deterministically.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let head = serde_json::json!({"format": FORMAT, "page": self.page, "path": self.path});
        let head = head.to_string();
        // `{"format":1,"page":…,"path":…}` → open it to append the scores.
        out.push_str(&head[..head.len() - 1]);
        out.push_str(",\n\"scores\":{");
        let mut first = true;
        for (term, s) in &self.scores {
            out.push_str(if first { "\n" } else { ",\n" });
            first = false;
            let line = Line {
                final_score: tidy(s.final_score),
                confidence: tidy(s.confidence),
                lexical: tidy(s.lexical),
                reason: s.reason.clone(),
                dimensions: s.dimensions.clone(),
                engine: s.engine.clone(),
                inputs: s.inputs,
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
        // Check the format first, so a newer file gives the upgrade message.
        let probe: serde_json::Value =
            serde_json::from_str(text).map_err(|e| FileError::Invalid(e.to_string()))?;
        let format = probe
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| FileError::Invalid("missing \"format\"".into()))?
            as u32;
        if format > FORMAT {
            return Err(FileError::TooNew { found: format });
        }
        if format < OLDEST_READABLE {
            return Err(FileError::TooOld { found: format });
        }
        let whole: Whole =
            serde_json::from_value(probe).map_err(|e| FileError::Invalid(e.to_string()))?;
        let scores = whole
            .scores
            .into_iter()
            .map(|(term, l)| {
                let s = Score {
                    term: term.clone(),
                    confidence: l.confidence,
                    lexical: l.lexical,
                    final_score: l.final_score,
                    reason: l.reason,
                    dimensions: l.dimensions,
                    engine: l.engine,
                    inputs: l.inputs,
                    computed_at: l.computed_at,
                    usage: l.usage,
                };
                (term, s)
            })
            .collect();
        let _ = whole.format;
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
