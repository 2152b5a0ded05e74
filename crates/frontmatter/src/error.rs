//! The one error type of this crate.

use std::fmt;

use crate::text;

/// What went wrong, without the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The front matter is not valid YAML, TOML or JSON.
    Syntax,
    /// An opening delimiter (`---`, `+++`, `{`) has no matching close.
    Unclosed,
    /// The front matter parsed, but it is not a mapping (for example a
    /// YAML list or a bare scalar).
    NotAMapping,
    /// A key appears twice in the same mapping.
    DuplicateKey,
    /// The text contains a NUL byte: almost certainly a binary file.
    NulByte,
    /// The value cannot be written in this format: `null` in TOML, a
    /// non-finite float, or nesting deeper than this crate accepts.
    InvalidValue,
    /// The front matter is valid but has a shape this editor does not
    /// edit (a YAML flow mapping at the top level, a complex key, ...).
    Unsupported,
    /// The edit was refused because writing it would have changed more
    /// than the key it was asked to change (for example a YAML alias
    /// that refers to the edited value). The document is left as it was.
    EditConflict,
}

/// An error with an optional position in the file.
///
/// `line` and `column` are 1-based and relative to the whole file (not to
/// the front matter), so a caller can print `path:line:column`. Columns
/// count characters, not bytes; a byte-order mark is not counted.
///
/// The `Display` form is `line:column: message` when the position is
/// known, so `format!("{}:{}", path.display(), err)` reads like a compiler
/// diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

impl Error {
    /// An error without a position.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error at byte `offset` of `text` (the file without its BOM).
    pub(crate) fn at(
        text: &str,
        offset: usize,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Error {
        let (line, column) = text::line_col(text, offset);
        Error {
            kind,
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The 1-based line in the file, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The 1-based column (in characters) in the file, when known.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// The message alone, lowercase, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(col)) => {
                write!(f, "{line}:{col}: {}", self.message)
            }
            (Some(line), None) => write!(f, "{line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A failure inside one format's parser, at a byte offset of the front
/// matter text; [`Fail::into_error`] places it in the file.
#[derive(Clone, Debug)]
pub(crate) enum Fail {
    At {
        offset: usize,
        kind: ErrorKind,
        message: String,
    },
    Duplicate {
        offset: usize,
        first: usize,
        key: String,
    },
}

impl Fail {
    pub(crate) fn at(offset: usize, kind: ErrorKind, message: impl Into<String>) -> Fail {
        Fail::At {
            offset,
            kind,
            message: message.into(),
        }
    }

    /// Maps the offsets with `f` (used to undo a patch of the source).
    pub(crate) fn map_offsets(self, f: impl Fn(usize) -> usize) -> Fail {
        match self {
            Fail::At {
                offset,
                kind,
                message,
            } => Fail::At {
                offset: f(offset),
                kind,
                message,
            },
            Fail::Duplicate { offset, first, key } => Fail::Duplicate {
                offset: f(offset),
                first: f(first),
                key,
            },
        }
    }

    /// The error in file terms: `base` is the offset of the front matter
    /// text in `text`.
    pub(crate) fn into_error(self, text: &str, base: usize) -> Error {
        match self {
            Fail::At {
                offset,
                kind,
                message,
            } => Error::at(text, base + offset, kind, message),
            Fail::Duplicate { offset, first, key } => {
                let (first_line, _) = text::line_col(text, base + first);
                Error::at(
                    text,
                    base + offset,
                    ErrorKind::DuplicateKey,
                    format!("duplicate key `{key}` (first defined on line {first_line})"),
                )
            }
        }
    }
}
