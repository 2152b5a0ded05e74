//! `taxonomist eval`: how well scores agree with labels.
//!
//! Per taxonomy: recall@k of the labelled terms (the share of a page's positive labels found
//! in its top k, averaged over pages with at least one positive), the best recall@k any
//! ranking could reach given how many positives pages have (`recall_ceiling_at`), capped
//! recall@k (hits over `min(k, positives)`, BEIR's `R_cap@k`: 1.0 is reachable at every k),
//! Spearman
//! correlation between scores and label scores over every judged pair, and precision /
//! recall / F1 of what the selection policy would write. A term the labels never judged for
//! a page counts for ranking (it takes a slot) but never as a false positive.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde::Serialize;

/// The k of recall@k.
pub const KS: [usize; 5] = [1, 3, 5, 10, 20];

/// One page of one taxonomy.
#[derive(Clone, Debug, Default)]
pub struct PageEval {
    /// Final score per term id (every scored term of the taxonomy).
    pub scores: BTreeMap<String, f32>,
    /// Label score (0–100) per judged term id.
    pub labels: BTreeMap<String, f32>,
    /// Term ids the selection policy chose.
    pub selected: Vec<String>,
}

/// Per-term figures.
#[derive(Clone, Debug, Serialize)]
pub struct TermEval {
    /// Term id.
    pub term: String,
    /// Pages labelling it positive.
    pub support: usize,
    /// Pages where the policy selected it (among pages that judged it).
    pub selected: usize,
    /// Selected and positive.
    pub true_positives: usize,
    /// tp / selected.
    pub precision: f64,
    /// tp / support.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
    /// Mean final score where labelled positive.
    pub mean_score_positive: Option<f64>,
    /// Mean final score where labelled negative.
    pub mean_score_negative: Option<f64>,
}

/// One taxonomy's figures.
#[derive(Clone, Debug, Serialize)]
pub struct TaxonomyEval {
    /// Pages with at least one positive label.
    pub pages: usize,
    /// Mean positives per such page.
    pub positives_per_page: f64,
    /// recall@k by k.
    pub recall_at: BTreeMap<String, f64>,
    /// The best recall@k possible given the number of positives per page.
    pub recall_ceiling_at: BTreeMap<String, f64>,
    /// Capped recall@k: hits in the top k over `min(k, positives)`, averaged over pages.
    pub recall_capped_at: BTreeMap<String, f64>,
    /// Spearman rank correlation of final scores with label scores over judged pairs.
    pub spearman: Option<f64>,
    /// Judged pairs.
    pub judged_pairs: usize,
    /// Selection precision (micro).
    pub precision: f64,
    /// Selection recall (micro).
    pub recall: f64,
    /// Selection F1.
    pub f1: f64,
    /// Per term, by id.
    pub terms: Vec<TermEval>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Eval {
    /// `zero-shot` or `leave-one-out`.
    pub mode: String,
    /// Where the labels came from.
    pub labels: String,
    /// Label score from which a label is positive.
    pub threshold: f32,
    /// Engine id.
    pub engine: String,
    /// Per taxonomy.
    pub taxonomies: BTreeMap<String, TaxonomyEval>,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Average ranks (1-based), ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rho (Pearson on average ranks); `None` with fewer than 3 pairs or no spread.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 3 || x.len() != y.len() {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let mut sxy = 0.0;
    let mut sxx = 0.0;
    let mut syy = 0.0;
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        None
    } else {
        Some(sxy / (sxx * syy).sqrt())
    }
}

/// Evaluates one taxonomy.
pub fn evaluate_taxonomy(pages: &[PageEval], threshold: f32) -> TaxonomyEval {
    let mut recall: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut ceiling: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut capped: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut positives_total = 0usize;
    let mut pages_with = 0usize;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let (mut tp, mut sel, mut pos) = (0usize, 0usize, 0usize);
    #[derive(Default)]
    struct Acc {
        support: usize,
        selected: usize,
        tp: usize,
        pos_scores: Vec<f64>,
        neg_scores: Vec<f64>,
    }
    let mut per_term: BTreeMap<String, Acc> = BTreeMap::new();
    for p in pages {
        let positives: BTreeSet<&String> = p
            .labels
            .iter()
            .filter(|(_, s)| **s >= threshold)
            .map(|(t, _)| t)
            .collect();
        for (t, y) in &p.labels {
            if let Some(s) = p.scores.get(t) {
                xs.push(*s as f64);
                ys.push(*y as f64);
                let acc = per_term.entry(t.clone()).or_default();
                if *y >= threshold {
                    acc.pos_scores.push(*s as f64);
                } else {
                    acc.neg_scores.push(*s as f64);
                }
            }
        }
        let selected: BTreeSet<&String> = p.selected.iter().collect();
        for t in &selected {
            if p.labels.contains_key(*t) {
                sel += 1;
                per_term.entry((*t).clone()).or_default().selected += 1;
                if positives.contains(t) {
                    tp += 1;
                    per_term.entry((*t).clone()).or_default().tp += 1;
                }
            }
        }
        for t in &positives {
            per_term.entry((*t).clone()).or_default().support += 1;
        }
        pos += positives.len();
        if positives.is_empty() {
            continue;
        }
        pages_with += 1;
        positives_total += positives.len();
        let mut order: Vec<(&String, f32)> = p.scores.iter().map(|(t, s)| (t, *s)).collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        for k in KS {
            let hit = order
                .iter()
                .take(k)
                .filter(|(t, _)| positives.contains(t))
                .count();
            recall
                .entry(k)
                .or_default()
                .push(hit as f64 / positives.len() as f64);
            ceiling
                .entry(k)
                .or_default()
                .push(k.min(positives.len()) as f64 / positives.len() as f64);
            capped
                .entry(k)
                .or_default()
                .push(hit as f64 / k.min(positives.len()) as f64);
        }
    }
    let mean = |v: &Vec<f64>| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let precision = ratio(tp, sel);
    let rec = ratio(tp, pos);
    let terms = per_term
        .into_iter()
        .map(|(term, a)| {
            let p = ratio(a.tp, a.selected);
            let r = ratio(a.tp, a.support);
            TermEval {
                term,
                support: a.support,
                selected: a.selected,
                true_positives: a.tp,
                precision: round4(p),
                recall: round4(r),
                f1: round4(f1(p, r)),
                mean_score_positive: (!a.pos_scores.is_empty())
                    .then(|| round4(mean(&a.pos_scores))),
                mean_score_negative: (!a.neg_scores.is_empty())
                    .then(|| round4(mean(&a.neg_scores))),
            }
        })
        .collect();
    TaxonomyEval {
        pages: pages_with,
        positives_per_page: round4(ratio(positives_total, pages_with)),
        recall_at: KS
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    round4(mean(recall.get(k).unwrap_or(&Vec::new()))),
                )
            })
            .collect(),
        recall_capped_at: KS
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    round4(mean(capped.get(k).unwrap_or(&Vec::new()))),
                )
            })
            .collect(),
        recall_ceiling_at: KS
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    round4(mean(ceiling.get(k).unwrap_or(&Vec::new()))),
                )
            })
            .collect(),
        spearman: spearman(&xs, &ys).map(round4),
        judged_pairs: xs.len(),
        precision: round4(precision),
        recall: round4(rec),
        f1: round4(f1(precision, rec)),
        terms,
    }
}

impl Eval {
    /// Pretty JSON.
    pub fn write_json(&self, w: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self).map_err(io::Error::other)?;
        writeln!(w)
    }

    /// A table for people; `order` is the taxonomy order, `terms` how many per-term rows
    /// to show (worst F1 first).
    pub fn write_text(&self, w: &mut dyn Write, order: &[String], terms: usize) -> io::Result<()> {
        writeln!(
            w,
            "mode {} · labels {} (positive ≥ {}) · engine {}",
            self.mode, self.labels, self.threshold, self.engine
        )?;
        for name in order {
            let Some(t) = self.taxonomies.get(name) else {
                continue;
            };
            writeln!(
                w,
                "\n{name}: {} pages, {:.1} positives per page, {} judged pairs",
                t.pages, t.positives_per_page, t.judged_pairs
            )?;
            let row = |m: &BTreeMap<String, f64>| {
                KS.iter()
                    .map(|k| format!("@{k} {:.3}", m.get(&k.to_string()).copied().unwrap_or(0.0)))
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            writeln!(w, "  recall   {}", row(&t.recall_at))?;
            writeln!(w, "  ceiling  {}", row(&t.recall_ceiling_at))?;
            writeln!(w, "  capped   {}", row(&t.recall_capped_at))?;
            match t.spearman {
                Some(s) => writeln!(w, "  spearman {s:.3}")?,
                None => writeln!(w, "  spearman n/a")?,
            }
            writeln!(
                w,
                "  selection precision {:.3} recall {:.3} F1 {:.3}",
                t.precision, t.recall, t.f1
            )?;
            if terms > 0 {
                let mut v: Vec<&TermEval> = t.terms.iter().filter(|x| x.support > 0).collect();
                v.sort_by(|a, b| {
                    a.f1.total_cmp(&b.f1)
                        .then_with(|| b.support.cmp(&a.support))
                        .then_with(|| a.term.cmp(&b.term))
                });
                writeln!(
                    w,
                    "  {:<44} {:>7} {:>8} {:>6} {:>6} {:>6}",
                    "term (worst F1 first)", "support", "selected", "P", "R", "F1"
                )?;
                for x in v.iter().take(terms) {
                    writeln!(
                        w,
                        "  {:<44} {:>7} {:>8} {:>6.2} {:>6.2} {:>6.2}",
                        x.term, x.support, x.selected, x.precision, x.recall, x.f1
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(scores: &[(&str, f32)], labels: &[(&str, f32)], selected: &[&str]) -> PageEval {
        PageEval {
            scores: scores.iter().map(|(t, s)| (t.to_string(), *s)).collect(),
            labels: labels.iter().map(|(t, s)| (t.to_string(), *s)).collect(),
            selected: selected.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn recall_precision_and_ceiling() {
        let pages = vec![
            // Positives a, b. Ranking a, c, b.
            page(
                &[("a", 90.0), ("b", 50.0), ("c", 60.0)],
                &[("a", 90.0), ("b", 85.0), ("c", 0.0)],
                &["a", "c"],
            ),
            // No positives: ignored for recall, counts for precision (its selected c is judged negative).
            page(
                &[("a", 10.0), ("c", 70.0)],
                &[("a", 0.0), ("c", 20.0)],
                &["c"],
            ),
            // Unjudged selection (d) is not a false positive.
            page(&[("a", 95.0), ("d", 99.0)], &[("a", 100.0)], &["a", "d"]),
        ];
        let e = evaluate_taxonomy(&pages, 80.0);
        assert_eq!(e.pages, 2);
        assert_eq!(
            e.recall_at["1"],
            (0.5 + 0.0) / 2.0,
            "page 3's top is the unjudged d"
        );
        assert_eq!(e.recall_at["3"], 1.0);
        assert_eq!(e.recall_ceiling_at["1"], (0.5 + 1.0) / 2.0);
        // Capped: page 1 finds a in its top 1 (1 of min(1, 2)); page 3's top is d.
        assert_eq!(e.recall_capped_at["1"], (1.0 + 0.0) / 2.0);
        assert_eq!(e.recall_capped_at["3"], 1.0);
        // tp: a (p1), a (p3) = 2; selected judged: a, c (p1), c (p2), a (p3) = 4; positives 3.
        assert_eq!(e.precision, 0.5);
        assert!((e.recall - 2.0 / 3.0).abs() < 1e-3);
        let a = e.terms.iter().find(|t| t.term == "a").expect("a");
        assert_eq!((a.support, a.selected, a.true_positives), (2, 2, 2));
        assert!(e.spearman.expect("rho") > 0.5);
    }

    #[test]
    fn spearman_handles_ties_and_degenerate_input() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), vec![2.5, 1.0, 2.5]);
    }
}
