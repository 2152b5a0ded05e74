//! Shared fixtures: a small site built in code, the mock server, a recording sink.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use openai_mock::MockServer;
use taxonomist_engine::{Flow, Progress, Sink, Work};
use taxonomist_llm::{HttpApi, LlmConfig, LlmEngine, Mode, RetryConfig};
use taxonomist_model::{
    Hash, Instructions, Origin, Page, PageId, PageKind, Score, Site, Taxonomy, Term, TermId, Usage,
};

/// The distinctive fake key every test uses.
pub const KEY: &str = "sk-test-SECRET-123";

pub fn term(
    tax: &str,
    slug: &str,
    title: &str,
    desc: &str,
    topics: &[&str],
    excl: &[&str],
) -> Term {
    let instructions = Instructions {
        raw: format!("{desc}\n\nKey Topics:\n- {}", topics.join("\n- ")),
        scope: desc.to_string(),
        key_topics: topics.iter().map(|s| s.to_string()).collect(),
        exclusions: excl.iter().map(|s| s.to_string()).collect(),
    };
    let definition_hash = Term::compute_definition_hash(desc, Some(&instructions), "");
    Term {
        id: TermId::new(tax, slug),
        taxonomy: tax.into(),
        slug: slug.into(),
        title: title.into(),
        aliases: vec![],
        description: desc.into(),
        instructions: Some(instructions),
        abstract_text: String::new(),
        body_text: String::new(),
        origin: Origin::Human,
        ignore: false,
        path: PathBuf::from(format!("content/{tax}/{slug}/_index.md")),
        terms: Default::default(),
        definition_hash,
    }
}

pub fn page(id: &str, title: &str, description: &str, body: &str) -> Page {
    Page {
        id: PageId(id.into()),
        path: PathBuf::from(format!("content/{id}.md")),
        rel: format!("{id}.md"),
        kind: PageKind::Single,
        lang: None,
        title: title.into(),
        description: description.into(),
        date: None,
        draft: false,
        body_text: body.into(),
        terms: Default::default(),
        locks: Default::default(),
        origin: None,
        has_front_matter: true,
        content_hash: Page::compute_content_hash(title, description, body),
    }
}

/// Three pages, two taxonomies, six terms (sorted by id, as the loader sorts them).
pub fn site() -> Site {
    let terms = vec![
        term(
            "categories",
            "agile",
            "Agile",
            "Agile ways of working: iterative delivery, feedback loops, self-organising teams.",
            &[
                "iterative delivery",
                "feedback loops",
                "self-organising teams",
            ],
            &["tooling configuration"],
        ),
        term(
            "categories",
            "devops",
            "DevOps",
            "DevOps practices: continuous integration, deployment pipelines, automated testing, operations.",
            &[
                "continuous integration",
                "deployment pipelines",
                "automated testing",
            ],
            &["team ceremonies"],
        ),
        term(
            "tags",
            "kanban",
            "Kanban",
            "Kanban method: visualising flow on boards, limiting work in progress, managing flow.",
            &["boards", "work in progress limits", "flow metrics"],
            &["sprints"],
        ),
        term(
            "tags",
            "retrospectives",
            "Retrospectives",
            "Retrospectives: teams inspecting their process and adapting it after each iteration.",
            &["inspect and adapt", "improvement actions", "team feedback"],
            &["project post-mortems"],
        ),
        term(
            "tags",
            "scrum",
            "Scrum",
            "Scrum framework: sprints, product backlog, sprint review, sprint retrospective, scrum master.",
            &[
                "sprints",
                "product backlog",
                "scrum master",
                "sprint review",
            ],
            &["kanban boards"],
        ),
        term(
            "tags",
            "testing",
            "Testing",
            "Software testing: unit tests, test automation, the test pyramid, quality assurance.",
            &["unit tests", "test automation", "test pyramid"],
            &["manual sign-off"],
        ),
    ];
    let pages = vec![
        page(
            "blog/kanban-flow",
            "Managing flow with Kanban",
            "How Kanban boards and work in progress limits improve flow.",
            "Kanban boards make work visible. Limiting work in progress keeps flow steady. \
             Flow metrics such as cycle time show where work waits. Teams managing flow \
             visualise every step on their boards.",
        ),
        page(
            "blog/scrum-sprints",
            "Sprints in Scrum",
            "What happens in a Scrum sprint.",
            "Scrum organises work in sprints. The product backlog is refined before each sprint. \
             The scrum master helps the team; the sprint review shows the increment and the sprint \
             retrospective lets the team inspect and adapt its process with improvement actions.",
        ),
        page(
            "blog/testing-pyramid",
            "The test pyramid",
            "Unit tests at the base, automated testing in the pipeline.",
            "The test pyramid puts many unit tests at the base and few end-to-end tests at the top. \
             Test automation runs in continuous integration and deployment pipelines, so automated \
             testing gives fast feedback on quality.",
        ),
    ];
    Site {
        taxonomies: vec![
            Taxonomy::new("categories", Some("category")),
            Taxonomy::new("tags", Some("tag")),
        ],
        terms,
        pages,
        ..Site::default()
    }
}

/// Fast, deterministic retries for tests.
pub fn config(mock: &MockServer, mode: Mode) -> LlmConfig {
    LlmConfig {
        base_url: mock.base_url(),
        model: "gpt-4.1-mini".into(),
        api_key_env: "TAXONOMIST_TEST_KEY_UNUSED".into(),
        mode,
        concurrency: 2,
        timeout_secs: 5,
        max_retries: 3,
        retry: RetryConfig {
            min_delay_ms: 20,
            max_delay_secs: 5,
            jitter: false,
        },
        ..LlmConfig::default()
    }
}

pub fn api(cfg: &LlmConfig) -> Arc<HttpApi> {
    Arc::new(HttpApi::with_key(cfg, Some(KEY.to_string())).expect("valid config"))
}

pub fn engine(cfg: &LlmConfig) -> LlmEngine {
    LlmEngine::new(cfg.clone(), api(cfg))
        .expect("engine")
        .with_clock(|| "2025-01-01T00:00:00Z".to_string())
}

pub fn mock() -> MockServer {
    MockServer::start(KEY).expect("mock binds")
}

/// Every event, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Score(PageId, Box<Score>),
    Failed(PageId, TermId, String),
    PageDone(PageId),
    Usage(Usage),
}

#[derive(Default)]
pub struct Recorder {
    pub events: Vec<Event>,
    pub notes: Vec<String>,
    /// Answer stop after this many scores.
    pub stop_after: Option<usize>,
}

impl Recorder {
    pub fn scores(&self) -> Vec<(PageId, Score)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Score(p, s) => Some((p.clone(), (**s).clone())),
                _ => None,
            })
            .collect()
    }

    pub fn failures(&self) -> Vec<(PageId, TermId, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Failed(p, t, r) => Some((p.clone(), t.clone(), r.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn score_of(&self, page: &str, term: &str) -> Option<Score> {
        self.scores()
            .into_iter()
            .find(|(p, s)| p.as_str() == page && s.term.as_str() == term)
            .map(|(_, s)| s)
    }

    /// (page, term) of every score and failure, in push order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Score(p, s) => Some((p.to_string(), s.term.to_string())),
                Event::Failed(p, t, _) => Some((p.to_string(), t.to_string())),
                _ => None,
            })
            .collect()
    }

    /// Work made of the failed pairs, for a second run.
    pub fn failed_work(&self, site: &Site) -> Work {
        let mut items: Vec<(usize, Vec<usize>)> = Vec::new();
        for (p, t, _) in self.failures() {
            let pi = site.pages.iter().position(|x| x.id == p).expect("page");
            let ti = site.terms.iter().position(|x| x.id == t).expect("term");
            match items.iter_mut().find(|(x, _)| *x == pi) {
                Some((_, ts)) => ts.push(ti),
                None => items.push((pi, vec![ti])),
            }
        }
        Work { items }
    }

    pub fn total_usage(&self) -> Usage {
        let mut u = Usage::default();
        for e in &self.events {
            if let Event::Usage(x) = e {
                u.input_tokens += x.input_tokens;
                u.output_tokens += x.output_tokens;
                u.cost += x.cost;
            }
        }
        u
    }

    /// All text the sink received (for secret checks).
    pub fn all_text(&self) -> String {
        format!("{:?} {:?}", self.events, self.notes)
    }
}

impl Sink for Recorder {
    fn score(&mut self, page: &PageId, score: Score) -> Flow {
        self.events
            .push(Event::Score(page.clone(), Box::new(score)));
        match self.stop_after {
            Some(n) if self.scores().len() >= n => Flow::Stop,
            _ => Flow::Continue,
        }
    }
    fn page_done(&mut self, page: &PageId) -> Flow {
        self.events.push(Event::PageDone(page.clone()));
        Flow::Continue
    }
    fn failed(&mut self, page: &PageId, term: &TermId, reason: &str) -> Flow {
        self.events.push(Event::Failed(
            page.clone(),
            term.clone(),
            reason.to_string(),
        ));
        Flow::Continue
    }
    fn progress(&mut self, event: Progress) -> Flow {
        if let Progress::Note(n) = event {
            self.notes.push(n);
        }
        Flow::Continue
    }
    fn usage(&mut self, usage: Usage) -> Flow {
        self.events.push(Event::Usage(usage));
        Flow::Continue
    }
}

/// The hash type, re-exported for tests that compare inputs.
pub type H = Hash;
