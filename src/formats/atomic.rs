//! Atomic file writes: every file pars writes goes to a hidden temporary sibling first
//! and is renamed into place, so a kill or a full disk never leaves a half-written file.
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The hidden temporary sibling a file is written to before its atomic rename.
pub fn temp_sibling(path: &Path) -> Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    Ok(dir.join(format!(".{name}.tmp{}", std::process::id())))
}

/// Write a file atomically: a temporary sibling, then a rename. On failure (a full
/// disk, say) the temporary file is removed and `path` keeps its old contents.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path)?;
    let res = std::fs::write(&tmp, bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|_| {
            std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
        });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_atomic_write_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        // the rename fails: the target is a directory that is not empty
        let target = d.path().join("status.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), b"x").unwrap();
        let e = super::write_atomic(&target, b"{}").err().unwrap();
        assert!(format!("{e:#}").contains("cannot write"), "{e:#}");
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, vec!["status.json".to_string()], "{names:?}");
    }
}
