//! Datasets: D4RL/Minari HDF5 files (by path, Minari directory or Minari id), transition
//! building, replay sampling.
pub mod d4rl;
pub mod dataset;
pub mod locate;
pub mod minari;
pub mod minari_writer;
pub mod replay;

pub use d4rl::{read_d4rl, write_d4rl};
pub use dataset::{
    clip_actions, summarize, summarize_with, Batch, DatasetSummary, RawDataset, Transitions,
};
pub use locate::{dataset_file, dataset_label, MinariMetadata};
pub use minari::{default_obs_keys, read_dataset, read_dataset_with, read_minari};
pub use minari_writer::{write_minari, MinariInfo};
pub use replay::ReplayBuffer;

use anyhow::{Context, Result};
use std::path::Path;

/// Load a dataset for training: read either format, clip out-of-box actions (one
/// warning with the count), build transitions.
pub fn load_transitions(path: &Path) -> Result<(RawDataset, Transitions)> {
    load_transitions_with(path, None)
}

/// `load_transitions` with the keys a Minari dict observation is flattened from.
pub fn load_transitions_with(
    path: &Path,
    obs_keys: Option<&[String]>,
) -> Result<(RawDataset, Transitions)> {
    let mut raw = read_dataset_with(path, obs_keys)?;
    let clipped = clip_actions(&mut raw);
    if clipped > 0 {
        tracing::warn!(
            "{}: {clipped} action values lay outside [-1, 1] and were clipped",
            path.display()
        );
    }
    let tr = Transitions::from_raw(&raw)
        .with_context(|| format!("{}: cannot build transitions", path.display()))?;
    Ok((raw, tr))
}

/// Turn off HDF5's advisory file locking (unless the user set `HDF5_USE_FILE_LOCKING`).
/// Files are read whole and written under a temporary name, so the lock protects
/// nothing here, while a lock held through a descriptor inherited by a child process
/// makes an unrelated open fail with "unable to lock file".
pub(crate) fn disable_file_locking() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("HDF5_USE_FILE_LOCKING").is_none() {
            std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE");
        }
    });
}
