//! Progress bars: a sink wrapper that shows each engine phase on stderr (only on a
//! terminal, never in `--no-progress` mode or when stderr is redirected).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use taxonomist_engine::{Flow, Progress, Sink};
use taxonomist_model::{PageId, Score, TermId, Usage};

/// Wraps a sink with a progress bar.
pub struct Bars<'a> {
    inner: &'a mut dyn Sink,
    bar: Option<ProgressBar>,
    enabled: bool,
    spent: Usage,
}

impl<'a> Bars<'a> {
    /// A bar over `inner`, shown when `enabled` and stderr is a terminal.
    pub fn new(inner: &'a mut dyn Sink, enabled: bool) -> Bars<'a> {
        Bars {
            inner,
            bar: None,
            enabled: enabled && std::io::stderr().is_terminal(),
            spent: Usage::default(),
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Bars<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Sink for Bars<'_> {
    fn score(&mut self, page: &PageId, score: Score) -> Flow {
        self.inner.score(page, score)
    }
    fn page_done(&mut self, page: &PageId) -> Flow {
        self.inner.page_done(page)
    }
    fn failed(&mut self, page: &PageId, term: &TermId, reason: &str) -> Flow {
        self.inner.failed(page, term, reason)
    }
    fn usage(&mut self, usage: Usage) -> Flow {
        self.spent.input_tokens += usage.input_tokens;
        self.spent.output_tokens += usage.output_tokens;
        self.spent.cost += usage.cost;
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "{} tokens in, {} out, cost {:.4}",
                self.spent.input_tokens, self.spent.output_tokens, self.spent.cost
            ));
        }
        self.inner.usage(usage)
    }
    fn progress(&mut self, event: Progress) -> Flow {
        if self.enabled {
            match &event {
                Progress::Phase { name, total } => {
                    self.finish();
                    let bar =
                        ProgressBar::with_draw_target(Some(*total), ProgressDrawTarget::stderr());
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>18} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(name.clone());
                    self.bar = Some(bar);
                }
                Progress::Advance(n) => {
                    if let Some(b) = &self.bar {
                        b.inc(*n);
                    }
                }
                Progress::Note(s) => {
                    if let Some(b) = &self.bar {
                        b.println(s);
                    } else {
                        eprintln!("{s}");
                    }
                }
            }
        }
        self.inner.progress(event)
    }
}
