//! The lexical signal: does the page name the term?
//!
//! Works for multi-word titles ("Definition of Done" is matched as a phrase, not as the
//! words "definition", "of", "done" anywhere), aliases, case, and plural/singular (a light
//! English stemmer: "estimates" → "estimate", "stories" → "story"). The system we replace
//! split on whitespace and compared whole titles to single words, so multi-word titles never
//! matched (its defect 21).

/// Words too common to count toward partial matches.
const STOP: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "for", "in", "on", "to", "with", "by", "is", "are", "be",
    "as", "at", "from", "this", "that", "its", "it", "into", "vs", "&",
];

/// Light stemming: plural and possessive endings only, so matches stay precise.
pub fn stem(word: &str) -> String {
    let w = word.strip_suffix("'s").unwrap_or(word);
    let n = w.len();
    if n > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..n - 3]);
    }
    if n > 3 && w.ends_with("es") && matches!(w.as_bytes()[n - 3], b's' | b'x' | b'z') {
        return w[..n - 2].to_string();
    }
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..n - 1].to_string();
    }
    w.to_string()
}

/// Lowercased, stemmed word tokens (letters and digits; everything else separates).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() || (ch == '\'' && !cur.is_empty()) {
            cur.extend(ch.to_lowercase());
        } else if !cur.is_empty() {
            out.push(stem(cur.trim_end_matches('\'')));
            cur.clear();
        }
    }
    if !cur.is_empty() {
        out.push(stem(cur.trim_end_matches('\'')));
    }
    out
}

/// A token as a 64-bit FNV-1a hash: comparing and indexing hashes is far cheaper than
/// strings, and collisions between the few thousand words of a page are negligible.
pub type Tok = u64;

/// A set of tokens (tokens are already hashes, so a cheap hasher does).
pub type TokSet = rustc_hash::FxHashSet<Tok>;

/// Hashes a token.
pub fn tok(word: &str) -> Tok {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Tokens of `text`, hashed.
pub fn tok_ids(text: &str) -> Vec<Tok> {
    tokens(text).iter().map(|w| tok(w)).collect()
}

fn count_phrase(hay: &[Tok], needle: &[Tok]) -> usize {
    if needle.is_empty() || needle.len() > hay.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// A page, tokenised once for every term it is matched against.
#[derive(Clone, Debug, Default)]
pub struct PageTokens {
    title: Vec<Tok>,
    description: Vec<Tok>,
    body: Vec<Tok>,
    /// Positions of each token in the body, for phrase counting.
    positions: rustc_hash::FxHashMap<Tok, Vec<u32>>,
    all: TokSet,
}

impl PageTokens {
    /// Tokenises a page's title, description and body text.
    pub fn new(title: &str, description: &str, body: &str) -> PageTokens {
        let title = tok_ids(title);
        let description = tok_ids(description);
        let body = tok_ids(body);
        let mut positions: rustc_hash::FxHashMap<Tok, Vec<u32>> = Default::default();
        for (i, t) in body.iter().enumerate() {
            positions.entry(*t).or_default().push(i as u32);
        }
        let all = title
            .iter()
            .chain(&description)
            .chain(&body)
            .copied()
            .collect();
        PageTokens {
            title,
            description,
            body,
            positions,
            all,
        }
    }

    /// Number of body tokens.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    fn body_count(&self, needle: &[Tok]) -> usize {
        let Some(first) = needle.first() else {
            return 0;
        };
        let Some(starts) = self.positions.get(first) else {
            return 0;
        };
        starts
            .iter()
            .filter(|&&i| {
                let i = i as usize;
                self.body
                    .get(i..i + needle.len())
                    .is_some_and(|w| w == needle)
            })
            .count()
    }
}

/// How a page names one term (the best of its title and aliases).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LexicalMatch {
    /// The whole name appears in the page title.
    pub in_title: bool,
    /// The whole name appears in the description.
    pub in_description: bool,
    /// Occurrences of the whole name in the body.
    pub body_count: usize,
    /// Share of the name's content words found anywhere in the page (0–1).
    pub coverage: f32,
}

impl LexicalMatch {
    /// Body frequency, saturating: log(1 + count) scaled by the body length, so a long page
    /// needs more mentions than a short one.
    pub fn body_signal(&self, body_len: usize) -> f32 {
        let scale = (1.0 + (body_len.max(20) as f32 / 20.0)).ln();
        (1.0 + self.body_count as f32).ln() / scale
    }

    /// The lexical score shown to people, 0–100: 60 for the title, 30 for the description,
    /// up to 40 for body mentions, capped at 100; partial word coverage adds up to 20 when
    /// the whole name never appears.
    pub fn score(&self, body_len: usize) -> f32 {
        let mut s = 0.0;
        if self.in_title {
            s += 60.0;
        }
        if self.in_description {
            s += 30.0;
        }
        s += 40.0 * self.body_signal(body_len).min(1.0);
        if s == 0.0 {
            s = 20.0 * self.coverage;
        }
        s.min(100.0)
    }
}

/// A term's names, tokenised once.
#[derive(Clone, Debug, Default)]
pub struct TermNames {
    /// (whole name, its content words) per name.
    names: Vec<(Vec<Tok>, Vec<Tok>)>,
}

impl TermNames {
    /// The title and aliases.
    pub fn new(title: &str, aliases: &[String]) -> TermNames {
        let stop: Vec<Tok> = STOP.iter().map(|w| tok(w)).collect();
        let mut names: Vec<(Vec<Tok>, Vec<Tok>)> = std::iter::once(title)
            .chain(aliases.iter().map(String::as_str))
            .map(tok_ids)
            .filter(|t| !t.is_empty())
            .map(|t| {
                let content = t.iter().copied().filter(|w| !stop.contains(w)).collect();
                (t, content)
            })
            .collect();
        names.dedup();
        TermNames { names }
    }

    /// Matches the names against a page; the best name wins.
    pub fn match_page(&self, page: &PageTokens) -> LexicalMatch {
        let mut best = LexicalMatch::default();
        for (name, content) in &self.names {
            let coverage = if content.is_empty() {
                0.0
            } else {
                content.iter().filter(|w| page.all.contains(w)).count() as f32
                    / content.len() as f32
            };
            let m = LexicalMatch {
                in_title: count_phrase(&page.title, name) > 0,
                in_description: count_phrase(&page.description, name) > 0,
                body_count: page.body_count(name),
                coverage,
            };
            let key = |m: &LexicalMatch| {
                (
                    m.in_title,
                    m.in_description,
                    m.body_count,
                    (m.coverage * 1000.0) as u32,
                )
            };
            if key(&m) > key(&best) {
                best = m;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_plurals_only() {
        assert_eq!(stem("estimates"), "estimate");
        assert_eq!(stem("stories"), "story");
        assert_eq!(stem("boxes"), "box");
        assert_eq!(stem("process"), "process");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("analysis"), "analysis");
        assert_eq!(stem("team's"), "team");
        assert_eq!(
            tokens("The Team's CI/CD pipelines!"),
            ["the", "team", "ci", "cd", "pipeline"]
        );
    }

    #[test]
    fn multi_word_titles_match_as_phrases() {
        let names = TermNames::new("Definition of Done", &[]);
        let page = PageTokens::new(
            "Our definitions of done",
            "",
            "We wrote a Definition of Done. Done is done; the definition matters.",
        );
        let m = names.match_page(&page);
        assert!(m.in_title, "plural and case are matched");
        assert_eq!(m.body_count, 1, "only the whole phrase counts");

        let scattered = PageTokens::new("x", "", "done with the definition of the word");
        let m = names.match_page(&scattered);
        assert_eq!(m.body_count, 0);
        assert!(!m.in_title);
        assert!(
            (m.coverage - 1.0).abs() < 1e-6,
            "but every content word is there"
        );
        assert!(m.score(scattered.body_len()) <= 20.0);
    }

    #[test]
    fn aliases_count() {
        let names = TermNames::new("Pair Programming", &["Pairing".to_string()]);
        let page = PageTokens::new("Pairing rotation", "", "We rotate pairs weekly.");
        let m = names.match_page(&page);
        assert!(m.in_title);
        assert!(m.score(page.body_len()) >= 60.0);
    }

    #[test]
    fn scores_are_bounded_and_monotone_in_mentions() {
        let names = TermNames::new("Code Review", &[]);
        let few = PageTokens::new("", "", &"code review ".repeat(2));
        let many = PageTokens::new("Code review", "code review", &"code review ".repeat(50));
        let a = names.match_page(&few).score(few.body_len());
        let b = names.match_page(&many).score(many.body_len());
        assert!(a > 0.0 && a < b && b <= 100.0, "{a} {b}");
        let none = PageTokens::new("", "", "nothing relevant here");
        assert_eq!(names.match_page(&none).score(none.body_len()), 0.0);
    }
}
