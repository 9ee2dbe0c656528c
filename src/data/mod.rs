//! Datasets: D4RL-format HDF5 files, transition building, replay sampling.
pub mod d4rl;
pub mod replay;

pub use d4rl::{read_d4rl, write_d4rl, RawDataset};
pub use replay::{Batch, Transitions};
