//! Durable file operations: atomic replacement and the store lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename over
/// the target, fsync the folder. A reader (or a crash) sees the old file or the new one,
/// never half of either. When the file already holds exactly these bytes nothing is
/// written, so a no-op run leaves contents and mtime alone. Returns whether it wrote.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if let Ok(existing) = std::fs::read(path)
        && existing == bytes
    {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| true)
}

/// Fsyncs a directory so a rename in it is durable (a no-op where unsupported).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Moves a damaged file aside (never deletes it): `x.json` → `x.json.corrupt-<n>`.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    for n in 1..10_000 {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".corrupt-{n}"));
        let dest = PathBuf::from(name);
        if !dest.exists() {
            std::fs::rename(path, &dest)?;
            return Ok(dest);
        }
    }
    Err(io::Error::other(
        "too many damaged copies already set aside",
    ))
}

/// An exclusive lock on the store, held until dropped (or the process dies: the operating
/// system releases it even after SIGKILL, so a crash never leaves a stale lock).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Who holds a lock we could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder's process id, when it wrote one.
    pub pid: Option<u32>,
    /// What it was doing (`taxonomist classify`), when known.
    pub what: String,
}

impl Lock {
    /// Takes the lock at `path` without waiting. `Ok(Err(holder))` when another process
    /// has it.
    pub fn try_acquire(path: &Path, what: &str) -> io::Result<Result<Lock, Holder>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Err(read_holder(&mut file))),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}\n{what}", std::process::id())?;
        file.sync_all()?;
        Ok(Ok(Lock {
            file,
            path: path.to_path_buf(),
        }))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn read_holder(file: &mut File) -> Holder {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut s);
    let mut lines = s.lines();
    let pid = lines.next().and_then(|l| l.trim().parse().ok());
    let what = lines.next().unwrap_or("").trim().to_string();
    Holder { pid, what }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_skips_identical_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b.json");
        assert!(write_atomic(&p, b"one").expect("write"));
        let m1 = std::fs::metadata(&p)
            .expect("meta")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!write_atomic(&p, b"one").expect("write"));
        assert_eq!(
            std::fs::metadata(&p)
                .expect("meta")
                .modified()
                .expect("mtime"),
            m1
        );
        assert!(write_atomic(&p, b"two").expect("write"));
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().expect("dir"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn move_aside_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.json");
        std::fs::write(&p, "bad1").expect("write");
        let a = move_aside(&p).expect("aside");
        std::fs::write(&p, "bad2").expect("write");
        let b = move_aside(&p).expect("aside");
        assert_ne!(a, b);
        assert_eq!(std::fs::read_to_string(a).expect("read"), "bad1");
        assert_eq!(std::fs::read_to_string(b).expect("read"), "bad2");
        assert!(!p.exists());
    }

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("lock");
        let first = Lock::try_acquire(&p, "taxonomist classify")
            .expect("io")
            .expect("first");
        let second = Lock::try_acquire(&p, "taxonomist apply").expect("io");
        let holder = second.expect_err("held");
        assert_eq!(holder.pid, Some(std::process::id()));
        assert_eq!(holder.what, "taxonomist classify");
        drop(first);
        assert!(Lock::try_acquire(&p, "again").expect("io").is_ok());
    }
}
