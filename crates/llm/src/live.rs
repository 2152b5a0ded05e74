//! Live scoring: bounded concurrency, retries, validation, budget, deterministic output.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use taxonomist_engine::{Engine, EngineError, Flow, Progress, RunSummary, Sink, Work};
use taxonomist_model::{EngineId, Inputs, PageId, Score, Site, TermId, Usage};

use crate::api::{ChatApi, ChatRequest, ChatResponse};
use crate::formula::confidence;
use crate::plan::{Builder, Call, follow_up, output_estimate, plan};
use crate::prompt::{PROMPT_VERSION, Prompts};
use crate::reply::{Judgment, check_reply};
use crate::retry::RetryPolicy;
use crate::util::{add_usage, rfc3339, split_usage, unix_now};
use crate::{ApiError, Budget, HttpApi, LlmConfig, LlmError, Prices};

/// The engine id scores made with `cfg` carry:
/// `llm : <model> @ <PROMPT_VERSION>+<mode>[+tpl-<hash of override templates>]`.
///
/// The confidence formula's version ([`crate::WEIGHTS_VERSION`]) is deliberately not part
/// of it: scores keep their dimensions and [`crate::recompute`] reapplies a new formula
/// without a call, so a formula change must not make stored scores stale (which would
/// re-query every pair).
///
/// # Errors
/// [`LlmError::Template`] when an override template does not load.
pub fn engine_id(cfg: &LlmConfig) -> Result<EngineId, LlmError> {
    let prompts = Prompts::load(cfg.prompt_dir.as_deref())?;
    Ok(id_with(cfg, &prompts))
}

pub(crate) fn id_with(cfg: &LlmConfig, prompts: &Prompts) -> EngineId {
    EngineId {
        name: "llm".into(),
        model: cfg.model.clone(),
        version: format!("{PROMPT_VERSION}+{}{}", cfg.mode, prompts.version_suffix()),
    }
}

/// Which budget limit stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "limit", content = "value")]
pub enum BudgetLimit {
    /// `budget.max_input_tokens`.
    InputTokens(u64),
    /// `budget.max_output_tokens`.
    OutputTokens(u64),
    /// `budget.max_cost`.
    Cost(f64),
}

impl fmt::Display for BudgetLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetLimit::InputTokens(n) => write!(f, "max_input_tokens = {n}"),
            BudgetLimit::OutputTokens(n) => write!(f, "max_output_tokens = {n}"),
            BudgetLimit::Cost(c) => write!(f, "max_cost = {c}"),
        }
    }
}

/// Where a run stands against its budget.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BudgetReport {
    /// The limit that stopped the run, if one did.
    pub stopped_by: Option<BudgetLimit>,
    /// What was spent (actual usage as the server reported it).
    pub spent: Usage,
    /// Calls not made.
    pub calls_left: usize,
    /// Pairs not scored because of that (they are neither scored nor failed: a later run
    /// picks them up).
    pub pairs_left: usize,
    /// Estimated usage of the calls not made.
    pub left_estimate: Usage,
}

/// What a live run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LiveReport {
    /// Pairs scored and failed, and whether the run stopped early.
    #[serde(skip)]
    pub summary: RunSummary,
    /// Calls planned.
    pub calls: usize,
    /// HTTP requests answered or failed for good (validation retries included, transport
    /// retries not).
    pub requests: usize,
    /// Total usage.
    pub usage: Usage,
    /// Budget figures.
    pub budget: BudgetReport,
    /// Pages whose content was cut to `max_page_tokens`.
    pub truncated_pages: usize,
    /// The error that stopped the run (authentication, a wrong URL or model), if any.
    pub fatal: Option<String>,
}

/// Tracks spending against a [`Budget`]: actual usage plus what calls in flight reserved.
#[derive(Debug)]
pub(crate) struct BudgetTracker {
    limits: Budget,
    prices: Prices,
    batch: bool,
    spent: Usage,
    reserved: Usage,
}

impl BudgetTracker {
    pub fn new(limits: Budget, prices: Prices, batch: bool) -> BudgetTracker {
        BudgetTracker {
            limits,
            prices,
            batch,
            spent: Usage::default(),
            reserved: Usage::default(),
        }
    }

    pub fn estimate(&self, input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cost: self.prices.cost(input, 0, output, self.batch),
        }
    }

    /// Reserves an estimate, or names the limit it would cross.
    pub fn try_reserve(&mut self, est: Usage) -> Result<Usage, BudgetLimit> {
        let input = self.spent.input_tokens + self.reserved.input_tokens + est.input_tokens;
        let output = self.spent.output_tokens + self.reserved.output_tokens + est.output_tokens;
        let cost = self.spent.cost + self.reserved.cost + est.cost;
        if let Some(m) = self.limits.max_input_tokens.filter(|&m| input > m) {
            return Err(BudgetLimit::InputTokens(m));
        }
        if let Some(m) = self.limits.max_output_tokens.filter(|&m| output > m) {
            return Err(BudgetLimit::OutputTokens(m));
        }
        if let Some(m) = self.limits.max_cost.filter(|&m| cost > m + 1e-12) {
            return Err(BudgetLimit::Cost(m));
        }
        add_usage(&mut self.reserved, &est);
        Ok(est)
    }

    /// Releases a reservation and records the actual usage.
    pub fn settle(&mut self, reserved: Usage, actual: Usage) {
        self.reserved.input_tokens = self
            .reserved
            .input_tokens
            .saturating_sub(reserved.input_tokens);
        self.reserved.output_tokens = self
            .reserved
            .output_tokens
            .saturating_sub(reserved.output_tokens);
        self.reserved.cost = (self.reserved.cost - reserved.cost).max(0.0);
        add_usage(&mut self.spent, &actual);
    }

    pub fn spent(&self) -> Usage {
        self.spent
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The usage of one response: the server's counts, or the estimate when it sent none.
pub(crate) fn response_usage(
    resp: &ChatResponse,
    prices: &Prices,
    batch: bool,
    est_input: u64,
) -> Usage {
    match resp.usage {
        Some(u) => Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cost: prices.cost(u.prompt_tokens, u.cached(), u.completion_tokens, batch),
        },
        None => {
            let out = resp
                .choices
                .first()
                .and_then(|c| c.message.content.as_deref())
                .map_or(0, |c| c.len() as u64 / 4);
            Usage {
                input_tokens: est_input,
                output_tokens: out,
                cost: prices.cost(est_input, 0, out, batch),
            }
        }
    }
}

/// A call handed to a worker.
struct Job {
    index: usize,
    request: ChatRequest,
    keys: Vec<String>,
    input_estimate: u64,
    reservation: Usage,
}

/// What a worker brings back.
struct Outcome {
    results: Vec<Result<Judgment, String>>,
    usage: Usage,
    requests: usize,
    fatal: Option<ApiError>,
}

/// Everything a worker needs, shared by reference.
struct Worker<'a> {
    api: &'a dyn ChatApi,
    cfg: &'a LlmConfig,
    policy: &'a RetryPolicy,
    budget: &'a Mutex<BudgetTracker>,
}

impl Worker<'_> {
    fn send(&self, req: &ChatRequest) -> Result<ChatResponse, ApiError> {
        self.policy.run(|| self.api.chat(req), |_| true)
    }

    fn execute(&self, job: &Job) -> Outcome {
        let n = job.keys.len();
        let mut usage = Usage::default();
        let mut requests = 1;
        let mut reserved = job.reservation;
        let resp = match self.send(&job.request) {
            Ok(r) => r,
            Err(e) => {
                lock(self.budget).settle(reserved, usage);
                return Outcome {
                    results: (0..n).map(|_| Err(e.to_string())).collect(),
                    usage,
                    requests,
                    fatal: e.stops_run().then_some(e),
                };
            }
        };
        add_usage(
            &mut usage,
            &response_usage(&resp, &self.cfg.prices, false, job.input_estimate),
        );
        let choice = resp.choices.first();
        let content = choice.and_then(|c| c.message.content.as_deref());
        let refusal = choice.and_then(|c| c.message.refusal.as_deref());
        let finish = choice.and_then(|c| c.finish_reason.as_deref());
        let check = check_reply(content, refusal, finish, &job.keys);
        let mut results = check.results.clone();
        if check.has_problems() {
            // Ask once more, for the failed keys only, with the problems spelled out.
            let failed: Vec<usize> = (0..n).filter(|&i| results[i].is_err()).collect();
            let failed_keys: Vec<String> = failed.iter().map(|&i| job.keys[i].clone()).collect();
            let previous = content.or(refusal).unwrap_or("(no content)");
            let req = follow_up(
                self.cfg,
                &job.request,
                previous,
                &check.problem_text(&job.keys),
                &failed_keys,
            );
            let est = {
                let b = lock(self.budget);
                b.estimate(
                    usage.input_tokens + usage.output_tokens + 150,
                    output_estimate(failed.len()),
                )
            };
            let reservation = lock(self.budget).try_reserve(est);
            match reservation {
                Err(limit) => {
                    for &i in &failed {
                        if let Err(e) = &mut results[i] {
                            e.push_str(&format!(
                                " (not asked again: the budget {limit} would be exceeded)"
                            ));
                        }
                    }
                }
                Ok(r) => {
                    add_usage(&mut reserved, &r);
                    requests += 1;
                    match self.send(&req) {
                        Ok(resp2) => {
                            add_usage(
                                &mut usage,
                                &response_usage(&resp2, &self.cfg.prices, false, est.input_tokens),
                            );
                            let c2 = resp2.choices.first();
                            let check2 = check_reply(
                                c2.and_then(|c| c.message.content.as_deref()),
                                c2.and_then(|c| c.message.refusal.as_deref()),
                                c2.and_then(|c| c.finish_reason.as_deref()),
                                &failed_keys,
                            );
                            for (j, &i) in failed.iter().enumerate() {
                                results[i] = check2.results[j]
                                    .clone()
                                    .map_err(|e| format!("{e} (also after one retry)"));
                            }
                        }
                        Err(e) => {
                            for &i in &failed {
                                if let Err(first) = &mut results[i] {
                                    first.push_str(&format!("; the retry failed: {e}"));
                                }
                            }
                        }
                    }
                }
            }
        }
        lock(self.budget).settle(reserved, usage);
        Outcome {
            results,
            usage,
            requests,
            fatal: None,
        }
    }
}

/// The LLM engine.
///
/// Built from an [`LlmConfig`] and a [`ChatApi`] (usually [`HttpApi`]); implements
/// [`Engine`]. [`LlmEngine::run`] gives the full [`LiveReport`] (budget, usage); the
/// [`Engine::score`] form keeps it for [`LlmEngine::last_report`].
pub struct LlmEngine {
    cfg: LlmConfig,
    api: Arc<dyn ChatApi>,
    prompts: Prompts,
    clock: Arc<dyn Fn() -> String + Send + Sync>,
    last: Option<LiveReport>,
}

impl fmt::Debug for LlmEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmEngine")
            .field("cfg", &self.cfg)
            .field("prompts", &self.prompts)
            .finish_non_exhaustive()
    }
}

impl LlmEngine {
    /// An engine over `api`.
    ///
    /// # Errors
    /// [`LlmError::Config`] for an invalid configuration, [`LlmError::Template`] for
    /// override templates that do not load.
    pub fn new(cfg: LlmConfig, api: Arc<dyn ChatApi>) -> Result<LlmEngine, LlmError> {
        cfg.validate()?;
        let prompts = Prompts::load(cfg.prompt_dir.as_deref())?;
        Ok(LlmEngine {
            cfg,
            api,
            prompts,
            clock: Arc::new(|| rfc3339(unix_now())),
            last: None,
        })
    }

    /// An engine over HTTP, with the key from the environment variable the configuration
    /// names.
    ///
    /// # Errors
    /// As [`LlmEngine::new`].
    pub fn from_env(cfg: LlmConfig) -> Result<LlmEngine, LlmError> {
        let api = HttpApi::from_config(&cfg)?;
        LlmEngine::new(cfg, Arc::new(api))
    }

    /// Replaces the clock that stamps `computed_at` (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> String + Send + Sync + 'static) -> LlmEngine {
        self.clock = Arc::new(clock);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    /// The report of the last [`Engine::score`] or [`LlmEngine::run`].
    pub fn last_report(&self) -> Option<&LiveReport> {
        self.last.as_ref()
    }

    /// Scores `work`, pushing scores, failures, usage and progress into `sink` in a
    /// deterministic order (page order, then term order), whatever order the calls finish
    /// in. At most `concurrency` calls are in flight.
    ///
    /// A pair that cannot be scored goes to [`Sink::failed`] with the reason and the run
    /// goes on. The run stops early, keeping everything pushed, when the sink says stop,
    /// when the next call would cross a budget limit (see [`LiveReport::budget`]), or when
    /// an error makes every call fail (authentication, a wrong URL or model): then the
    /// error is returned after the calls in flight are pushed, and the report is kept.
    ///
    /// # Errors
    /// [`LlmError::Config`] for work naming unknown pages or terms; [`LlmError::Api`] for a
    /// run-stopping API error.
    pub fn run(
        &mut self,
        site: &Site,
        work: &Work,
        sink: &mut dyn Sink,
    ) -> Result<LiveReport, LlmError> {
        let calls = plan(site, work, &self.cfg)?;
        let id = id_with(&self.cfg, &self.prompts);
        let mut builder = Builder::new(&self.cfg, &self.prompts, site)?;
        let policy = RetryPolicy::from_config(&self.cfg);
        let budget = Mutex::new(BudgetTracker::new(
            self.cfg.budget.clone(),
            self.cfg.prices.clone(),
            false,
        ));
        let pairs: usize = calls.iter().map(|c| c.terms.len()).sum();
        let mut em = Emitter {
            site,
            calls: &calls,
            sink,
            id: &id,
            clock: self.clock.as_ref(),
            report: LiveReport {
                calls: calls.len(),
                ..LiveReport::default()
            },
            stop: false,
            next: 0,
        };
        em.flow(Progress::Phase {
            name: "llm scoring".into(),
            total: pairs as u64,
        });
        let workers = self.cfg.concurrency.min(calls.len()).max(1);
        let worker = Worker {
            api: self.api.as_ref(),
            cfg: &self.cfg,
            policy: &policy,
            budget: &budget,
        };
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Mutex::new(job_rx);
        let (res_tx, res_rx) = mpsc::channel::<(usize, Outcome)>();
        let mut fatal: Option<ApiError> = None;
        let mut build_error: Option<LlmError> = None;
        std::thread::scope(|s| {
            for _ in 0..workers {
                let tx = res_tx.clone();
                let (rx, worker) = (&job_rx, &worker);
                s.spawn(move || {
                    loop {
                        let job = lock(rx).recv();
                        let Ok(job) = job else { break };
                        let out = worker.execute(&job);
                        if tx.send((job.index, out)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(res_tx);
            let job_tx = job_tx;
            let mut dispatched = 0;
            let mut in_flight = 0;
            let mut done: BTreeMap<usize, Outcome> = BTreeMap::new();
            loop {
                let halted = em.stop
                    || fatal.is_some()
                    || em.report.budget.stopped_by.is_some()
                    || build_error.is_some();
                while !halted && in_flight < workers && dispatched < calls.len() {
                    let call = &calls[dispatched];
                    let built = match builder.build(call) {
                        Ok(b) => b,
                        Err(e) => {
                            build_error = Some(e);
                            break;
                        }
                    };
                    let est = lock(&budget).estimate(built.input_tokens, built.output_tokens);
                    let reservation = match lock(&budget).try_reserve(est) {
                        Ok(r) => r,
                        Err(limit) => {
                            em.report.budget.stopped_by = Some(limit);
                            break;
                        }
                    };
                    let job = Job {
                        index: dispatched,
                        request: built.request,
                        keys: built.keys,
                        input_estimate: built.input_tokens,
                        reservation,
                    };
                    if job_tx.send(job).is_err() {
                        break;
                    }
                    dispatched += 1;
                    in_flight += 1;
                }
                if in_flight == 0 {
                    break;
                }
                let Ok((index, outcome)) = res_rx.recv() else {
                    break;
                };
                in_flight -= 1;
                if fatal.is_none() {
                    fatal = outcome.fatal.clone();
                }
                done.insert(index, outcome);
                while let Some(o) = done.remove(&em.next) {
                    em.emit(o, dispatched);
                }
            }
            drop(job_tx);
            em.finish(dispatched);
            // Budget figures for what was not sent.
            for call in &calls[dispatched..] {
                if let Ok((i, o)) = builder.estimate(call) {
                    let est = lock(&budget).estimate(i, o);
                    add_usage(&mut em.report.budget.left_estimate, &est);
                }
                em.report.budget.calls_left += 1;
                em.report.budget.pairs_left += call.terms.len();
            }
        });
        if let Some(limit) = em.report.budget.stopped_by {
            let b = &em.report.budget;
            let note = format!(
                "llm budget {limit} reached: {} calls ({} pairs, about {} input tokens) not sent",
                b.calls_left, b.pairs_left, b.left_estimate.input_tokens
            );
            em.flow(Progress::Note(note));
        }
        let mut report = em.report;
        report.budget.spent = lock(&budget).spent();
        report.truncated_pages = {
            let mut pages: Vec<usize> = calls.iter().map(|c| c.page).collect();
            pages.dedup();
            pages.into_iter().filter(|&p| builder.truncated(p)).count()
        };
        report.summary.stopped = report.summary.stopped
            || report.budget.stopped_by.is_some()
            || fatal.is_some()
            || report.budget.calls_left > 0;
        report.fatal = fatal.as_ref().map(ToString::to_string);
        self.last = Some(report.clone());
        if let Some(e) = build_error {
            return Err(e);
        }
        if let Some(e) = fatal {
            return Err(LlmError::Api(e));
        }
        Ok(report)
    }
}

/// Pushes outcomes into the sink in call order.
struct Emitter<'a> {
    site: &'a Site,
    calls: &'a [Call],
    sink: &'a mut dyn Sink,
    id: &'a EngineId,
    clock: &'a (dyn Fn() -> String + Send + Sync),
    report: LiveReport,
    stop: bool,
    /// The next call to emit.
    next: usize,
}

impl Emitter<'_> {
    fn flow(&mut self, event: Progress) {
        let f = self.sink.progress(event);
        self.check(f);
    }

    fn check(&mut self, f: Flow) {
        if f == Flow::Stop {
            self.stop = true;
            self.report.summary.stopped = true;
        }
    }

    /// Emits the outcome of call `self.next`; `dispatched` calls were sent in all.
    fn emit(&mut self, o: Outcome, dispatched: usize) {
        let call = &self.calls[self.next];
        let page = &self.site.pages[call.page];
        self.report.requests += o.requests;
        add_usage(&mut self.report.usage, &o.usage);
        let f = self.sink.usage(o.usage);
        self.check(f);
        let shares = split_usage(&o.usage, call.terms.len());
        let now = (self.clock)();
        for ((&t, result), share) in call.terms.iter().zip(o.results).zip(shares) {
            let term = &self.site.terms[t];
            let f = match result {
                Ok(j) => {
                    self.report.summary.scored += 1;
                    let score = make_score(
                        self.id,
                        &term.id,
                        page.content_hash,
                        term.definition_hash,
                        &j,
                        &now,
                        share,
                    );
                    self.sink.score(&page.id, score)
                }
                Err(reason) => {
                    self.report.summary.failed += 1;
                    self.sink.failed(&page.id, &term.id, &reason)
                }
            };
            self.check(f);
        }
        self.flow(Progress::Advance(call.terms.len() as u64));
        self.next += 1;
        let page_complete = match self.calls.get(self.next) {
            Some(n) => n.page != call.page,
            None => true,
        };
        if page_complete && self.next <= dispatched {
            let f = self.sink.page_done(&page.id);
            self.check(f);
        }
    }

    /// After the last outcome: a page whose later calls were never sent is done too.
    fn finish(&mut self, dispatched: usize) {
        if self.next == dispatched && self.next > 0 && self.next < self.calls.len() {
            let prev = &self.calls[self.next - 1];
            if self.calls[self.next].page == prev.page {
                let id: PageId = self.site.pages[prev.page].id.clone();
                let f = self.sink.page_done(&id);
                self.check(f);
            }
        }
    }
}

/// A score from a judgment.
pub(crate) fn make_score(
    id: &EngineId,
    term: &TermId,
    content_hash: taxonomist_model::Hash,
    definition_hash: taxonomist_model::Hash,
    j: &Judgment,
    computed_at: &str,
    usage: Usage,
) -> Score {
    let dims = j.dimensions();
    let c = confidence(&dims);
    Score {
        term: term.clone(),
        confidence: c,
        lexical: 0.0,
        final_score: c,
        reason: j.reason.trim().to_string(),
        dimensions: Some(dims),
        engine: id.clone(),
        inputs: Inputs {
            content_hash,
            definition_hash,
        },
        computed_at: computed_at.to_string(),
        usage: Some(usage),
    }
}

impl Engine for LlmEngine {
    fn id(&self) -> EngineId {
        id_with(&self.cfg, &self.prompts)
    }

    fn score(
        &mut self,
        site: &Site,
        work: &Work,
        sink: &mut dyn Sink,
    ) -> Result<RunSummary, EngineError> {
        self.run(site, work, sink)
            .map(|r| r.summary)
            .map_err(|e| match e {
                LlmError::Config(_) | LlmError::Template { .. } => {
                    EngineError::Setup(e.to_string())
                }
                other => EngineError::Run(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_reserves_and_settles() {
        let mut b = BudgetTracker::new(
            Budget {
                max_input_tokens: Some(100),
                ..Budget::default()
            },
            Prices::default(),
            false,
        );
        let r1 = b.try_reserve(b.estimate(60, 5)).expect("fits");
        assert_eq!(
            b.try_reserve(b.estimate(60, 5)),
            Err(BudgetLimit::InputTokens(100))
        );
        b.settle(r1, b.estimate(30, 5));
        assert!(b.try_reserve(b.estimate(60, 5)).is_ok());
        assert_eq!(b.spent().input_tokens, 30);
        let mut c = BudgetTracker::new(
            Budget {
                max_cost: Some(1.0),
                ..Budget::default()
            },
            Prices {
                input_per_million: 1_000_000.0,
                ..Prices::default()
            },
            false,
        );
        assert_eq!(c.try_reserve(c.estimate(2, 0)), Err(BudgetLimit::Cost(1.0)));
        assert!(c.try_reserve(c.estimate(1, 0)).is_ok());
    }
}
