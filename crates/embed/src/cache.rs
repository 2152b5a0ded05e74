//! A binary embedding cache: (embedder id, blake3 of the text) → vector.
//!
//! One file per embedder id in a directory the caller chooses (later
//! `.taxonomist/cache/`). The cache is safe to delete and rebuilds itself.
//!
//! File layout (little-endian):
//! ```text
//! header:  b"TXEMBVEC" | version u32 | dim u32 | id_len u32 | id bytes | blake3(previous)[..8]
//! record:  key [u8; 32] (blake3 of the text) | dim × f32 | blake3(key ‖ vector)[..8]
//! ```
//! New vectors are appended in one write per [`EmbeddingCache::flush`]; a
//! torn or damaged record fails its checksum, and it and everything after it
//! are ignored (reported as a warning) and dropped at the next flush, which
//! then rewrites the file through a temporary file and a rename. Loading is
//! one read. The cache assumes one writer at a time (the store's lock).

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::Embedder;
use crate::error::{Error, Result};
use crate::fetch::{hex, write_atomic};

const MAGIC: &[u8; 8] = b"TXEMBVEC";
const VERSION: u32 = 1;
const CHECK: usize = 8;

/// The cache key of a text: its blake3 hash.
pub type Key = [u8; 32];

/// The key of `text`.
pub fn key(text: &str) -> Key {
    *blake3::hash(text.as_bytes()).as_bytes()
}

/// Vectors of one embedder, loaded from and flushed to one file.
#[derive(Debug)]
pub struct EmbeddingCache {
    path: PathBuf,
    embedder_id: String,
    dim: usize,
    index: HashMap<Key, usize>,
    keys: Vec<Key>,
    /// `rows × dim`.
    data: Vec<f32>,
    /// Rows `0..persisted` are on disk.
    persisted: usize,
    /// The file must be rewritten whole (missing, damaged or foreign).
    rewrite: bool,
    file_len: u64,
}

/// The file that holds `embedder_id`'s vectors in `dir`: the id made safe
/// for file names plus a short hash of the exact id.
pub fn cache_file(dir: &Path, embedder_id: &str) -> PathBuf {
    let safe: String = embedder_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let h = hex(&blake3::hash(embedder_id.as_bytes()).as_bytes()[..4]);
    dir.join(format!("{safe}-{h}.vec"))
}

fn header_bytes(embedder_id: &str, dim: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + embedder_id.len());
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&(dim as u32).to_le_bytes());
    b.extend_from_slice(&(embedder_id.len() as u32).to_le_bytes());
    b.extend_from_slice(embedder_id.as_bytes());
    let check = blake3::hash(&b);
    b.extend_from_slice(&check.as_bytes()[..CHECK]);
    b
}

fn record_bytes(out: &mut Vec<u8>, key: &Key, vector: &[f32]) {
    let start = out.len();
    out.extend_from_slice(key);
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
    let check = blake3::hash(&out[start..]);
    out.extend_from_slice(&check.as_bytes()[..CHECK]);
}

impl EmbeddingCache {
    /// Opens (or starts) the cache of `embedder_id` (vectors of `dim`) in
    /// `dir`, creating `dir`. A damaged, truncated or foreign file is not an
    /// error: its good records (if any) are kept, the rest is ignored, and the
    /// problem is returned as the second value for the caller to warn about.
    /// Only I/O failures (an unreadable file, an uncreatable directory) are
    /// errors.
    pub fn open(
        dir: &Path,
        embedder_id: &str,
        dim: usize,
    ) -> Result<(EmbeddingCache, Option<Error>)> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = cache_file(dir, embedder_id);
        let mut cache = EmbeddingCache {
            path: path.clone(),
            embedder_id: embedder_id.to_owned(),
            dim,
            index: HashMap::new(),
            keys: Vec::new(),
            data: Vec::new(),
            persisted: 0,
            rewrite: true,
            file_len: 0,
        };
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((cache, None)),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let warning = cache.parse(&bytes);
        Ok((cache, warning))
    }

    /// Reads records from `bytes`; returns what was wrong, if anything.
    fn parse(&mut self, bytes: &[u8]) -> Option<Error> {
        let corrupt = |reason: String| {
            Some(Error::Corrupt {
                path: self.path.clone(),
                reason,
            })
        };
        let header = header_bytes(&self.embedder_id, self.dim);
        if bytes.len() < header.len() || bytes[..header.len()] != header[..] {
            let reason = if bytes.len() >= 12
                && &bytes[..8] == MAGIC
                && bytes[8..12] != VERSION.to_le_bytes()
            {
                "embedding cache of another format version; ignored and rebuilt"
            } else {
                "embedding cache header is damaged or belongs to another embedder; ignored and rebuilt"
            };
            return corrupt(reason.to_owned());
        }
        let rec = 32 + self.dim * 4 + CHECK;
        let body = &bytes[header.len()..];
        let whole = body.len() / rec;
        self.keys.reserve(whole);
        self.data.reserve(whole * self.dim);
        let mut problem = None;
        for (i, r) in body.chunks(rec).enumerate() {
            if r.len() < rec {
                problem = Some(format!(
                    "embedding cache ends in a torn record ({} of {rec} bytes); ignored",
                    r.len()
                ));
                break;
            }
            let (payload, check) = r.split_at(rec - CHECK);
            if &blake3::hash(payload).as_bytes()[..CHECK] != check {
                problem = Some(format!(
                    "embedding cache record {i} fails its checksum; it and the {} after it are ignored",
                    whole - i - 1
                ));
                break;
            }
            let mut k = [0u8; 32];
            k.copy_from_slice(&payload[..32]);
            let row = self.keys.len();
            self.keys.push(k);
            self.data.extend(
                payload[32..]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            self.index.insert(k, row);
        }
        self.persisted = self.keys.len();
        self.file_len = bytes.len() as u64;
        self.rewrite = problem.is_some();
        problem.and_then(corrupt)
    }

    /// The file this cache lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The embedder id the vectors belong to.
    pub fn embedder_id(&self) -> &str {
        &self.embedder_id
    }

    /// The vectors' dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors held (on disk and pending).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no vector is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The cached vector of `text`.
    pub fn get(&self, text: &str) -> Option<&[f32]> {
        self.get_key(&key(text))
    }

    /// The cached vector for a key.
    pub fn get_key(&self, key: &Key) -> Option<&[f32]> {
        self.index
            .get(key)
            .map(|&row| &self.data[row * self.dim..(row + 1) * self.dim])
    }

    /// Adds (or replaces) the vector of `text`. Kept in memory until
    /// [`EmbeddingCache::flush`].
    pub fn insert(&mut self, text: &str, vector: &[f32]) -> Result<()> {
        self.insert_key(key(text), vector)
    }

    /// Adds (or replaces) the vector for a key.
    pub fn insert_key(&mut self, key: Key, vector: &[f32]) -> Result<()> {
        if vector.len() != self.dim {
            return Err(Error::Embedder {
                embedder: self.embedder_id.clone(),
                reason: format!(
                    "vector of dimension {} for a cache of dimension {}",
                    vector.len(),
                    self.dim
                ),
            });
        }
        match self.index.get(&key) {
            Some(&row) if row >= self.persisted => {
                self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(vector);
            }
            Some(_) if self.get_key(&key) == Some(vector) => {}
            _ => {
                let row = self.keys.len();
                self.keys.push(key);
                self.data.extend_from_slice(vector);
                self.index.insert(key, row);
            }
        }
        Ok(())
    }

    /// Number of vectors not yet on disk.
    pub fn pending(&self) -> usize {
        self.keys.len() - self.persisted
    }

    /// Writes pending vectors: appended in one write when the file is
    /// sound, else the whole cache is rewritten through a temporary file and
    /// a rename. Stale rows replaced in memory stay on disk until a rewrite;
    /// the last record for a key wins when loading.
    pub fn flush(&mut self) -> Result<()> {
        if !self.rewrite && self.pending() == 0 {
            return Ok(());
        }
        let rec = 32 + self.dim * 4 + CHECK;
        if self.rewrite {
            let mut bytes = header_bytes(&self.embedder_id, self.dim);
            bytes.reserve(self.index.len() * rec);
            let mut rows: Vec<usize> = self.index.values().copied().collect();
            rows.sort_unstable();
            for row in rows {
                record_bytes(
                    &mut bytes,
                    &self.keys[row],
                    &self.data[row * self.dim..(row + 1) * self.dim],
                );
            }
            write_atomic(&self.path, &bytes)?;
            self.file_len = bytes.len() as u64;
            self.rewrite = false;
        } else {
            let mut bytes = Vec::with_capacity(self.pending() * rec);
            for row in self.persisted..self.keys.len() {
                record_bytes(
                    &mut bytes,
                    &self.keys[row],
                    &self.data[row * self.dim..(row + 1) * self.dim],
                );
            }
            let mut file = OpenOptions::new()
                .append(true)
                .open(&self.path)
                .map_err(|e| Error::io(&self.path, e))?;
            file.write_all(&bytes)
                .and_then(|()| file.sync_data())
                .map_err(|e| Error::io(&self.path, e))?;
            self.file_len += bytes.len() as u64;
        }
        self.persisted = self.keys.len();
        Ok(())
    }

    /// Bytes the cache occupies on disk once flushed.
    pub fn size_bytes(&self) -> u64 {
        let rec = (32 + self.dim * 4 + CHECK) as u64;
        if self.rewrite {
            header_bytes(&self.embedder_id, self.dim).len() as u64 + self.index.len() as u64 * rec
        } else {
            self.file_len + self.pending() as u64 * rec
        }
    }
}

/// Wraps an [`Embedder`] with an [`EmbeddingCache`]: only texts not in the
/// cache are embedded. Identical texts in one call are embedded once.
/// Pending vectors are flushed by [`CachedEmbedder::flush`] and, best effort,
/// on drop.
#[derive(Debug)]
pub struct CachedEmbedder<E: Embedder> {
    inner: E,
    cache: Mutex<EmbeddingCache>,
    stats: Mutex<CacheStats>,
}

/// Hit and miss counts of a [`CachedEmbedder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Texts answered from the cache.
    pub hits: u64,
    /// Texts that were embedded.
    pub misses: u64,
}

impl<E: Embedder> CachedEmbedder<E> {
    /// Opens `inner`'s cache file in `dir`. The second value is a warning
    /// about a damaged cache file (see [`EmbeddingCache::open`]).
    pub fn open(inner: E, dir: &Path) -> Result<(CachedEmbedder<E>, Option<Error>)> {
        let (cache, warning) = EmbeddingCache::open(dir, inner.id(), inner.dim())?;
        Ok((CachedEmbedder::new(inner, cache)?, warning))
    }

    /// Wraps `inner` with an opened cache, which must be for `inner`'s id and
    /// dimension.
    pub fn new(inner: E, cache: EmbeddingCache) -> Result<CachedEmbedder<E>> {
        if cache.embedder_id() != inner.id() || cache.dim() != inner.dim() {
            return Err(Error::Embedder {
                embedder: inner.id().to_owned(),
                reason: format!(
                    "cache is for {} (dimension {})",
                    cache.embedder_id(),
                    cache.dim()
                ),
            });
        }
        Ok(CachedEmbedder {
            inner,
            cache: Mutex::new(cache),
            stats: Mutex::new(CacheStats::default()),
        })
    }

    /// The wrapped embedder.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Writes pending vectors to disk.
    pub fn flush(&self) -> Result<()> {
        self.lock().flush()
    }

    /// Bytes the cache occupies on disk once flushed.
    pub fn size_bytes(&self) -> u64 {
        self.lock().size_bytes()
    }

    /// Number of cached vectors.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EmbeddingCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<E: Embedder> Embedder for CachedEmbedder<E> {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let keys: Vec<Key> = texts.iter().map(|t| key(t)).collect();
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
        // Misses, deduplicated: key → index into `miss_texts`.
        let mut miss_index: HashMap<Key, usize> = HashMap::new();
        let mut miss_texts: Vec<&str> = Vec::new();
        {
            let cache = self.lock();
            for (text, k) in texts.iter().zip(&keys) {
                match cache.get_key(k) {
                    Some(v) => out.push(Some(v.to_vec())),
                    None => {
                        out.push(None);
                        miss_index.entry(*k).or_insert_with(|| {
                            miss_texts.push(text);
                            miss_texts.len() - 1
                        });
                    }
                }
            }
        }
        let hits = out.iter().filter(|v| v.is_some()).count() as u64;
        let fresh = if miss_texts.is_empty() {
            Vec::new()
        } else {
            self.inner.embed(&miss_texts)?
        };
        if fresh.len() != miss_texts.len() || fresh.iter().any(|v| v.len() != self.dim()) {
            return Err(Error::Embedder {
                embedder: self.id().to_owned(),
                reason: format!(
                    "returned {} vectors for {} texts or vectors of the wrong dimension",
                    fresh.len(),
                    miss_texts.len()
                ),
            });
        }
        {
            let mut cache = self.lock();
            for (text, v) in miss_texts.iter().zip(&fresh) {
                cache.insert(text, v)?;
            }
        }
        {
            let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            stats.hits += hits;
            stats.misses += (texts.len() as u64) - hits;
        }
        Ok(out
            .into_iter()
            .zip(&keys)
            .map(|(v, k)| match v {
                Some(v) => v,
                None => miss_index
                    .get(k)
                    .map(|&i| fresh[i].clone())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

impl<E: Embedder> Drop for CachedEmbedder<E> {
    fn drop(&mut self) {
        // Best effort: a failure here only costs recomputation next time.
        let _ = self.lock().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake embedder: vector = [len, first byte, 1, ...], counts texts.
    struct Fake {
        calls: AtomicUsize,
        id: String,
    }

    impl Fake {
        fn new(id: &str) -> Fake {
            Fake {
                calls: AtomicUsize::new(0),
                id: id.to_owned(),
            }
        }
    }

    impl Embedder for Fake {
        fn id(&self) -> &str {
            &self.id
        }
        fn dim(&self) -> usize {
            4
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.calls.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts
                .iter()
                .map(|t| {
                    vec![
                        t.len() as f32,
                        f32::from(t.bytes().next().unwrap_or(0)),
                        1.0,
                        -0.5,
                    ]
                })
                .collect())
        }
    }

    #[test]
    fn embeds_only_misses_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cached, warn) = CachedEmbedder::open(Fake::new("fake@1"), dir.path()).expect("open");
        assert!(warn.is_none());
        let v = cached.embed(&["a", "bb", "a", "ccc"]).expect("embed");
        assert_eq!(
            cached.inner().calls.load(Ordering::SeqCst),
            3,
            "duplicate embedded once"
        );
        assert_eq!(v[0], v[2]);
        assert_eq!(v[1][0], 2.0);
        let v2 = cached.embed(&["ccc", "dddd", "bb"]).expect("embed");
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 4);
        assert_eq!(v2[0], v[3]);
        assert_eq!(v2[2], v[1]);
        assert_eq!(cached.stats(), CacheStats { hits: 2, misses: 5 });
        cached.flush().expect("flush");
        let size = cached.size_bytes();
        let path = cache_file(dir.path(), "fake@1");
        assert_eq!(fs::metadata(&path).expect("meta").len(), size);
        drop(cached);

        let (cached, warn) = CachedEmbedder::open(Fake::new("fake@1"), dir.path()).expect("reopen");
        assert!(warn.is_none());
        assert_eq!(cached.len(), 4);
        let v3 = cached.embed(&["bb", "a", "ccc", "dddd"]).expect("embed");
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 0);
        assert_eq!(v3[0], v[1]);
        // Another embedder id has its own file.
        let (other, _) = CachedEmbedder::open(Fake::new("fake@2"), dir.path()).expect("open");
        assert!(other.is_empty());
    }

    #[test]
    fn appends_across_sessions_and_drop_flushes() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (c, _) = CachedEmbedder::open(Fake::new("f"), dir.path()).expect("open");
            c.embed(&["one"]).expect("embed");
        } // flushed on drop
        {
            let (c, _) = CachedEmbedder::open(Fake::new("f"), dir.path()).expect("open");
            assert_eq!(c.len(), 1);
            c.embed(&["two", "three"]).expect("embed");
        }
        let (cache, warn) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        assert!(warn.is_none());
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("three").map(|v| v[0]), Some(5.0));
        assert!(cache.get("four").is_none());
    }

    #[test]
    fn torn_tail_is_ignored_and_repaired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut cache, _) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        for t in ["a", "b", "c"] {
            cache.insert(t, &[1.0, 2.0, 3.0, 4.0]).expect("insert");
        }
        cache.flush().expect("flush");
        let path = cache.path().to_path_buf();
        let full = fs::read(&path).expect("read");
        // A torn append: half a record.
        let mut torn = full.clone();
        torn.extend_from_slice(&full[full.len() - 20..]);
        fs::write(&path, &torn).expect("write");
        let (mut cache, warn) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        assert_eq!(cache.len(), 3);
        assert!(warn.expect("warning").to_string().contains("torn"));
        cache.insert("d", &[0.0; 4]).expect("insert");
        cache.flush().expect("flush");
        let (cache, warn) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        assert!(warn.is_none(), "repaired on flush");
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn damaged_records_and_headers_never_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut cache, _) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        for t in ["a", "b", "c"] {
            cache.insert(t, &[1.0, 2.0, 3.0, 4.0]).expect("insert");
        }
        cache.flush().expect("flush");
        let path = cache.path().to_path_buf();
        let good = fs::read(&path).expect("read");
        let header_len = header_bytes("f", 4).len();
        let rec = 32 + 16 + CHECK;
        // Flip a byte in the second record: the first survives.
        let mut bad = good.clone();
        bad[header_len + rec + 40] ^= 0xff;
        fs::write(&path, &bad).expect("write");
        let (cache, warn) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        assert_eq!(cache.len(), 1);
        assert!(warn.expect("warning").to_string().contains("checksum"));
        // Every truncation and a garbage file load without panicking.
        for cut in 0..good.len() {
            fs::write(&path, &good[..cut]).expect("write");
            let (cache, _) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
            assert!(cache.len() <= 3);
        }
        fs::write(
            &path,
            b"\x00garbage that is not a cache at all, not even close",
        )
        .expect("write");
        let (cache, warn) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        assert!(cache.is_empty());
        assert!(warn.is_some());
        // Same file name but another dimension: treated as foreign.
        fs::write(&path, &good).expect("write");
        let (cache, warn) = EmbeddingCache::open(dir.path(), "f", 5).expect("open");
        assert!(cache.is_empty() && warn.is_some());
    }

    #[test]
    fn rejects_vectors_of_the_wrong_dimension() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut cache, _) = EmbeddingCache::open(dir.path(), "f", 4).expect("open");
        assert!(cache.insert("a", &[1.0]).is_err());
        let wrong = EmbeddingCache::open(dir.path(), "g", 4).expect("open").0;
        assert!(CachedEmbedder::new(Fake::new("f"), wrong).is_err());
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        let dir = Path::new("/c");
        let a = cache_file(dir, "all-MiniLM-L6-v2@abc");
        let b = cache_file(dir, "all-MiniLM-L6-v2_abc");
        assert_ne!(a, b);
        let name = a.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(name.starts_with("all-MiniLM-L6-v2_abc-") && name.ends_with(".vec"));
        let odd = cache_file(dir, "../../etc/passwd");
        assert_eq!(odd.parent(), Some(dir));
    }
}
