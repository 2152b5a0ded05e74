//! Table-driven edits: the same front matter in YAML, TOML and JSON, the
//! same edits, the exact expected text, under LF, CRLF and BOM variants.

use serde_json::{Value, json};
use taxonomist_frontmatter::{Document, ErrorKind, Format};

const YAML: &str = r#"---
title: "Hello"   # the title
# a comment between keys
tags: [a, "b c"]  # reviewed
categories:
  - x
  - 'y z'

draft: false
---
Body line
---
not front matter
"#;

const TOML: &str = r#"+++
title = "Hello"   # the title
# a comment between keys
tags = ["a", "b c"]  # reviewed
categories = [
  "x",
  'y z',
]

draft = false
+++
Body line
+++
not front matter
"#;

const JSON: &str = r#"{
  "title": "Hello",
  "tags": ["a", "b c"],
  "categories": [
    "x",
    "y z"
  ],
  "draft": false
}
Body line
---
not front matter
"#;

fn fixtures() -> [(Format, &'static str); 3] {
    [
        (Format::Yaml, YAML),
        (Format::Toml, TOML),
        (Format::Json, JSON),
    ]
}

/// Replaces the one occurrence of `from` in `text` by `to`.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "fixture must hold {from:?} once"
    );
    text.replacen(from, to, 1)
}

/// An edit and, per format, the `(from, to)` text replacement it must make.
struct Case {
    name: &'static str,
    edit: fn(&mut Document) -> Result<(), taxonomist_frontmatter::Error>,
    /// The key to set back to its original value afterwards (when the
    /// edit can be undone by a set).
    undo_key: Option<&'static str>,
    yaml: (&'static str, &'static str),
    toml: (&'static str, &'static str),
    json: (&'static str, &'static str),
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "set flow list",
            edit: |d| d.set_list("tags", &["d".into(), "e: f".into()]),
            undo_key: Some("tags"),
            yaml: ("tags: [a, \"b c\"]  #", "tags: [d, \"e: f\"]  #"),
            toml: ("tags = [\"a\", \"b c\"]  #", "tags = [\"d\", \"e: f\"]  #"),
            json: (
                "\"tags\": [\"a\", \"b c\"],",
                "\"tags\": [\"d\", \"e: f\"],",
            ),
        },
        Case {
            name: "set block list",
            edit: |d| d.set_list("categories", &["d".into(), "e: f".into(), "g".into()]),
            undo_key: Some("categories"),
            yaml: ("  - x\n  - 'y z'\n", "  - d\n  - \"e: f\"\n  - g\n"),
            toml: (
                "  \"x\",\n  'y z',\n]",
                "  \"d\",\n  \"e: f\",\n  \"g\",\n]",
            ),
            json: (
                "    \"x\",\n    \"y z\"\n  ]",
                "    \"d\",\n    \"e: f\",\n    \"g\"\n  ]",
            ),
        },
        Case {
            name: "set empty list",
            edit: |d| d.set_list("categories", &[]),
            undo_key: Some("categories"),
            yaml: ("categories:\n  - x\n  - 'y z'\n", "categories: []\n"),
            toml: ("[\n  \"x\",\n  'y z',\n]", "[]"),
            json: ("[\n    \"x\",\n    \"y z\"\n  ]", "[]"),
        },
        Case {
            name: "set scalar keeps comment",
            edit: |d| d.set_scalar("title", "New: title"),
            undo_key: Some("title"),
            yaml: ("\"Hello\"   #", "\"New: title\"   #"),
            toml: ("\"Hello\"   #", "\"New: title\"   #"),
            json: ("\"Hello\",", "\"New: title\","),
        },
        Case {
            name: "set bool",
            edit: |d| d.set_scalar("draft", true),
            undo_key: Some("draft"),
            yaml: ("draft: false", "draft: true"),
            toml: ("draft = false", "draft = true"),
            json: ("\"draft\": false", "\"draft\": true"),
        },
        Case {
            name: "insert after",
            edit: |d| d.insert_after("weight", "title", &json!(5)),
            undo_key: None,
            yaml: ("# the title\n", "# the title\nweight: 5\n"),
            toml: ("# the title\n", "# the title\nweight = 5\n"),
            json: ("\"Hello\",\n", "\"Hello\",\n  \"weight\": 5,\n"),
        },
        Case {
            name: "insert at end",
            edit: |d| d.set_scalar("weight", 5),
            undo_key: None,
            yaml: ("draft: false\n", "draft: false\nweight: 5\n"),
            toml: ("draft = false\n", "draft = false\nweight = 5\n"),
            json: ("\"draft\": false\n", "\"draft\": false,\n  \"weight\": 5\n"),
        },
        Case {
            name: "insert list after a missing key goes to the end",
            edit: |d| d.insert_after("aliases", "nope", &json!(["/old", "b c"])),
            undo_key: None,
            yaml: (
                "draft: false\n",
                "draft: false\naliases:\n  - /old\n  - b c\n",
            ),
            toml: (
                "draft = false\n",
                "draft = false\naliases = [\"/old\", \"b c\"]\n",
            ),
            json: (
                "\"draft\": false\n",
                "\"draft\": false,\n  \"aliases\": [\"/old\", \"b c\"]\n",
            ),
        },
        Case {
            name: "remove keeps comments",
            edit: |d| d.remove("tags").map(|_| ()),
            undo_key: None,
            yaml: ("tags: [a, \"b c\"]  # reviewed\n", ""),
            toml: ("tags = [\"a\", \"b c\"]  # reviewed\n", ""),
            json: ("\n  \"tags\": [\"a\", \"b c\"],", ""),
        },
        Case {
            name: "insert a map",
            edit: |d| d.set("headline", &json!({"title": "T: t", "subtitle": "S"})),
            undo_key: None,
            yaml: (
                "draft: false\n",
                "draft: false\nheadline:\n  title: \"T: t\"\n  subtitle: S\n",
            ),
            toml: (
                "draft = false\n",
                "draft = false\n\n[headline]\ntitle = \"T: t\"\nsubtitle = \"S\"\n",
            ),
            json: (
                "\"draft\": false\n",
                "\"draft\": false,\n  \"headline\": {\n    \"title\": \"T: t\",\n    \"subtitle\": \"S\"\n  }\n",
            ),
        },
    ]
}

/// A way to write the same file: line endings, BOM.
type Variant = (&'static str, fn(&str) -> String);

/// Text variants: the same edits must behave the same on each.
fn variants() -> Vec<Variant> {
    vec![
        ("lf", |s| s.to_owned()),
        ("crlf", |s| s.replace('\n', "\r\n")),
        ("bom", |s| format!("\u{feff}{s}")),
        ("bom+crlf", |s| {
            format!("\u{feff}{}", s.replace('\n', "\r\n"))
        }),
    ]
}

#[test]
fn same_data_in_every_format() {
    let want = json!({
        "title": "Hello",
        "tags": ["a", "b c"],
        "categories": ["x", "y z"],
        "draft": false,
    });
    for (format, text) in fixtures() {
        let doc = Document::parse(text).expect("parse");
        assert_eq!(doc.format(), Some(format));
        assert_eq!(Value::Object(doc.data().clone()), want, "{format:?}");
        let keys: Vec<&str> = doc.data().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["title", "tags", "categories", "draft"],
            "{format:?} order"
        );
        assert!(doc.body().starts_with("Body line"), "{format:?}");
        assert_eq!(doc.to_string(), text);
        assert!(!doc.is_modified());
    }
}

#[test]
fn edits_match_expected_text_in_every_format_and_variant() {
    for case in cases() {
        for (format, fixture) in fixtures() {
            let (from, to) = match format {
                Format::Yaml => case.yaml,
                Format::Toml => case.toml,
                Format::Json => case.json,
            };
            let expected = replace_once(fixture, from, to);
            for (vname, variant) in variants() {
                let ctx = format!("{} / {format:?} / {vname}", case.name);
                let input = variant(fixture);
                let mut doc = Document::parse(&input).expect(&ctx);
                let body = doc.body().to_owned();
                (case.edit)(&mut doc).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(doc.to_string(), variant(&expected), "{ctx}");
                assert!(doc.is_modified(), "{ctx}");
                assert_eq!(doc.body(), body, "{ctx}: body bytes");
                let reparsed = Document::parse(&doc.to_string()).expect(&ctx);
                assert_eq!(reparsed.data(), doc.data(), "{ctx}: data() is current");
                if let Some(key) = case.undo_key {
                    let original = Document::parse(&input).expect(&ctx);
                    let value = original.get(key).expect(&ctx).clone();
                    doc.set(key, &value).expect(&ctx);
                    assert_eq!(doc.to_string(), input, "{ctx}: set then restore");
                    assert!(!doc.is_modified(), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn insert_then_remove_restores_bytes() {
    for (format, fixture) in fixtures() {
        for (vname, variant) in variants() {
            let input = variant(fixture);
            let mut doc = Document::parse(&input).expect("parse");
            doc.insert_after("weight", "title", &json!(3))
                .expect("insert");
            doc.set("headline", &json!({"title": "T"})).expect("map");
            assert_eq!(doc.remove("headline"), Ok(true));
            assert_eq!(doc.remove("weight"), Ok(true));
            assert_eq!(doc.remove("weight"), Ok(false));
            assert_eq!(doc.to_string(), input, "{format:?} / {vname}");
        }
    }
}

#[test]
fn setting_the_same_value_writes_nothing() {
    for (format, fixture) in fixtures() {
        let mut doc = Document::parse(fixture).expect("parse");
        for (key, value) in doc.data().clone() {
            doc.set(&key, &value).expect("set");
        }
        assert_eq!(doc.to_string(), fixture, "{format:?}");
        assert!(!doc.is_modified());
    }
}

#[test]
fn restore_after_several_edits() {
    for (format, fixture) in fixtures() {
        let mut doc = Document::parse(fixture).expect("parse");
        doc.set_list("tags", &["p".into()]).expect("1");
        doc.set_list("tags", &["q".into(), "r".into()]).expect("2");
        doc.set_scalar("title", "Other").expect("3");
        doc.set_list("tags", &["a".into(), "b c".into()])
            .expect("4");
        doc.set_scalar("title", "Hello").expect("5");
        assert_eq!(doc.to_string(), fixture, "{format:?}");
    }
}

#[test]
fn creates_front_matter_when_missing() {
    for (vname, variant) in variants() {
        let input = variant("\nSome *markdown*\n\nMore\n");
        let mut doc = Document::parse(&input).expect("parse");
        assert_eq!(doc.format(), None);
        assert!(doc.data().is_empty());
        assert_eq!(doc.remove("tags"), Ok(false));
        doc.set_list("tags", &["a".into(), "yes".into()])
            .expect("set");
        doc.set_scalar("title", "T").expect("set");
        let want =
            variant("---\ntags:\n  - a\n  - \"yes\"\ntitle: T\n---\n\nSome *markdown*\n\nMore\n");
        assert_eq!(doc.to_string(), want, "{vname}");
        assert_eq!(doc.format(), Some(Format::Yaml));
        assert_eq!(
            doc.body(),
            variant("\nSome *markdown*\n\nMore\n").trim_start_matches('\u{feff}')
        );
        assert_eq!(doc.get("tags"), Some(&json!(["a", "yes"])));
    }
    let mut empty = Document::parse("").expect("parse");
    empty.set_scalar("draft", true).expect("set");
    assert_eq!(empty.to_string(), "---\ndraft: true\n---\n");
}

#[test]
fn empty_front_matter_gets_keys() {
    for (text, want) in [
        ("---\n---\nb\n", "---\nk: v\n---\nb\n"),
        ("+++\n+++\nb\n", "+++\nk = \"v\"\n+++\nb\n"),
        ("{}\nb\n", "{\n  \"k\": \"v\"\n}\nb\n"),
        ("{\n}\nb\n", "{\n  \"k\": \"v\"\n}\nb\n"),
    ] {
        let mut doc = Document::parse(text).expect("parse");
        doc.set_scalar("k", "v").expect("set");
        assert_eq!(doc.to_string(), want);
        assert_eq!(doc.remove("k"), Ok(true));
    }
}

#[test]
fn body_line_offset_counts_the_front_matter() {
    assert_eq!(Document::parse(YAML).expect("yaml").body_line_offset(), 11);
    assert_eq!(Document::parse(TOML).expect("toml").body_line_offset(), 12);
    assert_eq!(Document::parse(JSON).expect("json").body_line_offset(), 10);
    assert_eq!(
        Document::parse("no front matter")
            .expect("none")
            .body_line_offset(),
        1
    );
    assert_eq!(
        Document::parse("\u{feff}---\na: 1\n---\nx")
            .expect("bom")
            .body_line_offset(),
        4
    );
}

// ---------------------------------------------------------------- YAML

fn yaml_edit(text: &str, edit: impl FnOnce(&mut Document)) -> String {
    let mut doc = Document::parse(text).expect("parse");
    edit(&mut doc);
    let out = doc.to_string();
    let again = Document::parse(&out).expect("output re-parses");
    assert_eq!(again.data(), doc.data());
    out
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn yaml_block_list_keeps_dash_indentation_and_quoting() {
    let set = |text: &str, items: &[&str]| {
        yaml_edit(text, |d| d.set_list("tags", &list(items)).expect("set"))
    };
    // dash at column 0
    assert_eq!(
        set("---\ntags:\n- a\n- b\n---\n", &["c", "d e"]),
        "---\ntags:\n- c\n- d e\n---\n"
    );
    // dash at column 4
    assert_eq!(
        set("---\ntags:\n    - a\n---\n", &["c", "d"]),
        "---\ntags:\n    - c\n    - d\n---\n"
    );
    // all items double-quoted: keep quoting every item
    assert_eq!(
        set("---\ntags:\n  - \"a\"\n  - \"b\"\n---\n", &["c"]),
        "---\ntags:\n  - \"c\"\n---\n"
    );
    // all single-quoted
    assert_eq!(
        set("---\ntags: ['a']\n---\n", &["c", "it's"]),
        "---\ntags: ['c', 'it''s']\n---\n"
    );
    // mixed: plain when possible, the document's quote when needed
    assert_eq!(
        set(
            "---\ntitle: 'T'\ntags:\n- a\n- 'b: c'\n---\n",
            &["x", "y: z"]
        ),
        "---\ntitle: 'T'\ntags:\n- x\n- 'y: z'\n---\n"
    );
    // key line comment and trailing spaces on the key line stay
    assert_eq!(
        set("---\ntags: # mine\n  - a\n---\n", &["b"]),
        "---\ntags: # mine\n  - b\n---\n"
    );
    assert_eq!(
        set("---\ntags: \n  - a\n---\n", &["b"]),
        "---\ntags: \n  - b\n---\n"
    );
    // a comment after the list stays where it is
    assert_eq!(
        set("---\ntags:\n- a\n# end of tags\n\nx: 1\n---\n", &["b", "c"]),
        "---\ntags:\n- b\n- c\n# end of tags\n\nx: 1\n---\n"
    );
}

#[test]
fn yaml_empty_values_take_the_document_style() {
    let set = |text: &str| {
        yaml_edit(text, |d| {
            d.set_list("tags", &list(&["a", "b"])).expect("set")
        })
    };
    assert_eq!(set("---\ntags:\n---\n"), "---\ntags:\n  - a\n  - b\n---\n");
    assert_eq!(
        set("---\ntags: \n---\n"),
        "---\ntags: \n  - a\n  - b\n---\n"
    );
    assert_eq!(
        set("---\ntags: null\n---\n"),
        "---\ntags:\n  - a\n  - b\n---\n"
    );
    assert_eq!(
        set("---\ntags: []\nc:\n- x\n---\n"),
        "---\ntags:\n- a\n- b\nc:\n- x\n---\n"
    );
    assert_eq!(
        set("---\ntags: []\nc: [x]\n---\n"),
        "---\ntags: [a, b]\nc: [x]\n---\n"
    );
    assert_eq!(
        set("---\ntags: # none yet\n---\n"),
        "---\ntags: # none yet\n  - a\n  - b\n---\n"
    );
}

#[test]
fn yaml_block_scalars_are_kept_unless_edited() {
    let text = "---\nInstructions: |-\n  Line one\n\n  # not a comment\n\ntags:\n- a\nnote: >\n  folded\n  text\n\n\nkeep: |+\n  kept\n\n\nend: 1\n---\nbody\n";
    let doc = Document::parse(text).expect("parse");
    assert_eq!(
        doc.get("Instructions"),
        Some(&json!("Line one\n\n# not a comment"))
    );
    assert_eq!(doc.get("note"), Some(&json!("folded text\n")));
    assert_eq!(doc.get("keep"), Some(&json!("kept\n\n\n")));
    let out = yaml_edit(text, |d| d.set_list("tags", &list(&["b"])).expect("set"));
    assert_eq!(out, text.replace("- a\n", "- b\n"));
    let out = yaml_edit(text, |d| {
        d.set_scalar("Instructions", "Short").expect("set")
    });
    assert_eq!(
        out,
        text.replace("|-\n  Line one\n\n  # not a comment\n", "Short\n")
    );
    let out = yaml_edit(text, |d| {
        d.set_scalar("Instructions", "Two\nlines").expect("set")
    });
    assert_eq!(
        out,
        text.replace("Line one\n\n  # not a comment\n", "Two\n  lines\n")
    );
    let out = yaml_edit(text, |d| assert_eq!(d.remove("keep"), Ok(true)));
    assert_eq!(out, text.replace("keep: |+\n  kept\n\n\n", ""));
    let out = yaml_edit(text, |d| {
        d.insert_after("x", "keep", &json!(1)).expect("insert")
    });
    assert_eq!(out, text.replace("  kept\n\n\n", "  kept\n\n\nx: 1\n"));
    let out = yaml_edit(text, |d| {
        d.insert_after("x", "note", &json!(1)).expect("insert")
    });
    assert_eq!(out, text.replace("  text\n", "  text\nx: 1\n"));
}

#[test]
fn yaml_quoted_keys_and_values_needing_quotes() {
    let text = "---\n\"tags\": [a]\n'my key': 1\n---\n";
    let doc = Document::parse(text).expect("parse");
    assert_eq!(doc.get("tags"), Some(&json!(["a"])));
    assert_eq!(doc.get("my key"), Some(&json!(1)));
    let out = yaml_edit(text, |d| d.set_list("tags", &list(&["b"])).expect("set"));
    assert_eq!(out, "---\n\"tags\": [b]\n'my key': 1\n---\n");
    let specials = [
        "a: b",
        "#x",
        "x #y",
        "*x",
        "&x",
        "!x",
        "|x",
        ">x",
        "'x",
        "\"x",
        "%x",
        "@x",
        "`x",
        "yes",
        "No",
        "on",
        "true",
        "FALSE",
        "null",
        "~",
        "",
        " lead",
        "trail ",
        "12",
        "1.5",
        "1e3",
        "0x10",
        "0o7",
        "2024-01-01",
        "- x",
        "-",
        "?",
        ":",
        "[x]",
        "{x}",
        "x, y",
        "tab\tx",
        "new\nline",
        "back\\slash",
        "quote\"s",
        "it's",
        "ünïcödé",
        "emoji 🎉",
        "\u{7f}",
        "---",
        "...",
    ];
    let values: Vec<String> = specials.iter().map(|s| (*s).to_owned()).collect();
    for style in [
        "---\ntags:\n- a\n---\n",
        "---\ntags: [a]\n---\n",
        "---\ntags: ['a']\n---\n",
    ] {
        let out = yaml_edit(style, |d| d.set_list("tags", &values).expect("set"));
        let again = Document::parse(&out).expect("re-parse");
        assert_eq!(
            again.get("tags"),
            Some(&json!(values)),
            "{style:?} -> {out}"
        );
        for s in &values {
            let out = yaml_edit(style, |d| d.set_scalar("title", s.as_str()).expect("set"));
            let again = Document::parse(&out).expect("re-parse");
            assert_eq!(again.get("title"), Some(&json!(s)), "{s:?} -> {out}");
            let out = yaml_edit(style, |d| d.set_scalar(s, "v").expect("set key"));
            let again = Document::parse(&out).expect("re-parse");
            assert_eq!(again.get(s), Some(&json!("v")), "key {s:?} -> {out}");
        }
    }
}

#[test]
fn yaml_quoted_scalar_continued_at_column_zero() {
    // Accepted by libyaml (and Hugo); saphyr alone rejects it. Seen in a
    // real site.
    let text = "---\ndescription: \"Updates in version 0.4.0 of 'the book:\nrOpenSci Packages'\"\ntags:\n  - a\n---\n";
    let doc = Document::parse(text).expect("parse");
    assert_eq!(
        doc.get("description"),
        Some(&json!(
            "Updates in version 0.4.0 of 'the book: rOpenSci Packages'"
        ))
    );
    let out = yaml_edit(text, |d| d.set_list("tags", &list(&["b"])).expect("set"));
    assert_eq!(out, text.replace("  - a", "  - b"));
    let out = yaml_edit(text, |d| d.set_scalar("description", "short").expect("set"));
    assert_eq!(out, "---\ndescription: \"short\"\ntags:\n  - a\n---\n");
    let e = Document::parse("---\na: \"x\nb: 1\n---\n").expect_err("unterminated");
    assert_eq!(e.kind(), ErrorKind::Syntax);
}

#[test]
fn yaml_indented_root_and_nested_maps() {
    let text = "---\n  title: T\n  headline:\n      title: H\n---\n";
    let out = yaml_edit(text, |d| {
        d.set("headline", &json!({"title": "H2", "subtitle": "S"}))
            .expect("set");
        d.set("extra", &json!({"k": ["v"]})).expect("insert");
    });
    assert_eq!(
        out,
        "---\n  title: T\n  headline:\n      title: H2\n      subtitle: S\n  extra:\n      k:\n        - v\n---\n"
    );
}

#[test]
fn yaml_alias_conflict_leaves_document_unchanged() {
    let text = "---\nbase: &b [x]\ncopy: *b\n---\n";
    let mut doc = Document::parse(text).expect("parse");
    assert_eq!(doc.get("copy"), Some(&json!(["x"])));
    let e = doc.set_list("base", &list(&["y"])).expect_err("alias");
    assert_eq!(e.kind(), ErrorKind::EditConflict);
    let e = doc.remove("base").expect_err("alias");
    assert_eq!(e.kind(), ErrorKind::EditConflict);
    assert_eq!(doc.to_string(), text);
    assert!(!doc.is_modified());
    doc.set_list("copy", &list(&["z"]))
        .expect("the alias itself can change");
    assert_eq!(doc.to_string(), "---\nbase: &b [x]\ncopy: [z]\n---\n");
}

#[test]
fn yaml_flow_root_is_read_only() {
    let mut doc = Document::parse("---\n{a: 1, tags: [x]}\n---\n").expect("parse");
    assert_eq!(doc.get("tags"), Some(&json!(["x"])));
    let e = doc.set_list("tags", &[]).expect_err("flow root");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[test]
fn yaml_merge_keys() {
    let text = "---\nbase: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n---\n";
    let doc = Document::parse(text).expect("parse");
    assert_eq!(doc.get("m"), Some(&json!({"y": 3, "x": 1})));
}

#[test]
fn yaml_values_read_as_written() {
    let text = "---\ndate: 2023-08-25T07:00:00Z\nday: 2023-08-25\nn: 245\nf: 0.7\nb: False\nz: ~\nq: '42'\nbig: 123456789012345678901234567890\n---\n";
    let doc = Document::parse(text).expect("parse");
    assert_eq!(
        Value::Object(doc.data().clone()),
        json!({"date": "2023-08-25T07:00:00Z", "day": "2023-08-25", "n": 245, "f": 0.7, "b": false,
               "z": null, "q": "42", "big": 1.2345678901234568e29})
    );
}

// ---------------------------------------------------------------- TOML

#[test]
fn toml_tables_and_insert_after() {
    let text = "+++\ntitle = \"T\"\ndate = 2024-01-02T03:04:05Z\n\n[params]\nx = 1\n+++\nbody\n";
    let mut doc = Document::parse(text).expect("parse");
    assert_eq!(doc.get("date"), Some(&json!("2024-01-02T03:04:05Z")));
    assert_eq!(doc.get("params"), Some(&json!({"x": 1})));
    doc.insert_after("tags", "title", &json!(["a"]))
        .expect("insert");
    doc.set_list("categories", &list(&["c"]))
        .expect("at end of the plain keys");
    assert_eq!(
        doc.to_string(),
        "+++\ntitle = \"T\"\ntags = [\"a\"]\ndate = 2024-01-02T03:04:05Z\ncategories = [\"c\"]\n\n[params]\nx = 1\n+++\nbody\n"
    );
    doc.set("params", &json!({"x": 2})).expect("table");
    assert!(doc.to_string().contains("\n[params]\nx = 2\n"), "{doc}");
    let e = doc.set("title", &Value::Null).expect_err("null");
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    let e = doc.set("n", &json!(u64::MAX)).expect_err("too big");
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
}

#[test]
fn toml_remove_keeps_comment_above() {
    let text = "+++\na = 1\n# about b\nb = 2\n# about c\nc = 3\n+++\n";
    let mut doc = Document::parse(text).expect("parse");
    assert_eq!(doc.remove("b"), Ok(true));
    assert_eq!(
        doc.to_string(),
        "+++\na = 1\n# about b\n# about c\nc = 3\n+++\n"
    );
    assert_eq!(doc.remove("c"), Ok(true));
    assert_eq!(doc.to_string(), "+++\na = 1\n# about b\n# about c\n+++\n");
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_single_line_and_nested() {
    let text = "{\"title\": \"T\", \"tags\": [\"a\"]}\nbody\n";
    let mut doc = Document::parse(text).expect("parse");
    doc.insert_after("weight", "title", &json!(2))
        .expect("insert");
    doc.set_list("tags", &list(&["b", "c"])).expect("set");
    doc.set("headline", &json!({"title": "H"})).expect("map");
    assert_eq!(
        doc.to_string(),
        "{\"title\": \"T\", \"weight\": 2, \"tags\": [\"b\", \"c\"], \"headline\": {\"title\": \"H\"}}\nbody\n"
    );
    assert_eq!(doc.remove("title"), Ok(true));
    assert_eq!(doc.remove("headline"), Ok(true));
    assert_eq!(
        doc.to_string(),
        "{\"weight\": 2, \"tags\": [\"b\", \"c\"]}\nbody\n"
    );
    assert_eq!(doc.remove("weight"), Ok(true));
    assert_eq!(doc.remove("tags"), Ok(true));
    assert_eq!(doc.to_string(), "{}\nbody\n");
}

#[test]
fn json_tabs_and_escapes() {
    let text = "{\n\t\"t\\\"x\": \"a}\",\n\t\"tags\": []\n}\n";
    let mut doc = Document::parse(text).expect("parse");
    assert_eq!(doc.get("t\"x"), Some(&json!("a}")));
    doc.set_list("tags", &list(&["q\"uote"])).expect("set");
    doc.set_scalar("n", 1).expect("insert");
    assert_eq!(
        doc.to_string(),
        "{\n\t\"t\\\"x\": \"a}\",\n\t\"tags\": [\"q\\\"uote\"],\n\t\"n\": 1\n}\n"
    );
}

#[test]
fn odd_layouts_restore_exactly_from_the_original_bytes() {
    // Spacing and quoting no renderer would reproduce: only the original
    // bytes give them back.
    for text in [
        "---\ntags: [ a,'b' , \"c\" ]  # x\n---\n",
        "---\ntags:\n  - a   # first\n  # between\n  - \"b\"\n---\n",
        "+++\ntags = [ \"a\",'b' ,\"c\" ] # x\n+++\n",
        "{\"tags\":[ \"a\" ,\"b\",\"c\"]}\n",
    ] {
        let mut doc = Document::parse(text).expect("parse");
        let original = doc.get("tags").expect("tags").clone();
        doc.set_list("tags", &list(&["z"]))
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_ne!(doc.to_string(), text);
        doc.set("tags", &original).expect("restore");
        assert_eq!(doc.to_string(), text);
        // A document parsed from the edited text has no memory of them.
        let mut fresh = Document::parse(text).expect("parse");
        fresh.set_list("tags", &list(&["z"])).expect("set");
        let mut fresh = Document::parse(&fresh.to_string()).expect("parse");
        fresh.set("tags", &original).expect("set");
        assert_eq!(fresh.get("tags"), Some(&original));
    }
}

#[test]
fn empty_nodes_at_the_end_of_an_entry() {
    // An empty last item, an empty block scalar: the entry still ends
    // after them, so nothing is inserted inside.
    let out = yaml_edit("---\nk:\n- a\n- \n# c\n---\n", |d| {
        d.set_scalar("num", 1).expect("insert")
    });
    assert_eq!(out, "---\nk:\n- a\n- \nnum: 1\n# c\n---\n");
    let out = yaml_edit("---\n\"n\": >\nnext: ~\n---\n", |d| {
        d.set_scalar("n", 1).expect("set")
    });
    assert_eq!(out, "---\n\"n\": 1\nnext: ~\n---\n");
    let out = yaml_edit("---\nm:\n  k:\nx: 1\n---\n", |d| {
        d.set("m", &json!({"k": 2})).expect("set")
    });
    assert_eq!(out, "---\nm:\n  k: 2\nx: 1\n---\n");
}
