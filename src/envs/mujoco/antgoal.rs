//! `antgoal-v0`: the open arena in which the AntMaze behaviour policy learns to walk to a
//! point, as D4RL trained its goal-reaching ant before driving it through the mazes.
//!
//! Physics is AntMaze's (D4RL's ant, no walls). The observation is not AntMaze's: it is
//! [`goal_features`], which drops the ant's x, y and heading and gives the target in the
//! ant's own frame. So the policy sees the same inputs wherever the ant stands and however
//! it is turned: trained here on targets a few metres away, it can follow waypoints anywhere
//! in a maze. Each episode has a stream of targets U(1, 5) m away in a random direction; a
//! new one appears when the ant comes within 0.5 m. Reward: the speed towards the target
//! (m/s), plus 0.1 for staying healthy, minus 0.02·|a|². The episode ends when the ant is
//! unhealthy — its torso upside down (it cannot right itself) or outside Gymnasium Ant's
//! healthy height range 0.2–1.0 m (a first policy trained without the height limit
//! learned a bouncing gait that flipped the ant in most maze episodes) — or after 500
//! steps.
use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::antmaze::{ant_sim, box_to_ctrl, ACT_DIM, GOAL_RADIUS};
use super::{normal_noise, uniform_noise, Episode, Sim, SimEnv};
use crate::envs::{Env, EnvSpec, Step};

pub const ENV_ID: &str = "antgoal-v0";
/// Inputs of the goal-reaching policy (see [`goal_features`]).
pub const FEATURES: usize = 29;
const EPISODE_STEPS: usize = 500;
/// Targets appear this far from the ant (m).
const TARGET_DISTANCE: (f64, f64) = (1.0, 5.0);
/// The target vector the policy sees is shortened to at most this length (m), so far
/// waypoints look like the targets of training.
const TARGET_CLIP: f64 = 5.0;
const CTRL_COST: f64 = 0.02;
const HEALTHY_REWARD: f64 = 0.1;
/// Gymnasium Ant's healthy torso height (m).
const HEALTHY_Z: (f64, f64) = (0.2, 1.0);

pub fn spec() -> EnvSpec {
    EnvSpec::new(ENV_ID, FEATURES, ACT_DIM, EPISODE_STEPS)
}

/// What the goal-reaching policy sees, from the ant's state (qpos 15, qvel 14) and a target
/// point (x, y): the torso height, the torso orientation with its heading (yaw) removed,
/// the 8 joint angles, the torso's linear velocity in the heading frame, its angular
/// velocity (MuJoCo gives a free joint's in the body frame already), the 8 joint
/// velocities, and the target relative to the torso in the heading frame, at most 5 m long.
pub fn goal_features(qpos: &[f64], qvel: &[f64], target: [f64; 2]) -> Vec<f32> {
    let (w, x, y, z) = (qpos[3], qpos[4], qpos[5], qpos[6]);
    let yaw = (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z));
    let (c, s) = ((0.5 * yaw).cos(), (0.5 * yaw).sin());
    // conj(q_yaw) ⊗ q with q_yaw = (c, 0, 0, s): the tilt left after undoing the heading.
    let mut tilt = [c * w + s * z, c * x + s * y, c * y - s * x, c * z - s * w];
    if tilt[0] < 0.0 {
        tilt.iter_mut().for_each(|t| *t = -*t);
    }
    let (cy, sy) = (yaw.cos(), yaw.sin());
    let to_heading = |dx: f64, dy: f64| [cy * dx + sy * dy, -sy * dx + cy * dy];
    let v = to_heading(qvel[0], qvel[1]);
    let mut g = to_heading(target[0] - qpos[0], target[1] - qpos[1]);
    let len = g[0].hypot(g[1]);
    if len > TARGET_CLIP {
        g = [g[0] * TARGET_CLIP / len, g[1] * TARGET_CLIP / len];
    }
    let mut f = Vec::with_capacity(FEATURES);
    f.push(qpos[2]);
    f.extend_from_slice(&tilt);
    f.extend_from_slice(&qpos[7..15]);
    f.extend_from_slice(&[v[0], v[1], qvel[2]]);
    f.extend_from_slice(&qvel[3..14]);
    f.extend_from_slice(&g);
    debug_assert_eq!(f.len(), FEATURES);
    f.into_iter().map(|v| v as f32).collect()
}

/// Whether the torso's up axis points below the horizon.
pub fn upside_down(qpos: &[f64]) -> bool {
    let (x, y) = (qpos[4], qpos[5]);
    1.0 - 2.0 * (x * x + y * y) < 0.0
}

/// Upright, with the torso within the healthy height range.
fn healthy(qpos: &[f64]) -> bool {
    !upside_down(qpos) && (HEALTHY_Z.0..=HEALTHY_Z.1).contains(&qpos[2])
}

pub struct AntGoal {
    sim: Sim,
    episode: Episode,
    ctrl_range: Vec<(f64, f64)>,
    /// Draws the episode's targets; seeded by `reset`.
    rng: ChaCha8Rng,
    target: [f64; 2],
    distance: f64,
}

impl AntGoal {
    pub fn new() -> Result<Self> {
        let sim = ant_sim(&[])?;
        let ctrl_range = sim.ctrl_range();
        Ok(AntGoal {
            sim,
            episode: Episode::new(spec()),
            ctrl_range,
            rng: ChaCha8Rng::seed_from_u64(0),
            target: [0.0; 2],
            distance: 0.0,
        })
    }

    pub fn target(&self) -> [f64; 2] {
        self.target
    }

    fn xy_distance(&self) -> f64 {
        let q = self.sim.qpos();
        (q[0] - self.target[0]).hypot(q[1] - self.target[1])
    }

    fn new_target(&mut self) {
        let q = self.sim.qpos();
        let r = self.rng.gen_range(TARGET_DISTANCE.0..TARGET_DISTANCE.1);
        let a = self.rng.gen_range(0.0..std::f64::consts::TAU);
        self.target = [q[0] + r * a.cos(), q[1] + r * a.sin()];
        self.distance = self.xy_distance();
    }

    fn observation(&self) -> Vec<f32> {
        goal_features(self.sim.qpos(), self.sim.qvel(), self.target)
    }
}

impl Env for AntGoal {
    fn spec(&self) -> &EnvSpec {
        &self.episode.spec
    }

    /// The ant at the origin with AntMaze's start noise, then the first target.
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let qpos = uniform_noise(&mut rng, self.sim.init_qpos(), 0.1);
        let qvel = normal_noise(&mut rng, self.sim.init_qvel(), 0.1);
        self.rng = rng;
        self.sim.reset_data();
        self.sim
            .set_state(&qpos, &qvel)
            .expect("state sizes come from the model");
        self.new_target();
        self.episode.start();
        self.observation()
    }

    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.episode.check(action)?;
        let ctrl = box_to_ctrl(action, &self.ctrl_range);
        self.sim.step(&ctrl);
        let d = self.xy_distance();
        let effort: f64 = action
            .iter()
            .map(|&a| (a as f64).clamp(-1.0, 1.0).powi(2))
            .sum();
        let reward = (self.distance - d) / self.sim.dt() + HEALTHY_REWARD - CTRL_COST * effort;
        self.distance = d;
        if d <= GOAL_RADIUS {
            self.new_target();
        }
        let terminated = !healthy(self.sim.qpos());
        let truncated = self.episode.finish_step(terminated);
        Ok(Step {
            obs: self.observation(),
            reward: reward as f32,
            terminated,
            truncated,
        })
    }
}

impl SimEnv for AntGoal {
    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>> {
        ensure!(
            task.len() == 2 && task.iter().all(|t| t.is_finite()),
            "{ENV_ID}: the task state is a finite target (x, y), got {task:?}"
        );
        self.sim.reset_data();
        self.sim.set_state(qpos, qvel)?;
        self.target = [task[0], task[1]];
        self.distance = self.xy_distance();
        self.episode.start();
        Ok(self.observation())
    }

    fn task_state_names(&self) -> Vec<&'static str> {
        vec!["target_x", "target_y"]
    }

    fn task_state(&self) -> Vec<f64> {
        self.target.to_vec()
    }

    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64> {
        box_to_ctrl(action, &self.ctrl_range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quat_yaw(yaw: f64) -> [f64; 4] {
        [(0.5 * yaw).cos(), 0.0, 0.0, (0.5 * yaw).sin()]
    }

    /// q1 ⊗ q2 (w, x, y, z).
    fn mul(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
        [
            a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
            a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
            a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
            a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
        ]
    }

    #[test]
    fn features_do_not_change_when_the_ant_is_moved_and_turned() {
        let tilt = {
            let (h, n) = (0.15f64, (0.3f64 * 0.3 + 0.4 * 0.4).sqrt());
            [h.cos(), h.sin() * 0.3 / n, h.sin() * 0.4 / n, 0.0]
        };
        let joints: Vec<f64> = (0..8).map(|i| 0.1 * i as f64 - 0.3).collect();
        let jvel: Vec<f64> = (0..8).map(|i| 0.2 - 0.05 * i as f64).collect();
        let state = |x: f64, y: f64, yaw: f64| {
            let q = mul(quat_yaw(yaw), tilt);
            let mut qpos = vec![x, y, 0.6];
            qpos.extend_from_slice(&q);
            qpos.extend_from_slice(&joints);
            // body-frame velocity (0.5, -0.2) turned into the world frame
            let (c, s) = (yaw.cos(), yaw.sin());
            let mut qvel = vec![0.5 * c + 0.2 * s, 0.5 * s - 0.2 * c, 0.05, 0.1, -0.2, 0.3];
            qvel.extend_from_slice(&jvel);
            // target 2 m ahead and 1 m to the left of the heading
            let target = [x + 2.0 * c - s, y + 2.0 * s + c];
            (qpos, qvel, target)
        };
        let (q0, v0, t0) = state(0.0, 0.0, 0.0);
        let f0 = goal_features(&q0, &v0, t0);
        assert_eq!(f0.len(), FEATURES);
        for (x, y, yaw) in [(3.0, -7.0, 1.0), (-20.0, 12.5, -2.5), (0.1, 0.2, 3.1)] {
            let (q, v, t) = state(x, y, yaw);
            let f = goal_features(&q, &v, t);
            for (i, (a, b)) in f0.iter().zip(&f).enumerate() {
                assert!((a - b).abs() < 1e-5, "feature {i}: {a} vs {b} at yaw {yaw}");
            }
        }
        // the tilt is a unit quaternion
        let n: f32 = f0[1..5].iter().map(|t| t * t).sum();
        assert!((n - 1.0).abs() < 1e-5 && f0[1] > 0.0);
        // a pure roll has no heading: it comes out as given, and a target 2 m ahead and
        // 1 m to the left of the heading as (2, 1)
        let roll = [0.15f64.cos(), 0.15f64.sin(), 0.0, 0.0];
        let mut q = q0.clone();
        q[3..7].copy_from_slice(&mul(quat_yaw(0.7), roll));
        let (c, s) = (0.7f64.cos(), 0.7f64.sin());
        let f = goal_features(&q, &v0, [2.0 * c - s, 2.0 * s + c]);
        for k in 0..4 {
            assert!((f[1 + k] as f64 - roll[k]).abs() < 1e-6, "{:?}", &f[1..5]);
        }
        assert!(
            (f[27] - 2.0).abs() < 1e-5 && (f[28] - 1.0).abs() < 1e-5,
            "{:?}",
            &f[27..]
        );
        // far targets are shortened to 5 m, direction kept
        let far = goal_features(&q, &v0, [30.0 * c - 40.0 * s, 30.0 * s + 40.0 * c]);
        assert!((far[27] - 3.0).abs() < 1e-5 && (far[28] - 4.0).abs() < 1e-5);
    }

    #[test]
    fn reward_is_the_speed_towards_the_target_and_new_targets_appear() {
        let mut e = AntGoal::new().expect("Gymnasium's ant.xml (bash scripts/setup.sh)");
        let o = e.reset(3);
        assert_eq!((o.clone(), e.target()), (e.reset(3), e.target()));
        let d0 = e.xy_distance();
        assert!((1.0..5.1).contains(&d0), "first target {d0} m away");
        let s = e.step(&[0.0; 8]).unwrap();
        let d1 = e.xy_distance();
        assert!((s.reward as f64 - ((d0 - d1) / 0.1 + HEALTHY_REWARD)).abs() < 1e-4);
        // place the ant next to its target: the next step pays ~its approach and moves it
        let (mut q, v) = (e.sim.qpos().to_vec(), vec![0.0; e.sim.nv()]);
        let t = e.target();
        q[0] = t[0] + 0.3;
        q[1] = t[1];
        e.set_episode_state(&q, &v, &t).unwrap();
        e.step(&[0.0; 8]).unwrap();
        assert_ne!(e.target(), t, "a new target after reaching one");
        // upside down or jumping above 1 m ends the episode; standing does not
        let mut q = e.sim.init_qpos().to_vec();
        e.set_episode_state(&q, &v, &[5.0, 0.0]).unwrap();
        assert!(!e.step(&[0.0; 8]).unwrap().terminated);
        q[3..7].copy_from_slice(&[0.0, 1.0, 0.0, 0.0]);
        q[2] = 0.4;
        e.set_episode_state(&q, &v, &[5.0, 0.0]).unwrap();
        assert!(e.step(&[0.0; 8]).unwrap().terminated);
        let mut q = e.sim.init_qpos().to_vec();
        q[2] = 1.5;
        e.set_episode_state(&q, &v, &[5.0, 0.0]).unwrap();
        assert!(e.step(&[0.0; 8]).unwrap().terminated);
    }
}
