//! Markdown body → plain text for scoring.
//!
//! Kept: prose, headings, list items, table cells, link text, image alt text, inline code.
//! Removed: Hugo shortcode tags (`{{< … >}}`, `{{% … %}}`, `{{/* … */}}`; text *between* a
//! paired shortcode's tags is kept), raw HTML, fenced and indented code blocks, link targets,
//! autolinks and bare URLs. Blocks end with a newline so sentences stay apart.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// Removes Hugo shortcode tags and template comments, replacing each with a space.
pub fn strip_shortcodes(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains("{{") {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let close = if after.starts_with('<') || after.starts_with("- <") {
            Some(">}}")
        } else if after.starts_with('%') || after.starts_with("- %") {
            Some("%}}")
        } else if after.starts_with("/*") || after.starts_with("- /*") {
            Some("*/}}")
        } else {
            None
        };
        match close.and_then(|c| after.find(c).map(|j| (c, j))) {
            Some((c, j)) => {
                out.push(' ');
                rest = &after[j + c.len()..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Converts a markdown body to plain text.
pub fn to_plain_text(markdown: &str) -> String {
    let src = strip_shortcodes(markdown);
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_FOOTNOTES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut out = String::with_capacity(src.len());
    let mut skip = 0usize; // inside a code block or an autolink
    for ev in Parser::new_ext(&src, opts) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => skip += 1,
            Event::End(TagEnd::CodeBlock) => {
                skip = skip.saturating_sub(1);
                newline(&mut out);
            }
            Event::Start(Tag::Link {
                link_type: LinkType::Autolink | LinkType::Email,
                ..
            }) => skip += 1,
            Event::End(TagEnd::Link) if skip > 0 => skip -= 1,
            Event::Text(t) | Event::Code(t) if skip == 0 => push_text(&mut out, &t),
            Event::SoftBreak | Event::HardBreak => space(&mut out),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::TableRow
                | TagEnd::TableHead
                | TagEnd::BlockQuote(_)
                | TagEnd::FootnoteDefinition,
            ) => newline(&mut out),
            Event::End(TagEnd::TableCell) => space(&mut out),
            Event::Start(Tag::Item) => {}
            _ => {}
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

fn is_url(word: &str) -> bool {
    let w = word.trim_start_matches(['(', '<', '[', '"', '\'']);
    w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")
}

fn push_text(out: &mut String, t: &str) {
    if !t.contains("://") && !t.contains("www.") {
        out.push_str(t);
        return;
    }
    // Drop bare URLs, keep the rest of the text as is.
    let mut first = true;
    for (i, part) in t.split(' ').enumerate() {
        if is_url(part) {
            continue;
        }
        if !first || (i > 0 && !out.ends_with(' ')) {
            out.push(' ');
        }
        out.push_str(part);
        first = false;
    }
}

fn space(out: &mut String) {
    if !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
}

fn newline(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_are_removed_but_inner_text_kept() {
        let md = "Intro {{< youtube abc123 >}} text.\n\n{{% note %}}Keep **this**.{{% /note %}}\n{{/* a comment */}}End {{ .Title }}";
        assert_eq!(
            to_plain_text(md),
            "Intro   text.\nKeep this. End {{ .Title }}"
        );
    }

    #[test]
    fn multi_line_shortcode() {
        let md = "A {{< figure\n  src=\"x.png\"\n  alt=\"y\" >}} B";
        assert_eq!(to_plain_text(md), "A   B");
    }

    #[test]
    fn unclosed_shortcode_is_left_as_text() {
        assert_eq!(to_plain_text("a {{< oops"), "a {{< oops");
    }

    #[test]
    fn code_html_and_link_targets_removed() {
        let md = "# Title\n\nSee [the docs](https://example.com/docs) and <https://x.y/z>.\n\n```rust\nfn main() {}\n```\n\n<div class=\"callout\">raw html</div>\n\nUse `git rebase` here. Visit https://example.com/a now.\n\n    indented code\n";
        assert_eq!(
            to_plain_text(md),
            "Title\nSee the docs and .\nUse git rebase here. Visit now."
        );
    }

    #[test]
    fn lists_tables_and_images() {
        let md = "- one\n- two\n\n| a | b |\n|---|---|\n| c | d |\n\n![alt text](img.png)\n";
        assert_eq!(to_plain_text(md), "one\ntwo\na b\nc d\nalt text");
    }

    #[test]
    fn empty_body() {
        assert_eq!(to_plain_text(""), "");
        assert_eq!(to_plain_text("\n\n  \n"), "");
    }
}
