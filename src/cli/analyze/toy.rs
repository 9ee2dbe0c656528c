//! `pars analyze toy` and the fit flags it shares with `pars analyze ntk`.
use crate::analysis::toy::{FitOptions, ToySettings};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ToyArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/analysis-toy")]
    pub out: PathBuf,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Reward scales c (comma-separated).
    #[arg(long = "c", value_delimiter = ',', default_value = "1,10,100")]
    pub c_values: Vec<f32>,
    /// Weight of the penalty on infeasible inputs (Q_min = 0).
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f32,
    /// L of the penalty region [−2L, −L] ∪ [L, 2L] per coordinate.
    #[arg(long, default_value_t = 100.0)]
    pub infeasible_distance: f32,
    /// Heatmap cells per side (default 101, 41 with --fast).
    #[arg(long)]
    pub grid: Option<usize>,
    /// c of the activation-function comparison (Fig. 15).
    #[arg(long, default_value_t = 100.0)]
    pub activation_c: f32,
    /// Skip the split-data fits (App. D, Fig. 14).
    #[arg(long)]
    pub no_split: bool,
    /// Skip the activation-function fits (App. D, Fig. 15).
    #[arg(long)]
    pub no_activations: bool,
}

impl ToyArgs {
    pub fn into_settings(self, quiet: bool) -> ToySettings {
        ToySettings {
            out: self.out,
            fit: self.fit.into(),
            c_values: self.c_values,
            alpha: self.alpha,
            infeasible_distance: self.infeasible_distance,
            grid: self.grid,
            activation_c: self.activation_c,
            no_split: self.no_split,
            no_activations: self.no_activations,
            quiet,
        }
    }
}

/// The network and fit options shared by `analyze toy` and `analyze ntk` (the NTK maps use
/// the toy's LN fits).
#[derive(Args, Debug, Clone)]
pub struct FitArgs {
    /// Small networks, few steps, coarse grids (for tests).
    #[arg(long)]
    pub fast: bool,
    /// Hidden width (default 256, 64 with --fast).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Hidden layers.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Adam steps per fit (default 3000, 1500 with --fast).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Batch size (default 256, 128 with --fast).
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Training points (default 2000, 500 with --fast).
    #[arg(long)]
    pub n_data: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl From<FitArgs> for FitOptions {
    fn from(a: FitArgs) -> Self {
        FitOptions {
            fast: a.fast,
            hidden: a.hidden,
            depth: a.depth,
            steps: a.steps,
            batch: a.batch,
            lr: a.lr,
            n_data: a.n_data,
            seed: a.seed,
        }
    }
}
