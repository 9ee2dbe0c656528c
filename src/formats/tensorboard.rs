//! TensorBoard event files: the rows of `metrics.csv` as scalars, so `tensorboard
//! --logdir runs` shows every run. The record framing and protobuf come from the
//! `syntaxdot-summary` crate; this wraps it with our error messages and flushing.
use anyhow::{Context, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use syntaxdot_summary::SummaryWriter;

pub struct EventLog {
    path: PathBuf,
    writer: SummaryWriter<BufWriter<File>>,
}

impl EventLog {
    /// Create (or truncate) the event file at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let writer = SummaryWriter::new(BufWriter::new(file))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// One scalar per `(tag, value)` at `step` (TensorBoard stores float32).
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        for (tag, v) in values {
            self.writer
                .write_scalar(*tag, step as i64, *v as f32)
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        Ok(())
    }
}
