//! From work to calls, and from calls to requests and token estimates.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use taxonomist_engine::Work;
use taxonomist_model::Site;

use crate::api::{ChatRequest, Message};
use crate::prompt::{PageBlock, Prompts, page_block, term_block};
use crate::reply::{json_schema_format, multi_schema, single_schema};
use crate::tokens::{PER_MESSAGE_TOKENS, REPLY_PRIMING_TOKENS, Tokenizer};
use crate::{LlmConfig, LlmError, Mode, StructuredOutput};

/// Output tokens a typical judgment takes: about 60 tokens of JSON (the key, eight numbers,
/// field names) and a reason of one or two sentences (30–70 tokens; at most 300
/// characters). An estimate, not a measurement: the real figure comes back in `usage`.
pub const TYPICAL_OUTPUT_TOKENS_PER_TERM: u64 = 100;
/// Output tokens of a reply's envelope (`{"scores": [...]}`).
pub const OUTPUT_TOKENS_PER_CALL: u64 = 10;

/// One planned call: a page and the terms it judges (keys `t1..tN` in this order).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Call {
    /// Index into `site.pages`.
    pub page: usize,
    /// The terms' taxonomy.
    pub taxonomy: String,
    /// Indices into `site.terms`.
    pub terms: Vec<usize>,
}

/// The keys of a call with `n` terms: `t1..tN`.
pub(crate) fn keys(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("t{i}")).collect()
}

/// Turns work into calls, in page order then term order: per-term, one call per pair;
/// multi-term, one call per page and taxonomy, split every `max_terms_per_call` terms.
pub(crate) fn plan(site: &Site, work: &Work, cfg: &LlmConfig) -> Result<Vec<Call>, LlmError> {
    let mut items: Vec<(usize, Vec<usize>)> = work.items.clone();
    items.sort_by_key(|(p, _)| *p);
    let mut calls = Vec::new();
    for (page, mut terms) in items {
        if page >= site.pages.len() {
            return Err(LlmError::Config(format!(
                "work names page {page}, the site has {} pages",
                site.pages.len()
            )));
        }
        terms.sort_unstable();
        terms.dedup();
        if let Some(&t) = terms.iter().find(|&&t| t >= site.terms.len()) {
            return Err(LlmError::Config(format!(
                "work names term {t}, the site has {} terms",
                site.terms.len()
            )));
        }
        match cfg.mode {
            Mode::PerTerm => {
                for t in terms {
                    calls.push(Call {
                        page,
                        taxonomy: site.terms[t].taxonomy.clone(),
                        terms: vec![t],
                    });
                }
            }
            Mode::MultiTerm => {
                // Terms are sorted by id, so each taxonomy's terms are contiguous.
                let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
                for t in terms {
                    let tax = &site.terms[t].taxonomy;
                    match groups.last_mut() {
                        Some((g, v)) if g == tax => v.push(t),
                        _ => groups.push((tax.clone(), vec![t])),
                    }
                }
                for (taxonomy, ts) in groups {
                    for chunk in ts.chunks(cfg.max_terms_per_call) {
                        calls.push(Call {
                            page,
                            taxonomy: taxonomy.clone(),
                            terms: chunk.to_vec(),
                        });
                    }
                }
            }
        }
    }
    Ok(calls)
}

/// A request ready to send, with its estimate.
#[derive(Clone, Debug)]
pub(crate) struct Built {
    pub request: ChatRequest,
    pub keys: Vec<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Builds requests and estimates, caching per-page and per-term parts (a page's block is
/// cut and counted once per run, however many calls it is in).
pub(crate) struct Builder<'a> {
    cfg: &'a LlmConfig,
    prompts: &'a Prompts,
    site: &'a Site,
    tok: Tokenizer,
    system: String,
    system_tokens: u64,
    pages: HashMap<usize, (PageBlock, u64)>,
    terms: HashMap<(usize, usize), (String, u64)>,
    scaffolds: HashMap<(String, usize), u64>,
}

impl<'a> Builder<'a> {
    pub fn new(
        cfg: &'a LlmConfig,
        prompts: &'a Prompts,
        site: &'a Site,
    ) -> Result<Builder<'a>, LlmError> {
        let tok = Tokenizer::for_model(&cfg.model);
        let schema_in_prompt = match cfg.structured_output {
            StructuredOutput::JsonSchema => None,
            StructuredOutput::JsonObject | StructuredOutput::Prompt => {
                let schema = match cfg.mode {
                    Mode::PerTerm => single_schema(),
                    Mode::MultiTerm => multi_schema(None),
                };
                Some(serde_json::to_string_pretty(&schema).unwrap_or_default())
            }
        };
        let system = prompts.system(cfg.mode, schema_in_prompt.as_deref())?;
        let system_tokens = tok.count(&system) as u64;
        Ok(Builder {
            cfg,
            prompts,
            site,
            tok,
            system,
            system_tokens,
            pages: HashMap::new(),
            terms: HashMap::new(),
            scaffolds: HashMap::new(),
        })
    }

    fn page(&mut self, p: usize) -> &(PageBlock, u64) {
        let (tok, site, max) = (self.tok, self.site, self.cfg.max_page_tokens);
        self.pages.entry(p).or_insert_with(|| {
            let b = page_block(&site.pages[p], &tok, max);
            let n = tok.count(&b.text) as u64;
            (b, n)
        })
    }

    fn term(&mut self, t: usize, k: usize) -> &(String, u64) {
        let (tok, site) = (self.tok, self.site);
        self.terms.entry((t, k)).or_insert_with(|| {
            let b = term_block(&site.terms[t], &format!("t{}", k + 1), &tok);
            let n = tok.count(&b) as u64;
            (b, n)
        })
    }

    /// Tokens of the user template around the blocks.
    fn scaffold(&mut self, taxonomy: &str, n: usize) -> Result<u64, LlmError> {
        if let Some(&s) = self.scaffolds.get(&(taxonomy.to_string(), n)) {
            return Ok(s);
        }
        let text = self.prompts.user(
            self.cfg.mode,
            "page-000000000000",
            "",
            taxonomy,
            "",
            &keys(n),
        )?;
        // The blocks are joined with blank lines.
        let s = self.tok.count(&text) as u64 + n as u64;
        self.scaffolds.insert((taxonomy.to_string(), n), s);
        Ok(s)
    }

    /// Whether the page's block was cut to fit.
    pub fn truncated(&mut self, page: usize) -> bool {
        self.page(page).0.truncated
    }

    /// Estimated `(input, output)` tokens of a call, without rendering it.
    pub fn estimate(&mut self, call: &Call) -> Result<(u64, u64), LlmError> {
        let page = self.page(call.page).1;
        let mut terms = 0;
        for (k, &t) in call.terms.iter().enumerate() {
            terms += self.term(t, k).1;
        }
        let scaffold = self.scaffold(&call.taxonomy, call.terms.len())?;
        let input = self.system_tokens
            + scaffold
            + page
            + terms
            + 2 * PER_MESSAGE_TOKENS as u64
            + REPLY_PRIMING_TOKENS as u64;
        Ok((input, output_estimate(call.terms.len())))
    }

    /// The request of a call.
    pub fn build(&mut self, call: &Call) -> Result<Built, LlmError> {
        let (input_tokens, output_tokens) = self.estimate(call)?;
        let keys = keys(call.terms.len());
        let term_text = call
            .terms
            .iter()
            .enumerate()
            .map(|(k, &t)| self.term(t, k).0.clone())
            .collect::<Vec<_>>()
            .join("\n\n");
        let (tag, page_text) = {
            let b = &self.page(call.page).0;
            (b.tag.clone(), b.text.clone())
        };
        let user = self.prompts.user(
            self.cfg.mode,
            &tag,
            &page_text,
            &call.taxonomy,
            &term_text,
            &keys,
        )?;
        let request = ChatRequest {
            model: self.cfg.request_model().to_string(),
            messages: vec![
                Message::new("system", self.system.clone()),
                Message::new("user", user),
            ],
            temperature: None,
            max_tokens: None,
            max_completion_tokens: None,
            response_format: None,
        };
        let request = shape_request(self.cfg, request, &keys, keys.len());
        Ok(Built {
            request,
            keys,
            input_tokens,
            output_tokens,
        })
    }
}

/// Output token estimate of a call over `n` terms.
pub(crate) fn output_estimate(n: usize) -> u64 {
    OUTPUT_TOKENS_PER_CALL + TYPICAL_OUTPUT_TOKENS_PER_TERM * n as u64
}

/// Sets temperature, the output limit and the response format for a request asking for
/// `keys` (out of a call over `n_terms`).
pub(crate) fn shape_request(
    cfg: &LlmConfig,
    mut req: ChatRequest,
    keys: &[String],
    n_terms: usize,
) -> ChatRequest {
    let reasoning = cfg.is_reasoning_model();
    let limit = cfg.max_output_tokens.unwrap_or_else(|| {
        let base = 300 * n_terms as u32 + 200;
        // Reasoning tokens count against the same limit.
        if reasoning { base + 4000 } else { base }
    });
    if reasoning {
        req.temperature = None;
        req.max_tokens = None;
        req.max_completion_tokens = Some(limit);
    } else {
        req.temperature = Some(cfg.temperature);
        req.max_tokens = Some(limit);
        req.max_completion_tokens = None;
    }
    req.response_format = match cfg.structured_output {
        StructuredOutput::JsonSchema => Some(match cfg.mode {
            Mode::PerTerm => json_schema_format("term_score", single_schema()),
            Mode::MultiTerm => json_schema_format("term_scores", multi_schema(Some(keys))),
        }),
        StructuredOutput::JsonObject => Some(json!({"type": "json_object"})),
        StructuredOutput::Prompt => None,
    };
    req
}

/// The follow-up after a reply that failed validation: the same conversation, the reply,
/// and the problems, asking again for `keys` only.
pub(crate) fn follow_up(
    cfg: &LlmConfig,
    first: &ChatRequest,
    reply: &str,
    problems: &str,
    keys: &[String],
) -> ChatRequest {
    let mut req = first.clone();
    req.messages.push(Message::new("assistant", reply));
    req.messages.push(Message::new(
        "user",
        format!(
            "Your reply could not be used:\n{problems}\n\nReply again with one JSON object that follows the rules, for these keys only.\nScore exactly these keys: {}",
            keys.join(", ")
        ),
    ));
    shape_request(cfg, req, keys, keys.len())
}

/// A dry run's figures: what scoring the work would cost, sending nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// The mode estimated.
    pub mode: Mode,
    /// Calls (requests) it would make.
    pub calls: usize,
    /// (page, term) pairs.
    pub pairs: usize,
    /// Input tokens, counted with the model's tokenizer on the prompts as they would be
    /// sent.
    pub input_tokens: u64,
    /// Output tokens, from [`TYPICAL_OUTPUT_TOKENS_PER_TERM`] per pair.
    pub output_tokens: u64,
    /// Cost of live calls at the configured prices.
    pub cost: f64,
    /// Cost through the Batch API (with its discount).
    pub batch_cost: f64,
    /// Pages whose content would be cut to `max_page_tokens`.
    pub truncated_pages: usize,
}

/// Estimates scoring `work` with `cfg`, sending nothing.
///
/// # Errors
/// [`LlmError::Config`] for an invalid configuration or work naming unknown pages or
/// terms; [`LlmError::Template`] when an override template does not render.
pub fn estimate(site: &Site, work: &Work, cfg: &LlmConfig) -> Result<Estimate, LlmError> {
    cfg.validate()?;
    let prompts = Prompts::load(cfg.prompt_dir.as_deref())?;
    let calls = plan(site, work, cfg)?;
    let mut b = Builder::new(cfg, &prompts, site)?;
    let mut e = Estimate {
        mode: cfg.mode,
        calls: calls.len(),
        ..Estimate::default()
    };
    let mut pages = std::collections::BTreeSet::new();
    for c in &calls {
        let (i, o) = b.estimate(c)?;
        e.input_tokens += i;
        e.output_tokens += o;
        e.pairs += c.terms.len();
        pages.insert(c.page);
    }
    e.truncated_pages = pages.into_iter().filter(|&p| b.truncated(p)).count();
    e.cost = cfg.prices.cost(e.input_tokens, 0, e.output_tokens, false);
    e.batch_cost = cfg.prices.cost(e.input_tokens, 0, e.output_tokens, true);
    Ok(e)
}
