//! Lossless front-matter editing (YAML, TOML, JSON): the one way
//! taxonomist reads and changes a content file's front matter.
//!
//! A Hugo content file may open with front matter in one of three
//! formats, told apart by its first line: `---` YAML, `+++` TOML, or a
//! JSON object starting with `{`. This crate reads it into plain
//! `serde_json` values and edits its top-level keys **losslessly**:
//! untouched keys, comments, quoting, key order, blank lines, list style,
//! line endings, a byte-order mark and the body all stay byte-identical.
//!
//! # Brief overview
//!
//! [`Document::parse`] takes a file's text (no I/O) and gives a
//! [`Document`]: the [`Format`], the front matter as a
//! [`serde_json::Map`] ([`Document::data`]) and the body. The edits
//! ([`Document::set`], [`Document::set_list`], [`Document::set_scalar`],
//! [`Document::insert_after`], [`Document::remove`]) rewrite only the
//! bytes of the entry they touch, in the style that entry or the document
//! already uses. Every edit re-parses its result and checks that exactly
//! the requested key changed; if anything else would change, the edit is
//! refused with [`ErrorKind::EditConflict`] and the document stays as it
//! was. Setting a key back to the value it had when the file was parsed
//! writes back its original bytes, so an edit and its reversal leave the
//! file untouched. Errors carry file-relative lines and columns.
//!
//! # Example
//!
//! ```
//! use taxonomist_frontmatter::{Document, Format};
//!
//! let text = "---\ntitle: Hello # greeting\ntags:\n- a\n---\nBody\n";
//! let mut doc = Document::parse(text)?;
//! assert_eq!(doc.format(), Some(Format::Yaml));
//! assert_eq!(doc.get("title"), Some(&serde_json::json!("Hello")));
//!
//! doc.set_list("tags", &["a".into(), "b c".into()])?;
//! assert_eq!(
//!     doc.to_string(),
//!     "---\ntitle: Hello # greeting\ntags:\n- a\n- b c\n---\nBody\n"
//! );
//!
//! doc.set_list("tags", &["a".into()])?;
//! assert_eq!(doc.to_string(), text);
//! assert!(!doc.is_modified());
//! # Ok::<(), taxonomist_frontmatter::Error>(())
//! ```

#![deny(missing_docs)]

mod error;
mod json;
mod split;
mod text;
mod toml;
mod yaml;

use std::fmt;

use serde_json::{Map, Value};

pub use error::{Error, ErrorKind};
use split::Split;
use text::Eol;

/// The format of a front matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML between `---` lines.
    Yaml,
    /// TOML between `+++` lines.
    Toml,
    /// A JSON object at the start of the file.
    Json,
}

/// A scalar value to write with [`Document::set_scalar`].
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A string.
    String(String),
    /// An integer.
    Int(i64),
    /// A float; it must be finite.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    fn to_value(&self) -> Result<Value, Error> {
        Ok(match self {
            Scalar::String(s) => Value::String(s.clone()),
            Scalar::Int(i) => Value::from(*i),
            Scalar::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidValue,
                        format!("cannot write the float {f}"),
                    )
                })?,
            Scalar::Bool(b) => Value::Bool(*b),
        })
    }
}

impl From<&str> for Scalar {
    fn from(s: &str) -> Scalar {
        Scalar::String(s.to_owned())
    }
}

impl From<String> for Scalar {
    fn from(s: String) -> Scalar {
        Scalar::String(s)
    }
}

impl From<i64> for Scalar {
    fn from(i: i64) -> Scalar {
        Scalar::Int(i)
    }
}

impl From<f64> for Scalar {
    fn from(f: f64) -> Scalar {
        Scalar::Float(f)
    }
}

impl From<bool> for Scalar {
    fn from(b: bool) -> Scalar {
        Scalar::Bool(b)
    }
}

/// Deepest nesting of a value this crate writes.
const MAX_WRITE_DEPTH: usize = 64;

/// A parsed content file: its front matter (as data and as spans in the
/// original text) and its body.
///
/// The text is kept as it was read; `to_string()` (through
/// `Display`) gives it back, byte-identical when nothing was edited.
#[derive(Clone, Debug)]
pub struct Document {
    cur: Parsed,
    /// The document as first parsed, kept from the first edit on.
    origin: Option<Box<Parsed>>,
}

#[derive(Clone, Debug)]
struct Parsed {
    /// The file's text without its BOM.
    text: String,
    bom: bool,
    split: Split,
    eol: Eol,
    data: Map<String, Value>,
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    Plain,
    Yaml(yaml::Info),
    Toml(Box<toml_edit::DocumentMut>),
    Json(json::Info),
}

impl Parsed {
    fn parse(input: &str) -> Result<Parsed, Error> {
        let (bom, text) = match input.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        if let Some(i) = memchr::memchr(0, text.as_bytes()) {
            return Err(Error::at(
                text,
                i,
                ErrorKind::NulByte,
                "the file contains a NUL byte (is it binary?)",
            ));
        }
        let split = split::split(text)?;
        let fm = &text[split.fm_start..split.fm_end];
        let fail = |f: error::Fail| f.into_error(text, split.fm_start);
        let (data, state) = match split.format {
            None => (Map::new(), State::Plain),
            Some(Format::Yaml) => {
                let (data, info) = yaml::parse(fm).map_err(fail)?;
                (data, State::Yaml(info))
            }
            Some(Format::Toml) => {
                let (data, doc) = toml::parse(fm).map_err(fail)?;
                (data, State::Toml(Box::new(doc)))
            }
            Some(Format::Json) => {
                let (data, info) = json::parse(fm).map_err(fail)?;
                (data, State::Json(info))
            }
        };
        Ok(Parsed {
            eol: Eol::detect(text),
            text: text.to_owned(),
            bom,
            split,
            data,
            state,
        })
    }

    fn fm(&self) -> &str {
        &self.text[self.split.fm_start..self.split.fm_end]
    }

    fn body(&self) -> &str {
        &self.text[self.split.body_start..]
    }

    /// The whole file with the front matter replaced by `fm`.
    fn with_fm(&self, fm: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + fm.len() + 3);
        if self.bom {
            out.push('\u{feff}');
        }
        out.push_str(&self.text[..self.split.fm_start]);
        out.push_str(fm);
        out.push_str(&self.text[self.split.fm_end..]);
        out
    }
}

/// The edit being made.
enum Op<'a> {
    Set {
        value: &'a Value,
        after: Option<&'a str>,
    },
    Remove,
}

/// Parses a whole data file (a site config such as `hugo.yaml`, `config.toml` or
/// `hugo.json`) into the same JSON values front matter gives. A leading BOM is allowed.
///
/// # Errors
///
/// Invalid syntax, a top level that is not a mapping, a duplicate key or a NUL byte, with
/// the 1-based line and column in `text`.
pub fn parse_data(format: Format, text: &str) -> Result<Map<String, Value>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(i) = memchr::memchr(0, text.as_bytes()) {
        return Err(Error::at(
            text,
            i,
            ErrorKind::NulByte,
            "the file contains a NUL byte (is it binary?)",
        ));
    }
    let fail = |f: error::Fail| f.into_error(text, 0);
    match format {
        Format::Yaml if text.trim().is_empty() => Ok(Map::new()),
        Format::Yaml => yaml::parse(text).map(|(d, _)| d).map_err(fail),
        Format::Toml => toml::parse(text).map(|(d, _)| d).map_err(fail),
        Format::Json => json::parse(text).map(|(d, _)| d).map_err(fail),
    }
}

impl Document {
    /// Parses a file's text. A leading UTF-8 BOM is allowed and kept.
    ///
    /// # Errors
    ///
    /// Invalid YAML, TOML or JSON ([`ErrorKind::Syntax`]), an unclosed
    /// front matter ([`ErrorKind::Unclosed`]), a front matter that is not
    /// a mapping ([`ErrorKind::NotAMapping`]), a key given twice
    /// ([`ErrorKind::DuplicateKey`]) or a NUL byte anywhere in the text
    /// ([`ErrorKind::NulByte`]). Each has the file-relative position.
    pub fn parse(text: &str) -> Result<Document, Error> {
        Ok(Document {
            cur: Parsed::parse(text)?,
            origin: None,
        })
    }

    /// The format of the front matter; `None` when the file has none.
    pub fn format(&self) -> Option<Format> {
        self.cur.split.format
    }

    /// The front matter as data, keys in file order. YAML plain scalars
    /// follow the YAML 1.2 core schema (`true`, `42`, `0.5`, `null`);
    /// dates and timestamps stay strings as written, in every format.
    /// Empty when the file has no front matter.
    pub fn data(&self) -> &Map<String, Value> {
        &self.cur.data
    }

    /// The value of a top-level key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cur.data.get(key)
    }

    /// The body: everything after the front matter's closing line (the
    /// whole text, less any BOM, when there is no front matter).
    pub fn body(&self) -> &str {
        self.cur.body()
    }

    /// The 1-based line of the file on which the body starts.
    pub fn body_line_offset(&self) -> usize {
        text::line_col(&self.cur.text, self.cur.split.body_start).0
    }

    /// True when the file starts with a UTF-8 byte-order mark.
    pub fn has_bom(&self) -> bool {
        self.cur.bom
    }

    /// True when the text differs from the text first parsed. Setting a
    /// key and then setting it back leaves the document unmodified.
    pub fn is_modified(&self) -> bool {
        self.origin
            .as_ref()
            .is_some_and(|o| o.text != self.cur.text || o.bom != self.cur.bom)
    }

    /// The whole file text (BOM included when it had one). The same as
    /// `to_string()`, without the copy.
    pub fn into_string(self) -> String {
        if self.cur.bom {
            let mut s = String::with_capacity(self.cur.text.len() + 3);
            s.push('\u{feff}');
            s.push_str(&self.cur.text);
            s
        } else {
            self.cur.text
        }
    }

    /// Sets a top-level key to `value`. An existing key is changed where
    /// it stands; a new key goes at the end of the front matter. A file
    /// without front matter gets a YAML one. Setting a key to the value
    /// it already has changes nothing.
    ///
    /// The value is written in the style the key or the document already
    /// uses: a flow list stays `[a, b]`, a block list keeps its item
    /// indentation, items that were all quoted stay quoted, a quoted
    /// scalar keeps its quotes, a trailing comment stays.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidValue`] for a value the format cannot hold
    /// (`null` in TOML), [`ErrorKind::Unsupported`] for a front matter
    /// this editor cannot change (a YAML flow mapping), and
    /// [`ErrorKind::EditConflict`] when the edit would change anything
    /// but this key (the document is then unchanged).
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), Error> {
        self.edit(key, Op::Set { value, after: None }).map(|_| ())
    }

    /// Sets a top-level key to a list of strings; see [`Document::set`].
    ///
    /// # Errors
    ///
    /// As for [`Document::set`].
    pub fn set_list(&mut self, key: &str, values: &[String]) -> Result<(), Error> {
        let value = Value::Array(values.iter().cloned().map(Value::String).collect());
        self.set(key, &value)
    }

    /// Sets a top-level key to a scalar; see [`Document::set`].
    ///
    /// # Errors
    ///
    /// As for [`Document::set`], and [`ErrorKind::InvalidValue`] for a
    /// float that is not finite.
    pub fn set_scalar(&mut self, key: &str, value: impl Into<Scalar>) -> Result<(), Error> {
        let value = value.into().to_value()?;
        self.set(key, &value)
    }

    /// Sets `key` to `value`, placing it right after the key `after` when
    /// `key` is new (at the end when `after` is absent too). When `key`
    /// already exists it is changed where it stands, exactly like
    /// [`Document::set`]: callers need not check first.
    ///
    /// In TOML a new mapping value becomes a `[key]` table, which TOML
    /// places after all plain keys; a new plain value is placed after
    /// `after`.
    ///
    /// # Errors
    ///
    /// As for [`Document::set`].
    pub fn insert_after(&mut self, key: &str, after: &str, value: &Value) -> Result<(), Error> {
        self.edit(
            key,
            Op::Set {
                value,
                after: Some(after),
            },
        )
        .map(|_| ())
    }

    /// Removes a top-level key and its value. Returns whether it was
    /// there. Comment lines next to it stay.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] or [`ErrorKind::EditConflict`], as for
    /// [`Document::set`].
    pub fn remove(&mut self, key: &str) -> Result<bool, Error> {
        if !self.cur.data.contains_key(key) {
            return Ok(false);
        }
        self.edit(key, Op::Remove)
    }

    fn edit(&mut self, key: &str, op: Op<'_>) -> Result<bool, Error> {
        let mut expected = self.cur.data.clone();
        match op {
            Op::Set { value, .. } => {
                check_value(value, self.cur.split.format, 0)?;
                if self.cur.data.get(key) == Some(value) {
                    return Ok(false);
                }
                expected.insert(key.to_owned(), value.clone());
                if let Some(text) = self.restored_text(key, value)
                    && let Ok(next) = self.check(key, &text, &expected)
                {
                    self.commit(next);
                    return Ok(true);
                }
            }
            Op::Remove => {
                expected.shift_remove(key);
            }
        }
        let text = self.edited_text(key, &op)?;
        let next = self.check(key, &text, &expected)?;
        self.commit(next);
        Ok(true)
    }

    fn commit(&mut self, next: Parsed) {
        if self.origin.is_none() {
            let old = std::mem::replace(&mut self.cur, next);
            self.origin = Some(Box::new(old));
        } else {
            self.cur = next;
        }
    }

    /// When `value` is what `key` held in the file as first parsed, the
    /// text with the key's original bytes put back.
    fn restored_text(&self, key: &str, value: &Value) -> Option<String> {
        let origin = self.origin.as_deref()?;
        if origin.data.get(key) != Some(value) || origin.split.format != self.cur.split.format {
            return None;
        }
        let fm = match (&self.cur.state, &origin.state) {
            (State::Yaml(info), State::Yaml(orig)) => {
                yaml::restore(self.cur.fm(), info, origin.fm(), orig, key)?
            }
            (State::Json(info), State::Json(orig)) => {
                json::restore(self.cur.fm(), info, origin.fm(), orig, key)?
            }
            (State::Toml(doc), State::Toml(orig)) => {
                let item = orig.as_table().get(key)?;
                toml::set(doc, self.cur.eol, key, value, None, Some(item)).ok()?
            }
            _ => return None,
        };
        Some(self.cur.with_fm(&fm))
    }

    fn edited_text(&self, key: &str, op: &Op<'_>) -> Result<String, Error> {
        let cur = &self.cur;
        let fm = cur.fm();
        let eol = cur.eol;
        let new_fm = match (op, &cur.state) {
            (Op::Set { value, .. }, State::Plain) => {
                let mut out = String::with_capacity(cur.text.len() + 64);
                if cur.bom {
                    out.push('\u{feff}');
                }
                out.push_str("---");
                out.push_str(eol.as_str());
                out.push_str(&yaml::new_front_matter(eol, key, value));
                out.push_str("---");
                out.push_str(eol.as_str());
                out.push_str(&cur.text);
                return Ok(out);
            }
            (Op::Set { value, after }, State::Yaml(info)) => {
                yaml::set(fm, info, eol, key, value, *after)?
            }
            (Op::Set { value, after }, State::Toml(doc)) => {
                toml::set(doc, eol, key, value, *after, None)?
            }
            (Op::Set { value, after }, State::Json(info)) => {
                json::set(fm, info, eol, key, value, *after)
            }
            (Op::Remove, State::Yaml(info)) => yaml::remove(fm, info, key)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("cannot remove `{key}`: it comes from a YAML merge key"),
                )
            })?,
            (Op::Remove, State::Toml(doc)) => {
                toml::remove(doc, eol, key).unwrap_or_else(|| fm.to_owned())
            }
            (Op::Remove, State::Json(info)) => {
                json::remove(fm, info, key).unwrap_or_else(|| fm.to_owned())
            }
            (Op::Remove, State::Plain) => fm.to_owned(),
        };
        Ok(cur.with_fm(&new_fm))
    }

    /// Parses the edited `text` and checks that, compared with now, only
    /// `key` changed (to its `expected` value) and the body did not.
    fn check(&self, key: &str, text: &str, expected: &Map<String, Value>) -> Result<Parsed, Error> {
        let conflict = |why: String| {
            Error::new(
                ErrorKind::EditConflict,
                format!("editing `{key}` {why}; the file was left unchanged"),
            )
        };
        let next = Parsed::parse(text)
            .map_err(|e| conflict(format!("would make the front matter invalid ({e})")))?;
        if next.body() != self.cur.body() || next.bom != self.cur.bom {
            return Err(conflict("would change the body".to_owned()));
        }
        if next.data != *expected {
            let changed: Vec<&str> = expected
                .iter()
                .filter(|(k, v)| next.data.get(*k) != Some(*v))
                .map(|(k, _)| k.as_str())
                .chain(
                    next.data
                        .keys()
                        .filter(|k| !expected.contains_key(*k))
                        .map(String::as_str),
                )
                .collect();
            return Err(conflict(format!(
                "would also change {}",
                if changed.is_empty() {
                    "the data".to_owned()
                } else {
                    changed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        }
        let others = |m: &Map<String, Value>| -> Vec<String> {
            m.keys().filter(|k| *k != key).cloned().collect()
        };
        if others(&next.data) != others(expected) {
            return Err(conflict("would reorder other keys".to_owned()));
        }
        Ok(next)
    }
}

/// Rejects values the format cannot hold before any text is written.
fn check_value(v: &Value, format: Option<Format>, depth: usize) -> Result<(), Error> {
    if depth > MAX_WRITE_DEPTH {
        return Err(Error::new(
            ErrorKind::InvalidValue,
            "the value is nested too deeply",
        ));
    }
    match v {
        Value::Null if format == Some(Format::Toml) => Err(Error::new(
            ErrorKind::InvalidValue,
            "TOML has no null value",
        )),
        Value::Array(items) => items
            .iter()
            .try_for_each(|i| check_value(i, format, depth + 1)),
        Value::Object(map) => map
            .values()
            .try_for_each(|i| check_value(i, format, depth + 1)),
        _ => Ok(()),
    }
}

impl fmt::Display for Document {
    /// The whole file text, BOM included when it had one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cur.bom {
            f.write_str("\u{feff}")?;
        }
        f.write_str(&self.cur.text)
    }
}

#[cfg(test)]
mod parse_data_tests {
    use super::*;

    #[test]
    fn whole_files_in_each_format() {
        let y =
            parse_data(Format::Yaml, "\u{feff}title: x\ntaxonomies:\n  tag: tags\n").expect("yaml");
        assert_eq!(y["taxonomies"]["tag"], "tags");
        let t = parse_data(Format::Toml, "[taxonomies]\ntag = 'tags'\n").expect("toml");
        assert_eq!(t["taxonomies"]["tag"], "tags");
        let j = parse_data(Format::Json, "{\"taxonomies\": {\"tag\": \"tags\"}}").expect("json");
        assert_eq!(j["taxonomies"]["tag"], "tags");
        assert!(parse_data(Format::Yaml, "").expect("empty").is_empty());
    }

    #[test]
    fn errors_are_located_in_the_file() {
        let e = parse_data(Format::Yaml, "a: 1\nb: [1, 2\n").expect_err("invalid");
        assert!(e.line().is_some_and(|l| l >= 2), "{e}");
        let e = parse_data(Format::Toml, "a = 1\n[b\n").expect_err("invalid");
        assert_eq!(e.line(), Some(2), "{e}");
        let e = parse_data(Format::Yaml, "- a\n- b\n").expect_err("not a mapping");
        assert_eq!(e.kind(), ErrorKind::NotAMapping);
    }
}
