//! Every file a run directory holds, by name, in one place: the training loops, the
//! sweeps, the report and the CLI find a run's files through [`RunPaths`] and its
//! dataset through [`DatasetRecord`].
//!
//! ```text
//! <run>/config.toml            resolved offline config (online runs: online.toml)
//!       dataset.json           the dataset the run trained on (path, transitions)
//!       status.json            running / finished / failed / interrupted, step, pid
//!       metrics.csv            one row per logging interval
//!       events.out.tfevents.pars  the same rows as TensorBoard scalars (unless turned off)
//!       episodes.csv           online runs: one row per training episode
//!       final_eval.json        the last evaluation
//!       policy.safetensors     the deployable actor
//!       learning_curves.png    success.png (online goal tasks)
//!       checkpoints/actor_<step>.safetensors   the actor of every evaluation
//!       checkpoints/agent.safetensors          offline: the whole final learner
//!       checkpoints/train_state.bin            offline: resumable state (until finished)
//!       checkpoints/online_state.bin           online: resumable state (kept at the end)
//!       cell.json              a sweep's cell: its dataset, variant and seed
//! ```
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.toml";
pub const ONLINE_CONFIG_FILE: &str = "online.toml";
pub const DATASET_FILE: &str = "dataset.json";
pub const STATUS_FILE: &str = "status.json";
pub const METRICS_FILE: &str = "metrics.csv";
/// TensorBoard finds event files by "tfevents" in the name; one fixed name, rewritten
/// with the kept rows when a run resumes.
pub const TENSORBOARD_FILE: &str = "events.out.tfevents.pars";
pub const EPISODES_FILE: &str = "episodes.csv";
pub const FINAL_EVAL_FILE: &str = "final_eval.json";
pub const POLICY_FILE: &str = "policy.safetensors";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const AGENT_FILE: &str = "agent.safetensors";
pub const TRAIN_STATE_FILE: &str = "train_state.bin";
pub const ONLINE_STATE_FILE: &str = "online_state.bin";
/// A sweep cell's record (`crate::sweep`).
/// The copy of an in-memory dataset (Python's numpy arrays) an offline run trains on.
pub const DATASET_COPY_FILE: &str = "dataset.hdf5";
pub const CELL_FILE: &str = "cell.json";

/// The typed paths of one run directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunPaths {
    root: PathBuf,
}

impl RunPaths {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The offline config (`pars train`).
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }
    /// The online config (`pars finetune`, `pars online`).
    pub fn online_config(&self) -> PathBuf {
        self.root.join(ONLINE_CONFIG_FILE)
    }
    pub fn dataset_record(&self) -> PathBuf {
        self.root.join(DATASET_FILE)
    }
    pub fn dataset_copy(&self) -> PathBuf {
        self.root.join(DATASET_COPY_FILE)
    }
    pub fn status(&self) -> PathBuf {
        self.root.join(STATUS_FILE)
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join(METRICS_FILE)
    }
    /// The TensorBoard event file, next to `metrics.csv`.
    pub fn tensorboard(&self) -> PathBuf {
        self.root.join(TENSORBOARD_FILE)
    }
    pub fn episodes(&self) -> PathBuf {
        self.root.join(EPISODES_FILE)
    }
    pub fn final_eval(&self) -> PathBuf {
        self.root.join(FINAL_EVAL_FILE)
    }
    pub fn policy(&self) -> PathBuf {
        self.root.join(POLICY_FILE)
    }
    pub fn learning_curves(&self) -> PathBuf {
        self.root.join("learning_curves.png")
    }
    pub fn success_plot(&self) -> PathBuf {
        self.root.join("success.png")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS_DIR)
    }
    /// The whole final learner of an offline run (what `pars finetune` continues).
    pub fn agent(&self) -> PathBuf {
        self.checkpoints().join(AGENT_FILE)
    }
    pub fn train_state(&self) -> PathBuf {
        self.checkpoints().join(TRAIN_STATE_FILE)
    }
    pub fn online_state(&self) -> PathBuf {
        self.checkpoints().join(ONLINE_STATE_FILE)
    }
    /// The actor evaluated at `step`.
    pub fn actor_snapshot(&self, step: u64) -> PathBuf {
        self.checkpoints().join(format!("actor_{step}.safetensors"))
    }
    /// Whether the directory holds an offline run (it has `config.toml`).
    pub fn is_offline_run(&self) -> bool {
        self.config().is_file()
    }
    /// Whether the directory holds an online run (it has `online.toml`).
    pub fn is_online_run(&self) -> bool {
        self.online_config().is_file()
    }
}

/// `dataset.json`: the dataset an offline run trained on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub path: String,
    pub transitions: usize,
}

impl DatasetRecord {
    /// The record of the run in `dir`, `None` when it has none.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let p = RunPaths::new(dir).dataset_record();
        if !p.is_file() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{}: malformed {DATASET_FILE}", dir.display()))
    }

    /// The record of the run in `dir`, which must have one.
    pub fn require(dir: &Path) -> Result<Self> {
        Self::read(dir)?.with_context(|| format!("{}: no {DATASET_FILE}", dir.display()))
    }

    /// Write the record into the run directory `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        super::write_atomic(
            &RunPaths::new(dir).dataset_record(),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }

    pub fn dataset(&self) -> PathBuf {
        PathBuf::from(&self.path)
    }
}
