//! The Batch API as a resumable state machine persisted under a folder the caller gives
//! (`.taxonomist/batches/` in a site).
//!
//! # Files
//! - `state.json`: the [`BatchState`]: every batch this folder submitted, its stage and API
//!   status, and the pairs to re-queue. Written atomically before and after every network
//!   step, so a crash at any point leaves a state the next command resumes from.
//! - `<local id>.manifest.json`: what a batch asked, one entry per request: its
//!   `custom_id`, the page and its content hash, and for each key the term and its
//!   definition hash at submission time. Results are mapped through it by `custom_id`
//!   only; the scores carry the submission-time hashes, so an edit made while the batch ran
//!   leaves them stale, as it should.
//! - `<local id>.jsonl`: the input file, kept until the batch is created.
//!
//! # Stages
//! `prepared` (files written) → `uploading` → `uploaded` (file id known) → `creating` →
//! `submitted` (batch id known) → `collected`. A batch found in `uploading` is uploaded
//! again (an orphan file at worst); one found in `creating` is first looked for among the
//! account's recent batches by its `taxonomist_local_id` metadata, so a batch created just
//! before a crash is adopted, never paid for twice.
//!
//! # Statuses
//! `validating`, `in_progress`, `finalizing` and `cancelling` are waited for. `completed`,
//! `expired`, `cancelled` and `failed` are collected: answered lines are validated like
//! live replies and scored; failed lines (the error file), invalid replies and lines
//! missing from the output are re-queued, and the next [`submit`] sends them again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use taxonomist_engine::{Flow, Progress, Sink, Work};
use taxonomist_model::{EngineId, Hash, PageId, Site, TermId, Usage};

use crate::api::{BatchObject, BatchStatus, ChatApi, ChatResponse, CreateBatch, RequestCounts};
use crate::live::{BudgetLimit, BudgetTracker, id_with, make_score, response_usage};
use crate::plan::{Builder, plan};
use crate::prompt::Prompts;
use crate::reply::{Judgment, check_reply};
use crate::retry::RetryPolicy;
use crate::util::{add_usage, atomic_write, rfc3339, split_usage, unix_now};
use crate::{ApiError, LlmConfig, LlmError, Prices};

/// The state file's format version.
pub const STATE_FORMAT: u32 = 1;
const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "LOCK";
/// Longest `custom_id` written as is; longer ones name their term list by a digest.
const MAX_CUSTOM_ID: usize = 512;

/// Where a batch is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Input and manifest written locally.
    Prepared,
    /// Upload started (it may or may not have reached the server).
    Uploading,
    /// Uploaded; `file_id` known.
    Uploaded,
    /// Creation started (the batch may or may not exist).
    Creating,
    /// Created; `batch_id` known.
    Submitted,
    /// Results pushed to the sink; nothing more to do.
    Collected,
}

/// Counts of a collected batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// Pairs scored.
    pub scored: usize,
    /// Pairs re-queued (failed lines, invalid replies, missing lines).
    pub requeued: usize,
    /// Pairs whose page or term no longer exists.
    pub dropped: usize,
}

/// One batch in the state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// `b0001`, ... (unique within the folder).
    pub local_id: String,
    /// Where it is.
    pub stage: Stage,
    /// The engine id its scores carry.
    pub engine: EngineId,
    /// Requests (input lines).
    pub requests: usize,
    /// (page, term) pairs.
    pub pairs: usize,
    /// Input file size.
    pub bytes: u64,
    /// Estimated usage at submission.
    pub estimate: Usage,
    /// Prices at submission (for the cost of results).
    pub prices: Prices,
    /// Unix time it was prepared.
    pub prepared_at: u64,
    /// The uploaded input file.
    pub file_id: Option<String>,
    /// The batch.
    pub batch_id: Option<String>,
    /// The last status seen.
    pub status: Option<BatchStatus>,
    /// The last counts seen.
    pub request_counts: Option<RequestCounts>,
    /// The output file, once there is one.
    pub output_file_id: Option<String>,
    /// The error file, once there is one.
    pub error_file_id: Option<String>,
    /// Unix time the batch reached its terminal status.
    pub finished_at: Option<u64>,
    /// Batch-level errors the API reported.
    #[serde(default)]
    pub errors: Vec<String>,
    /// What collecting it gave.
    pub collected: Option<Collected>,
}

impl BatchRecord {
    fn input_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.jsonl", self.local_id))
    }

    fn manifest_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.manifest.json", self.local_id))
    }
}

/// A pair to send again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Requeued {
    /// The page.
    pub page: PageId,
    /// The term.
    pub term: TermId,
    /// Why it is here.
    pub reason: String,
    /// How many batches have tried it.
    pub attempts: u32,
}

/// The state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchState {
    /// [`STATE_FORMAT`].
    pub format: u32,
    /// A random id of this folder, sent as batch metadata with the local id.
    pub instance: String,
    /// The next local id's number.
    pub next_local: u64,
    /// Every batch, oldest first.
    pub batches: Vec<BatchRecord>,
    /// Pairs the next submission sends again.
    pub requeue: Vec<Requeued>,
}

impl BatchState {
    fn new(dir: &Path) -> BatchState {
        let mut h = blake3::Hasher::new();
        h.update(dir.to_string_lossy().as_bytes());
        h.update(&std::process::id().to_le_bytes());
        h.update(
            &std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                .to_le_bytes(),
        );
        BatchState {
            format: STATE_FORMAT,
            instance: h.finalize().to_hex()[..16].to_string(),
            next_local: 1,
            batches: Vec::new(),
            requeue: Vec::new(),
        }
    }

    /// Reads `dir/state.json` (a new state when there is none).
    ///
    /// # Errors
    /// [`LlmError::State`] when the file is unreadable or from a newer format.
    pub fn load(dir: &Path) -> Result<BatchState, LlmError> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BatchState::new(dir)),
            Err(e) => return Err(LlmError::io(&path, e)),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| LlmError::State {
            path: path.clone(),
            message: format!("{e}; it lists batches that may still be running: fix or restore it rather than deleting it"),
        })?;
        let format = v.get("format").and_then(Value::as_u64).unwrap_or(0);
        if format != u64::from(STATE_FORMAT) {
            return Err(LlmError::State {
                path,
                message: format!(
                    "format {format}, this taxonomist reads format {STATE_FORMAT}: use the taxonomist that wrote it to collect its batches"
                ),
            });
        }
        serde_json::from_value(v).map_err(|e| LlmError::State {
            path,
            message: e.to_string(),
        })
    }

    fn save(&self, dir: &Path) -> Result<(), LlmError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| LlmError::State {
            path: dir.join(STATE_FILE),
            message: e.to_string(),
        })?;
        text.push('\n');
        atomic_write(&dir.join(STATE_FILE), text.as_bytes())
    }

    /// Pairs in batches not yet collected.
    fn in_flight(&self, dir: &Path) -> Result<BTreeSet<(PageId, TermId)>, LlmError> {
        let mut out = BTreeSet::new();
        for r in self.batches.iter().filter(|r| r.stage != Stage::Collected) {
            for req in read_manifest(&r.manifest_path(dir))?.requests {
                for t in req.terms {
                    out.insert((req.page.clone(), t.term));
                }
            }
        }
        Ok(out)
    }
}

/// The (page, term) pairs carried by batches in `state_dir` that are not yet collected: a
/// live run leaves them to `collect` rather than paying for them twice. Empty without a
/// state folder.
pub fn in_flight_pairs(state_dir: &Path) -> Result<BTreeSet<(PageId, TermId)>, LlmError> {
    BatchState::load(state_dir)?.in_flight(state_dir)
}

/// One term of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestTerm {
    /// `t1`, ... as in the prompt.
    pub key: String,
    /// The term.
    pub term: TermId,
    /// Its definition hash at submission.
    pub definition_hash: Hash,
}

/// One request of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestRequest {
    /// The line's `custom_id`.
    pub custom_id: String,
    /// The page.
    pub page: PageId,
    /// Its content hash at submission.
    pub content_hash: Hash,
    /// The terms asked, by key.
    pub terms: Vec<ManifestTerm>,
}

/// A batch's manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`STATE_FORMAT`].
    pub format: u32,
    /// The batch's local id.
    pub local_id: String,
    /// Requests in input order (page order, then term order).
    pub requests: Vec<ManifestRequest>,
}

fn read_manifest(path: &Path) -> Result<Manifest, LlmError> {
    let text = std::fs::read_to_string(path).map_err(|e| LlmError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| LlmError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Holds `LOCK` in the state folder; removed on drop.
struct StateLock(PathBuf);

impl StateLock {
    fn take(dir: &Path) -> Result<StateLock, LlmError> {
        std::fs::create_dir_all(dir).map_err(|e| LlmError::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => Ok(StateLock(path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(LlmError::State {
                path,
                message: "another taxonomist batch command is using this folder; if none is running, delete the LOCK file".into(),
            }),
            Err(e) => Err(LlmError::io(path, e)),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The `custom_id` of a request: `<page id>|<term id>|<version>` for one term,
/// `<page id>|<taxonomy>:<slug>,<slug>,…|<version>` for several (keys `t1..` in that
/// order), and `<page id>|<taxonomy>:#<digest>|<version>` when that would be too long.
pub fn custom_id(page: &PageId, terms: &[&TermId], version: &str) -> String {
    let middle = match terms {
        [one] => one.to_string(),
        _ => {
            let tax = terms.first().map_or("", |t| t.taxonomy());
            let slugs: Vec<&str> = terms.iter().map(|t| t.slug()).collect();
            format!("{tax}:{}", slugs.join(","))
        }
    };
    let id = format!("{page}|{middle}|{version}");
    if id.len() <= MAX_CUSTOM_ID {
        return id;
    }
    let mut h = blake3::Hasher::new();
    for t in terms {
        h.update(t.as_str().as_bytes());
        h.update(b"\n");
    }
    let tax = terms.first().map_or("", |t| t.taxonomy());
    format!("{page}|{tax}:#{}|{version}", &h.finalize().to_hex()[..16])
}

/// What [`submit`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SubmitReport {
    /// Batches left half-submitted by an earlier run and finished now.
    pub resumed: Vec<String>,
    /// Batches submitted now (local ids).
    pub submitted: Vec<String>,
    /// Requests submitted now.
    pub requests: usize,
    /// Pairs submitted now.
    pub pairs: usize,
    /// Estimated usage of what was submitted (batch prices).
    pub estimate: Usage,
    /// Pairs skipped because a batch not yet collected already has them.
    pub in_flight: usize,
    /// Pairs taken from the re-queue.
    pub requeued: usize,
    /// Pairs left for a later submission because a cap or budget would be crossed.
    pub left: usize,
    /// The cap that left them.
    pub stopped_by: Option<String>,
    /// Pairs whose request alone is larger than `batch.max_bytes` (never submittable).
    pub oversized: Vec<(PageId, TermId)>,
}

/// Submits `work` (plus re-queued pairs, minus pairs already in a running batch) as
/// batches, after finishing any submission an earlier run left half-done.
///
/// Requests are the live ones (same prompts, same temperature and schema), one JSONL line
/// each, split into files of at most `batch.max_requests` lines and `batch.max_bytes`
/// bytes. When `batch.max_enqueued_tokens` or the budget would be crossed, what fits is
/// submitted and the rest is reported in [`SubmitReport::left`].
///
/// # Errors
/// Configuration and template errors; file errors in `state_dir`; an API error during a
/// network step (the state then says where it stopped, and the next call resumes).
pub fn submit(
    site: &Site,
    work: &Work,
    cfg: &LlmConfig,
    api: &dyn ChatApi,
    state_dir: &Path,
) -> Result<SubmitReport, LlmError> {
    cfg.validate()?;
    let _lock = StateLock::take(state_dir)?;
    let prompts = Prompts::load(cfg.prompt_dir.as_deref())?;
    let id = id_with(cfg, &prompts);
    let policy = RetryPolicy::from_config(cfg);
    let mut state = BatchState::load(state_dir)?;
    let mut report = SubmitReport::default();

    // 1. Finish what an earlier run left half-done.
    for i in 0..state.batches.len() {
        if state.batches[i].stage < Stage::Submitted {
            report.resumed.push(state.batches[i].local_id.clone());
            advance(&mut state, i, api, cfg, &policy, state_dir)?;
        }
    }

    // 2. What to send: the work and the re-queue, less what is already running.
    let in_flight = state.in_flight(state_dir)?;
    let page_index: HashMap<&PageId, usize> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.id, i))
        .collect();
    let term_index: HashMap<&TermId, usize> = site
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    let mut wanted: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (p, ts) in &work.items {
        let Some(page) = site.pages.get(*p) else {
            continue;
        };
        for &t in ts {
            let Some(term) = site.terms.get(t) else {
                continue;
            };
            if in_flight.contains(&(page.id.clone(), term.id.clone())) {
                report.in_flight += 1;
            } else {
                wanted.entry(*p).or_default().insert(t);
            }
        }
    }
    for r in &state.requeue {
        if let (Some(&p), Some(&t)) = (page_index.get(&r.page), term_index.get(&r.term))
            && !in_flight.contains(&(r.page.clone(), r.term.clone()))
            && wanted.entry(p).or_default().insert(t)
        {
            report.requeued += 1;
        }
    }
    let work = Work {
        items: wanted
            .into_iter()
            .map(|(p, ts)| (p, ts.into_iter().collect()))
            .collect(),
    };

    // 3. Lines, within the caps, grouped into files.
    let calls = plan(site, &work, cfg)?;
    let mut builder = Builder::new(cfg, &prompts, site)?;
    let mut budget = BudgetTracker::new(cfg.budget.clone(), cfg.prices.clone(), true);
    let mut groups: Vec<(Vec<u8>, Vec<ManifestRequest>, Usage)> = Vec::new();
    let mut enqueued: u64 = 0;
    let mut submitted_pairs: BTreeSet<(PageId, TermId)> = BTreeSet::new();
    for (ci, call) in calls.iter().enumerate() {
        let built = builder.build(call)?;
        let page = &site.pages[call.page];
        let term_ids: Vec<&TermId> = call.terms.iter().map(|&t| &site.terms[t].id).collect();
        let cid = custom_id(&page.id, &term_ids, &id.version);
        let line = serde_json::json!({
            "custom_id": cid,
            "method": "POST",
            "url": cfg.batch_url(),
            "body": built.request,
        });
        let mut bytes = serde_json::to_vec(&line).map_err(|e| LlmError::Config(e.to_string()))?;
        bytes.push(b'\n');
        if bytes.len() as u64 > cfg.batch.max_bytes {
            for &t in &term_ids {
                report.oversized.push((page.id.clone(), t.clone()));
            }
            continue;
        }
        let cap_hit = cfg
            .batch
            .max_enqueued_tokens
            .filter(|&m| enqueued + built.input_tokens > m)
            .map(|m| format!("batch.max_enqueued_tokens = {m}"));
        let est = budget.estimate(built.input_tokens, built.output_tokens);
        let stop = match cap_hit {
            Some(c) => Some(c),
            None => budget
                .try_reserve(est)
                .err()
                .map(|l: BudgetLimit| format!("budget {l}")),
        };
        if let Some(why) = stop {
            report.stopped_by = Some(why);
            report.left = calls[ci..].iter().map(|c| c.terms.len()).sum();
            break;
        }
        enqueued += built.input_tokens;
        let request = ManifestRequest {
            custom_id: cid,
            page: page.id.clone(),
            content_hash: page.content_hash,
            terms: call
                .terms
                .iter()
                .zip(&built.keys)
                .map(|(&t, k)| ManifestTerm {
                    key: k.clone(),
                    term: site.terms[t].id.clone(),
                    definition_hash: site.terms[t].definition_hash,
                })
                .collect(),
        };
        for t in &request.terms {
            submitted_pairs.insert((page.id.clone(), t.term.clone()));
        }
        let fits = groups.last().is_some_and(|(b, r, _)| {
            r.len() < cfg.batch.max_requests
                && (b.len() + bytes.len()) as u64 <= cfg.batch.max_bytes
        });
        if !fits {
            groups.push((Vec::new(), Vec::new(), Usage::default()));
        }
        if let Some((b, r, u)) = groups.last_mut() {
            b.extend_from_slice(&bytes);
            r.push(request);
            add_usage(u, &est);
        }
    }

    // 4. Each file: write, record, upload, create.
    for (bytes, requests, estimate) in groups {
        let local_id = format!("b{:04}", state.next_local);
        state.next_local += 1;
        let pairs = requests.iter().map(|r| r.terms.len()).sum();
        let record = BatchRecord {
            local_id: local_id.clone(),
            stage: Stage::Prepared,
            engine: id.clone(),
            requests: requests.len(),
            pairs,
            bytes: bytes.len() as u64,
            estimate,
            prices: cfg.prices.clone(),
            prepared_at: unix_now(),
            file_id: None,
            batch_id: None,
            status: None,
            request_counts: None,
            output_file_id: None,
            error_file_id: None,
            finished_at: None,
            errors: Vec::new(),
            collected: None,
        };
        let manifest = Manifest {
            format: STATE_FORMAT,
            local_id: local_id.clone(),
            requests,
        };
        let mtext =
            serde_json::to_string_pretty(&manifest).map_err(|e| LlmError::Config(e.to_string()))?;
        atomic_write(&record.manifest_path(state_dir), mtext.as_bytes())?;
        atomic_write(&record.input_path(state_dir), &bytes)?;
        report.requests += record.requests;
        report.pairs += record.pairs;
        add_usage(&mut report.estimate, &record.estimate);
        state.batches.push(record);
        // Submitted pairs leave the re-queue in the same write that records their batch.
        state
            .requeue
            .retain(|r| !submitted_pairs.contains(&(r.page.clone(), r.term.clone())));
        state.save(state_dir)?;
        let i = state.batches.len() - 1;
        advance(&mut state, i, api, cfg, &policy, state_dir)?;
        report.submitted.push(local_id);
    }
    state.save(state_dir)?;
    Ok(report)
}

/// Moves a batch from wherever it is to `submitted`, saving the state around each step.
fn advance(
    state: &mut BatchState,
    i: usize,
    api: &dyn ChatApi,
    cfg: &LlmConfig,
    policy: &RetryPolicy,
    dir: &Path,
) -> Result<(), LlmError> {
    if matches!(state.batches[i].stage, Stage::Prepared | Stage::Uploading) {
        state.batches[i].stage = Stage::Uploading;
        state.save(dir)?;
        let path = state.batches[i].input_path(dir);
        let bytes = std::fs::read(&path).map_err(|e| LlmError::io(&path, e))?;
        let name = format!("taxonomist-{}.jsonl", state.batches[i].local_id);
        // An upload retried after a timeout leaves an orphan file at worst.
        let file = policy.run(|| api.upload_file(&name, "batch", &bytes), |_| true)?;
        state.batches[i].file_id = Some(file.id);
        state.batches[i].stage = Stage::Uploaded;
        state.save(dir)?;
    }
    if matches!(state.batches[i].stage, Stage::Uploaded | Stage::Creating) {
        let local_id = state.batches[i].local_id.clone();
        let file_id = state.batches[i].file_id.clone().unwrap_or_default();
        let existing = if state.batches[i].stage == Stage::Creating {
            find_created(api, policy, &state.instance, &local_id, &file_id)?
        } else {
            None
        };
        let batch = match existing {
            Some(b) => b,
            None => {
                state.batches[i].stage = Stage::Creating;
                state.save(dir)?;
                let req = CreateBatch {
                    input_file_id: file_id,
                    endpoint: cfg.batch_url().to_string(),
                    completion_window: cfg.batch.completion_window.clone(),
                    metadata: BTreeMap::from([
                        ("taxonomist_local_id".to_string(), local_id),
                        ("taxonomist_state".to_string(), state.instance.clone()),
                        (
                            "taxonomist_engine".to_string(),
                            state.batches[i].engine.to_string(),
                        ),
                    ]),
                };
                // Only errors that prove nothing was created are retried here; after a
                // timeout the batch may exist, and the next run looks for it first.
                policy.run(
                    || api.create_batch(&req),
                    |e| {
                        matches!(
                            e,
                            ApiError::RateLimited { .. } | ApiError::Connection { .. }
                        )
                    },
                )?
            }
        };
        let r = &mut state.batches[i];
        update_record(r, &batch);
        r.stage = Stage::Submitted;
        state.save(dir)?;
        let input = state.batches[i].input_path(dir);
        let _ = std::fs::remove_file(input);
    }
    Ok(())
}

/// A batch created for this local id and file, if the account has one.
fn find_created(
    api: &dyn ChatApi,
    policy: &RetryPolicy,
    instance: &str,
    local_id: &str,
    file_id: &str,
) -> Result<Option<BatchObject>, LlmError> {
    let list = policy.run(|| api.list_batches(100), |_| true)?;
    Ok(list.into_iter().find(|b| {
        let meta = b.metadata.as_ref();
        meta.and_then(|m| m.get("taxonomist_local_id"))
            .map(String::as_str)
            == Some(local_id)
            && meta
                .and_then(|m| m.get("taxonomist_state"))
                .map(String::as_str)
                == Some(instance)
            && b.input_file_id.as_deref() == Some(file_id)
    }))
}

fn update_record(r: &mut BatchRecord, b: &BatchObject) {
    r.batch_id = Some(b.id.clone());
    r.status = Some(b.status);
    r.request_counts = b.request_counts;
    if b.output_file_id.is_some() {
        r.output_file_id.clone_from(&b.output_file_id);
    }
    if b.error_file_id.is_some() {
        r.error_file_id.clone_from(&b.error_file_id);
    }
    if b.status.is_terminal() {
        r.finished_at = b.finished_at().or(r.finished_at).or(Some(unix_now()));
    }
    let errors = b.error_messages();
    if !errors.is_empty() {
        r.errors = errors;
    }
}

/// One batch in a [`StatusReport`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchLine {
    /// Local id.
    pub local_id: String,
    /// API id, once created.
    pub batch_id: Option<String>,
    /// Stage.
    pub stage: Stage,
    /// API status, once known.
    pub status: Option<BatchStatus>,
    /// Counts, once known.
    pub request_counts: Option<RequestCounts>,
    /// Requests.
    pub requests: usize,
    /// Pairs.
    pub pairs: usize,
    /// Batch-level errors.
    pub errors: Vec<String>,
}

/// What [`status`] found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StatusReport {
    /// Every batch not yet collected.
    pub batches: Vec<BatchLine>,
    /// Batches still running (`validating`, `in_progress`, `finalizing`, `cancelling`).
    pub running: usize,
    /// Batches finished and waiting for [`collect`].
    pub ready: usize,
    /// Batches not fully submitted (the next [`submit`] finishes them).
    pub unsubmitted: usize,
    /// Pairs re-queued for the next submission.
    pub requeued: usize,
}

impl StatusReport {
    /// Whether nothing is running: every submitted batch can be collected.
    pub fn is_settled(&self) -> bool {
        self.running == 0
    }
}

/// Polls every submitted, unfinished batch and records its status.
///
/// # Errors
/// File errors in `state_dir`; API errors after retries.
pub fn status(state_dir: &Path, api: &dyn ChatApi) -> Result<StatusReport, LlmError> {
    let _lock = StateLock::take(state_dir)?;
    let policy = RetryPolicy::from_config(&LlmConfig::default());
    let mut state = BatchState::load(state_dir)?;
    let mut report = StatusReport {
        requeued: state.requeue.len(),
        ..StatusReport::default()
    };
    for i in 0..state.batches.len() {
        let r = &state.batches[i];
        if r.stage == Stage::Collected {
            continue;
        }
        if r.stage == Stage::Submitted
            && !r.status.is_some_and(BatchStatus::is_terminal)
            && let Some(bid) = r.batch_id.clone()
        {
            let b = policy.run(|| api.get_batch(&bid), |_| true)?;
            update_record(&mut state.batches[i], &b);
            state.save(state_dir)?;
        }
        let r = &state.batches[i];
        match (r.stage, r.status) {
            (Stage::Submitted, Some(s)) if s.is_terminal() => report.ready += 1,
            (Stage::Submitted, _) => report.running += 1,
            _ => report.unsubmitted += 1,
        }
        report.batches.push(BatchLine {
            local_id: r.local_id.clone(),
            batch_id: r.batch_id.clone(),
            stage: r.stage,
            status: r.status,
            request_counts: r.request_counts,
            requests: r.requests,
            pairs: r.pairs,
            errors: r.errors.clone(),
        });
    }
    Ok(report)
}

/// What [`collect`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CollectReport {
    /// Batches collected now.
    pub collected: Vec<String>,
    /// Pairs scored.
    pub scored: usize,
    /// Pairs re-queued (also pushed to [`Sink::failed`] with the reason).
    pub requeued: usize,
    /// Pairs whose page or term no longer exists.
    pub dropped: usize,
    /// Batches not finished yet.
    pub pending: usize,
    /// Output or error lines whose `custom_id` is not in the manifest, or that do not parse.
    pub unknown_lines: usize,
    /// Usage of the collected results.
    pub usage: Usage,
    /// Whether the sink stopped the collection (the batch being read stays uncollected
    /// and is read again next time).
    pub stopped: bool,
}

/// One line of an output or error file.
enum LineResult {
    Answer(ChatResponse),
    Failed(String),
}

fn read_lines(bytes: &[u8], into: &mut HashMap<String, LineResult>) -> usize {
    let mut unknown = 0;
    for line in String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            unknown += 1;
            continue;
        };
        let Some(cid) = v.get("custom_id").and_then(Value::as_str) else {
            unknown += 1;
            continue;
        };
        let status = v.pointer("/response/status_code").and_then(Value::as_u64);
        let body = v.pointer("/response/body");
        let result = match (status, body) {
            (Some(200), Some(b)) => match serde_json::from_value::<ChatResponse>(b.clone()) {
                Ok(r) => LineResult::Answer(r),
                Err(e) => LineResult::Failed(format!("unreadable response: {e}")),
            },
            _ => {
                let msg = v
                    .pointer("/error/message")
                    .or_else(|| v.pointer("/response/body/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the request failed");
                let code = v
                    .pointer("/error/code")
                    .or_else(|| v.pointer("/response/body/error/code"))
                    .and_then(Value::as_str);
                LineResult::Failed(match (status, code) {
                    (Some(s), Some(c)) => format!("HTTP {s} {c}: {msg}"),
                    (Some(s), None) => format!("HTTP {s}: {msg}"),
                    (None, Some(c)) => format!("{c}: {msg}"),
                    (None, None) => msg.to_string(),
                })
            }
        };
        // An answer wins over an error line for the same request.
        if !matches!(into.get(cid), Some(LineResult::Answer(_))) {
            into.insert(cid.to_string(), result);
        }
    }
    unknown
}

/// Downloads the results of every finished batch, validates them like live replies and
/// pushes scores into `sink` (in manifest order: page order, then term order). Failed
/// lines, invalid replies and lines missing from an expired, cancelled or failed batch go
/// to [`Sink::failed`] and to the re-queue, which the next [`submit`] sends again.
///
/// # Errors
/// File errors in `state_dir`; API errors while downloading (the batch stays uncollected).
pub fn collect(
    site: &Site,
    state_dir: &Path,
    api: &dyn ChatApi,
    sink: &mut dyn Sink,
) -> Result<CollectReport, LlmError> {
    let _lock = StateLock::take(state_dir)?;
    let policy = RetryPolicy::from_config(&LlmConfig::default());
    let mut state = BatchState::load(state_dir)?;
    let mut report = CollectReport::default();
    let pages: HashMap<&PageId, usize> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.id, i))
        .collect();
    let terms: HashMap<&TermId, usize> = site
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    for i in 0..state.batches.len() {
        let r = state.batches[i].clone();
        if r.stage != Stage::Submitted {
            continue;
        }
        let Some(status) = r.status.filter(|s| s.is_terminal()) else {
            report.pending += 1;
            continue;
        };
        let manifest = read_manifest(&r.manifest_path(state_dir))?;
        let mut lines: HashMap<String, LineResult> = HashMap::new();
        for fid in [&r.output_file_id, &r.error_file_id].into_iter().flatten() {
            let bytes = policy.run(|| api.file_content(fid), |_| true)?;
            report.unknown_lines += read_lines(&bytes, &mut lines);
        }
        let known: BTreeSet<&str> = manifest
            .requests
            .iter()
            .map(|q| q.custom_id.as_str())
            .collect();
        report.unknown_lines += lines.keys().filter(|k| !known.contains(k.as_str())).count();
        let computed_at = rfc3339(r.finished_at.unwrap_or_else(unix_now));
        let missing = match status {
            BatchStatus::Failed if !r.errors.is_empty() => {
                format!("the batch failed: {}", r.errors.join("; "))
            }
            s => format!("no result: the batch ended {}", s.as_str()),
        };
        let mut counts = Collected::default();
        let mut requeue: Vec<Requeued> = Vec::new();
        let mut batch_usage = Usage::default();
        let mut stop = false;
        let total: u64 = manifest.requests.iter().map(|q| q.terms.len() as u64).sum();
        push(
            sink.progress(Progress::Phase {
                name: format!("collecting batch {}", r.local_id),
                total,
            }),
            &mut stop,
        );
        for (qi, q) in manifest.requests.iter().enumerate() {
            let keys: Vec<String> = q.terms.iter().map(|t| t.key.clone()).collect();
            let none = || vec![Usage::default(); keys.len()];
            let (results, shares): (Vec<Result<Judgment, String>>, Vec<Usage>) =
                match lines.get(&q.custom_id) {
                    Some(LineResult::Answer(resp)) => {
                        let u = response_usage(resp, &r.prices, true, 0);
                        add_usage(&mut batch_usage, &u);
                        let c = resp.choices.first();
                        let check = check_reply(
                            c.and_then(|c| c.message.content.as_deref()),
                            c.and_then(|c| c.message.refusal.as_deref()),
                            c.and_then(|c| c.finish_reason.as_deref()),
                            &keys,
                        );
                        let general = check.general.join("; ");
                        let results = check
                            .results
                            .into_iter()
                            .map(|res| {
                                res.map_err(|e| {
                                    if general.is_empty() {
                                        e
                                    } else {
                                        format!("{e} ({general})")
                                    }
                                })
                            })
                            .collect();
                        (results, split_usage(&u, keys.len()))
                    }
                    Some(LineResult::Failed(why)) => {
                        (keys.iter().map(|_| Err(why.clone())).collect(), none())
                    }
                    None => (keys.iter().map(|_| Err(missing.clone())).collect(), none()),
                };
            let page_ok = pages.contains_key(&q.page);
            for ((t, res), share) in q.terms.iter().zip(results).zip(shares) {
                if !page_ok || !terms.contains_key(&t.term) {
                    counts.dropped += 1;
                    continue;
                }
                match res {
                    Ok(j) => {
                        counts.scored += 1;
                        let score = make_score(
                            &r.engine,
                            &t.term,
                            q.content_hash,
                            t.definition_hash,
                            &j,
                            &computed_at,
                            share,
                        );
                        push(sink.score(&q.page, score), &mut stop);
                    }
                    Err(why) => {
                        counts.requeued += 1;
                        let reason = format!("batch {}: {why}; re-queued", r.local_id);
                        push(sink.failed(&q.page, &t.term, &reason), &mut stop);
                        requeue.push(Requeued {
                            page: q.page.clone(),
                            term: t.term.clone(),
                            reason: why,
                            attempts: 1,
                        });
                    }
                }
            }
            push(
                sink.progress(Progress::Advance(q.terms.len() as u64)),
                &mut stop,
            );
            let last_of_page = manifest
                .requests
                .get(qi + 1)
                .is_none_or(|n| n.page != q.page);
            if last_of_page && page_ok {
                push(sink.page_done(&q.page), &mut stop);
            }
        }
        push(sink.usage(batch_usage), &mut stop);
        if stop {
            // Not marked collected: the next collect reads it again (pushing the same
            // scores again is harmless; losing them would not be).
            report.stopped = true;
            report.scored += counts.scored;
            report.requeued += counts.requeued;
            return Ok(report);
        }
        for q in requeue {
            match state
                .requeue
                .iter_mut()
                .find(|x| x.page == q.page && x.term == q.term)
            {
                Some(x) => {
                    x.attempts += 1;
                    x.reason = q.reason;
                }
                None => state.requeue.push(q),
            }
        }
        state.requeue.sort();
        let rec = &mut state.batches[i];
        rec.stage = Stage::Collected;
        rec.collected = Some(counts);
        state.save(state_dir)?;
        let _ = std::fs::remove_file(r.manifest_path(state_dir));
        report.collected.push(r.local_id.clone());
        report.scored += counts.scored;
        report.requeued += counts.requeued;
        report.dropped += counts.dropped;
        add_usage(&mut report.usage, &batch_usage);
    }
    Ok(report)
}

/// Records a sink's stop.
fn push(f: Flow, stop: &mut bool) {
    if f == Flow::Stop {
        *stop = true;
    }
}
