//! Small shared helpers: atomic file writes and the partial files they leave when killed.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, then rename.
/// A reader never sees a half-written file, and a crash leaves the old file (if any) intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Errors name the file being saved (not the temporary one) and say the old one is intact:
    // the temporary file is deleted when `tmp` drops on an error.
    let failed = |e: std::io::Error| {
        let e = match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => e,
        };
        let kept = if path.exists() { "; the previous file is unchanged" } else { "" };
        Error::io(path, std::io::Error::new(e.kind(), format!("cannot save: {e}{kept}")))
    };
    let mut tmp = partial_file_in(dir).map_err(|e| match e {
        Error::Io { source, .. } => failed(source),
        other => other,
    })?;
    tmp.as_file_mut().write_all(bytes).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    ordinary_permissions(tmp.as_file(), tmp.path())?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// Name prefix of the temporary files Hark writes before renaming them into place. A process
/// killed mid-write leaves one behind; [`remove_partial_files`] clears them.
pub const PARTIAL_PREFIX: &str = ".hark-partial-";

/// A new temporary file in `dir` (same file system as its final name, so the rename is atomic),
/// named with [`PARTIAL_PREFIX`]; it is deleted if dropped without being persisted.
pub fn partial_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new().prefix(PARTIAL_PREFIX).tempfile_in(dir).map_err(|e| Error::io(dir, e))
}

/// Deletes the partial files (see [`PARTIAL_PREFIX`]) directly in `dir` that were last written
/// more than `min_age` ago, i.e. the leftovers of a process killed while writing, and returns
/// how many bytes that freed. Errors (a file that vanished, a read-only folder) are skipped:
/// this is housekeeping, never a reason to stop.
pub fn remove_partial_files(dir: &Path, min_age: std::time::Duration) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut freed = 0;
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let old = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|a| a >= min_age);
        if meta.is_file() && old && std::fs::remove_file(e.path()).is_ok() {
            freed += meta.len();
        }
    }
    freed
}

/// tempfile creates files readable by the owner only; a model, transcript, feature file or
/// converted WAV is an ordinary document, so it gets rw-r--r-- before it is renamed into place.
/// `path` names the file in an error.
pub fn ordinary_permissions(file: &std::fs::File, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o644);
        file.set_permissions(perms).map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}

/// Seconds since the Unix epoch now (0 if the clock is before it).
pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// True when `a` and `b` are the same existing file (after following links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// Copies `from` to `to` atomically, unless they are already the same file.
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    if same_file(from, to) {
        return Ok(());
    }
    let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    write_atomic(to, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_are_named_and_old_ones_removed() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("model.json");
        write_atomic(&keep, b"{}").unwrap();
        // What a kill between create and rename leaves: a persisted-by-nobody partial file.
        let (_, left) = partial_file_in(dir.path()).unwrap().keep().unwrap();
        assert!(left.file_name().unwrap().to_string_lossy().starts_with(PARTIAL_PREFIX));
        std::fs::write(&left, b"half").unwrap();
        let other = dir.path().join(".tmp-not-ours");
        std::fs::write(&other, b"x").unwrap();
        assert_eq!(remove_partial_files(dir.path(), std::time::Duration::from_secs(3600)), 0);
        assert!(left.exists(), "a young partial file may still be being written");
        assert_eq!(remove_partial_files(dir.path(), std::time::Duration::ZERO), 4);
        assert!(!left.exists() && other.exists() && keep.exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "write_atomic leaves no partial file behind");
    }
}
