//! Point-mass mazes in the spirit of D4RL's maze tasks, in pure Rust.
//!
//! Geometry: the maze is a grid of unit cells; cell `(row, col)` covers
//! `x ∈ [col, col+1]`, `y ∈ [row, row+1]`, so its centre is `(col+0.5, row+0.5)`.
//! The agent is a disc of radius [`RADIUS`] driven by a force in `[-1, 1]^2`.
//! Observation: `[x, y, vx, vy]`. The evaluation goal is fixed per layout, so it
//! is not part of the observation (as in D4RL AntMaze).
use std::collections::VecDeque;

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{check_action, Env, EnvSpec, Step};

/// A grid cell as `(row, col)`.
pub type Cell = (usize, usize);

/// Integration time step (s).
pub const DT: f64 = 0.1;
/// Acceleration per unit action (cells/s²).
pub const ACCEL: f64 = 5.0;
/// Linear velocity damping (1/s).
pub const DAMPING: f64 = 1.0;
/// Speed cap (cells/s): 0.15 cells per step, so ~7 steps per cell.
pub const MAX_SPEED: f64 = 1.5;
/// Radius of the point mass (cells).
pub const RADIUS: f64 = 0.1;
/// Distance to a goal cell centre that counts as reaching it.
pub const GOAL_RADIUS: f64 = 0.5;
/// Half-width of the uniform noise on the reset position.
pub const RESET_NOISE: f64 = 0.1;

/// Maze layouts, from small to large.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Umaze,
    Medium,
    Large,
    Ultra,
}

const UMAZE: &[&str] = &[
    "#####", //
    "#G..#", //
    "###.#", //
    "#S..#", //
    "#####",
];

const MEDIUM: &[&str] = &[
    "########", //
    "#S.#...#", //
    "#..#.#.#", //
    "##...#.#", //
    "#..#...#", //
    "#.##.#.#", //
    "#..#.#G#", //
    "########",
];

const LARGE: &[&str] = &[
    "############", //
    "#S...#.....#", //
    "#.##.#.##.##", //
    "#.#....#...#", //
    "#.#.####.#.#", //
    "#...#..#.#.#", //
    "###.#.##...#", //
    "#.....#..#G#", //
    "############",
];

const ULTRA: &[&str] = &[
    "################", //
    "#S...#......#..#", //
    "#.##.#.####.#..#", //
    "#.#..#....#...##", //
    "#.#.####.##.#..#", //
    "#......#..#.##.#", //
    "####.#.##.#....#", //
    "#....#....####.#", //
    "#.####.##.#....#", //
    "#...#..#..#.#.##", //
    "#.#...##.##.#.G#", //
    "################",
];

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::Umaze, Layout::Medium, Layout::Large, Layout::Ultra];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Umaze => "umaze",
            Layout::Medium => "medium",
            Layout::Large => "large",
            Layout::Ultra => "ultra",
        }
    }

    pub fn from_name(name: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Parses `pointmaze-<layout>-v0` or `pointmaze-<layout>-<style>-v0`; the
    /// dataset style (one lowercase token such as `diverse`, `play`) is ignored.
    pub fn from_env_id(id: &str) -> Option<Layout> {
        let mid = id.strip_prefix("pointmaze-")?.strip_suffix("-v0")?;
        let mut parts = mid.split('-');
        let layout = Layout::from_name(parts.next()?)?;
        if let Some(style) = parts.next() {
            let ok = !style.is_empty()
                && style
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return None;
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(layout)
    }

    /// `pointmaze-<layout>-v0`.
    pub fn env_id(self) -> String {
        format!("pointmaze-{}-v0", self.name())
    }

    /// The maze as text rows: `#` wall, `.` free, `S` evaluation start, `G` goal.
    pub fn rows(self) -> &'static [&'static str] {
        match self {
            Layout::Umaze => UMAZE,
            Layout::Medium => MEDIUM,
            Layout::Large => LARGE,
            Layout::Ultra => ULTRA,
        }
    }

    /// Evaluation episode limit; a scripted controller needs well under half.
    pub fn max_episode_steps(self) -> usize {
        match self {
            Layout::Umaze => 300,
            Layout::Medium => 600,
            Layout::Large => 800,
            Layout::Ultra => 1200,
        }
    }

    /// Id, sizes (observation [x, y, vx, vy], 2-D force) and episode limit.
    pub fn spec(self) -> EnvSpec {
        EnvSpec::new(self.env_id(), 4, 2, self.max_episode_steps())
    }

    pub fn grid(self) -> Grid {
        Grid::new(self)
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Static maze geometry: walls, evaluation start and goal, path queries.
#[derive(Clone, Debug)]
pub struct Grid {
    layout: Layout,
    height: usize,
    width: usize,
    /// Row-major, `true` = wall.
    walls: Vec<bool>,
    start: Cell,
    goal: Cell,
}

impl Grid {
    pub fn new(layout: Layout) -> Grid {
        let rows = layout.rows();
        let height = rows.len();
        let width = rows[0].len();
        let mut walls = Vec::with_capacity(height * width);
        let (mut start, mut goal) = (None, None);
        for (r, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), width, "maze {layout}: ragged row {r}");
            for (c, ch) in row.chars().enumerate() {
                match ch {
                    '#' => walls.push(true),
                    '.' => walls.push(false),
                    'S' => {
                        start = Some((r, c));
                        walls.push(false)
                    }
                    'G' => {
                        goal = Some((r, c));
                        walls.push(false)
                    }
                    _ => panic!("maze {layout}: bad character {ch:?}"),
                }
            }
        }
        Grid {
            layout,
            height,
            width,
            walls,
            start: start.expect("maze without S"),
            goal: goal.expect("maze without G"),
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn eval_start(&self) -> Cell {
        self.start
    }
    pub fn eval_goal(&self) -> Cell {
        self.goal
    }

    /// Whether a cell is inside the grid and not a wall.
    pub fn is_free(&self, cell: Cell) -> bool {
        cell.0 < self.height && cell.1 < self.width && !self.walls[cell.0 * self.width + cell.1]
    }

    /// Signed version for collision queries: anything outside the grid is wall.
    fn is_wall_i(&self, r: i64, c: i64) -> bool {
        r < 0 || c < 0 || !self.is_free((r as usize, c as usize))
    }

    /// All free cells in row-major order.
    pub fn free_cells(&self) -> Vec<Cell> {
        (0..self.height)
            .flat_map(|r| (0..self.width).map(move |c| (r, c)))
            .filter(|&cell| self.is_free(cell))
            .collect()
    }

    /// Centre of a cell as `[x, y]`.
    pub fn cell_centre(&self, cell: Cell) -> [f64; 2] {
        [cell.1 as f64 + 0.5, cell.0 as f64 + 0.5]
    }

    /// The cell containing a position, if it is inside the grid.
    pub fn cell_of(&self, pos: [f64; 2]) -> Option<Cell> {
        let (x, y) = (pos[0].floor(), pos[1].floor());
        if x < 0.0 || y < 0.0 || x >= self.width as f64 || y >= self.height as f64 {
            return None;
        }
        Some((y as usize, x as usize))
    }

    /// Free 4-neighbours in a fixed order (down, up, right, left).
    pub fn neighbours(&self, cell: Cell) -> impl Iterator<Item = Cell> + '_ {
        let (r, c) = (cell.0 as i64, cell.1 as i64);
        [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
            .into_iter()
            .filter(|&(r, c)| !self.is_wall_i(r, c))
            .map(|(r, c)| (r as usize, c as usize))
    }

    fn index(&self, cell: Cell) -> usize {
        cell.0 * self.width + cell.1
    }

    /// BFS distance (in cells) from every cell to `goal`; `u32::MAX` where unreachable.
    pub fn distances_to(&self, goal: Cell) -> Vec<u32> {
        grid_distances(self.height, self.width, |c| self.is_free(c), goal)
    }

    /// Distance in cells between two cells, if connected.
    pub fn cell_distance(&self, from: Cell, to: Cell) -> Option<u32> {
        if !self.is_free(from) {
            return None;
        }
        let d = self.distances_to(to)[self.index(from)];
        (d != u32::MAX).then_some(d)
    }

    /// Shortest 4-connected path of free cells, both ends included.
    pub fn shortest_path(&self, from: Cell, to: Cell) -> Option<Vec<Cell>> {
        if !self.is_free(from) {
            return None;
        }
        let dist = self.distances_to(to);
        if dist[self.index(from)] == u32::MAX {
            return None;
        }
        let mut path = vec![from];
        let mut cur = from;
        while cur != to {
            cur = self.next_cell(&dist, cur)?;
            path.push(cur);
        }
        Some(path)
    }

    /// First neighbour one step closer according to a distance field.
    fn next_cell(&self, dist: &[u32], cell: Cell) -> Option<Cell> {
        grid_next_cell(self.height, self.width, |c| self.is_free(c), dist, cell)
    }

    /// Whether the disc's bounding square touches a wall cell. Using the square
    /// is conservative: the disc itself then never enters a wall.
    fn overlaps_wall(&self, x: f64, y: f64) -> bool {
        // EPS makes exact contact with a wall face count as free.
        const EPS: f64 = 1e-9;
        let c0 = (x - RADIUS + EPS).floor() as i64;
        let c1 = (x + RADIUS - EPS).floor() as i64;
        let r0 = (y - RADIUS + EPS).floor() as i64;
        let r1 = (y + RADIUS - EPS).floor() as i64;
        (r0..=r1).any(|r| (c0..=c1).any(|c| self.is_wall_i(r, c)))
    }

    /// Whether the agent can be placed at `pos` (finite and clear of walls).
    pub fn position_is_valid(&self, pos: [f64; 2]) -> bool {
        pos[0].is_finite() && pos[1].is_finite() && !self.overlaps_wall(pos[0], pos[1])
    }

    /// Whether `pos` is within [`GOAL_RADIUS`] of the centre of `cell`.
    pub fn reached(&self, pos: [f64; 2], cell: Cell) -> bool {
        let c = self.cell_centre(cell);
        (pos[0] - c[0]).hypot(pos[1] - c[1]) < GOAL_RADIUS
    }
}

/// BFS distance (in cells, 4-connected) from every cell of a `height` × `width` grid to
/// `goal`, row-major; `u32::MAX` where unreachable. Shared by the point maze and the
/// AntMaze waypoint planner.
pub fn grid_distances(
    height: usize,
    width: usize,
    is_free: impl Fn(Cell) -> bool,
    goal: Cell,
) -> Vec<u32> {
    let mut dist = vec![u32::MAX; height * width];
    if !is_free(goal) {
        return dist;
    }
    dist[goal.0 * width + goal.1] = 0;
    let mut queue = VecDeque::from([goal]);
    while let Some((r, c)) = queue.pop_front() {
        let d = dist[r * width + c];
        for n in grid_neighbours(height, width, &is_free, (r, c)) {
            if dist[n.0 * width + n.1] == u32::MAX {
                dist[n.0 * width + n.1] = d + 1;
                queue.push_back(n);
            }
        }
    }
    dist
}

/// Free 4-neighbours of `cell` in a fixed order: down, up, right, left (as
/// `Grid::neighbours`).
fn grid_neighbours<'a>(
    height: usize,
    width: usize,
    is_free: &'a impl Fn(Cell) -> bool,
    (r, c): Cell,
) -> impl Iterator<Item = Cell> + 'a {
    [
        (r + 1, c),
        (r.wrapping_sub(1), c),
        (r, c + 1),
        (r, c.wrapping_sub(1)),
    ]
    .into_iter()
    .filter(move |&n| n.0 < height && n.1 < width && is_free(n))
}

/// The first free neighbour of `cell` one step closer to the goal of the distance field
/// `dist` (from [`grid_distances`]); `None` at the goal or where it is unreachable.
pub fn grid_next_cell(
    height: usize,
    width: usize,
    is_free: impl Fn(Cell) -> bool,
    dist: &[u32],
    cell: Cell,
) -> Option<Cell> {
    let d = *dist.get(cell.0 * width + cell.1)?;
    if d == 0 || d == u32::MAX {
        return None;
    }
    grid_neighbours(height, width, &is_free, cell).find(|n| dist[n.0 * width + n.1] == d - 1)
}

/// The point-mass maze environment.
#[derive(Clone, Debug)]
pub struct PointMaze {
    grid: Grid,
    spec: EnvSpec,
    pos: [f64; 2],
    vel: [f64; 2],
    steps: usize,
    done: bool,
    success: bool,
}

impl PointMaze {
    /// A maze already reset with seed 0, so `step` works right away.
    pub fn new(layout: Layout) -> PointMaze {
        let mut env = PointMaze {
            grid: Grid::new(layout),
            spec: layout.spec(),
            pos: [0.0; 2],
            vel: [0.0; 2],
            steps: 0,
            done: false,
            success: false,
        };
        env.reset(0);
        env
    }

    pub fn layout(&self) -> Layout {
        self.grid.layout
    }
    pub fn grid(&self) -> &Grid {
        &self.grid
    }
    pub fn position(&self) -> [f64; 2] {
        self.pos
    }
    pub fn velocity(&self) -> [f64; 2] {
        self.vel
    }
    /// Steps taken in the current episode.
    pub fn elapsed_steps(&self) -> usize {
        self.steps
    }

    /// Override the episode limit (the data collector uses longer episodes).
    pub fn set_max_episode_steps(&mut self, steps: usize) {
        self.spec.max_episode_steps = steps.max(1);
    }

    /// Start an episode at an arbitrary position with zero velocity.
    pub fn reset_to(&mut self, pos: [f64; 2]) -> Result<Vec<f32>> {
        if !self.grid.position_is_valid(pos) {
            anyhow::bail!(
                "environment {}: cannot place the agent at ({}, {}): not clear of walls",
                self.spec.id,
                pos[0],
                pos[1]
            );
        }
        self.pos = pos;
        self.vel = [0.0; 2];
        self.steps = 0;
        self.done = false;
        self.success = false;
        Ok(self.observation())
    }

    fn observation(&self) -> Vec<f32> {
        vec![
            self.pos[0] as f32,
            self.pos[1] as f32,
            self.vel[0] as f32,
            self.vel[1] as f32,
        ]
    }

    /// Moves along one axis, stopping at a wall face and zeroing that velocity.
    fn move_axis(&mut self, axis: usize) {
        let old = self.pos[axis];
        let v = self.vel[axis];
        let mut new = old + v * DT;
        let probe = |p: f64, s: &PointMaze| {
            if axis == 0 {
                s.grid.overlaps_wall(p, s.pos[1])
            } else {
                s.grid.overlaps_wall(s.pos[0], p)
            }
        };
        if probe(new, self) {
            // A step moves < 1 - 2*RADIUS, so only the leading cell can block.
            new = if v > 0.0 {
                (new + RADIUS).floor() - RADIUS
            } else {
                (new - RADIUS).floor() + 1.0 + RADIUS
            };
            if probe(new, self) {
                new = old;
            }
            self.vel[axis] = 0.0;
        }
        self.pos[axis] = new;
    }
}

impl Env for PointMaze {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    /// Evaluation start cell centre plus uniform noise of ±[`RESET_NOISE`].
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let c = self.grid.cell_centre(self.grid.start);
        let pos = [
            c[0] + rng.gen_range(-RESET_NOISE..=RESET_NOISE),
            c[1] + rng.gen_range(-RESET_NOISE..=RESET_NOISE),
        ];
        self.reset_to(pos).expect("start cell centre is free")
    }

    /// Errors on a bad action or when called after the episode ended.
    fn step(&mut self, action: &[f32]) -> Result<Step> {
        check_action(&self.spec.id, 2, action)?;
        if self.done {
            anyhow::bail!(
                "environment {}: step after the episode ended; call reset",
                self.spec.id
            );
        }
        let a = [
            action[0].clamp(-1.0, 1.0) as f64,
            action[1].clamp(-1.0, 1.0) as f64,
        ];
        // Semi-implicit Euler: velocity first, then position with the new velocity.
        for (v, a) in self.vel.iter_mut().zip(a) {
            *v += DT * (ACCEL * a - DAMPING * *v);
        }
        let speed = self.vel[0].hypot(self.vel[1]);
        if speed > MAX_SPEED {
            let s = MAX_SPEED / speed;
            self.vel = [self.vel[0] * s, self.vel[1] * s];
        }
        self.move_axis(0);
        self.move_axis(1);
        self.steps += 1;

        let terminated = self.grid.reached(self.pos, self.grid.goal);
        let truncated = self.steps >= self.spec.max_episode_steps;
        self.success |= terminated;
        self.done = terminated || truncated;
        Ok(Step::goal(self.observation(), terminated, truncated))
    }

    fn success(&self) -> Option<bool> {
        Some(self.success)
    }
}

/// Scripted controller: follows the BFS path toward a goal cell, steering with a
/// PD law to the centre of the next cell on the path.
#[derive(Clone, Debug)]
pub struct WaypointController {
    goal: Cell,
    dist: Vec<u32>,
}

impl WaypointController {
    /// Proportional gain on the offset to the waypoint.
    pub const KP: f64 = 4.0;
    /// Derivative gain on velocity.
    pub const KD: f64 = 1.0;

    pub fn new(grid: &Grid, goal: Cell) -> WaypointController {
        WaypointController {
            goal,
            dist: grid.distances_to(goal),
        }
    }

    pub fn goal(&self) -> Cell {
        self.goal
    }

    /// The point currently steered to: the goal centre inside the goal cell,
    /// otherwise the centre of the next cell on the shortest path.
    pub fn waypoint(&self, grid: &Grid, pos: [f64; 2]) -> [f64; 2] {
        let next = grid
            .cell_of(pos)
            .and_then(|cell| grid.next_cell(&self.dist, cell))
            .unwrap_or(self.goal);
        grid.cell_centre(next)
    }

    /// Noise-free action in [-1, 1]^2.
    pub fn act(&self, grid: &Grid, pos: [f64; 2], vel: [f64; 2]) -> [f32; 2] {
        let w = self.waypoint(grid, pos);
        let mut a = [0.0f32; 2];
        for i in 0..2 {
            a[i] = (Self::KP * (w[i] - pos[i]) - Self::KD * vel[i]).clamp(-1.0, 1.0) as f32;
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent check: the disc is clear of every wall square.
    fn disc_clear(grid: &Grid, pos: [f64; 2]) -> bool {
        for r in 0..grid.height() {
            for c in 0..grid.width() {
                if grid.is_free((r, c)) {
                    continue;
                }
                let qx = pos[0].clamp(c as f64, c as f64 + 1.0);
                let qy = pos[1].clamp(r as f64, r as f64 + 1.0);
                if (pos[0] - qx).hypot(pos[1] - qy) < RADIUS - 1e-9 {
                    return false;
                }
            }
        }
        true
    }

    /// Runs the noise-free controller from the eval start; returns steps used.
    fn scripted_episode(layout: Layout, seed: u64) -> (usize, Step) {
        let mut env = PointMaze::new(layout);
        env.reset(seed);
        let ctrl = WaypointController::new(env.grid(), env.grid().eval_goal());
        loop {
            let a = ctrl.act(env.grid(), env.position(), env.velocity());
            let s = env.step(&a).unwrap();
            if s.terminated || s.truncated {
                return (env.elapsed_steps(), s);
            }
        }
    }

    #[test]
    fn layouts_are_connected_and_well_formed() {
        for layout in Layout::ALL {
            let g = layout.grid();
            let free = g.free_cells();
            assert!(g.is_free(g.eval_start()) && g.is_free(g.eval_goal()));
            let dist = g.distances_to(g.eval_goal());
            for &c in &free {
                assert_ne!(dist[g.index(c)], u32::MAX, "{layout}: {c:?} unreachable");
            }
            // Border is all wall, so the disc can never leave the grid.
            for r in 0..g.height() {
                for c in 0..g.width() {
                    if r == 0 || c == 0 || r + 1 == g.height() || c + 1 == g.width() {
                        assert!(!g.is_free((r, c)));
                    }
                }
            }
            let path = g.shortest_path(g.eval_start(), g.eval_goal()).unwrap();
            assert_eq!(
                path.len() as u32 - 1,
                g.cell_distance(g.eval_start(), g.eval_goal()).unwrap()
            );
            for w in path.windows(2) {
                let d = w[0].0.abs_diff(w[1].0) + w[0].1.abs_diff(w[1].1);
                assert_eq!(d, 1);
                assert!(g.is_free(w[1]));
            }
        }
        assert_eq!(Layout::Umaze.grid().free_cells().len(), 7);
    }

    /// Data collection ends an episode at the eval goal, so no cell may be
    /// reachable only through it.
    #[test]
    fn goal_does_not_cut_the_maze() {
        for layout in Layout::ALL {
            let g = layout.grid();
            let goal = g.eval_goal();
            let mut seen = vec![g.eval_start()];
            let mut i = 0;
            while i < seen.len() {
                let ns: Vec<Cell> = g.neighbours(seen[i]).collect();
                for n in ns {
                    if n != goal && !seen.contains(&n) {
                        seen.push(n);
                    }
                }
                i += 1;
            }
            assert_eq!(seen.len() + 1, g.free_cells().len(), "{layout}");
        }
    }

    #[test]
    fn env_ids_parse() {
        for layout in Layout::ALL {
            assert_eq!(Layout::from_env_id(&layout.env_id()), Some(layout));
        }
        assert_eq!(
            Layout::from_env_id("pointmaze-umaze-diverse-v0"),
            Some(Layout::Umaze)
        );
        assert_eq!(
            Layout::from_env_id("pointmaze-large-play-v0"),
            Some(Layout::Large)
        );
        assert_eq!(Layout::from_env_id("pointmaze-huge-v0"), None);
        assert_eq!(Layout::from_env_id("pointmaze-umaze-v1"), None);
        assert_eq!(Layout::from_env_id("pointmaze-umaze-a-b-v0"), None);
        assert_eq!(Layout::from_env_id("antmaze-umaze-v0"), None);
    }

    #[test]
    fn reset_is_reproducible() {
        let mut env = PointMaze::new(Layout::Medium);
        let a = env.reset(7);
        env.step(&[1.0, 0.5]).unwrap();
        let b = env.reset(7);
        let c = env.reset(8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(&a[2..], &[0.0, 0.0]);
        let centre = env.grid().cell_centre(env.grid().eval_start());
        for (o, c) in a.iter().zip(centre) {
            assert!((*o as f64 - c).abs() <= RESET_NOISE + 1e-6);
        }
    }

    #[test]
    fn never_enters_walls_under_random_actions() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for layout in Layout::ALL {
            let mut env = PointMaze::new(layout);
            let free = env.grid().free_cells();
            let mut steps = 0;
            while steps < 20_000 {
                // Random free start so every corridor gets exercised.
                let cell = free[rng.gen_range(0..free.len())];
                let c = env.grid().cell_centre(cell);
                env.reset_to([
                    c[0] + rng.gen_range(-0.3..0.3),
                    c[1] + rng.gen_range(-0.3..0.3),
                ])
                .unwrap();
                loop {
                    // Bang-bang actions push hard into walls and corners.
                    let a = [rng.gen_range(-1.5f32..1.5), rng.gen_range(-1.5f32..1.5)];
                    let s = env.step(&a).unwrap();
                    steps += 1;
                    let p = env.position();
                    assert!(
                        disc_clear(env.grid(), p),
                        "{layout}: disc in a wall at {p:?}"
                    );
                    assert!(env.velocity()[0].hypot(env.velocity()[1]) <= MAX_SPEED + 1e-9);
                    if s.terminated || s.truncated || steps % 500 == 0 {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn bad_actions_are_rejected() {
        let mut env = PointMaze::new(Layout::Umaze);
        env.reset(0);
        assert!(env.step(&[0.0]).is_err());
        assert!(env.step(&[0.0, 0.0, 0.0]).is_err());
        assert!(env.step(&[f32::NAN, 0.0]).is_err());
        assert!(env.step(&[0.0, f32::INFINITY]).is_err());
        assert!(env.step(&[0.0, 0.0]).is_ok());
        // Out-of-box actions are clipped, not rejected.
        assert!(env.step(&[5.0, -5.0]).is_ok());
        assert!(env.reset_to([0.5, 0.5]).is_err());
    }

    #[test]
    fn scripted_controller_reaches_goal_in_every_layout() {
        for layout in Layout::ALL {
            for seed in 0..5 {
                let (steps, s) = scripted_episode(layout, seed);
                assert!(
                    s.terminated,
                    "{layout} seed {seed}: not reached in {steps} steps"
                );
                assert_eq!(s.reward, 1.0);
                assert!(
                    steps * 2 < layout.max_episode_steps(),
                    "{layout}: {steps} steps"
                );
                if seed == 0 {
                    let d = layout
                        .grid()
                        .cell_distance(layout.grid().eval_start(), layout.grid().eval_goal());
                    println!("{layout}: {steps} steps for {d:?} cells");
                }
            }
        }
        let mut env = PointMaze::new(Layout::Umaze);
        assert_eq!(env.success(), Some(false));
        env.reset(1);
        let ctrl = WaypointController::new(env.grid(), env.grid().eval_goal());
        loop {
            let s = env
                .step(&ctrl.act(env.grid(), env.position(), env.velocity()))
                .unwrap();
            if s.terminated {
                break;
            }
            assert_eq!(s.reward, 0.0);
        }
        assert_eq!(env.success(), Some(true));
        assert!(
            env.step(&[0.0, 0.0]).is_err(),
            "step after the end must fail"
        );
        env.reset(1);
        assert_eq!(env.success(), Some(false));
    }

    #[test]
    fn truncates_at_the_limit() {
        for layout in Layout::ALL {
            let mut env = PointMaze::new(layout);
            env.reset(4);
            let limit = env.max_episode_steps();
            for t in 1..=limit {
                let s = env.step(&[0.0, 0.0]).unwrap();
                assert!(!s.terminated);
                assert_eq!(s.truncated, t == limit, "t = {t}");
                assert_eq!(s.reward, 0.0);
            }
            assert_eq!(env.success(), Some(false));
            assert!(env.step(&[0.0, 0.0]).is_err());
        }
    }
}
