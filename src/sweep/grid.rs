//! Grid files (`pars sweep GRID.toml`): datasets × variants × seeds with shared
//! settings, resolved into cells, each a complete training configuration with a
//! deterministic run-directory name. Everything is validated before anything runs.
use crate::config::baselines::rebrac_preset_for;
use crate::config::presets::{resolve_train_config, TrainSources};
use crate::config::TrainConfig;
use crate::run::sanitize_label;
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A grid file as written by the user.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridFile {
    /// Name of the sweep (default directory `runs/<name>`); default the file's stem.
    pub name: Option<String>,
    /// A list of seeds, or a count `n` for seeds 0..n.
    pub seeds: Seeds,
    #[serde(default)]
    pub settings: Settings,
    #[serde(rename = "dataset", default)]
    pub datasets: Vec<DatasetEntry>,
    #[serde(rename = "variant", default)]
    pub variants: Vec<VariantEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

/// Settings shared by every cell (each maps to one config key; `set` takes any).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub steps: Option<u64>,
    pub eval_every: Option<u64>,
    pub eval_episodes: Option<usize>,
    pub log_every: Option<u64>,
    pub batch_size: Option<usize>,
    /// `KEY=VALUE` overrides applied to every cell (before the dataset's and the variant's).
    #[serde(default)]
    pub set: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    /// Short name used in cell names and report rows.
    pub label: String,
    /// D4RL or Minari HDF5 file (or Minari dataset directory), relative to the grid file.
    pub path: Option<PathBuf>,
    /// ... or a Minari dataset id (`mujoco/hopper/medium-v0`), found in
    /// `MINARI_DATASETS_PATH` (else `~/.minari/datasets`).
    pub id: Option<String>,
    /// Evaluation environment (default: a Minari dataset's own, from its env spec).
    pub env: Option<String>,
    /// A Minari dataset's dict observation keys, in order (as `--obs-keys`).
    pub obs_keys: Option<Vec<String>>,
    /// Overrides for this dataset only (e.g. `agent.r_min=0`).
    #[serde(default)]
    pub set: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantEntry {
    /// Short name used in cell names and report columns (`pars`, `td3bc`, `pars-noPA`).
    pub label: String,
    /// Preset (see `pars presets`); default the dataset's environment preset if there
    /// is one, else `pars` (as `pars train` picks it). `rebrac` takes ReBRAC's preset of
    /// each dataset's environment (`rebrac-<env>`, as `pars train --algo rebrac`).
    pub preset: Option<String>,
    /// `--set`-style overrides of this variant.
    #[serde(default)]
    pub set: Vec<String>,
    /// Run this variant on these dataset labels only (default: every dataset).
    #[serde(default)]
    pub datasets: Vec<String>,
}

/// One run of a sweep: a dataset, a variant and a seed, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Run-directory name inside the sweep directory: `<variant>-<dataset>-s<seed>`.
    pub name: String,
    pub dataset: String,
    pub variant: String,
    pub seed: u64,
    /// Absolute path of the dataset file.
    pub dataset_path: PathBuf,
    pub env: String,
    pub config: TrainConfig,
}

/// What `cell.json` in a finished cell's run directory records; `pars report` groups
/// by it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellInfo {
    pub dataset: String,
    pub variant: String,
    pub seed: u64,
}

pub use crate::run::paths::CELL_FILE;

impl Cell {
    pub fn info(&self) -> CellInfo {
        CellInfo {
            dataset: self.dataset.clone(),
            variant: self.variant.clone(),
            seed: self.seed,
        }
    }

    /// How the cell is named in messages.
    pub fn describe(&self) -> String {
        format!(
            "cell {} (dataset {}, variant {}, seed {})",
            self.name, self.dataset, self.variant, self.seed
        )
    }
}

/// The deterministic run-directory name of a cell.
pub fn cell_name(variant: &str, dataset: &str, seed: u64) -> String {
    format!(
        "{}-{}-s{seed}",
        sanitize_label(variant),
        sanitize_label(dataset)
    )
}

/// A parsed grid: its name and cells, in file order (dataset, then variant, then seed).
#[derive(Clone, Debug)]
pub struct Grid {
    pub name: String,
    pub cells: Vec<Cell>,
}

fn check_label(kind: &str, label: &str) -> Result<()> {
    ensure!(!label.trim().is_empty(), "a {kind} has an empty label");
    ensure!(
        label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c)),
        "{kind} label '{label}' may only contain letters, digits and - _ . +"
    );
    Ok(())
}

fn unique_labels<'a>(kind: &str, labels: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = BTreeMap::new();
    for l in labels {
        check_label(kind, l)?;
        if let Some(prev) = seen.insert(sanitize_label(l), l) {
            bail!("{kind} labels '{prev}' and '{l}' give the same directory name");
        }
    }
    Ok(())
}

/// Parse a grid file and resolve every cell's configuration (preset → settings →
/// dataset and variant overrides → seed). Fails on the first bad cell, naming it.
/// Does not touch datasets or environments: see `validate_inputs`.
pub fn parse_grid(path: &Path) -> Result<Grid> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read grid file {}", path.display()))?;
    let g: GridFile = toml::from_str(&text)
        .with_context(|| format!("grid file {} is not a valid grid", path.display()))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = match &g.name {
        Some(n) => n.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "sweep".into()),
    };
    resolve_grid(&g, &name, base).with_context(|| format!("grid file {}", path.display()))
}

/// Resolve a parsed grid; dataset paths are taken relative to `base`.
pub fn resolve_grid(g: &GridFile, name: &str, base: &Path) -> Result<Grid> {
    check_label("sweep", name)?;
    ensure!(!g.datasets.is_empty(), "the grid names no [[dataset]]");
    ensure!(!g.variants.is_empty(), "the grid names no [[variant]]");
    let seeds: Vec<u64> = match &g.seeds {
        Seeds::Count(n) => (0..*n).collect(),
        Seeds::List(v) => v.clone(),
    };
    ensure!(!seeds.is_empty(), "the grid has no seeds");
    let distinct: BTreeSet<u64> = seeds.iter().copied().collect();
    ensure!(distinct.len() == seeds.len(), "the grid lists a seed twice");
    unique_labels("dataset", g.datasets.iter().map(|d| d.label.as_str()))?;
    unique_labels("variant", g.variants.iter().map(|v| v.label.as_str()))?;
    for v in &g.variants {
        for want in &v.datasets {
            ensure!(
                g.datasets.iter().any(|d| &d.label == want),
                "variant '{}' names dataset '{want}', which the grid does not define",
                v.label
            );
        }
    }
    let s = &g.settings;
    let mut flags: Vec<(String, toml::Value)> = Vec::new();
    let mut add = |k: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            flags.push((k.to_string(), v));
        }
    };
    add("steps", s.steps.map(|x| toml::Value::Integer(x as i64)));
    add(
        "eval_every",
        s.eval_every.map(|x| toml::Value::Integer(x as i64)),
    );
    add(
        "eval_episodes",
        s.eval_episodes.map(|x| toml::Value::Integer(x as i64)),
    );
    add(
        "log_every",
        s.log_every.map(|x| toml::Value::Integer(x as i64)),
    );
    add(
        "agent.batch_size",
        s.batch_size.map(|x| toml::Value::Integer(x as i64)),
    );
    let mut cells = Vec::new();
    for d in &g.datasets {
        let (dataset_path, env) = dataset_and_env(d, base)?;
        for v in &g.variants {
            if !v.datasets.is_empty() && !v.datasets.contains(&d.label) {
                continue;
            }
            for &seed in &seeds {
                let name = cell_name(&v.label, &d.label, seed);
                let describe = || {
                    format!(
                        "cell {name} (dataset {}, variant {}, seed {seed})",
                        d.label, v.label
                    )
                };
                let mut sets: Vec<String> = Vec::new();
                sets.extend(s.set.iter().cloned());
                sets.extend(d.set.iter().cloned());
                sets.extend(v.set.iter().cloned());
                for kv in &sets {
                    let key = kv.split_once('=').map(|(k, _)| k.trim()).unwrap_or(kv);
                    if key == "seed" || key == "env" {
                        bail!(
                            "{}: override '{kv}' is not allowed: the {key} comes from the grid's {}",
                            describe(),
                            if key == "seed" { "seeds" } else { "dataset" }
                        );
                    }
                }
                sets.push(format!("seed={seed}"));
                let preset = match v.preset.as_deref() {
                    Some("rebrac") => Some(rebrac_preset_for(&env).with_context(|| {
                        format!(
                            "{}: ReBRAC has no preset for environment {env} (see `pars presets`)",
                            describe()
                        )
                    })?),
                    other => other.map(str::to_string),
                };
                let src = TrainSources {
                    preset,
                    env: Some(env.clone()),
                    label: Some(v.label.clone()),
                    config_file: None,
                    flags: flags.clone(),
                    sets,
                };
                let mut config = resolve_train_config(&src).with_context(describe)?;
                if d.obs_keys.is_some() {
                    config.obs_keys = d.obs_keys.clone();
                }
                cells.push(Cell {
                    name,
                    dataset: d.label.clone(),
                    variant: v.label.clone(),
                    seed,
                    dataset_path: dataset_path.clone(),
                    env: env.clone(),
                    config,
                });
            }
        }
    }
    let mut names: BTreeMap<&str, &Cell> = BTreeMap::new();
    for c in &cells {
        if let Some(other) = names.insert(&c.name, c) {
            bail!(
                "{} and {} would share the directory name {}: rename a label",
                other.describe(),
                c.describe(),
                c.name
            );
        }
    }
    Ok(Grid {
        name: name.to_string(),
        cells,
    })
}

/// A dataset entry's dataset (a path made absolute against `base`, or a Minari id as
/// given) and its evaluation environment: `env`, else the Minari dataset's own (this
/// reads the dataset's metadata).
fn dataset_and_env(d: &DatasetEntry, base: &Path) -> Result<(PathBuf, String)> {
    let path = match (&d.path, &d.id) {
        (Some(p), None) => absolute(&base.join(p)),
        (None, Some(id)) => PathBuf::from(id),
        _ => bail!(
            "dataset '{}': give exactly one of path (a file) and id (a Minari dataset id)",
            d.label
        ),
    };
    let env = match &d.env {
        Some(e) => e.clone(),
        None => crate::training::offline::dataset_environment(None, None, &path)
            .and_then(|(env, _)| env.context("it records no environment"))
            .with_context(|| {
                format!(
                    "dataset '{}': no env given and none from the dataset; set env = \"ID\"",
                    d.label
                )
            })?,
    };
    Ok((path, env))
}

/// `p` made absolute against the current directory (no symlink resolution, so a
/// missing file still gets a path for its error message).
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Check what the cells need before any of them runs: each environment builds, each
/// dataset file reads, and their observation/action sizes agree. Each problem is
/// reported with the first cell it affects.
pub fn validate_inputs(cells: &[Cell]) -> Result<()> {
    let mut envs: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in cells {
        if envs.contains_key(c.env.as_str()) {
            continue;
        }
        let env = crate::envs::make_env(&c.env)
            .with_context(|| format!("{}: environment {}", c.describe(), c.env))?;
        envs.insert(&c.env, (env.obs_dim(), env.act_dim()));
    }
    let mut seen: BTreeSet<(&Path, &str)> = BTreeSet::new();
    for c in cells {
        if !seen.insert((c.dataset_path.as_path(), c.env.as_str())) {
            continue;
        }
        let p = &c.dataset_path;
        let ctx = || format!("{}: dataset {} ({})", c.describe(), c.dataset, p.display());
        let raw =
            crate::data::read_dataset_with(p, c.config.obs_keys.as_deref()).with_context(ctx)?;
        let (o, a) = envs[c.env.as_str()];
        ensure!(
            raw.obs_dim == o && raw.act_dim == a,
            "{}: obs/action dimensions {}/{} but environment {} has {o}/{a}",
            ctx(),
            raw.obs_dim,
            raw.act_dim,
            c.env
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(text: &str) -> Result<Grid> {
        let g: GridFile = toml::from_str(text)?;
        resolve_grid(&g, "t", Path::new("/data"))
    }

    #[test]
    fn every_example_grid_resolves() {
        // the study's grids are documentation too: each must stay a valid grid
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let g = parse_grid(&path).unwrap_or_else(|e| panic!("{e:#}"));
                assert!(!g.cells.is_empty(), "{} has no cells", path.display());
                n += 1;
            }
        }
        assert!(
            n >= 10,
            "expected the study's grids in examples/, found {n}"
        );
    }

    const OK: &str = r#"
        seeds = [0, 1]
        [settings]
        steps = 100
        eval_every = 50
        set = ["agent.hidden=16"]
        [[dataset]]
        label = "umaze"
        path = "u.hdf5"
        env = "pointmaze-umaze-v0"
        [[variant]]
        label = "pars"
        preset = "pointmaze"
        [[variant]]
        label = "pars-noPA"
        preset = "pointmaze"
        set = ["agent.penalty=false"]
    "#;

    #[test]
    fn cells_are_named_and_resolved_in_file_order() {
        let g = grid(OK).unwrap();
        let names: Vec<&str> = g.cells.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pars-umaze-s0",
                "pars-umaze-s1",
                "pars-noPA-umaze-s0",
                "pars-noPA-umaze-s1"
            ]
        );
        let c = &g.cells[3];
        assert_eq!(
            (c.config.steps, c.config.eval_every, c.config.seed),
            (100, 50, 1)
        );
        assert_eq!(c.config.agent.hidden, 16);
        assert!(!c.config.agent.penalty && g.cells[0].config.agent.penalty);
        assert_eq!(c.config.algo, "pars-noPA");
        assert_eq!(c.config.env.as_deref(), Some("pointmaze-umaze-v0"));
        assert_eq!(c.dataset_path, Path::new("/data/u.hdf5"));
        // the same grid gives the same cells
        assert_eq!(grid(OK).unwrap().cells, g.cells);
        assert_eq!(cell_name("a b", "x/y", 3), "a_b-x_y-s3");
    }

    #[test]
    fn a_variant_can_be_limited_to_some_datasets() {
        let two = OK.replace(
            "[[variant]]\n        label = \"pars\"",
            "[[dataset]]\n        label = \"medium\"\n        path = \"m.hdf5\"\n        \
             env = \"pointmaze-medium-v0\"\n        [[variant]]\n        label = \"pars\"",
        );
        assert_eq!(grid(&two).unwrap().cells.len(), 8);
        let limited = two.replace(
            "set = [\"agent.penalty=false\"]",
            "set = [\"agent.penalty=false\"]\n        datasets = [\"medium\"]",
        );
        let names: Vec<String> = grid(&limited)
            .unwrap()
            .cells
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            [
                "pars-umaze-s0",
                "pars-umaze-s1",
                "pars-medium-s0",
                "pars-medium-s1",
                "pars-noPA-medium-s0",
                "pars-noPA-medium-s1"
            ]
        );
        let e = grid(&limited.replace("datasets = [\"medium\"]", "datasets = [\"large\"]"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("variant 'pars-noPA' names dataset 'large'"),
            "{e}"
        );
    }

    #[test]
    fn a_rebrac_variant_takes_each_dataset_environments_preset() {
        let text = r#"
            seeds = [0]
            [[dataset]]
            label = "hmr"
            path = "h.hdf5"
            env = "hopper-medium-replay-v2"
            [[dataset]]
            label = "wmr"
            path = "w.hdf5"
            env = "walker2d-medium-replay-v2"
            [[variant]]
            label = "rebrac"
            preset = "rebrac"
        "#;
        let g = grid(text).unwrap();
        for (cell, name) in g.cells.iter().zip([
            "rebrac-hopper-medium-replay-v2",
            "rebrac-walker2d-medium-replay-v2",
        ]) {
            let p = crate::config::presets::preset(name).unwrap();
            assert_eq!(
                (cell.config.agent.beta, cell.config.agent.beta_critic),
                (p.agent.beta, p.agent.beta_critic),
                "{name}"
            );
            assert_eq!(cell.config.agent.batch_size, p.agent.batch_size);
        }
        assert_ne!(
            g.cells[0].config.agent.beta_critic,
            g.cells[1].config.agent.beta_critic
        );
        let e = format!(
            "{:#}",
            grid(&text.replace("walker2d-medium-replay-v2", "pointmaze-umaze-v0")).unwrap_err()
        );
        assert!(
            e.contains("ReBRAC has no preset for environment pointmaze-umaze-v0"),
            "{e}"
        );
    }

    #[test]
    fn a_seed_count_means_zero_to_n() {
        let g = grid(&OK.replace("seeds = [0, 1]", "seeds = 3")).unwrap();
        assert_eq!(g.cells.len(), 6);
        assert_eq!(g.cells[2].seed, 2);
    }

    #[test]
    fn bad_cells_are_named() {
        let e = format!(
            "{:#}",
            grid(&OK.replace(
                "preset = \"pointmaze\"\n        set",
                "preset = \"nope\"\n        set"
            ))
            .unwrap_err()
        );
        assert!(
            e.contains("cell pars-noPA-umaze-s0") && e.contains("unknown preset 'nope'"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            grid(&OK.replace("agent.penalty=false", "agent.penalti=false")).unwrap_err()
        );
        assert!(
            e.contains("cell pars-noPA-umaze-s0") && e.contains("penalti"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            grid(&OK.replace("agent.penalty=false", "seed=3")).unwrap_err()
        );
        assert!(
            e.contains("cell pars-noPA-umaze-s0") && e.contains("seeds"),
            "{e}"
        );
        let e = format!("{:#}", grid(&OK.replace("pars-noPA", "pars")).unwrap_err());
        assert!(e.contains("same directory name"), "{e}");
        // variant "pars-noPA" × dataset "umaze" against variant "pars" × dataset "noPA-umaze"
        let twin = OK.replacen(
            "[[variant]]",
            "[[dataset]]\nlabel = \"noPA-umaze\"\npath = \"v.hdf5\"\nenv = \"pointmaze-umaze-v0\"\n[[variant]]",
            1,
        );
        let e = format!("{:#}", grid(&twin).unwrap_err());
        assert!(
            e.contains("share the directory name pars-noPA-umaze-s0"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            grid(&OK.replace("seeds = [0, 1]", "seeds = [1, 1]")).unwrap_err()
        );
        assert!(e.contains("seed twice"), "{e}");
        assert!(
            toml::from_str::<GridFile>(&OK.replace("[settings]", "[settings]\nstepz = 3")).is_err()
        );
    }

    #[test]
    fn unknown_environment_and_missing_dataset_are_named() {
        let mut g = grid(OK).unwrap();
        g.cells[0].env = "nowhere-v0".into();
        let e = format!("{:#}", validate_inputs(&g.cells).unwrap_err());
        assert!(
            e.contains("cell pars-umaze-s0") && e.contains("unknown environment"),
            "{e}"
        );
        let g = grid(OK).unwrap();
        let e = format!("{:#}", validate_inputs(&g.cells).unwrap_err());
        assert!(
            e.contains("cell pars-umaze-s0") && e.contains("does not exist"),
            "{e}"
        );
    }
}
