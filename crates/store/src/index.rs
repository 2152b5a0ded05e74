//! The store index: a small, rebuildable summary of every page file, so a run that changes
//! nothing can prove it without parsing hundreds of megabytes of scores.
//!
//! Per page: the file's size and modification time when the index last saw it, the content
//! hash, a digest of every stored score's inputs and engine, and the final scores that are
//! not zero (enough to select terms). A page whose file still has the recorded size and
//! mtime, whose content hash matches and whose digest equals the digest the current run
//! expects is fresh without its file being read. Anything else — a changed, new, damaged or
//! hand-edited file — is read and planned the slow, exact way. The index is local state
//! (mtimes are per machine): git-ignored, safe to delete, rebuilt by the next run.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use taxonomist_model::{EngineId, Hash, Hasher, PageId, TermId};

use crate::PageScores;

/// The index's format.
pub const INDEX_FORMAT: u32 = 1;

/// A file's size and modification time (nanoseconds since the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Bytes.
    pub len: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: u64,
}

impl Stamp {
    /// The stamp of a file, when it exists.
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        let mtime_ns = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos() as u64;
        Some(Stamp {
            len: m.len(),
            mtime_ns,
        })
    }
}

/// One page's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The page file when last seen.
    pub stamp: Stamp,
    /// Digest of every stored score's (term, definition hash, content hash, engine).
    pub digest: Hash,
    /// Final scores above zero.
    pub finals: BTreeMap<TermId, f32>,
}

/// The whole index.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Format version.
    pub format: u32,
    /// Per page.
    pub pages: BTreeMap<PageId, Entry>,
}

/// The digest of a set of `(term, definition hash, content hash, engine)`, in term order.
pub fn digest<'a>(items: impl Iterator<Item = (&'a TermId, Hash, Hash, &'a EngineId)>) -> Hash {
    let mut h = Hasher::new("store-index/1");
    let mut n = 0u64;
    for (term, def, content, engine) in items {
        h.str(term.as_str()).field(&def.0).field(&content.0);
        h.str(&engine.name).str(&engine.model).str(&engine.version);
        n += 1;
    }
    h.field(&n.to_le_bytes());
    h.finish()
}

impl Entry {
    /// The summary of a page file with the given stamp.
    pub fn of(file: &PageScores, stamp: Stamp) -> Entry {
        let digest = digest(file.scores.iter().map(|(t, s)| {
            (
                t,
                s.inputs.definition_hash,
                s.inputs.content_hash,
                &s.engine,
            )
        }));
        let finals = file
            .scores
            .iter()
            .filter(|(_, s)| s.final_score > 0.0)
            .map(|(t, s)| (t.clone(), (s.final_score * 10.0).round() / 10.0))
            .collect();
        Entry {
            stamp,
            digest,
            finals,
        }
    }
}

impl Index {
    /// Parses an index; `None` when damaged or of another format (it is then rebuilt).
    pub fn from_text(text: &str) -> Option<Index> {
        serde_json::from_str::<Index>(text)
            .ok()
            .filter(|i| i.format == INDEX_FORMAT)
    }

    /// Serialises (compact: it is machine state).
    pub fn to_text(&self) -> String {
        let mut i = self.clone();
        i.format = INDEX_FORMAT;
        serde_json::to_string(&i).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use taxonomist_model::{Inputs, Score};

    use super::*;

    fn file(v: &str) -> PageScores {
        let mut scores = BTreeMap::new();
        for (t, f) in [("tags/a", 0.0f32), ("tags/b", 55.55)] {
            scores.insert(
                TermId(t.into()),
                Score {
                    term: TermId(t.into()),
                    confidence: f,
                    lexical: 0.0,
                    final_score: f,
                    reason: String::new(),
                    dimensions: None,
                    engine: EngineId {
                        name: "e".into(),
                        model: "m".into(),
                        version: v.into(),
                    },
                    inputs: Inputs {
                        content_hash: Hash::of(b"c"),
                        definition_hash: Hash::of(t.as_bytes()),
                    },
                    computed_at: String::new(),
                    usage: None,
                },
            );
        }
        PageScores {
            page: PageId("p".into()),
            path: String::new(),
            scores,
        }
    }

    #[test]
    fn entry_digest_tracks_inputs_and_engine() {
        let a = Entry::of(&file("1"), Stamp::default());
        assert_eq!(a, Entry::of(&file("1"), Stamp::default()));
        assert_ne!(a.digest, Entry::of(&file("2"), Stamp::default()).digest);
        assert_eq!(a.finals.len(), 1, "zero finals are left out");
        assert_eq!(a.finals[&TermId("tags/b".into())], 55.6);
        let i = Index {
            format: INDEX_FORMAT,
            pages: [(PageId("p".into()), a)].into(),
        };
        assert_eq!(Index::from_text(&i.to_text()), Some(i));
        assert_eq!(Index::from_text("garbage"), None);
        assert_eq!(Index::from_text("{\"format\":99,\"pages\":{}}"), None);
    }
}
