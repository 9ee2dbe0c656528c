//! `pars analyze ...`: the paper's analyses. Each one's flags live in its file here
//! and become the plain settings of `crate::analysis`; `--quiet` is passed on.
use super::Output;
use crate::analysis::{DataSettings, RunSettings};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

mod ablation;
mod dormant;
mod maxq;
mod ntk;
mod toy;

#[derive(Subcommand, Debug)]
pub enum AnalyzeCommand {
    /// Toy regression with/without LN and PA (Fig. 5, App. D Figs. 14, 15).
    Toy(toy::ToyArgs),
    /// Normalised NTK map of the LN toy networks (Fig. 6).
    Ntk(ntk::NtkArgs),
    /// Critic dormant-neuron ratio vs c_reward, with and without LN (Fig. 7, Table 12).
    Dormant(dormant::DormantArgs),
    /// Norm of argmax_a Q(s, a) after offline SARSA vs the dataset's actions (Table 1).
    Maxq(maxq::MaxqArgs),
    /// LN / PA × c_reward grid and |L_I| sweep with bar charts (Figs. 9, 11).
    Ablation(ablation::AblationArgs),
}

pub fn run(cmd: AnalyzeCommand, out: &Output) -> Result<()> {
    use crate::analysis;
    let quiet = out.quiet;
    match cmd {
        AnalyzeCommand::Toy(a) => analysis::toy::run(a.into_settings(quiet)).map(|_| ()),
        AnalyzeCommand::Ntk(a) => analysis::ntk::run(a.into_settings(quiet)).map(|_| ()),
        AnalyzeCommand::Dormant(a) => analysis::dormant::run(a.into_settings(quiet)).map(|_| ()),
        AnalyzeCommand::Maxq(a) => analysis::maxq::run(a.into_settings(quiet)).map(|_| ()),
        AnalyzeCommand::Ablation(a) => analysis::ablation::run(a.into_settings(quiet)).map(|_| ()),
    }
}

/// Where an RL analysis gets its data: a dataset file, or the built-in maze data
/// collected in memory.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// D4RL or Minari HDF5 dataset; omit to collect the built-in maze dataset in memory.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Maze layout of the built-in dataset (umaze, medium, large, ultra).
    #[arg(long, default_value = "umaze")]
    pub layout: String,
    /// Rows of the built-in dataset (default 200000, 20000 with --fast).
    #[arg(long)]
    pub rows: Option<usize>,
    /// Environment for evaluation (default: the built-in maze's when no --dataset).
    #[arg(long)]
    pub env: Option<String>,
    /// Seed of the built-in dataset's collection (independent of the training seeds).
    #[arg(long, default_value_t = 0)]
    pub data_seed: u64,
}

impl From<DataArgs> for DataSettings {
    fn from(a: DataArgs) -> Self {
        DataSettings {
            dataset: a.dataset,
            layout: a.layout,
            rows: a.rows,
            env: a.env,
            data_seed: a.data_seed,
        }
    }
}

/// Options every RL analysis shares: its data, how many seeds, how long and how
/// wide its runs are, and the fast mode the tests use. Defaults differ per analysis.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Short runs with small networks (for tests).
    #[arg(long)]
    pub fast: bool,
    #[command(flatten)]
    pub data: DataArgs,
    /// Seeds per setting (seed, seed+1, ...; default 1, 3 for ablation, 1 with --fast).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Gradient steps per run (default 20000; fewer with --fast).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Hidden width (default: the preset's; small with --fast).
    #[arg(long)]
    pub hidden: Option<usize>,
}

impl RunArgs {
    pub fn into_settings(self, quiet: bool) -> RunSettings {
        RunSettings {
            fast: self.fast,
            data: self.data.into(),
            seeds: self.seeds,
            seed: self.seed,
            steps: self.steps,
            hidden: self.hidden,
            quiet,
        }
    }
}
