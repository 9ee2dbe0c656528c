//! D4RL-style datasets rebuilt with the project's own tools (SPEC §9). D4RL's files
//! cannot be downloaded here, but they were made by simple recipes on the same
//! simulators, which we follow (D4RL's `scripts/generation/mujoco/`): uniform random
//! actions (`random`), a SAC policy stopped part-way through training and a fully trained
//! one rolled out with *sampled* actions (`medium`, `expert`), that training run's replay
//! buffer up to the medium policy (`medium-replay`) and medium then expert rows
//! (`medium-expert`); for AntMaze, a goal-reaching ant driven through the maze by a
//! waypoint planner. The study's first files, on deterministic TD3 policies plus noise,
//! stay as `-medium-td3`, `-medium-replay-td3` and `-random-net`. Each recipe rebuilds its
//! file from a seed; the behaviour policies are built into the binary
//! (`data/behaviour/`), so a dataset takes minutes, not the hours of training behind it.
//!
//! `scripted` makes the point-maze datasets with a scripted waypoint controller, and
//! rolls any policy out into a dataset (`rollout_policy`, used by the recipes too).
use crate::algos::new_online_learner;
use crate::algos::pars::actor_spec;
use crate::config::online::scratch_config;
use crate::config::{AgentConfig, OnlineAlgo};
use crate::data::RawDataset;
use crate::envs::make_env;
use crate::nn::{EnsembleMlp, Init};
use crate::policy::Policy;
use crate::training::OnlineRun;
use anyhow::{bail, ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scripted::rollout_policy;

#[cfg(feature = "mujoco")]
mod antmaze;
pub mod scripted;

/// σ of the Gaussian noise on the random network's actions (`-random-net`): a randomly
/// initialised network alone moves little. (D4RL's random files used uniform actions,
/// which `-random` follows.)
pub const RANDOM_NOISE: f32 = 0.5;
/// σ of the TD3 medium policy's action noise (`-medium-td3`): D4RL sampled its SAC
/// policies, which covers far more actions than a deterministic policy plus small noise.
pub const MEDIUM_NOISE: f32 = 0.3;

/// A behaviour policy and the training run it came from (`medium-replay` reruns the run).
#[derive(Clone, Copy, Debug)]
pub struct Behaviour {
    pub env: &'static str,
    pub algo: OnlineAlgo,
    /// Environment steps of the training run when the policy was saved.
    pub steps: u64,
    pub random_steps: u64,
    pub seed: u64,
    /// The run's initialisation when not its preset's (`--set agent.init=pytorch`).
    pub init: Option<Init>,
    /// Evaluation return of the saved policy (its run's evaluation, deterministic).
    pub eval_return: f64,
    /// The saved policy (that evaluation's `checkpoints/actor_<step>.safetensors`).
    pub policy: &'static [u8],
}

/// The TD3 runs behind the `-td3` recipes: `pars online --env <env> --algo td3
/// --random-steps 10000 --learning-starts 10000 --seed S`.
const fn td3(
    env: &'static str,
    steps: u64,
    seed: u64,
    eval_return: f64,
    policy: &'static [u8],
) -> Behaviour {
    Behaviour {
        env,
        algo: OnlineAlgo::Td3,
        steps,
        random_steps: 10_000,
        seed,
        init: None,
        eval_return,
        policy,
    }
}

/// The SAC runs behind D4RL's kind of data: `pars online --algo sac --env <env> --steps
/// 1000000 --seed 0 --eval-every 10000 --set agent.init=pytorch` (docs/study.md, "SAC
/// behaviour policies"); the actors keep their log-std heads and act with samples.
const fn sac(env: &'static str, steps: u64, eval_return: f64, policy: &'static [u8]) -> Behaviour {
    Behaviour {
        env,
        algo: OnlineAlgo::Sac,
        steps,
        random_steps: 10_000,
        seed: 0,
        init: Some(Init::Pytorch),
        eval_return,
        policy,
    }
}

/// Hopper (TD3, seed 2): the actor of its first evaluation at or above a third of D4RL's
/// expert return (1078): 1134 at 200k environment steps, a hop forward that falls after
/// ~340 steps (an earlier 10k-step policy reached it by standing still).
pub const HOPPER_TD3: Behaviour = td3(
    "hopper-v2",
    200_000,
    2,
    1133.6,
    include_bytes!("../../data/behaviour/hopper-td3-medium.safetensors"),
);

/// HalfCheetah (TD3, seed 0): the actor of its first evaluation at or above a third of
/// D4RL's expert return (4045): 4162 at 140k environment steps.
pub const HALFCHEETAH_TD3: Behaviour = td3(
    "halfcheetah-v2",
    140_000,
    0,
    4162.0,
    include_bytes!("../../data/behaviour/halfcheetah-td3-medium.safetensors"),
);

/// Walker2d (TD3, seed 3): the actor of its first evaluation at or above a third of
/// D4RL's expert return (1531): 2146 at 295k environment steps.
pub const WALKER2D_TD3: Behaviour = td3(
    "walker2d-v2",
    295_000,
    3,
    2146.2,
    include_bytes!("../../data/behaviour/walker2d-td3-medium.safetensors"),
);

/// The goal-reaching ant behind the AntMaze recipes: TD3 in the open arena `antgoal-v0`,
/// the actor of its 80k-step evaluation: in the maze it flipped over least often of the
/// actors at 80k and 100k steps (docs/study.md).
pub const ANT_GOAL: Behaviour = td3(
    "antgoal-v0",
    80_000,
    0,
    276.9,
    include_bytes!("../../data/behaviour/antgoal.safetensors"),
);

// The SAC medium actors: the checkpoint whose sampled rollout (50k rows, seed 0) averages
// closest to D4RL's own medium file (docs/study.md gives the search and the numbers).

/// Hopper's medium: sampled 1 352 (123 episodes) vs D4RL's 1 422 (109 per 50k rows).
pub const HOPPER_SAC_MEDIUM: Behaviour = sac(
    "hopper-v2",
    220_000,
    1434.1,
    include_bytes!("../../data/behaviour/hopper-sac-medium.safetensors"),
);

/// Walker2d's medium: sampled 2 886 (59 episodes) vs D4RL's 2 852 (1 191 per 1M rows).
pub const WALKER2D_SAC_MEDIUM: Behaviour = sac(
    "walker2d-v2",
    290_000,
    2479.4,
    include_bytes!("../../data/behaviour/walker2d-sac-medium.safetensors"),
);

/// HalfCheetah's medium: sampled 4 874 vs D4RL's 4 770.
pub const HALFCHEETAH_SAC_MEDIUM: Behaviour = sac(
    "halfcheetah-v2",
    100_000,
    5049.9,
    include_bytes!("../../data/behaviour/halfcheetah-sac-medium.safetensors"),
);

/// Hopper's expert: the best evaluation of its run.
pub const HOPPER_SAC_EXPERT: Behaviour = sac(
    "hopper-v2",
    890_000,
    3558.6,
    include_bytes!("../../data/behaviour/hopper-sac-expert.safetensors"),
);

/// Walker2d's expert: the best evaluation of its run (above D4RL's expert reference).
pub const WALKER2D_SAC_EXPERT: Behaviour = sac(
    "walker2d-v2",
    990_000,
    4815.3,
    include_bytes!("../../data/behaviour/walker2d-sac-expert.safetensors"),
);

/// HalfCheetah's expert: the best evaluation of its run (nearly flat from 900k).
pub const HALFCHEETAH_SAC_EXPERT: Behaviour = sac(
    "halfcheetah-v2",
    990_000,
    11334.3,
    include_bytes!("../../data/behaviour/halfcheetah-sac-expert.safetensors"),
);

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
    /// Uniform actions in the box, as D4RL's `collect_data.py --random`
    /// (`env.action_space.sample()`).
    Uniform,
    /// A randomly initialised actor plus noise (`<env>-random-net`, the study's first
    /// random data).
    RandomNetwork,
    /// A deterministic actor plus `MEDIUM_NOISE` (`<env>-medium-td3`).
    Noisy(Behaviour),
    /// The replay buffer of the policy's training run up to the policy's step.
    MediumReplay(Behaviour),
    /// A SAC actor's sampled actions, no added noise (`<env>-medium`, `<env>-expert`).
    Sampled(Behaviour),
    /// D4RL's `stitch_dataset.py`: the medium rows cut after their last complete episode,
    /// then the expert rows (half the rows each).
    MediumExpert {
        medium: Behaviour,
        expert: Behaviour,
    },
    /// The goal-reaching ant driven through a maze by a waypoint planner.
    AntMaze(Goals),
}

#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    pub name: &'static str,
    pub env: &'static str,
    pub kind: Kind,
    /// Rows when `--steps` is not given (D4RL: 1M; medium-replay: the whole buffer;
    /// medium-expert: 2M).
    pub default_rows: usize,
}

/// One environment's locomotion recipes: D4RL's five on the SAC actors, and the study's
/// first files on the TD3 actors.
const fn locomotion(
    env: &'static str,
    names: [&'static str; 8],
    medium: Behaviour,
    expert: Behaviour,
    td3: Behaviour,
) -> [Recipe; 8] {
    const M: usize = 1_000_000;
    [
        loco(names[0], env, Kind::Uniform, M),
        loco(names[1], env, Kind::Sampled(medium), M),
        loco(
            names[2],
            env,
            Kind::MediumReplay(medium),
            medium.steps as usize,
        ),
        loco(names[3], env, Kind::Sampled(expert), M),
        loco(names[4], env, Kind::MediumExpert { medium, expert }, 2 * M),
        loco(names[5], env, Kind::RandomNetwork, M),
        loco(names[6], env, Kind::Noisy(td3), M),
        loco(names[7], env, Kind::MediumReplay(td3), td3.steps as usize),
    ]
}

const fn loco(name: &'static str, env: &'static str, kind: Kind, default_rows: usize) -> Recipe {
    Recipe {
        name,
        env,
        kind,
        default_rows,
    }
}

/// `locomotion` with the names `<body>-random`, ... of its eight recipes.
macro_rules! locomotion {
    ($body:literal, $medium:expr, $expert:expr, $td3:expr) => {
        locomotion(
            concat!($body, "-v2"),
            [
                concat!($body, "-random"),
                concat!($body, "-medium"),
                concat!($body, "-medium-replay"),
                concat!($body, "-expert"),
                concat!($body, "-medium-expert"),
                concat!($body, "-random-net"),
                concat!($body, "-medium-td3"),
                concat!($body, "-medium-replay-td3"),
            ],
            $medium,
            $expert,
            $td3,
        )
    };
}

const HOPPER: [Recipe; 8] = locomotion!("hopper", HOPPER_SAC_MEDIUM, HOPPER_SAC_EXPERT, HOPPER_TD3);
const WALKER2D: [Recipe; 8] = locomotion!(
    "walker2d",
    WALKER2D_SAC_MEDIUM,
    WALKER2D_SAC_EXPERT,
    WALKER2D_TD3
);
const HALFCHEETAH: [Recipe; 8] = locomotion!(
    "halfcheetah",
    HALFCHEETAH_SAC_MEDIUM,
    HALFCHEETAH_SAC_EXPERT,
    HALFCHEETAH_TD3
);
const ANTMAZE: [Recipe; 6] = [
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

/// Every recipe, in the order `pars collect --help` lists them.
pub fn recipes() -> impl Iterator<Item = &'static Recipe> {
    HOPPER
        .iter()
        .chain(&WALKER2D)
        .chain(&HALFCHEETAH)
        .chain(&ANTMAZE)
}

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
    recipes().find(|r| r.name == n).copied().with_context(|| {
        format!(
            "unknown recipe '{name}'; known: {}",
            recipes().map(|r| r.name).collect::<Vec<_>>().join(", ")
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
    let env = env.as_mut();
    let name = recipe.name;
    match recipe.kind {
        Kind::Uniform => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0D4_21A7D);
            let dim = env.act_dim();
            rollout_policy(
                env,
                |_| (0..dim).map(|_| rng.gen_range(-1.0..=1.0)).collect(),
                rows,
                0.0,
                seed,
            )
        }
        Kind::RandomNetwork => {
            // a freshly initialised actor (PyTorch's default init, as an untrained SAC)
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7A4D_0417);
            let spec = actor_spec(&AgentConfig::default(), env.obs_dim(), env.act_dim());
            let mut policy = Policy::new(EnsembleMlp::new_with(spec, 1, Init::Pytorch, &mut rng));
            let noise = Normal::new(0.0, RANDOM_NOISE)?;
            rollout_policy(
                env,
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
        Kind::Noisy(b) => {
            let mut policy = behaviour_policy(name, &b)?;
            rollout_policy(env, |o| policy.act(o).to_vec(), rows, MEDIUM_NOISE, seed)
        }
        Kind::Sampled(b) => {
            scripted::rollout_sampled(env, &mut behaviour_policy(name, &b)?, rows, 0.0, seed)
        }
        Kind::MediumExpert { medium, expert } => {
            ensure!(rows >= 2, "{name} needs --steps of at least 2");
            let half = rows / 2;
            let mut ds = scripted::rollout_sampled(
                env,
                &mut behaviour_policy(name, &medium)?,
                half,
                0.0,
                seed,
            )?;
            let whole = complete_episodes(&ds, env.max_episode_steps());
            ensure!(
                whole > 0,
                "{name}: the medium half ({half} rows of --steps) holds no complete episode; pass more --steps"
            );
            ds.truncate(whole);
            let e = scripted::rollout_sampled(
                env,
                &mut behaviour_policy(name, &expert)?,
                rows - half,
                0.0,
                seed,
            )?;
            ds.append(&e)?;
            Ok(ds)
        }
        Kind::MediumReplay(b) => {
            ensure!(
                rows <= b.steps as usize,
                "{name} holds the {} steps of its training run; --steps can only shorten it",
                b.steps
            );
            if seed != 0 {
                bail!(
                    "{name} is the replay buffer of one training run (seed {}); it takes no --seed",
                    b.seed
                );
            }
            replay_of_training(&b, rows as u64, show_progress)
        }
        Kind::AntMaze(_) => unreachable!("handled above"),
    }
}

fn behaviour_policy(recipe: &str, b: &Behaviour) -> Result<Policy> {
    Policy::from_bytes(&format!("{recipe} behaviour policy"), b.policy.to_vec())
}

/// Rows up to the end of the last episode the environment ended (a terminal, or a timeout
/// at its step limit), leaving out an episode that the end of the stream cut: D4RL's
/// `stitch_dataset.py` cuts the medium file at its last flag.
pub fn complete_episodes(ds: &RawDataset, max_episode_steps: usize) -> usize {
    let (mut end, mut len) = (0, 0);
    for i in 0..ds.len() {
        len += 1;
        if ds.terminals[i] || (ds.timeouts[i] && len >= max_episode_steps) {
            end = i + 1;
        }
        if ds.terminals[i] || ds.timeouts[i] {
            len = 0;
        }
    }
    end
}

/// Rerun the behaviour policy's online training for `steps` environment steps and
/// return its replay buffer (oldest row first).
fn replay_of_training(b: &Behaviour, steps: u64, show_progress: bool) -> Result<RawDataset> {
    let (mut cfg, _) = scratch_config(b.algo, None, None, b.env)?;
    if let Some(init) = b.init {
        cfg.agent.init = init;
    }
    cfg.steps = steps;
    cfg.seed = b.seed;
    cfg.random_steps = b.random_steps;
    cfg.learning_starts = b.random_steps;
    cfg.eval_every = 0;
    cfg.checkpoint_every = 0;
    let mut env = make_env(b.env)?;
    let agent = new_online_learner(&cfg, env.obs_dim(), env.act_dim());
    let mut run = OnlineRun::new(cfg, agent, None)?;
    run.run(env.as_mut(), None, None, u64::MAX, show_progress)?
        .finished()?;
    run.replay_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with the given (terminal, timeout) flags, obs = row index.
    fn flagged(flags: &[(bool, bool)]) -> RawDataset {
        let mut ds = RawDataset::with_capacity(1, 1, flags.len());
        for (i, &(term, timeout)) in flags.iter().enumerate() {
            ds.push_row(&[i as f32], &[0.0], 1.0, term, timeout, &[i as f32 + 1.0]);
        }
        ds
    }

    #[test]
    fn complete_episodes_leave_out_an_episode_the_stream_cut() {
        let (f, t) = (false, true);
        // a fall after 2 steps, a 3-step time limit, then 2 steps cut by the stream's end
        let ds = flagged(&[(f, f), (t, f), (f, f), (f, f), (f, t), (f, f), (f, t)]);
        assert_eq!(complete_episodes(&ds, 3), 5);
        // the stream ending exactly at the step limit, or on a fall, keeps the episode
        assert_eq!(complete_episodes(&ds, 2), 7);
        assert_eq!(complete_episodes(&flagged(&[(f, f), (t, f)]), 1000), 2);
        // no complete episode at all
        assert_eq!(complete_episodes(&flagged(&[(f, f), (f, t)]), 1000), 0);
    }

    #[test]
    fn truncate_and_append_keep_rows_whole() {
        let (f, t) = (false, true);
        let mut a = flagged(&[(f, f), (t, f), (f, t)]);
        a.truncate(2);
        a.append(&flagged(&[(f, t)])).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.observations, [0.0, 1.0, 0.0]);
        assert_eq!(a.next_observations.as_deref(), Some(&[1.0, 2.0, 1.0][..]));
        assert_eq!((a.terminals, a.timeouts), (vec![f, t, f], vec![f, f, t]));
        let wide = RawDataset::with_capacity(2, 1, 0);
        assert!(flagged(&[(f, t)]).append(&wide).is_err());
    }
}
