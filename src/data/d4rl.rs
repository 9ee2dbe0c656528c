//! D4RL-format HDF5 datasets (observations, actions, rewards, terminals, timeouts).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use hdf5::types::{FloatSize, TypeDescriptor};

use super::dataset::{check_finite, RawDataset};

/// HDF5 errors can span lines; reports must stay on one.
fn one_line(e: impl fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a bool dataset byte-wise so stray values other than 0/1 cannot
/// produce an invalid Rust `bool`.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct BoolByte(u8);

// SAFETY: one byte, same layout as hdf5's own `bool` mapping (int8 enum FALSE/TRUE).
unsafe impl hdf5::H5Type for BoolByte {
    fn type_descriptor() -> TypeDescriptor {
        TypeDescriptor::Boolean
    }
}

/// Reads any numeric or bool dataset as flat f32 (float64 and ints convert).
fn read_as_f32(ds: &hdf5::Dataset) -> Result<Vec<f32>> {
    let desc = ds.dtype()?.to_descriptor()?;
    Ok(match desc {
        TypeDescriptor::Float(FloatSize::U4) => ds.read_raw::<f32>()?,
        TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => ds
            .read_raw::<f64>()?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        TypeDescriptor::Boolean => ds
            .read_raw::<BoolByte>()?
            .into_iter()
            .map(|b| if b.0 != 0 { 1.0 } else { 0.0 })
            .collect(),
        other => bail!("unsupported element type {other}"),
    })
}

/// An open HDF5 file plus its path, so every error can name the file.
pub(crate) struct H5Source<'a> {
    pub path: &'a Path,
}

impl H5Source<'_> {
    pub fn err(&self, msg: impl fmt::Display) -> anyhow::Error {
        anyhow!("{}: {}", self.path.display(), msg)
    }

    /// Opens the file, telling "missing" from "not HDF5".
    pub fn open(&self) -> Result<hdf5::File> {
        super::disable_file_locking();
        let meta = std::fs::metadata(self.path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.err("file not found")
            } else {
                self.err(format_args!("cannot access file: {e}"))
            }
        })?;
        if meta.is_dir() {
            return Err(self.err("is a directory, expected an HDF5 file"));
        }
        std::fs::File::open(self.path)
            .map_err(|e| self.err(format_args!("cannot open file: {e}")))?;
        hdf5::File::open(self.path).map_err(|e| {
            self.err(format_args!(
                "not an HDF5 file (or corrupt): {}",
                one_line(e)
            ))
        })
    }

    /// Reads `key` as flat f32 and returns (data, rows, cols). `two_d`
    /// requires [n, d]; otherwise [n] or [n, 1] is accepted.
    pub fn read_array(
        &self,
        group: &hdf5::Group,
        key: &str,
        two_d: bool,
    ) -> Result<(Vec<f32>, usize, usize)> {
        let ds = group
            .dataset(key)
            .map_err(|e| self.err(format_args!("cannot open '{key}': {}", one_line(e))))?;
        let shape = ds.shape();
        let (rows, cols) = match (two_d, shape.as_slice()) {
            (true, &[r, c]) => (r, c),
            (false, &[r]) | (false, &[r, 1]) => (r, 1),
            (true, _) => {
                return Err(self.err(format_args!(
                    "'{key}' must be 2-D [n, dim], got shape {shape:?}"
                )))
            }
            (false, _) => {
                return Err(self.err(format_args!(
                    "'{key}' must be 1-D [n] (or [n, 1]), got shape {shape:?}"
                )))
            }
        };
        let data = read_as_f32(&ds)
            .map_err(|e| self.err(format_args!("cannot read '{key}': {}", one_line(e))))?;
        check_finite(key, &data, cols).map_err(|e| self.err(e))?;
        Ok((data, rows, cols))
    }

    pub fn read_flags(&self, group: &hdf5::Group, key: &str) -> Result<Vec<bool>> {
        let (data, _, _) = self.read_array(group, key, false)?;
        Ok(data.into_iter().map(|v| v != 0.0).collect())
    }

    pub fn require(&self, group: &hdf5::Group, key: &str) -> Result<()> {
        if !group.link_exists(key) {
            return Err(self.err(format_args!("missing required key '{key}'")));
        }
        Ok(())
    }
}

/// Reads a D4RL-format HDF5 file. Every error is one line naming the file.
pub fn read_d4rl(path: &Path) -> Result<RawDataset> {
    let src = H5Source { path };
    let file = src.open()?;
    for key in ["observations", "actions", "rewards", "terminals"] {
        src.require(&file, key)?;
    }
    let (observations, n, obs_dim) = src.read_array(&file, "observations", true)?;
    let (actions, n_act, act_dim) = src.read_array(&file, "actions", true)?;
    let (rewards, n_rew, _) = src.read_array(&file, "rewards", false)?;
    let terminals = src.read_flags(&file, "terminals")?;
    let timeouts = if file.link_exists("timeouts") {
        Some(src.read_flags(&file, "timeouts")?)
    } else {
        None
    };
    let next_observations = if file.link_exists("next_observations") {
        let (next, n_next, next_dim) = src.read_array(&file, "next_observations", true)?;
        same_len(&src, "next_observations", n_next, n)?;
        if next_dim != obs_dim {
            return Err(src.err(format_args!(
                "'next_observations' has {next_dim} columns but 'observations' has {obs_dim}"
            )));
        }
        Some(next)
    } else {
        None
    };
    same_len(&src, "actions", n_act, n)?;
    same_len(&src, "rewards", n_rew, n)?;
    same_len(&src, "terminals", terminals.len(), n)?;
    if let Some(t) = &timeouts {
        same_len(&src, "timeouts", t.len(), n)?;
    }
    if n == 0 {
        return Err(src.err("dataset has no rows"));
    }
    if obs_dim == 0 || act_dim == 0 {
        return Err(src.err(format_args!(
            "zero-width data: obs_dim {obs_dim}, act_dim {act_dim}"
        )));
    }
    let timeouts = timeouts.unwrap_or_else(|| {
        tracing::warn!(
            "{}: no 'timeouts' key; treating only the last row as an episode end",
            path.display()
        );
        let mut t = vec![false; n];
        t[n - 1] = true;
        t
    });
    let ds = RawDataset {
        observations,
        actions,
        rewards,
        terminals,
        timeouts,
        next_observations,
        obs_dim,
        act_dim,
    };
    ds.validate().map_err(|e| src.err(e))?;
    Ok(ds)
}

fn same_len(src: &H5Source, key: &str, len: usize, n: usize) -> Result<()> {
    if len != n {
        return Err(src.err(format_args!(
            "'{key}' has {len} rows but 'observations' has {n}"
        )));
    }
    Ok(())
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temp file unless the write completed.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `ds` in D4RL layout (f32 arrays, flags as HDF5 bool, which is what
/// h5py writes for numpy bool). Written to a temp file then renamed, so a
/// failure never leaves a partial file at `path`.
pub fn write_d4rl(path: &Path, ds: &RawDataset) -> Result<()> {
    ds.validate()
        .with_context(|| format!("{}: refusing to write invalid dataset", path.display()))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file path", path.display()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // `--out runs/data/x.hdf5` on a fresh checkout: make the folder, as mkdir -p would
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut guard = TempGuard {
        path: tmp.clone(),
        armed: true,
    };
    write_contents(&tmp, ds)
        .map_err(|e| anyhow!("{}: write failed: {}", path.display(), one_line(e)))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow!("{}: cannot move temp file into place: {e}", path.display()))?;
    guard.armed = false;
    Ok(())
}

fn write_contents(tmp: &Path, ds: &RawDataset) -> Result<()> {
    let n = ds.len();
    super::disable_file_locking();
    let file = hdf5::File::create(tmp)?;
    let put2 = |key: &str, data: &[f32], dim: usize| -> Result<()> {
        file.new_dataset::<f32>()
            .shape((n, dim))
            .create(key)?
            .write_raw(data)?;
        Ok(())
    };
    put2("observations", &ds.observations, ds.obs_dim)?;
    put2("actions", &ds.actions, ds.act_dim)?;
    if let Some(next) = &ds.next_observations {
        put2("next_observations", next, ds.obs_dim)?;
    }
    file.new_dataset::<f32>()
        .shape(n)
        .create("rewards")?
        .write_raw(&ds.rewards)?;
    for (key, flags) in [("terminals", &ds.terminals), ("timeouts", &ds.timeouts)] {
        file.new_dataset::<bool>()
            .shape(n)
            .create(key)?
            .write_raw(flags.as_slice())?;
    }
    file.flush()?;
    file.close()?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{clip_actions, summarize};

    /// Three episodes: rows 0-2 end by terminal, rows 3-5 by timeout,
    /// rows 6-7 unfinished. obs row i = [i, 10 i], action row i = [i / 10].
    pub fn toy_dataset(with_next: bool) -> RawDataset {
        let n = 8;
        let obs: Vec<f32> = (0..n).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
        let mut terminals = vec![false; n];
        let mut timeouts = vec![false; n];
        terminals[2] = true;
        timeouts[5] = true;
        RawDataset {
            next_observations: with_next.then(|| {
                (0..n)
                    .flat_map(|i| [100.0 + i as f32, 1000.0 + i as f32])
                    .collect()
            }),
            observations: obs,
            actions: (0..n).map(|i| i as f32 / 10.0).collect(),
            rewards: (0..n).map(|i| i as f32).collect(),
            terminals,
            timeouts,
            obs_dim: 2,
            act_dim: 1,
        }
    }

    /// Writes arbitrary datasets for malformed-input tests.
    pub fn raw_file(path: &Path, f: impl FnOnce(&hdf5::File) -> hdf5::Result<()>) {
        // as every reader and writer does: without it, whether a file is locked
        // depends on which test ran first, and a reader can meet a writer's lock
        crate::data::disable_file_locking();
        let file = hdf5::File::create(path).unwrap();
        f(&file).unwrap();
        file.close().unwrap();
    }

    fn put_f32(file: &hdf5::File, key: &str, data: &[f32], shape: &[usize]) -> hdf5::Result<()> {
        file.new_dataset::<f32>()
            .shape(shape.to_vec())
            .create(key)?
            .write_raw(data)
    }

    /// A valid 4-row file; `skip` omits a key, `edit` overrides one.
    fn good_file(path: &Path, skip: &str, edit: Option<(&str, Vec<f32>, Vec<usize>)>) {
        raw_file(path, |file| {
            let mut keys: Vec<(&str, Vec<f32>, Vec<usize>)> = vec![
                (
                    "observations",
                    (0..8).map(|v| v as f32).collect(),
                    vec![4, 2],
                ),
                ("actions", vec![0.1, 0.2, 0.3, 0.4], vec![4, 1]),
                ("rewards", vec![1.0, 2.0, 3.0, 4.0], vec![4]),
                ("terminals", vec![0.0, 0.0, 0.0, 1.0], vec![4]),
                ("timeouts", vec![0.0; 4], vec![4]),
            ];
            if let Some((k, d, s)) = edit {
                match keys.iter_mut().find(|e| e.0 == k) {
                    Some(e) => *e = (k, d, s),
                    None => keys.push((k, d, s)),
                }
            }
            for (k, d, s) in keys {
                if k != skip {
                    put_f32(file, k, &d, &s)?;
                }
            }
            Ok(())
        });
    }

    fn err_of(path: &Path) -> String {
        let msg = read_d4rl(path).unwrap_err().to_string();
        assert!(!msg.contains('\n'), "multi-line error: {msg}");
        assert!(
            msg.contains(&path.display().to_string()),
            "no file name: {msg}"
        );
        msg
    }

    #[test]
    fn round_trip_with_and_without_next() {
        let dir = tempfile::tempdir().unwrap();
        for with_next in [false, true] {
            let ds = toy_dataset(with_next);
            let path = dir.path().join(format!("rt{with_next}.hdf5"));
            write_d4rl(&path, &ds).unwrap();
            let back = read_d4rl(&path).unwrap();
            assert_eq!(back.observations, ds.observations);
            assert_eq!(back.actions, ds.actions);
            assert_eq!(back.rewards, ds.rewards);
            assert_eq!(back.terminals, ds.terminals);
            assert_eq!(back.timeouts, ds.timeouts);
            assert_eq!(back.next_observations, ds.next_observations);
            assert_eq!((back.obs_dim, back.act_dim), (2, 1));
        }
        // Only the final file remains: no temp leftovers.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn write_creates_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs/data/x.hdf5");
        write_d4rl(&path, &toy_dataset(false)).unwrap();
        assert_eq!(
            read_d4rl(&path).unwrap().rewards,
            toy_dataset(false).rewards
        );
    }

    #[test]
    fn written_flags_are_hdf5_bool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.hdf5");
        write_d4rl(&path, &toy_dataset(false)).unwrap();
        let file = hdf5::File::open(&path).unwrap();
        for key in ["terminals", "timeouts"] {
            let desc = file.dataset(key).unwrap().dtype().unwrap().to_descriptor();
            assert_eq!(desc.unwrap(), TypeDescriptor::Boolean);
        }
        let rew = file.dataset("rewards").unwrap();
        assert_eq!(rew.shape(), vec![8]);
        assert!(rew.dtype().unwrap().is::<f32>());
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.hdf5");
        let mut ds = toy_dataset(false);
        ds.rewards.pop();
        let msg = write_d4rl(&path, &ds).unwrap_err().to_string();
        assert!(msg.contains("bad.hdf5"), "{msg}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // A parent that is a file: error, and nothing new anywhere.
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let nested = dir.path().join("f/x.hdf5");
        assert!(write_d4rl(&nested, &toy_dataset(false)).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn overwrite_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.hdf5");
        write_d4rl(&path, &toy_dataset(true)).unwrap();
        write_d4rl(&path, &toy_dataset(false)).unwrap();
        assert!(read_d4rl(&path).unwrap().next_observations.is_none());
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let msg = err_of(&dir.path().join("nope.hdf5"));
        assert!(msg.contains("not found"), "{msg}");
    }

    #[test]
    fn not_hdf5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.hdf5");
        std::fs::write(&path, "hello, not hdf5\n").unwrap();
        let msg = err_of(&path);
        assert!(msg.contains("not an HDF5 file"), "{msg}");
    }

    #[test]
    fn missing_required_keys() {
        let dir = tempfile::tempdir().unwrap();
        for key in ["observations", "actions", "rewards", "terminals"] {
            let path = dir.path().join(format!("miss_{key}.hdf5"));
            good_file(&path, key, None);
            let msg = err_of(&path);
            assert!(
                msg.contains(&format!("missing required key '{key}'")),
                "{msg}"
            );
        }
    }

    #[test]
    fn missing_timeouts_marks_last_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("noto.hdf5");
        good_file(&path, "timeouts", None);
        let ds = read_d4rl(&path).unwrap();
        assert_eq!(ds.timeouts, vec![false, false, false, true]);
    }

    #[test]
    fn mismatched_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("len.hdf5");
        good_file(&path, "", Some(("rewards", vec![1.0, 2.0, 3.0], vec![3])));
        let msg = err_of(&path);
        assert!(
            msg.contains("'rewards' has 3 rows") && msg.contains("'observations' has 4"),
            "{msg}"
        );
        let path = dir.path().join("len2.hdf5");
        good_file(&path, "", Some(("timeouts", vec![0.0; 5], vec![5])));
        let msg = err_of(&path);
        assert!(msg.contains("'timeouts' has 5 rows"), "{msg}");
        let path = dir.path().join("len3.hdf5");
        good_file(
            &path,
            "",
            Some(("next_observations", vec![0.0; 6], vec![3, 2])),
        );
        let msg = err_of(&path);
        assert!(msg.contains("'next_observations' has 3 rows"), "{msg}");
    }

    #[test]
    fn wrong_rank() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("observations", vec![0.0; 8], vec![8]),
            ("actions", vec![0.0; 4], vec![4, 1, 1]),
            ("rewards", vec![0.0; 8], vec![4, 2]),
            ("terminals", vec![0.0; 8], vec![4, 2]),
        ];
        for (key, data, shape) in cases {
            let path = dir.path().join(format!("rank_{key}.hdf5"));
            good_file(&path, "", Some((key, data, shape)));
            let msg = err_of(&path);
            assert!(msg.contains(&format!("'{key}' must be")), "{msg}");
        }
        // [n, 1] rewards are accepted.
        let path = dir.path().join("rew_col.hdf5");
        good_file(&path, "", Some(("rewards", vec![1.0; 4], vec![4, 1])));
        assert_eq!(read_d4rl(&path).unwrap().rewards, vec![1.0; 4]);
    }

    #[test]
    fn non_finite_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut obs: Vec<f32> = (0..8).map(|v| v as f32).collect();
        obs[5] = f32::NAN;
        let path = dir.path().join("nan.hdf5");
        good_file(&path, "", Some(("observations", obs, vec![4, 2])));
        let msg = err_of(&path);
        assert!(
            msg.contains("'observations'") && msg.contains("row 2"),
            "{msg}"
        );
        assert!(msg.contains("NaN"), "{msg}");

        let path = dir.path().join("inf.hdf5");
        let rew = vec![0.0, f32::INFINITY, 0.0, 0.0];
        good_file(&path, "", Some(("rewards", rew, vec![4])));
        let msg = err_of(&path);
        assert!(msg.contains("'rewards'") && msg.contains("row 1"), "{msg}");
        assert!(msg.contains("inf"), "{msg}");

        let path = dir.path().join("nan_act.hdf5");
        let act = vec![0.0, 0.0, 0.0, f32::NEG_INFINITY];
        good_file(&path, "", Some(("actions", act, vec![4, 1])));
        let msg = err_of(&path);
        assert!(msg.contains("'actions'") && msg.contains("row 3"), "{msg}");
    }

    #[test]
    fn float64_and_integer_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f64.hdf5");
        raw_file(&path, |file| {
            let obs: Vec<f64> = (0..6).map(|v| v as f64 + 0.5).collect();
            file.new_dataset::<f64>()
                .shape((3, 2))
                .create("observations")?
                .write_raw(&obs)?;
            file.new_dataset::<f64>()
                .shape((3, 1))
                .create("actions")?
                .write_raw(&[0.25f64, -0.5, 2.0])?;
            file.new_dataset::<f64>()
                .shape((3, 1))
                .create("rewards")?
                .write_raw(&[1.0f64, 2.0, 3.0])?;
            file.new_dataset::<u8>()
                .shape(3)
                .create("terminals")?
                .write_raw(&[0u8, 1, 0])?;
            file.new_dataset::<i64>()
                .shape(3)
                .create("timeouts")?
                .write_raw(&[0i64, 0, 1])?;
            Ok(())
        });
        let ds = read_d4rl(&path).unwrap();
        assert_eq!(ds.observations, vec![0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
        assert_eq!(ds.actions, vec![0.25, -0.5, 2.0]);
        assert_eq!(ds.rewards, vec![1.0, 2.0, 3.0]);
        assert_eq!(ds.terminals, vec![false, true, false]);
        assert_eq!(ds.timeouts, vec![false, false, true]);
    }

    #[test]
    fn bool_flags_from_hdf5_bool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bool.hdf5");
        good_file(&path, "terminals", None);
        let file = hdf5::File::open_rw(&path).unwrap();
        file.new_dataset::<bool>()
            .shape(4)
            .create("terminals")
            .unwrap()
            .write_raw(&[false, true, false, true])
            .unwrap();
        file.close().unwrap();
        let ds = read_d4rl(&path).unwrap();
        assert_eq!(ds.terminals, vec![false, true, false, true]);
    }

    #[test]
    fn clip_counts_values() {
        let mut ds = toy_dataset(false);
        ds.actions = vec![-1.5, -1.0, 0.0, 1.0, 1.0001, 3.0, 0.5, -0.999];
        assert_eq!(clip_actions(&mut ds), 3);
        assert_eq!(
            ds.actions,
            vec![-1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 0.5, -0.999]
        );
        assert_eq!(clip_actions(&mut ds), 0);
    }

    #[test]
    fn summary_counts() {
        let mut ds = toy_dataset(false);
        ds.actions[0] = 1.5;
        let s = summarize(&ds);
        assert_eq!(s.rows, 8);
        assert_eq!(s.episodes, 3);
        assert_eq!(s.transitions, 6);
        assert_eq!((s.terminals, s.timeouts), (1, 1));
        assert_eq!(s.actions_out_of_range, 1);
        assert_eq!((s.reward_min, s.reward_max), (0.0, 7.0));
        assert!((s.reward_mean - 3.5).abs() < 1e-9);
        // Returns: 0+1+2, 3+4+5, 6+7.
        assert_eq!((s.return_min, s.return_max), (3.0, 13.0));
        let text = s.to_string();
        assert!(text.contains("episodes") && text.contains("outside [-1, 1]"));
        assert_eq!(summarize(&toy_dataset(true)).transitions, 8);
    }
}
