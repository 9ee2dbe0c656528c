//! Minari HDF5 datasets (one `episode_<i>` group per episode) and format
//! detection between Minari and D4RL.

use std::path::Path;

use anyhow::Result;

use super::d4rl::{read_d4rl, H5Source};
use super::dataset::RawDataset;
use super::locate::MinariMetadata;

/// Reads a Minari file into D4RL rows with `next_observations` filled.
pub fn read_minari(path: &Path) -> Result<RawDataset> {
    read_minari_with(path, None)
}

/// `read_minari` with the keys (in order) a dict observation is flattened from;
/// None: [`default_obs_keys`].
pub fn read_minari_with(path: &Path, obs_keys: Option<&[String]>) -> Result<RawDataset> {
    let src = H5Source { path };
    let env = MinariMetadata::of_file(path)
        .ok()
        .flatten()
        .and_then(|m| m.env_id().ok().flatten());
    let mut dict = DictObs::new(obs_keys, env);
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
        let key = |k: &str| format!("{name}/{k}");
        let (obs, n_obs, obs_dim) = match ep.group("observations") {
            Ok(g) => dict.read(&src, &file, &g, &key("observations"))?,
            Err(_) => {
                dict.check_flat(&src, &key("observations"))?;
                src.read_array(&file, &key("observations"), true)?
            }
        };
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

/// The keys a dict observation is flattened from when none are given, in order: D4RL's
/// layout for the goal-conditioned mazes — AntMaze `achieved_goal` (x, y) then
/// `observation` (29 numbers, as D4RL's antmaze files), PointMaze `observation` alone
/// (x, y, vx, vy, as D4RL's maze2d files): their goal is fixed per task, as in D4RL —,
/// `observation` then `desired_goal` for other goal dicts, else every key in sorted
/// order (the order of Gymnasium's `Dict` space).
pub fn default_obs_keys(keys: &[String], env: Option<&str>) -> Vec<String> {
    let mut sorted = keys.to_vec();
    sorted.sort();
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    if sorted == ["achieved_goal", "desired_goal", "observation"] {
        return match env {
            Some(e) if e.starts_with("AntMaze") => owned(&["achieved_goal", "observation"]),
            Some(e) if e.starts_with("PointMaze") => owned(&["observation"]),
            _ => owned(&["observation", "desired_goal"]),
        };
    }
    sorted
}

/// Flattens dict observations episode by episode, holding every episode to the first
/// one's keys.
struct DictObs<'a> {
    given: Option<&'a [String]>,
    env: Option<String>,
    /// (the first episode's keys, sorted; the keys used, in order)
    seen: Option<(Vec<String>, Vec<String>)>,
}

impl<'a> DictObs<'a> {
    fn new(given: Option<&'a [String]>, env: Option<String>) -> Self {
        Self {
            given,
            env,
            seen: None,
        }
    }

    /// Array observations: `--obs-keys` does not apply, nor may episodes mix kinds.
    fn check_flat(&self, src: &H5Source, key: &str) -> Result<()> {
        if self.given.is_some() {
            return Err(src.err(format_args!(
                "'{key}' is an array, not a dict: --obs-keys applies to dict observations only"
            )));
        }
        if self.seen.is_some() {
            return Err(src.err(format_args!(
                "'{key}' is an array but earlier episodes have dict observations"
            )));
        }
        Ok(())
    }

    /// The rows of the group `key` (`episode_<i>/observations`), its keys concatenated.
    fn read(
        &mut self,
        src: &H5Source,
        file: &hdf5::File,
        g: &hdf5::Group,
        key: &str,
    ) -> Result<(Vec<f32>, usize, usize)> {
        let mut keys = g.member_names().map_err(|e| src.err(e))?;
        keys.sort();
        if keys.iter().any(|k| k.starts_with("_index_")) {
            return Err(src.err(format_args!(
                "'{key}' holds a tuple observation space ({}): not supported",
                keys.join(", ")
            )));
        }
        let order = match &self.seen {
            Some((first, order)) => {
                if &keys != first {
                    return Err(src.err(format_args!(
                        "'{key}' has keys [{}] but the first episode has [{}]",
                        keys.join(", "),
                        first.join(", ")
                    )));
                }
                order.clone()
            }
            None => {
                let order = match self.given {
                    Some(g) => {
                        if let Some(k) = g.iter().find(|k| !keys.contains(k)) {
                            return Err(src.err(format_args!(
                                "--obs-keys: '{key}' has no key '{k}' (it has {})",
                                keys.join(", ")
                            )));
                        }
                        g.to_vec()
                    }
                    None => default_obs_keys(&keys, self.env.as_deref()),
                };
                self.seen = Some((keys.clone(), order.clone()));
                order
            }
        };
        let mut parts = Vec::with_capacity(order.len());
        let mut rows = None;
        for k in &order {
            let path = format!("{key}/{k}");
            if g.group(k).is_ok() {
                return Err(src.err(format_args!(
                    "'{path}' is a nested dict: nested observation spaces are not supported (pick other keys with --obs-keys)"
                )));
            }
            let two_d = g.dataset(k).map(|d| d.ndim() != 1).unwrap_or(true);
            let (data, n, dim) = src.read_array(file, &path, two_d)?;
            match rows {
                None => rows = Some(n),
                Some(r) if r != n => {
                    return Err(src.err(format_args!(
                        "'{path}' has {n} rows but '{key}/{}' has {r}",
                        order[0]
                    )))
                }
                _ => {}
            }
            parts.push((data, dim));
        }
        let n = rows.unwrap_or(0);
        let width: usize = parts.iter().map(|(_, d)| d).sum();
        let mut out = Vec::with_capacity(n * width);
        for r in 0..n {
            for (data, dim) in &parts {
                out.extend_from_slice(&data[r * dim..(r + 1) * dim]);
            }
        }
        Ok((out, n, width))
    }
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

/// Reads a D4RL or Minari file, picking the reader from the layout; `path` may also
/// be a Minari dataset directory or id (`super::locate`).
pub fn read_dataset(path: &Path) -> Result<RawDataset> {
    read_dataset_with(path, None)
}

/// `read_dataset` with the keys a Minari dict observation is flattened from.
pub fn read_dataset_with(path: &Path, obs_keys: Option<&[String]>) -> Result<RawDataset> {
    let file = super::locate::dataset_file(path)?;
    let path = file.as_path();
    let src = H5Source { path };
    let file = src.open()?;
    let is_d4rl = file.link_exists("observations");
    let is_minari = !is_d4rl
        && !episode_names(&file)
            .map_err(|e| src.err(format_args!("cannot list members: {e}")))?
            .is_empty();
    drop(file);
    if is_d4rl {
        if obs_keys.is_some() {
            return Err(src.err(
                "a D4RL file has array observations: --obs-keys applies to Minari dict observations only",
            ));
        }
        read_d4rl(path)
    } else if is_minari {
        read_minari_with(path, obs_keys)
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

    /// Episode `i` with `t` steps and dict observations: `observation` [3] = (1000 i +
    /// k, 1, 2), `achieved_goal` [2] = (10, 11), `desired_goal` [2] = (20, 21).
    fn dict_episode(f: &hdf5::File, i: usize, t: usize, keys: &[&str]) -> hdf5::Result<()> {
        let g = f.create_group(&format!("episode_{i}"))?;
        let o = g.create_group("observations")?;
        for &k in keys {
            let row = |r: usize| match k {
                "observation" => vec![(1000 * i + r) as f32, 1.0, 2.0],
                "achieved_goal" => vec![10.0, 11.0],
                _ => vec![20.0, 21.0],
            };
            let w = row(0).len();
            let data: Vec<f32> = (0..=t).flat_map(row).collect();
            put(&o, k, &data, &[t + 1, w])?;
        }
        put(&g, "actions", &vec![0.5; 2 * t], &[t, 2])?;
        put(&g, "rewards", &vec![0.0; t], &[t])?;
        put(&g, "terminations", &vec![0.0; t], &[t])?;
        put(&g, "truncations", &vec![0.0; t], &[t])
    }

    const GOAL_KEYS: [&str; 3] = ["observation", "desired_goal", "achieved_goal"];

    #[test]
    fn dict_observations_flatten_in_d4rl_order() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("ds/data");
        std::fs::create_dir_all(&data).unwrap();
        let path = data.join("main_data.hdf5");
        raw_file(&path, |f| {
            dict_episode(f, 0, 2, &GOAL_KEYS)?;
            dict_episode(f, 1, 1, &GOAL_KEYS)
        });
        let first_row = |ds: &RawDataset| ds.observations[..ds.obs_dim].to_vec();
        // no metadata: observation, then the goal
        let ds = read_dataset(&path).unwrap();
        assert_eq!((ds.obs_dim, ds.len()), (5, 3));
        assert_eq!(first_row(&ds), vec![0.0, 1.0, 2.0, 20.0, 21.0]);
        assert_eq!(
            ds.next_observations.as_ref().unwrap()[..5],
            [1.0, 1.0, 2.0, 20.0, 21.0]
        );
        assert_eq!(ds.observations[2 * 5], 1000.0);
        let meta = |env: &str| {
            let spec = format!("{{\"id\": \"{env}\"}}");
            let text = serde_json::json!({ "dataset_id": "ds", "env_spec": spec }).to_string();
            std::fs::write(data.join("metadata.json"), text).unwrap();
        };
        // AntMaze: position first, as D4RL's 29-number observation; PointMaze: as maze2d
        meta("AntMaze_UMaze-v5");
        let ds = read_dataset(dir.path().join("ds").as_path()).unwrap();
        assert_eq!(first_row(&ds), vec![10.0, 11.0, 0.0, 1.0, 2.0]);
        meta("PointMaze_UMaze-v3");
        assert_eq!(
            first_row(&read_dataset(&path).unwrap()),
            vec![0.0, 1.0, 2.0]
        );
        let keys: Vec<String> = ["desired_goal", "observation"].map(String::from).to_vec();
        let ds = read_dataset_with(&path, Some(&keys)).unwrap();
        assert_eq!(first_row(&ds), vec![20.0, 21.0, 0.0, 1.0, 2.0]);
        let bad = vec!["goal".to_string()];
        let e = read_dataset_with(&path, Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no key 'goal'") && e.contains("episode_0/observations"),
            "{e}"
        );
        // other dicts: every key, sorted
        let other = ["b", "a"].map(String::from);
        assert_eq!(default_obs_keys(&other, None), vec!["a", "b"]);
    }

    #[test]
    fn dict_observation_errors_name_the_episode_or_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = |name: &str, build: &dyn Fn(&hdf5::File) -> hdf5::Result<()>| {
            let path = dir.path().join(name);
            raw_file(&path, build);
            let e = read_dataset(&path).unwrap_err().to_string();
            assert!(!e.contains('\n') && e.contains(name), "{e}");
            e
        };
        let e = err("keys.hdf5", &|f| {
            dict_episode(f, 0, 2, &GOAL_KEYS)?;
            dict_episode(f, 1, 2, &["observation", "desired_goal"])
        });
        assert!(
            e.contains("'episode_1/observations' has keys [desired_goal, observation]"),
            "{e}"
        );
        let e = err("nested.hdf5", &|f| {
            dict_episode(f, 0, 2, &["observation"])?;
            f.group("episode_0/observations")?
                .create_group("extra")
                .map(drop)
        });
        assert!(
            e.contains("'episode_0/observations/extra' is a nested dict"),
            "{e}"
        );
        let e = err("tuple.hdf5", &|f| {
            dict_episode(f, 0, 2, &["_index_0", "_index_1"])
        });
        assert!(e.contains("tuple observation space"), "{e}");
        let e = err("mixed.hdf5", &|f| {
            dict_episode(f, 0, 2, &GOAL_KEYS)?;
            episode(f, 1, 2, true)
        });
        assert!(
            e.contains("'episode_1/observations' is an array but earlier"),
            "{e}"
        );
        let d4rl = dir.path().join("d.hdf5");
        write_d4rl(&d4rl, &toy_dataset(false)).unwrap();
        let keys = vec!["observation".to_string()];
        let e = read_dataset_with(&d4rl, Some(&keys))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--obs-keys applies to Minari dict observations"),
            "{e}"
        );
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
