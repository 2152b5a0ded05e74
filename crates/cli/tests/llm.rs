//! `classify --engine llm|cascade` end to end against the OpenAI-compatible mock server on
//! loopback: live and batch runs on the example site, injected faults, budgets, dry runs,
//! and the API key kept out of every output and file.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use openai_mock::{BatchScenario, Fault, MockServer, Rule, When};
use serde_json::Value;

const KEY: &str = "sk-test-3f9a1c7e-never-shown";
const KEY_ENV: &str = "TAXONOMIST_TEST_LLM_KEY";

/// A copy of the example site whose `[llm]` points at `server`.
fn site_for(server: &MockServer, extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    site_with_timeout(server, extra, 2)
}

fn site_with_timeout(
    server: &MockServer,
    extra: &str,
    timeout_secs: u64,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let (g, site) = copy_site(&example_site());
    let toml = site.join("taxonomist.toml");
    let mut text = std::fs::read_to_string(&toml).expect("read");
    text.push_str(&format!(
        "\n[llm]\nbase_url = \"{}\"\nmodel = \"mock-1\"\napi_key_env = \"{KEY_ENV}\"\ntimeout_secs = {timeout_secs}\nmax_retries = 3\nconcurrency = 2\n{extra}\n[llm.retry]\nmin_delay_ms = 1\nmax_delay_secs = 1\njitter = false\n",
        server.base_url()
    ));
    std::fs::write(&toml, text).expect("write");
    (g, site)
}

fn run(site: &Path, args: &[&str]) -> Output {
    taxonomist()
        .arg("classify")
        .args(args)
        .arg("--site")
        .arg(site)
        .args(["--no-progress", "--embedder", "static"])
        .env(KEY_ENV, KEY)
        .output()
        .expect("run")
}

fn summary(out: &Output) -> Value {
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(out)["summary"].clone()
}

/// Every file under `dir`, as text (lossy).
fn all_text(dir: &Path) -> String {
    let mut s = String::new();
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            s.push_str(&String::from_utf8_lossy(
                &std::fs::read(e.path()).expect("read"),
            ));
        }
    }
    s
}

fn assert_no_key(out: &Output, site: &Path) {
    for (what, text) in [
        ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
        ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
        ("store", all_text(&site.join(".taxonomist"))),
    ] {
        assert!(!text.contains(KEY), "the API key leaked into {what}");
        assert!(
            !text.contains("3f9a1c7e"),
            "part of the key leaked into {what}"
        );
    }
}

/// (page, term) pairs whose stored score came from the LLM (only its scores carry
/// dimensions).
fn llm_pairs_stored(site: &Path) -> usize {
    let mut n = 0;
    for e in walkdir::WalkDir::new(site.join(".taxonomist/scores"))
        .into_iter()
        .flatten()
    {
        if !e.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("read");
        n += text.matches("\"dimensions\"").count();
    }
    n
}

#[test]
fn live_cascade_scores_the_shortlists_and_a_rerun_sends_nothing() {
    let server = MockServer::start(KEY).expect("mock");
    let (_g, site) = site_for(&server, "");
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_no_key(&out, &site);
    let llm = &s["llm"];
    assert!(
        s["engine"]
            .as_str()
            .is_some_and(|e| e.starts_with("cascade"))
    );
    let owed = llm["llm_pairs"].as_u64().expect("pairs");
    assert!(owed > 0);
    assert_eq!(llm["llm_scored"], owed, "{llm}");
    assert_eq!(s["failed"], 0);
    // 29 pages × 41 terms: every pair has a score, the shortlisted ones from the LLM.
    assert_eq!(llm["embedded_scored"], 29 * 41);
    assert_eq!(llm_pairs_stored(&site) as u64, owed);
    let requests = server.chat_requests().len();
    assert_eq!(
        requests as u64,
        llm["report"]["requests"].as_u64().expect("n")
    );
    // Multi-term: one call per page and taxonomy (the example site's shortlists fit one).
    assert!(requests <= 29 * 3, "{requests} calls");

    server.clear_requests();
    let before = all_text(&site.join(".taxonomist/scores"));
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_eq!(server.requests().len(), 0, "a re-run sends nothing");
    assert_eq!(s["scored"], 0);
    assert_eq!(s["files_written"], 0);
    assert_eq!(before, all_text(&site.join(".taxonomist/scores")));

    // `explain` shows the stored scores: no request, no store change.
    let out = taxonomist()
        .args([
            "explain",
            "notes/flaky-tests",
            "--format",
            "json",
            "--no-progress",
        ])
        .args(["--embedder", "static", "--site"])
        .arg(&site)
        .env(KEY_ENV, KEY)
        .output()
        .expect("explain");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        json_of(&out)["engine"]
            .as_str()
            .is_some_and(|e| e.starts_with("cascade"))
    );
    assert_eq!(server.requests().len(), 0);
    assert_eq!(before, all_text(&site.join(".taxonomist/scores")));

    // One page edited: only its shortlist goes back to the LLM.
    let page = site.join("content/notes/flaky-tests.md");
    let text = std::fs::read_to_string(&page).expect("read");
    std::fs::write(
        &page,
        text.replace("check these first", "check these two first"),
    )
    .expect("write");
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_eq!(s["llm"]["embedded_scored"], 41);
    let calls = server.chat_requests();
    assert!(
        !calls.is_empty() && calls.len() <= 3,
        "{} calls",
        calls.len()
    );
    assert!(
        calls.iter().all(|r| r.body.contains("flaky")),
        "only that page"
    );

    // Choosing the embedded engine explicitly replaces the LLM's scores, and says so.
    let stored = llm_pairs_stored(&site);
    assert!(stored > 0);
    server.clear_requests();
    let out = run(&site, &["--engine", "embedded", "-q"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("replacing {stored} LLM scores with embedded ones")),
        "{err}"
    );
    assert_eq!(llm_pairs_stored(&site), 0);
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn every_fault_ends_stored_or_failed_and_a_rerun_finishes_the_rest() {
    let server = MockServer::start(KEY).expect("mock");
    let (_g, site) = site_for(&server, "");
    for (fault, times) in [
        (
            Fault::RateLimit {
                retry_after: Some(0),
            },
            2,
        ),
        (Fault::ServerError(500), 2),
        (Fault::ServerError(503), 1),
        (Fault::MalformedBody, 1),
        (Fault::Hang(std::time::Duration::from_secs(4)), 1),
    ] {
        server.add_rule(Rule {
            when: When::Always,
            fault,
            times: Some(times),
        });
    }
    // Replies that fail validation on every try, for one page: listed as failed.
    server.add_rule(Rule {
        when: When::PromptContains("Flaky tests".into()),
        fault: Fault::MalformedContent,
        times: None,
    });
    for fault in [
        Fault::WrongKey,
        Fault::Truncated,
        Fault::MissingFields,
        Fault::DimensionOutOfRange,
    ] {
        server.add_rule(Rule {
            when: When::Always,
            fault,
            times: Some(1),
        });
    }
    let out = run(&site, &["--format", "json", "-q"]);
    assert_eq!(out.status.code(), Some(1), "failures are findings");
    let s = summary(&out);
    assert_no_key(&out, &site);
    let owed = s["llm"]["llm_pairs"].as_u64().expect("owed");
    let scored = s["llm"]["llm_scored"].as_u64().expect("scored");
    let failed = s["failed"].as_u64().expect("failed");
    assert!(failed > 0, "the always-malformed page fails");
    assert_eq!(scored + failed, owed, "nothing lost: {s}");
    assert_eq!(llm_pairs_stored(&site) as u64, scored);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("flaky-tests"), "{stderr}");

    server.clear_faults();
    server.clear_requests();
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_eq!(s["failed"], 0);
    assert_eq!(
        s["llm"]["llm_pairs"], failed,
        "the re-run owes exactly the failures"
    );
    assert_eq!(s["llm"]["llm_scored"], failed);
    assert_eq!(llm_pairs_stored(&site) as u64, owed);
    server.clear_requests();
    let out = run(&site, &["--format", "json", "-q"]);
    summary(&out);
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn a_budget_stops_cleanly_and_the_next_run_finishes() {
    let server = MockServer::start(KEY).expect("mock");
    let (_g, site) = site_for(&server, "[llm.budget]\nmax_input_tokens = 40000\n");
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    let r = &s["llm"]["report"]["budget"];
    assert_eq!(r["stopped_by"]["limit"], "input_tokens", "{r}");
    let left = r["pairs_left"].as_u64().expect("left");
    assert!(left > 0);
    let scored = s["llm"]["llm_scored"].as_u64().expect("scored");
    assert_eq!(scored + left, s["llm"]["llm_pairs"].as_u64().expect("owed"));
    // The cap is enforced on each call's estimate before it is sent; what the server
    // then reports may differ from the estimate by a few percent.
    assert!(
        r["spent"]["input_tokens"].as_u64().expect("spent") <= 44_000,
        "{r}"
    );
    // Without the cap, the next run sends exactly what was left.
    let toml = site.join("taxonomist.toml");
    let text = std::fs::read_to_string(&toml).expect("read");
    std::fs::write(&toml, text.replace("max_input_tokens = 40000", "")).expect("write");
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_eq!(s["llm"]["llm_pairs"], left);
    assert_eq!(s["llm"]["llm_scored"], left);
}

#[test]
fn dry_runs_send_and_write_nothing_and_the_cascade_is_cheaper() {
    let server = MockServer::start(KEY).expect("mock");
    let (_g, site) = site_for(
        &server,
        "[llm.prices]\ninput_per_million = 0.4\noutput_per_million = 1.6\n",
    );
    let dry = |args: &[&str]| {
        let mut a = vec!["--dry-run", "--format", "json"];
        a.extend_from_slice(args);
        let out = run(&site, &a);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out)
    };
    let per_term = dry(&["--engine", "llm", "--mode", "per-term"]);
    let multi = dry(&["--engine", "llm", "--mode", "multi-term"]);
    let cascade = dry(&[]);
    assert_eq!(cascade["engine"], "cascade");
    assert_eq!(per_term["calls"], 29 * 41);
    assert_eq!(per_term["pairs"], 29 * 41);
    let n = |v: &Value, k: &str| v[k].as_f64().expect(k);
    assert!(n(&multi, "calls") < n(&per_term, "calls"));
    assert!(n(&cascade, "input_tokens") < n(&multi, "input_tokens"));
    assert!(n(&cascade, "cost") > 0.0 && n(&cascade, "cost") < n(&per_term, "cost"));
    assert!(n(&cascade, "batch_cost") < n(&cascade, "cost"));
    assert_eq!(server.requests().len(), 0, "a dry run sends nothing");
    assert!(
        !site.join(".taxonomist/scores").exists(),
        "and writes nothing"
    );
}

#[test]
fn batch_submit_status_collect_then_a_live_rerun_sends_nothing() {
    let server = MockServer::start(KEY).expect("mock");
    // File uploads take longer than a chat call on a busy machine.
    let (_g, site) = site_with_timeout(&server, "", 30);
    server.next_batch(BatchScenario::ExpireHalf);
    let step = |s: &str| {
        let out = run(&site, &["--batch", s, "--format", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{s}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_key(&out, &site);
        json_of(&out)
    };
    let sub = step("submit");
    let pairs = sub["report"]["pairs"].as_u64().expect("pairs");
    assert!(pairs > 0);
    assert_eq!(
        server.chat_requests().len(),
        0,
        "a batch sends no live call"
    );
    // A live run while the batch is in flight leaves its pairs to `collect`.
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_eq!(s["llm"]["left_to_batch"].as_u64(), Some(pairs), "{s}");
    assert_eq!(s["llm"]["llm_pairs"], 0, "{s}");
    assert_eq!(server.chat_requests().len(), 0, "nothing is paid twice");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--batch collect"));
    // The first batch expires half-done: what it lacks is re-queued and sent again.
    let mut collected = 0;
    for _ in 0..20 {
        let st = step("status");
        if st["report"]["ready"].as_u64() > Some(0) {
            let c = step("collect");
            collected += c["report"]["scored"].as_u64().expect("scored");
            if c["report"]["requeued"].as_u64() > Some(0) {
                let again = step("submit");
                assert_eq!(again["report"]["pairs"], c["report"]["requeued"], "{again}");
            }
        }
        if collected == pairs {
            break;
        }
    }
    assert_eq!(collected, pairs, "every pair collected in the end");
    assert!(server.batch_count() >= 2);
    assert_eq!(llm_pairs_stored(&site) as u64, pairs);
    server.clear_requests();
    let out = run(&site, &["--format", "json", "-q"]);
    let s = summary(&out);
    assert_eq!(s["llm"]["llm_pairs"], 0);
    assert_eq!(server.requests().len(), 0, "nothing left to send");
}

#[test]
fn a_wrong_key_stops_the_run_without_showing_the_key() {
    let server = MockServer::start("sk-the-right-one").expect("mock");
    let (_g, site) = site_for(&server, "");
    let out = run(&site, &["--engine", "llm", "--only", "notes/*", "-q"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") || stderr.to_lowercase().contains("auth"),
        "{stderr}"
    );
    assert_no_key(&out, &site);
}
