//! Gymnasium-Robotics' mazes, the environments Minari's `D4RL/pointmaze/*` and
//! `D4RL/antmaze/*` datasets were collected in:
//! - PointMaze (`PointMaze_UMaze-v3`, ...): a force-driven ball of radius 0.1 with two
//!   slide joints in a maze of 1 m cells (walls 0.4 m tall), one physics step of 0.01 s per
//!   environment step, velocities clipped to ±5 before each step;
//! - AntMaze (`AntMaze_UMaze-v4`, ...): Gymnasium's `ant.xml` ant (its own physics, unlike
//!   D4RL's: gear 150, time step 0.01, five steps per environment step) in 4 m cells with
//!   walls 2 m tall, started without noise at its model pose.
//!
//! Both: the maze is centred on the origin; the goal is drawn per episode from the map's
//! goal cells (every free cell when the map marks none) with ±0.25 cell of uniform noise
//! per coordinate, the start from the reset cells, more than half a cell from the goal.
//! Reward: 1 within 0.45 of the goal (`sparse`) or exp(−distance) (`dense`, the
//! `...Dense-vN` ids). With `continuing_task` (the default) reaching the goal does not end
//! the episode, and with `reset_target` a new goal is drawn.
//!
//! Observations are what a Minari dataset of these is flattened to by default: PointMaze's
//! `observation` (x, y, vx, vy; D4RL's maze2d layout, without the goal), AntMaze's
//! `achieved_goal` then `observation` (qpos then qvel, 29 numbers: D4RL's antmaze layout).
use anyhow::{bail, ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::{asset, to_f32, Episode, Sim, SimEnv};
use crate::envs::{Env, EnvSpec, Step};

/// A goal counts as reached within this distance.
const GOAL_RADIUS: f64 = 0.45;
/// Half the side of the uniform position noise on goal and start.
const POSITION_NOISE: f64 = 0.25;
/// The agent of a maze.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    Point,
    Ant,
}

impl Agent {
    fn prefix(self) -> &'static str {
        match self {
            Agent::Point => "PointMaze",
            Agent::Ant => "AntMaze",
        }
    }
    fn version(self) -> &'static str {
        match self {
            Agent::Point => "v3",
            Agent::Ant => "v4",
        }
    }
    /// `maze_size_scaling`: the side of a cell.
    fn scaling(self) -> f64 {
        match self {
            Agent::Point => 1.0,
            Agent::Ant => 4.0,
        }
    }
    /// `maze_height` (in cells).
    fn height(self) -> f64 {
        match self {
            Agent::Point => 0.4,
            Agent::Ant => 0.5,
        }
    }
    fn model_file(self) -> &'static str {
        match self {
            Agent::Point => "gymnasium_robotics/envs/assets/point/point.xml",
            Agent::Ant => "gymnasium/envs/mujoco/assets/ant.xml",
        }
    }
    fn frame_skip(self) -> usize {
        match self {
            Agent::Point => 1,
            Agent::Ant => 5,
        }
    }
    fn dims(self) -> (usize, usize) {
        match self {
            Agent::Point => (4, 2),
            Agent::Ant => (29, 8),
        }
    }
    /// Time limit of the registered map family (UMaze/Open, Medium, Large).
    fn limit(self, family: usize) -> usize {
        match self {
            Agent::Point => [300, 600, 800][family],
            Agent::Ant => [700, 1000, 1000][family],
        }
    }
}
/// Velocity clip of `PointEnv._clip_velocity`.
const MAX_VELOCITY: f64 = 5.0;

/// A map cell (`maps.py`): wall `1`, free `0`, reset `r`, goal `g`, both `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Wall,
    Free,
    Reset,
    Goal,
    Combined,
}

const UMAZE: &[&str] = &["11111", "10001", "11101", "10001", "11111"];
const OPEN: &[&str] = &["1111111", "1000001", "1000001", "1000001", "1111111"];
const OPEN_DIVERSE_G: &[&str] = &["1111111", "1rgggg1", "1ggggg1", "1ggggg1", "1111111"];
const OPEN_DIVERSE_GR: &[&str] = &["1111111", "1ccccc1", "1ccccc1", "1ccccc1", "1111111"];
const MEDIUM: &[&str] = &[
    "11111111", "10011001", "10010001", "11000111", "10010001", "10100101", "10001001", "11111111",
];
const MEDIUM_DIVERSE_G: &[&str] = &[
    "11111111", "1r011001", "100100g1", "11000111", "10010001", "1g100101", "10001g01", "11111111",
];
const MEDIUM_DIVERSE_GR: &[&str] = &[
    "11111111", "1c011001", "100100c1", "11000111", "10010001", "1c100101", "10001c01", "11111111",
];
const LARGE: &[&str] = &[
    "111111111111",
    "100001000001",
    "101101010101",
    "100000010001",
    "101111011101",
    "100101000001",
    "110101010111",
    "100100010001",
    "111111111111",
];
const LARGE_DIVERSE_G: &[&str] = &[
    "111111111111",
    "1r0001g00001",
    "101101010101",
    "10000g0100g1",
    "101111011101",
    "10g101000001",
    "110101010111",
    "1001g0g10g01",
    "111111111111",
];
const LARGE_DIVERSE_GR: &[&str] = &[
    "111111111111",
    "1c0001c00001",
    "101101010101",
    "10000c0100c1",
    "101111011101",
    "10c101000001",
    "110101010111",
    "1001c0c10c01",
    "111111111111",
];

/// Registered maps: (name in the id, rows, family of the time limit).
const MAPS: [(&str, &[&str], usize); 10] = [
    ("UMaze", UMAZE, 0),
    ("Open", OPEN, 0),
    ("Open_Diverse_G", OPEN_DIVERSE_G, 0),
    ("Open_Diverse_GR", OPEN_DIVERSE_GR, 0),
    ("Medium", MEDIUM, 1),
    ("Medium_Diverse_G", MEDIUM_DIVERSE_G, 1),
    ("Medium_Diverse_GR", MEDIUM_DIVERSE_GR, 1),
    ("Large", LARGE, 2),
    ("Large_Diverse_G", LARGE_DIVERSE_G, 2),
    ("Large_Diverse_GR", LARGE_DIVERSE_GR, 2),
];

/// What a `PointMaze_*-v3` or `AntMaze_*-v4` environment is made of: its registration and
/// keyword arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub id: String,
    pub agent: Agent,
    pub map: Vec<Vec<Cell>>,
    pub dense: bool,
    pub continuing_task: bool,
    pub reset_target: bool,
    pub max_episode_steps: usize,
}

impl Config {
    /// A registered id (`PointMaze_UMaze-v3`, `AntMaze_LargeDense-v4`, case-insensitive)
    /// with its registered arguments; `None` if the id is not one.
    pub fn registered(id: &str) -> Option<Config> {
        let lower = id.to_ascii_lowercase();
        let agent = [Agent::Point, Agent::Ant].into_iter().find(|a| {
            lower.starts_with(&format!("{}_", a.prefix().to_ascii_lowercase()))
                && lower.ends_with(&format!("-{}", a.version()))
        })?;
        let name = &lower[agent.prefix().len() + 1..lower.len() - 3];
        let (name, dense) = match name.strip_suffix("dense") {
            Some(n) => (n, true),
            None => (name, false),
        };
        let (map_name, rows, family) = MAPS.iter().find(|m| m.0.to_ascii_lowercase() == name)?;
        let suffix = if dense { "Dense" } else { "" };
        Some(Config {
            id: format!("{}_{map_name}{suffix}-{}", agent.prefix(), agent.version()),
            agent,
            map: rows.iter().map(|r| r.chars().map(cell).collect()).collect(),
            dense,
            continuing_task: true,
            reset_target: false,
            max_episode_steps: agent.limit(*family),
        })
    }

    /// Gymnasium's environment spec as JSON (`{"id": ..., "kwargs": {...},
    /// "max_episode_steps": ...}`, as Minari stores it): the registration with the
    /// arguments that change the task (`maze_map`, `reward_type`, `continuing_task`,
    /// `reset_target`) and the time limit applied. `None` if the id is not a PointMaze.
    pub fn from_spec(spec: &Value) -> Result<Option<Config>> {
        let id = spec.get("id").and_then(Value::as_str).unwrap_or_default();
        let Some(mut c) = Config::registered(id) else {
            return Ok(None);
        };
        let kwargs = spec.get("kwargs").cloned().unwrap_or(Value::Null);
        if let Some(m) = kwargs.get("maze_map").filter(|m| !m.is_null()) {
            c.map = parse_map(m).with_context(|| format!("{id}: kwargs maze_map"))?;
        }
        if let Some(r) = kwargs.get("reward_type").and_then(Value::as_str) {
            c.dense = match r {
                "dense" => true,
                "sparse" => false,
                other => bail!("{id}: reward_type '{other}' is neither sparse nor dense"),
            };
        }
        if let Some(b) = kwargs.get("continuing_task").and_then(Value::as_bool) {
            c.continuing_task = b;
        }
        if let Some(b) = kwargs.get("reset_target").and_then(Value::as_bool) {
            c.reset_target = b;
        }
        if let Some(n) = spec.get("max_episode_steps").and_then(Value::as_f64) {
            ensure!(n >= 1.0, "{id}: max_episode_steps {n} must be positive");
            c.max_episode_steps = n as usize;
        }
        Ok(Some(c))
    }

    /// The spec JSON this config is made from again (`from_spec` of it gives `self`).
    pub fn to_spec(&self) -> Value {
        let map: Vec<Vec<Value>> = self
            .map
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| match c {
                        Cell::Wall => Value::from(1),
                        Cell::Free => Value::from(0),
                        Cell::Reset => Value::from("r"),
                        Cell::Goal => Value::from("g"),
                        Cell::Combined => Value::from("c"),
                    })
                    .collect()
            })
            .collect();
        serde_json::json!({
            "id": self.id,
            "kwargs": {
                "maze_map": map,
                "reward_type": if self.dense { "dense" } else { "sparse" },
                "continuing_task": self.continuing_task,
                "reset_target": self.reset_target,
            },
            "max_episode_steps": self.max_episode_steps,
        })
    }

    pub fn spec(&self) -> EnvSpec {
        let (obs, act) = self.agent.dims();
        EnvSpec::new(self.id.clone(), obs, act, self.max_episode_steps)
    }
}

fn cell(c: char) -> Cell {
    match c {
        '1' => Cell::Wall,
        'r' => Cell::Reset,
        'g' => Cell::Goal,
        'c' => Cell::Combined,
        _ => Cell::Free,
    }
}

/// A `maze_map` list of lists of 0, 1, "r", "g", "c".
fn parse_map(m: &Value) -> Result<Vec<Vec<Cell>>> {
    let rows = m.as_array().context("not a list of rows")?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let row = row
            .as_array()
            .with_context(|| format!("row {i} is not a list"))?;
        let cells = row
            .iter()
            .map(|v| match (v.as_i64(), v.as_str()) {
                (Some(1), _) => Ok(Cell::Wall),
                (Some(0), _) => Ok(Cell::Free),
                (_, Some("r")) => Ok(Cell::Reset),
                (_, Some("g")) => Ok(Cell::Goal),
                (_, Some("c")) => Ok(Cell::Combined),
                _ => bail!("row {i}: cell {v} is none of 0, 1, \"r\", \"g\", \"c\""),
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(cells);
    }
    ensure!(
        !out.is_empty() && out.iter().all(|r| r.len() == out[0].len() && !r.is_empty()),
        "rows must be non-empty and of one length"
    );
    Ok(out)
}

/// Cell centres (x, y) of the map's goal and reset locations (`Maze.make_maze`), and the
/// generated model: the agent's model with one box per wall cell and the target site.
struct Layout {
    goals: Vec<[f64; 2]>,
    resets: Vec<[f64; 2]>,
    xml: String,
}

fn layout(map: &[Vec<Cell>], agent_xml: &str, scaling: f64, height: f64) -> Result<Layout> {
    let (rows, cols) = (map.len(), map[0].len());
    let (x_centre, y_centre) = (cols as f64 / 2.0 * scaling, rows as f64 / 2.0 * scaling);
    let (mut goals, mut resets, mut combined, mut free) = (vec![], vec![], vec![], vec![]);
    let mut walls = String::new();
    let (h, half) = (height / 2.0 * scaling, 0.5 * scaling);
    for (i, row) in map.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            let x = (j as f64 + 0.5) * scaling - x_centre;
            let y = y_centre - (i as f64 + 0.5) * scaling;
            match c {
                Cell::Wall => walls.push_str(&format!(
                    "<geom name=\"block_{i}_{j}\" pos=\"{x} {y} {h}\" size=\"{half} {half} {h}\" \
                     type=\"box\" contype=\"1\" conaffinity=\"1\" rgba=\"0.7 0.5 0.3 1.0\"/>\n"
                )),
                Cell::Reset => resets.push([x, y]),
                Cell::Goal => goals.push([x, y]),
                Cell::Combined => combined.push([x, y]),
                Cell::Free => free.push([x, y]),
            }
        }
    }
    let size = 0.2 * scaling;
    walls.push_str(&format!(
        "<site name=\"target\" pos=\"0 0 {h}\" size=\"{size}\" rgba=\"1 0 0 0.7\" type=\"sphere\"/>\n"
    ));
    // Unmarked maps use every free cell for what they leave unmarked.
    match (goals.is_empty(), resets.is_empty(), combined.is_empty()) {
        (true, true, true) => combined = free,
        (_, true, true) => resets = free,
        (true, _, true) => goals = free,
        _ => {}
    }
    goals.extend_from_slice(&combined);
    resets.extend_from_slice(&combined);
    ensure!(
        !goals.is_empty() && !resets.is_empty(),
        "the maze has no free cell"
    );
    let end = agent_xml
        .rfind("</worldbody>")
        .context("the agent's model has no </worldbody>")?;
    let xml = format!("{}{walls}{}", &agent_xml[..end], &agent_xml[end..]);
    Ok(Layout { goals, resets, xml })
}

pub struct GymMaze {
    config: Config,
    layout: Layout,
    sim: Sim,
    target_site: usize,
    episode: Episode,
    rng: ChaCha8Rng,
    goal: [f64; 2],
    reached: bool,
}

impl GymMaze {
    pub fn new(config: Config) -> Result<Self> {
        let agent = config.agent;
        let path = asset(agent.model_file())?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let layout = layout(&config.map, &text, agent.scaling(), agent.height())?;
        let sim = Sim::from_xml_text(&layout.xml, agent.frame_skip())?;
        let (obs, act) = agent.dims();
        ensure!(
            sim.nq() + sim.nv() == obs && sim.nu() == act,
            "{}: the model has {} + {} state entries and {} actuators, expected {obs} and {act}",
            agent.model_file(),
            sim.nq(),
            sim.nv(),
            sim.nu()
        );
        let target_site = sim.id(mujoco_rs::prelude::MjtObjBase::mjOBJ_SITE, "target")?;
        Ok(GymMaze {
            episode: Episode::new(config.spec()),
            config,
            layout,
            sim,
            target_site,
            rng: ChaCha8Rng::seed_from_u64(0),
            goal: [0.0; 2],
            reached: false,
        })
    }

    fn noisy(&mut self, p: [f64; 2]) -> [f64; 2] {
        let n = POSITION_NOISE * self.config.agent.scaling();
        let dx = self.rng.gen_range(-n..n);
        let dy = self.rng.gen_range(-n..n);
        [p[0] + dx, p[1] + dy]
    }

    fn draw_goal(&mut self) -> [f64; 2] {
        let g = self.layout.goals[self.rng.gen_range(0..self.layout.goals.len())];
        self.noisy(g)
    }

    fn set_goal(&mut self, goal: [f64; 2]) {
        self.goal = goal;
        let site = self.target_site;
        let z = self.config.agent.height() / 2.0 * self.config.agent.scaling();
        self.sim.model_mut().site_pos_mut()[site] = [goal[0], goal[1], z];
    }

    fn distance(&self) -> f64 {
        let q = self.sim.qpos();
        ((q[0] - self.goal[0]).powi(2) + (q[1] - self.goal[1]).powi(2)).sqrt()
    }

    /// qpos then qvel: PointMaze's (x, y, vx, vy), AntMaze's (x, y) then its 27 numbers.
    fn observation(&self) -> Vec<f32> {
        to_f32(self.sim.qpos().iter().chain(self.sim.qvel()).copied())
    }
}

impl Env for GymMaze {
    fn spec(&self) -> &EnvSpec {
        &self.episode.spec
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        let goal = self.draw_goal();
        let mut start = goal;
        let min_distance = 0.5 * self.config.agent.scaling();
        while ((start[0] - goal[0]).powi(2) + (start[1] - goal[1]).powi(2)).sqrt() <= min_distance {
            start = self.layout.resets[self.rng.gen_range(0..self.layout.resets.len())];
        }
        let start = self.noisy(start);
        // The model's pose with the start as (x, y), at rest.
        let mut qpos = self.sim.init_qpos().to_vec();
        qpos[..2].copy_from_slice(&start);
        let qvel = vec![0.0; self.sim.nv()];
        self.set_episode_state(&qpos, &qvel, &goal)
            .expect("state sizes come from the model")
    }

    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.episode.check(action)?;
        let ctrl = self.action_to_ctrl(action);
        // PointMaze clips the ball's velocity before each step; AntMaze steps the ant as is.
        if self.config.agent == Agent::Point {
            let qpos = self.sim.qpos().to_vec();
            let qvel: Vec<f64> = self
                .sim
                .qvel()
                .iter()
                .map(|v| v.clamp(-MAX_VELOCITY, MAX_VELOCITY))
                .collect();
            self.sim.set_state(&qpos, &qvel)?;
        }
        self.sim.step(&ctrl);
        let d = self.distance();
        let at_goal = d <= GOAL_RADIUS;
        self.reached |= at_goal;
        let reward = if self.config.dense {
            (-d).exp()
        } else if at_goal {
            1.0
        } else {
            0.0
        };
        let terminated = !self.config.continuing_task && at_goal;
        let obs = self.observation();
        if self.config.continuing_task
            && self.config.reset_target
            && at_goal
            && self.layout.goals.len() > 1
        {
            while self.distance() <= GOAL_RADIUS {
                let g = self.draw_goal();
                self.set_goal(g);
            }
        }
        let truncated = self.episode.finish_step(terminated);
        Ok(Step {
            obs,
            reward: reward as f32,
            terminated,
            truncated,
        })
    }

    fn success(&self) -> Option<bool> {
        Some(self.reached)
    }
}

impl SimEnv for GymMaze {
    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>> {
        let goal = super::goal_of(&self.config.id, task)?;
        self.set_goal(goal);
        self.sim.reset_data();
        self.sim.set_state(qpos, qvel)?;
        self.episode.start();
        self.reached = self.distance() <= GOAL_RADIUS;
        Ok(self.observation())
    }

    fn task_state_names(&self) -> Vec<&'static str> {
        vec!["goal_x", "goal_y"]
    }

    fn task_state(&self) -> Vec<f64> {
        self.goal.to_vec()
    }

    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64> {
        action
            .iter()
            .map(|&a| (a as f64).clamp(-1.0, 1.0))
            .collect()
    }
}

/// Every registered PointMaze and AntMaze id's spec (for `pars envs`).
pub fn list_envs() -> Vec<EnvSpec> {
    [Agent::Point, Agent::Ant]
        .into_iter()
        .flat_map(|a| {
            MAPS.iter().flat_map(move |(name, _, _)| {
                ["", "Dense"].map(|d| format!("{}_{name}{d}-{}", a.prefix(), a.version()))
            })
        })
        .map(|id| Config::registered(&id).expect("registered").spec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_ids_and_specs_round_trip() {
        let c = Config::registered("pointmaze_largedense-v3").unwrap();
        assert_eq!(
            (c.id.as_str(), c.dense, c.max_episode_steps),
            ("PointMaze_LargeDense-v3", true, 800)
        );
        assert_eq!(c.map.len(), 9);
        assert!(c.map.iter().all(|r| r.len() == 12));
        assert_eq!(Config::from_spec(&c.to_spec()).unwrap(), Some(c));
        assert!(Config::registered("PointMaze_Tiny-v3").is_none());
        let spec = serde_json::json!({"id": "PointMaze_UMaze-v3", "max_episode_steps": 100,
            "kwargs": {"maze_map": [[1, 1, 1], [1, "g", 1], [1, "r", 1], [1, 1, 1]],
                       "reward_type": "dense", "continuing_task": false}});
        let c = Config::from_spec(&spec).unwrap().unwrap();
        assert!(c.dense && !c.continuing_task && !c.reset_target && c.max_episode_steps == 100);
        assert_eq!(c.map[1][1], Cell::Goal);
        let bad = serde_json::json!({"id": "PointMaze_UMaze-v3", "kwargs": {"maze_map": [[1, 2]]}});
        let e = format!("{:#}", Config::from_spec(&bad).unwrap_err());
        assert!(e.contains("maze_map") && e.contains("cell 2"), "{e}");
    }

    #[test]
    fn unmarked_maps_use_every_free_cell() {
        let c = Config::registered("PointMaze_UMaze-v3").unwrap();
        let l = layout(&c.map, "<mujoco><worldbody></worldbody></mujoco>", 1.0, 0.4).unwrap();
        assert_eq!((l.goals.len(), l.resets.len()), (7, 7));
        assert_eq!(l.goals[0], [-1.0, 1.0]);
        assert_eq!(l.xml.matches("<geom").count(), 18);
        let c = Config::registered("PointMaze_Medium_Diverse_G-v3").unwrap();
        let l = layout(&c.map, "<mujoco><worldbody></worldbody></mujoco>", 4.0, 0.5).unwrap();
        assert_eq!((l.goals.len(), l.resets.len()), (3, 1));
        assert_eq!(l.resets[0], [-10.0, 10.0]);
        let c = Config::registered("antmaze_umazedense-v4").unwrap();
        assert_eq!(
            (c.id.as_str(), c.agent, c.max_episode_steps),
            ("AntMaze_UMazeDense-v4", Agent::Ant, 700)
        );
        assert_eq!(c.spec().obs_dim, 29);
    }
}
