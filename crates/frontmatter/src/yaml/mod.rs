//! YAML front matter: read with `saphyr-parser`, edited by byte span.
//!
//! Each top-level entry is known by the span from its key's first
//! character to the end of its value's last character (`value_end`),
//! before any trailing comment on that line. Everything outside the span
//! of the entry being edited is copied byte for byte: comments and blank
//! lines between entries stay where they are.

mod read;
mod write;

use saphyr_parser::ScalarStyle;
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::text::{self, Eol};

pub(crate) use read::parse;
use write::{Emitter, SeqFmt};

/// The quote character used for strings that need one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Quote {
    Single,
    #[default]
    Double,
}

/// How the scalars of a list were written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Quotes {
    plain: u32,
    single: u32,
    double: u32,
    block: u32,
}

impl Quotes {
    fn count(&mut self, style: ScalarStyle) {
        match style {
            ScalarStyle::Plain => self.plain += 1,
            ScalarStyle::SingleQuoted => self.single += 1,
            ScalarStyle::DoubleQuoted => self.double += 1,
            _ => self.block += 1,
        }
    }

    fn total(&self) -> u32 {
        self.plain + self.single + self.double + self.block
    }

    /// The quote every item used, when they all used the same one.
    fn always(&self) -> Option<Quote> {
        let total = self.total();
        if total == 0 {
            None
        } else if self.single == total {
            Some(Quote::Single)
        } else if self.double == total {
            Some(Quote::Double)
        } else {
            None
        }
    }
}

/// The shape of a top-level value, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Scalar {
        style: ScalarStyle,
        empty: bool,
    },
    Alias,
    FlowSeq(Quotes),
    /// `dash_col`: the column of the items' `-`.
    BlockSeq {
        dash_col: usize,
        quotes: Quotes,
    },
    FlowMap,
    /// `key_col`: the column of the nested keys.
    BlockMap {
        key_col: usize,
    },
}

/// One top-level `key: value` entry; offsets are in the front-matter text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_start: usize,
    pub(crate) key_end: usize,
    /// `None` when the entry cannot be edited by span (explicit `? key`,
    /// a key not first on its line, a flow mapping).
    pub(crate) colon: Option<usize>,
    pub(crate) value_end: usize,
    pub(crate) shape: Shape,
}

/// What the editor knows about a YAML front matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Info {
    pub(crate) entries: Vec<Entry>,
    /// The whole front matter is one flow mapping `{...}`: read only.
    pub(crate) flow_root: bool,
    /// The quote the document uses most.
    pub(crate) quote_pref: Quote,
    /// The column of the top-level keys.
    pub(crate) key_col: usize,
}

impl Info {
    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key && e.key != "<<")
    }

    /// The list style most of the document uses, for lists that have
    /// none of their own: the first block list, else the first non-empty
    /// flow list, else block lists indented by two.
    fn default_seq(&self, fm: &str) -> SeqFmt {
        for e in &self.entries {
            if let Shape::BlockSeq { dash_col, quotes } = e.shape {
                let key_col = e.key_start - text::line_start(fm, e.key_start);
                return SeqFmt {
                    flow: false,
                    dash: dash_col.saturating_sub(key_col),
                    always: quotes.always(),
                };
            }
        }
        for e in &self.entries {
            if let Shape::FlowSeq(quotes) = e.shape
                && quotes.total() > 0
            {
                return SeqFmt {
                    flow: true,
                    dash: 2,
                    always: quotes.always(),
                };
            }
        }
        SeqFmt::default()
    }

    /// The nested-mapping indentation the document uses (default 2).
    fn map_indent(&self, fm: &str) -> usize {
        for e in &self.entries {
            if let Shape::BlockMap { key_col } = e.shape {
                let col = e.key_start - text::line_start(fm, e.key_start);
                if key_col > col {
                    return key_col - col;
                }
            }
        }
        2
    }

    fn emitter(&self, fm: &str, eol: Eol) -> Emitter {
        Emitter {
            eol: eol.as_str(),
            quote: self.quote_pref,
            map_indent: self.map_indent(fm),
        }
    }
}

fn unsupported(key: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("cannot edit YAML key `{key}`: {why}"),
    )
}

fn check_editable(info: &Info, key: &str) -> Result<(), Error> {
    if info.flow_root {
        return Err(unsupported(
            key,
            "the front matter is a flow mapping `{...}`",
        ));
    }
    Ok(())
}

fn splice(fm: &str, start: usize, end: usize, with: &str) -> String {
    let mut out = String::with_capacity(fm.len() + with.len());
    out.push_str(&fm[..start]);
    out.push_str(with);
    out.push_str(&fm[end..]);
    out
}

/// The front matter with `key` set to `value`: replaced where it stands,
/// else inserted after the entry `after` (or at the end).
pub(crate) fn set(
    fm: &str,
    info: &Info,
    eol: Eol,
    key: &str,
    value: &Value,
    after: Option<&str>,
) -> Result<String, Error> {
    check_editable(info, key)?;
    let emitter = info.emitter(fm, eol);
    if let Some(e) = info.entry(key) {
        let Some(colon) = e.colon else {
            return Err(unsupported(key, "its key is not a plain `key:` line"));
        };
        let key_col = e.key_start - text::line_start(fm, e.key_start);
        let seq = match e.shape {
            Shape::FlowSeq(q) if q.total() > 0 => SeqFmt {
                flow: true,
                dash: 2,
                always: q.always(),
            },
            Shape::BlockSeq { dash_col, quotes } => SeqFmt {
                flow: false,
                dash: dash_col.saturating_sub(key_col),
                always: quotes.always(),
            },
            Shape::Scalar {
                style: ScalarStyle::SingleQuoted,
                ..
            } if value.is_string() => SeqFmt {
                always: Some(Quote::Single),
                ..info.default_seq(fm)
            },
            Shape::Scalar {
                style: ScalarStyle::DoubleQuoted,
                ..
            } if value.is_string() => SeqFmt {
                always: Some(Quote::Double),
                ..info.default_seq(fm)
            },
            _ => info.default_seq(fm),
        };
        let rendered = emitter.after_key(value, key_col, seq);
        let inline_start = {
            let line_end = text::line_content_end(fm, colon);
            let rest = &fm[colon + 1..line_end];
            let skip = rest
                .bytes()
                .take_while(|&b| b == b' ' || b == b'\t')
                .count();
            match rest.as_bytes().get(skip) {
                None | Some(b'#') => None,
                Some(_) => Some(colon + 1 + skip),
            }
        };
        let value_end = e.value_end.max(colon + 1);
        let out = match (rendered.strip_prefix(' '), inline_start) {
            (Some(inline), Some(start)) => splice(fm, start, value_end, inline),
            (Some(_), None) => splice(fm, colon + 1, value_end, &rendered),
            (None, Some(_)) => splice(fm, colon + 1, value_end, &rendered),
            (None, None) => {
                // Keep the key line as it is (trailing spaces, comment).
                let line_end = text::line_content_end(fm, colon);
                splice(fm, line_end, value_end.max(line_end), &rendered)
            }
        };
        return Ok(out);
    }
    let mut entry = String::new();
    entry.extend(std::iter::repeat_n(' ', info.key_col));
    entry.push_str(&emitter.key(key));
    entry.push(':');
    entry.push_str(&emitter.after_key(value, info.key_col, info.default_seq(fm)));
    entry.push_str(eol.as_str());
    let anchor = after
        .and_then(|a| info.entry(a))
        .or_else(|| info.entries.last());
    let at = anchor.map_or(fm.len(), |a| text::next_line_start(fm, a.value_end));
    let mut out = String::with_capacity(fm.len() + entry.len() + 2);
    out.push_str(&fm[..at]);
    if at > 0 && !out.ends_with('\n') {
        out.push_str(eol.as_str());
    }
    out.push_str(&entry);
    out.push_str(&fm[at..]);
    Ok(out)
}

/// The front matter for a file that had none: `key: value` lines.
pub(crate) fn new_front_matter(eol: Eol, key: &str, value: &Value) -> String {
    let info = Info::default();
    let emitter = info.emitter("", eol);
    let mut out = emitter.key(key);
    out.push(':');
    out.push_str(&emitter.after_key(value, 0, SeqFmt::default()));
    out.push_str(eol.as_str());
    out
}

/// The front matter without the entry `key` (its lines removed whole;
/// comment lines around it stay). `None` when there is no such entry.
pub(crate) fn remove(fm: &str, info: &Info, key: &str) -> Result<Option<String>, Error> {
    check_editable(info, key)?;
    let Some(e) = info.entry(key) else {
        return Ok(None);
    };
    if e.colon.is_none() {
        return Err(unsupported(key, "its key is not a plain `key:` line"));
    }
    let start = text::line_start(fm, e.key_start);
    let end = text::next_line_start(fm, e.value_end);
    Ok(Some(splice(fm, start, end, "")))
}

/// The front matter with the entry `key` written back exactly as it was
/// in `orig_fm`. `None` when either side lacks a plain entry for it.
pub(crate) fn restore(
    fm: &str,
    info: &Info,
    orig_fm: &str,
    orig_info: &Info,
    key: &str,
) -> Option<String> {
    let cur = info.entry(key).filter(|e| e.colon.is_some())?;
    let orig = orig_info.entry(key).filter(|e| e.colon.is_some())?;
    let was = orig_fm.get(orig.key_start..orig.value_end)?;
    Some(splice(fm, cur.key_start, cur.value_end, was))
}
