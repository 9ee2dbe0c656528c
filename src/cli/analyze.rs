//! `pars analyze ...`: the paper's analyses (their options live with each analysis).
use super::Output;
use crate::analysis::{ablation, dormant, maxq, ntk, toy};
use anyhow::Result;
use clap::Subcommand;

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
    let quiet = out.quiet;
    match cmd {
        AnalyzeCommand::Toy(a) => toy::run(toy::ToyArgs { quiet, ..a }).map(|_| ()),
        AnalyzeCommand::Ntk(a) => ntk::run(ntk::NtkArgs { quiet, ..a }).map(|_| ()),
        AnalyzeCommand::Dormant(mut a) => {
            a.runs.quiet = quiet;
            dormant::run(a).map(|_| ())
        }
        AnalyzeCommand::Maxq(mut a) => {
            a.runs.quiet = quiet;
            maxq::run(a).map(|_| ())
        }
        AnalyzeCommand::Ablation(mut a) => {
            a.runs.quiet = quiet;
            ablation::run(a).map(|_| ())
        }
    }
}
