//! `pars analyze ...`: the paper's analyses as subcommands.
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum AnalyzeCommand {
    /// Toy regression with/without LN and PA (Fig. 5, App. D Figs. 14, 15).
    Toy(super::toy::ToyArgs),
    /// Normalised NTK map of the LN toy networks (Fig. 6).
    Ntk(super::ntk::NtkArgs),
    /// Critic dormant-neuron ratio vs c_reward, with and without LN (Fig. 7, Table 12).
    Dormant(super::dormant::DormantArgs),
    /// Norm of argmax_a Q(s, a) after offline SARSA vs the dataset's actions (Table 1).
    Maxq(super::maxq::MaxqArgs),
    /// LN / PA × c_reward grid and |L_I| sweep with bar charts (Figs. 9, 11).
    Ablation(super::ablation::AblationArgs),
}

pub fn run(cmd: AnalyzeCommand) -> Result<()> {
    match cmd {
        AnalyzeCommand::Toy(a) => super::toy::run(a).map(|_| ()),
        AnalyzeCommand::Ntk(a) => super::ntk::run(a).map(|_| ()),
        AnalyzeCommand::Dormant(a) => super::dormant::run(a).map(|_| ()),
        AnalyzeCommand::Maxq(a) => super::maxq::run(a).map(|_| ()),
        AnalyzeCommand::Ablation(a) => super::ablation::run(a).map(|_| ()),
    }
}
