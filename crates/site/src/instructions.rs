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

/// What a heading label says it introduces. Exclusions are checked first: "do not
/// include" and "out of scope" must not read as topics or scope.
fn classify_label(label: &str) -> Section {
    const EXCLUDE: &[&str] = &[
        "exclu",
        "do not",
        "don't",
        "not for",
        "out of scope",
        "avoid",
        "not included",
        "not cover",
        "never use",
        "not use",
    ];
    const TOPICS: &[&str] = &[
        "topic",
        "include",
        "cover",
        "in scope",
        "focus",
        "theme",
        "key concept",
        "key area",
        "use for",
        "use this for",
        "relevant",
    ];
    const SCOPE: &[&str] = &[
        "scope",
        "purpose",
        "definition",
        "overview",
        "context",
        "description",
    ];
    if EXCLUDE.iter().any(|w| label.contains(w)) {
        Section::Exclude
    } else if TOPICS.iter().any(|w| label.contains(w)) {
        Section::Topics
    } else if SCOPE.iter().any(|w| label.contains(w)) {
        Section::Scope
    } else {
        Section::Other
    }
}

/// If `line` is a heading, returns its section and any text after it on the same line.
///
/// Headings are recognised by markup (`**Label:**`, `**Label**:`, `**Label**`, `### Label`)
/// — any length — or, without markup, by a short label before a colon (`Exclusions:`,
/// `Key topics include: a, b`). A bold lead-in followed by prose (`**Strictly exclude**
/// anything that …`) is a heading whose text is one item.
fn heading(line: &str) -> Option<(Section, String)> {
    let t = line.trim();
    if t.is_empty() || is_bullet(t).is_some() {
        return None;
    }
    let (label, rest, strong) = if let Some(inner) = t.strip_prefix("**") {
        let j = inner.find("**")?;
        let bold = inner[..j].trim();
        let after = inner[j + 2..].trim();
        if let Some(l) = bold.strip_suffix(':') {
            (l.to_string(), after.to_string(), true)
        } else if let Some(a) = after.strip_prefix(':') {
            (bold.to_string(), a.trim().to_string(), true)
        } else if after.is_empty() && !bold.ends_with(['.', '!', '?']) {
            (bold.to_string(), String::new(), true)
        } else {
            let lower = bold.to_lowercase();
            if !after.is_empty() && classify_label(&lower) == Section::Exclude {
                let item = plain(&format!("{bold} {after}"));
                return Some((Section::Exclude, format!("\u{0}{item}")));
            }
            return None;
        }
    } else if t.starts_with('#') {
        let h = t.trim_start_matches('#').trim();
        match h.split_once(':') {
            Some((l, r)) => (l.to_string(), r.trim().to_string(), true),
            None => (h.to_string(), String::new(), true),
        }
    } else {
        let (l, r) = t.split_once(':')?;
        (l.to_string(), r.trim().to_string(), false)
    };
    let label = plain_lower(&label);
    let section = classify_label(&label);
    if !strong {
        // Without markup, only a short label that *starts* like a heading counts:
        // "Key topics include:", "Exclusions:", not "This covers one thing: …".
        const STARTS: &[&str] = &[
            "key",
            "topic",
            "include",
            "cover",
            "exclu",
            "strictly",
            "do not",
            "don't",
            "not ",
            "out of scope",
            "avoid",
            "never",
            "scope",
            "purpose",
            "in scope",
            "focus",
            "use for",
            "example",
            "relevant",
            "theme",
            "definition",
            "overview",
        ];
        if label.split_whitespace().count() > 6
            || !STARTS.iter().any(|w| label.starts_with(w))
            || (section == Section::Other && !rest.is_empty())
        {
            return None;
        }
    }
    Some((section, plain(&rest)))
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

/// Items written on the heading's own line: `a; b` or `a, b, c` when every item is short;
/// otherwise (prose) the whole text is one item.
fn split_inline_items(rest: &str) -> Vec<String> {
    if let Some(prose) = rest.strip_prefix('\u{0}') {
        return vec![prose.to_string()];
    }
    let clean = |s: &str| plain(s).trim_end_matches('.').trim().to_string();
    let parts: Vec<String> = if rest.contains(';') {
        rest.split(';').map(clean).collect()
    } else if rest.split(',').all(|p| p.split_whitespace().count() <= 5) {
        rest.split(',').map(clean).collect()
    } else {
        vec![clean(rest)]
    };
    parts.into_iter().filter(|s| !s.is_empty()).collect()
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
                    Section::Scope => scope_lines.extend(items),
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
    fn long_bold_headings_and_prose_exclusions() {
        let raw = "**Use this category only for discussions on Lean.**\n\n**Scope and Purpose:**\nLean thinking in delivery.\n\n**Key topics that should be discussed under this category include:**\n- waste\n- flow\n\n**Strictly exclude** discussions on unrelated frameworks (e.g., Kanban, Scrum), or tooling.\n";
        let i = parse_instructions(raw);
        assert_eq!(
            i.scope,
            "Use this category only for discussions on Lean. Lean thinking in delivery."
        );
        assert_eq!(i.key_topics, ["waste", "flow"]);
        assert_eq!(
            i.exclusions,
            [
                "Strictly exclude discussions on unrelated frameworks (e.g., Kanban, Scrum), or tooling."
            ]
        );
    }

    #[test]
    fn a_note_with_a_colon_is_prose() {
        let i = parse_instructions("Note: this is for teams.\n**Key Topics**\n- a\n");
        assert_eq!(i.scope, "Note: this is for teams.");
        assert_eq!(i.key_topics, ["a"]);
    }

    #[test]
    fn empty_and_plain_text() {
        let i = parse_instructions("");
        assert!(i.scope.is_empty() && i.key_topics.is_empty() && i.exclusions.is_empty());
        let i = parse_instructions("Just a sentence about scope.");
        assert_eq!(i.scope, "Just a sentence about scope.");
    }
}
