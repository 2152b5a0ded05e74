//! TOML front matter, read and edited with `toml_edit`.
//!
//! `toml_edit` keeps every key's and value's surrounding text ("decor"),
//! so printing a `DocumentMut` gives back its input, and an edit changes
//! only the item it touches. A replaced value takes over the old value's
//! decor (the space before it, a trailing comment after it) and, for
//! arrays, the old items' spacing, line breaks and trailing comma.

use serde_json::{Map, Number, Value};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table};

use crate::error::{Error, ErrorKind, Fail};
use crate::text::{self, Eol};

/// Parses the front-matter text.
pub(crate) fn parse(fm: &str) -> Result<(Map<String, Value>, DocumentMut), Fail> {
    let doc = fm.parse::<DocumentMut>().map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().trim_end_matches('.');
        let message = message.lines().next().unwrap_or(message);
        let kind = if message.starts_with("duplicate key") {
            ErrorKind::DuplicateKey
        } else {
            ErrorKind::Syntax
        };
        Fail::at(offset, kind, format!("invalid TOML: {message}"))
    })?;
    let data = table_to_json(doc.as_table());
    Ok((data, doc))
}

fn table_to_json(t: &Table) -> Map<String, Value> {
    t.iter()
        .map(|(k, item)| (k.to_owned(), item_to_json(item)))
        .collect()
}

fn item_to_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(v) => value_to_json(v),
        Item::Table(t) => Value::Object(table_to_json(t)),
        Item::ArrayOfTables(a) => {
            Value::Array(a.iter().map(|t| Value::Object(table_to_json(t))).collect())
        }
    }
}

/// The text of a parsed value as written in the file.
fn raw(r: Option<&toml_edit::Repr>) -> Option<String> {
    r.and_then(|r| r.as_raw().as_str()).map(str::to_owned)
}

fn value_to_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => match Number::from_f64(*f.value()) {
            Some(n) => Value::Number(n),
            None => Value::String(raw(f.as_repr()).unwrap_or_else(|| f.value().to_string())),
        },
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(raw(d.as_repr()).unwrap_or_else(|| d.value().to_string())),
        T::Array(a) => Value::Array(a.iter().map(value_to_json).collect()),
        T::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), value_to_json(v)))
                .collect(),
        ),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidValue, message)
}

/// `v` as a TOML value; TOML has no null and no integers above `i64`.
pub(crate) fn to_toml(v: &Value) -> Result<toml_edit::Value, Error> {
    Ok(match v {
        Value::Null => return Err(invalid("TOML has no null value")),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if n.is_u64() {
                return Err(invalid(format!("integer {n} is too large for TOML")));
            } else {
                n.as_f64()
                    .ok_or_else(|| invalid(format!("cannot write number {n}")))?
                    .into()
            }
        }
        Value::String(s) => basic_string(s)?,
        Value::Array(items) => {
            let mut a = Array::new();
            for item in items {
                a.push(to_toml(item)?);
            }
            toml_edit::Value::Array(a)
        }
        Value::Object(map) => {
            let mut t = InlineTable::new();
            for (k, item) in map {
                t.insert(k, to_toml(item)?);
            }
            toml_edit::Value::InlineTable(t)
        }
    })
}

/// `s` as a one-line basic string (`"..."` with escapes). `toml_edit`
/// would pick a multi-line string for text with line breaks, whose raw
/// line breaks a CRLF file would then change.
fn basic_string(s: &str) -> Result<toml_edit::Value, Error> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out.parse::<toml_edit::Value>()
        .map_err(|e| invalid(format!("cannot write the string {s:?} in TOML: {e}")))
}

/// A decor without comments (comments must not be copied to new items).
fn plain_decor(d: &toml_edit::Decor) -> Option<toml_edit::Decor> {
    let prefix = d.prefix().and_then(|r| r.as_str()).unwrap_or("");
    let suffix = d.suffix().and_then(|r| r.as_str()).unwrap_or("");
    if prefix.contains('#') || suffix.contains('#') {
        return None;
    }
    Some(toml_edit::Decor::new(prefix, suffix))
}

/// Gives `new` the layout of `old`: its decor, and for arrays the item
/// spacing and trailing comma.
fn restyle(new: &mut toml_edit::Value, old: &toml_edit::Value) {
    *new.decor_mut() = old.decor().clone();
    if let (toml_edit::Value::Array(na), toml_edit::Value::Array(oa)) = (new, old) {
        let first = oa.get(0).and_then(|v| plain_decor(v.decor()));
        let rest = oa.get(1).and_then(|v| plain_decor(v.decor()));
        for (i, item) in na.iter_mut().enumerate() {
            let d = if i == 0 { &first } else { &rest };
            if let Some(d) = d {
                *item.decor_mut() = d.clone();
            }
        }
        if let Some(t) = oa.trailing().as_str()
            && !t.contains('#')
            && !na.is_empty()
        {
            na.set_trailing(t);
        }
        na.set_trailing_comma(oa.trailing_comma() && !na.is_empty());
    }
}

fn new_item(value: &Value, old: Option<&Item>) -> Result<Item, Error> {
    match (value, old) {
        (Value::Object(map), Some(Item::Table(old_table))) => {
            let mut t = Table::new();
            t.set_position(old_table.position());
            *t.decor_mut() = old_table.decor().clone();
            for (k, v) in map {
                t.insert(k, Item::Value(to_toml(v)?));
            }
            Ok(Item::Table(t))
        }
        (Value::Object(map), None) if !map.is_empty() => {
            let mut t = Table::new();
            for (k, v) in map {
                t.insert(k, Item::Value(to_toml(v)?));
            }
            Ok(Item::Table(t))
        }
        (_, Some(Item::Value(old_value))) => {
            let mut v = to_toml(value)?;
            restyle(&mut v, old_value);
            Ok(Item::Value(v))
        }
        _ => Ok(Item::Value(to_toml(value)?)),
    }
}

fn print(doc: &DocumentMut, eol: Eol) -> String {
    let s = doc.to_string();
    match eol {
        Eol::Lf => s,
        Eol::CrLf => text::to_crlf(&s),
    }
}

/// The front matter with `key` set to `value`, or `original` (an item
/// of the unedited document) when given.
pub(crate) fn set(
    doc: &DocumentMut,
    eol: Eol,
    key: &str,
    value: &Value,
    after: Option<&str>,
    original: Option<&Item>,
) -> Result<String, Error> {
    let mut doc = doc.clone();
    let root = doc.as_table_mut();
    if let Some(item) = root.get_mut(key) {
        *item = match original {
            Some(orig) => orig.clone(),
            None => new_item(value, Some(item))?,
        };
        return Ok(print(&doc, eol));
    }
    let item = new_item(value, None)?;
    let is_value = item.is_value();
    root.insert(key, item);
    if let (true, Some(after)) = (is_value, after) {
        // Move the key-values that followed `after` behind the new key.
        let keys: Vec<String> = root.iter().map(|(k, _)| k.to_owned()).collect();
        if let Some(pos) = keys.iter().position(|k| k == after) {
            for k in &keys[pos + 1..] {
                if k == key {
                    continue;
                }
                if let Some((k, item)) = root.remove_entry(k) {
                    root.insert_formatted(&k, item);
                }
            }
        }
    }
    Ok(print(&doc, eol))
}

/// The front matter without `key`; comment lines written above the key
/// are kept (moved to whatever follows). `None` when there is no such key.
pub(crate) fn remove(doc: &DocumentMut, eol: Eol, key: &str) -> Option<String> {
    let mut doc = doc.clone();
    let root = doc.as_table_mut();
    let keys: Vec<String> = root.iter().map(|(k, _)| k.to_owned()).collect();
    let pos = keys.iter().position(|k| k == key)?;
    let comments = match root.get(key) {
        Some(Item::Value(_)) => root
            .key(key)
            .and_then(|k| k.leaf_decor().prefix())
            .and_then(|p| p.as_str())
            .filter(|p| p.contains('#'))
            .map(str::to_owned),
        Some(Item::Table(t)) => t
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .filter(|p| p.contains('#'))
            .map(str::to_owned),
        _ => None,
    };
    root.remove(key)?;
    if let Some(comments) = comments {
        let next = keys.get(pos + 1).cloned();
        let moved = match next
            .as_deref()
            .and_then(|n| root.get(n).map(|i| (n, i.is_value())))
        {
            Some((n, true)) => root.key_mut(n).is_some_and(|mut k| {
                let old = k
                    .leaf_decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_owned();
                k.leaf_decor_mut().set_prefix(format!("{comments}{old}"));
                true
            }),
            Some((n, false)) => match root.get_mut(n) {
                Some(Item::Table(t)) => {
                    let old = t
                        .decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .unwrap_or("")
                        .to_owned();
                    t.decor_mut().set_prefix(format!("{comments}{old}"));
                    true
                }
                _ => false,
            },
            None => false,
        };
        if !moved {
            let trailing = doc.trailing().as_str().unwrap_or("").to_owned();
            doc.set_trailing(format!("{comments}{trailing}"));
        }
    }
    Some(print(&doc, eol))
}
