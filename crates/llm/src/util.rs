//! Small helpers: time stamps, atomic writes, usage arithmetic.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use taxonomist_model::Usage;

use crate::LlmError;

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC (`2025-05-01T09:00:00Z`) of a Unix time.
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes a file so that a reader never sees half of it: a temporary file in the same
/// folder, flushed and synced, then renamed over the target.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), LlmError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| LlmError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable where the platform allows it.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        LlmError::io(path, e)
    })
}

/// Adds `b` to `a`.
pub(crate) fn add_usage(a: &mut Usage, b: &Usage) {
    a.input_tokens += b.input_tokens;
    a.output_tokens += b.output_tokens;
    a.cost += b.cost;
}

/// `total` split over `n` pairs: tokens evenly with the remainder on the first pairs (so
/// the parts add up exactly), cost evenly.
pub(crate) fn split_usage(total: &Usage, n: usize) -> Vec<Usage> {
    if n == 0 {
        return Vec::new();
    }
    let part = |x: u64, i: usize| x / n as u64 + u64::from((i as u64) < x % n as u64);
    (0..n)
        .map(|i| Usage {
            input_tokens: part(total.input_tokens, i),
            output_tokens: part(total.output_tokens, i),
            cost: total.cost / n as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_stamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_746_090_000), "2025-05-01T09:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn usage_splits_add_up() {
        let total = Usage {
            input_tokens: 10,
            output_tokens: 7,
            cost: 0.3,
        };
        let parts = split_usage(&total, 3);
        assert_eq!(
            parts.iter().map(|u| u.input_tokens).collect::<Vec<_>>(),
            vec![4, 3, 3]
        );
        assert_eq!(parts.iter().map(|u| u.output_tokens).sum::<u64>(), 7);
        assert!((parts.iter().map(|u| u.cost).sum::<f64>() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn atomic_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub").join("f.json");
        atomic_write(&p, b"one").expect("write");
        atomic_write(&p, b"two").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        assert_eq!(
            std::fs::read_dir(p.parent().expect("dir"))
                .expect("ls")
                .count(),
            1
        );
    }
}
