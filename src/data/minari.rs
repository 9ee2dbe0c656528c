//! Minari HDF5 datasets (one `episode_<i>` group per episode) and format
//! detection between Minari and D4RL.

use std::path::Path;

use anyhow::Result;

use super::d4rl::{read_d4rl, H5Source};
use super::dataset::RawDataset;

/// Reads a Minari file into D4RL rows with `next_observations` filled.
pub fn read_minari(path: &Path) -> Result<RawDataset> {
    let src = H5Source { path };
    let file = src.open()?;
    let mut episodes = episode_names(&file).map_err(|e| src.err(e))?;
    if episodes.is_empty() {
        return Err(src.err("no 'episode_<i>' groups (not a Minari dataset)"));
    }
    // Numeric order, so episode_10 follows episode_9.
    episodes.sort_by_key(|(i, _)| *i);

    let mut ds = RawDataset::default();
    let mut next_obs = Vec::new();
    for (_, name) in &episodes {
        let ep = file
            .group(name)
            .map_err(|_| src.err(format_args!("'{name}' is not a group")))?;
        for key in [
            "observations",
            "actions",
            "rewards",
            "terminations",
            "truncations",
        ] {
            src.require(&ep, key)
                .map_err(|_| src.err(format_args!("missing required key '{name}/{key}'")))?;
        }
        if ep.group("observations").is_ok() {
            return Err(src.err(format_args!(
                "'{name}/observations' is a group: dict observation spaces are not supported"
            )));
        }
        let key = |k: &str| format!("{name}/{k}");
        let (obs, n_obs, obs_dim) = src.read_array(&file, &key("observations"), true)?;
        let (act, t, act_dim) = src.read_array(&file, &key("actions"), true)?;
        let (rew, n_rew, _) = src.read_array(&file, &key("rewards"), false)?;
        let term = src.read_flags(&file, &key("terminations"))?;
        let mut trunc = src.read_flags(&file, &key("truncations"))?;
        if n_obs != t + 1 {
            return Err(src.err(format_args!(
                "'{}' has {n_obs} rows but 'actions' has {t}; expected one more observation",
                key("observations")
            )));
        }
        for (k, len) in [
            ("rewards", n_rew),
            ("terminations", term.len()),
            ("truncations", trunc.len()),
        ] {
            if len != t {
                return Err(src.err(format_args!(
                    "'{}' has {len} rows but '{}' has {t}",
                    key(k),
                    key("actions")
                )));
            }
        }
        if ds.obs_dim == 0 {
            (ds.obs_dim, ds.act_dim) = (obs_dim, act_dim);
        } else if (obs_dim, act_dim) != (ds.obs_dim, ds.act_dim) {
            return Err(src.err(format_args!(
                "'{name}' has obs/act dims {obs_dim}/{act_dim}, earlier episodes {}/{}",
                ds.obs_dim, ds.act_dim
            )));
        }
        if t == 0 {
            continue;
        }
        // Every episode ends somewhere: flag an unmarked end as a
        // truncation so episode counts stay right.
        if !term[t - 1] && !trunc[t - 1] {
            trunc[t - 1] = true;
        }
        ds.observations.extend_from_slice(&obs[..t * obs_dim]);
        next_obs.extend_from_slice(&obs[obs_dim..]);
        ds.actions.extend_from_slice(&act);
        ds.rewards.extend_from_slice(&rew);
        ds.terminals.extend_from_slice(&term);
        ds.timeouts.extend_from_slice(&trunc);
    }
    ds.next_observations = Some(next_obs);
    ds.validate().map_err(|e| src.err(e))?;
    Ok(ds)
}

/// `(i, "episode_<i>")` for every top-level member named that way.
fn episode_names(file: &hdf5::File) -> Result<Vec<(u64, String)>> {
    Ok(file
        .member_names()?
        .into_iter()
        .filter_map(|name| {
            let i = name.strip_prefix("episode_")?.parse().ok()?;
            Some((i, name))
        })
        .collect())
}

/// Reads a D4RL or Minari file, picking the reader from the layout.
pub fn read_dataset(path: &Path) -> Result<RawDataset> {
    let src = H5Source { path };
    let file = src.open()?;
    let is_d4rl = file.link_exists("observations");
    let is_minari = !is_d4rl
        && !episode_names(&file)
            .map_err(|e| src.err(format_args!("cannot list members: {e}")))?
            .is_empty();
    drop(file);
    if is_d4rl {
        read_d4rl(path)
    } else if is_minari {
        read_minari(path)
    } else {
        Err(src.err(
            "unknown layout: neither a top-level 'observations' dataset (D4RL) \
             nor 'episode_<i>' groups (Minari)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::d4rl::tests::{raw_file, toy_dataset};
    use crate::data::{write_d4rl, Transitions};

    fn put(g: &hdf5::Group, key: &str, data: &[f32], shape: &[usize]) -> hdf5::Result<()> {
        g.new_dataset::<f32>()
            .shape(shape.to_vec())
            .create(key)?
            .write_raw(data)
    }

    /// Episode `i` with `t` steps; obs row k = [100 i + k].
    fn episode(f: &hdf5::File, i: usize, t: usize, terminated: bool) -> hdf5::Result<()> {
        let g = f.create_group(&format!("episode_{i}"))?;
        let obs: Vec<f32> = (0..=t).map(|k| (100 * i + k) as f32).collect();
        put(&g, "observations", &obs, &[t + 1, 1])?;
        put(&g, "actions", &vec![0.5; 2 * t], &[t, 2])?;
        put(&g, "rewards", &vec![i as f32; t], &[t])?;
        let mut term = vec![false; t];
        let mut trunc = vec![false; t];
        if terminated {
            term[t - 1] = true;
        } else {
            trunc[t - 1] = true;
        }
        g.new_dataset::<bool>()
            .shape(t)
            .create("terminations")?
            .write_raw(&term)?;
        g.new_dataset::<bool>()
            .shape(t)
            .create("truncations")?
            .write_raw(&trunc)?;
        Ok(())
    }

    #[test]
    fn reads_minari_episodes_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.hdf5");
        raw_file(&path, |f| {
            // Created out of order; 10 must come after 2.
            episode(f, 10, 2, false)?;
            episode(f, 0, 3, true)?;
            episode(f, 2, 1, false)
        });
        for ds in [read_minari(&path).unwrap(), read_dataset(&path).unwrap()] {
            assert_eq!(ds.len(), 6);
            assert_eq!((ds.obs_dim, ds.act_dim), (1, 2));
            assert_eq!(ds.observations, vec![0.0, 1.0, 2.0, 200.0, 1000.0, 1001.0]);
            let next = ds.next_observations.as_ref().unwrap();
            assert_eq!(next, &vec![1.0, 2.0, 3.0, 201.0, 1001.0, 1002.0]);
            assert_eq!(ds.terminals, vec![false, false, true, false, false, false]);
            assert_eq!(ds.timeouts, vec![false, false, false, true, false, true]);
            assert_eq!(ds.rewards, vec![0.0, 0.0, 0.0, 2.0, 10.0, 10.0]);
            let t = Transitions::from_raw(&ds).unwrap();
            assert_eq!(t.len(), 6);
        }
    }

    #[test]
    fn minari_length_mismatch_names_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.hdf5");
        raw_file(&path, |f| {
            episode(f, 0, 2, true)?;
            let g = f.create_group("episode_1")?;
            put(&g, "observations", &[0.0; 3], &[3, 1])?;
            put(&g, "actions", &[0.0; 4], &[2, 2])?;
            put(&g, "rewards", &[0.0; 3], &[3])?;
            put(&g, "terminations", &[0.0; 2], &[2])?;
            put(&g, "truncations", &[0.0; 2], &[2])
        });
        let msg = read_dataset(&path).unwrap_err().to_string();
        assert!(
            msg.contains("episode_1/rewards") && msg.contains("bad.hdf5"),
            "{msg}"
        );
    }

    #[test]
    fn detects_d4rl_and_rejects_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.hdf5");
        write_d4rl(&path, &toy_dataset(false)).unwrap();
        assert_eq!(read_dataset(&path).unwrap().len(), 8);
        let path = dir.path().join("other.hdf5");
        raw_file(&path, |f| put(f, "stuff", &[1.0], &[1]));
        let msg = read_dataset(&path).unwrap_err().to_string();
        assert!(
            msg.contains("unknown layout") && msg.contains("other.hdf5"),
            "{msg}"
        );
    }
}
