//! The `pars` command line: the parser and one file per command (a folder for `analyze`,
//! one file per analysis). Each owns its clap arguments and turns them into the library's
//! plain settings. Commands share flags through `common` and library code, never each other.
use anyhow::Result;
use clap::{Parser, Subcommand};

mod analyze;
mod bench;
mod collect;
pub mod common;
mod data;
mod debug;
mod demo;
mod envs;
mod eval;
mod finetune;
mod online;
mod presets;
mod report;
mod sweep;
mod train;

pub use common::Output;

#[derive(Parser, Debug)]
#[command(
    name = "pars",
    version,
    about = "PARS: offline and offline-to-online RL (Penalizing infeasible Actions and Reward Scaling)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Collect a D4RL HDF5 dataset: a maze with the scripted controller, a saved
    /// policy in any environment (--policy), or an online run's replay buffer (--from-run).
    Collect(collect::CollectArgs),
    /// Train offline (PARS, TD3+BC or an ablation) on a dataset.
    Train(train::TrainArgs),
    /// Fine-tune an offline run online (exploration, mixed replay, UTD 20); resumable.
    Finetune(finetune::FinetuneArgs),
    /// Learn online from scratch (TD3, or the PARS critic with --algo pars); resumable.
    Online(online::OnlineArgs),
    /// Evaluate a saved policy in an environment.
    Eval(eval::EvalArgs),
    /// Inspect datasets.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// List the environments (id, observation and action sizes, episode limit).
    Envs {
        #[command(subcommand)]
        command: Option<envs::EnvsCommand>,
    },
    /// The hyperparameter presets: a table of what they set, or one preset's full
    /// configuration as TOML (`pars presets NAME`).
    Presets(presets::PresetsArgs),
    /// Collect a built-in maze dataset, train PARS and TD3+BC on it and compare them.
    Demo(demo::DemoArgs),
    /// Time the PARS training step and inference (see docs/speed.md).
    Bench(bench::BenchArgs),
    Debug(debug::DebugArgs),
    /// Run a grid of datasets × variants × seeds locally or on SLURM, resumably;
    /// `pars sweep status DIR` shows each cell (see docs/sweeps.md).
    Sweep(sweep::SweepArgs),
    /// Paper-style table (mean ± std over seeds), CSV, JSON and learning curves of
    /// finished runs and sweeps.
    Report(report::ReportArgs),
    /// Reproduce the paper's analyses.
    Analyze {
        #[command(subcommand)]
        command: analyze::AnalyzeCommand,
    },
    /// Print a shell completion script (e.g. `pars completions bash > ~/.local/share/bash-completion/completions/pars`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

pub fn run(cli: Cli) -> Result<()> {
    let out = cli.output;
    match cli.command {
        Command::Collect(a) => collect::run(a, &out),
        Command::Train(a) => train::run(a, &out),
        Command::Finetune(a) => finetune::run(a, &out),
        Command::Online(a) => online::run(a, &out),
        Command::Eval(a) => eval::run(a),
        Command::Data { command } => data::run(command),
        Command::Envs { command } => envs::run(command),
        Command::Presets(a) => presets::run(a),
        Command::Demo(a) => demo::run(a, &out),
        Command::Bench(a) => bench::run(a),
        Command::Debug(a) => debug::run(a, &out),
        Command::Sweep(a) => sweep::run(a, &out),
        Command::Report(a) => report::run(a, &out),
        Command::Analyze { command } => analyze::run(command, &out),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "pars", &mut std::io::stdout());
            Ok(())
        }
    }
}
