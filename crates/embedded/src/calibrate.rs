//! Calibration: features → a 0–100 score on the scale of the LLM judgments we learn from.
//!
//! Two logistic models share one shape: **zero-shot** (embedding and lexical features only)
//! and **learned** (the same plus what labelled pages say). Each predicts the chance that a
//! careful judge (the corpus' LLM) calls the pair Primary; a monotone table then maps the
//! model's logit onto the judge's own score distribution, so that the share of pairs at or
//! above 80 / 60 / 40 matches the judge's share of Primary / Secondary / Tertiary. The
//! parameters are global (never per term), fitted on the whole shared corpus with
//! `taxonomist eval --fit-calibration`, and versioned: a new fit is a new version, which
//! makes every embedded score stale.

// Index loops read like the linear algebra they implement.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

/// Names of the features, in order. `vote`, `prior` and `centroid` are the learned ones.
pub const FEATURES: &[&str] = &[
    "def",
    "td",
    "topics",
    "lex_title",
    "lex_body",
    "lex_cover",
    "exclusion",
    "graph",
    "in_degree",
    "vote",
    "prior",
    "centroid",
];

/// Number of zero-shot features (a prefix of [`FEATURES`]).
pub const ZERO_SHOT_FEATURES: usize = 9;

/// Share of a per-knot ramp blended into the table's scores. The judge gives most pairs 0
/// (and many exactly 80 or 100), so the table has long flat runs: without the ramp every
/// pair on a run ties and a page's ranking falls back to term ids. 5 % moves no score by
/// more than 5 points and keeps the table's knots at the thresholds where they were; on
/// the corpus it lifted zero-shot categories recall@5 from 0.48 to 0.54 (the same model,
/// only ties broken) and left the selection's precision and recall unchanged.
pub const TIE_BREAK: f32 = 0.05;

/// One logistic model plus its output table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Per-feature mean used to standardise inputs.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation used to standardise inputs.
    pub std: Vec<f32>,
    /// Weights on standardised features.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Monotone table `(logit, score)`, sorted by logit; scores in 0–100.
    pub table: Vec<(f32, f32)>,
}

impl Model {
    /// The model's logit for a feature vector (only the first `weights.len()` are used).
    pub fn logit(&self, x: &[f32]) -> f32 {
        let mut z = self.bias;
        for (i, w) in self.weights.iter().enumerate() {
            let v = x.get(i).copied().unwrap_or(0.0);
            z += w * (v - self.mean[i]) / self.std[i];
        }
        z
    }

    /// The calibrated 0–100 score of a logit: piecewise linear through the table's knots,
    /// each knot's score blended with [`TIE_BREAK`] of a ramp that rises by a fixed step
    /// per knot, and a bounded `tanh` tail beyond the end knots. The result is strictly
    /// increasing in the logit and stays within 0–100.
    pub fn score_of_logit(&self, z: f32) -> f32 {
        let t = &self.table;
        if t.is_empty() {
            return 100.0 / (1.0 + (-z).exp());
        }
        let n = t.len();
        let step = 100.0 * TIE_BREAK / (n as f32 + 1.0);
        let knot = |i: usize| (1.0 - TIE_BREAK) * t[i].1 + step * (i as f32 + 1.0);
        if z <= t[0].0 {
            return knot(0) - step * (t[0].0 - z).tanh();
        }
        if z >= t[n - 1].0 {
            return knot(n - 1) + step * (z - t[n - 1].0).tanh();
        }
        for i in 0..n - 1 {
            let (z0, z1) = (t[i].0, t[i + 1].0);
            if z <= z1 {
                let f = if z1 > z0 { (z - z0) / (z1 - z0) } else { 1.0 };
                return knot(i) + f * (knot(i + 1) - knot(i));
            }
        }
        knot(n - 1)
    }

    /// Features → calibrated score.
    pub fn score(&self, x: &[f32]) -> f32 {
        self.score_of_logit(self.logit(x)).clamp(0.0, 100.0)
    }
}

/// The zero-shot and learned models of one taxonomy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// Model on the zero-shot features.
    pub zero_shot: Model,
    /// Model on all features (used when labels exist).
    pub learned: Model,
}

/// The models fitted for one embedder family (`minilm`, `static`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSet {
    /// Used for taxonomies the corpus has no model for.
    pub default: Pair,
    /// Per taxonomy name (`categories`, `tags`), where the corpus had enough judgments.
    #[serde(default)]
    pub taxonomies: std::collections::BTreeMap<String, Pair>,
}

impl ModelSet {
    /// The models for a taxonomy.
    pub fn pair(&self, taxonomy: &str) -> &Pair {
        self.taxonomies.get(taxonomy).unwrap_or(&self.default)
    }
}

/// The calibration the embedded engine scores with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Part of the engine version: changing it makes embedded scores stale.
    pub version: String,
    /// Evidence blend: a term judged on `n` labelled pages takes `n / (n + k0)` of the
    /// learned score and the rest of the zero-shot one.
    pub k0: f32,
    /// Per embedder family.
    pub families: std::collections::BTreeMap<String, ModelSet>,
}

/// The embedder family of an embedder id: `static` for the derived static model,
/// `minilm` otherwise.
pub fn family(embedder_id: &str) -> &'static str {
    if embedder_id.contains("-static") {
        "static"
    } else {
        "minilm"
    }
}

impl Calibration {
    /// The built-in calibration, fitted on the shared corpus (see `calibration.json`).
    pub fn builtin() -> Calibration {
        // The file is ours, checked by a test; a parse failure is a build defect.
        serde_json::from_str(include_str!("calibration.json"))
            .unwrap_or_else(|e| panic!("built-in calibration.json is invalid: {e}"))
    }

    /// The models for an embedder family (the `minilm` set when the family is unknown).
    pub fn models(&self, family: &str) -> Option<&ModelSet> {
        self.families
            .get(family)
            .or_else(|| self.families.get("minilm"))
            .or_else(|| self.families.values().next())
    }

    /// Blended final score: zero-shot, moved toward the learned score by the evidence the
    /// term has (`evidence` = number of labelled pages that judged it).
    pub fn final_score(&self, pair: &Pair, x: &[f32], evidence: usize) -> f32 {
        let zs = pair.zero_shot.score(&x[..ZERO_SHOT_FEATURES.min(x.len())]);
        if evidence == 0 {
            return zs;
        }
        let l = evidence as f32 / (evidence as f32 + self.k0);
        let lr = pair.learned.score(x);
        ((1.0 - l) * zs + l * lr).clamp(0.0, 100.0)
    }
}

/// Fits one model: L2-regularised logistic regression (Newton's method) on standardised
/// features against binary targets, then the output table by matching the model's logit
/// quantiles to the quantiles of `judge_scores` (the judge's own 0–100 scores of the same
/// pairs). Deterministic.
pub fn fit(rows: &[Vec<f32>], positive: &[bool], judge_scores: &[f32], l2: f64) -> Model {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    let mut mean = vec![0f64; d];
    let mut var = vec![0f64; d];
    for r in rows {
        for j in 0..d {
            mean[j] += r[j] as f64 / n.max(1) as f64;
        }
    }
    for r in rows {
        for j in 0..d {
            var[j] += (r[j] as f64 - mean[j]).powi(2) / n.max(1) as f64;
        }
    }
    let std: Vec<f64> = var.iter().map(|v| v.sqrt().max(1e-6)).collect();
    let xs: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            (0..d)
                .map(|j| (r[j] as f64 - mean[j]) / std[j])
                .chain([1.0])
                .collect()
        })
        .collect();
    let p = d + 1;
    let mut w = vec![0f64; p];
    for _ in 0..50 {
        let mut grad = vec![0f64; p];
        let mut hess = vec![vec![0f64; p]; p];
        for (x, &y) in xs.iter().zip(positive) {
            let z: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
            let mu = 1.0 / (1.0 + (-z).exp());
            let r = mu - if y { 1.0 } else { 0.0 };
            let s = (mu * (1.0 - mu)).max(1e-9);
            for i in 0..p {
                grad[i] += r * x[i];
                for j in 0..p {
                    hess[i][j] += s * x[i] * x[j];
                }
            }
        }
        for i in 0..d {
            grad[i] += l2 * w[i];
            hess[i][i] += l2;
        }
        let step = solve(hess, grad);
        let mut max = 0f64;
        for i in 0..p {
            w[i] -= step[i];
            max = max.max(step[i].abs());
        }
        if max < 1e-8 {
            break;
        }
    }
    let model = Model {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std: std.iter().map(|&s| s as f32).collect(),
        weights: w[..d].iter().map(|&x| x as f32).collect(),
        bias: w[d] as f32,
        table: Vec::new(),
    };
    let mut logits: Vec<f32> = rows.iter().map(|r| model.logit(r)).collect();
    let mut judged: Vec<f32> = judge_scores.to_vec();
    logits.sort_by(f32::total_cmp);
    judged.sort_by(f32::total_cmp);
    let mut table = Vec::new();
    if !logits.is_empty() && logits.len() == judged.len() {
        let m = logits.len() - 1;
        for q in 0..=40 {
            let k = (q * m) / 40;
            let (z, s) = (logits[k], judged[k]);
            // Keep the table strictly increasing in z and non-decreasing in score.
            match table.last() {
                Some(&(lz, ls)) if z <= lz => {
                    let last = table.len() - 1;
                    table[last] = (lz, f32::max(ls, s));
                }
                Some(&(_, ls)) => table.push((z, f32::max(ls, s))),
                None => table.push((z, s)),
            }
        }
    }
    Model { table, ..model }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (small systems only).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, piv);
        b.swap(c, piv);
        let d = a[c][c];
        if d.abs() < 1e-12 {
            continue;
        }
        for r in c + 1..n {
            let f = a[r][c] / d;
            if f == 0.0 {
                continue;
            }
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0f64; n];
    for c in (0..n).rev() {
        let mut s = b[c];
        for k in c + 1..n {
            s -= a[c][k] * x[k];
        }
        x[c] = if a[c][c].abs() < 1e-12 {
            0.0
        } else {
            s / a[c][c]
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_calibration_is_well_formed() {
        let c = Calibration::builtin();
        assert!(c.families.contains_key("minilm") && c.families.contains_key("static"));
        for set in c.families.values() {
            for pair in std::iter::once(&set.default).chain(set.taxonomies.values()) {
                assert_eq!(pair.zero_shot.weights.len(), ZERO_SHOT_FEATURES);
                assert_eq!(pair.learned.weights.len(), FEATURES.len());
                for m in [&pair.zero_shot, &pair.learned] {
                    assert!(
                        m.table
                            .windows(2)
                            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
                    );
                    assert!(m.std.iter().all(|s| *s > 0.0));
                }
            }
        }
        assert_eq!(family("all-MiniLM-L6-v2-static256@abc"), "static");
        assert_eq!(family("all-MiniLM-L6-v2@abc"), "minilm");
    }

    #[test]
    fn flat_table_runs_still_rank_and_stay_in_range() {
        // A judge that says 0 for most pairs and 80 or 100 for the rest: long flat runs.
        let m = Model {
            mean: vec![0.0],
            std: vec![1.0],
            weights: vec![1.0],
            bias: 0.0,
            table: vec![
                (-4.0, 0.0),
                (-2.0, 0.0),
                (0.0, 0.0),
                (1.0, 80.0),
                (2.0, 80.0),
                (3.0, 100.0),
            ],
        };
        let mut prev = f32::NEG_INFINITY;
        // Within a few logits of the end knots (f32 tanh saturates further out).
        for i in 0..=320 {
            let z = -8.0 + i as f32 * 0.05;
            let s = m.score(&[z]);
            assert!((0.0..=100.0).contains(&s), "{z}: {s}");
            assert!(s > prev, "not strictly increasing at {z}: {prev} then {s}");
            prev = s;
        }
        // Knots move by at most TIE_BREAK × 100 points.
        for (z, judge) in &m.table {
            assert!((m.score(&[*z]) - judge).abs() <= 100.0 * TIE_BREAK, "{z}");
        }
    }

    #[test]
    fn fit_separates_and_is_monotone() {
        // One informative feature, one noise feature.
        let mut rows = Vec::new();
        let mut pos = Vec::new();
        let mut judge = Vec::new();
        for i in 0..200 {
            let x = i as f32 / 200.0;
            let noise = ((i * 7919) % 13) as f32 / 13.0;
            rows.push(vec![x, noise]);
            pos.push(x > 0.7);
            judge.push(if x > 0.7 { 90.0 } else { 100.0 * x * 0.5 });
        }
        let m = fit(&rows, &pos, &judge, 1.0);
        assert!(m.weights[0] > 1.0, "{:?}", m.weights);
        assert!(
            m.weights[0].abs() > 5.0 * m.weights[1].abs(),
            "{:?}",
            m.weights
        );
        let lo = m.score(&[0.1, 0.5]);
        let hi = m.score(&[0.95, 0.5]);
        assert!(lo < 40.0 && hi >= 80.0, "{lo} {hi}");
        // Monotone in the informative feature.
        let mut prev = -1.0;
        for i in 0..=20 {
            let s = m.score(&[i as f32 / 20.0, 0.5]);
            assert!(s >= prev);
            prev = s;
        }
    }

    #[test]
    fn blend_follows_evidence() {
        let c = Calibration::builtin();
        let pair = c.models("minilm").expect("models").pair("tags");
        let x = vec![0.5; FEATURES.len()];
        let zs = c.final_score(pair, &x, 0);
        assert_eq!(zs, pair.zero_shot.score(&x[..ZERO_SHOT_FEATURES]));
        let lr = pair.learned.score(&x);
        let many = c.final_score(pair, &x, 10_000);
        assert!((many - lr).abs() < 0.5, "{many} {lr}");
    }

    #[test]
    fn solve_small_system() {
        let x = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]);
        assert!((x[0] - 0.8).abs() < 1e-9 && (x[1] - 1.4).abs() < 1e-9);
    }
}
