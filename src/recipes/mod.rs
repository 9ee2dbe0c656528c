//! D4RL-style datasets rebuilt with the project's own tools (SPEC §9). D4RL's files
//! cannot be downloaded here, but they were made by simple recipes on the same
//! simulators: a randomly initialised policy (`random`), a policy trained online to
//! about a third of the expert's return and rolled out with noise (`medium`), and that
//! training run's replay buffer (`medium-replay`); for AntMaze, a goal-reaching ant
//! driven through the maze by a waypoint planner. Each recipe rebuilds its file from a
//! seed; the behaviour policies are built into the binary (`data/behaviour/`), so a
//! dataset takes minutes, not the hours of training behind it.
//!
//! `scripted` makes the point-maze datasets with a scripted waypoint controller, and
//! rolls any policy out into a dataset (`rollout_policy`, used by the recipes too).
use crate::algos::pars::actor_spec;
use crate::algos::Agent;
use crate::config::online::scratch_config;
use crate::config::{AgentConfig, OnlineAlgo};
use crate::data::RawDataset;
use crate::envs::make_env;
use crate::nn::{EnsembleMlp, Init};
use crate::policy::Policy;
use crate::training::OnlineRun;
use anyhow::{bail, ensure, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scripted::rollout_policy;

#[cfg(feature = "mujoco")]
mod antmaze;
pub mod scripted;

/// σ of the Gaussian noise on the random policy's actions: a randomly initialised
/// network alone moves little; SAC's initial policy (what D4RL rolled out) samples
/// with a standard deviation near 1 before its tanh.
pub const RANDOM_NOISE: f32 = 0.5;
/// σ of the medium policy's action noise: D4RL sampled its SAC policies stochastically,
/// which covers far more actions than a deterministic policy plus small noise.
pub const MEDIUM_NOISE: f32 = 0.3;

/// How a medium behaviour policy was trained (the recipe of `medium-replay` reruns it).
#[derive(Clone, Copy, Debug)]
pub struct Behaviour {
    pub env: &'static str,
    pub algo: OnlineAlgo,
    /// Environment steps of the training run (it reached the medium level here).
    pub steps: u64,
    pub random_steps: u64,
    pub seed: u64,
    /// Evaluation return of the saved policy (its run's evaluation, deterministic).
    pub eval_return: f64,
    /// The saved policy (that evaluation's `checkpoints/actor_<step>.safetensors`).
    pub policy: &'static [u8],
}

/// Hopper: TD3 (`pars online --env hopper-v2 --algo td3 --random-steps 10000
/// --learning-starts 10000 --seed 2`), the actor of its first evaluation at or above a
/// third of D4RL's expert return (1078): 1134 at 200k environment steps, a hop forward
/// that falls after ~340 steps (an earlier 10k-step policy reached it by standing still).
pub const HOPPER_MEDIUM: Behaviour = Behaviour {
    env: "hopper-v2",
    algo: OnlineAlgo::Td3,
    steps: 200_000,
    random_steps: 10_000,
    seed: 2,
    eval_return: 1133.6,
    policy: include_bytes!("../../data/behaviour/hopper-medium.safetensors"),
};

/// HalfCheetah: TD3 (`pars online --env halfcheetah-v2 --algo td3 --random-steps 10000
/// --learning-starts 10000 --seed 0`), the actor of its first evaluation at or above a
/// third of D4RL's expert return (4045): 4162 at 140k environment steps.
pub const HALFCHEETAH_MEDIUM: Behaviour = Behaviour {
    env: "halfcheetah-v2",
    algo: OnlineAlgo::Td3,
    steps: 140_000,
    random_steps: 10_000,
    seed: 0,
    eval_return: 4162.0,
    policy: include_bytes!("../../data/behaviour/halfcheetah-medium.safetensors"),
};

/// Walker2d: TD3 (`pars online --env walker2d-v2 --algo td3 --random-steps 10000
/// --learning-starts 10000 --seed 3`), the actor of its first evaluation at or above a
/// third of D4RL's expert return (1531): 2146 at 295k environment steps.
pub const WALKER2D_MEDIUM: Behaviour = Behaviour {
    env: "walker2d-v2",
    algo: OnlineAlgo::Td3,
    steps: 295_000,
    random_steps: 10_000,
    seed: 3,
    eval_return: 2146.2,
    policy: include_bytes!("../../data/behaviour/walker2d-medium.safetensors"),
};

/// The goal-reaching ant behind the AntMaze recipes: TD3 in the open arena `antgoal-v0`
/// (`pars online --env antgoal-v0 --algo td3 --random-steps 10000 --learning-starts 10000
/// --seed 0`), the actor of its 80k-step evaluation: in the maze it flipped over least
/// often of the actors at 80k and 100k steps (docs/study.md).
pub const ANT_GOAL: Behaviour = Behaviour {
    env: "antgoal-v0",
    algo: OnlineAlgo::Td3,
    steps: 80_000,
    random_steps: 10_000,
    seed: 0,
    eval_return: 276.9,
    policy: include_bytes!("../../data/behaviour/antgoal.safetensors"),
};

/// A SAC actor (with its log-std head) from a run of `pars online --algo sac --env <env>
/// --steps 1000000 --seed 0 --eval-every 10000 --set agent.init=pytorch`, rolled out with
/// sampled actions as D4RL's `collect_data.py` did (docs/study.md, "SAC behaviour
/// policies").
#[derive(Clone, Copy, Debug)]
pub struct SacActor {
    /// Environment step of the checkpoint.
    pub step: u64,
    /// Its run's evaluation return (deterministic actions).
    pub eval_return: f64,
    pub policy: &'static [u8],
}

/// Hopper's expert: the best evaluation of its run.
pub const HOPPER_SAC_EXPERT: SacActor = SacActor {
    step: 890_000,
    eval_return: 3558.6,
    policy: include_bytes!("../../data/behaviour/hopper-sac-expert.safetensors"),
};

/// Walker2d's expert: the best evaluation of its run (above D4RL's expert reference).
pub const WALKER2D_SAC_EXPERT: SacActor = SacActor {
    step: 990_000,
    eval_return: 4815.3,
    policy: include_bytes!("../../data/behaviour/walker2d-sac-expert.safetensors"),
};

/// HalfCheetah's expert: the best evaluation of its run (nearly flat from 900k).
pub const HALFCHEETAH_SAC_EXPERT: SacActor = SacActor {
    step: 990_000,
    eval_return: 11334.3,
    policy: include_bytes!("../../data/behaviour/halfcheetah-sac-expert.safetensors"),
};

/// How an AntMaze dataset picks its starts and commanded goals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goals {
    /// `antmaze-umaze`: from the start cell to the evaluation goal, then around it.
    Single,
    /// `play`: hand-picked start and goal cells.
    Play,
    /// `diverse`: random start and goal cells.
    Diverse,
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Random,
    Medium(Behaviour),
    MediumReplay(Behaviour),
    /// A SAC actor's sampled actions, no added noise (`<env>-expert`).
    Sampled(SacActor),
    /// The goal-reaching ant driven through a maze by a waypoint planner.
    AntMaze(Goals),
}

#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    pub name: &'static str,
    pub env: &'static str,
    pub kind: Kind,
    /// Rows when `--steps` is not given (D4RL: 1M; medium-replay: the whole buffer).
    pub default_rows: usize,
}

pub const RECIPES: [Recipe; 18] = [
    Recipe {
        name: "hopper-random",
        env: "hopper-v2",
        kind: Kind::Random,
        default_rows: 1_000_000,
    },
    Recipe {
        name: "walker2d-random",
        env: "walker2d-v2",
        kind: Kind::Random,
        default_rows: 1_000_000,
    },
    Recipe {
        name: "halfcheetah-random",
        env: "halfcheetah-v2",
        kind: Kind::Random,
        default_rows: 1_000_000,
    },
    Recipe {
        name: "hopper-medium",
        env: "hopper-v2",
        kind: Kind::Medium(HOPPER_MEDIUM),
        default_rows: 1_000_000,
    },
    Recipe {
        name: "hopper-medium-replay",
        env: "hopper-v2",
        kind: Kind::MediumReplay(HOPPER_MEDIUM),
        default_rows: HOPPER_MEDIUM.steps as usize,
    },
    Recipe {
        name: "walker2d-medium",
        env: "walker2d-v2",
        kind: Kind::Medium(WALKER2D_MEDIUM),
        default_rows: 1_000_000,
    },
    Recipe {
        name: "walker2d-medium-replay",
        env: "walker2d-v2",
        kind: Kind::MediumReplay(WALKER2D_MEDIUM),
        default_rows: WALKER2D_MEDIUM.steps as usize,
    },
    Recipe {
        name: "halfcheetah-medium",
        env: "halfcheetah-v2",
        kind: Kind::Medium(HALFCHEETAH_MEDIUM),
        default_rows: 1_000_000,
    },
    Recipe {
        name: "halfcheetah-medium-replay",
        env: "halfcheetah-v2",
        kind: Kind::MediumReplay(HALFCHEETAH_MEDIUM),
        default_rows: HALFCHEETAH_MEDIUM.steps as usize,
    },
    Recipe {
        name: "hopper-expert",
        env: "hopper-v2",
        kind: Kind::Sampled(HOPPER_SAC_EXPERT),
        default_rows: 1_000_000,
    },
    Recipe {
        name: "walker2d-expert",
        env: "walker2d-v2",
        kind: Kind::Sampled(WALKER2D_SAC_EXPERT),
        default_rows: 1_000_000,
    },
    Recipe {
        name: "halfcheetah-expert",
        env: "halfcheetah-v2",
        kind: Kind::Sampled(HALFCHEETAH_SAC_EXPERT),
        default_rows: 1_000_000,
    },
    antmaze("antmaze-umaze", "antmaze-umaze-v2", Goals::Single),
    antmaze("antmaze-umaze-diverse", "antmaze-umaze-v2", Goals::Diverse),
    antmaze("antmaze-medium-play", "antmaze-medium-v2", Goals::Play),
    antmaze(
        "antmaze-medium-diverse",
        "antmaze-medium-v2",
        Goals::Diverse,
    ),
    antmaze("antmaze-large-play", "antmaze-large-v2", Goals::Play),
    antmaze("antmaze-large-diverse", "antmaze-large-v2", Goals::Diverse),
];

const fn antmaze(name: &'static str, env: &'static str, goals: Goals) -> Recipe {
    Recipe {
        name,
        env,
        kind: Kind::AntMaze(goals),
        default_rows: 1_000_000,
    }
}

/// Episodes (split at timeouts only: in AntMaze data a terminal does not end the walk),
/// how many of them reach the evaluation goal, and the rows with reward 1.
pub fn goal_summary(ds: &RawDataset) -> (usize, usize, usize) {
    let (mut episodes, mut reached, mut hit) = (0, 0, false);
    for (i, &r) in ds.rewards.iter().enumerate() {
        hit |= r > 0.0;
        if ds.timeouts[i] || i + 1 == ds.rewards.len() {
            episodes += 1;
            reached += hit as usize;
            hit = false;
        }
    }
    let rows = ds.rewards.iter().filter(|&&r| r > 0.0).count();
    (episodes, reached, rows)
}

/// The recipe called `name` (a `-v2` suffix is accepted).
pub fn recipe(name: &str) -> Result<Recipe> {
    let n = name.trim().to_ascii_lowercase();
    let n = n.strip_suffix("-v2").unwrap_or(&n);
    RECIPES
        .iter()
        .find(|r| r.name == n)
        .copied()
        .with_context(|| {
            format!(
                "unknown recipe '{name}'; known: {}",
                RECIPES
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Build the dataset of `recipe` with `rows` rows (default: the recipe's), from `seed`.
/// For `medium-replay`, `rows` may only shorten the training run whose buffer it is.
pub fn build(
    recipe: &Recipe,
    rows: Option<usize>,
    seed: u64,
    show_progress: bool,
) -> Result<RawDataset> {
    let rows = rows.unwrap_or(recipe.default_rows);
    ensure!(rows > 0, "option --steps must be positive");
    if let Kind::AntMaze(goals) = recipe.kind {
        #[cfg(feature = "mujoco")]
        return antmaze::build(
            recipe.env,
            goals,
            ANT_GOAL.policy,
            rows,
            seed,
            show_progress,
        );
        #[cfg(not(feature = "mujoco"))]
        bail!(
            "{} runs on MuJoCo, but this build has no MuJoCo (goals {goals:?})",
            recipe.name
        );
    }
    let mut env = make_env(recipe.env)?;
    match recipe.kind {
        Kind::Random => {
            // a freshly initialised actor (PyTorch's default init, as an untrained SAC)
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7A4D_0417);
            let spec = actor_spec(&AgentConfig::default(), env.obs_dim(), env.act_dim());
            let mut policy = Policy::new(EnsembleMlp::new_with(spec, 1, Init::Pytorch, &mut rng));
            let noise = Normal::new(0.0, RANDOM_NOISE)?;
            rollout_policy(
                env.as_mut(),
                |o| {
                    let mut a = policy.act(o).to_vec();
                    for x in &mut a {
                        *x += noise.sample(&mut rng);
                    }
                    a
                },
                rows,
                0.0,
                seed,
            )
        }
        Kind::Medium(b) => {
            let mut policy = Policy::from_bytes(
                &format!("{} behaviour policy", recipe.name),
                b.policy.to_vec(),
            )?;
            rollout_policy(
                env.as_mut(),
                |o| policy.act(o).to_vec(),
                rows,
                MEDIUM_NOISE,
                seed,
            )
        }
        Kind::Sampled(actor) => {
            let mut policy = Policy::from_bytes(
                &format!("{} behaviour policy", recipe.name),
                actor.policy.to_vec(),
            )?;
            scripted::rollout_sampled(env.as_mut(), &mut policy, rows, 0.0, seed)
        }
        Kind::MediumReplay(b) => {
            ensure!(
                rows <= b.steps as usize,
                "{} holds the {} steps of its training run; --steps can only shorten it",
                recipe.name,
                b.steps
            );
            if seed != 0 {
                bail!(
                    "{} is the replay buffer of one training run (seed {}); it takes no --seed",
                    recipe.name,
                    b.seed
                );
            }
            replay_of_training(&b, rows as u64, show_progress)
        }
        Kind::AntMaze(_) => unreachable!("handled above"),
    }
}

/// Rerun the behaviour policy's online training for `steps` environment steps and
/// return its replay buffer (oldest row first).
fn replay_of_training(b: &Behaviour, steps: u64, show_progress: bool) -> Result<RawDataset> {
    let (mut cfg, _) = scratch_config(b.algo, None, None, b.env)?;
    cfg.steps = steps;
    cfg.seed = b.seed;
    cfg.random_steps = b.random_steps;
    cfg.learning_starts = b.random_steps;
    cfg.eval_every = 0;
    cfg.checkpoint_every = 0;
    let mut env = make_env(b.env)?;
    let agent = Agent::new(
        cfg.agent.clone(),
        env.obs_dim(),
        env.act_dim(),
        cfg.agent.resolve_q_min(0.0),
        cfg.steps,
        cfg.seed,
    );
    let mut run = OnlineRun::new(cfg, Box::new(agent), None)?;
    run.run(env.as_mut(), None, None, u64::MAX, show_progress)?
        .finished()?;
    run.replay_raw()
}
