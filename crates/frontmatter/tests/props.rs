//! Property tests: arbitrary input never panics and prints back as it
//! was; an edit changes exactly one key and can be undone byte for byte.

use proptest::prelude::*;
use serde_json::{Map, Value};
use taxonomist_frontmatter::{Document, Format};

/// An edit to try; true when it succeeded.
type Edit = Box<dyn Fn(&mut Document) -> bool>;

/// Tries a series of edits on any document that parsed. Each may fail,
/// none may panic, and every success must leave a text that parses to
/// `data()`.
fn exercise(text: &str) {
    let Ok(doc) = Document::parse(text) else {
        return;
    };
    assert_eq!(doc.to_string(), text);
    let mut edits: Vec<Edit> = vec![
        Box::new(|d| d.set_list("tags", &["x".into(), "y: z".into()]).is_ok()),
        Box::new(|d| d.set_scalar("title", "t # not a comment").is_ok()),
        Box::new(|d| d.insert_after("n", "a", &Value::from(1)).is_ok()),
        Box::new(|d| d.remove("a").is_ok()),
        Box::new(|d| d.remove("key").is_ok()),
        Box::new(|d| d.set("m", &serde_json::json!({"k": ["v", "w"]})).is_ok()),
    ];
    let keys: Vec<String> = doc.data().keys().cloned().collect();
    for key in keys.into_iter().take(3) {
        edits.push(Box::new(move |d| d.set_list(&key, &["q".into()]).is_ok()));
    }
    for edit in &edits {
        let mut d = doc.clone();
        if edit(&mut d) {
            let again = Document::parse(&d.to_string()).expect("edited output parses");
            assert_eq!(again.data(), d.data());
            assert_eq!(again.body(), doc.body());
        } else {
            assert_eq!(d.to_string(), text, "a failed edit changes nothing");
        }
    }
}

const YAML_TOKENS: &[&str] = &[
    "\n",
    "\n",
    "\r\n",
    "  ",
    " ",
    "\t",
    "- ",
    "-",
    "a",
    "key",
    "tags",
    ": ",
    ":",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "#",
    " # c",
    "|-\n",
    "|+\n",
    ">\n",
    "&x ",
    "*x",
    "!!str ",
    "!t ",
    "~",
    "null",
    "1",
    "2.5",
    "\\",
    "é",
    "🎉",
    "? ",
    "<<: ",
    "...\n",
    "---",
    "+++",
    "=",
    "\"q\"",
    "'it''s'",
    "\u{85}",
    "\u{feff}",
    "%YAML 1.2\n",
    "@",
    "`",
    "yes",
    "2024-01-01",
];

const TOML_TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    " ",
    "a",
    "key",
    "tags",
    " = ",
    "=",
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ", ",
    "#",
    "1",
    "2.5",
    "true",
    "1979-05-27T07:32:00Z",
    "\"\"\"",
    "'''",
    ".",
    "é",
    "\\",
    "nan",
];

const JSON_TOKENS: &[&str] = &[
    "\n",
    " ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\"a\"",
    "\"tags\"",
    ":",
    ",",
    "1",
    "-2.5e3",
    "true",
    "null",
    "\\",
    "\\u00e9",
    "é",
    "\"x\\\"y\"",
];

fn soup(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|v| v.concat())
}

/// Plausible YAML lines: most documents made of them parse, so the
/// edits get exercised on odd layouts.
fn yaml_lines() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "a", "tags", "key", "x y", "\"q: r\"", "'s'", "1", "~", "yes", "[a, b]", "{k: v}", "*x",
        "&x v", "é", "|-", ">", "# c", "", "[]", "- z",
    ]);
    let line =
        (0usize..16, "[a-z]{1,4}", word.clone(), word).prop_map(|(shape, k, v, w)| match shape {
            12 => format!("{k}: [ {v} , {w} ,]"),
            13 => format!("{k}: {{ a: {v} , b: {w} }}  # c"),
            14 => format!("{k}: [{v}, # c\n  {w}\n  ]"),
            15 => format!("{k}: &a [ {v} ]\n{w}: *a"),
            0 => format!("{k}: {v}"),
            1 => format!("{k}:"),
            2 => format!("  - {v}"),
            3 => format!("- {v}"),
            4 => format!("# {v}"),
            5 => String::new(),
            6 => format!("{k}: [{v}, {w}]  # {w}"),
            7 => format!("{k}: |-\n  {v}\n\n  {w}"),
            8 => format!("  {k}: {v}"),
            9 => format!("{k}: \"{v}\" # {w}"),
            10 => format!("{k}: {v}\n  {w}"),
            _ => format!("\"{k}\": {v}"),
        });
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_]{1,8}",
        1 => prop::sample::select(vec![
            "a b", "x:y", "yes", "1", "-dash", "#h", "k\"q", "it's", "ü", "", "true", "a.b", "[x]", "tab\tkey",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>().prop_filter("not a merge key", |s| s != "<<"),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 ]{0,12}",
        2 => prop::sample::select(vec![
            "", " ", "a: b", "#x", "- x", "yes", "null", "~", "12", "1e3", "0x1F", "2024-01-01", "'q'",
            "\"dq\"", "x, y", "[a]", "{b}", "*a", "&a", "!t", "|", ">", "%", "@", "`", "line\nbreak",
            "two\n\nparas\n", "tail\n\n", " lead", "tab\t", "back\\", "é", "🎉", "\u{85}", "\u{2028}",
            "\u{feff}x", "\r\n", "...", "---", "+++", "'''", "\"\"\"",
        ])
        .prop_map(str::to_owned),
        2 => any::<String>(),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => string().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => (-1e12f64..1e12).prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => scalar(),
        3 => prop::collection::vec(string().prop_map(Value::String), 0..5).prop_map(Value::Array),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
        1 => prop::collection::vec((key(), prop_oneof![
            scalar(),
            prop::collection::vec(string().prop_map(Value::String), 0..3).prop_map(Value::Array),
        ]), 0..3)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
    ]
}

fn data() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec((key(), value()), 1..6)
}

/// An empty front matter of each format, with a body.
fn empty(format: Format, crlf: bool) -> String {
    let text = match format {
        Format::Yaml => "---\n---\nBody *text*\n",
        Format::Toml => "+++\n+++\nBody *text*\n",
        Format::Json => "{}\nBody *text*\n",
    };
    if crlf {
        text.replace('\n', "\r\n")
    } else {
        text.to_owned()
    }
}

fn build(format: Format, crlf: bool, kv: &[(String, Value)]) -> Result<Document, String> {
    let mut doc = Document::parse(&empty(format, crlf)).map_err(|e| e.to_string())?;
    for (k, v) in kv {
        doc.set(k, v)
            .map_err(|e| format!("set {k:?} = {v}: {e}\n{doc}"))?;
    }
    Ok(doc)
}

proptest! {
    // PROPTEST_CASES=n runs more cases.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(300),
    ))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), prefix in 0usize..4) {
        let head = ["", "---\n", "+++\n", "{"][prefix];
        let text = format!("{head}{}", String::from_utf8_lossy(&bytes));
        exercise(&text);
    }

    #[test]
    fn yaml_soup_never_panics(s in soup(YAML_TOKENS), close in any::<bool>()) {
        let text = if close { format!("---\n{s}\n---\nbody\n") } else { format!("---\n{s}") };
        exercise(&text);
    }

    #[test]
    fn yaml_lines_edit_safely(s in yaml_lines(), crlf in any::<bool>()) {
        let text = format!("---\n{s}\n---\nbody\n");
        exercise(&if crlf { text.replace('\n', "\r\n") } else { text });
    }

    #[test]
    fn toml_soup_never_panics(s in soup(TOML_TOKENS)) {
        exercise(&format!("+++\n{s}\n+++\nbody\n"));
    }

    #[test]
    fn json_soup_never_panics(s in soup(JSON_TOKENS)) {
        exercise(&format!("{{{s}\nbody\n"));
        exercise(&format!("{{\"a\": {s}}}\nbody\n"));
    }

    #[test]
    fn one_edit_changes_one_key_and_undoes_exactly(
        kv in data(),
        format in prop::sample::select(vec![Format::Yaml, Format::Toml, Format::Json]),
        crlf in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        new in value(),
        fresh_key in key(),
        insert in any::<bool>(),
    ) {
        // The strategy makes only values all three formats can hold.
        let doc = match build(format, crlf, &kv) {
            Ok(doc) => doc,
            Err(e) => {
                prop_assert!(false, "{:?}: {}", format, e);
                return Ok(());
            }
        };
        let mut want: Map<String, Value> = Map::new();
        for (k, v) in &kv {
            want.insert(k.clone(), v.clone());
        }
        prop_assert_eq!(doc.data(), &want, "{}", doc);
        let text = Document::parse(&doc.to_string()).expect("re-parse").to_string();
        let mut edited = Document::parse(&text).expect("parse");
        let key = if insert { fresh_key } else { kv[pick.index(kv.len())].0.clone() };
        if let Err(e) = edited.set(&key, &new) {
            prop_assert!(false, "{:?} set {:?} = {}: {}", format, key, new, e);
        }
        let again = Document::parse(&edited.to_string()).expect("output parses");
        prop_assert_eq!(again.get(&key), Some(&new));
        prop_assert_eq!(again.body(), "Body *text*".to_owned() + if crlf { "\r\n" } else { "\n" });
        for (k, v) in &want {
            if *k != key {
                prop_assert_eq!(again.get(k), Some(v), "{} changed", k);
            }
        }
        match want.get(&key) {
            Some(old) => edited.set(&key, old).expect("restore"),
            None => {
                prop_assert_eq!(edited.remove(&key), Ok(true));
            }
        }
        prop_assert_eq!(edited.to_string(), text);
    }
}
