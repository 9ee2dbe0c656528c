//! File formats: the safetensors codec of every network file (`safetensors`), the
//! resumable-state container (`state`), TensorBoard event files (`tensorboard`), and the record pieces learners build their
//! agent files from (`record`). Learners write and read their own tensors through
//! these; which file goes where in a run directory is `crate::run::paths`.
pub mod atomic;
pub mod record;
pub mod safetensors;
pub mod state;
pub mod tensorboard;

pub use self::safetensors::{
    net_tensors, NetTensor, TensorReader, TensorWriter, AGENT_FORMAT, FORMAT_VERSION, POLICY_FORMAT,
};
pub use state::{bits, bits32, write_state, Section, StateFile};
