//! Gymnasium-Robotics' PointMaze (`PointMaze_UMaze-v3`, ..., the environments Minari's
//! `D4RL/pointmaze/*` datasets were collected in): a force-driven ball of radius 0.1 with
//! two slide joints in a maze of 1 m cells (walls 0.4 m tall), centred on the origin, one
//! physics step of 0.01 s per environment step, velocities clipped to ±5 before each step.
//! The goal is drawn per episode from the map's goal cells (every free cell when the map
//! marks none) with ±0.25 of uniform noise per coordinate, the start from the reset cells,
//! more than 0.5 from the goal. Reward: 1 within 0.45 of the goal (`sparse`) or
//! exp(−distance) (`dense`, the `...Dense-v3` ids). With `continuing_task` (the default)
//! reaching the goal does not end the episode, and with `reset_target` a new goal is drawn.
//!
//! The observation is the dict's `observation` (x, y, vx, vy), as a Minari PointMaze
//! dataset is flattened by default (D4RL's maze2d layout, without the goal).
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
/// Wall height (`maze_height`; cells are 1 m: `maze_size_scaling` 1).
const WALL_HEIGHT: f64 = 0.4;
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

/// Registered maps: (name in the id, rows, time limit).
const MAPS: [(&str, &[&str], usize); 10] = [
    ("UMaze", UMAZE, 300),
    ("Open", OPEN, 300),
    ("Open_Diverse_G", OPEN_DIVERSE_G, 300),
    ("Open_Diverse_GR", OPEN_DIVERSE_GR, 300),
    ("Medium", MEDIUM, 600),
    ("Medium_Diverse_G", MEDIUM_DIVERSE_G, 600),
    ("Medium_Diverse_GR", MEDIUM_DIVERSE_GR, 600),
    ("Large", LARGE, 800),
    ("Large_Diverse_G", LARGE_DIVERSE_G, 800),
    ("Large_Diverse_GR", LARGE_DIVERSE_GR, 800),
];

/// What a `PointMaze_*-v3` environment is made of: its registration and keyword arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub id: String,
    pub map: Vec<Vec<Cell>>,
    pub dense: bool,
    pub continuing_task: bool,
    pub reset_target: bool,
    pub max_episode_steps: usize,
}

impl Config {
    /// A registered id (`PointMaze_UMaze-v3`, `PointMaze_LargeDense-v3`, case-insensitive)
    /// with its registered arguments; `None` if the id is not one.
    pub fn registered(id: &str) -> Option<Config> {
        let lower = id.to_ascii_lowercase();
        let name = lower.strip_prefix("pointmaze_")?.strip_suffix("-v3")?;
        let (name, dense) = match name.strip_suffix("dense") {
            Some(n) => (n, true),
            None => (name, false),
        };
        let (map_name, rows, limit) = MAPS.iter().find(|m| m.0.to_ascii_lowercase() == name)?;
        Some(Config {
            id: format!(
                "PointMaze_{map_name}{}-v3",
                if dense { "Dense" } else { "" }
            ),
            map: rows.iter().map(|r| r.chars().map(cell).collect()).collect(),
            dense,
            continuing_task: true,
            reset_target: false,
            max_episode_steps: *limit,
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
        EnvSpec::new(self.id.clone(), 4, 2, self.max_episode_steps)
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
/// generated model: `point.xml` with one box per wall cell and the target site.
struct Layout {
    goals: Vec<[f64; 2]>,
    resets: Vec<[f64; 2]>,
    xml: String,
}

fn layout(map: &[Vec<Cell>], point_xml: &str) -> Result<Layout> {
    let (rows, cols) = (map.len(), map[0].len());
    let (x_centre, y_centre) = (cols as f64 / 2.0, rows as f64 / 2.0);
    let (mut goals, mut resets, mut combined, mut free) = (vec![], vec![], vec![], vec![]);
    let mut walls = String::new();
    let h = WALL_HEIGHT / 2.0;
    for (i, row) in map.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            let x = (j as f64 + 0.5) - x_centre;
            let y = y_centre - (i as f64 + 0.5);
            match c {
                Cell::Wall => walls.push_str(&format!(
                    "<geom name=\"block_{i}_{j}\" pos=\"{x} {y} {h}\" size=\"0.5 0.5 {h}\" \
                     type=\"box\" contype=\"1\" conaffinity=\"1\" rgba=\"0.7 0.5 0.3 1.0\"/>\n"
                )),
                Cell::Reset => resets.push([x, y]),
                Cell::Goal => goals.push([x, y]),
                Cell::Combined => combined.push([x, y]),
                Cell::Free => free.push([x, y]),
            }
        }
    }
    walls.push_str(&format!(
        "<site name=\"target\" pos=\"0 0 {h}\" size=\"0.2\" rgba=\"1 0 0 0.7\" type=\"sphere\"/>\n"
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
    let end = point_xml
        .rfind("</worldbody>")
        .context("point.xml has no </worldbody>")?;
    let xml = format!("{}{walls}{}", &point_xml[..end], &point_xml[end..]);
    Ok(Layout { goals, resets, xml })
}

pub struct PointMaze {
    config: Config,
    layout: Layout,
    sim: Sim,
    target_site: usize,
    episode: Episode,
    rng: ChaCha8Rng,
    goal: [f64; 2],
    reached: bool,
}

impl PointMaze {
    pub fn new(config: Config) -> Result<Self> {
        let path = asset("gymnasium_robotics/envs/assets/point/point.xml")?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let layout = layout(&config.map, &text)?;
        let sim = Sim::from_xml_text(&layout.xml, 1)?;
        ensure!(
            sim.nq() == 2 && sim.nv() == 2 && sim.nu() == 2,
            "point.xml: not a 2-joint ball"
        );
        let target_site = sim.id(mujoco_rs::prelude::MjtObjBase::mjOBJ_SITE, "target")?;
        Ok(PointMaze {
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
        let n = POSITION_NOISE;
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
        self.sim.model_mut().site_pos_mut()[site] = [goal[0], goal[1], WALL_HEIGHT / 2.0];
    }

    fn distance(&self) -> f64 {
        let q = self.sim.qpos();
        ((q[0] - self.goal[0]).powi(2) + (q[1] - self.goal[1]).powi(2)).sqrt()
    }

    fn observation(&self) -> Vec<f32> {
        to_f32(self.sim.qpos().iter().chain(self.sim.qvel()).copied())
    }
}

impl Env for PointMaze {
    fn spec(&self) -> &EnvSpec {
        &self.episode.spec
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        let goal = self.draw_goal();
        let mut start = goal;
        while ((start[0] - goal[0]).powi(2) + (start[1] - goal[1]).powi(2)).sqrt() <= 0.5 {
            start = self.layout.resets[self.rng.gen_range(0..self.layout.resets.len())];
        }
        let start = self.noisy(start);
        self.set_episode_state(&start, &[0.0, 0.0], &goal)
            .expect("state sizes come from the model")
    }

    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.episode.check(action)?;
        let ctrl = self.action_to_ctrl(action);
        let qpos = self.sim.qpos().to_vec();
        let qvel: Vec<f64> = self
            .sim
            .qvel()
            .iter()
            .map(|v| v.clamp(-MAX_VELOCITY, MAX_VELOCITY))
            .collect();
        self.sim.set_state(&qpos, &qvel)?;
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

impl SimEnv for PointMaze {
    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>> {
        ensure!(
            task.len() == 2 && task.iter().all(|g| g.is_finite()),
            "{}: the task state is the goal (goal_x, goal_y), got {task:?}",
            self.config.id
        );
        self.set_goal([task[0], task[1]]);
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

/// Every registered PointMaze id's spec (for `pars envs`).
pub fn list_envs() -> Vec<EnvSpec> {
    MAPS.iter()
        .flat_map(|(name, _, _)| ["", "Dense"].map(|d| format!("PointMaze_{name}{d}-v3")))
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
        let l = layout(&c.map, "<mujoco><worldbody></worldbody></mujoco>").unwrap();
        assert_eq!((l.goals.len(), l.resets.len()), (7, 7));
        assert_eq!(l.goals[0], [-1.0, 1.0]);
        assert_eq!(l.xml.matches("<geom").count(), 18);
        let c = Config::registered("PointMaze_Medium_Diverse_G-v3").unwrap();
        let l = layout(&c.map, "<mujoco><worldbody></worldbody></mujoco>").unwrap();
        assert_eq!((l.goals.len(), l.resets.len()), (3, 1));
    }
}
