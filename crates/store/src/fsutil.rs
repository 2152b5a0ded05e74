//! Durable file operations: atomic replacement and the store lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temp file in the same folder (with the target's
/// permissions), fsync, rename over the target, fsync the folder. A reader (or a crash) sees the old file or the new one,
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
    // A replaced file keeps its permissions (a user's content file may not be 0644).
    let perms = std::fs::metadata(path).ok().map(|m| m.permissions());
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Some(p) = perms {
            f.set_permissions(p)?;
        }
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

/// Writes many files atomically with one durability barrier instead of two fsyncs per
/// file: every changed file goes to a temp file beside it, the file system is synced once
/// (`syncfs` on Linux, an fsync per temp file elsewhere), the temp files are renamed over
/// their targets, and each directory is fsynced once. Each file is replaced atomically;
/// a crash leaves every file either old or new. Files whose bytes are unchanged are not
/// touched. Returns, per item, whether it was written; the first error names its path.
pub fn write_atomic_many(items: &[(PathBuf, Vec<u8>)]) -> Result<Vec<bool>, (PathBuf, io::Error)> {
    let mut written = vec![false; items.len()];
    let mut temps: Vec<(usize, PathBuf)> = Vec::new();
    let cleanup = |temps: &[(usize, PathBuf)]| {
        for (_, t) in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for (i, (path, bytes)) in items.iter().enumerate() {
        if let Ok(existing) = std::fs::read(path)
            && existing == *bytes
        {
            continue;
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let r = std::fs::create_dir_all(dir).and_then(|()| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)
        });
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            cleanup(&temps);
            return Err((path.clone(), e));
        }
        temps.push((i, tmp));
    }
    if temps.is_empty() {
        return Ok(written);
    }
    if let Err((p, e)) = sync_files(&temps) {
        cleanup(&temps);
        return Err((p, e));
    }
    let mut dirs = std::collections::BTreeSet::new();
    for (k, (i, tmp)) in temps.iter().enumerate() {
        let path = &items[*i].0;
        if let Err(e) = std::fs::rename(tmp, path) {
            cleanup(&temps[k..]);
            return Err((path.clone(), e));
        }
        written[*i] = true;
        dirs.insert(path.parent().unwrap_or(Path::new(".")).to_path_buf());
    }
    for d in dirs {
        sync_dir(&d).map_err(|e| (d.clone(), e))?;
    }
    Ok(written)
}

/// Makes the temp files' data durable.
fn sync_files(temps: &[(usize, PathBuf)]) -> Result<(), (PathBuf, io::Error)> {
    #[cfg(target_os = "linux")]
    if let Some((_, first)) = temps.first() {
        // One barrier for the whole file system the files live on.
        let f = File::open(first).map_err(|e| (first.clone(), e))?;
        return rustix::fs::syncfs(&f).map_err(|e| (first.clone(), io::Error::from(e)));
    }
    for (_, t) in temps {
        File::open(t)
            .and_then(|f| f.sync_all())
            .map_err(|e| (t.clone(), e))?;
    }
    Ok(())
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
    previous: Option<Holder>,
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
        // A clean exit empties the file: words left in it are a holder that died holding it.
        let left = read_holder(&mut file);
        let previous = (left.pid.is_some() || !left.what.is_empty()).then_some(left);
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}\n{what}", std::process::id())?;
        file.sync_all()?;
        Ok(Ok(Lock {
            file,
            path: path.to_path_buf(),
            previous,
        }))
    }

    /// The holder that died while holding the lock (killed, crashed), when there was one:
    /// its writes may have left temp files behind.
    pub fn previous(&self) -> Option<&Holder> {
        self.previous.as_ref()
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
    fn atomic_write_replaces_and_keeps_permissions() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a.md");
        std::fs::write(&p, "old").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        }
        assert!(write_atomic(&p, b"new").expect("atomic"));
        assert_eq!(std::fs::read(&p).expect("read"), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != "a.md")
            .collect();
        assert!(leftovers.is_empty(), "temp file left behind");
    }

    #[test]
    fn many_writes_replace_changed_files_only_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("x/a.json");
        let b = dir.path().join("y/b.json");
        assert!(write_atomic(&a, b"same").expect("write"));
        let items = vec![(a.clone(), b"same".to_vec()), (b.clone(), b"new".to_vec())];
        assert_eq!(write_atomic_many(&items).expect("write"), vec![false, true]);
        assert_eq!(std::fs::read(&b).expect("read"), b"new");
        let items = vec![
            (a.clone(), b"changed".to_vec()),
            (b.clone(), b"new".to_vec()),
        ];
        assert_eq!(write_atomic_many(&items).expect("write"), vec![true, false]);
        assert_eq!(std::fs::read(&a).expect("read"), b"changed");
        for d in ["x", "y"] {
            let names: Vec<String> = std::fs::read_dir(dir.path().join(d))
                .expect("dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names.len(), 1, "{names:?}");
        }
    }

    #[test]
    fn a_failed_many_write_names_the_file_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A regular file where a folder is needed: its child cannot be created.
        std::fs::write(dir.path().join("blocker"), b"").expect("write");
        let ok = dir.path().join("ok/a.json");
        let bad = dir.path().join("blocker/b.json");
        let items = vec![(ok.clone(), b"1".to_vec()), (bad.clone(), b"2".to_vec())];
        let (path, _) = write_atomic_many(&items).expect_err("must fail");
        assert_eq!(path, bad);
        assert!(
            !ok.exists(),
            "nothing renamed before every temp file was written"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("ok"))
            .expect("dir")
            .collect();
        assert!(left.is_empty(), "temp files removed");
    }

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
