//! Writing YAML values in the style of the document being edited.

use serde_json::Value;

use super::Quote;

/// How a list is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeqFmt {
    /// `[a, b]` instead of `- a` lines.
    pub(crate) flow: bool,
    /// Column of the `-`, relative to the column of the list's key.
    pub(crate) dash: usize,
    /// Quote every string item this way, needed or not.
    pub(crate) always: Option<Quote>,
}

impl Default for SeqFmt {
    fn default() -> SeqFmt {
        SeqFmt {
            flow: false,
            dash: 2,
            always: None,
        }
    }
}

pub(crate) struct Emitter {
    pub(crate) eol: &'static str,
    /// The quote used for strings that cannot be plain.
    pub(crate) quote: Quote,
    /// Indentation of a nested mapping, relative to its key.
    pub(crate) map_indent: usize,
}

fn spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

impl Emitter {
    /// The text that follows `key:` for a key at column `col`: either
    /// `" value"` or a line break followed by indented lines.
    pub(crate) fn after_key(&self, v: &Value, col: usize, seq: SeqFmt) -> String {
        let mut out = String::new();
        match v {
            Value::Array(items) if !items.is_empty() && !seq.flow => {
                let dash_col = col + seq.dash;
                for item in items {
                    out.push_str(self.eol);
                    spaces(&mut out, dash_col);
                    out.push('-');
                    out.push_str(&self.item(item, dash_col, seq));
                }
            }
            Value::Object(map) if !map.is_empty() => {
                let ind = col + self.map_indent;
                let nested = SeqFmt {
                    always: None,
                    ..seq
                };
                for (k, item) in map {
                    out.push_str(self.eol);
                    spaces(&mut out, ind);
                    out.push_str(&self.key(k));
                    out.push(':');
                    out.push_str(&self.after_key(item, ind, nested));
                }
            }
            Value::String(s) => match self.literal(s, col + 2) {
                Some(lit) => out.push_str(&lit),
                None => {
                    out.push(' ');
                    out.push_str(&self.string(s, false, seq.always));
                }
            },
            _ => {
                out.push(' ');
                out.push_str(&self.inline(v, seq.flow, seq.always));
            }
        }
        out
    }

    /// The text that follows the `-` of a block-list item at `dash_col`.
    fn item(&self, v: &Value, dash_col: usize, seq: SeqFmt) -> String {
        let mut out = String::new();
        match v {
            Value::Object(map) if !map.is_empty() => {
                let ind = dash_col + 2;
                let nested = SeqFmt {
                    always: None,
                    ..seq
                };
                for (i, (k, item)) in map.iter().enumerate() {
                    if i == 0 {
                        out.push(' ');
                    } else {
                        out.push_str(self.eol);
                        spaces(&mut out, ind);
                    }
                    out.push_str(&self.key(k));
                    out.push(':');
                    out.push_str(&self.after_key(item, ind, nested));
                }
            }
            Value::String(s) => match self.literal(s, dash_col + 2) {
                Some(lit) => out.push_str(&lit),
                None => {
                    out.push(' ');
                    out.push_str(&self.string(s, false, seq.always));
                }
            },
            _ => {
                out.push(' ');
                out.push_str(&self.inline(v, false, seq.always));
            }
        }
        out
    }

    /// A value on one line; `flow` when inside `[...]` or `{...}`.
    pub(crate) fn inline(&self, v: &Value, flow: bool, always: Option<Quote>) -> String {
        match v {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => self.string(s, flow, always),
            Value::Array(items) => {
                let items: Vec<String> =
                    items.iter().map(|i| self.inline(i, true, always)).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Object(map) => {
                let items: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}: {}", self.flow_key(k), self.inline(v, true, None)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }

    /// A string scalar: plain when that reads back as the same string,
    /// else quoted.
    pub(crate) fn string(&self, s: &str, flow: bool, always: Option<Quote>) -> String {
        if let Some(q) = always {
            return quote(s, q);
        }
        if plain_ok(s, flow) {
            s.to_owned()
        } else {
            quote(s, self.quote)
        }
    }

    /// A mapping key in block context.
    pub(crate) fn key(&self, k: &str) -> String {
        if plain_ok(k, false) && k != "<<" {
            k.to_owned()
        } else {
            quote(k, Quote::Double)
        }
    }

    fn flow_key(&self, k: &str) -> String {
        if plain_ok(k, true) && k != "<<" {
            k.to_owned()
        } else {
            quote(k, Quote::Double)
        }
    }

    /// A multi-line string as a literal block scalar (`|` or `|-`) whose
    /// lines are indented to `indent`, when it can be written that way.
    fn literal(&self, s: &str, indent: usize) -> Option<String> {
        if !s.contains('\n')
            || s.ends_with("\n\n")
            || s.chars().any(|c| c != '\n' && needs_escape(c))
        {
            return None;
        }
        let body = s.strip_suffix('\n');
        let (header, body) = match body {
            Some(b) => ("|", b),
            None => ("|-", s),
        };
        let lines: Vec<&str> = body.split('\n').collect();
        // The first non-empty line sets the indentation a reader detects:
        // it must not start with white space, and no line before it may
        // hold only spaces.
        let first = lines.iter().find(|l| !l.is_empty())?;
        if first.starts_with([' ', '\t']) {
            return None;
        }
        if lines.iter().any(|l| !l.is_empty() && l.trim().is_empty()) {
            return None;
        }
        let mut out = String::from(" ");
        out.push_str(header);
        for line in lines {
            out.push_str(self.eol);
            if !line.is_empty() {
                spaces(&mut out, indent);
                out.push_str(line);
            }
        }
        Some(out)
    }
}

/// True for characters that must be escaped in YAML: those outside its
/// printable set, the BOM, and the line breaks of YAML 1.1 (NEL, LS, PS).
fn needs_escape(c: char) -> bool {
    let printable = matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}';
    !printable || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}') || c.is_control()
}

/// `s` in quotes. Single quotes cannot hold line breaks or other control
/// characters; those strings get double quotes with escapes.
pub(crate) fn quote(s: &str, q: Quote) -> String {
    let needs_escapes = s.chars().any(needs_escape);
    if q == Quote::Single && !needs_escapes {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// True when `s` written plain reads back as the same string, in any
/// YAML reader a Hugo site may meet (1.2 core schema and 1.1 booleans,
/// numbers and timestamps are all quoted).
pub(crate) fn plain_ok(s: &str, flow: bool) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let second = chars.next();
    let last = s.chars().next_back().unwrap_or(first);
    if first.is_whitespace() || last.is_whitespace() || last == ':' {
        return false;
    }
    if s.chars().any(needs_escape) {
        return false;
    }
    if "[]{},#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && second.is_none_or(char::is_whitespace) {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains("\t#") || s.contains(":\t") {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}', ':']) {
        return false;
    }
    !looks_typed(s)
}

/// True when a plain scalar `s` may be read as something other than a
/// string by some YAML reader.
fn looks_typed(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "y"
            | "n"
            | "on"
            | "off"
            | ".inf"
            | "+.inf"
            | "-.inf"
            | ".nan"
            | "<<"
            | "="
    ) {
        return true;
    }
    let body = lower.strip_prefix(['-', '+']).unwrap_or(&lower);
    for prefix in ["0x", "0o", "0b"] {
        if let Some(rest) = body.strip_prefix(prefix)
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_')
        {
            return true;
        }
    }
    // Numbers, YAML 1.1 style included: digits, `_`, `.`, `:` (base 60)
    // and one exponent.
    let b = body.as_bytes();
    if b.first().is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        && b.iter().any(u8::is_ascii_digit)
    {
        let mut i = 0;
        while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'_' | b'.' | b':')) {
            i += 1;
        }
        if i < b.len() && b[i] == b'e' {
            i += 1;
            if i < b.len() && matches!(b[i], b'+' | b'-') {
                i += 1;
            }
            let digits = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == digits {
                return false;
            }
        }
        if i == b.len() {
            return true;
        }
    }
    // Timestamps: `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, ...
    let d = s.as_bytes();
    d.len() >= 8 && d[..4].iter().all(u8::is_ascii_digit) && d[4] == b'-' && d[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitter() -> Emitter {
        Emitter {
            eol: "\n",
            quote: Quote::Double,
            map_indent: 2,
        }
    }

    #[test]
    fn plain_or_quoted() {
        let e = emitter();
        for (s, want) in [
            ("Agile Frameworks", "Agile Frameworks"),
            ("-xrtaW5NlP0", "-xrtaW5NlP0"),
            ("C#", "C#"),
            ("it's", "it's"),
            ("say \"hi\"", "say \"hi\""),
            ("a: b", "\"a: b\""),
            ("a #b", "\"a #b\""),
            ("#tag", "\"#tag\""),
            ("*star", "\"*star\""),
            ("&amp", "\"&amp\""),
            ("!bang", "\"!bang\""),
            ("|pipe", "\"|pipe\""),
            (">gt", "\">gt\""),
            ("'q", "\"'q\""),
            ("\"q", "\"\\\"q\""),
            ("%p", "\"%p\""),
            ("@at", "\"@at\""),
            ("`bt", "\"`bt\""),
            ("yes", "\"yes\""),
            ("No", "\"No\""),
            ("true", "\"true\""),
            ("null", "\"null\""),
            ("~", "\"~\""),
            ("42", "\"42\""),
            ("3.14", "\"3.14\""),
            ("1e3", "\"1e3\""),
            ("1_000", "\"1_000\""),
            ("0x1f", "\"0x1f\""),
            ("1:20", "\"1:20\""),
            ("2023-01-02", "\"2023-01-02\""),
            ("3d", "3d"),
            ("v1.2", "v1.2"),
            (" lead", "\" lead\""),
            ("trail ", "\"trail \""),
            ("", "\"\""),
            ("- item", "\"- item\""),
            ("-", "\"-\""),
            ("---", "\"---\""),
            ("key:", "\"key:\""),
            ("a\nb", "\"a\\nb\""),
            ("tab\there", "\"tab\\there\""),
            ("back\\slash", "back\\slash"),
        ] {
            assert_eq!(e.string(s, false, None), want, "{s:?}");
        }
        assert_eq!(e.string("a, b", true, None), "\"a, b\"");
        assert_eq!(e.string("a, b", false, None), "a, b");
        assert_eq!(e.string("x", false, Some(Quote::Single)), "'x'");
        assert_eq!(e.string("it's", false, Some(Quote::Single)), "'it''s'");
        assert_eq!(e.string("a\nb", false, Some(Quote::Single)), "\"a\\nb\"");
    }

    #[test]
    fn block_values() {
        let e = emitter();
        let v = serde_json::json!(["a", "b c", "d: e"]);
        assert_eq!(
            e.after_key(&v, 0, SeqFmt::default()),
            "\n  - a\n  - b c\n  - \"d: e\""
        );
        let seq = SeqFmt {
            flow: false,
            dash: 0,
            always: None,
        };
        assert_eq!(e.after_key(&v, 0, seq), "\n- a\n- b c\n- \"d: e\"");
        let flow = SeqFmt { flow: true, ..seq };
        assert_eq!(e.after_key(&v, 0, flow), " [a, b c, \"d: e\"]");
        let m = serde_json::json!({"title": "T", "tags": ["x"], "nested": {"k": 1}, "n": 2});
        assert_eq!(
            e.after_key(&m, 0, seq),
            "\n  title: T\n  tags:\n  - x\n  nested:\n    k: 1\n  \"n\": 2"
        );
        let text = serde_json::json!("line one\n\nline three\n");
        assert_eq!(e.after_key(&text, 0, seq), " |\n  line one\n\n  line three");
        let items = serde_json::json!([{"a": 1, "b": [1, 2]}, [1, "x, y"]]);
        assert_eq!(
            e.after_key(&items, 0, SeqFmt::default()),
            "\n  - a: 1\n    b:\n      - 1\n      - 2\n  - [1, \"x, y\"]"
        );
        assert_eq!(e.after_key(&serde_json::json!([]), 0, seq), " []");
        assert_eq!(e.after_key(&serde_json::json!({}), 0, seq), " {}");
    }
}
