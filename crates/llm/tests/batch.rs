//! The Batch API state machine against the mock server.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use openai_mock::{BatchScenario, Fault, Rule, When};
use taxonomist_engine::Work;
use taxonomist_llm::batch::{self, BatchState, Stage, StatusReport};
use taxonomist_llm::{
    ApiError, BatchObject, BatchStatus, ChatApi, ChatRequest, ChatResponse, CreateBatch,
    FileObject, HttpApi, LlmConfig, Mode,
};

fn settle(dir: &Path, api: &dyn ChatApi) -> (StatusReport, Vec<BatchStatus>) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let s = batch::status(dir, api).expect("status");
        seen.extend(s.batches.iter().filter_map(|b| b.status));
        if s.is_settled() {
            return (s, seen);
        }
    }
    panic!("batches never settled: {seen:?}");
}

fn scored_pairs(rec: &Recorder) -> BTreeSet<(String, String)> {
    rec.scores()
        .into_iter()
        .map(|(p, s)| (p.to_string(), s.term.to_string()))
        .collect()
}

fn all_pairs() -> BTreeSet<(String, String)> {
    let site = site();
    site.pages
        .iter()
        .flat_map(|p| {
            site.terms
                .iter()
                .map(move |t| (p.id.to_string(), t.id.to_string()))
        })
        .collect()
}

#[test]
fn full_batch_run_matches_live() {
    let mock = mock();
    let site = site();
    let cfg = config(&mock, Mode::MultiTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let report =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert_eq!(report.submitted, vec!["b0001"]);
    assert_eq!((report.requests, report.pairs, report.left), (6, 18, 0));
    assert!(report.estimate.input_tokens > 0);

    // The input file: one line per call, custom ids naming page, terms and version.
    let upload = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/files")
        .expect("uploaded");
    assert!(upload.body.contains("name=\"purpose\"\r\n\r\nbatch"));
    let lines: Vec<serde_json::Value> = upload
        .body
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0]["custom_id"],
        "blog/kanban-flow|categories:agile,devops|p1+multi-term"
    );
    assert_eq!(
        lines[1]["custom_id"],
        "blog/kanban-flow|tags:kanban,retrospectives,scrum,testing|p1+multi-term"
    );
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["url"], "/v1/chat/completions");
    assert_eq!(lines[0]["body"]["temperature"], 0.0);
    assert_eq!(
        lines[0]["body"]["response_format"]["json_schema"]["strict"],
        true
    );

    // Every status walked through, then collected.
    let (status, seen) = settle(dir.path(), api.as_ref());
    assert_eq!(status.ready, 1);
    assert_eq!(
        seen,
        vec![
            BatchStatus::InProgress,
            BatchStatus::Finalizing,
            BatchStatus::Completed
        ]
    );
    let mut rec = Recorder::default();
    let c = batch::collect(&site, dir.path(), api.as_ref(), &mut rec).expect("collects");
    assert_eq!(
        (c.scored, c.requeued, c.dropped, c.unknown_lines),
        (18, 0, 0, 0)
    );
    assert!(c.usage.input_tokens > 0);
    // Pushed in page order then term order, though the output file is in another order.
    let order: Vec<(String, String)> = rec.pairs();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(scored_pairs(&rec), all_pairs());

    // The same judgments as live mode (same prompts, same mock).
    let mock2 = common::mock();
    let mut live = engine(&config(&mock2, Mode::MultiTerm));
    let mut live_rec = Recorder::default();
    live.run(&site, &Work::all(&site), &mut live_rec)
        .expect("runs");
    for ((pa, a), (pb, b)) in rec.scores().iter().zip(live_rec.scores()) {
        assert_eq!((pa, &a.term), (&pb, &b.term));
        assert_eq!(a.dimensions, b.dimensions);
        assert_eq!(a.final_score, b.final_score);
        assert_eq!(a.engine, b.engine);
        assert_eq!(a.inputs, b.inputs);
    }

    // Collected: state says so, nothing is left, and running again sends nothing.
    let state = BatchState::load(dir.path()).expect("state");
    assert_eq!(state.batches[0].stage, Stage::Collected);
    assert_eq!(state.batches[0].collected.map(|c| c.scored), Some(18));
    assert!(state.requeue.is_empty());
    let before = mock.requests().len();
    let again = batch::collect(&site, dir.path(), api.as_ref(), &mut Recorder::default())
        .expect("collects");
    assert_eq!(again.scored, 0);
    let resubmit =
        batch::submit(&site, &Work::default(), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert!(resubmit.submitted.is_empty());
    assert_eq!(
        mock.requests().len(),
        before,
        "nothing to do means no request"
    );
    // Only the state file remains.
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, vec!["state.json"]);
}

#[test]
fn pairs_in_flight_are_not_submitted_twice() {
    let mock = mock();
    let site = site();
    let cfg = config(&mock, Mode::PerTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let first =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert_eq!(first.requests, 18);
    let second =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert_eq!(second.in_flight, 18);
    assert!(second.submitted.is_empty());
    assert_eq!(mock.batch_count(), 1);
    let c = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!(c.0.scored, 18);
}

fn first_collect(
    site: &taxonomist_model::Site,
    dir: &Path,
    api: &dyn ChatApi,
) -> (batch::CollectReport, Recorder) {
    settle(dir, api);
    let mut rec = Recorder::default();
    let c = batch::collect(site, dir, api, &mut rec).expect("collects");
    (c, rec)
}

/// A batch that ends half-done: the finished part is collected, the rest re-queued, and
/// the next submission finishes it.
fn partial_then_finish(scenario: BatchScenario) {
    let mock = mock();
    let site = site();
    let cfg = config(&mock, Mode::PerTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    mock.next_batch(scenario);
    batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    let (c, rec) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!(c.scored + c.requeued, 18, "{scenario:?}");
    assert!(c.requeued > 0, "{scenario:?}");
    assert_eq!(rec.failures().len(), c.requeued);
    for (_, _, reason) in rec.failures() {
        assert!(reason.contains("re-queued"), "{reason}");
    }
    let state = BatchState::load(dir.path()).expect("state");
    assert_eq!(state.requeue.len(), c.requeued);
    // Nothing is lost: the next submission, with no new work, sends exactly the rest.
    mock.next_batch(BatchScenario::Immediate);
    let s =
        batch::submit(&site, &Work::default(), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert_eq!((s.requeued, s.pairs), (c.requeued, c.requeued));
    let (c2, rec2) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!((c2.scored, c2.requeued), (c.requeued, 0));
    let mut all = scored_pairs(&rec);
    all.extend(scored_pairs(&rec2));
    assert_eq!(all, all_pairs(), "{scenario:?}");
    assert!(
        BatchState::load(dir.path())
            .expect("state")
            .requeue
            .is_empty()
    );
}

#[test]
fn expired_half_done_is_collected_and_the_rest_requeued() {
    partial_then_finish(BatchScenario::ExpireHalf);
}

#[test]
fn cancelled_batch_keeps_its_finished_part() {
    partial_then_finish(BatchScenario::Cancelled);
}

#[test]
fn failed_batch_requeues_everything() {
    partial_then_finish(BatchScenario::Failed);
    let mock = mock();
    let site = site();
    let cfg = config(&mock, Mode::PerTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    mock.next_batch(BatchScenario::Failed);
    batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    let (status, _) = settle(dir.path(), api.as_ref());
    assert_eq!(status.batches[0].status, Some(BatchStatus::Failed));
    assert!(!status.batches[0].errors.is_empty());
    let (c, rec) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!((c.scored, c.requeued), (0, 18));
    assert!(
        rec.failures()[0].2.contains("the batch failed"),
        "{}",
        rec.failures()[0].2
    );
}

#[test]
fn error_lines_and_invalid_replies_are_requeued() {
    let mock = mock();
    let site = site();
    let cfg = config(&mock, Mode::MultiTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    mock.add_rule(Rule {
        when: When::PromptContains("Managing flow with Kanban".into()),
        fault: Fault::ServerError(500),
        times: None,
    });
    mock.add_rule(Rule {
        when: When::PromptContains("The test pyramid".into()),
        fault: Fault::DimensionOutOfRange,
        times: None,
    });
    mock.add_rule(Rule {
        when: When::PromptContains("Sprints in Scrum".into()),
        fault: Fault::WrongKey,
        times: Some(1),
    });
    batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    let (status, _) = settle(dir.path(), api.as_ref());
    let counts = status.batches[0].request_counts.expect("counts");
    assert_eq!((counts.completed, counts.failed), (4, 2));
    let (c, rec) = first_collect(&site, dir.path(), api.as_ref());
    // Kanban: 6 pairs in the error file. Pyramid: the first term of each call has depth 42.
    // Scrum: one call names t99 instead of t1. Nothing is guessed.
    assert_eq!(c.requeued, 6 + 2 + 1, "{:?}", rec.failures());
    assert_eq!(c.scored, 18 - 9);
    let reasons: Vec<String> = rec.failures().into_iter().map(|f| f.2).collect();
    assert!(reasons.iter().any(|r| r.contains("HTTP 500")));
    assert!(reasons.iter().any(|r| r.contains("depth = 42")));
    assert!(reasons.iter().any(|r| r.contains("unknown key \"t99\"")));
    mock.clear_faults();
    batch::submit(&site, &Work::default(), &cfg, api.as_ref(), dir.path()).expect("submits");
    let (c2, rec2) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!((c2.scored, c2.requeued), (9, 0));
    let mut all = scored_pairs(&rec);
    all.extend(scored_pairs(&rec2));
    assert_eq!(all, all_pairs());
}

#[test]
fn files_are_split_by_the_api_limits() {
    let mock = mock();
    let site = site();
    let mut cfg = config(&mock, Mode::PerTerm);
    cfg.batch.max_requests = 5;
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let r =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert_eq!(r.submitted, vec!["b0001", "b0002", "b0003", "b0004"]);
    assert_eq!(r.requests, 18);
    let (c, _) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!((c.scored, c.collected.len()), (18, 4));

    // By bytes: each line is a few kB, so a 10 kB cap holds a couple.
    let mock = common::mock();
    let mut cfg = config(&mock, Mode::PerTerm);
    cfg.batch.max_bytes = 10_000;
    let api = common::api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let r =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert!(r.submitted.len() > 3, "{r:?}");
    for u in mock.requests().iter().filter(|q| q.path == "/v1/files") {
        assert!(u.body.len() < 10_000 + 400, "{}", u.body.len());
    }
    let (c, _) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!(c.scored, 18);
}

#[test]
fn a_token_cap_submits_what_fits_and_reports_the_rest() {
    let mock = mock();
    let site = site();
    let mut cfg = config(&mock, Mode::PerTerm);
    let one = taxonomist_llm::estimate(
        &site,
        &Work {
            items: vec![(0, vec![0])],
        },
        &cfg,
    )
    .expect("estimate")
    .input_tokens;
    cfg.batch.max_enqueued_tokens = Some(one * 5);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let r =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert!(r.pairs >= 3 && r.pairs < 18, "{r:?}");
    assert_eq!(r.pairs + r.left, 18);
    assert!(
        r.stopped_by
            .as_deref()
            .is_some_and(|s| s.contains("max_enqueued_tokens"))
    );
    assert!(r.estimate.input_tokens <= one * 5);
    // The next submission (same work) skips what is in flight and sends the next slice.
    let r2 =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert_eq!(r2.in_flight, r.pairs);
    assert!(r2.pairs > 0);
}

/// An API that fails on purpose around batch creation, to simulate crashes.
struct Crashy {
    inner: Arc<HttpApi>,
    /// Fail this many uploads before sending them.
    fail_upload: AtomicUsize,
    /// Fail this many creations before sending them.
    fail_create_before: AtomicUsize,
    /// Fail this many creations after the server created the batch.
    fail_create_after: AtomicUsize,
}

fn take(a: &AtomicUsize) -> bool {
    a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl ChatApi for Crashy {
    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ApiError> {
        self.inner.chat(req)
    }
    fn upload_file(
        &self,
        filename: &str,
        purpose: &str,
        bytes: &[u8],
    ) -> Result<FileObject, ApiError> {
        if take(&self.fail_upload) {
            return Err(ApiError::BadRequest {
                status: 413,
                message: "simulated".into(),
            });
        }
        self.inner.upload_file(filename, purpose, bytes)
    }
    fn create_batch(&self, req: &CreateBatch) -> Result<BatchObject, ApiError> {
        if take(&self.fail_create_before) {
            return Err(ApiError::Timeout(Duration::from_secs(1)));
        }
        let b = self.inner.create_batch(req)?;
        if take(&self.fail_create_after) {
            return Err(ApiError::Timeout(Duration::from_secs(1)));
        }
        Ok(b)
    }
    fn get_batch(&self, id: &str) -> Result<BatchObject, ApiError> {
        self.inner.get_batch(id)
    }
    fn list_batches(&self, limit: usize) -> Result<Vec<BatchObject>, ApiError> {
        self.inner.list_batches(limit)
    }
    fn file_content(&self, id: &str) -> Result<Vec<u8>, ApiError> {
        self.inner.file_content(id)
    }
}

fn crashy(cfg: &LlmConfig, upload: usize, before: usize, after: usize) -> Crashy {
    Crashy {
        inner: api(cfg),
        fail_upload: AtomicUsize::new(upload),
        fail_create_before: AtomicUsize::new(before),
        fail_create_after: AtomicUsize::new(after),
    }
}

#[test]
fn a_crash_at_any_step_is_resumed_without_paying_twice() {
    let site = site();
    for (upload, before, after, stage) in [
        (1, 0, 0, Stage::Uploading),
        (0, 1, 0, Stage::Creating),
        (0, 0, 1, Stage::Creating),
    ] {
        let mock = mock();
        let cfg = config(&mock, Mode::MultiTerm);
        let api = crashy(&cfg, upload, before, after);
        let dir = tempfile::tempdir().expect("tempdir");
        let err =
            batch::submit(&site, &Work::all(&site), &cfg, &api, dir.path()).expect_err("crashes");
        assert!(matches!(err, taxonomist_llm::LlmError::Api(_)), "{err}");
        // The state knows where it stopped.
        let state = BatchState::load(dir.path()).expect("state");
        assert_eq!(state.batches.len(), 1);
        assert_eq!(state.batches[0].stage, stage);
        assert!(dir.path().join("b0001.jsonl").exists());
        assert!(dir.path().join("b0001.manifest.json").exists());
        // The next run resumes: one batch in the end, whatever the server saw.
        let r = batch::submit(&site, &Work::all(&site), &cfg, &api, dir.path()).expect("resumes");
        assert_eq!(r.resumed, vec!["b0001"]);
        assert!(r.submitted.is_empty());
        assert_eq!(r.in_flight, 18, "the resumed batch holds every pair");
        assert_eq!(
            mock.batch_count(),
            1,
            "upload {upload}, before {before}, after {after}"
        );
        let uploads = mock
            .requests()
            .iter()
            .filter(|q| q.path == "/v1/files")
            .count();
        assert_eq!(uploads, 1, "a file id once known is reused");
        let (c, _) = first_collect(&site, dir.path(), &api);
        assert_eq!(c.scored, 18);
    }
}

#[test]
fn the_state_folder_is_locked_while_in_use() {
    let mock = mock();
    let site = site();
    let cfg = config(&mock, Mode::MultiTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("LOCK"), "").expect("lock");
    let e = batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path())
        .expect_err("locked");
    assert!(e.to_string().contains("LOCK"), "{e}");
    assert!(mock.requests().is_empty());
    std::fs::remove_file(dir.path().join("LOCK")).expect("unlock");
    batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    assert!(!dir.path().join("LOCK").exists());
}

#[test]
fn azure_batches() {
    let mock = mock();
    let site = site();
    let mut cfg = config(&mock, Mode::MultiTerm);
    cfg.base_url = mock.url();
    cfg.azure_deployment = Some("gpt41-batch".into());
    cfg.azure_api_version = Some("2024-10-21".into());
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    let upload = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/openai/files")
        .expect("uploaded");
    assert_eq!(upload.query, "api-version=2024-10-21");
    assert!(upload.body.contains("\"url\":\"/chat/completions\""));
    assert!(upload.body.contains("\"model\":\"gpt41-batch\""));
    let (c, _) = first_collect(&site, dir.path(), api.as_ref());
    assert_eq!(c.scored, 18);
}

#[test]
fn a_corrupt_or_future_state_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("state.json"), "{ not json").expect("write");
    let e = BatchState::load(dir.path()).expect_err("corrupt");
    assert!(e.to_string().contains("may still be running"), "{e}");
    std::fs::write(dir.path().join("state.json"), "{\"format\": 99}").expect("write");
    let e = BatchState::load(dir.path()).expect_err("future");
    assert!(e.to_string().contains("format 99"), "{e}");
}

#[test]
fn custom_ids() {
    use taxonomist_model::{PageId, TermId};
    let p = PageId("blog/a".into());
    let a = TermId::new("tags", "scrum");
    let b = TermId::new("tags", "kanban");
    assert_eq!(
        batch::custom_id(&p, &[&a], "p1+per-term"),
        "blog/a|tags/scrum|p1+per-term"
    );
    assert_eq!(
        batch::custom_id(&p, &[&a, &b], "p1+multi-term"),
        "blog/a|tags:scrum,kanban|p1+multi-term"
    );
    let many: Vec<TermId> = (0..100)
        .map(|i| TermId::new("tags", &format!("a-rather-long-slug-{i}")))
        .collect();
    let refs: Vec<&TermId> = many.iter().collect();
    let id = batch::custom_id(&p, &refs, "p1+multi-term");
    assert!(id.len() < 80, "{id}");
    assert!(id.starts_with("blog/a|tags:#"));
}
