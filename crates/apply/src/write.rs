//! Write-back: a content file's text and the lists to write → the new text, through the
//! lossless editor, touching only the keys whose list changes. (The caller writes the
//! file, atomically: `taxonomist_store::fsutil::write_atomic`.)

use serde_json::Value;
use taxonomist_frontmatter::Document;

/// Why a file could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file's front matter does not parse (the error carries line and column).
    #[error("{0}")]
    Parse(taxonomist_frontmatter::Error),
    /// The editor refused an edit (the file is left as it was).
    #[error("cannot write `{key}`: {source}")]
    Edit {
        /// The front-matter key.
        key: String,
        /// The editor's error.
        source: taxonomist_frontmatter::Error,
    },
    /// The edit would have changed the body: refused (never happens unless the editor is
    /// wrong; checked on every file).
    #[error("refused: the edit would change the page body")]
    BodyChanged,
}

/// One list to write: the front-matter key and its new values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEdit {
    /// Front-matter key (the taxonomy's key; matched case-insensitively, like the loader).
    pub key: String,
    /// The values to write.
    pub values: Vec<String>,
}

/// The outcome of [`rewrite`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The new text (the input text when nothing changed).
    pub text: String,
    /// Keys actually changed, as spelled in the file, in edit order.
    pub changed: Vec<String>,
}

/// A front-matter value as the list of strings the loader sees (a scalar is a one-item list).
fn as_list(v: &Value) -> Vec<String> {
    let items: Vec<String> = match v {
        Value::Array(a) => a.iter().filter_map(scalar).collect(),
        Value::Null => Vec::new(),
        other => scalar(other).into_iter().collect(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Applies `edits` to a content file's `text`. A key whose current list already equals the
/// new one is not touched (so a scalar `categories: Ops` stays a scalar when the selection is
/// `[Ops]`); a key that is absent is added only when its new list is not empty; a file with
/// no front matter gets a YAML block only when something is written. Everything else —
/// other keys, comments, quoting, key order, line endings, BOM and the body — is kept
/// byte for byte; the body is re-checked after editing.
///
/// # Errors
///
/// [`WriteError::Parse`] when the front matter does not parse, [`WriteError::Edit`] when the
/// editor refuses an edit, [`WriteError::BodyChanged`] if the body would change.
pub fn rewrite(text: &str, edits: &[ListEdit]) -> Result<Rewrite, WriteError> {
    let mut doc = Document::parse(text).map_err(WriteError::Parse)?;
    let body = doc.body().to_string();
    let mut changed = Vec::new();
    for e in edits {
        let existing = doc
            .data()
            .iter()
            .find(|(k, _)| k.as_str() == e.key)
            .or_else(|| {
                doc.data()
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&e.key))
            })
            .map(|(k, v)| (k.clone(), as_list(v)));
        let key = match existing {
            Some((_, current)) if current == e.values => continue,
            Some((k, _)) => k,
            None if e.values.is_empty() => continue,
            None => e.key.clone(),
        };
        doc.set_list(&key, &e.values)
            .map_err(|source| WriteError::Edit {
                key: key.clone(),
                source,
            })?;
        changed.push(key);
    }
    if !doc.is_modified() {
        return Ok(Rewrite {
            text: text.to_string(),
            changed: Vec::new(),
        });
    }
    let out = doc.into_string();
    let check = Document::parse(&out).map_err(WriteError::Parse)?;
    if check.body() != body || check.has_bom() != text.starts_with('\u{feff}') {
        return Err(WriteError::BodyChanged);
    }
    Ok(Rewrite { text: out, changed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(key: &str, values: &[&str]) -> ListEdit {
        ListEdit {
            key: key.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn apply(text: &str, edits: &[ListEdit]) -> Rewrite {
        rewrite(text, edits).expect("rewrite")
    }

    #[test]
    fn only_changed_keys_are_written_and_comments_stay() {
        let text = "---\ntitle: T # keep\n# a comment\ntags:\n  - A\n  - B\ncategories: [X]\n---\nBody\n\n---\nnot front matter\n";
        let r = apply(
            text,
            &[edit("tags", &["A", "C"]), edit("categories", &["X"])],
        );
        assert_eq!(r.changed, ["tags"]);
        assert_eq!(
            r.text,
            "---\ntitle: T # keep\n# a comment\ntags:\n  - A\n  - C\ncategories: [X]\n---\nBody\n\n---\nnot front matter\n"
        );
        // Idempotent: writing the same lists again changes nothing.
        let again = apply(
            &r.text,
            &[edit("tags", &["A", "C"]), edit("categories", &["X"])],
        );
        assert!(again.changed.is_empty());
        assert_eq!(again.text, r.text);
    }

    #[test]
    fn a_scalar_equal_to_the_selection_is_left_alone() {
        let text = "---\ncategories: Ops\n---\nx";
        let r = apply(text, &[edit("categories", &["Ops"])]);
        assert!(r.changed.is_empty());
        assert_eq!(r.text, text);
        let r = apply(text, &[edit("categories", &["Ops", "Dev"])]);
        assert_eq!(r.changed, ["categories"]);
        assert!(r.text.ends_with("---\nx"));
    }

    #[test]
    fn keys_match_case_insensitively_like_the_loader() {
        let text = "---\nTags: [A]\n---\n";
        let r = apply(text, &[edit("tags", &["B"])]);
        assert_eq!(r.changed, ["Tags"]);
        assert_eq!(r.text, "---\nTags: [B]\n---\n");
    }

    #[test]
    fn crlf_bom_toml_and_json_keep_their_shape() {
        let crlf = "\u{feff}---\r\ntitle: T\r\ntags:\r\n  - A\r\n---\r\nBody\r\n";
        let r = apply(crlf, &[edit("tags", &["A", "B"])]);
        assert!(r.text.starts_with('\u{feff}'));
        assert!(!r.text.replace("\r\n", "").contains('\n'), "{:?}", r.text);
        assert!(r.text.ends_with("---\r\nBody\r\n"));

        let toml = "+++\ntitle = \"T\"\ntags = [\"A\"]\n+++\nBody\n";
        let r = apply(toml, &[edit("tags", &["B"])]);
        assert_eq!(r.text, "+++\ntitle = \"T\"\ntags = [\"B\"]\n+++\nBody\n");

        let json = "{\n  \"title\": \"T\",\n  \"tags\": [\"A\"]\n}\nBody\n";
        let r = apply(json, &[edit("tags", &["B"])]);
        assert!(r.text.contains("\"tags\": [\"B\"]"), "{}", r.text);
        assert!(r.text.ends_with("}\nBody\n"));
    }

    #[test]
    fn no_front_matter_gets_yaml_only_when_something_is_written() {
        let text = "# Heading\n\nBody.\n";
        let r = apply(text, &[edit("tags", &[])]);
        assert_eq!(r.text, text);
        assert!(r.changed.is_empty());
        let r = apply(text, &[edit("tags", &["A"])]);
        assert!(r.text.starts_with("---\n"), "{}", r.text);
        assert!(r.text.ends_with("---\n# Heading\n\nBody.\n"), "{}", r.text);
        let reparsed = Document::parse(&r.text).expect("parse");
        assert_eq!(reparsed.body(), text);
    }

    #[test]
    fn absent_key_with_empty_selection_is_not_added() {
        let text = "---\ntitle: T\n---\n";
        let r = apply(text, &[edit("tags", &[])]);
        assert_eq!(r.text, text);
    }

    #[test]
    fn bad_front_matter_is_an_error_with_a_line() {
        let text = "---\ntitle: T\ntags: [a\n---\n";
        let e = rewrite(text, &[edit("tags", &["b"])]).expect_err("bad yaml");
        match e {
            WriteError::Parse(p) => assert!(p.line().is_some(), "{p}"),
            other => panic!("unexpected {other}"),
        }
    }
}
