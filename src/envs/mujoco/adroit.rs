//! The Adroit hand manipulation tasks (pen, door, hammer, relocate) with the semantics of
//! the D4RL `-v1` datasets: a 24-joint hand (plus an arm for door, hammer and relocate)
//! on the model files of gymnasium-robotics' v1 environments, five physics steps per
//! environment step, D4RL's observations, dense rewards with bonuses, pen termination
//! when the pen drops, and limits of 100 (pen) and 200 steps.
//!
//! Where gymnasium-robotics 1.4.2 differs from D4RL we follow D4RL: the hand-to-object
//! reward term of door, hammer and relocate is a penalty (−0.1·distance), the pen episode
//! ends when the pen falls below z = 0.075, and the pen limit is 100 steps.
//!
//! Gymnasium-Robotics' own semantics (the `AdroitHand*-v1` environments Minari's
//! `D4RL/<task>/*` datasets name) are the variant `Semantics::GymRobotics`, ids
//! `AdroitHandPen-v1`, ...: the hand-to-object term as gymnasium-robotics 1.4.2 has it
//! (+0.1·distance), no termination when the pen drops, 200-step limits.
//!
//! As in both Python implementations, observations and rewards after a step read body
//! and site positions as MuJoCo's last substep left them (computed before its final
//! integration); no extra forward pass runs.
use anyhow::{ensure, Result};
use mujoco_rs::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{asset, to_f32, Episode, Sim, SimEnv};
use crate::envs::{Env, EnvSpec, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Pen,
    Door,
    Hammer,
    Relocate,
}

/// Whose reward, termination and limits (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    D4rl,
    GymRobotics,
}

impl Task {
    pub const ALL: [Task; 4] = [Task::Pen, Task::Door, Task::Hammer, Task::Relocate];

    /// Gymnasium-Robotics' id of the dense task (`AdroitHandDoor-v1`).
    pub fn gym_id(self) -> &'static str {
        match self {
            Task::Pen => "AdroitHandPen-v1",
            Task::Door => "AdroitHandDoor-v1",
            Task::Hammer => "AdroitHandHammer-v1",
            Task::Relocate => "AdroitHandRelocate-v1",
        }
    }

    /// `AdroitHandDoor-v1` (any case) → `Task::Door`.
    pub fn from_gym_id(id: &str) -> Option<Task> {
        Task::ALL
            .into_iter()
            .find(|t| t.gym_id().eq_ignore_ascii_case(id))
    }

    /// Id, sizes and the episode limit of either semantics.
    pub fn spec_for(self, semantics: Semantics) -> EnvSpec {
        match semantics {
            Semantics::D4rl => self.spec(),
            Semantics::GymRobotics => {
                EnvSpec::new(self.gym_id(), self.obs_dim(), self.act_dim(), 200)
            }
        }
    }

    pub fn env_id(self) -> &'static str {
        match self {
            Task::Pen => "pen-v1",
            Task::Door => "door-v1",
            Task::Hammer => "hammer-v1",
            Task::Relocate => "relocate-v1",
        }
    }

    /// Id, sizes and D4RL's episode limit.
    pub fn spec(self) -> EnvSpec {
        EnvSpec::new(
            self.env_id(),
            self.obs_dim(),
            self.act_dim(),
            self.max_episode_steps(),
        )
    }

    pub fn obs_dim(self) -> usize {
        [45, 39, 46, 39][self as usize]
    }

    pub fn act_dim(self) -> usize {
        [24, 28, 26, 30][self as usize]
    }

    /// D4RL's `MAX_STEPS` for the `-v1` datasets.
    pub fn max_episode_steps(self) -> usize {
        [100, 200, 200, 200][self as usize]
    }

    /// `pen-human-v1`, `door-cloned-v1`, `hammer-expert-v1`, `relocate-v1`, ...
    pub fn from_env_id(id: &str) -> Option<Task> {
        let (domain, version) = super::domain_and_version(id);
        if !version.starts_with('v') || id == domain {
            return None;
        }
        Task::ALL
            .into_iter()
            .find(|t| t.env_id().starts_with(&format!("{domain}-")))
    }

    fn model_file(self) -> &'static str {
        match self {
            Task::Pen => "gymnasium_robotics/envs/assets/adroit_hand/adroit_pen.xml",
            Task::Door => "gymnasium_robotics/envs/assets/adroit_hand/adroit_door.xml",
            Task::Hammer => "gymnasium_robotics/envs/assets/adroit_hand/adroit_hammer.xml",
            Task::Relocate => "gymnasium_robotics/envs/assets/adroit_hand/adroit_relocate.xml",
        }
    }

    /// Observation size for a model with `nq` positions (checked against `obs_dim`).
    fn obs_dim_for(self, nq: usize) -> usize {
        match self {
            // hand qpos, pen position, pen velocities, 4 × 3 orientation values
            Task::Pen => nq - 6 + 3 + 6 + 12,
            // qpos without the arm slide and the two door joints, latch, hinge, 3 × 3, open
            Task::Door => nq - 3 + 2 + 9 + 1,
            // qpos up to the hammer, hammer velocities, 4 × 3 positions/angles, touch
            Task::Hammer => nq - 6 + 6 + 12 + 1,
            // qpos up to the ball, 3 × 3 differences
            Task::Relocate => nq - 6 + 9,
        }
    }

    fn task_state_names(self) -> Vec<&'static str> {
        match self {
            // The target's orientation quaternion (D4RL's `desired_orien` info).
            Task::Pen => vec![
                "desired_orien_w",
                "desired_orien_x",
                "desired_orien_y",
                "desired_orien_z",
            ],
            Task::Door => vec!["door_body_pos_x", "door_body_pos_y", "door_body_pos_z"],
            Task::Hammer => vec!["board_pos_x", "board_pos_y", "board_pos_z"],
            Task::Relocate => vec![
                "obj_pos_x",
                "obj_pos_y",
                "obj_pos_z",
                "target_pos_x",
                "target_pos_y",
                "target_pos_z",
            ],
        }
    }
}

/// Model ids each task reads.
enum Parts {
    Pen {
        /// Body "target": the goal orientation (randomised).
        target: usize,
        /// Body "Object": the pen.
        object: usize,
        /// Site "eps_ball": where the pen should stay.
        eps_ball: usize,
        obj_top: usize,
        obj_bottom: usize,
        tar_top: usize,
        tar_bottom: usize,
    },
    Door {
        /// Body "frame": the door frame (randomised position).
        frame: usize,
        /// Site "S_grasp" on the palm.
        palm: usize,
        /// Site "S_handle" on the latch.
        handle: usize,
        /// qpos index of joint "door_hinge".
        hinge: usize,
    },
    Hammer {
        /// Body "nail_board" (randomised height).
        board: usize,
        /// Body "Object": the hammer.
        object: usize,
        palm: usize,
        /// Site "tool": the hammer head.
        tool: usize,
        /// Site "S_target": the nail.
        nail: usize,
        /// Site "nail_goal": where the nail should end.
        goal: usize,
        /// Touch sensor "S_nail".
        touch: usize,
    },
    Relocate {
        /// Body "Object": the ball (randomised x, y).
        object: usize,
        /// Site "target" (parent world; randomised position).
        target: usize,
        palm: usize,
    },
}

pub struct Adroit {
    task: Task,
    semantics: Semantics,
    sim: Sim,
    episode: Episode,
    parts: Parts,
    /// Action −1…1 maps to `act_mid ± act_rng` (the actuators' control ranges).
    act_mid: Vec<f64>,
    act_rng: Vec<f64>,
    /// Pen: distances between the top and bottom sites of the pen and of the target,
    /// measured at the start of each episode (gymnasium-robotics' `reset_model`).
    pen_length: f64,
    tar_length: f64,
    /// Whether the goal was achieved at the last step (D4RL's `goal_achieved`).
    success: bool,
    /// The task values of the model file, before any episode edited the model.
    model_task_state: Vec<f64>,
}

impl Adroit {
    pub fn new(task: Task) -> Result<Self> {
        Self::with_semantics(task, Semantics::D4rl)
    }

    pub fn with_semantics(task: Task, semantics: Semantics) -> Result<Self> {
        let sim = Sim::from_file(&asset(task.model_file())?, 5)?;
        ensure!(
            sim.nu() == task.act_dim() && task.obs_dim_for(sim.nq()) == task.obs_dim(),
            "{}: the model has {} actuators and {} positions, expected {} actuators and an \
             observation of {}",
            task.model_file(),
            sim.nu(),
            sim.nq(),
            task.act_dim(),
            task.obs_dim()
        );
        let body = |n: &str| sim.id(MjtObjBase::mjOBJ_BODY, n);
        let site = |n: &str| sim.id(MjtObjBase::mjOBJ_SITE, n);
        let parts = match task {
            Task::Pen => Parts::Pen {
                target: body("target")?,
                object: body("Object")?,
                eps_ball: site("eps_ball")?,
                obj_top: site("object_top")?,
                obj_bottom: site("object_bottom")?,
                tar_top: site("target_top")?,
                tar_bottom: site("target_bottom")?,
            },
            Task::Door => {
                let joint = sim.id(MjtObjBase::mjOBJ_JOINT, "door_hinge")?;
                Parts::Door {
                    frame: body("frame")?,
                    palm: site("S_grasp")?,
                    handle: site("S_handle")?,
                    hinge: sim.model().jnt_qposadr()[joint] as usize,
                }
            }
            Task::Hammer => Parts::Hammer {
                board: body("nail_board")?,
                object: body("Object")?,
                palm: site("S_grasp")?,
                tool: site("tool")?,
                nail: site("S_target")?,
                goal: site("nail_goal")?,
                touch: {
                    // Both libraries index sensordata by the sensor's id; it is the only
                    // sensor, so its id and its data address are both 0.
                    let id = sim.id(MjtObjBase::mjOBJ_SENSOR, "S_nail")?;
                    ensure!(
                        sim.model().sensor_adr()[id] as usize == id,
                        "{}: sensor S_nail is not at its id's data address",
                        task.model_file()
                    );
                    id
                },
            },
            Task::Relocate => Parts::Relocate {
                object: body("Object")?,
                target: site("target")?,
                palm: site("S_grasp")?,
            },
        };
        let range = sim.ctrl_range();
        let act_mid = range.iter().map(|&(lo, hi)| (lo + hi) / 2.0).collect();
        let act_rng = range.iter().map(|&(lo, hi)| 0.5 * (hi - lo)).collect();
        let mut env = Adroit {
            task,
            semantics,
            sim,
            episode: Episode::new(task.spec_for(semantics)),
            parts,
            act_mid,
            act_rng,
            pen_length: 1.0,
            tar_length: 1.0,
            success: false,
            model_task_state: Vec::new(),
        };
        env.model_task_state = env.task_state();
        Ok(env)
    }

    /// Pen: the unit directions of the pen and of the target (bottom → top).
    fn pen_orientations(&self) -> ([f64; 3], [f64; 3]) {
        let Parts::Pen {
            obj_top,
            obj_bottom,
            tar_top,
            tar_bottom,
            ..
        } = self.parts
        else {
            unreachable!("pen only")
        };
        let s = &self.sim;
        let obj = sub(s.site_xpos(obj_top), s.site_xpos(obj_bottom)).map(|x| x / self.pen_length);
        let tar = sub(s.site_xpos(tar_top), s.site_xpos(tar_bottom)).map(|x| x / self.tar_length);
        (obj, tar)
    }

    fn observation(&self) -> Vec<f32> {
        let s = &self.sim;
        let (q, v) = (s.qpos(), s.qvel());
        let (nq, nv) = (q.len(), v.len());
        let mut o: Vec<f64> = Vec::with_capacity(self.task.obs_dim());
        match self.parts {
            Parts::Pen {
                object, eps_ball, ..
            } => {
                let obj = s.body_xpos(object);
                let (obj_orien, desired_orien) = self.pen_orientations();
                o.extend_from_slice(&q[..nq - 6]);
                o.extend_from_slice(&obj);
                o.extend_from_slice(&v[nv - 6..]);
                o.extend_from_slice(&obj_orien);
                o.extend_from_slice(&desired_orien);
                o.extend_from_slice(&sub(obj, s.site_xpos(eps_ball)));
                o.extend_from_slice(&sub(obj_orien, desired_orien));
            }
            Parts::Door {
                palm,
                handle,
                hinge,
                ..
            } => {
                let (palm, handle) = (s.site_xpos(palm), s.site_xpos(handle));
                let door = q[hinge];
                o.extend_from_slice(&q[1..nq - 2]);
                o.push(q[nq - 1]); // latch
                o.push(door);
                o.extend_from_slice(&palm);
                o.extend_from_slice(&handle);
                o.extend_from_slice(&sub(palm, handle));
                o.push(if door > 1.0 { 1.0 } else { -1.0 });
            }
            Parts::Hammer {
                object,
                palm,
                nail,
                touch,
                ..
            } => {
                o.extend_from_slice(&q[..nq - 6]);
                o.extend(v[nv - 6..].iter().map(|x| x.clamp(-1.0, 1.0)));
                o.extend_from_slice(&s.site_xpos(palm));
                o.extend_from_slice(&s.body_xpos(object));
                o.extend_from_slice(&quat2euler(s.body_xquat(object)));
                o.extend_from_slice(&s.site_xpos(nail));
                o.push(s.data().sensordata()[touch].clamp(-1.0, 1.0));
            }
            Parts::Relocate {
                object,
                target,
                palm,
            } => {
                let (palm, obj, target) =
                    (s.site_xpos(palm), s.body_xpos(object), s.site_xpos(target));
                o.extend_from_slice(&q[..nq - 6]);
                o.extend_from_slice(&sub(palm, obj));
                o.extend_from_slice(&sub(palm, target));
                o.extend_from_slice(&sub(obj, target));
            }
        }
        to_f32(o)
    }

    /// Weight of the palm-to-object distance in the reward: D4RL's penalty −0.1, or
    /// gymnasium-robotics 1.4.2's +0.1.
    fn hand_weight(&self) -> f64 {
        match self.semantics {
            Semantics::D4rl => -0.1,
            Semantics::GymRobotics => 0.1,
        }
    }

    /// The dense reward (with its bonuses), whether the goal is achieved, and whether
    /// the episode terminates.
    fn reward(&self) -> (f64, bool, bool) {
        let s = &self.sim;
        match self.parts {
            Parts::Pen {
                object, eps_ball, ..
            } => {
                let obj = s.body_xpos(object);
                let (obj_orien, desired_orien) = self.pen_orientations();
                let dist = norm(sub(obj, s.site_xpos(eps_ball)));
                let similarity = dot(obj_orien, desired_orien);
                let mut r = -dist + similarity;
                if dist < 0.075 && similarity > 0.9 {
                    r += 10.0;
                }
                if dist < 0.075 && similarity > 0.95 {
                    r += 50.0;
                }
                // The pen fell: a penalty, and D4RL (not gymnasium-robotics) ends the episode.
                let dropped = obj[2] < 0.075;
                if dropped {
                    r -= 5.0;
                }
                let ends = dropped && self.semantics == Semantics::D4rl;
                (r, dist < 0.075 && similarity > 0.95, ends)
            }
            Parts::Door {
                palm,
                handle,
                hinge,
                ..
            } => {
                let door = s.qpos()[hinge];
                let mut r = self.hand_weight() * norm(sub(s.site_xpos(palm), s.site_xpos(handle)));
                r += -0.1 * (door - 1.57) * (door - 1.57);
                r += -1e-5 * s.qvel().iter().map(|v| v * v).sum::<f64>();
                if door > 0.2 {
                    r += 2.0;
                }
                if door > 1.0 {
                    r += 8.0;
                }
                if door > 1.35 {
                    r += 10.0;
                }
                (r, door >= 1.35, false)
            }
            Parts::Hammer {
                object,
                palm,
                tool,
                nail,
                goal,
                ..
            } => {
                let hammer = s.body_xpos(object);
                let head = s.site_xpos(tool);
                let nail = s.site_xpos(nail);
                let goal_distance = norm(sub(nail, s.site_xpos(goal)));
                let mut r = self.hand_weight() * norm(sub(s.site_xpos(palm), hammer));
                r -= norm(sub(head, nail));
                r -= 10.0 * goal_distance;
                r -= 1e-2 * s.qvel().iter().map(|v| v * v).sum::<f64>().sqrt();
                if hammer[2] > 0.04 && head[2] > 0.04 {
                    r += 2.0;
                }
                if goal_distance < 0.02 {
                    r += 25.0;
                }
                if goal_distance < 0.01 {
                    r += 75.0;
                }
                (r, goal_distance < 0.01, false)
            }
            Parts::Relocate {
                object,
                target,
                palm,
            } => {
                let (palm, obj, target) =
                    (s.site_xpos(palm), s.body_xpos(object), s.site_xpos(target));
                let goal_distance = norm(sub(obj, target));
                let mut r = self.hand_weight() * norm(sub(palm, obj));
                if obj[2] > 0.04 {
                    r += 1.0;
                    r += -0.5 * norm(sub(palm, target));
                    r += -0.5 * goal_distance;
                }
                if goal_distance < 0.1 {
                    r += 10.0;
                }
                if goal_distance < 0.05 {
                    r += 20.0;
                }
                (r, goal_distance < 0.1, false)
            }
        }
    }
}

impl Env for Adroit {
    fn spec(&self) -> &EnvSpec {
        &self.episode.spec
    }

    /// The hand starts at rest in its model pose; what D4RL randomises is drawn from the
    /// seed with D4RL's ranges: the pen target's roll and pitch in U(−1, 1); the door
    /// frame at U(−0.3, −0.2) × U(0.25, 0.35) × U(0.252, 0.35); the nail board's height in
    /// U(0.1, 0.25); the ball at U(−0.15, 0.15) × U(−0.15, 0.3) (on the table) and the
    /// relocate target at U(−0.2, 0.2)² × U(0.15, 0.35).
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut u = |lo: f64, hi: f64| rng.gen_range(lo..hi);
        let task: Vec<f64> = match self.parts {
            Parts::Pen { .. } => {
                let (roll, pitch) = (u(-1.0, 1.0), u(-1.0, 1.0));
                euler2quat([roll, pitch, 0.0]).to_vec()
            }
            Parts::Door { .. } => vec![u(-0.3, -0.2), u(0.25, 0.35), u(0.252, 0.35)],
            // The coordinates not drawn keep the model file's values.
            Parts::Hammer { .. } => {
                let p = &self.model_task_state;
                vec![p[0], p[1], u(0.1, 0.25)]
            }
            Parts::Relocate { .. } => {
                let z = self.model_task_state[2];
                vec![
                    u(-0.15, 0.15),
                    u(-0.15, 0.3),
                    z,
                    u(-0.2, 0.2),
                    u(-0.2, 0.2),
                    u(0.15, 0.35),
                ]
            }
        };
        let (qpos, qvel) = (self.sim.init_qpos().to_vec(), self.sim.init_qvel().to_vec());
        self.set_episode_state(&qpos, &qvel, &task)
            .expect("state sizes come from the model")
    }

    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.episode.check(action)?;
        let ctrl = self.action_to_ctrl(action);
        self.sim.step(&ctrl);
        // No forward pass here: positions are those of the last substep, as in D4RL.
        let (reward, achieved, terminated) = self.reward();
        self.success = achieved;
        let truncated = self.episode.finish_step(terminated);
        Ok(Step {
            obs: self.observation(),
            reward: reward as f32,
            terminated,
            truncated,
        })
    }

    /// Whether the goal was achieved at the last step (D4RL's `goal_achieved`): the pen
    /// within 0.075 of its place and aligned with the target (cosine > 0.95); the door
    /// opened to ≥ 1.35 rad; the nail within 0.01 of its goal; the ball within 0.1 of
    /// the target.
    fn success(&self) -> Option<bool> {
        Some(self.success)
    }
}

impl SimEnv for Adroit {
    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// Like the Python `set_env_state`, after `mj_resetData`: write the task values into
    /// the model (pen: the target body's quaternion; door: the frame's position; hammer:
    /// the board's position; relocate: the ball body's position and the target site's
    /// position, both relative to the world), then qpos and qvel, then `mj_forward`.
    ///
    /// Relocate: D4RL's `obj_pos` info is the ball's world position, which equals the
    /// body position written here only while the ball's joints are at zero, i.e. at the
    /// start of an episode.
    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>> {
        let names = self.task.task_state_names();
        ensure!(
            task.len() == names.len(),
            "{} takes {} task values ({}), got {}",
            self.task.env_id(),
            names.len(),
            names.join(", "),
            task.len()
        );
        ensure!(
            qpos.len() == self.sim.nq() && qvel.len() == self.sim.nv(),
            "{}: state has {} positions and {} velocities; the model has {} and {}",
            self.task.env_id(),
            qpos.len(),
            qvel.len(),
            self.sim.nq(),
            self.sim.nv()
        );
        self.sim.reset_data();
        let model = self.sim.model_mut();
        match self.parts {
            Parts::Pen { target, .. } => {
                model.body_quat_mut()[target].copy_from_slice(task);
            }
            Parts::Door { frame, .. } => {
                model.body_pos_mut()[frame].copy_from_slice(task);
            }
            Parts::Hammer { board, .. } => {
                model.body_pos_mut()[board].copy_from_slice(task);
            }
            Parts::Relocate { object, target, .. } => {
                model.body_pos_mut()[object].copy_from_slice(&task[..3]);
                model.site_pos_mut()[target].copy_from_slice(&task[3..]);
            }
        }
        self.sim.set_state(qpos, qvel)?;
        if let Parts::Pen {
            obj_top,
            obj_bottom,
            tar_top,
            tar_bottom,
            ..
        } = self.parts
        {
            let s = &self.sim;
            self.pen_length = norm(sub(s.site_xpos(obj_top), s.site_xpos(obj_bottom)));
            self.tar_length = norm(sub(s.site_xpos(tar_top), s.site_xpos(tar_bottom)));
        }
        self.success = false;
        self.episode.start();
        Ok(self.observation())
    }

    fn task_state_names(&self) -> Vec<&'static str> {
        self.task.task_state_names()
    }

    fn task_state(&self) -> Vec<f64> {
        let m = self.sim.model();
        match self.parts {
            Parts::Pen { target, .. } => m.body_quat()[target].to_vec(),
            Parts::Door { frame, .. } => m.body_pos()[frame].to_vec(),
            Parts::Hammer { board, .. } => m.body_pos()[board].to_vec(),
            Parts::Relocate { object, target, .. } => {
                let mut v = m.body_pos()[object].to_vec();
                v.extend_from_slice(&m.site_pos()[target]);
                v
            }
        }
    }

    /// Clip to [−1, 1], then `act_mid + a · act_rng` per actuator.
    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64> {
        action
            .iter()
            .zip(self.act_mid.iter().zip(&self.act_rng))
            .map(|(&a, (&mid, &rng))| mid + (a.clamp(-1.0, 1.0) as f64) * rng)
            .collect()
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// Quaternion (w, x, y, z) of static-axes Euler angles (roll, pitch, yaw), with the
/// conventions of gymnasium-robotics' and D4RL's `euler2quat`.
fn euler2quat(e: [f64; 3]) -> [f64; 4] {
    let (ai, aj, ak) = (e[2] / 2.0, -e[1] / 2.0, e[0] / 2.0);
    let (si, sj, sk) = (ai.sin(), aj.sin(), ak.sin());
    let (ci, cj, ck) = (ai.cos(), aj.cos(), ak.cos());
    let (cc, cs, sc, ss) = (ci * ck, ci * sk, si * ck, si * sk);
    [
        cj * cc + sj * ss,
        cj * cs - sj * sc,
        -(cj * ss + sj * cc),
        cj * sc - sj * cs,
    ]
}

/// Euler angles of a quaternion (w, x, y, z), with the conventions (and the operation
/// order) of gymnasium-robotics' and D4RL's `quat2euler` (`mat2euler(quat2mat(q))`).
fn quat2euler(q: [f64; 4]) -> [f64; 3] {
    let [w, x, y, z] = q;
    let nq = w * w + x * x + y * y + z * z;
    let m = if nq > f64::EPSILON {
        let s = 2.0 / nq;
        let (xs, ys, zs) = (x * s, y * s, z * s);
        let (wx, wy, wz) = (w * xs, w * ys, w * zs);
        let (xx, xy, xz) = (x * xs, x * ys, x * zs);
        let (yy, yz, zz) = (y * ys, y * zs, z * zs);
        [
            [1.0 - (yy + zz), xy - wz, xz + wy],
            [xy + wz, 1.0 - (xx + zz), yz - wx],
            [xz - wy, yz + wx, 1.0 - (xx + yy)],
        ]
    } else {
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    };
    let cy = (m[2][2] * m[2][2] + m[1][2] * m[1][2]).sqrt();
    if cy > 4.0 * f64::EPSILON {
        [
            -m[1][2].atan2(m[2][2]),
            -(-m[0][2]).atan2(cy),
            -m[0][1].atan2(m[0][0]),
        ]
    } else {
        [0.0, -(-m[0][2]).atan2(cy), -(-m[1][0]).atan2(m[1][1])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs() -> Vec<Adroit> {
        Task::ALL
            .into_iter()
            .map(|t| Adroit::new(t).expect("Adroit model files (bash scripts/setup.sh)"))
            .collect()
    }

    #[test]
    fn dimensions_match_the_models() {
        for mut env in envs() {
            let t = env.task;
            assert_eq!(env.sim.nu(), t.act_dim(), "{}", t.env_id());
            assert_eq!(env.act_dim(), t.act_dim());
            assert_eq!(env.reset(0).len(), t.obs_dim(), "{}", t.env_id());
            let s = env.step(&vec![0.0; t.act_dim()]).unwrap();
            assert_eq!(s.obs.len(), t.obs_dim());
            assert_eq!(env.task_state().len(), env.task_state_names().len());
            assert_eq!(env.max_episode_steps(), t.max_episode_steps());
        }
    }

    #[test]
    fn seeds_are_reproducible_and_differ() {
        for mut env in envs() {
            let id = env.task.env_id();
            let (o0, t0) = (env.reset(7), env.task_state());
            let (o1, t1) = (env.reset(7), env.task_state());
            assert_eq!(o0, o1, "{id}");
            assert_eq!(t0, t1, "{id}");
            let (o2, t2) = (env.reset(8), env.task_state());
            assert_ne!(o0, o2, "{id}");
            assert_ne!(t0, t2, "{id}");
        }
    }

    #[test]
    fn reset_draws_inside_d4rl_ranges() {
        for mut env in envs() {
            for seed in 0..20 {
                env.reset(seed);
                let s = env.task_state();
                let inside = |v: f64, lo: f64, hi: f64| (lo..hi).contains(&v);
                match env.task {
                    Task::Pen => {
                        let n: f64 = s.iter().map(|x| x * x).sum();
                        assert!((n - 1.0).abs() < 1e-12);
                        assert!(s[0] > 0.0);
                    }
                    Task::Door => {
                        assert!(inside(s[0], -0.3, -0.2) && inside(s[1], 0.25, 0.35));
                        assert!(inside(s[2], 0.252, 0.35));
                    }
                    Task::Hammer => {
                        assert_eq!(&s[..2], &[0.05, 0.0]);
                        assert!(inside(s[2], 0.1, 0.25));
                    }
                    Task::Relocate => {
                        assert!(inside(s[0], -0.15, 0.15) && inside(s[1], -0.15, 0.3));
                        assert_eq!(s[2], 0.035);
                        assert!(inside(s[3], -0.2, 0.2) && inside(s[4], -0.2, 0.2));
                        assert!(inside(s[5], 0.15, 0.35));
                    }
                }
            }
        }
    }

    #[test]
    fn set_episode_state_round_trips_and_checks_counts() {
        for mut env in envs() {
            let obs = env.reset(3);
            let (q, v, task) = (
                env.sim.qpos().to_vec(),
                env.sim.qvel().to_vec(),
                env.task_state(),
            );
            env.reset(4);
            assert_eq!(env.set_episode_state(&q, &v, &task).unwrap(), obs);
            assert!(env.set_episode_state(&q, &v, &task[1..]).is_err());
            assert!(env.set_episode_state(&q[1..], &v, &task).is_err());
            // Values written into the model do not leak into later resets.
            let moved: Vec<f64> = task.iter().map(|x| x + 0.01).collect();
            env.set_episode_state(&q, &v, &moved).unwrap();
            assert_eq!(env.reset(3), obs, "{}", env.task.env_id());
        }
    }

    #[test]
    fn bad_actions_are_rejected() {
        let mut env = Adroit::new(Task::Door).unwrap();
        env.reset(0);
        assert!(env.step(&[0.0; 3]).is_err());
        let mut a = vec![0.0; Task::Door.act_dim()];
        a[5] = f32::NAN;
        assert!(env.step(&a).is_err());
        a[5] = f32::INFINITY;
        assert!(env.step(&a).is_err());
        // Nothing reached the simulator.
        assert!(env.sim.qpos().iter().all(|&x| x == 0.0));
        assert!(env.sim.data().ctrl().iter().all(|&x| x == 0.0));
        a[5] = 0.0;
        assert!(env.step(&a).is_ok());
    }

    #[test]
    fn pen_truncates_at_100_steps_unless_it_drops() {
        let mut env = Adroit::new(Task::Pen).unwrap();
        env.reset(0);
        let zeros = vec![0.0; Task::Pen.act_dim()];
        for t in 1..=100 {
            let s = env.step(&zeros).unwrap();
            let Parts::Pen { object, .. } = env.parts else {
                unreachable!()
            };
            let dropped = env.sim.body_xpos(object)[2] < 0.075;
            assert_eq!(s.terminated, dropped, "step {t}");
            if s.terminated {
                assert!(!s.truncated);
                assert!(env.step(&zeros).is_err(), "no step after the end");
                return;
            }
            assert_eq!(s.truncated, t == 100, "step {t}");
        }
        assert!(env.step(&zeros).is_err(), "no step after the end");
    }

    #[test]
    fn actions_map_to_the_control_ranges() {
        for env in envs() {
            let n = env.task.act_dim();
            let lo = env.action_to_ctrl(&vec![-1.0; n]);
            let hi = env.action_to_ctrl(&vec![1.0; n]);
            let beyond = env.action_to_ctrl(&vec![3.0; n]);
            for (i, &(a, b)) in env.sim.ctrl_range().iter().enumerate() {
                assert!((lo[i] - a).abs() < 1e-12 && (hi[i] - b).abs() < 1e-12);
                assert_eq!(beyond[i], hi[i]);
            }
        }
    }

    #[test]
    fn euler_conversions() {
        let (r, p) = (0.3f64, -0.7f64);
        let q = euler2quat([r, p, 0.0]);
        let (cr, sr, cp, sp) = (
            (r / 2.0).cos(),
            (r / 2.0).sin(),
            (p / 2.0).cos(),
            (p / 2.0).sin(),
        );
        let want = [cp * cr, cp * sr, sp * cr, sp * sr];
        for i in 0..4 {
            assert!((q[i] - want[i]).abs() < 1e-15);
        }
        let e = quat2euler(euler2quat([0.2, -0.4, 1.1]));
        for (a, b) in e.iter().zip([0.2, -0.4, 1.1]) {
            assert!((a - b).abs() < 1e-12, "{e:?}");
        }
    }
}
