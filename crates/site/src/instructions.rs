//! Parses a term's `Instructions` block into scope, key topics and exclusions.
//!
//! Real instructions vary: `**Key Topics:**`, `Key topics include:`, `### Key Topics`,
//! `**Strictly exclude:**`, `Exclusions:`, `Do not use for:`; bullets with `-`, `*`, `+` or
//! `1.`; a heading with its items on the same line (`Key Topics: a, b, c`). The parser keys
//! on what a heading *says*, not on its markup.

use taxonomist_model::Instructions;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    Scope,
    Topics,
    Exclude,
    /// A heading we do not know (e.g. "Examples:"); its bullets count as topics only if
    /// nothing else does.
    Other,
}

/// Strips markdown emphasis and heading marks, trims, lowercases.
fn plain_lower(s: &str) -> String {
    plain(s).to_lowercase()
}

/// Removes `*`, `_`, `#`, backticks used as markup and collapses whitespace.
pub(crate) fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let t = s.trim().trim_start_matches('#').trim();
    let mut prev_space = false;
    for ch in t.chars() {
        match ch {
            '*' | '`' => {}
            '_' if out.is_empty() || prev_space => {}
            c if c.is_whitespace() => {
                if !prev_space && !out.is_empty() {
                    out.push(' ');
                }
                prev_space = true;
                continue;
            }
            c => out.push(c),
        }
        prev_space = false;
    }
    let out = out.trim_end().trim_end_matches('_').trim_end();
    out.to_string()
}

const TOPIC_WORDS: &[&str] = &[
    "key topics",
    "key topic",
    "topics",
    "topics include",
    "key areas",
    "focus areas",
    "includes",
    "include",
    "covers",
    "in scope",
    "scope includes",
    "use for",
    "use this for",
    "relevant topics",
    "key themes",
    "themes",
    "key concepts",
];

const EXCLUDE_WORDS: &[&str] = &[
    "strictly exclude",
    "exclude",
    "excludes",
    "exclusions",
    "exclusion",
    "do not use for",
    "don't use for",
    "do not include",
    "not for",
    "out of scope",
    "avoid",
    "strictly avoid",
    "does not cover",
    "not included",
];

/// If `line` is a heading, returns its section and any text after the heading's colon.
fn heading(line: &str) -> Option<(Section, String)> {
    let t = line.trim();
    if t.is_empty() || is_bullet(t).is_some() {
        return None;
    }
    let is_md_heading = t.starts_with('#');
    // The heading label is the text before the first ':' (if any).
    let (label, rest) = match t.find(':') {
        Some(i) => (&t[..i], t[i + 1..].trim()),
        None if is_md_heading || (t.starts_with("**") && t.ends_with("**")) => (t, ""),
        None => return None,
    };
    let label = plain_lower(label);
    let label = label.trim_end_matches(':').trim();
    // A colon inside a long sentence is not a heading.
    if label.split_whitespace().count() > 6 {
        return None;
    }
    let rest = plain(rest.trim_start_matches("**").trim());
    let matches = |words: &[&str]| {
        words
            .iter()
            .any(|w| label == *w || label.starts_with(&format!("{w} ")))
            || words.iter().any(|w| label.ends_with(&format!(" {w}")))
    };
    // Exclusions first: "do not include" must not read as "include".
    if matches(EXCLUDE_WORDS) || label.contains("exclu") {
        Some((Section::Exclude, rest))
    } else if matches(TOPIC_WORDS) || label.contains("topic") {
        Some((Section::Topics, rest))
    } else if is_md_heading || t.ends_with(':') || t.ends_with(":**") || t.ends_with("**") {
        Some((Section::Other, rest))
    } else {
        None
    }
}

/// If `line` is a list item, returns its text.
fn is_bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for m in ["- ", "* ", "+ ", "• ", "– "] {
        if let Some(r) = t.strip_prefix(m) {
            return Some(r);
        }
    }
    // "1. " / "1) "
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let r = &t[digits..];
        if let Some(r) = r.strip_prefix(". ").or_else(|| r.strip_prefix(") ")) {
            return Some(r);
        }
    }
    None
}

fn split_inline_items(rest: &str) -> Vec<String> {
    let sep = if rest.contains(';') { ';' } else { ',' };
    rest.split(sep)
        .map(|s| plain(s).trim_end_matches('.').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses an `Instructions` text.
pub fn parse_instructions(raw: &str) -> Instructions {
    let mut scope_lines: Vec<String> = Vec::new();
    let mut topics: Vec<String> = Vec::new();
    let mut exclusions: Vec<String> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    let mut section = Section::Scope;

    for line in raw.lines() {
        if let Some((s, rest)) = heading(line) {
            section = s;
            if !rest.is_empty() {
                let items = split_inline_items(&rest);
                match s {
                    Section::Topics => topics.extend(items),
                    Section::Exclude => exclusions.extend(items),
                    Section::Other => other.extend(items),
                    Section::Scope => {}
                }
            }
            continue;
        }
        let text = match is_bullet(line) {
            Some(b) => plain(b),
            None => plain(line),
        };
        if text.is_empty() {
            continue;
        }
        match section {
            Section::Scope => scope_lines.push(text),
            Section::Topics => push_item(&mut topics, line, text),
            Section::Exclude => push_item(&mut exclusions, line, text),
            Section::Other => push_item(&mut other, line, text),
        }
    }
    if topics.is_empty() {
        topics = other;
    }
    Instructions {
        raw: raw.to_string(),
        scope: scope_lines.join(" "),
        key_topics: topics,
        exclusions,
    }
}

/// A bullet starts an item; a plain line continues the previous item (wrapped bullets).
fn push_item(items: &mut Vec<String>, line: &str, text: String) {
    if is_bullet(line).is_none()
        && let Some(last) = items.last_mut()
        && line.starts_with([' ', '\t'])
    {
        last.push(' ');
        last.push_str(&text);
        return;
    }
    items.push(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_shape() {
        let raw = "**Use this category only for discussions on the Product Owner as an accountability.**  \nThe Product Owner is an accountability within Scrum.\n\n**Key Topics:**\n- The accountability of the Product Owner.\n- Prioritisation strategies.\n\n**Strictly exclude:**\n- Discussions unrelated to the **Product Owner's accountability**.\n- Content that confuses roles.\n";
        let i = parse_instructions(raw);
        assert_eq!(
            i.scope,
            "Use this category only for discussions on the Product Owner as an accountability. The Product Owner is an accountability within Scrum."
        );
        assert_eq!(
            i.key_topics,
            [
                "The accountability of the Product Owner.",
                "Prioritisation strategies."
            ]
        );
        assert_eq!(
            i.exclusions,
            [
                "Discussions unrelated to the Product Owner's accountability.",
                "Content that confuses roles."
            ]
        );
        assert_eq!(i.raw, raw);
    }

    #[test]
    fn tolerant_of_variations() {
        let raw = "Use this for testing.\n\n### Key topics include\n* unit tests\n* property tests\n  that run fast\n1. fuzzing\n\nExclusions:\n+ manual QA\n\nDo not use for: marketing, sales.\n";
        let i = parse_instructions(raw);
        assert_eq!(i.scope, "Use this for testing.");
        assert_eq!(
            i.key_topics,
            ["unit tests", "property tests that run fast", "fuzzing"]
        );
        assert_eq!(i.exclusions, ["manual QA", "marketing", "sales"]);
    }

    #[test]
    fn inline_heading_items_and_unknown_headings() {
        let raw = "Scope text.\nKey Topics: alpha; beta gamma\n**Examples:**\n- ex one\n";
        let i = parse_instructions(raw);
        assert_eq!(i.key_topics, ["alpha", "beta gamma"]);
        assert!(i.exclusions.is_empty());

        let raw = "Scope.\n**Examples:**\n- ex one\n- ex two\n";
        let i = parse_instructions(raw);
        assert_eq!(
            i.key_topics,
            ["ex one", "ex two"],
            "unknown heading bullets become topics"
        );
    }

    #[test]
    fn colon_inside_a_sentence_is_not_a_heading() {
        let raw =
            "This covers one thing: how teams plan their work in short cycles and review it.\n";
        let i = parse_instructions(raw);
        assert!(i.key_topics.is_empty());
        assert!(i.scope.starts_with("This covers one thing"));
    }

    #[test]
    fn do_not_include_is_an_exclusion() {
        let i = parse_instructions("**Do not include:**\n- x\n**Includes:**\n- y\n");
        assert_eq!(i.exclusions, ["x"]);
        assert_eq!(i.key_topics, ["y"]);
    }

    #[test]
    fn empty_and_plain_text() {
        let i = parse_instructions("");
        assert!(i.scope.is_empty() && i.key_topics.is_empty() && i.exclusions.is_empty());
        let i = parse_instructions("Just a sentence about scope.");
        assert_eq!(i.scope, "Just a sentence about scope.");
    }
}
