//! Datasets: D4RL/Minari HDF5 files, transition building, replay sampling.
pub mod d4rl;
pub mod dataset;
pub mod minari;
pub mod replay;

pub use d4rl::{read_d4rl, write_d4rl};
pub use dataset::{clip_actions, summarize, Batch, DatasetSummary, RawDataset, Transitions};
pub use minari::{read_dataset, read_minari};
pub use replay::ReplayBuffer;

use anyhow::{Context, Result};
use std::path::Path;

/// Load a dataset for training: read either format, clip out-of-box actions (one
/// warning with the count), build transitions.
pub fn load_transitions(path: &Path) -> Result<(RawDataset, Transitions)> {
    let mut raw = read_dataset(path)?;
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
