//! AntMaze datasets made the way D4RL made `antmaze-*` (SPEC §9): a goal-reaching ant
//! policy, trained online in the open arena `antgoal-v0`, is driven through the maze by a
//! waypoint planner. The planner finds the shortest path of cells to the commanded goal
//! and gives the policy the centre of the next cell on it (the goal point itself in the
//! goal's cell); when the ant comes within 0.5 m of the goal point a new goal is
//! commanded. Episodes are 1000 steps from a fresh start and end in a timeout; rows are
//! recorded in AntMaze's own observation (qpos ++ qvel) with the sparse reward relabelled
//! to the evaluation goal: 1 within 0.5 m of it, else 0.
//!
//! `terminals` equals the reward, as in D4RL's v2 files (a terminal at every row within
//! 0.5 m of the goal, so clusters of them while the ant walks on; the rows after a
//! terminal continue the same walk). One deviation: an episode whose ant turns upside
//! down (it cannot right itself) is cut there with a timeout, instead of recording the
//! rest of 1000 steps of a flipped ant.
use anyhow::{ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::data::RawDataset;
use crate::envs::mujoco::antgoal::{goal_features, upside_down, FEATURES};
use crate::envs::mujoco::antmaze::{AntMaze, Layout};
use crate::envs::mujoco::{normal_noise, to_f32, uniform_noise, SimEnv};
use crate::envs::Env;
use crate::policy::Policy;
use crate::run::progress_bar;

use super::Goals;

/// Steps per episode (D4RL's AntMaze datasets: timeouts every 1000 steps).
pub const EPISODE_STEPS: usize = 1000;
/// σ of the Gaussian noise on the behaviour policy's actions.
pub const ACTION_NOISE: f32 = 0.1;
/// A commanded goal counts as reached this close to its point (m).
const REACH: f64 = 0.5;
/// Goal points other than the evaluation goal lie up to this far (m, per axis) from
/// their cell's centre, so the data does not only visit cell centres; in the evaluation
/// goal's cell they lie this far from the goal itself.
const GOAL_SPREAD: f64 = 1.0;
/// Goal points stay this close (m, per axis) to their cell's centre: cells are 4 m, so
/// this keeps them off the walls.
const IN_CELL: f64 = 1.5;

type Cell = (usize, usize);

/// Hand-picked (starts, goals) of the `play` datasets; the evaluation goal's cell is
/// always among the goals. `Single` (antmaze-umaze): from the start cell to the
/// evaluation goal, then new goal points in the goal's cell for the rest of the episode
/// (D4RL's umaze generator re-sampled its environment's goal on reaching it).
fn cells(layout: Layout, goals: Goals) -> (Vec<Cell>, Vec<Cell>) {
    let (start, goal) = (layout.start_cell(), layout.goal_cell());
    match goals {
        Goals::Single => (vec![start], vec![goal]),
        Goals::Diverse => {
            let free = layout.free_cells();
            (free.clone(), free)
        }
        Goals::Play => match layout {
            Layout::Umaze => (vec![start, (3, 3)], vec![goal, (1, 3), start]),
            Layout::Medium => (
                vec![start, (4, 1), (2, 5)],
                vec![goal, (6, 1), (1, 5), (4, 5)],
            ),
            Layout::Large => (
                vec![start, (7, 1), (1, 10)],
                vec![goal, (3, 10), (5, 4), (1, 6), (7, 5)],
            ),
            Layout::Ultra => (
                vec![start, (8, 1), (1, 14)],
                vec![goal, (5, 8), (3, 9), (8, 11), (1, 7)],
            ),
        },
    }
}

/// Rows of AntMaze data for `env_id` (`antmaze-umaze-v2`, ...), deterministic in `seed`.
pub fn build(
    env_id: &str,
    goals: Goals,
    policy: &[u8],
    rows: usize,
    seed: u64,
    show_progress: bool,
) -> Result<RawDataset> {
    let layout = Layout::from_env_id(env_id)
        .with_context(|| format!("{env_id} is not an AntMaze environment"))?;
    let mut env = AntMaze::new(layout)?;
    let mut policy = Policy::from_bytes("AntMaze behaviour policy", policy.to_vec())?;
    ensure!(
        policy.obs_dim() == FEATURES && policy.act_dim() == env.act_dim(),
        "the AntMaze behaviour policy maps {} inputs to {} actions; expected {FEATURES} → {}",
        policy.obs_dim(),
        policy.act_dim(),
        env.act_dim()
    );
    let (starts, goal_cells) = cells(layout, goals);
    let noise = Normal::new(0.0, ACTION_NOISE)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The evaluation goal: one draw of the environment's goal sampler, as D4RL relabelled
    // each file to its environment's fixed target.
    env.reset(rng.gen());
    let eval_goal = env.goal();
    let eval_cell = layout.goal_cell();
    let pick = |rng: &mut ChaCha8Rng, not: Option<Cell>| -> (Cell, [f64; 2]) {
        let cell = loop {
            let c = goal_cells[rng.gen_range(0..goal_cells.len())];
            if Some(c) != not || goal_cells.len() == 1 {
                break c;
            }
        };
        // The first visit of the evaluation goal's cell goes to the goal itself, later
        // ones around it: spread around the cell's centre instead, the reward rows
        // depended on where the dataset's one draw of the goal fell (6x apart by seed).
        let centre = layout.cell_centre(cell.0, cell.1);
        let point = if cell == eval_cell && not != Some(eval_cell) {
            eval_goal
        } else {
            let around = if cell == eval_cell { eval_goal } else { centre };
            [0, 1].map(|k| {
                (around[k] + rng.gen_range(-GOAL_SPREAD..GOAL_SPREAD))
                    .clamp(centre[k] - IN_CELL, centre[k] + IN_CELL)
            })
        };
        (cell, point)
    };

    let mut ds = RawDataset::with_capacity(env.obs_dim(), env.act_dim(), rows);
    let pb = progress_bar(rows as u64, env_id, show_progress);
    while ds.len() < rows {
        let start = starts[rng.gen_range(0..starts.len())];
        let [sx, sy] = layout.cell_centre(start.0, start.1);
        let mut qpos = uniform_noise(&mut rng, env.sim().init_qpos(), 0.1);
        qpos[0] += sx;
        qpos[1] += sy;
        let qvel = normal_noise(&mut rng, env.sim().init_qvel(), 0.1);
        let mut obs = env.set_episode_state(&qpos, &qvel, &eval_goal)?;
        let (mut goal, mut point) = pick(&mut rng, Some(start));
        let mut dist = layout.distances_to(goal);
        for t in 0..EPISODE_STEPS {
            let q = env.sim().qpos();
            let xy = [q[0], q[1]];
            if (xy[0] - point[0]).hypot(xy[1] - point[1]) <= REACH {
                (goal, point) = pick(&mut rng, Some(goal));
                dist = layout.distances_to(goal);
            }
            let waypoint = layout
                .cell_of(xy)
                .and_then(|c| layout.next_cell(&dist, c))
                .map(|(i, j)| layout.cell_centre(i, j))
                .unwrap_or(point);
            let features = goal_features(env.sim().qpos(), env.sim().qvel(), waypoint);
            let action: Vec<f32> = policy
                .act(&features)
                .iter()
                .map(|a| (a + noise.sample(&mut rng)).clamp(-1.0, 1.0))
                .collect();
            let ctrl = env.action_to_ctrl(&action);
            env.sim_mut().step(&ctrl);
            let (q, v) = (env.sim().qpos(), env.sim().qvel());
            let next = to_f32(q.iter().chain(v).copied());
            let reached = (q[0] - eval_goal[0]).hypot(q[1] - eval_goal[1]) <= REACH;
            let last = ds.len() + 1 == rows;
            // the episode's last row is a timeout even on the goal (then both flags are set)
            let timeout = t + 1 == EPISODE_STEPS || upside_down(q) || last;
            let reward = if reached { 1.0 } else { 0.0 };
            ds.push_row(&obs, &action, reward, reached, timeout, &next);
            pb.inc(1);
            if timeout {
                break;
            }
            obs = next;
        }
    }
    pb.finish_and_clear();
    Ok(ds)
}
