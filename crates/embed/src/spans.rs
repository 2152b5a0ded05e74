//! A cache of chunk spans: where [`TextTokenizer::chunk_spans`] cuts a text.
//!
//! Cutting a page into token-bounded chunks runs the full WordPiece tokenizer over its
//! body, which is most of what a run with cached embeddings still pays. The spans depend
//! only on the tokenizer, the chunk sizes and the text, so they are cached by a hash of
//! those. The file lives beside the embedding cache (rebuildable, safe to delete); a
//! damaged file is ignored and rewritten.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::tokens::TextTokenizer;

const MAGIC: &[u8; 8] = b"TXSPANS1";
/// The file's name in the cache folder.
pub const FILE_NAME: &str = "chunk-spans.bin";

type Key = [u8; 16];

/// Chunk spans by (tokenizer, chunk sizes, text). Thread-safe.
#[derive(Debug, Default)]
pub struct SpanCache {
    path: Option<PathBuf>,
    map: Mutex<HashMap<Key, Vec<(u32, u32)>>>,
    dirty: AtomicBool,
}

fn key(tok: &TextTokenizer, text: &str, max_tokens: usize, overlap_tokens: usize) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(b"chunk-spans/1\0");
    h.update(tok.fingerprint());
    h.update(&(max_tokens as u64).to_le_bytes());
    h.update(&(overlap_tokens as u64).to_le_bytes());
    h.update(text.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    k
}

fn decode(bytes: &[u8]) -> Option<HashMap<Key, Vec<(u32, u32)>>> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if blake3::hash(body).as_bytes() != sum || !body.starts_with(MAGIC) {
        return None;
    }
    let mut rest = &body[MAGIC.len()..];
    let mut take = |n: usize| -> Option<&[u8]> {
        if rest.len() < n {
            return None;
        }
        let (a, b) = rest.split_at(n);
        rest = b;
        Some(a)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let count = u32_of(take(4)?) as usize;
    let mut map = HashMap::with_capacity(count);
    for _ in 0..count {
        let mut k = [0u8; 16];
        k.copy_from_slice(take(16)?);
        let n = u32_of(take(4)?) as usize;
        let raw = take(n.checked_mul(8)?)?;
        let spans = raw
            .chunks_exact(8)
            .map(|c| (u32_of(&c[..4]), u32_of(&c[4..])))
            .collect();
        map.insert(k, spans);
    }
    Some(map)
}

impl SpanCache {
    /// A cache kept in memory only.
    pub fn in_memory() -> SpanCache {
        SpanCache::default()
    }

    /// Opens `dir/chunk-spans.bin` (an empty cache when absent). A damaged file gives an
    /// empty cache and a warning; it is replaced on the next [`SpanCache::save`].
    pub fn open(dir: &Path) -> (SpanCache, Option<String>) {
        let path = dir.join(FILE_NAME);
        let (map, warning) = match std::fs::read(&path) {
            Ok(bytes) => match decode(&bytes) {
                Some(m) => (m, None),
                None => (
                    HashMap::new(),
                    Some(format!(
                        "{}: damaged chunk-span cache ignored (it is rebuilt)",
                        path.display()
                    )),
                ),
            },
            Err(_) => (HashMap::new(), None),
        };
        (
            SpanCache {
                path: Some(path),
                map: Mutex::new(map),
                dirty: AtomicBool::new(false),
            },
            warning,
        )
    }

    /// The chunk spans of `text` (as [`TextTokenizer::chunk_spans`]), from the cache when
    /// known.
    pub fn spans(
        &self,
        tok: &TextTokenizer,
        text: &str,
        max_tokens: usize,
        overlap_tokens: usize,
    ) -> Result<Vec<(usize, usize)>> {
        let k = key(tok, text, max_tokens, overlap_tokens);
        let cached = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&k)
            .cloned();
        if let Some(spans) = cached {
            let spans: Vec<(usize, usize)> = spans
                .into_iter()
                .map(|(s, e)| (s as usize, e as usize))
                .collect();
            // A span must cut this text on char boundaries; anything else is recomputed.
            if spans.iter().all(|&(s, e)| {
                s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e)
            }) {
                return Ok(spans);
            }
        }
        let spans = tok.chunk_spans(text, max_tokens, overlap_tokens)?;
        if let Ok(compact) = spans
            .iter()
            .map(|&(s, e)| Ok((u32::try_from(s)?, u32::try_from(e)?)))
            .collect::<std::result::Result<Vec<_>, std::num::TryFromIntError>>()
        {
            self.map
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(k, compact);
            self.dirty.store(true, Ordering::Relaxed);
        }
        Ok(spans)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the cache if it gained entries (temp file + rename). Returns whether it
    /// wrote. Entries are written in key order, so equal caches give equal files.
    pub fn save(&self) -> Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(false);
        }
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys: Vec<&Key> = map.keys().collect();
        keys.sort();
        let mut buf = Vec::with_capacity(16 + map.len() * 64);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            let spans = &map[k];
            buf.extend_from_slice(k);
            buf.extend_from_slice(&(spans.len() as u32).to_le_bytes());
            for (s, e) in spans {
                buf.extend_from_slice(&s.to_le_bytes());
                buf.extend_from_slice(&e.to_le_bytes());
            }
        }
        let sum = *blake3::hash(&buf).as_bytes();
        buf.extend_from_slice(&sum);
        drop(map);
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&buf))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(path, e));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> TextTokenizer {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::testing::write_tokenizer(dir.path()).expect("tokenizer");
        TextTokenizer::from_file(&dir.path().join("tokenizer.json")).expect("load")
    }

    #[test]
    fn cached_spans_equal_computed_ones_and_survive_a_reload() {
        let tok = tokenizer();
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "the quick brown fox jumps over the lazy dog. ".repeat(40);
        let (cache, warning) = SpanCache::open(dir.path());
        assert!(warning.is_none());
        let want = tok.chunk_spans(&text, 16, 4).expect("spans");
        assert!(want.len() > 3);
        assert_eq!(cache.spans(&tok, &text, 16, 4).expect("spans"), want);
        assert_eq!(cache.len(), 1);
        assert!(cache.save().expect("save"));
        assert!(!cache.save().expect("save"), "nothing new: no write");
        let (again, warning) = SpanCache::open(dir.path());
        assert!(warning.is_none());
        assert_eq!(again.len(), 1);
        assert_eq!(again.spans(&tok, &text, 16, 4).expect("spans"), want);
        // Other sizes are another entry.
        assert_ne!(again.spans(&tok, &text, 8, 2).expect("spans"), want);
        assert_eq!(again.len(), 2);
    }

    #[test]
    fn a_damaged_file_is_ignored_with_a_warning_and_rewritten() {
        let tok = tokenizer();
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "alpha beta gamma. ".repeat(30);
        let (cache, _) = SpanCache::open(dir.path());
        cache.spans(&tok, &text, 16, 4).expect("spans");
        cache.save().expect("save");
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (cache, warning) = SpanCache::open(dir.path());
        assert!(warning.is_some_and(|w| w.contains("damaged")));
        assert!(cache.is_empty());
        cache.spans(&tok, &text, 16, 4).expect("spans");
        assert!(cache.save().expect("save"));
        assert!(SpanCache::open(dir.path()).1.is_none());
    }
}
