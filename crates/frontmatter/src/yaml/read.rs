//! Reading YAML front matter: values and the byte span of every top-level
//! entry, from `saphyr-parser`'s event stream.
//!
//! We build `serde_json` values straight from the events (no intermediate
//! YAML tree), resolving plain scalars with the YAML 1.2 core schema. The
//! spans come from the events' markers, with three corrections measured
//! on real files: a block scalar's event ends at the next token (so its
//! trailing blank lines are trimmed back, except under `+` chomping where
//! they are content), a flow collection's end event may run over a
//! trailing comment (so only its closing bracket counts), and an empty
//! value is a zero-width event at the colon.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::{Map, Number, Value};

use super::{Entry, Info, Quotes, Shape};
use crate::error::{ErrorKind, Fail};
use crate::text;

/// Deepest nesting of collections we read.
const MAX_DEPTH: usize = 128;
/// Most nodes alias expansion may create (a guard against "billion
/// laughs" documents).
const MAX_ALIAS_NODES: usize = 100_000;
/// saphyr rejects a quoted scalar whose continuation lines are less
/// indented than its parent; libyaml (and so Hugo) accepts them.
const QUOTED_INDENT_ERROR: &str = "invalid indentation in quoted scalar";

/// Parses `src` (the front-matter text) into its data and entry spans.
pub(crate) fn parse(src: &str) -> Result<(Map<String, Value>, Info), Fail> {
    match parse_source(src) {
        Err(Fail::At {
            offset, message, ..
        }) if message.ends_with(QUOTED_INDENT_ERROR) => parse_patched(src, offset),
        other => other,
    }
}

/// Retries with the continuation lines of offending quoted scalars
/// indented (which changes no value: leading white space on a quoted
/// scalar's continuation line is folded away), then maps the offsets back.
fn parse_patched(src: &str, first: usize) -> Result<(Map<String, Value>, Info), Fail> {
    let mut patched = src.to_owned();
    // (offset in the patched text, number of spaces inserted there)
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut at = first;
    let original_error = || {
        Fail::at(
            first,
            ErrorKind::Syntax,
            format!("invalid YAML: {QUOTED_INDENT_ERROR}"),
        )
    };
    for _ in 0..1000 {
        let Some((next, new_runs)) = pad_quoted(&patched, at) else {
            return Err(original_error());
        };
        if runs
            .last()
            .zip(new_runs.first())
            .is_some_and(|(a, b)| b.0 <= a.0)
        {
            return Err(original_error());
        }
        patched = next;
        runs.extend(new_runs);
        let unpatch = |p: usize| unpatch(&runs, p);
        match parse_source(&patched) {
            Ok((data, mut info)) => {
                for e in &mut info.entries {
                    e.key_start = unpatch(e.key_start);
                    e.key_end = unpatch(e.key_end);
                    e.colon = e.colon.map(unpatch);
                    e.value_end = unpatch(e.value_end);
                }
                return Ok((data, info));
            }
            Err(Fail::At {
                offset, message, ..
            }) if message.ends_with(QUOTED_INDENT_ERROR) => at = offset,
            Err(other) => return Err(other.map_offsets(unpatch)),
        }
    }
    Err(original_error())
}

fn unpatch(runs: &[(usize, usize)], p: usize) -> usize {
    let mut shift = 0;
    for &(start, len) in runs {
        if p >= start + len {
            shift += len;
        } else if p > start {
            return start - shift;
        } else {
            break;
        }
    }
    p - shift
}

/// Indents the continuation lines of the quoted scalar opening at byte
/// `q` up to its opening quote's column. `None` when nothing changes.
fn pad_quoted(src: &str, q: usize) -> Option<(String, Vec<(usize, usize)>)> {
    let bytes = src.as_bytes();
    let quote = *bytes.get(q)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let col = q - text::line_start(src, q);
    let mut line_starts = Vec::new();
    let mut i = q + 1;
    loop {
        let b = *bytes.get(i)?;
        match b {
            b'\\' if quote == b'"' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    line_starts.push(i + 2);
                }
                i += 2;
                continue;
            }
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => {
                i += 2;
                continue;
            }
            b if b == quote => break,
            b'\n' => line_starts.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    let mut out = String::with_capacity(src.len() + line_starts.len() * col);
    let mut runs = Vec::new();
    let mut last = 0;
    for ls in line_starts {
        let indent = bytes[ls..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let blank = matches!(bytes.get(ls + indent), None | Some(b'\n' | b'\r'));
        if blank || indent >= col {
            continue;
        }
        let pad = col - indent;
        out.push_str(&src[last..ls]);
        runs.push((out.len(), pad));
        out.extend(std::iter::repeat_n(' ', pad));
        last = ls;
    }
    if runs.is_empty() {
        return None;
    }
    out.push_str(&src[last..]);
    Some((out, runs))
}

/// Maps saphyr's character indices to byte offsets.
struct CharMap {
    len: usize,
    /// `None` for ASCII text, where they are the same.
    table: Option<Vec<usize>>,
}

impl CharMap {
    fn new(src: &str) -> CharMap {
        let table = (!src.is_ascii()).then(|| {
            src.char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(src.len()))
                .collect()
        });
        CharMap {
            len: src.len(),
            table,
        }
    }

    fn byte(&self, m: &Marker) -> usize {
        match &self.table {
            None => m.index().min(self.len),
            Some(t) => t.get(m.index()).copied().unwrap_or(self.len),
        }
    }
}

/// What the reader learns about a node besides its value.
#[derive(Clone, Copy, Default)]
struct NodeInfo {
    style: Option<ScalarStyle>,
    quotes: Quotes,
}

struct Reader<'a> {
    src: &'a str,
    parser: Parser<'a, StrInput<'a>>,
    chars: CharMap,
    anchors: HashMap<usize, Value>,
    alias_nodes: usize,
    doc_quotes: Quotes,
}

fn parse_source(src: &str) -> Result<(Map<String, Value>, Info), Fail> {
    let mut r = Reader {
        src,
        parser: Parser::new_from_str(src),
        chars: CharMap::new(src),
        anchors: HashMap::new(),
        alias_nodes: 0,
        doc_quotes: Quotes::default(),
    };
    r.document()
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), Fail> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(Fail::at(
                self.src.len(),
                ErrorKind::Syntax,
                "invalid YAML: unexpected end of input",
            )),
        }
    }

    fn scan_error(&self, e: &ScanError) -> Fail {
        Fail::at(
            self.chars.byte(e.marker()),
            ErrorKind::Syntax,
            format!("invalid YAML: {}", e.info()),
        )
    }

    fn start(&self, span: &Span) -> usize {
        self.chars.byte(&span.start)
    }

    fn end(&self, span: &Span) -> usize {
        self.chars.byte(&span.end)
    }

    /// True when a collection start event is a flow `[` / `{`: its span
    /// ends just past the bracket (a block start is zero-width, or covers
    /// only an anchor or tag).
    fn is_flow_start(&self, span: &Span, bracket: u8) -> bool {
        let (start, end) = (self.start(span), self.end(span));
        self.src.as_bytes()[start..end.max(start)].contains(&bracket)
    }

    /// Offset just past the closing bracket of a flow collection whose end
    /// event is `span`: the event may start before the bracket (at blanks,
    /// a comment or a trailing comma) and run on after it.
    fn flow_end(&self, span: &Span, bracket: u8) -> usize {
        let b = self.src.as_bytes();
        let mut p = self.start(span);
        while let Some(&c) = b.get(p) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => p += 1,
                b'#' => p = text::line_content_end(self.src, p),
                _ => break,
            }
        }
        if b.get(p) == Some(&bracket) {
            p + 1
        } else {
            self.start(span) + 1
        }
    }

    fn document(&mut self) -> Result<(Map<String, Value>, Info), Fail> {
        let mut info = Info::default();
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart => continue,
                Event::StreamEnd => return Ok((Map::new(), info)),
                Event::DocumentStart(_) => break,
                _ => {
                    return Err(Fail::at(
                        self.start(&span),
                        ErrorKind::Syntax,
                        "invalid YAML: unexpected event before the document",
                    ));
                }
            }
        }
        let (ev, span) = self.next()?;
        let map = match ev {
            Event::MappingStart(anchor, _) => {
                info.flow_root = self.is_flow_start(&span, b'{');
                let map = self.root_mapping(&mut info)?;
                if anchor != 0 {
                    self.anchors.insert(anchor, Value::Object(map.clone()));
                }
                map
            }
            Event::DocumentEnd => Map::new(),
            Event::Scalar(ref s, ScalarStyle::Plain, _, None) if s.is_empty() => Map::new(),
            _ => {
                return Err(Fail::at(
                    self.start(&span),
                    ErrorKind::NotAMapping,
                    "front matter is not a mapping of keys to values",
                ));
            }
        };
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::DocumentEnd => continue,
                Event::StreamEnd => break,
                _ => {
                    return Err(Fail::at(
                        self.start(&span),
                        ErrorKind::Syntax,
                        "invalid YAML: more than one document in the front matter",
                    ));
                }
            }
        }
        info.quote_pref = if self.doc_quotes.single > self.doc_quotes.double {
            super::Quote::Single
        } else {
            super::Quote::Double
        };
        info.key_col = info
            .entries
            .first()
            .map_or(0, |e| e.key_start - text::line_start(self.src, e.key_start));
        Ok((map, info))
    }

    fn root_mapping(&mut self, info: &mut Info) -> Result<Map<String, Value>, Fail> {
        let mut map = Map::new();
        let mut merges = Vec::new();
        loop {
            let (kev, kspan) = self.next()?;
            if let Event::MappingEnd = kev {
                break;
            }
            let key_start = self.start(&kspan);
            let key_end = self.end(&kspan);
            let scalar_key = matches!(kev, Event::Scalar(..));
            let is_merge =
                matches!(&kev, Event::Scalar(s, ScalarStyle::Plain, _, None) if s == "<<");
            let mut ignored = 0;
            let (key_value, _) = self.node(kev, &kspan, 1, &mut ignored)?;
            let key = key_string(key_value);

            let (vev, vspan) = self.next()?;
            let shape = self.shape(&vev, &vspan);
            let mut value_end = 0;
            let (value, node) = self.node(vev, &vspan, 1, &mut value_end)?;
            let shape = match shape {
                Shape::FlowSeq(_) => Shape::FlowSeq(node.quotes),
                Shape::BlockSeq { dash_col, .. } => Shape::BlockSeq {
                    dash_col,
                    quotes: node.quotes,
                },
                other => other,
            };

            let at_line_start = self.src[text::line_start(self.src, key_start)..key_start]
                .bytes()
                .all(|b| b == b' ');
            let colon = if scalar_key && at_line_start && !info.flow_root {
                find_colon(self.src, key_end)
            } else {
                None
            };
            let value_end = value_end
                .max(colon.map_or(key_end, |c| c + 1))
                .min(self.src.len());
            if let Some(first) = info.entries.iter().find(|e| e.key == key && !is_merge) {
                return Err(Fail::Duplicate {
                    offset: key_start,
                    first: first.key_start,
                    key,
                });
            }
            info.entries.push(Entry {
                key: key.clone(),
                key_start,
                key_end,
                colon,
                value_end,
                shape,
            });
            if is_merge {
                merges.push(value);
            } else {
                map.insert(key, value);
            }
        }
        apply_merges(&mut map, merges, self.src.len())?;
        Ok(map)
    }

    /// The shape of a top-level value, from its first event.
    fn shape(&self, ev: &Event<'a>, span: &Span) -> Shape {
        match ev {
            Event::Scalar(s, style, ..) => Shape::Scalar {
                style: *style,
                empty: s.is_empty() && *style == ScalarStyle::Plain,
            },
            Event::Alias(_) => Shape::Alias,
            Event::SequenceStart(..) if self.is_flow_start(span, b'[') => {
                Shape::FlowSeq(Quotes::default())
            }
            Event::SequenceStart(..) => {
                let ls = text::line_start(self.src, self.start(span));
                let dash_col = self.src[ls..].bytes().take_while(|&b| b == b' ').count();
                Shape::BlockSeq {
                    dash_col,
                    quotes: Quotes::default(),
                }
            }
            Event::MappingStart(..) if self.is_flow_start(span, b'{') => Shape::FlowMap,
            Event::MappingStart(..) => {
                let start = self.start(span);
                Shape::BlockMap {
                    key_col: start - text::line_start(self.src, start),
                }
            }
            _ => Shape::Scalar {
                style: ScalarStyle::Plain,
                empty: true,
            },
        }
    }

    /// Reads one node whose first event is `ev`, extending `end` to the
    /// end of its last meaningful character.
    fn node(
        &mut self,
        ev: Event<'a>,
        span: &Span,
        depth: usize,
        end: &mut usize,
    ) -> Result<(Value, NodeInfo), Fail> {
        if depth > MAX_DEPTH {
            return Err(Fail::at(
                self.start(span),
                ErrorKind::Syntax,
                "invalid YAML: nesting is too deep",
            ));
        }
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                self.doc_quotes.count(style);
                self.extend_scalar(&s, style, span, end);
                let v = resolve(s, style, tag.as_deref());
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok((
                    v,
                    NodeInfo {
                        style: Some(style),
                        ..NodeInfo::default()
                    },
                ))
            }
            Event::Alias(id) => {
                // `*name`: the event may run on over a trailing comment.
                let start = self.start(span);
                let name_end = self.src[start..]
                    .char_indices()
                    .skip(1)
                    .find(|&(_, c)| c.is_whitespace() || ",[]{}".contains(c))
                    .map_or(self.src.len(), |(i, _)| start + i);
                *end = (*end).max(name_end.min(self.end(span).max(start + 1)));
                let Some(v) = self.anchors.get(&id) else {
                    return Err(Fail::at(
                        self.start(span),
                        ErrorKind::Syntax,
                        "invalid YAML: unknown alias",
                    ));
                };
                self.alias_nodes += count_nodes(v);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(Fail::at(
                        self.start(span),
                        ErrorKind::Syntax,
                        "invalid YAML: aliases expand to too many nodes",
                    ));
                }
                Ok((v.clone(), NodeInfo::default()))
            }
            Event::SequenceStart(anchor, _) => {
                let flow = self.is_flow_start(span, b'[');
                let mut items = Vec::new();
                let mut quotes = Quotes::default();
                loop {
                    let (ev, sp) = self.next()?;
                    if let Event::SequenceEnd = ev {
                        if flow {
                            *end = (*end).max(self.flow_end(&sp, b']'));
                        }
                        break;
                    }
                    let (v, ni) = self.node(ev, &sp, depth + 1, end)?;
                    if let Some(style) = ni.style {
                        quotes.count(style);
                    }
                    items.push(v);
                }
                let v = Value::Array(items);
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok((
                    v,
                    NodeInfo {
                        style: None,
                        quotes,
                    },
                ))
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.is_flow_start(span, b'{');
                let mut map = Map::new();
                let mut firsts: HashMap<String, usize> = HashMap::new();
                let mut merges = Vec::new();
                loop {
                    let (kev, ksp) = self.next()?;
                    if let Event::MappingEnd = kev {
                        if flow {
                            *end = (*end).max(self.flow_end(&ksp, b'}'));
                        }
                        break;
                    }
                    let key_start = self.start(&ksp);
                    let is_merge =
                        matches!(&kev, Event::Scalar(s, ScalarStyle::Plain, _, None) if s == "<<");
                    let (k, _) = self.node(kev, &ksp, depth + 1, end)?;
                    let key = key_string(k);
                    let (vev, vsp) = self.next()?;
                    let (v, _) = self.node(vev, &vsp, depth + 1, end)?;
                    if is_merge {
                        merges.push(v);
                        continue;
                    }
                    if let Some(&first) = firsts.get(&key) {
                        return Err(Fail::Duplicate {
                            offset: key_start,
                            first,
                            key,
                        });
                    }
                    firsts.insert(key.clone(), key_start);
                    map.insert(key, v);
                }
                apply_merges(&mut map, merges, self.start(span))?;
                let v = Value::Object(map);
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok((v, NodeInfo::default()))
            }
            _ => Err(Fail::at(
                self.start(span),
                ErrorKind::Syntax,
                "invalid YAML: unexpected event",
            )),
        }
    }

    fn extend_scalar(&self, s: &str, style: ScalarStyle, span: &Span, end: &mut usize) {
        let start = self.start(span);
        let stop = self.end(span);
        match style {
            ScalarStyle::Literal | ScalarStyle::Folded => {
                let bytes = self.src.as_bytes();
                // (An empty block scalar's event sits at the next token:
                // trimming then stops at its `|` or `>` header.)
                let mut t = stop;
                while t > 0 && matches!(bytes[t - 1], b' ' | b'\t' | b'\r' | b'\n') {
                    t -= 1;
                }
                let newlines = s.bytes().rev().take_while(|&b| b == b'\n').count();
                if newlines >= 2 {
                    // `+` chomping: the trailing blank lines are content.
                    let mut p = t;
                    for _ in 0..newlines - 1 {
                        p = text::next_line_start(self.src, p);
                    }
                    t = text::line_content_end(self.src, p).min(stop.max(t));
                }
                *end = (*end).max(t);
            }
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                // The event runs on over trailing blanks and a comment:
                // find the closing quote instead.
                let b = self.src.as_bytes();
                let open = (start..stop).find(|&i| b[i] == b'"' || b[i] == b'\'');
                let close = open.and_then(|o| quoted_end(self.src, o));
                *end = (*end).max(close.unwrap_or(stop).min(stop));
            }
            _ if stop > start => *end = (*end).max(stop),
            _ => {
                // An empty node is a zero-width event at the `:` of its key
                // or just after the `- ` of its item: count that indicator.
                let b = self.src.as_bytes();
                let e = if b.get(start) == Some(&b':') {
                    start + 1
                } else {
                    let mut q = start;
                    while q > 0 && matches!(b[q - 1], b' ' | b'\t') {
                        q -= 1;
                    }
                    q
                };
                *end = (*end).max(e);
            }
        }
    }
}

/// Offset just past the closing quote of the quoted scalar whose opening
/// quote is at `q`.
fn quoted_end(src: &str, q: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let quote = *bytes.get(q)?;
    let mut i = q + 1;
    loop {
        match *bytes.get(i)? {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The offset of the `:` after a key that ends at `key_end`.
fn find_colon(src: &str, key_end: usize) -> Option<usize> {
    let rest = src.get(key_end..)?;
    let skip = rest
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    (rest.as_bytes().get(skip) == Some(&b':')).then_some(key_end + skip)
}

fn key_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// YAML merge keys (`<<: *base`): keys of the merged mappings that the
/// mapping does not set itself.
fn apply_merges(map: &mut Map<String, Value>, merges: Vec<Value>, at: usize) -> Result<(), Fail> {
    for m in merges {
        let sources = match m {
            Value::Object(o) => vec![o],
            Value::Array(items) => {
                let mut v = Vec::new();
                for item in items {
                    match item {
                        Value::Object(o) => v.push(o),
                        _ => return Err(merge_error(at)),
                    }
                }
                v
            }
            _ => return Err(merge_error(at)),
        };
        for o in sources {
            for (k, v) in o {
                map.entry(k).or_insert(v);
            }
        }
    }
    Ok(())
}

fn merge_error(at: usize) -> Fail {
    Fail::at(
        at,
        ErrorKind::Syntax,
        "invalid YAML: a merge key `<<` needs a mapping or a list of mappings",
    )
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(o) => 1 + o.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

/// The value of a scalar: quoted and block scalars are strings; plain
/// ones are resolved with the YAML 1.2 core schema. Timestamps stay
/// strings as written; `.inf` and `.nan` too (JSON has no such numbers).
fn resolve(s: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        let resolved = match tag.suffix.as_str() {
            "str" => Some(Value::String(s.to_string())),
            "null" => Some(Value::Null),
            "bool" => parse_bool(&s).map(Value::Bool),
            "int" => parse_int(&s),
            "float" => parse_int(&s)
                .and_then(|n| n.as_f64().and_then(Number::from_f64).map(Value::Number))
                .or_else(|| parse_float(&s)),
            _ => None,
        };
        if let Some(v) = resolved {
            return v;
        }
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::String(s.into_owned());
    }
    resolve_plain(s)
}

pub(crate) fn resolve_plain(s: Cow<'_, str>) -> Value {
    match &*s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Some(b) = parse_bool(&s) {
        return Value::Bool(b);
    }
    if let Some(n) = parse_int(&s).or_else(|| parse_float(&s)) {
        return n;
    }
    Value::String(s.into_owned())
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    if let Some(oct) = s.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(Value::from);
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(hex, 16).ok().map(Value::from);
    }
    let digits = match b.first()? {
        b'-' | b'+' => &b[1..],
        _ => b,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let t = s.strip_prefix('+').unwrap_or(s);
    if let Ok(n) = t.parse::<i64>() {
        return Some(Value::from(n));
    }
    if let Ok(n) = t.parse::<u64>() {
        return Some(Value::from(n));
    }
    t.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn parse_float(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            frac_digits += 1;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Value {
        resolve_plain(Cow::Borrowed(s))
    }

    #[test]
    fn core_schema() {
        assert_eq!(plain(""), Value::Null);
        assert_eq!(plain("~"), Value::Null);
        assert_eq!(plain("False"), Value::Bool(false));
        assert_eq!(plain("yes"), Value::from("yes"));
        assert_eq!(plain("42"), Value::from(42));
        assert_eq!(plain("-7"), Value::from(-7));
        assert_eq!(plain("+7"), Value::from(7));
        assert_eq!(plain("0x1F"), Value::from(31u64));
        assert_eq!(plain("0o17"), Value::from(15));
        assert_eq!(plain("18446744073709551615"), Value::from(u64::MAX));
        assert_eq!(plain("0.7"), Value::from(0.7));
        assert_eq!(plain("1e3"), Value::from(1000.0));
        assert_eq!(plain(".5"), Value::from(0.5));
        assert_eq!(plain("1."), Value::from(1.0));
        assert_eq!(plain(".inf"), Value::from(".inf"));
        assert_eq!(
            plain("2023-08-25T07:00:00Z"),
            Value::from("2023-08-25T07:00:00Z")
        );
        assert_eq!(plain("1_000"), Value::from("1_000"));
        assert_eq!(plain("e3"), Value::from("e3"));
        assert_eq!(plain("."), Value::from("."));
        assert_eq!(plain("-"), Value::from("-"));
        assert_eq!(plain("0x"), Value::from("0x"));
    }

    #[test]
    fn unpatching() {
        let runs = [(5, 2), (10, 3)];
        assert_eq!(unpatch(&runs, 3), 3);
        assert_eq!(unpatch(&runs, 5), 5);
        assert_eq!(unpatch(&runs, 6), 5);
        assert_eq!(unpatch(&runs, 7), 5);
        assert_eq!(unpatch(&runs, 9), 7);
        assert_eq!(unpatch(&runs, 14), 9);
    }

    #[test]
    fn pads_quoted_continuations() {
        let src = "a: \"x\ny \\\"z\\\"\n\nw\"\nb: 1\n";
        let (out, runs) = pad_quoted(src, 3).expect("patched");
        assert_eq!(out, "a: \"x\n   y \\\"z\\\"\n\n   w\"\nb: 1\n");
        assert_eq!(runs, vec![(6, 3), (18, 3)]);
    }
}
