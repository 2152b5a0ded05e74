//! Finding the front matter in a file: its format and its byte ranges.
//!
//! The rules follow Hugo's page lexer: leading white space (spaces, tabs,
//! line breaks) before the front matter is ignored, `---` opens YAML
//! closed by a `---` line, `+++` opens TOML closed by a `+++` line, and `{`
//! opens a JSON object whose closing brace ends the front matter (one
//! line break right after it is consumed). Unlike Hugo, a delimiter line
//! must be the delimiter alone (trailing spaces and tabs allowed):
//! `----` or `--- x` neither opens nor closes a front matter.

use crate::Format;
use crate::error::{Error, ErrorKind};
use crate::text;

/// Where the front matter is, in a text without its BOM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) format: Option<Format>,
    /// Offset of the opening delimiter (for JSON: of the `{`).
    pub(crate) open: usize,
    /// The front-matter text: after the opening line up to the closing
    /// line (for JSON: the object, braces included).
    pub(crate) fm_start: usize,
    pub(crate) fm_end: usize,
    /// Where the body starts.
    pub(crate) body_start: usize,
}

impl Split {
    fn none() -> Split {
        Split {
            format: None,
            open: 0,
            fm_start: 0,
            fm_end: 0,
            body_start: 0,
        }
    }
}

/// True when `line` (without its line break) is `delim` followed only by
/// spaces or tabs (or a `\r`).
fn is_delim_line(line: &str, delim: &str) -> bool {
    line.strip_prefix(delim)
        .is_some_and(|rest| rest.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')))
}

pub(crate) fn split(text: &str) -> Result<Split, Error> {
    let open = text
        .bytes()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(text.len());
    let rest = &text[open..];
    let (format, delim) = if rest.starts_with("---") {
        (Format::Yaml, "---")
    } else if rest.starts_with("+++") {
        (Format::Toml, "+++")
    } else if rest.starts_with('{') {
        return split_json(text, open);
    } else {
        return Ok(Split::none());
    };
    let first_end = text::line_content_end(text, open);
    if !is_delim_line(&text[open..first_end], delim) {
        return Ok(Split::none());
    }
    let fm_start = text::next_line_start(text, open);
    let mut pos = fm_start;
    while pos < text.len() {
        let end = text::line_content_end(text, pos);
        if is_delim_line(&text[pos..end], delim) {
            return Ok(Split {
                format: Some(format),
                open,
                fm_start,
                fm_end: pos,
                body_start: text::next_line_start(text, pos),
            });
        }
        pos = text::next_line_start(text, pos);
    }
    let name = match format {
        Format::Yaml => "YAML",
        Format::Toml => "TOML",
        Format::Json => "JSON",
    };
    Err(Error::at(
        text,
        open,
        ErrorKind::Unclosed,
        format!("unclosed {name} front matter: no closing `{delim}` line"),
    ))
}

fn split_json(text: &str, open: usize) -> Result<Split, Error> {
    let Some(end) = json_object_end(text.as_bytes(), open) else {
        return Err(Error::at(
            text,
            open,
            ErrorKind::Unclosed,
            "unclosed JSON front matter: no closing `}`",
        ));
    };
    let after = &text[end..];
    let body_start = if after.starts_with("\r\n") {
        end + 2
    } else if after.starts_with('\n') {
        end + 1
    } else {
        end
    };
    Ok(Split {
        format: Some(Format::Json),
        open,
        fm_start: open,
        fm_end: end,
        body_start,
    })
}

/// Offset just past the bracket that closes the one at `start`, skipping
/// strings; `None` when it is never closed.
pub(crate) fn json_object_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(text: &str) -> (Option<Format>, &str, &str) {
        let s = split(text).expect("split");
        (s.format, &text[s.fm_start..s.fm_end], &text[s.body_start..])
    }

    #[test]
    fn yaml_toml_json() {
        assert_eq!(
            ranges("---\na: 1\n---\nbody\n"),
            (Some(Format::Yaml), "a: 1\n", "body\n")
        );
        assert_eq!(
            ranges("+++\r\na = 1\r\n+++\r\nbody"),
            (Some(Format::Toml), "a = 1\r\n", "body")
        );
        assert_eq!(
            ranges("{\"a\": \"}\"}\nbody"),
            (Some(Format::Json), "{\"a\": \"}\"}", "body")
        );
        assert_eq!(
            ranges("\n\n---  \na: 1\n---"),
            (Some(Format::Yaml), "a: 1\n", "")
        );
        assert_eq!(ranges("---\n---\n"), (Some(Format::Yaml), "", ""));
    }

    #[test]
    fn no_front_matter() {
        assert_eq!(ranges("# title\n"), (None, "", "# title\n"));
        assert_eq!(ranges(""), (None, "", ""));
        assert_eq!(ranges("----\na\n"), (None, "", "----\na\n"));
        assert_eq!(ranges("--- x\na\n"), (None, "", "--- x\na\n"));
    }

    #[test]
    fn unclosed() {
        let e = split("---\na: 1\n").expect_err("unclosed");
        assert_eq!(e.kind(), ErrorKind::Unclosed);
        assert_eq!((e.line(), e.column()), (Some(1), Some(1)));
        let e = split("\n+++\na = 1\n---\n").expect_err("unclosed");
        assert_eq!(e.line(), Some(2));
        let e = split("{\"a\": [1, 2}\n").expect_err("unclosed");
        assert_eq!(e.kind(), ErrorKind::Unclosed);
    }
}
