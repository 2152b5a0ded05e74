//! JSON front matter: read with `serde_json`, edited by byte span.
//!
//! `serde_json` validates and gives the values; a small scanner then
//! finds the span of each top-level member (it only ever runs on text
//! `serde_json` accepted). Edits replace a member's value span, or add or
//! drop a member together with its comma, in the layout the object
//! already has.

use serde_json::{Map, Value};

use crate::error::{ErrorKind, Fail};
use crate::text::{self, Eol};

/// One top-level member; offsets are in the object's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_start: usize,
    pub(crate) value_start: usize,
    pub(crate) value_end: usize,
}

/// What the editor knows about a JSON front matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Info {
    pub(crate) entries: Vec<Entry>,
    /// Offset of the closing `}`.
    close: usize,
    /// Members are on their own lines.
    multiline: bool,
    /// White space before each top-level member (multi-line objects).
    indent: String,
    /// The text between a key and its value, e.g. `": "`.
    colon: String,
}

/// Parses the object text `fm` (braces included).
pub(crate) fn parse(fm: &str) -> Result<(Map<String, Value>, Info), Fail> {
    let map = match serde_json::from_str::<Value>(fm) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(Fail::at(
                0,
                ErrorKind::NotAMapping,
                "front matter is not a JSON object",
            ));
        }
        Err(e) => {
            let line_start = text::offset_of_line(fm, e.line());
            let offset = text::floor_boundary(fm, line_start + e.column().saturating_sub(1));
            let message = e.to_string();
            let message = match message.rfind(" at line ") {
                Some(i) => &message[..i],
                None => &message,
            };
            return Err(Fail::at(
                offset,
                ErrorKind::Syntax,
                format!("invalid JSON: {message}"),
            ));
        }
    };
    let info = scan(fm)
        .ok_or_else(|| Fail::at(0, ErrorKind::Syntax, "invalid JSON: unexpected structure"))?;
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in &info.entries {
        if let Some(&first) = seen.get(e.key.as_str()) {
            return Err(Fail::Duplicate {
                offset: e.key_start,
                first,
                key: e.key.clone(),
            });
        }
        seen.insert(&e.key, e.key_start);
    }
    Ok((map, info))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
    {
        i += 1;
    }
    i
}

/// End of the string whose opening quote is at `i`.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => crate::split::json_object_end(b, i),
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

fn scan(fm: &str) -> Option<Info> {
    let b = fm.as_bytes();
    let mut info = Info::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    loop {
        match b.get(i)? {
            b'}' => {
                info.close = i;
                break;
            }
            b'"' => {}
            _ => return None,
        }
        let key_start = i;
        let key_end = skip_string(b, i)?;
        let key: String = serde_json::from_str(fm.get(key_start..key_end)?).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(b, i + 1);
        let value_end = skip_value(b, value_start)?;
        if info.entries.is_empty() {
            info.colon = fm.get(key_end..value_start)?.to_owned();
            let ls = text::line_start(fm, key_start);
            info.multiline = ls > 0 && fm[ls..key_start].bytes().all(|c| c == b' ' || c == b'\t');
            if info.multiline {
                info.indent = fm[ls..key_start].to_owned();
            }
        }
        info.entries.push(Entry {
            key,
            key_start,
            value_start,
            value_end,
        });
        i = skip_ws(b, value_end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => {
                info.close = i;
                break;
            }
            _ => return None,
        }
    }
    if info.colon.is_empty() {
        info.colon = ": ".to_owned();
    }
    Some(info)
}

/// How to lay out a value.
struct Layout<'a> {
    eol: &'a str,
    /// One indentation step.
    unit: &'a str,
    /// Arrays one item per line.
    multiline_arrays: bool,
    /// Objects one member per line.
    multiline_objects: bool,
    colon: &'a str,
}

/// A JSON string literal for `s`.
fn json_str(s: &str) -> String {
    Value::from(s).to_string()
}

impl Layout<'_> {
    /// `v` as it follows a key whose line is indented by `indent`.
    fn render(&self, v: &Value, indent: &str) -> String {
        let inner = format!("{indent}{}", self.unit);
        match v {
            Value::Array(items) if items.is_empty() => "[]".to_owned(),
            Value::Object(map) if map.is_empty() => "{}".to_owned(),
            Value::Array(items) if self.multiline_arrays => {
                let mut out = String::from("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(self.eol);
                    out.push_str(&inner);
                    out.push_str(&self.render(item, &inner));
                }
                out.push_str(self.eol);
                out.push_str(indent);
                out.push(']');
                out
            }
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.render(i, indent)).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Object(map) if self.multiline_objects => {
                let mut out = String::from("{");
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(self.eol);
                    out.push_str(&inner);
                    out.push_str(&json_str(k));
                    out.push_str(self.colon);
                    out.push_str(&self.render(item, &inner));
                }
                out.push_str(self.eol);
                out.push_str(indent);
                out.push('}');
                out
            }
            Value::Object(map) => {
                let mut parts = Vec::new();
                for (k, item) in map {
                    parts.push(format!(
                        "{}{}{}",
                        json_str(k),
                        self.colon,
                        self.render(item, indent)
                    ));
                }
                format!("{{{}}}", parts.join(", "))
            }
            scalar => scalar.to_string(),
        }
    }
}

/// The indentation step of the document: the top-level indent, else two
/// spaces.
fn unit(info: &Info) -> &str {
    if info.multiline && !info.indent.is_empty() {
        &info.indent
    } else {
        "  "
    }
}

/// True when the array or object at `start..end` spans several lines.
fn is_multiline(fm: &str, start: usize, end: usize) -> bool {
    fm.get(start..end).is_some_and(|s| s.contains('\n'))
}

pub(crate) fn set(
    fm: &str,
    info: &Info,
    eol: Eol,
    key: &str,
    value: &Value,
    after: Option<&str>,
) -> String {
    // New arrays follow the first array of the document.
    let multiline_arrays = info
        .entries
        .iter()
        .find(|e| fm.as_bytes().get(e.value_start) == Some(&b'['))
        .is_some_and(|e| is_multiline(fm, e.value_start, e.value_end));
    let mut layout = Layout {
        eol: eol.as_str(),
        unit: unit(info),
        multiline_arrays,
        multiline_objects: info.multiline || info.entries.is_empty(),
        colon: &info.colon,
    };
    if let Some(e) = info.entries.iter().find(|e| e.key == key) {
        let old = &fm[e.value_start..e.value_end];
        if old.starts_with('[') || old.starts_with('{') {
            let multi = old.contains('\n');
            layout.multiline_arrays = multi;
            layout.multiline_objects = multi;
        }
        let ls = text::line_start(fm, e.key_start);
        let indent: String = fm[ls..e.key_start]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let new = layout.render(value, &indent);
        return format!("{}{}{}", &fm[..e.value_start], new, &fm[e.value_end..]);
    }
    let indent = if info.multiline || info.entries.is_empty() {
        unit(info).to_owned()
    } else {
        String::new()
    };
    let member = format!(
        "{}{}{}",
        json_str(key),
        layout.colon,
        layout.render(value, &indent)
    );
    let prev = after
        .and_then(|a| info.entries.iter().find(|e| e.key == a))
        .or_else(|| info.entries.last());
    match prev {
        Some(p) => {
            let sep = if info.multiline {
                format!(",{}{}", eol.as_str(), indent)
            } else {
                ", ".to_owned()
            };
            format!(
                "{}{}{}{}",
                &fm[..p.value_end],
                sep,
                member,
                &fm[p.value_end..]
            )
        }
        None => {
            let inside = fm.find('{').map_or(0, |o| o + 1);
            format!(
                "{}{}{}{}{}",
                &fm[..inside],
                eol.as_str(),
                indent,
                member,
                eol.as_str()
            ) + &fm[info.close..]
        }
    }
}

pub(crate) fn remove(fm: &str, info: &Info, key: &str) -> Option<String> {
    let i = info.entries.iter().position(|e| e.key == key)?;
    let e = &info.entries[i];
    let (start, end) = if i > 0 {
        (info.entries[i - 1].value_end, e.value_end)
    } else if let Some(next) = info.entries.get(1) {
        (e.key_start, next.key_start)
    } else {
        (fm.find('{').map_or(0, |o| o + 1), info.close)
    };
    Some(format!("{}{}", &fm[..start], &fm[end..]))
}

pub(crate) fn restore(
    fm: &str,
    info: &Info,
    orig_fm: &str,
    orig_info: &Info,
    key: &str,
) -> Option<String> {
    let cur = info.entries.iter().find(|e| e.key == key)?;
    let orig = orig_info.entries.iter().find(|e| e.key == key)?;
    let was = orig_fm.get(orig.value_start..orig.value_end)?;
    Some(format!(
        "{}{}{}",
        &fm[..cur.value_start],
        was,
        &fm[cur.value_end..]
    ))
}
