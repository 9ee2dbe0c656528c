//! Writing a dataset as Minari stores one, so Minari's `load_dataset` (and the libraries
//! built on it) open it: `<dir>/data/main_data.hdf5` with one `episode_<i>` group per
//! episode (attributes `id`, `total_steps`; `observations` with one row more than
//! `actions`, `rewards`, `terminations`, `truncations`) and `<dir>/data/metadata.json`
//! with the spaces serialised as Minari serialises them. The environment spec names the
//! `pars_rl` Python package's gymnasium registration of the native environment, so
//! Minari's `recover_environment` makes it where `pars_rl` is installed.
use super::dataset::RawDataset;
use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The Minari dataset format version written (the format of Minari 0.5).
pub const MINARI_VERSION: &str = "0.5.3";

/// What a written dataset says about itself.
pub struct MinariInfo<'a> {
    /// `namespace/name-vN`.
    pub dataset_id: &'a str,
    /// The native environment the rows come from, if one.
    pub env_id: Option<&'a str>,
    pub algorithm_name: Option<String>,
    /// D4RL's (random, expert) returns of the environment, Minari's reference scores.
    pub ref_scores: Option<(f64, f64)>,
}

/// Whether `id` is a Minari dataset id: `[namespace/]name-vN`, names of letters,
/// digits, `-`, `_` and `.`.
pub fn check_dataset_id(id: &str) -> Result<()> {
    let version_ok = id.rsplit_once("-v").is_some_and(|(n, v)| {
        !n.is_empty() && !v.is_empty() && v.chars().all(|c| c.is_ascii_digit())
    });
    let chars_ok = id.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !part.starts_with('.')
    });
    ensure!(
        version_ok && chars_ok,
        "dataset id '{id}' is not a Minari id (namespace/name-vN, e.g. pars/hopper/medium-v0)"
    );
    Ok(())
}

/// Write `ds` as the Minari dataset directory `dir` (refused if it exists). Written under
/// a temporary name and renamed, so a failure leaves nothing. Returns the HDF5 file.
pub fn write_minari(dir: &Path, ds: &RawDataset, info: &MinariInfo) -> Result<PathBuf> {
    check_dataset_id(info.dataset_id)?;
    ds.validate()
        .with_context(|| format!("{}: refusing to write invalid dataset", dir.display()))?;
    let next = ds.next_observations.as_ref().ok_or_else(|| {
        anyhow!(
            "{}: a Minari dataset stores every episode's last next observation, which this dataset does not have",
            dir.display()
        )
    })?;
    ensure!(
        !dir.exists(),
        "{} exists; remove it or choose another --dataset-id / --out",
        dir.display()
    );
    let name = dir
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a directory path", dir.display()))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("{}: cannot create the folder", parent.display()))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> Result<()> {
        let data = tmp.join("data");
        std::fs::create_dir_all(&data)?;
        let episodes = write_episodes(&data.join("main_data.hdf5"), ds, next)?;
        let meta = metadata(ds, info, episodes, dir_size(&data));
        std::fs::write(data.join("metadata.json"), serde_json::to_string(&meta)?)?;
        std::fs::rename(&tmp, dir)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!(
            "{}: write failed: {}",
            dir.display(),
            e.to_string().replace('\n', " ")
        );
    }
    Ok(dir.join("data").join("main_data.hdf5"))
}

/// Episode row ranges: an episode ends at a terminal, a timeout or the last row.
fn episode_ranges(ds: &RawDataset) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..ds.len() {
        if ds.terminals[i] || ds.timeouts[i] || i + 1 == ds.len() {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    out
}

fn write_episodes(path: &Path, ds: &RawDataset, next: &[f32]) -> Result<usize> {
    super::disable_file_locking();
    let (od, ad) = (ds.obs_dim, ds.act_dim);
    let file = hdf5::File::create(path)?;
    let ranges = episode_ranges(ds);
    for (i, &(a, b)) in ranges.iter().enumerate() {
        let t = b - a;
        // Minari stores one observation row per step: s' of a step is the next step's s
        if let Some(k) = (a..b - 1)
            .find(|&k| next[k * od..(k + 1) * od] != ds.observations[(k + 1) * od..(k + 2) * od])
        {
            bail!("row {k}: next_observations differs from the next row's observation in the same episode (Minari stores each episode as one sequence of observations)");
        }
        let g = file.create_group(&format!("episode_{i}"))?;
        g.new_attr::<i64>()
            .shape(())
            .create("id")?
            .write_scalar(&(i as i64))?;
        g.new_attr::<i64>()
            .shape(())
            .create("total_steps")?
            .write_scalar(&(t as i64))?;
        // s_0 .. s_{t-1} and the last next observation s_t
        let mut obs = ds.observations[a * od..b * od].to_vec();
        obs.extend_from_slice(&next[(b - 1) * od..b * od]);
        g.new_dataset::<f32>()
            .shape((t + 1, od))
            .create("observations")?
            .write_raw(&obs)?;
        g.new_dataset::<f32>()
            .shape((t, ad))
            .create("actions")?
            .write_raw(&ds.actions[a * ad..b * ad])?;
        g.new_dataset::<f32>()
            .shape(t)
            .create("rewards")?
            .write_raw(&ds.rewards[a..b])?;
        let term = &ds.terminals[a..b];
        // an episode cut by the end of the data is a truncation, as Minari marks one
        let mut trunc = ds.timeouts[a..b].to_vec();
        if !term[t - 1] {
            trunc[t - 1] = true;
        }
        for (key, flags) in [("terminations", term), ("truncations", &trunc[..])] {
            g.new_dataset::<bool>()
                .shape(t)
                .create(key)?
                .write_raw(flags)?;
        }
    }
    file.flush()?;
    file.close()?;
    Ok(ranges.len())
}

/// A Box space as Minari's `serialize_space` writes it (JSON text).
fn box_space(dim: usize, bound: Option<f32>) -> String {
    let (lo, hi): (serde_json::Value, serde_json::Value) = match bound {
        Some(b) => (json!(vec![-b as f64; dim]), json!(vec![b as f64; dim])),
        // JSON has no infinity; Python's json module writes and reads these words
        None => (
            serde_json::Value::String("-inf".into()),
            serde_json::Value::String("inf".into()),
        ),
    };
    let text = json!({"type": "Box", "dtype": "float32", "shape": [dim], "low": lo, "high": hi})
        .to_string();
    let inf = |sign: &str| vec![format!("{sign}Infinity"); dim].join(", ");
    text.replace("\"-inf\"", &format!("[{}]", inf("-")))
        .replace("\"inf\"", &format!("[{}]", inf("")))
}

fn metadata(
    ds: &RawDataset,
    info: &MinariInfo,
    episodes: usize,
    size_mb: f64,
) -> serde_json::Value {
    let mut m = json!({
        "dataset_id": info.dataset_id,
        "total_episodes": episodes,
        "total_steps": ds.len(),
        "data_format": "hdf5",
        "jpeg_encoding": false,
        "observation_space": box_space(ds.obs_dim, None),
        "action_space": box_space(ds.act_dim, Some(1.0)),
        "dataset_size": (size_mb * 10.0).round() / 10.0,
        "author": ["pars"],
        "minari_version": MINARI_VERSION,
    });
    if let Some(env) = info.env_id {
        let spec = json!({
            "id": format!("pars_rl/{env}"),
            "entry_point": "pars_rl._envs:ParsEnv",
            "reward_threshold": null,
            "nondeterministic": false,
            "max_episode_steps": null,
            "order_enforce": true,
            "disable_env_checker": false,
            "kwargs": {"env_id": env},
            "additional_wrappers": [],
            "vector_entry_point": null,
        });
        m["env_spec"] = json!(spec.to_string());
        m["requirements"] = json!(["pars-rl"]);
    }
    if let Some(a) = &info.algorithm_name {
        m["algorithm_name"] = json!(a);
    }
    if let Some((lo, hi)) = info.ref_scores {
        m["ref_min_score"] = json!(lo);
        m["ref_max_score"] = json!(hi);
    }
    m
}

fn dir_size(dir: &Path) -> f64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::d4rl::tests::toy_dataset;
    use crate::data::{read_dataset, MinariMetadata};

    #[test]
    fn round_trip_through_our_reader() {
        let dir = tempfile::tempdir().unwrap();
        // next observations that continue each episode, as rollouts have them
        let mut ds = toy_dataset(false);
        let od = ds.obs_dim;
        let mut next = ds.observations[od..].to_vec();
        next.extend_from_slice(&[-1.0, -2.0]);
        for (k, end) in ds
            .terminals
            .iter()
            .zip(&ds.timeouts)
            .map(|(t, o)| t | o)
            .enumerate()
        {
            if end {
                next[k * od..(k + 1) * od].copy_from_slice(&[-(k as f32), 0.5]);
            }
        }
        ds.next_observations = Some(next);
        let out = dir.path().join("pars/toy-v0");
        let info = MinariInfo {
            dataset_id: "pars/toy-v0",
            env_id: Some("pointmaze-umaze-v0"),
            algorithm_name: Some("scripted".into()),
            ref_scores: Some((1.0, 2.0)),
        };
        let main = write_minari(&out, &ds, &info).unwrap();
        let back = read_dataset(&out).unwrap();
        assert_eq!(back.observations, ds.observations);
        assert_eq!(back.next_observations, ds.next_observations);
        assert_eq!(
            (back.actions.clone(), back.rewards.clone()),
            (ds.actions.clone(), ds.rewards.clone())
        );
        assert_eq!(back.terminals, ds.terminals);
        // the unfinished last episode is marked truncated
        let mut timeouts = ds.timeouts.clone();
        *timeouts.last_mut().unwrap() = true;
        assert_eq!(back.timeouts, timeouts);
        let m = MinariMetadata::of_file(&main).unwrap().unwrap();
        assert_eq!(
            m.env_id().unwrap().as_deref(),
            Some("pars_rl/pointmaze-umaze-v0")
        );
        assert_eq!((m.total_episodes, m.total_steps), (Some(3), Some(8)));
        // refused: an existing directory, a bad id, rows without next observations
        let e = write_minari(&out, &ds, &info).unwrap_err().to_string();
        assert!(e.contains("exists"), "{e}");
        let bad = MinariInfo {
            dataset_id: "toy",
            ..info
        };
        let e = write_minari(&dir.path().join("b"), &ds, &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Minari id"), "{e}");
        let info = MinariInfo {
            dataset_id: "pars/toy-v1",
            ..bad
        };
        let e = write_minari(&dir.path().join("c"), &toy_dataset(false), &info)
            .unwrap_err()
            .to_string();
        assert!(e.contains("last next observation"), "{e}");
        let e = write_minari(&dir.path().join("d"), &toy_dataset(true), &info)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 0: next_observations differs"), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
