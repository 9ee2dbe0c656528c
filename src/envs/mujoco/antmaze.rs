//! AntMaze with the semantics of the D4RL `antmaze-*` datasets (evaluation mode): the
//! 8-joint ant in a maze of 4 m cells, a sparse reward of 1 within 0.5 m of the goal, the
//! episode ends when the goal is reached or at the time limit (700/1000/1000/2000 steps).
//!
//! The model is Gymnasium's `ant.xml` turned into D4RL's ant physics by editing its text:
//! physics time step 0.02 s (Gymnasium: 0.01), default geom `solimp=".8 .8 .01"` (MuJoCo's
//! default otherwise), motors with `ctrlrange="-30 30"` and gear 1 (Gymnasium: ±1 with gear
//! 150). One 4×4×2 m box per wall cell is added to the world body, as D4RL's `MazeEnv` does.
//!
//! Coordinates are D4RL's: the start cell's centre is the origin, x runs along the columns
//! and y along the rows of the layouts below (the first row is at the smallest y).
use anyhow::{bail, ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{asset, normal_noise, to_f32, uniform_noise, Episode, Sim, SimEnv};
use crate::envs::{Env, EnvSpec, Step};

/// Side of one maze cell in metres (D4RL's `maze_size_scaling`).
pub(super) const CELL: f64 = 4.0;
/// Half-height of a wall box: D4RL's `maze_height` 0.5 × scaling / 2, so walls are 2 m tall.
const WALL_HALF_HEIGHT: f64 = 0.5 * CELL / 2.0;
/// The goal counts as reached within this distance (x, y) of the goal point.
pub(super) const GOAL_RADIUS: f64 = 0.5;
/// Physics steps per environment step (0.1 s per step with the 0.02 s time step).
pub(super) const FRAME_SKIP: usize = 5;
pub(super) const OBS_DIM: usize = 29;
pub(super) const ACT_DIM: usize = 8;
/// Geoms of the ant model without walls: the floor and 13 body geoms.
const ANT_GEOMS: usize = 14;

// Layouts, first row at y = -4·(start row), '#' wall, '.' free, 'r' start, 'g' goal.

/// D4RL `U_MAZE_TEST`.
const UMAZE: [&str; 5] = [
    "#####", //
    "#r..#", //
    "###.#", //
    "#g..#", //
    "#####",
];

/// D4RL `BIG_MAZE_TEST` (antmaze-medium).
const MEDIUM: [&str; 8] = [
    "########", //
    "#r.##..#", //
    "#..#...#", //
    "##...###", //
    "#..#...#", //
    "#.#..#.#", //
    "#...#.g#", //
    "########",
];

/// D4RL `HARDEST_MAZE_TEST` (antmaze-large).
const LARGE: [&str; 9] = [
    "############", //
    "#r...#.....#", //
    "#.##.#.#.#.#", //
    "#......#...#", //
    "#.####.###.#", //
    "#..#.#.....#", //
    "##.#.#.#.###", //
    "#..#...#.g.#", //
    "############",
];

/// `ULTRA_MAZE_TEST` of the D4RL fork that added antmaze-ultra.
const ULTRA: [&str; 12] = [
    "################", //
    "#r......#......#", //
    "#.###.#.#.##.#.#", //
    "#.###.#....#.#.#", //
    "#...#.##.###.#.#", //
    "#.#...#........#", //
    "#...#...#.###.##", //
    "#.#.###.#...#.##", //
    "#.......#.#....#", //
    "##.##.#...####.#", //
    "##.#..#.#.....g#", //
    "################",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Umaze,
    Medium,
    Large,
    Ultra,
}

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::Umaze, Layout::Medium, Layout::Large, Layout::Ultra];

    pub fn env_id(self) -> &'static str {
        match self {
            Layout::Umaze => "antmaze-umaze-v2",
            Layout::Medium => "antmaze-medium-v2",
            Layout::Large => "antmaze-large-v2",
            Layout::Ultra => "antmaze-ultra-v0",
        }
    }

    /// Id, sizes (qpos ++ qvel, 8 motors) and the layout's episode limit.
    pub fn spec(self) -> EnvSpec {
        EnvSpec::new(self.env_id(), OBS_DIM, ACT_DIM, self.max_episode_steps())
    }

    pub fn max_episode_steps(self) -> usize {
        match self {
            Layout::Umaze => 700,
            Layout::Ultra => 2000,
            _ => 1000,
        }
    }

    /// `antmaze-umaze-v2`, `antmaze-medium-play-v2`, `antmaze-ultra-diverse-v0`, ...
    pub fn from_env_id(id: &str) -> Option<Layout> {
        let mut parts = id.split('-');
        if parts.next()? != "antmaze" {
            return None;
        }
        match parts.next()? {
            "umaze" => Some(Layout::Umaze),
            "medium" => Some(Layout::Medium),
            "large" => Some(Layout::Large),
            "ultra" => Some(Layout::Ultra),
            _ => None,
        }
    }

    /// Rows of the layout ('#' wall, '.' free, 'r' start, 'g' goal).
    pub fn grid(self) -> &'static [&'static str] {
        match self {
            Layout::Umaze => &UMAZE,
            Layout::Medium => &MEDIUM,
            Layout::Large => &LARGE,
            Layout::Ultra => &ULTRA,
        }
    }

    /// (row, column) of the first cell holding `c`.
    fn find(self, c: u8) -> (usize, usize) {
        self.grid()
            .iter()
            .enumerate()
            .find_map(|(i, row)| row.bytes().position(|b| b == c).map(|j| (i, j)))
            .expect("every layout has one start and one goal cell")
    }

    /// Centre of cell (row, column) in world coordinates: the start cell is the origin,
    /// x grows with the column and y with the row.
    pub fn cell_centre(self, row: usize, col: usize) -> [f64; 2] {
        let (i0, j0) = self.find(b'r');
        [
            (col as f64 - j0 as f64) * CELL,
            (row as f64 - i0 as f64) * CELL,
        ]
    }

    /// Centre of the goal cell; the goal itself is this plus an offset in [0, 1.5] m
    /// per axis.
    pub fn goal_cell_centre(self) -> [f64; 2] {
        let (i, j) = self.find(b'g');
        self.cell_centre(i, j)
    }

    /// Whether (row, column) is inside the layout and not a wall.
    pub fn is_free(self, (row, col): (usize, usize)) -> bool {
        let g = self.grid();
        row < g.len() && col < g[0].len() && g[row].as_bytes()[col] != b'#'
    }

    /// Every free cell, row by row.
    pub fn free_cells(self) -> Vec<(usize, usize)> {
        let g = self.grid();
        (0..g.len())
            .flat_map(|i| (0..g[0].len()).map(move |j| (i, j)))
            .filter(|&c| self.is_free(c))
            .collect()
    }

    /// The cell holding world point (x, y), if inside the layout.
    pub fn cell_of(self, [x, y]: [f64; 2]) -> Option<(usize, usize)> {
        let (i0, j0) = self.find(b'r');
        let (i, j) = (
            i0 as f64 + (y / CELL).round(),
            j0 as f64 + (x / CELL).round(),
        );
        let g = self.grid();
        (i >= 0.0 && j >= 0.0 && (i as usize) < g.len() && (j as usize) < g[0].len())
            .then_some((i as usize, j as usize))
    }

    /// (row, column) of the start and goal cells.
    pub fn start_cell(self) -> (usize, usize) {
        self.find(b'r')
    }

    pub fn goal_cell(self) -> (usize, usize) {
        self.find(b'g')
    }

    /// BFS distances (in cells) to `goal`, row-major with the layout's width.
    pub fn distances_to(self, goal: (usize, usize)) -> Vec<u32> {
        let g = self.grid();
        crate::envs::maze::grid_distances(g.len(), g[0].len(), |c| self.is_free(c), goal)
    }

    /// The free neighbour of `cell` one step closer to the goal of `dist`, if any.
    pub fn next_cell(self, dist: &[u32], cell: (usize, usize)) -> Option<(usize, usize)> {
        let g = self.grid();
        crate::envs::maze::grid_next_cell(g.len(), g[0].len(), |c| self.is_free(c), dist, cell)
    }

    /// (row, column) of every wall cell, row by row.
    pub fn walls(self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (i, row) in self.grid().iter().enumerate() {
            for (j, b) in row.bytes().enumerate() {
                if b == b'#' {
                    v.push((i, j));
                }
            }
        }
        v
    }
}

/// Replace `from` by `to` in `text`, which must hold exactly `count` copies of `from`.
fn replace_exactly(text: &str, from: &str, to: &str, count: usize) -> Result<String> {
    let found = text.matches(from).count();
    ensure!(
        found == count,
        "Gymnasium's ant.xml has changed: expected {count} × `{from}`, found {found}"
    );
    Ok(text.replace(from, to))
}

/// D4RL's ant with one box per wall ((row, column), centre), checked against what the
/// rest of this module assumes (8 motors, 29 state entries, 14 geoms plus the walls).
pub(super) fn ant_sim(walls: &[((usize, usize), [f64; 2])]) -> Result<Sim> {
    let path = asset("gymnasium/envs/mujoco/assets/ant.xml")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let sim = Sim::from_xml_text(&ant_model_xml(&text, walls)?, FRAME_SKIP)?;
    let ngeom = sim.model().ffi().ngeom as usize;
    ensure!(
        sim.nu() == ACT_DIM && sim.nq() + sim.nv() == OBS_DIM && ngeom == ANT_GEOMS + walls.len(),
        "{}: the model has {} actuators, {} + {} state entries and {ngeom} geoms, expected \
         {ACT_DIM} actuators, an observation of {OBS_DIM} and {} geoms",
        path.display(),
        sim.nu(),
        sim.nq(),
        sim.nv(),
        ANT_GEOMS + walls.len()
    );
    Ok(sim)
}

/// Gymnasium's ant with D4RL's physics and the given wall boxes ((row, column), centre).
fn ant_model_xml(ant_xml: &str, walls: &[((usize, usize), [f64; 2])]) -> Result<String> {
    let mut xml = replace_exactly(ant_xml, "timestep=\"0.01\"", "timestep=\"0.02\"", 1)?;
    // Contact softness of D4RL's default geom class (solref is MuJoCo's default anyway).
    let (start, end) = match (xml.find("<default>"), xml.find("</default>")) {
        (Some(s), Some(e)) if s < e => (s, e),
        _ => bail!("Gymnasium's ant.xml has changed: no <default> section"),
    };
    let section = &xml[start..end];
    ensure!(
        !section.contains("solimp") && !section.contains("solref"),
        "Gymnasium's ant.xml has changed: its default class already sets solref/solimp"
    );
    let geom = section
        .find("<geom ")
        .map(|k| start + k)
        .ok_or_else(|| anyhow::anyhow!("Gymnasium's ant.xml has changed: no default geom"))?;
    xml.insert_str(
        geom + "<geom ".len(),
        "solref=\".02 1\" solimp=\".8 .8 .01\" ",
    );
    // D4RL's motors: torque = ctrl (gear 1), ctrl within ±30.
    xml = replace_exactly(&xml, " gear=\"150\"", "", ACT_DIM)?;
    xml = replace_exactly(
        &xml,
        "ctrlrange=\"-1.0 1.0\"",
        "ctrlrange=\"-30 30\"",
        ACT_DIM,
    )?;
    let mut boxes = String::new();
    for &((i, j), [x, y]) in walls {
        let h = CELL / 2.0;
        boxes.push_str(&format!(
            "    <geom name=\"block_{i}_{j}\" type=\"box\" pos=\"{x} {y} {WALL_HALF_HEIGHT}\" \
             size=\"{h} {h} {WALL_HALF_HEIGHT}\" contype=\"1\" conaffinity=\"1\" \
             rgba=\"0.7 0.5 0.3 1\"/>\n"
        ));
    }
    boxes.push_str("  </worldbody>");
    replace_exactly(&xml, "</worldbody>", &boxes, 1)
}

pub struct AntMaze {
    layout: Layout,
    sim: Sim,
    episode: Episode,
    /// Actuator control ranges (lo, hi); actions in [-1, 1] map linearly onto them.
    ctrl_range: Vec<(f64, f64)>,
    goal: [f64; 2],
    /// The goal was reached in this episode.
    reached: bool,
}

impl AntMaze {
    pub fn new(layout: Layout) -> Result<Self> {
        let walls: Vec<((usize, usize), [f64; 2])> = layout
            .walls()
            .into_iter()
            .map(|(i, j)| ((i, j), layout.cell_centre(i, j)))
            .collect();
        let sim = ant_sim(&walls)?;
        let ctrl_range = sim.ctrl_range();
        Ok(AntMaze {
            layout,
            sim,
            episode: Episode::new(layout.spec()),
            ctrl_range,
            goal: layout.goal_cell_centre(),
            reached: false,
        })
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The goal point of the current episode.
    pub fn goal(&self) -> [f64; 2] {
        self.goal
    }

    /// All of qpos (x, y first) then all of qvel; the goal is not part of it.
    fn observation(&self) -> Vec<f32> {
        to_f32(self.sim.qpos().iter().chain(self.sim.qvel()).copied())
    }

    fn distance_to_goal(&self) -> f64 {
        let q = self.sim.qpos();
        (q[0] - self.goal[0]).hypot(q[1] - self.goal[1])
    }

    /// D4RL's goal sampler for a map with one goal cell: the cell's centre plus
    /// U(0, 1) + U(0, 0.5) per axis, never below 0.
    fn sample_goal(&self, rng: &mut ChaCha8Rng) -> [f64; 2] {
        let [cx, cy] = self.layout.goal_cell_centre();
        let (nx, ny) = (
            rng.gen_range(0.0..CELL * 0.25),
            rng.gen_range(0.0..CELL * 0.25),
        );
        let (mx, my) = (
            rng.gen_range(0.0..0.5) * 0.25 * CELL,
            rng.gen_range(0.0..0.5) * 0.25 * CELL,
        );
        [(cx + nx + mx).max(0.0), (cy + ny + my).max(0.0)]
    }
}

impl Env for AntMaze {
    fn spec(&self) -> &EnvSpec {
        &self.episode.spec
    }

    /// A new goal in the goal cell, then the ant at the start cell: the model's qpos
    /// plus U(±0.1) on all 15 entries, qvel 0.1·N(0, 1) on all 14.
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let goal = self.sample_goal(&mut rng);
        let qpos = uniform_noise(&mut rng, self.sim.init_qpos(), 0.1);
        let qvel = normal_noise(&mut rng, self.sim.init_qvel(), 0.1);
        self.set_episode_state(&qpos, &qvel, &goal)
            .expect("state sizes come from the model")
    }

    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.episode.check(action)?;
        let ctrl = self.action_to_ctrl(action);
        self.sim.step(&ctrl);
        let terminated = self.distance_to_goal() <= GOAL_RADIUS;
        self.reached |= terminated;
        let truncated = self.episode.finish_step(terminated);
        Ok(Step::goal(self.observation(), terminated, truncated))
    }

    fn success(&self) -> Option<bool> {
        Some(self.reached)
    }
}

/// D4RL's `NormalizedBoxEnv`: lo + (a + 1)/2 · (hi − lo), i.e. 30·a, clipped.
pub(super) fn box_to_ctrl(action: &[f32], ctrl_range: &[(f64, f64)]) -> Vec<f64> {
    action
        .iter()
        .zip(ctrl_range)
        .map(|(&a, &(lo, hi))| (lo + (a as f64 + 1.0) * 0.5 * (hi - lo)).clamp(lo, hi))
        .collect()
}

impl SimEnv for AntMaze {
    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>> {
        let goal = super::goal_of(self.layout.env_id(), task)?;
        self.sim.reset_data();
        self.sim.set_state(qpos, qvel)?;
        self.goal = goal;
        self.reached = false;
        self.episode.start();
        Ok(self.observation())
    }

    fn task_state_names(&self) -> Vec<&'static str> {
        vec!["goal_x", "goal_y"]
    }

    fn task_state(&self) -> Vec<f64> {
        self.goal.to_vec()
    }

    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64> {
        box_to_ctrl(action, &self.ctrl_range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mujoco_rs::prelude::MjtObjBase;

    fn env(layout: Layout) -> AntMaze {
        AntMaze::new(layout).expect("Gymnasium's ant.xml (bash scripts/setup.sh)")
    }

    #[test]
    fn layouts_are_closed_with_one_start_and_goal() {
        let walls = [18, 38, 62, 103];
        let goals = [[0.0, 8.0], [20.0, 20.0], [32.0, 24.0], [52.0, 36.0]];
        for (k, l) in Layout::ALL.into_iter().enumerate() {
            let g = l.grid();
            let w = g[0].len();
            assert!(g.iter().all(|r| r.len() == w), "{l:?}");
            assert!(g[0]
                .bytes()
                .chain(g[g.len() - 1].bytes())
                .all(|b| b == b'#'));
            assert!(g.iter().all(|r| r.starts_with('#') && r.ends_with('#')));
            let count = |c: char| g.iter().map(|r| r.matches(c).count()).sum::<usize>();
            assert_eq!((count('r'), count('g')), (1, 1), "{l:?}");
            assert_eq!(l.walls().len(), walls[k], "{l:?}");
            assert_eq!(l.goal_cell_centre(), goals[k], "{l:?}");
            assert_eq!(Layout::from_env_id(l.env_id()), Some(l));
        }
        for name in [
            "antmaze-umaze-diverse-v2",
            "antmaze-medium-play-v2",
            "antmaze-large-diverse-v2",
            "antmaze-ultra-play-v0",
        ] {
            assert!(Layout::from_env_id(name).is_some(), "{name}");
        }
    }

    #[test]
    fn model_has_d4rl_physics_and_walls() {
        let e = env(Layout::Umaze);
        let m = e.sim.model();
        assert_eq!(m.opt().timestep, 0.02);
        assert!((e.sim.dt() - 0.1).abs() < 1e-12);
        assert_eq!(e.ctrl_range, vec![(-30.0, 30.0); ACT_DIM]);
        assert!(m.actuator_gear().iter().all(|g| g[0] == 1.0));
        assert!(m.geom_solimp().iter().all(|s| s[..3] == [0.8, 0.8, 0.01]));
        assert_eq!(m.ffi().nbody, 14);
        // walls: 4×4×2 m boxes centred 1 m up, colliding with the ant
        let first = e.sim.id(MjtObjBase::mjOBJ_GEOM, "block_0_0").unwrap();
        assert_eq!(m.geom_pos()[first], [-4.0, -4.0, 1.0]);
        assert_eq!(m.geom_size()[first], [2.0, 2.0, 1.0]);
        assert_eq!(m.geom_conaffinity()[first], 1);
        let goal_side = e.sim.id(MjtObjBase::mjOBJ_GEOM, "block_3_0").unwrap();
        assert_eq!(m.geom_pos()[goal_side], [-4.0, 8.0, 1.0]);
    }

    #[test]
    fn reset_is_reproducible_and_starts_at_the_origin() {
        for l in Layout::ALL {
            let mut e = env(l);
            let (o, g) = (e.reset(7), e.goal());
            assert_eq!(o.len(), OBS_DIM);
            assert_eq!((e.reset(7), e.goal()), (o.clone(), g), "{l:?}");
            let (o2, g2) = (e.reset(8), e.goal());
            assert_ne!(o, o2, "{l:?}");
            assert_ne!(g, g2, "{l:?}");
            for seed in 0..20 {
                let o = e.reset(seed);
                assert!(o[0].abs() <= 0.1 && o[1].abs() <= 0.1, "{l:?}: start {o:?}");
                assert!((o[2] - 0.75).abs() <= 0.1);
                let [cx, cy] = l.goal_cell_centre();
                let [gx, gy] = e.goal();
                assert!((cx..cx + 1.5).contains(&gx) && (cy..cy + 1.5).contains(&gy));
                assert_eq!(e.task_state(), vec![gx, gy]);
                assert_eq!(e.success(), Some(false));
            }
        }
    }

    #[test]
    fn bad_actions_and_task_states_are_errors() {
        let mut e = env(Layout::Umaze);
        e.reset(0);
        let before = e.sim.qpos().to_vec();
        let err = e.step(&[0.0; 7]).unwrap_err().to_string();
        assert!(err.contains("dimension"), "{err}");
        let mut nan = [0.0f32; 8];
        nan[3] = f32::NAN;
        assert!(e.step(&nan).is_err());
        assert_eq!(e.sim.qpos(), &before[..]);
        let (q, v) = (e.sim.qpos().to_vec(), e.sim.qvel().to_vec());
        let err = e.set_episode_state(&q, &v, &[1.0]).unwrap_err().to_string();
        assert!(err.contains("goal"), "{err}");
        assert!(e.set_episode_state(&q, &v, &[]).is_err());
        assert!(e.set_episode_state(&q[1..], &v, &[0.0, 8.0]).is_err());
    }

    #[test]
    fn actions_scale_to_thirty_newton_metres() {
        let e = env(Layout::Umaze);
        let a = [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, -3.0];
        let c = e.action_to_ctrl(&a);
        assert_eq!(c, vec![-30.0, -15.0, 0.0, 7.5, 15.0, 30.0, 30.0, -30.0]);
    }

    #[test]
    fn reaching_the_goal_pays_one_and_terminates() {
        let mut e = env(Layout::Medium);
        e.reset(1);
        let (mut q, v) = (e.sim.qpos().to_vec(), vec![0.0; e.sim.nv()]);
        let goal = e.goal();
        q[0] = goal[0] + 0.1;
        q[1] = goal[1] - 0.1;
        e.set_episode_state(&q, &v, &goal).unwrap();
        let s = e.step(&[0.0; 8]).unwrap();
        assert_eq!((s.reward, s.terminated, s.truncated), (1.0, true, false));
        assert_eq!(e.success(), Some(true));
        assert!(e.step(&[0.0; 8]).is_err(), "step after the end");
        // far from the goal: nothing
        e.reset(1);
        let s = e.step(&[0.0; 8]).unwrap();
        assert_eq!((s.reward, s.terminated), (0.0, false));
        assert_eq!(e.success(), Some(false));
    }

    #[test]
    fn umaze_truncates_at_700_steps_inside_the_maze() {
        let mut e = env(Layout::Umaze);
        e.reset(0);
        let (q, v) = (e.sim.qpos().to_vec(), e.sim.qvel().to_vec());
        // a goal out of reach, so only the time limit ends the episode
        e.set_episode_state(&q, &v, &[100.0, 100.0]).unwrap();
        for t in 1..=700 {
            let a: Vec<f32> = (0..8).map(|i| ((t / 10 + i) % 3) as f32 - 1.0).collect();
            let s = e.step(&a).unwrap();
            assert!(!s.terminated && s.reward == 0.0);
            assert_eq!(s.truncated, t == 700, "step {t}");
            // the free cells span [-2, 10] in x and y
            let (x, y) = (s.obs[0], s.obs[1]);
            assert!((-2.0..=10.0).contains(&x) && (-2.0..=10.0).contains(&y));
        }
        assert_eq!(e.success(), Some(false));
        assert!(e.step(&[0.0; 8]).is_err());
    }

    /// Largest x of the torso over 10 steps after launching the ant along x at `vx`
    /// from x = `x0` in the start cell of umaze.
    fn launch(e: &mut AntMaze, x0: f64, vx: f64) -> (f64, f64) {
        let mut q = e.sim.init_qpos().to_vec();
        q[0] = x0;
        let mut v = vec![0.0; e.sim.nv()];
        v[0] = vx;
        e.set_episode_state(&q, &v, &[100.0, 100.0]).unwrap();
        let (mut lo, mut hi) = (x0, x0);
        for _ in 0..10 {
            e.step(&[0.0; 8]).unwrap();
            lo = lo.min(e.sim.qpos()[0]);
            hi = hi.max(e.sim.qpos()[0]);
        }
        (lo, hi)
    }

    #[test]
    fn walls_stop_the_ant() {
        let mut e = env(Layout::Umaze);
        // cell (1, 0), left of the start, is a wall from x = -6 to -2
        let (lo, _) = launch(&mut e, -1.0, -10.0);
        assert!(lo > -2.0 + 0.25, "the torso reached x = {lo}");
        // cell (1, 2) to the right is free: the same push carries the ant into it
        let (_, hi) = launch(&mut e, 1.0, 10.0);
        assert!(hi > 2.5, "the ant only reached x = {hi}");
    }
}
