//! `pars analyze maxq`.
use super::RunArgs;
use crate::analysis::maxq::MaxqSettings;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct MaxqArgs {
    #[arg(long, default_value = "runs/analysis-maxq")]
    pub out: PathBuf,
    #[command(flatten)]
    pub runs: RunArgs,
    /// Preset giving the critic's shape, γ, α and L.
    #[arg(long, default_value = "pointmaze")]
    pub preset: String,
    /// Critic variants: none, ln, ln_pa (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "none,ln,ln_pa")]
    pub variants: Vec<String>,
    /// c_reward of the SARSA targets.
    #[arg(long, default_value_t = 1.0)]
    pub reward_scale: f32,
    /// Critic ensemble size (Q = mean over members).
    #[arg(long, default_value_t = 2)]
    pub n_critics: usize,
    /// Dataset states searched (default 1000, 64 with --fast).
    #[arg(long)]
    pub states: Option<usize>,
    /// Random starts per state.
    #[arg(long, default_value_t = 8)]
    pub starts: usize,
    /// Gradient-ascent steps (Adam on the action, clipped to the box after each).
    #[arg(long)]
    pub ascent_steps: Option<usize>,
    #[arg(long, default_value_t = 0.05)]
    pub ascent_lr: f32,
}

impl MaxqArgs {
    pub fn into_settings(self, quiet: bool) -> MaxqSettings {
        MaxqSettings {
            out: self.out,
            runs: self.runs.into_settings(quiet),
            preset: self.preset,
            variants: self.variants,
            reward_scale: self.reward_scale,
            n_critics: self.n_critics,
            states: self.states,
            starts: self.starts,
            ascent_steps: self.ascent_steps,
            ascent_lr: self.ascent_lr,
        }
    }
}
