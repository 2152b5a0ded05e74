//! Bad input: every error has the right kind and file-relative position,
//! and nothing panics.

use taxonomist_frontmatter::{Document, ErrorKind};

/// Parses `text`, expecting an error of `kind` at `line:col`.
fn err(text: &str, kind: ErrorKind, line: usize, col: usize) -> String {
    let short: String = text.chars().take(80).collect();
    let Err(e) = Document::parse(text) else {
        panic!("{short:?} parsed");
    };
    assert_eq!(e.kind(), kind, "{short:?}: {e}");
    assert_eq!(
        (e.line(), e.column()),
        (Some(line), Some(col)),
        "{short:?}: {e}"
    );
    assert!(e.to_string().starts_with(&format!("{line}:{col}: ")), "{e}");
    assert!(
        e.message().starts_with(char::is_lowercase),
        "lowercase message: {e}"
    );
    e.message().to_owned()
}

#[test]
fn invalid_yaml() {
    let m = err(
        "---\ntitle: ok\nkey: value: x\n---\n",
        ErrorKind::Syntax,
        3,
        11,
    );
    assert!(
        m.starts_with("invalid YAML: mapping values are not allowed"),
        "{m}"
    );
    err("---\na: 1\n b: 2\n---\n", ErrorKind::Syntax, 3, 3);
    err("---\ntitle: [a\n---\n", ErrorKind::Syntax, 3, 1);
    err("---\na: *nowhere\n---\n", ErrorKind::Syntax, 2, 4);
    err("---\na: 1\n...\nb: 2\n---\n", ErrorKind::Syntax, 4, 1);
}

#[test]
fn positions_count_bom_blank_lines_and_wide_chars() {
    // The BOM is not a column; leading blank lines are lines.
    err(
        "\u{feff}\n\n---\na: 1\nb: c: d\n---\n",
        ErrorKind::Syntax,
        5,
        5,
    );
    // Columns count characters, not bytes.
    err("---\nété: ü: x\n---\n", ErrorKind::Syntax, 2, 7);
    err(
        "\r\n---\r\na: 1\r\na: 2\r\n---\r\n",
        ErrorKind::DuplicateKey,
        4,
        1,
    );
}

#[test]
fn invalid_toml() {
    let m = err("+++\ntitle = \n+++\n", ErrorKind::Syntax, 2, 9);
    assert!(m.starts_with("invalid TOML: "), "{m}");
    err("+++\na = 1\na = 2\n+++\n", ErrorKind::DuplicateKey, 3, 1);
    err(
        "\u{feff}+++\ntags = [\"a\",\n+++\n",
        ErrorKind::Syntax,
        2,
        13,
    );
}

#[test]
fn invalid_json() {
    let m = err(
        "{\n  \"a\": 1,\n  \"b\": \n}\nbody",
        ErrorKind::Syntax,
        4,
        1,
    );
    assert_eq!(m, "invalid JSON: expected value");
    err("{\"a\": tru}\n", ErrorKind::Syntax, 1, 10);
    err("\n{\"a\": 1, \"a\": 2}", ErrorKind::DuplicateKey, 2, 10);
}

#[test]
fn duplicate_keys_name_the_first_line() {
    let m = err(
        "---\ntags: [a]\ntitle: t\ntags: [b]\n---\n",
        ErrorKind::DuplicateKey,
        4,
        1,
    );
    assert_eq!(m, "duplicate key `tags` (first defined on line 2)");
    err(
        "---\nm:\n  a: 1\n  a: 2\n---\n",
        ErrorKind::DuplicateKey,
        4,
        3,
    );
}

#[test]
fn unclosed_front_matter() {
    let m = err("---\ntitle: x\n\nbody\n", ErrorKind::Unclosed, 1, 1);
    assert_eq!(m, "unclosed YAML front matter: no closing `---` line");
    err("+++\ntitle = 'x'\n", ErrorKind::Unclosed, 1, 1);
    err("\n\n{\"a\": [1}\n", ErrorKind::Unclosed, 3, 1);
    err("---", ErrorKind::Unclosed, 1, 1);
}

#[test]
fn front_matter_must_be_a_mapping() {
    err("---\n- a\n- b\n---\n", ErrorKind::NotAMapping, 2, 1);
    err("---\njust text\n---\n", ErrorKind::NotAMapping, 2, 1);
    // An empty front matter, or one with only comments, is an empty mapping.
    for text in [
        "---\n---\n",
        "---\n# nothing\n---\n",
        "---\n\n---\n",
        "+++\n+++\n",
        "{}",
    ] {
        assert!(Document::parse(text).expect(text).data().is_empty());
    }
}

#[test]
fn nul_bytes() {
    let m = err("---\na: \"x\0\"\n---\n", ErrorKind::NulByte, 2, 6);
    assert!(m.contains("NUL byte"), "{m}");
    err("---\na: 1\n---\nbody\0", ErrorKind::NulByte, 4, 5);
}

#[test]
fn huge_lines_and_deep_nesting() {
    let long = "x".repeat(2_000_000);
    let doc = Document::parse(&format!("---\ntitle: {long}\n---\n{long}\n")).expect("long line");
    assert_eq!(
        doc.get("title").and_then(|v| v.as_str()).map(str::len),
        Some(long.len())
    );
    err(
        &format!("---\ntitle: {long}: x\n---\n"),
        ErrorKind::Syntax,
        2,
        2_000_008,
    );
    let deep = format!(
        "---\na: {}{}\n---\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    err(&deep, ErrorKind::Syntax, 2, 259);
    let deep_json = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Document::parse(&deep_json).is_err());
    let deep_toml = format!(
        "+++\na = {}{}\n+++\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(Document::parse(&deep_toml).is_err());
    let many = "a: &a [x, x, x, x, x, x, x, x, x, x]\n".to_owned()
        + &(b'b'..=b'z')
            .map(|c| {
                let prev = (c - 1) as char;
                format!("{}: &{} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n", c as char, c as char)
            })
            .collect::<String>();
    let e = Document::parse(&format!("---\n{many}---\n")).expect_err("billion laughs");
    assert_eq!(e.kind(), ErrorKind::Syntax);
}

#[test]
fn display_is_line_col_message() {
    let e = Document::parse("---\na: [\n---\n").expect_err("bad");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:{}: {}",
            e.line().unwrap_or(0),
            e.column().unwrap_or(0),
            e.message()
        )
    );
}
