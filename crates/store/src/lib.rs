//! The incremental score store under `<site>/.taxonomist/`.
//!
//! # Brief overview
//! - [`Store`]: one text file per page under `.taxonomist/scores/` ([`PageScores`], format
//!   in [`file`]), written atomically and only when its bytes change; an exclusive
//!   [`fsutil::Lock`] so two runs never write one store; damaged files moved aside, never
//!   deleted.
//! - [`plan`]: which (page, term) pairs are fresh, which are stale and why
//!   ([`Staleness`]), which stored entries are orphans. A score is fresh only when its
//!   page's content hash, its term's definition hash and the engine id all match.
//! - [`reference`](mod@reference): import and export of the reference system's per-page cache files
//!   (`data.index.*.json`); imported judgments go to [`Store::imported`].
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let store = taxonomist_store::Store::open(dir.path());
//! let (pages, warnings) = store.load_all()?;
//! assert!(pages.is_empty() && warnings.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod file;
pub mod fsutil;
pub mod index;
mod plan;
pub mod reference;
pub mod writer;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub use file::{FileError, PageScores};
pub use fsutil::{Holder, Lock};
pub use index::{Entry, Index, Stamp};
pub use plan::{Plan, Staleness, expected_digest, plan, plan_loaded, plan_loaded_with};
pub use reference::{ImportOptions, ImportReport, Imported};
use taxonomist_model::PageId;
pub use writer::{PageWriter, Written};

/// The store's folder, relative to the site root.
pub const DIR: &str = ".taxonomist";

/// Errors that stop a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Another run holds the lock.
    #[error("the store {path} is in use by another taxonomist run{}{}; wait for it to finish (the lock is released when that process exits)",
        .holder.pid.map(|p| format!(" (pid {p}")).unwrap_or_default(),
        if .holder.pid.is_some() { if .holder.what.is_empty() { ")".to_string() } else { format!(": {})", .holder.what) } } else { String::new() })]
    Locked {
        /// The store folder.
        path: PathBuf,
        /// Who holds it.
        holder: Holder,
    },
}

/// A problem with one stored file; the run goes on without it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreWarning {
    /// The file.
    pub path: PathBuf,
    /// What was wrong and what was done.
    pub message: String,
}

/// What [`Store::load_for`] read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Page files that were read (pages the index could not prove fresh).
    pub files: BTreeMap<PageId, PageScores>,
    /// Pages the index proved fresh (their files were not read).
    pub proven_fresh: std::collections::BTreeSet<PageId>,
    /// The index as loaded, with entries refreshed for every file that was read.
    pub index: Index,
    /// Every page id the store holds a file for.
    pub stored: std::collections::BTreeSet<PageId>,
    /// Damaged files (moved aside).
    pub warnings: Vec<StoreWarning>,
}

/// The store's `.gitignore`: caches and run state stay out of git; `scores/` (and the
/// cascade's shortlists) are meant to be committed, so CI never pays twice.
pub const GITIGNORE: &str = "# rebuildable caches and run state; scores/ is meant to be committed\ncache/\nlock\nindex.json\n*.tmp\n*.corrupt-*\n";

/// The score store of one site.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Report damaged files without moving them (for commands that only look).
    read_only: bool,
}

/// The file name of a page id: path segments kept, anything outside `[A-Za-z0-9._-]`
/// percent-encoded, `.` and `..` segments escaped, `.json` appended.
pub fn page_file_name(id: &PageId) -> PathBuf {
    let mut out = PathBuf::new();
    for seg in id.as_str().split('/') {
        let mut s = String::new();
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                s.push(b as char);
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        if s.is_empty() || s == "." || s == ".." || s.starts_with('.') {
            s = format!("%2E{}", s.trim_start_matches('.'));
        }
        out.push(s);
    }
    let mut name = out.into_os_string();
    name.push(".json");
    PathBuf::from(name)
}

impl Store {
    /// The store of the site at `site_root` (nothing is created until written).
    pub fn open(site_root: &Path) -> Store {
        Store {
            root: site_root.join(DIR),
            read_only: false,
        }
    }

    /// A store in an explicit folder (for sites you cannot or do not want to write into).
    pub fn at(dir: &Path) -> Store {
        Store {
            root: dir.to_path_buf(),
            read_only: false,
        }
    }

    /// The store of imported scores (`.taxonomist/imported/`): judgments brought in from
    /// another system, kept apart so that no engine run ever overwrites them. They are
    /// labels the embedded engine can learn from.
    pub fn imported(&self) -> Store {
        Store {
            root: self.root.join("imported"),
            read_only: self.read_only,
        }
    }

    /// The same store, for commands that only look: damaged files are reported but left
    /// where they are.
    pub fn read_only(&self) -> Store {
        Store {
            root: self.root.clone(),
            read_only: true,
        }
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding page files.
    pub fn scores_dir(&self) -> PathBuf {
        self.root.join("scores")
    }

    /// The rebuildable cache folder (embeddings), git-ignored.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// Takes the store's exclusive lock, or says who has it.
    pub fn lock(&self, what: &str) -> Result<Lock, StoreError> {
        let path = self.root.join("lock");
        match Lock::try_acquire(&path, what) {
            Ok(Ok(lock)) => {
                self.ensure_gitignore()?;
                if lock.previous().is_some() {
                    // The last writer was killed mid-run: its temp files are garbage now
                    // that no one else can write here.
                    remove_temp_files(&self.scores_dir());
                }
                Ok(lock)
            }
            Ok(Err(holder)) => Err(StoreError::Locked {
                path: self.root.clone(),
                holder,
            }),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Creates the store's `.gitignore` ([`GITIGNORE`]) unless one exists.
    pub fn ensure_gitignore(&self) -> Result<(), StoreError> {
        let path = self.root.join(".gitignore");
        if path.exists() {
            return Ok(());
        }
        fsutil::write_atomic(&path, GITIGNORE.as_bytes())
            .map(|_| ())
            .map_err(|source| StoreError::Io { path, source })
    }

    /// The file of one page.
    pub fn page_path(&self, id: &PageId) -> PathBuf {
        self.scores_dir().join(page_file_name(id))
    }

    /// Loads every page file. Damaged files are moved aside and reported; their pages count
    /// as never scored.
    pub fn load_all(
        &self,
    ) -> Result<(BTreeMap<PageId, PageScores>, Vec<StoreWarning>), StoreError> {
        let dir = self.scores_dir();
        let mut pages = BTreeMap::new();
        let mut warnings = Vec::new();
        if !dir.is_dir() {
            return Ok((pages, warnings));
        }
        let mut files: Vec<PathBuf> = walk_json(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        files.sort();
        for path in files {
            match self.load_file(&path) {
                Ok(p) => {
                    pages.insert(p.page.clone(), p);
                }
                Err(w) => warnings.push(w),
            }
        }
        Ok((pages, warnings))
    }

    fn load_file(&self, path: &Path) -> Result<PageScores, StoreWarning> {
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8(b).map_err(|_| "not UTF-8".to_string()),
            Err(e) => {
                return Err(StoreWarning {
                    path: path.to_path_buf(),
                    message: format!("cannot read: {e}; its page will be re-scored"),
                });
            }
        };
        let parsed = text.and_then(|t| PageScores::from_text(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(p) => Ok(p),
            Err(why) if self.read_only => Err(StoreWarning {
                path: path.to_path_buf(),
                message: format!("{why}; the next classify moves it aside and re-scores its page"),
            }),
            Err(why) => {
                let message = match fsutil::move_aside(path) {
                    Ok(dest) => format!(
                        "{why}; moved aside to {} and its page will be re-scored",
                        dest.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    ),
                    Err(e) => {
                        format!("{why}; could not move it aside ({e}); its page will be re-scored")
                    }
                };
                Err(StoreWarning {
                    path: path.to_path_buf(),
                    message,
                })
            }
        }
    }

    /// The index file (local, git-ignored).
    pub fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    /// Loads the index (empty when missing or damaged: it is rebuilt).
    pub fn load_index(&self) -> Index {
        std::fs::read_to_string(self.index_path())
            .ok()
            .and_then(|t| Index::from_text(&t))
            .unwrap_or_default()
    }

    /// Saves the index atomically (written after the page files, so a crash in between
    /// leaves an index that merely under-proves).
    pub fn save_index(&self, index: &Index) -> Result<(), StoreError> {
        let path = self.index_path();
        fsutil::write_atomic(&path, index.to_text().as_bytes())
            .map(|_| ())
            .map_err(|source| StoreError::Io { path, source })
    }

    /// Reads what a run needs. `expected(id)` is the index digest a fresh page would have
    /// (see [`index::digest`]), or `None` to always read the page's file. Pages whose file
    /// is unchanged since the index saw it and whose digest matches are proven fresh without
    /// reading; every other stored page file is read (damaged ones are moved aside).
    pub fn load_for(
        &self,
        expected: &dyn Fn(&PageId) -> Option<taxonomist_model::Hash>,
    ) -> Result<Loaded, StoreError> {
        let dir = self.scores_dir();
        let mut out = Loaded {
            index: self.load_index(),
            ..Loaded::default()
        };
        if !dir.is_dir() {
            out.index.pages.clear();
            return Ok(out);
        }
        let mut paths: Vec<PathBuf> = walk_json(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        paths.sort();
        // Map file paths back to page ids through the index where possible.
        let by_path: std::collections::HashMap<PathBuf, PageId> = out
            .index
            .pages
            .keys()
            .map(|id| (self.page_path(id), id.clone()))
            .collect();
        let mut to_read = Vec::new();
        for path in paths {
            let known = by_path.get(&path).and_then(|id| {
                let entry = out.index.pages.get(id)?;
                let stamp = Stamp::of(&path)?;
                (stamp == entry.stamp && expected(id) == Some(entry.digest)).then(|| id.clone())
            });
            match known {
                Some(id) => {
                    out.stored.insert(id.clone());
                    out.proven_fresh.insert(id);
                }
                None => to_read.push(path),
            }
        }
        let read: Vec<(PathBuf, Result<PageScores, StoreWarning>)> = to_read
            .into_iter()
            .map(|p| {
                let r = self.load_file(&p);
                (p, r)
            })
            .collect();
        for (path, r) in read {
            match r {
                Ok(file) => {
                    if let Some(stamp) = Stamp::of(&path) {
                        out.index
                            .pages
                            .insert(file.page.clone(), Entry::of(&file, stamp));
                    }
                    out.stored.insert(file.page.clone());
                    out.files.insert(file.page.clone(), file);
                }
                Err(w) => out.warnings.push(w),
            }
        }
        let stored = out.stored.clone();
        out.index.pages.retain(|id, _| stored.contains(id));
        Ok(out)
    }

    /// Loads one page's file, if present and sound.
    pub fn load_page(&self, id: &PageId) -> Result<Option<PageScores>, StoreWarning> {
        let path = self.page_path(id);
        if !path.exists() {
            return Ok(None);
        }
        self.load_file(&path).map(Some)
    }

    /// Writes one page's file (atomically, only if its bytes change). Returns whether it
    /// wrote.
    pub fn write_page(&self, scores: &PageScores) -> Result<bool, StoreError> {
        let path = self.page_path(&scores.page);
        fsutil::write_atomic(&path, scores.to_text().as_bytes())
            .map_err(|source| StoreError::Io { path, source })
    }

    /// Writes many pages' files with one durability barrier (see
    /// [`fsutil::write_atomic_many`]); each file is still replaced atomically and only if
    /// its bytes change. Returns, per page, whether it wrote.
    pub fn write_pages(&self, pages: &[&PageScores]) -> Result<Vec<bool>, StoreError> {
        fsutil::write_atomic_many(&self.page_files(pages))
            .map_err(|(path, source)| StoreError::Io { path, source })
    }

    /// Each page's file path and bytes, as [`Store::write_pages`] writes them.
    pub fn page_files(&self, pages: &[&PageScores]) -> Vec<(PathBuf, Vec<u8>)> {
        pages
            .iter()
            .map(|p| (self.page_path(&p.page), p.to_text().into_bytes()))
            .collect()
    }

    /// Removes one page's file (pruning a deleted page).
    pub fn remove_page(&self, id: &PageId) -> Result<bool, StoreError> {
        let path = self.page_path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Bytes used by the rebuildable cache.
    pub fn cache_size(&self) -> u64 {
        dir_size(&self.cache_dir())
    }
}

/// Removes the temp files of atomic writes (`.NAME.PID.tmp`) under `dir`; best effort.
fn remove_temp_files(dir: &Path) {
    let temps = walk_files(dir, &|name| name.starts_with('.') && name.ends_with(".tmp"));
    for p in temps.unwrap_or_default() {
        let _ = std::fs::remove_file(p);
    }
}

/// The store's page files under `dir` (hidden files, such as temp files, left out).
fn walk_json(dir: &Path) -> io::Result<Vec<PathBuf>> {
    walk_files(dir, &|name| {
        name.ends_with(".json") && !name.starts_with('.')
    })
}

/// Files under `dir` whose name `keep` accepts.
fn walk_files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() && keep(&entry.file_name().to_string_lossy()) {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        let f = |s: &str| {
            page_file_name(&PageId(s.into()))
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(f("blog/2024/x"), "blog/2024/x.json");
        assert_eq!(f("5wIEg7lD_Xd"), "5wIEg7lD_Xd.json");
        assert_eq!(f("a b/c:d"), "a%20b/c%3Ad.json");
        assert_eq!(f("../etc/passwd"), "%2E/etc/passwd.json");
        assert_eq!(f("blog/.hidden"), "blog/%2Ehidden.json");
        assert_ne!(f("a/b"), f("a%2Fb"));
    }

    #[test]
    fn corrupt_files_are_moved_aside_and_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path());
        let good = PageScores {
            page: PageId("ok".into()),
            path: String::new(),
            scores: Default::default(),
        };
        store.write_page(&good).expect("write");
        let bad = store.scores_dir().join("bad.json");
        std::fs::write(&bad, "{ this is not json").expect("write");
        let (pages, warnings) = store.load_all().expect("load");
        assert_eq!(pages.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .message
                .contains("moved aside to bad.json.corrupt-1"),
            "{:?}",
            warnings
        );
        assert!(!bad.exists());
        assert!(
            store.scores_dir().join("bad.json.corrupt-1").exists(),
            "never deleted"
        );
        // The next load is clean.
        let (_, warnings) = store.load_all().expect("load");
        assert!(warnings.is_empty());
    }

    #[test]
    fn the_index_proves_unchanged_pages_fresh_without_reading_them() {
        use taxonomist_model::{EngineId, Inputs, Score, TermId};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path());
        let engine = EngineId {
            name: "e".into(),
            model: "m".into(),
            version: "1".into(),
        };
        let mk = |id: &str| {
            let t = TermId("tags/a".into());
            let s = Score {
                term: t.clone(),
                confidence: 50.0,
                lexical: 0.0,
                final_score: 50.0,
                reason: String::new(),
                dimensions: None,
                engine: engine.clone(),
                inputs: Inputs {
                    content_hash: taxonomist_model::Hash::of(id.as_bytes()),
                    definition_hash: taxonomist_model::Hash::of(b"d"),
                },
                computed_at: String::new(),
                usage: None,
            };
            PageScores {
                page: PageId(id.into()),
                path: String::new(),
                scores: [(t, s)].into(),
            }
        };
        for id in ["a", "b"] {
            store.write_page(&mk(id)).expect("write");
        }
        let expect = |id: &PageId| {
            Some(index::digest(std::iter::once((
                &TermId("tags/a".into()),
                taxonomist_model::Hash::of(b"d"),
                taxonomist_model::Hash::of(id.as_str().as_bytes()),
                &engine,
            ))))
        };
        // No index yet: every file is read, and the index is rebuilt from them.
        let first = store.load_for(&expect).expect("load");
        assert_eq!(first.files.len(), 2);
        assert!(first.proven_fresh.is_empty());
        store.save_index(&first.index).expect("save");
        // Now nothing is read.
        let second = store.load_for(&expect).expect("load");
        assert_eq!(second.files.len(), 0);
        assert_eq!(second.proven_fresh.len(), 2);
        assert_eq!(second.stored.len(), 2);
        // A hand-edited file (new mtime and size) is read again.
        std::thread::sleep(std::time::Duration::from_millis(10));
        let path = store.page_path(&PageId("b".into()));
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("50.0", "51.0");
        std::fs::write(&path, text).expect("write");
        let third = store.load_for(&expect).expect("load");
        assert_eq!(
            third.files.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(
            third.files[&PageId("b".into())].scores[&TermId("tags/a".into())].final_score,
            51.0
        );
        // A different expectation (another engine version) reads everything.
        let other = store.load_for(&|_| None).expect("load");
        assert_eq!(other.files.len(), 2);
        // A damaged index is simply rebuilt.
        std::fs::write(store.index_path(), "{ nope").expect("write");
        assert_eq!(store.load_for(&expect).expect("load").files.len(), 2);
    }

    #[test]
    fn a_lock_taken_from_a_dead_holder_clears_its_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path());
        let sub = store.scores_dir().join("blog");
        std::fs::create_dir_all(&sub).expect("dir");
        let temp = sub.join(".post.json.4242.tmp");
        let kept = sub.join("post.json");
        std::fs::write(&kept, "{}").expect("file");
        // A clean exit leaves the lock file empty: nothing is swept.
        std::fs::write(&temp, "half").expect("temp");
        drop(store.lock("taxonomist classify").expect("lock"));
        assert!(temp.exists(), "only a dead holder's run is swept");
        // A killed holder leaves its pid in the lock file: its temp files go, nothing else.
        std::fs::write(
            dir.path().join(".taxonomist/lock"),
            "4242\ntaxonomist classify\n",
        )
        .expect("lock file");
        let lock = store.lock("taxonomist classify").expect("lock");
        assert_eq!(lock.previous().and_then(|h| h.pid), Some(4242));
        assert!(!temp.exists(), "the dead run's temp file is removed");
        assert!(kept.exists());
    }

    #[test]
    fn locked_store_message_names_the_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path());
        let _held = store.lock("taxonomist classify").expect("lock");
        let err = store.lock("taxonomist apply").expect_err("locked");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}: taxonomist classify", std::process::id())),
            "{msg}"
        );
        assert!(dir.path().join(".taxonomist/.gitignore").exists());
    }
}

/// The current UTC time as RFC 3339 (`2026-11-28T05:12:09Z`), for `computed_at`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
