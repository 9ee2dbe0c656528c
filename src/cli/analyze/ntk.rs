//! `pars analyze ntk`.
use super::toy::FitArgs;
use crate::analysis::ntk::NtkSettings;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct NtkArgs {
    #[arg(long, default_value = "runs/analysis-ntk")]
    pub out: PathBuf,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Reward scales c of the LN networks (comma-separated).
    #[arg(long = "c", value_delimiter = ',', default_value = "1,100")]
    pub c_values: Vec<f32>,
    /// Grid cells per side (default 101, 31 with --fast).
    #[arg(long)]
    pub grid: Option<usize>,
}

impl NtkArgs {
    pub fn into_settings(self, quiet: bool) -> NtkSettings {
        NtkSettings {
            out: self.out,
            fit: self.fit.into(),
            c_values: self.c_values,
            grid: self.grid,
            quiet,
        }
    }
}
