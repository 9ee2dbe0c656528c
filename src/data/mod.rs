//! Datasets: D4RL/Minari HDF5 files, transition building, replay sampling.
pub mod d4rl;
pub mod minari;
pub mod replay;

pub use d4rl::{clip_actions, read_d4rl, summarize, write_d4rl, DatasetSummary, RawDataset};
pub use minari::{read_dataset, read_minari};
pub use replay::{Batch, ReplayBuffer, Transitions};
