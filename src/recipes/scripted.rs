//! Scripted data collection into D4RL-format arrays, like D4RL's AntMaze data:
//! a noisy waypoint follower wanders between commanded goals, episodes are cut by
//! timeouts, and rewards are relabelled w.r.t. the fixed evaluation goal.
//!
//! Stream semantics: a row whose step reaches the evaluation goal gets reward 1
//! and `terminal = true` (as in the env), and the next row starts a new episode
//! from a fresh start. Otherwise an episode runs `episode_len` steps and its last
//! row gets `timeout = true`; so does the last row of the stream.
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::data::RawDataset;
use crate::envs::maze::{Cell, Grid, Layout, PointMaze, WaypointController};
use crate::envs::{check_action, Env, Step};

/// How starts and commanded goals are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Random free start cell per episode, random free goal cells.
    Diverse,
    /// Starts and goals from small hand-picked sets per layout.
    Play,
}

impl Style {
    pub const ALL: [Style; 2] = [Style::Diverse, Style::Play];

    pub fn name(self) -> &'static str {
        match self {
            Style::Diverse => "diverse",
            Style::Play => "play",
        }
    }
}

impl std::str::FromStr for Style {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Style> {
        Style::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown dataset style '{s}'; known: diverse, play"))
    }
}

impl std::fmt::Display for Style {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectConfig {
    pub layout: Layout,
    pub style: Style,
    /// Rows in the dataset.
    pub num_steps: usize,
    pub seed: u64,
    /// Std of the Gaussian noise added to the controller's action before clipping.
    pub action_noise: f32,
    /// Steps after which an episode is cut by a timeout.
    pub episode_len: usize,
}

impl CollectConfig {
    pub fn new(layout: Layout, style: Style, num_steps: usize, seed: u64) -> CollectConfig {
        CollectConfig {
            layout,
            style,
            num_steps,
            seed,
            ..CollectConfig::default()
        }
    }

    /// D4RL-style dataset name, e.g. `pointmaze-umaze-diverse-v0`.
    pub fn dataset_id(&self) -> String {
        format!("pointmaze-{}-{}-v0", self.layout.name(), self.style.name())
    }
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            layout: Layout::Umaze,
            style: Style::Diverse,
            num_steps: 1_000_000,
            seed: 0,
            action_noise: 0.3,
            episode_len: 1000,
        }
    }
}

/// Hand-picked (starts, goals) for the play style. The evaluation goal is
/// always among the goals so the data contains reward 1.
pub fn play_cells(layout: Layout) -> (&'static [Cell], &'static [Cell]) {
    match layout {
        Layout::Umaze => (&[(3, 1), (3, 3), (1, 3)], &[(1, 1), (3, 1), (1, 3), (3, 3)]),
        Layout::Medium => (&[(1, 1), (4, 1), (1, 6)], &[(6, 6), (6, 1), (1, 5), (3, 6)]),
        Layout::Large => (
            &[(1, 1), (7, 1), (1, 10)],
            &[(7, 10), (3, 10), (5, 5), (1, 6), (7, 8)],
        ),
        Layout::Ultra => (
            &[(1, 1), (9, 1), (1, 14)],
            &[(10, 14), (7, 1), (5, 8), (3, 7), (8, 11)],
        ),
    }
}

/// Picks starts and commanded goals for one style.
struct Chooser {
    starts: Vec<Cell>,
    goals: Vec<Cell>,
}

impl Chooser {
    fn new(grid: &Grid, style: Style) -> Chooser {
        let eval_goal = grid.eval_goal();
        match style {
            Style::Diverse => {
                let free = grid.free_cells();
                // Starting in the eval goal would end the episode at once.
                let starts = free.iter().copied().filter(|&c| c != eval_goal).collect();
                Chooser {
                    starts,
                    goals: free,
                }
            }
            Style::Play => {
                let (s, g) = play_cells(grid.layout());
                Chooser {
                    starts: s.to_vec(),
                    goals: g.to_vec(),
                }
            }
        }
    }

    fn start(&self, rng: &mut ChaCha8Rng) -> Cell {
        self.starts[rng.gen_range(0..self.starts.len())]
    }

    /// A goal different from `current` (the goal sets have at least two cells).
    fn goal(&self, rng: &mut ChaCha8Rng, current: Option<Cell>) -> Cell {
        loop {
            let g = self.goals[rng.gen_range(0..self.goals.len())];
            if Some(g) != current {
                return g;
            }
        }
    }
}

/// Appends a row for an environment step; returns whether the episode ended on it.
/// A terminal takes precedence; the end of the stream (`last`) cuts like a time limit.
fn push_step(ds: &mut RawDataset, obs: &[f32], action: &[f32], step: &Step, last: bool) -> bool {
    let timeout = !step.terminated && (step.truncated || last);
    ds.push_row(
        obs,
        action,
        step.reward,
        step.terminated,
        timeout,
        &step.obs,
    );
    step.terminated || timeout
}

fn normal(std: f32) -> Result<Normal<f32>> {
    if !(std.is_finite() && std >= 0.0) {
        anyhow::bail!("action noise must be finite and >= 0, got {std}");
    }
    Ok(Normal::new(0.0, std)?)
}

/// Collects `cfg.num_steps` rows with the scripted controller; deterministic in
/// `cfg.seed`.
pub fn collect(cfg: &CollectConfig) -> Result<RawDataset> {
    if cfg.num_steps == 0 {
        anyhow::bail!("num_steps must be > 0");
    }
    if cfg.episode_len == 0 {
        anyhow::bail!("episode_len must be > 0");
    }
    let noise = normal(cfg.action_noise)?;
    let mut env = PointMaze::new(cfg.layout);
    env.set_max_episode_steps(cfg.episode_len);
    let grid = env.grid().clone();
    let chooser = Chooser::new(&grid, cfg.style);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut ds = RawDataset::with_capacity(env.obs_dim(), env.act_dim(), cfg.num_steps);

    while ds.len() < cfg.num_steps {
        let start = grid.cell_centre(chooser.start(&mut rng));
        let pos = [
            start[0] + rng.gen_range(-0.25..=0.25),
            start[1] + rng.gen_range(-0.25..=0.25),
        ];
        let mut obs = env.reset_to(pos)?;
        let mut ctrl = WaypointController::new(&grid, chooser.goal(&mut rng, grid.cell_of(pos)));
        loop {
            if grid.reached(env.position(), ctrl.goal()) {
                let g = chooser.goal(&mut rng, Some(ctrl.goal()));
                ctrl = WaypointController::new(&grid, g);
            }
            let mut a = ctrl.act(&grid, env.position(), env.velocity());
            for x in &mut a {
                *x = (*x + noise.sample(&mut rng)).clamp(-1.0, 1.0);
            }
            let step = env.step(&a)?;
            let last = ds.len() + 1 == cfg.num_steps;
            if push_step(&mut ds, &obs, &a, &step, last) {
                break;
            }
            obs = step.obs;
        }
    }
    Ok(ds)
}

/// Rolls out `policy` with Gaussian action noise (std `noise`, then clipped to
/// [-1, 1]) for `num_steps` rows. Episodes reset with seeds drawn from `seed`;
/// terminals come from `terminated`, timeouts from `truncated` (or the end of
/// the stream) when not terminal. Errors if the policy emits a bad action.
pub fn rollout_policy<F: FnMut(&[f32]) -> Vec<f32>>(
    env: &mut dyn Env,
    mut policy: F,
    num_steps: usize,
    noise: f32,
    seed: u64,
) -> Result<RawDataset> {
    let dist = normal(noise)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ds = RawDataset::with_capacity(env.obs_dim(), env.act_dim(), num_steps);
    while ds.len() < num_steps {
        let mut obs = env.reset(rng.gen());
        loop {
            let mut a = policy(&obs);
            // Let the env reject NaN before noise/clipping could hide it.
            check_action(env.id(), env.act_dim(), &a)?;
            if noise > 0.0 {
                for x in &mut a {
                    *x += dist.sample(&mut rng);
                }
            }
            for x in &mut a {
                *x = x.clamp(-1.0, 1.0);
            }
            let step = env.step(&a)?;
            let last = ds.len() + 1 == num_steps;
            if push_step(&mut ds, &obs, &a, &step, last) {
                break;
            }
            obs = step.obs;
        }
    }
    Ok(ds)
}

/// Rollouts of a SAC policy acting with samples of its tanh-Gaussian, as D4RL's
/// `collect_data.py` did (`distr.sample()`), plus Gaussian `noise`. The samples have their
/// own stream, so the noise and the episode seeds draw as in a deterministic rollout.
pub fn rollout_sampled(
    env: &mut dyn Env,
    policy: &mut crate::policy::Policy,
    num_steps: usize,
    noise: f32,
    seed: u64,
) -> Result<RawDataset> {
    anyhow::ensure!(
        policy.is_stochastic(),
        "this policy is deterministic (no tanh-Gaussian head); SAC policies (pars online --algo sac) can sample"
    );
    let mut sample_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5A3_9E11);
    let mut buf = vec![0.0f32; policy.act_dim()];
    rollout_policy(
        env,
        |o| {
            policy.sample(o, &mut sample_rng, &mut buf);
            buf.clone()
        },
        num_steps,
        noise,
        seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn check_consistent(ds: &RawDataset) {
        let n = ds.len();
        assert_eq!(ds.observations.len(), n * ds.obs_dim);
        assert_eq!(ds.actions.len(), n * ds.act_dim);
        assert_eq!(ds.terminals.len(), n);
        assert_eq!(ds.timeouts.len(), n);
        let next = ds.next_observations.as_ref().unwrap();
        assert_eq!(next.len(), n * ds.obs_dim);
        assert!(ds.actions.iter().all(|a| (-1.0..=1.0).contains(a)));
        assert!(ds.observations.iter().all(|o| o.is_finite()));
        assert!(*ds.terminals.last().unwrap() || *ds.timeouts.last().unwrap());
        let d = ds.obs_dim;
        for i in 0..n {
            assert!(!(ds.terminals[i] && ds.timeouts[i]));
            assert_eq!(ds.terminals[i], ds.rewards[i] == 1.0);
            let ended = ds.terminals[i] || ds.timeouts[i];
            // Within an episode, next_obs is the following row's obs.
            if i + 1 < n && !ended {
                assert_eq!(
                    &next[i * d..(i + 1) * d],
                    &ds.observations[(i + 1) * d..(i + 2) * d]
                );
            }
        }
    }

    fn visited_cells(ds: &RawDataset) -> HashSet<(i64, i64)> {
        ds.observations
            .chunks(ds.obs_dim)
            .map(|o| (o[1].floor() as i64, o[0].floor() as i64))
            .collect()
    }

    #[test]
    fn collect_is_deterministic_and_consistent() {
        for style in Style::ALL {
            let cfg = CollectConfig::new(Layout::Medium, style, 5_000, 11);
            let a = collect(&cfg).unwrap();
            let b = collect(&cfg).unwrap();
            assert_eq!(a.observations, b.observations);
            assert_eq!(a.actions, b.actions);
            assert_eq!(a.rewards, b.rewards);
            assert_eq!(a.terminals, b.terminals);
            assert_eq!(a.timeouts, b.timeouts);
            assert_eq!(a.next_observations, b.next_observations);
            assert_eq!(a.len(), 5_000);
            assert_eq!((a.obs_dim, a.act_dim), (4, 2));
            check_consistent(&a);
            let c = collect(&CollectConfig { seed: 12, ..cfg }).unwrap();
            assert_ne!(a.observations, c.observations);
        }
    }

    #[test]
    fn episodes_are_cut_by_timeouts() {
        let cfg = CollectConfig {
            episode_len: 100,
            ..CollectConfig::new(Layout::Large, Style::Diverse, 3_050, 1)
        };
        let ds = collect(&cfg).unwrap();
        check_consistent(&ds);
        let mut len = 0;
        for i in 0..ds.len() {
            len += 1;
            assert!(len <= 100);
            if ds.timeouts[i] {
                assert!(len == 100 || i + 1 == ds.len());
            }
            if ds.terminals[i] || ds.timeouts[i] {
                len = 0;
            }
        }
    }

    #[test]
    fn data_contains_rewards_for_both_styles() {
        for layout in [Layout::Umaze, Layout::Medium] {
            for style in Style::ALL {
                let ds = collect(&CollectConfig::new(layout, style, 20_000, 5)).unwrap();
                check_consistent(&ds);
                let hits = ds.rewards.iter().filter(|&&r| r == 1.0).count();
                println!("{layout} {style}: {hits} goal hits in 20000 rows");
                assert!(hits > 0, "{layout} {style}: no reward");
            }
        }
    }

    #[test]
    fn diverse_covers_more_cells_than_play() {
        for layout in [Layout::Medium, Layout::Large, Layout::Ultra] {
            let free = layout.grid().free_cells().len();
            let d = visited_cells(
                &collect(&CollectConfig::new(layout, Style::Diverse, 50_000, 2)).unwrap(),
            );
            let p = visited_cells(
                &collect(&CollectConfig::new(layout, Style::Play, 50_000, 2)).unwrap(),
            );
            println!(
                "{layout}: diverse {} play {} of {free} cells",
                d.len(),
                p.len()
            );
            assert!(d.len() > p.len());
            // Rows stop on entering the eval goal, so its cell may be missing.
            assert!(d.len() + 1 >= free);
        }
    }

    #[test]
    fn play_cells_are_free() {
        for layout in Layout::ALL {
            let g = layout.grid();
            let (starts, goals) = play_cells(layout);
            assert!(starts.iter().chain(goals).all(|&c| g.is_free(c)));
            assert!(goals.contains(&g.eval_goal()));
            assert!(!starts.contains(&g.eval_goal()));
        }
    }

    #[test]
    fn collection_is_fast() {
        let t = std::time::Instant::now();
        let ds = collect(&CollectConfig::new(
            Layout::Ultra,
            Style::Diverse,
            100_000,
            0,
        ))
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!("100k steps in {secs:.3} s");
        assert_eq!(ds.len(), 100_000);
        assert!(secs < 1.0, "{secs} s");
    }

    #[test]
    fn style_names_round_trip() {
        for s in Style::ALL {
            assert_eq!(s.name().parse::<Style>().unwrap(), s);
        }
        assert!("expert".parse::<Style>().is_err());
        let cfg = CollectConfig::new(Layout::Large, Style::Play, 10, 0);
        assert_eq!(Layout::from_env_id(&cfg.dataset_id()), Some(Layout::Large));
    }

    #[test]
    fn rollout_policy_records_episodes() {
        let mut env = PointMaze::new(Layout::Umaze);
        let grid = env.grid().clone();
        let ctrl = WaypointController::new(&grid, grid.eval_goal());
        let policy = |o: &[f32]| {
            let a = ctrl.act(
                &grid,
                [o[0] as f64, o[1] as f64],
                [o[2] as f64, o[3] as f64],
            );
            a.to_vec()
        };
        let a = rollout_policy(&mut env, policy, 2_000, 0.1, 3).unwrap();
        let b = rollout_policy(&mut env, policy, 2_000, 0.1, 3).unwrap();
        assert_eq!(a.observations, b.observations);
        check_consistent(&a);
        assert!(a.terminals.iter().filter(|&&t| t).count() > 10);

        // A do-nothing policy only ever times out.
        let c = rollout_policy(&mut env, |_| vec![0.0, 0.0], 700, 0.0, 0).unwrap();
        check_consistent(&c);
        let cuts: Vec<usize> = (0..c.len()).filter(|&i| c.timeouts[i]).collect();
        assert_eq!(cuts, vec![299, 599, 699]);

        // The noisy scripted controller is a near-expert in every layout.
        for layout in Layout::ALL {
            let mut env = PointMaze::new(layout);
            let grid = env.grid().clone();
            let ctrl = WaypointController::new(&grid, grid.eval_goal());
            let policy = |o: &[f32]| {
                let p = [o[0] as f64, o[1] as f64];
                ctrl.act(&grid, p, [o[2] as f64, o[3] as f64]).to_vec()
            };
            let ds = rollout_policy(&mut env, policy, 20_000, 0.3, 9).unwrap();
            let ends = ds
                .terminals
                .iter()
                .zip(&ds.timeouts)
                .filter(|(t, o)| **t || **o)
                .count();
            let wins = ds.terminals.iter().filter(|&&t| t).count();
            println!(
                "{layout}: noisy controller {wins}/{ends} successes, {} steps/episode",
                ds.len() / ends
            );
            assert!(wins as f64 >= 0.9 * (ends - 1) as f64);
        }

        assert!(rollout_policy(&mut env, |_| vec![f32::NAN, 0.0], 10, 0.1, 0).is_err());
        assert!(rollout_policy(&mut env, |_| vec![0.0], 10, 0.1, 0).is_err());
    }
}
