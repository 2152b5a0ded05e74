//! The dry-run estimate: per-term against multi-term, and against what is really sent.

mod common;

use common::*;
use taxonomist_engine::Work;
use taxonomist_llm::{LlmConfig, Mode, Tokenizer, estimate};
use taxonomist_model::{Site, Taxonomy};

fn cfg(mode: Mode) -> LlmConfig {
    LlmConfig {
        mode,
        prices: taxonomist_llm::Prices {
            input_per_million: 0.40,
            output_per_million: 1.60,
            ..Default::default()
        },
        ..LlmConfig::default()
    }
}

/// `pages` pages against `terms` tags, bodies of a few hundred words.
fn big_site(pages: usize, terms: usize) -> Site {
    let mut site = Site {
        taxonomies: vec![Taxonomy::new("tags", Some("tag"))],
        ..Site::default()
    };
    for t in 0..terms {
        site.terms.push(term(
            "tags",
            &format!("term-{t:03}"),
            &format!("Term {t}"),
            &format!(
                "Pages about topic number {t}: its practices, its history and its trade-offs."
            ),
            &["practices", "history", "trade-offs"],
            &["unrelated topics"],
        ));
    }
    let body = "Teams deliver value in short iterations, inspect results and adapt their plans. "
        .repeat(40);
    for p in 0..pages {
        site.pages.push(page(
            &format!("blog/post-{p:03}"),
            &format!("Post {p}"),
            "A post.",
            &body,
        ));
    }
    site
}

#[test]
fn multi_term_needs_far_fewer_calls_and_tokens() {
    let site = site();
    let work = Work::all(&site);
    let per = estimate(&site, &work, &cfg(Mode::PerTerm)).expect("estimate");
    let multi = estimate(&site, &work, &cfg(Mode::MultiTerm)).expect("estimate");
    eprintln!("test site, per-term:   {per:?}");
    eprintln!("test site, multi-term: {multi:?}");
    assert_eq!((per.calls, per.pairs), (18, 18));
    assert_eq!((multi.calls, multi.pairs), (6, 18));
    assert_eq!(per.output_tokens, 18 * 110);
    assert!(
        multi.input_tokens * 2 < per.input_tokens,
        "{} vs {}",
        multi.input_tokens,
        per.input_tokens
    );
    assert!(multi.cost < per.cost);
    assert!((per.batch_cost - per.cost / 2.0).abs() < 1e-9);
    let expected = per.input_tokens as f64 * 0.40 / 1e6 + per.output_tokens as f64 * 1.60 / 1e6;
    assert!((per.cost - expected).abs() < 1e-12);

    // At a realistic shape the gap is an order of magnitude.
    let big = big_site(20, 30);
    let work = Work::all(&big);
    let per = estimate(&big, &work, &cfg(Mode::PerTerm)).expect("estimate");
    let multi = estimate(&big, &work, &cfg(Mode::MultiTerm)).expect("estimate");
    eprintln!("20 pages x 30 tags, per-term:   {per:?}");
    eprintln!("20 pages x 30 tags, multi-term: {multi:?}");
    assert_eq!(per.calls, 600);
    assert_eq!(multi.calls, 40, "30 terms split at 25 per call");
    let ratio = per.input_tokens as f64 / multi.input_tokens as f64;
    // Measured 7.1: each per-term call resends the page and the rules for one term.
    assert!(ratio > 6.0, "input token ratio {ratio:.1}");
    assert!(per.cost / multi.cost > 2.5);
}

#[test]
fn estimates_match_what_is_sent() {
    // Count the requests the engine really sends with the same tokenizer.
    for mode in [Mode::PerTerm, Mode::MultiTerm] {
        let mock = mock();
        let site = site();
        let cfg = config(&mock, mode);
        let work = Work::all(&site);
        let est = estimate(&site, &work, &cfg).expect("estimate");
        let mut eng = engine(&cfg);
        let mut rec = Recorder::default();
        eng.run(&site, &work, &mut rec).expect("runs");
        let tok = Tokenizer::for_model(&cfg.model);
        let sent: u64 = mock
            .chat_requests()
            .iter()
            .map(|q| {
                let b = q.json();
                let msgs = b["messages"].as_array().cloned().unwrap_or_default();
                let text: usize = msgs
                    .iter()
                    .map(|m| tok.count(m["content"].as_str().unwrap_or("")) + 3)
                    .sum();
                (text + 3) as u64
            })
            .sum();
        let diff = (est.input_tokens as f64 - sent as f64).abs() / sent as f64;
        eprintln!(
            "{mode}: estimated {} input tokens, sent {sent} ({:.2}% off)",
            est.input_tokens,
            diff * 100.0
        );
        assert!(
            diff < 0.02,
            "{mode}: estimate {} vs sent {sent}",
            est.input_tokens
        );
        assert_eq!(est.calls, mock.chat_requests().len());
    }
}

#[test]
fn long_pages_count_as_cut() {
    let mut site = site();
    site.pages[0].body_text = "Kanban boards and flow. ".repeat(5000);
    let mut c = cfg(Mode::MultiTerm);
    c.max_page_tokens = 1000;
    let e = estimate(&site, &Work::all(&site), &c).expect("estimate");
    assert_eq!(e.truncated_pages, 1);
    // Two calls for that page, each under ~1000 tokens of page plus the rest.
    let short = estimate(
        &site,
        &Work {
            items: vec![(1, vec![0, 1])],
        },
        &c,
    )
    .expect("estimate");
    let long = estimate(
        &site,
        &Work {
            items: vec![(0, vec![0, 1])],
        },
        &c,
    )
    .expect("estimate");
    assert!(
        long.input_tokens < short.input_tokens + 1100,
        "{} vs {}",
        long.input_tokens,
        short.input_tokens
    );
}

#[test]
fn invalid_work_is_an_error_not_a_panic() {
    let site = site();
    let e = estimate(
        &site,
        &Work {
            items: vec![(99, vec![0])],
        },
        &cfg(Mode::PerTerm),
    )
    .expect_err("bad page");
    assert!(e.to_string().contains("page 99"), "{e}");
    let e = estimate(
        &site,
        &Work {
            items: vec![(0, vec![99])],
        },
        &cfg(Mode::PerTerm),
    )
    .expect_err("bad term");
    assert!(e.to_string().contains("term 99"), "{e}");
}
