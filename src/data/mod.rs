//! Datasets: D4RL/Minari HDF5 files, transition building, replay sampling.
pub mod d4rl;
pub mod minari;
pub mod replay;

pub use d4rl::{clip_actions, read_d4rl, summarize, write_d4rl, DatasetSummary, RawDataset};
pub use minari::{read_dataset, read_minari};
pub use replay::{Batch, ReplayBuffer, Transitions};

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
