//! What a `--dataset` argument names: an HDF5 file, a Minari dataset directory, or a
//! Minari dataset id (`mujoco/hopper/medium-v0`) looked up in the local Minari root
//! the way Minari does (`MINARI_DATASETS_PATH`, else `~/.minari/datasets`), with the
//! dataset's `metadata.json`. Nothing is downloaded.
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Minari's file names inside a dataset directory: `<id>/data/main_data.hdf5`.
const DATA_DIR: &str = "data";
const MAIN_FILE: &str = "main_data.hdf5";
const METADATA_FILE: &str = "metadata.json";

/// The local Minari root: `MINARI_DATASETS_PATH`, else `~/.minari/datasets`.
pub fn minari_root() -> PathBuf {
    match std::env::var_os("MINARI_DATASETS_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".minari").join("datasets")
        }
    }
}

/// The HDF5 file `arg` names: the file itself; the `data/main_data.hdf5` of a Minari
/// dataset directory (or of its `data/` folder); or that of a Minari id in
/// `minari_root()`. An id that is not there is an error listing the local ids.
pub fn dataset_file(arg: &Path) -> Result<PathBuf> {
    dataset_file_in(arg, &minari_root())
}

fn dataset_file_in(arg: &Path, root: &Path) -> Result<PathBuf> {
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    if arg.is_dir() {
        return main_file_of(arg);
    }
    if looks_like_id(arg) {
        let dir = root.join(arg);
        if dir.is_dir() {
            return main_file_of(&dir);
        }
        let ids = local_ids(root);
        let known = if ids.is_empty() {
            "none".to_string()
        } else {
            ids.join(", ")
        };
        bail!(
            "Minari dataset '{}' is not in {} (MINARI_DATASETS_PATH; pars does not download datasets); local ids: {known}",
            arg.display(),
            root.display()
        );
    }
    bail!("dataset file {} does not exist", arg.display())
}

/// An id has a namespace and a version (`ns/name-v0`) and no file extension.
fn looks_like_id(arg: &Path) -> bool {
    let s = arg.to_string_lossy();
    let has_ext = arg
        .extension()
        .is_some_and(|e| ["hdf5", "h5"].contains(&e.to_string_lossy().as_ref()));
    !arg.is_absolute()
        && !s.starts_with('.')
        && s.contains('/')
        && !has_ext
        && s.rsplit_once("-v")
            .is_some_and(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
}

/// `dir/data/main_data.hdf5`, or `dir/main_data.hdf5` when `dir` is the `data` folder.
fn main_file_of(dir: &Path) -> Result<PathBuf> {
    for f in [dir.join(DATA_DIR).join(MAIN_FILE), dir.join(MAIN_FILE)] {
        if f.is_file() {
            return Ok(f);
        }
    }
    bail!(
        "{} is a directory without {DATA_DIR}/{MAIN_FILE} (not a Minari HDF5 dataset); expected an HDF5 file or a Minari dataset",
        dir.display()
    )
}

/// Every dataset id under `root` (a folder holding `data/`), sorted.
pub fn local_ids(root: &Path) -> Vec<String> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<String>) {
        let dir = root.join(rel);
        if rel.components().count() > 0 && dir.join(DATA_DIR).is_dir() {
            out.push(rel.to_string_lossy().replace('\\', "/"));
            return;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with('.') && e.path().is_dir() {
                walk(root, &rel.join(&name), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out);
    out.sort();
    out
}

/// The parts of a Minari `metadata.json` pars uses.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MinariMetadata {
    pub dataset_id: Option<String>,
    /// Gymnasium's `EnvSpec` as JSON text.
    pub env_spec: Option<String>,
    /// The spec of the environment the dataset is meant to be evaluated in, where it
    /// differs from the collection's (Minari's maze datasets: a fixed goal).
    pub eval_env_spec: Option<String>,
    pub total_episodes: Option<u64>,
    pub total_steps: Option<u64>,
    pub ref_min_score: Option<f64>,
    pub ref_max_score: Option<f64>,
    #[serde(default)]
    pub author: Option<serde_json::Value>,
    pub algorithm_name: Option<String>,
    pub code_permalink: Option<String>,
    pub minari_version: Option<String>,
}

impl MinariMetadata {
    /// The `metadata.json` next to a `main_data.hdf5`, if there is one.
    pub fn of_file(main_file: &Path) -> Result<Option<Self>> {
        let Some(path) = main_file.parent().map(|d| d.join(METADATA_FILE)) else {
            return Ok(None);
        };
        if main_file.file_name().is_none_or(|n| n != MAIN_FILE) || !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let meta: Self = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: invalid metadata: {e}", path.display()))?;
        Ok(Some(meta))
    }

    /// The environment id of `env_spec` (e.g. `Hopper-v5`).
    pub fn env_id(&self) -> Result<Option<String>> {
        let Some(spec) = &self.env_spec else {
            return Ok(None);
        };
        let v: serde_json::Value = serde_json::from_str(spec)
            .map_err(|e| anyhow::anyhow!("metadata env_spec is not JSON: {e}"))?;
        Ok(v.get("id").and_then(|i| i.as_str()).map(str::to_string))
    }

    /// The spec to evaluate in, parsed: `eval_env_spec` where there is one, else `env_spec`.
    pub fn evaluation_spec(&self) -> Result<Option<serde_json::Value>> {
        let (key, text) = match (&self.eval_env_spec, &self.env_spec) {
            (Some(t), _) => ("eval_env_spec", t),
            (None, Some(t)) => ("env_spec", t),
            (None, None) => return Ok(None),
        };
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("metadata {key} is not JSON: {e}"))?;
        Ok(Some(v))
    }

    /// Authors as one string (Minari stores a list).
    pub fn authors(&self) -> Option<String> {
        match &self.author {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Array(a)) => Some(
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        }
    }
}

/// A short name for run directories: a Minari dataset's id with `/` as `-`
/// (`mujoco-hopper-medium-v0`), else the file's stem.
pub fn dataset_label(arg: &Path) -> String {
    if let Ok(file) = dataset_file(arg) {
        if let Ok(Some(MinariMetadata {
            dataset_id: Some(id),
            ..
        })) = MinariMetadata::of_file(&file)
        {
            return id.replace('/', "-");
        }
    }
    arg.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "data".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths() {
        assert!(looks_like_id(Path::new("mujoco/hopper/medium-v0")));
        assert!(looks_like_id(Path::new("D4RL/door/human-v2")));
        assert!(!looks_like_id(Path::new("data/hopper.hdf5")));
        assert!(!looks_like_id(Path::new("hopper-medium-v2")));
        assert!(!looks_like_id(Path::new("/abs/ns/name-v0")));
        assert!(!looks_like_id(Path::new("runs/x/medium-vx")));
    }

    #[test]
    fn resolves_directories_and_ids_and_lists_local_ones() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("mujoco/hopper/medium-v0/data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(MAIN_FILE), b"x").unwrap();
        std::fs::write(
            data.join(METADATA_FILE),
            r#"{"dataset_id": "mujoco/hopper/medium-v0", "env_spec": "{\"id\": \"Hopper-v5\"}",
                "ref_min_score": -20.0, "ref_max_score": 3234.3, "author": ["A", "B"]}"#,
        )
        .unwrap();
        std::fs::create_dir_all(root.path().join("D4RL/door/human-v2/data")).unwrap();
        let main = data.join(MAIN_FILE);
        let dir = root.path().join("mujoco/hopper/medium-v0");
        assert_eq!(dataset_file(&dir).unwrap(), main);
        assert_eq!(dataset_file(&data).unwrap(), main);
        assert_eq!(dataset_file(&main).unwrap(), main);
        let id = Path::new("mujoco/hopper/medium-v0");
        assert_eq!(dataset_file_in(id, root.path()).unwrap(), main);
        let e = dataset_file_in(Path::new("mujoco/hopper/expert-v0"), root.path()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("'mujoco/hopper/expert-v0' is not in")
                && e.contains("does not download")
                && e.contains("local ids: D4RL/door/human-v2, mujoco/hopper/medium-v0"),
            "{e}"
        );
        assert_eq!(
            local_ids(root.path()),
            vec!["D4RL/door/human-v2", "mujoco/hopper/medium-v0"]
        );
        let m = MinariMetadata::of_file(&main).unwrap().unwrap();
        assert_eq!(m.env_id().unwrap().as_deref(), Some("Hopper-v5"));
        assert_eq!(m.authors().as_deref(), Some("A, B"));
        assert_eq!(
            (m.ref_min_score, m.ref_max_score),
            (Some(-20.0), Some(3234.3))
        );
        assert_eq!(dataset_label(&dir), "mujoco-hopper-medium-v0");
        // a directory without the file, and a metadata file that does not parse
        let e = dataset_file(&root.path().join("D4RL/door/human-v2")).unwrap_err();
        assert!(e.to_string().contains("without data/main_data.hdf5"), "{e}");
        std::fs::write(data.join(METADATA_FILE), b"{not json").unwrap();
        let e = MinariMetadata::of_file(&main).unwrap_err().to_string();
        assert!(
            e.contains("metadata.json: invalid metadata") && !e.contains('\n'),
            "{e}"
        );
    }
}
