//! The confidence formula: the model judges dimensions, the code computes the score.
//!
//! ```text
//! W          = 0.15·mentions + 0.25·alignment + 0.25·depth
//!            + 0.15·intent   + 0.10·audience  + 0.10·signal          (0–10; weights sum to 1)
//! confidence = clamp(10 · (W − penalty_points / 6), 0, 100)
//! final      = confidence                                             (lexical is 0 for LLM scores)
//! ```
//!
//! The weights are the reference system's (its prompt asked the model to do this sum and
//! got it wrong by a factor of ten, and 2–3 points off its own dimensions). Penalties keep
//! the reference's meaning: "up to one point off each of the six dimensions" for outdated
//! practice or a contradicting tone, so `penalty_points` is 0–6 and six points take one
//! point off every dimension, i.e. 10 points of confidence. The level is never asked of the
//! model; it is derived from `final` with the configured thresholds.
//!
//! The formula has a version, [`WEIGHTS_VERSION`]. Stored scores keep their dimensions, so
//! a new formula needs no new calls: [`recompute`] reapplies the current one.

use taxonomist_model::{Dimensions, Score};

/// The version of [`WEIGHTS`] and the penalty rule. Bump it whenever [`confidence`] changes.
pub const WEIGHTS_VERSION: &str = "w1";

/// Dimension weights; they sum to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Direct mentions.
    pub mentions: f32,
    /// Conceptual alignment.
    pub alignment: f32,
    /// Depth of discussion.
    pub depth: f32,
    /// Intent / purpose fit.
    pub intent: f32,
    /// Audience alignment.
    pub audience: f32,
    /// Signal-to-noise.
    pub signal: f32,
}

/// The current weights.
pub const WEIGHTS: Weights = Weights {
    mentions: 0.15,
    alignment: 0.25,
    depth: 0.25,
    intent: 0.15,
    audience: 0.10,
    signal: 0.10,
};

/// Largest penalty a reply may carry.
pub const MAX_PENALTY_POINTS: f32 = 6.0;

fn unit(x: f32, max: f32) -> f32 {
    if x.is_finite() {
        x.clamp(0.0, max)
    } else {
        0.0
    }
}

/// The confidence (0–100) of a set of dimensions under the current formula.
///
/// ```
/// use taxonomist_model::Dimensions;
/// let all = |x: f32| Dimensions {
///     mentions: x, alignment: x, depth: x, intent: x, audience: x, signal: x,
///     ..Default::default()
/// };
/// assert_eq!(taxonomist_llm::confidence(&all(10.0)), 100.0);
/// assert_eq!(taxonomist_llm::confidence(&all(8.0)), 80.0);
/// let penalised = Dimensions { penalty_points: 3.0, ..all(8.0) };
/// assert_eq!(taxonomist_llm::confidence(&penalised), 75.0);
/// ```
pub fn confidence(d: &Dimensions) -> f32 {
    let w = WEIGHTS;
    let weighted = w.mentions * unit(d.mentions, 10.0)
        + w.alignment * unit(d.alignment, 10.0)
        + w.depth * unit(d.depth, 10.0)
        + w.intent * unit(d.intent, 10.0)
        + w.audience * unit(d.audience, 10.0)
        + w.signal * unit(d.signal, 10.0);
    let penalty = unit(d.penalty_points, MAX_PENALTY_POINTS) / MAX_PENALTY_POINTS;
    // Round away float noise (0.1 + 0.2 …) so equal dimensions always give equal text.
    let c = (10.0 * (weighted - penalty)).clamp(0.0, 100.0);
    (c * 1000.0).round() / 1000.0
}

/// The score with `confidence` and `final` recomputed from its dimensions under the
/// current formula. Scores without dimensions (other engines) come back unchanged, and so
/// does everything else: `computed_at` is left alone (recomputing is not re-scoring).
pub fn recompute(score: &Score) -> Score {
    let mut s = score.clone();
    if let Some(d) = &score.dimensions {
        let c = confidence(d);
        s.confidence = c;
        s.lexical = 0.0;
        s.final_score = c;
    }
    s
}

#[cfg(test)]
mod tests {
    use taxonomist_model::{EngineId, Hash, Inputs, TermId};

    use super::*;

    fn dims(m: f32, a: f32, d: f32, i: f32, au: f32, s: f32, p: f32) -> Dimensions {
        Dimensions {
            mentions: m,
            alignment: a,
            depth: d,
            intent: i,
            audience: au,
            signal: s,
            penalty_points: p,
            penalty_details: String::new(),
        }
    }

    #[test]
    fn weights_sum_to_one() {
        let w = WEIGHTS;
        let sum = w.mentions + w.alignment + w.depth + w.intent + w.audience + w.signal;
        assert!((sum - 1.0).abs() < 1e-6);
    }

    #[test]
    fn reference_examples() {
        // 1.35 + 2.3 + 2.275 + 1.35 + 0.88 + 0.9 = 9.055
        let c = confidence(&dims(9.0, 9.2, 9.1, 9.0, 8.8, 9.0, 0.0));
        assert!((c - 90.55).abs() < 0.01, "{c}");
        assert_eq!(confidence(&dims(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)), 0.0);
        // Out-of-range or NaN inputs are clamped, never propagated.
        assert_eq!(
            confidence(&dims(42.0, 10.0, 10.0, 10.0, 10.0, 10.0, -3.0)),
            100.0
        );
        assert_eq!(
            confidence(&dims(f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
            0.0
        );
        // A penalty can never push below zero.
        assert_eq!(confidence(&dims(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 6.0)), 0.0);
    }

    #[test]
    fn recompute_keeps_everything_else() {
        let s = Score {
            term: TermId::new("tags", "scrum"),
            confidence: 12.0,
            lexical: 0.0,
            final_score: 12.0,
            reason: "r".into(),
            dimensions: Some(dims(8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 0.0)),
            engine: EngineId {
                name: "llm".into(),
                model: "m".into(),
                version: "p1+multi-term".into(),
            },
            inputs: Inputs {
                content_hash: Hash::default(),
                definition_hash: Hash::default(),
            },
            computed_at: "2025-01-01T00:00:00Z".into(),
            usage: None,
        };
        let r = recompute(&s);
        assert_eq!(r.confidence, 80.0);
        assert_eq!(r.final_score, 80.0);
        assert_eq!(r.computed_at, s.computed_at);
        assert_eq!(r.engine, s.engine);
        assert_eq!(recompute(&r), r);
        let no_dims = Score {
            dimensions: None,
            ..s.clone()
        };
        assert_eq!(recompute(&no_dims), no_dims);
    }
}
