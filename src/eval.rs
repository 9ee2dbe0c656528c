//! Policy evaluation and D4RL normalised scores.
use crate::algos::Learner;
use crate::envs::Env;
use crate::nn::EnsembleMlp;
use crate::policy::Policy;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Evaluation episodes use these seeds (offset by the episode index), so every
/// evaluation of a run sees the same start states.
pub const EVAL_SEED: u64 = 1_000_003;

/// Evaluate a learner's deterministic actor.
pub fn eval_learner(
    learner: &dyn Learner,
    env: &mut dyn Env,
    episodes: usize,
) -> Result<EvalResult> {
    eval_actor(learner.actor(), env, episodes)
}

/// Evaluate a deterministic actor (PARS's actor, IQL's mean network).
pub fn eval_actor(actor: &EnsembleMlp, env: &mut dyn Env, episodes: usize) -> Result<EvalResult> {
    let mut policy = Policy::new(actor.clone());
    evaluate(env, |o| policy.act(o).to_vec(), episodes, EVAL_SEED)
}

/// D4RL reference returns (random, expert) per task family (SPEC §5).
pub fn reference_returns(env_id: &str) -> Option<(f64, f64)> {
    let id = env_id.to_ascii_lowercase();
    let table: [(&str, f64, f64); 9] = [
        ("halfcheetah", -280.178953, 12135.0),
        ("hopper", -20.272305, 3234.3),
        ("walker2d", 1.629008, 4592.3),
        ("antmaze", 0.0, 1.0),
        ("pointmaze", 0.0, 1.0),
        ("pen", 96.262799, 3076.8331),
        ("door", -56.512833, 2880.5693),
        ("hammer", -274.856578, 12794.1348),
        ("relocate", -6.425911, 4233.8778),
    ];
    table
        .iter()
        .find(|(k, _, _)| id.starts_with(k))
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// 100 · (return − random) / (expert − random); the raw return when unknown.
pub fn normalized_score(env_id: &str, ret: f64) -> f64 {
    match reference_returns(env_id) {
        Some((lo, hi)) => 100.0 * (ret - lo) / (hi - lo),
        None => ret,
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalResult {
    pub episodes: usize,
    pub mean_return: f64,
    pub std_return: f64,
    pub mean_score: f64,
    pub std_score: f64,
    /// Fraction of episodes that reached the goal (goal tasks only).
    pub success_rate: Option<f64>,
    pub mean_length: f64,
}

/// Run `episodes` episodes of `policy` (seeds seed, seed+1, ...).
pub fn evaluate<F: FnMut(&[f32]) -> Vec<f32>>(
    env: &mut dyn Env,
    policy: F,
    episodes: usize,
    seed: u64,
) -> Result<EvalResult> {
    Ok(run_episodes(env, policy, episodes, seed)?.summary())
}

/// The episodes of one evaluation, one entry each.
#[derive(Clone, Debug, Default)]
pub struct Episodes {
    pub env_id: String,
    /// (random, expert) returns that normalise the scores; None: D4RL's for `env_id`.
    pub reference: Option<(f64, f64)>,
    pub returns: Vec<f64>,
    /// Goal tasks only: 1 where the goal was reached.
    pub successes: Vec<f64>,
    pub lengths: Vec<usize>,
}

impl Episodes {
    /// D4RL normalised score of each episode.
    pub fn scores(&self) -> Vec<f64> {
        self.returns
            .iter()
            .map(|r| match self.reference {
                Some((lo, hi)) => 100.0 * (r - lo) / (hi - lo),
                None => normalized_score(&self.env_id, *r),
            })
            .collect()
    }

    pub fn summary(&self) -> EvalResult {
        let (mean_return, std_return) = mean_std(&self.returns);
        let (mean_score, std_score) = mean_std(&self.scores());
        let episodes = self.returns.len();
        EvalResult {
            episodes,
            mean_return,
            std_return,
            mean_score,
            std_score,
            success_rate: if self.successes.is_empty() {
                None
            } else {
                Some(mean_std(&self.successes).0)
            },
            mean_length: self.lengths.iter().sum::<usize>() as f64 / episodes.max(1) as f64,
        }
    }
}

/// `evaluate`'s episodes, kept one by one.
pub fn run_episodes<F: FnMut(&[f32]) -> Vec<f32>>(
    env: &mut dyn Env,
    mut policy: F,
    episodes: usize,
    seed: u64,
) -> Result<Episodes> {
    let mut out = Episodes {
        env_id: env.id().to_string(),
        reference: env.reference_returns(),
        ..Episodes::default()
    };
    for ep in 0..episodes {
        let mut obs = env.reset(seed.wrapping_add(ep as u64));
        let mut ret = 0.0f64;
        let mut len = 0usize;
        for _ in 0..env.max_episode_steps() {
            let a = policy(&obs);
            let step = env.step(&a)?;
            ret += step.reward as f64;
            len += 1;
            obs = step.obs;
            if step.terminated || step.truncated {
                break;
            }
        }
        out.returns.push(ret);
        out.lengths.push(len);
        if let Some(s) = env.success() {
            out.successes.push(if s { 1.0 } else { 0.0 });
        }
    }
    Ok(out)
}

pub fn mean_std(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64;
    (m, v.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_scores_use_d4rl_references() {
        assert!((normalized_score("hopper-medium-v2", 3234.3) - 100.0).abs() < 1e-9);
        assert!(normalized_score("hopper-medium-v2", -20.272305).abs() < 1e-9);
        assert!((normalized_score("antmaze-umaze-v2", 1.0) - 100.0).abs() < 1e-9);
        assert!((normalized_score("halfcheetah-medium-v2", 5927.41) - 50.0).abs() < 1e-3);
        assert_eq!(normalized_score("unknown-task", 3.5), 3.5);
    }

    #[test]
    fn mean_std_of_known_values() {
        let (m, s) = mean_std(&[1.0, 3.0]);
        assert_eq!((m, s), (2.0, 1.0));
    }
}
