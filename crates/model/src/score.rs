use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Hash, TermId};

/// The band a final score falls in. Always recomputed from [`Score::final_score`] with the
/// configured [`Thresholds`]; never stored as a reason to re-query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// At or above the primary threshold (default 80).
    Primary,
    /// At or above the secondary threshold (default 60).
    Secondary,
    /// At or above the tertiary threshold (default 40).
    Tertiary,
    /// Below every threshold.
    Ignored,
}

impl Level {
    /// The level's name, as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Primary => "Primary",
            Level::Secondary => "Secondary",
            Level::Tertiary => "Tertiary",
            Level::Ignored => "Ignored",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Level thresholds (inclusive lower bounds). Configuration, never part of a score's
/// freshness: changing them re-levels scores in memory without recomputing anything.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// Lowest Primary score.
    pub primary: f32,
    /// Lowest Secondary score.
    pub secondary: f32,
    /// Lowest Tertiary score.
    pub tertiary: f32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            primary: 80.0,
            secondary: 60.0,
            tertiary: 40.0,
        }
    }
}

impl Thresholds {
    /// The level of a final score.
    pub fn level(&self, final_score: f32) -> Level {
        if final_score >= self.primary {
            Level::Primary
        } else if final_score >= self.secondary {
            Level::Secondary
        } else if final_score >= self.tertiary {
            Level::Tertiary
        } else {
            Level::Ignored
        }
    }
}

/// Which engine produced a score, and which version of it. Part of a score's freshness:
/// a new model, prompt version or calibration version makes old scores stale.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EngineId {
    /// `embedded`, `llm`, `imported`, ...
    pub name: String,
    /// The model (`all-MiniLM-L6-v2`, `gpt-4.1-mini`, ...).
    pub model: String,
    /// Everything else that changes results: prompt and calibration versions.
    pub version: String,
}

impl fmt::Display for EngineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}@{}", self.name, self.model, self.version)
    }
}

/// The inputs a score was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Inputs {
    /// The page's [`crate::Page::content_hash`] at scoring time.
    pub content_hash: Hash,
    /// The term's [`crate::Term::definition_hash`] at scoring time.
    pub definition_hash: Hash,
}

/// LLM dimension scores, each 0–10, as the model returned them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    /// Direct mentions of the term.
    pub mentions: f32,
    /// Conceptual alignment with the definition.
    pub alignment: f32,
    /// Depth of discussion.
    pub depth: f32,
    /// Intent / purpose fit.
    pub intent: f32,
    /// Audience alignment.
    pub audience: f32,
    /// Signal-to-noise.
    pub signal: f32,
    /// Penalty points the model applied (0 when none).
    #[serde(default)]
    pub penalty_points: f32,
    /// Why penalties were applied (empty when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub penalty_details: String,
}

/// Tokens and money one score cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost in the configured currency.
    pub cost: f64,
}

/// One (page, term) judgment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The term judged.
    pub term: TermId,
    /// The engine's own judgment, 0–100.
    pub confidence: f32,
    /// The lexical signal, 0–100.
    pub lexical: f32,
    /// The calibrated score selection and levels use, 0–100.
    #[serde(rename = "final")]
    pub final_score: f32,
    /// Checkable evidence: best matching sentences, matched key topics, fired exclusions.
    pub reason: String,
    /// LLM dimensions, when an LLM scored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    /// The engine and version.
    pub engine: EngineId,
    /// The hashes it was computed from.
    pub inputs: Inputs,
    /// When it was computed (RFC 3339, UTC). Only changes when the score is recomputed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub computed_at: String,
    /// What it cost, when it cost anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Stable formatting for scores in files and reports: at most one decimal, no `-0`, no
/// trailing `.0`. `fmt_score(80.0) == "80"`, `fmt_score(72.449) == "72.4"`.
pub fn fmt_score(x: f32) -> String {
    if !x.is_finite() {
        return "0".to_string();
    }
    let r = (x as f64 * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_inclusive() {
        let t = Thresholds::default();
        assert_eq!(t.level(100.0), Level::Primary);
        assert_eq!(t.level(80.0), Level::Primary);
        assert_eq!(t.level(60.0), Level::Secondary);
        assert_eq!(t.level(59.99), Level::Tertiary);
        assert_eq!(t.level(40.0), Level::Tertiary);
        assert_eq!(t.level(39.0), Level::Ignored);
        let strict = Thresholds {
            primary: 90.0,
            secondary: 70.0,
            tertiary: 50.0,
        };
        assert_eq!(strict.level(80.0), Level::Secondary);
    }

    #[test]
    fn score_format_is_stable() {
        assert_eq!(fmt_score(80.0), "80");
        assert_eq!(fmt_score(72.449), "72.4");
        assert_eq!(fmt_score(72.46), "72.5");
        assert_eq!(fmt_score(-0.01), "0");
        assert_eq!(fmt_score(f32::NAN), "0");
    }
}
