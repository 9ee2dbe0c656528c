//! IQL (Kostrikov et al., 2022) with the paper's RS-LN and PA switches (§6.5, Table 5),
//! one gradient step as CORL's single-file IQL takes it:
//!
//! value:   u_b = Q̂(s_b, a_b) − V(s_b),   Q̂ = min_i Q̄_i  (the target critics)
//!          L_V = mean_b |τ_e − 1(u_b < 0)|·u_b²                      (expectile τ_e)
//! critics: y_b = c_reward·(r_b + shift) + γ(1 − done_b)·V(s'_b)
//!          L_Q = mean_i,b (Q_i(s_b, a_b) − y_b)²
//!                + α·mean_i,b (Q_i(s_b, a_inf) − Q_min)²                  (PA, a switch)
//! actor:   w_b = min(exp(β_iql·u_b), max_weight)
//!          L_π = mean_b w_b·ℓ_b,   ℓ_b = −log N(a_b | μ(s_b), diag σ²)   (Gaussian)
//!                                  ℓ_b = Σ_d (μ(s_b)_d − a_b,d)²          (deterministic)
//!          σ = exp(clamp(log_std, −20, 2)), log_std a free vector (state-independent)
//! targets: Q̄ ← (1 − τ)·Q̄ + τ·Q after every step.
//!
//! RS-LN is `agent.critic_layer_norm` (LayerNorm in the critics and, unless
//! `iql.value_layer_norm` says otherwise, in V) with a large `agent.reward_scale`;
//! PA is `agent.penalty` with α = `agent.alpha`, L = `agent.infeasible_distance`
//! (a_inf drawn by `pars::infeasible_coordinate`, as PARS) and `q_min`.
//!
//! All three gradients are taken at the parameters before the step: CORL computes V(s')
//! for the target and u for the weights before it updates V, and updates the target
//! critics only after V has read them, so this is the same step.
use super::pars::{critic_spec, infeasible_coordinate};
use super::{Learner, UpdateStats};
use crate::config::{AgentConfig, Algorithm, IqlConfig, IqlPolicy, TrainConfig};
use crate::data::Batch;
use crate::formats::record::{
    read_adam, read_vec_adam, same_shape, write_adam, write_vec_adam, AdamRecord,
};
use crate::formats::{bits32, TensorReader, TensorWriter, AGENT_FORMAT, FORMAT_VERSION};
use crate::nn::{polyak, Adam, EnsembleMlp, LrSchedule, MlpSpec, Tape};
use anyhow::{ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// log σ is clamped to this range before use (CORL's LOG_STD_MIN / LOG_STD_MAX).
pub const LOG_STD_MIN: f32 = -20.0;
pub const LOG_STD_MAX: f32 = 2.0;
/// ½·log(2π), the constant of the Gaussian log-density.
const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// IQL's statistics of one step beyond the critic's (which are in `UpdateStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IqlStats {
    /// L_V, the expectile loss.
    pub v_loss: f32,
    /// Mean and standard deviation over the batch of u = Q̂(s, a) − V(s).
    pub adv_mean: f32,
    pub adv_std: f32,
    /// Mean of the clipped weights w.
    pub weight_mean: f32,
}

/// Preallocated buffers of the update step: nothing is allocated per step.
#[derive(Clone)]
struct Workspace {
    actor_tape: Tape,
    critic_tape: Tape,
    critic_target_tape: Tape,
    value_tape: Tape,
    value_next_tape: Tape,
    /// Rows 0..B: (s, a); rows B..2B: (s, a_inf) with PA.
    critic_in: Vec<f32>,
    y: Vec<f32>,
    /// u = Q̂ − V(s) per row.
    adv: Vec<f32>,
    weight: Vec<f32>,
    critic_dout: Vec<f32>,
    value_dout: Vec<f32>,
    actor_dout: Vec<f32>,
    critic_grads: Vec<f32>,
    value_grads: Vec<f32>,
    actor_grads: Vec<f32>,
    log_std_grads: Vec<f32>,
    all_members: Vec<usize>,
    last_batch: usize,
}

/// An IQL learner: Gaussian (or deterministic) actor, N critics (two in IQL) with
/// targets, and V.
#[derive(Clone)]
pub struct IqlAgent {
    pub cfg: AgentConfig,
    pub iql: IqlConfig,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// The mean network μ(s): a tanh-output MLP like PARS's actor (the saved policy).
    pub actor: EnsembleMlp,
    /// State-independent log σ, [act_dim] (unused by the deterministic policy).
    pub log_std: Vec<f32>,
    pub critic: EnsembleMlp,
    pub critic_target: EnsembleMlp,
    pub value: EnsembleMlp,
    pub actor_opt: Adam,
    pub log_std_opt: Adam,
    pub critic_opt: Adam,
    pub value_opt: Adam,
    pub q_min: f32,
    /// Gradient steps taken.
    pub steps: u64,
    /// Draws the PA actions.
    pub rng: ChaCha8Rng,
    ws: Workspace,
    /// The last step's PA uniforms u ~ U(−1, 1), [B, act_dim], when recording (for
    /// `pars debug trace`; `None`: not recording).
    pa_draws: Option<Vec<f32>>,
}

/// V: the critic's shape on the observation alone.
pub fn value_spec(cfg: &AgentConfig, iql: &IqlConfig, obs_dim: usize) -> MlpSpec {
    MlpSpec {
        input: obs_dim,
        layer_norm: iql.value_layer_norm(cfg),
        ..critic_spec(cfg, obs_dim, 0)
    }
}

/// μ(s): PARS's actor shape (ReLU, tanh output).
pub fn mean_spec(cfg: &AgentConfig, obs_dim: usize, act_dim: usize) -> MlpSpec {
    super::pars::actor_spec(cfg, obs_dim, act_dim)
}

impl IqlAgent {
    /// `total_steps` sets the length of the actor's cosine schedule (if enabled).
    pub fn new(
        cfg: AgentConfig,
        iql: IqlConfig,
        obs_dim: usize,
        act_dim: usize,
        q_min: f32,
        total_steps: u64,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let actor = EnsembleMlp::new_with(mean_spec(&cfg, obs_dim, act_dim), 1, cfg.init, &mut rng);
        let critic = EnsembleMlp::new_with(
            critic_spec(&cfg, obs_dim, act_dim),
            cfg.n_critics,
            cfg.init,
            &mut rng,
        );
        let value = EnsembleMlp::new_with(value_spec(&cfg, &iql, obs_dim), 1, cfg.init, &mut rng);
        let schedule = if cfg.actor_cosine {
            LrSchedule::Cosine { total_steps }
        } else {
            LrSchedule::Constant
        };
        let actor_opt = Adam::new(actor.params.len(), cfg.actor_lr, schedule);
        // log σ is a parameter of CORL's actor: the same optimiser settings
        let log_std_opt = Adam::new(act_dim, cfg.actor_lr, schedule);
        let critic_opt = Adam::new(critic.params.len(), cfg.critic_lr, LrSchedule::Constant);
        let value_opt = Adam::new(value.params.len(), iql.value_lr, LrSchedule::Constant);
        let ws = Workspace::new(&cfg, &actor, &critic, &value, obs_dim, act_dim);
        Self {
            critic_target: critic.clone(),
            actor,
            log_std: vec![0.0; act_dim],
            critic,
            value,
            actor_opt,
            log_std_opt,
            critic_opt,
            value_opt,
            q_min,
            steps: 0,
            rng,
            ws,
            pa_draws: None,
            cfg,
            iql,
            obs_dim,
            act_dim,
        }
    }

    /// Record the PA draws of each update (read them with `pa_draws`); off by default.
    pub fn record_draws(&mut self, on: bool) {
        self.pa_draws = on.then(|| Vec::with_capacity(self.cfg.batch_size * self.act_dim));
    }

    /// The uniforms behind the last update's infeasible actions, if recording.
    pub fn pa_draws(&self) -> Option<&[f32]> {
        self.pa_draws.as_deref()
    }

    /// Rebuild the workspace (after loading networks from a checkpoint).
    pub fn reset_workspace(&mut self) {
        self.ws = Workspace::new(
            &self.cfg,
            &self.actor,
            &self.critic,
            &self.value,
            self.obs_dim,
            self.act_dim,
        );
    }

    /// One offline gradient step on `batch`: V, the critics and the actor, then the
    /// target critics.
    pub fn update(&mut self, batch: &Batch) -> (UpdateStats, IqlStats) {
        let stats = self.grads(batch);
        self.value_opt
            .update(&mut self.value.params, &self.ws.value_grads);
        self.critic_opt
            .update(&mut self.critic.params, &self.ws.critic_grads);
        self.actor_opt
            .update(&mut self.actor.params, &self.ws.actor_grads);
        if self.iql.policy == IqlPolicy::Gaussian {
            self.log_std_opt
                .update(&mut self.log_std, &self.ws.log_std_grads);
        }
        polyak(
            &mut self.critic_target.params,
            &self.critic.params,
            self.cfg.tau,
        );
        self.steps += 1;
        stats
    }

    /// The gradients of L_V, L_Q and L_π at the current parameters, into the
    /// workspace; no parameter changes (the PA draws advance the RNG).
    fn grads(&mut self, batch: &Batch) -> (UpdateStats, IqlStats) {
        assert!(
            batch.size <= self.cfg.batch_size,
            "batch larger than the configured batch_size"
        );
        self.fill_inputs(batch);
        self.forward_all(batch);
        let iql = self.value_loss(batch);
        let mut stats = self.critic_loss(batch);
        stats.actor_loss = Some(self.actor_loss(batch));
        self.backward_all(batch.size);
        (
            stats,
            IqlStats {
                weight_mean: mean(&self.ws.weight[..batch.size]) as f32,
                ..iql
            },
        )
    }

    /// Critic input rows: (s, a) and, with PA, (s, a_inf) with every coordinate of
    /// a_inf in [−2L, −L] ∪ [L, 2L].
    fn fill_inputs(&mut self, batch: &Batch) {
        let (b, od, ad) = (batch.size, self.obs_dim, self.act_dim);
        let ind = od + ad;
        let ws = &mut self.ws;
        for r in 0..b {
            let row = &mut ws.critic_in[r * ind..(r + 1) * ind];
            row[..od].copy_from_slice(&batch.obs[r * od..(r + 1) * od]);
            row[od..].copy_from_slice(&batch.actions[r * ad..(r + 1) * ad]);
        }
        if let Some(d) = self.pa_draws.as_mut() {
            d.clear();
        }
        if self.cfg.penalty {
            let l = self.cfg.infeasible_distance;
            for r in 0..b {
                let row = &mut ws.critic_in[(b + r) * ind..(b + r + 1) * ind];
                row[..od].copy_from_slice(&batch.obs[r * od..(r + 1) * od]);
                for a in &mut row[od..] {
                    let u = self.rng.gen_range(-1.0f32..1.0);
                    if let Some(d) = self.pa_draws.as_mut() {
                        d.push(u);
                    }
                    *a = infeasible_coordinate(u, l);
                }
            }
        }
    }

    /// Every forward pass of the step. All read the current parameters only, so they
    /// run at once (each pass's numbers do not depend on where it runs).
    fn forward_all(&mut self, batch: &Batch) {
        let (b, od) = (batch.size, self.obs_dim);
        let ind = od + self.act_dim;
        let rows = if self.cfg.penalty { 2 * b } else { b };
        let Workspace {
            actor_tape,
            critic_tape,
            critic_target_tape,
            value_tape,
            value_next_tape,
            critic_in,
            all_members,
            ..
        } = &mut self.ws;
        let (actor, critic, critic_target, value) =
            (&self.actor, &self.critic, &self.critic_target, &self.value);
        let critic_in: &[f32] = critic_in;
        let all: &[usize] = all_members;
        rayon::join(
            || {
                rayon::join(
                    || critic_target.forward(&critic_in[..b * ind], b, all, critic_target_tape),
                    || {
                        value.forward(&batch.obs[..b * od], b, &[0], value_tape);
                        value.forward(&batch.next_obs[..b * od], b, &[0], value_next_tape);
                        actor.forward(&batch.obs[..b * od], b, &[0], actor_tape);
                    },
                )
            },
            || critic.forward(&critic_in[..rows * ind], rows, all, critic_tape),
        );
    }

    /// Every backward pass of the step (after the three losses), at once.
    fn backward_all(&mut self, b: usize) {
        let n = self.cfg.n_critics;
        let rows = if self.cfg.penalty { 2 * b } else { b };
        let Workspace {
            actor_tape,
            critic_tape,
            value_tape,
            critic_dout,
            value_dout,
            actor_dout,
            critic_grads,
            value_grads,
            actor_grads,
            all_members,
            ..
        } = &mut self.ws;
        let ad = self.act_dim;
        let (actor, critic, value) = (&self.actor, &self.critic, &self.value);
        rayon::join(
            || {
                rayon::join(
                    || value.backward(value_tape, &[0], &value_dout[..b], Some(value_grads), false),
                    || {
                        actor.backward(
                            actor_tape,
                            &[0],
                            &actor_dout[..b * ad],
                            Some(actor_grads),
                            false,
                        )
                    },
                )
            },
            || {
                critic.backward(
                    critic_tape,
                    all_members,
                    &critic_dout[..n * rows],
                    Some(critic_grads),
                    false,
                )
            },
        );
    }

    /// Expectile regression of V towards Q̂ = min_i Q̄_i(s, a); keeps u = Q̂ − V(s).
    fn value_loss(&mut self, batch: &Batch) -> IqlStats {
        let b = batch.size;
        let n = self.cfg.n_critics;
        let tau_e = self.iql.expectile;
        let ws = &mut self.ws;
        let v = ws.value_tape.output(0);
        let (mut loss, mut sum, mut sq) = (0.0f64, 0.0f64, 0.0f64);
        for (r, &v_r) in v.iter().enumerate() {
            let q_hat = (0..n)
                .map(|m| ws.critic_target_tape.output(m)[r])
                .fold(f32::INFINITY, f32::min);
            let u = q_hat - v_r;
            // |τ_e − 1(u < 0)|
            let k = if u < 0.0 { 1.0 - tau_e } else { tau_e };
            loss += (k * u * u) as f64;
            ws.value_dout[r] = -2.0 * k * u / b as f32;
            ws.adv[r] = u;
            sum += u as f64;
            sq += (u as f64) * (u as f64);
        }
        let m = sum / b as f64;
        IqlStats {
            v_loss: (loss / b as f64) as f32,
            adv_mean: m as f32,
            adv_std: (sq / b as f64 - m * m).max(0.0).sqrt() as f32,
            weight_mean: 0.0,
        }
    }

    /// TD regression of every critic towards c·(r + shift) + γ(1 − done)·V(s'), plus PA.
    fn critic_loss(&mut self, batch: &Batch) -> UpdateStats {
        let cfg = &self.cfg;
        let b = batch.size;
        let n = cfg.n_critics;
        let ws = &mut self.ws;
        let next_v = ws.value_next_tape.output(0);
        let mut target_sum = 0.0f64;
        for (r, &v_next) in next_v.iter().enumerate() {
            let y = cfg.reward_scale * (batch.rewards[r] + self.iql.reward_shift)
                + cfg.gamma * (1.0 - batch.dones[r]) * v_next;
            ws.y[r] = y;
            target_sum += y as f64;
        }
        let rows = if cfg.penalty { 2 * b } else { b };
        ws.last_batch = b;
        let scale = 2.0 / (n * b) as f32;
        let (mut td, mut pa, mut qd, mut qi) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for m in 0..n {
            let q = ws.critic_tape.output(m);
            let d = &mut ws.critic_dout[m * rows..(m + 1) * rows];
            for r in 0..b {
                let e = q[r] - ws.y[r];
                td += (e * e) as f64;
                qd += q[r] as f64;
                d[r] = scale * e;
            }
            for r in b..rows {
                let e = q[r] - self.q_min;
                pa += (e * e) as f64;
                qi += q[r] as f64;
                d[r] = cfg.alpha * scale * e;
            }
        }
        let nb = (n * b) as f64;
        UpdateStats {
            td_loss: (td / nb) as f32,
            pa_loss: if cfg.penalty { (pa / nb) as f32 } else { 0.0 },
            q_data: (qd / nb) as f32,
            q_infeasible: if cfg.penalty {
                (qi / nb) as f32
            } else {
                f32::NAN
            },
            target_mean: (target_sum / b as f64) as f32,
            ..Default::default()
        }
    }

    /// Advantage-weighted regression of the policy on the dataset actions, weights
    /// from the u of `value_loss`. Returns L_π.
    fn actor_loss(&mut self, batch: &Batch) -> f32 {
        let (b, ad) = (batch.size, self.act_dim);
        let ws = &mut self.ws;
        for r in 0..b {
            ws.weight[r] = (self.iql.temperature * ws.adv[r])
                .exp()
                .min(self.iql.max_weight);
        }
        let mu = ws.actor_tape.output(0);
        let mut loss = 0.0f64;
        ws.log_std_grads.fill(0.0);
        match self.iql.policy {
            IqlPolicy::Gaussian => {
                // ℓ = Σ_d (a − μ)²/(2σ²) + log σ + ½ log 2π
                for d in 0..ad {
                    let ls = self.log_std[d].clamp(LOG_STD_MIN, LOG_STD_MAX);
                    let inv_var = (-2.0 * ls).exp();
                    let mut dls = 0.0f64;
                    for r in 0..b {
                        let w = ws.weight[r];
                        let diff = mu[r * ad + d] - batch.actions[r * ad + d];
                        let z2 = diff * diff * inv_var;
                        loss += w as f64 * (0.5 * z2 as f64 + ls as f64 + HALF_LOG_2PI);
                        ws.actor_dout[r * ad + d] = w * diff * inv_var / b as f32;
                        dls += (w * (1.0 - z2)) as f64;
                    }
                    // clamp passes the gradient inside [min, max] only
                    if (LOG_STD_MIN..=LOG_STD_MAX).contains(&self.log_std[d]) {
                        ws.log_std_grads[d] = (dls / b as f64) as f32;
                    }
                }
            }
            IqlPolicy::Deterministic => {
                for r in 0..b {
                    let w = ws.weight[r];
                    for d in 0..ad {
                        let diff = mu[r * ad + d] - batch.actions[r * ad + d];
                        loss += (w * diff * diff) as f64;
                        ws.actor_dout[r * ad + d] = 2.0 * w * diff / b as f32;
                    }
                }
            }
        }
        (loss / b as f64) as f32
    }

    /// Dormant-neuron ratio of the critics on the last batch's dataset rows (as
    /// `pars::Agent::dormant_ratio`).
    pub fn dormant_ratio(&self) -> Option<f64> {
        let b = self.ws.last_batch;
        (b > 0).then(|| {
            self.ws
                .critic_tape
                .dormant_ratio(self.cfg.critic_depth, self.cfg.hidden, b)
        })
    }

    /// Every parameter vector with its name (for divergence checks).
    pub fn named_params(&self) -> [(&'static str, &[f32]); 5] {
        [
            ("critic", &self.critic.params),
            ("target critic", &self.critic_target.params),
            ("value", &self.value.params),
            ("actor", &self.actor.params),
            ("log std", &self.log_std),
        ]
    }
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

impl Workspace {
    fn new(
        cfg: &AgentConfig,
        actor: &EnsembleMlp,
        critic: &EnsembleMlp,
        value: &EnsembleMlp,
        od: usize,
        ad: usize,
    ) -> Self {
        let b = cfg.batch_size;
        let n = cfg.n_critics;
        Self {
            actor_tape: Tape::new(actor, b),
            critic_tape: Tape::new(critic, 2 * b),
            critic_target_tape: Tape::new(critic, b),
            value_tape: Tape::new(value, b),
            value_next_tape: Tape::new(value, b),
            critic_in: vec![0.0; 2 * b * (od + ad)],
            y: vec![0.0; b],
            adv: vec![0.0; b],
            weight: vec![0.0; b],
            critic_dout: vec![0.0; n * 2 * b],
            value_dout: vec![0.0; b],
            actor_dout: vec![0.0; b * ad],
            critic_grads: vec![0.0; critic.params.len()],
            value_grads: vec![0.0; value.params.len()],
            actor_grads: vec![0.0; actor.params.len()],
            log_std_grads: vec![0.0; ad],
            all_members: (0..n).collect(),
            last_batch: 0,
        }
    }
}

/// Metadata `algorithm` of an IQL agent file and trace (PARS files have none).
pub const FILE_ALGORITHM: &str = "iql";

/// An IQL agent's scalar state, exactly (metadata `state` of an IQL agent file).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IqlMeta {
    /// `[agent]` and `[iql]` as TOML (exact float round trip).
    cfg_toml: String,
    obs_dim: usize,
    act_dim: usize,
    #[serde(with = "bits32")]
    q_min: f32,
    steps: u64,
    rng: ChaCha8Rng,
    actor_spec: MlpSpec,
    critic_spec: MlpSpec,
    value_spec: MlpSpec,
    critic_members: usize,
    actor_opt: AdamRecord,
    log_std_opt: AdamRecord,
    critic_opt: AdamRecord,
    value_opt: AdamRecord,
}

#[derive(Serialize, Deserialize)]
struct IqlCfgWrap {
    agent: AgentConfig,
    iql: IqlConfig,
}

/// The agent file and update traces (see `crate::formats`).
impl IqlAgent {
    /// A fresh agent for `cfg` (an offline run) on data whose smallest reward is `r_min`.
    pub fn from_config(cfg: &TrainConfig, obs_dim: usize, act_dim: usize, r_min: f32) -> Self {
        let iql = cfg.iql_settings();
        let q_min = iql.resolve_q_min(&cfg.agent, r_min);
        Self::new(
            cfg.agent.clone(),
            iql,
            obs_dim,
            act_dim,
            q_min,
            cfg.steps,
            cfg.seed,
        )
    }

    /// Every state tensor under `prefix`: the networks `actor` (the mean μ), `critic`,
    /// `critic_target`, `value`, the vector `log_std` [act_dim], their Adam moments
    /// (`actor_adam.m.<actor tensor>`, …, `value_adam.v.<value tensor>`,
    /// `log_std_adam.m`, `log_std_adam.v`) and step counts (`<name>_adam.step`, int64 []).
    pub fn write_tensors(&self, w: &mut TensorWriter, prefix: &str) {
        w.net(prefix, "actor", &self.actor);
        w.net(prefix, "critic", &self.critic);
        w.net(prefix, "critic_target", &self.critic_target);
        w.net(prefix, "value", &self.value);
        w.f32(format!("{prefix}log_std"), &[self.act_dim], &self.log_std);
        write_adam(w, prefix, "actor", &self.actor, &self.actor_opt);
        write_adam(w, prefix, "critic", &self.critic, &self.critic_opt);
        write_adam(w, prefix, "value", &self.value, &self.value_opt);
        write_vec_adam(w, prefix, "log_std", &self.log_std_opt);
    }

    /// Read the tensors written by `write_tensors`; the agent's networks give the
    /// expected shapes (its optimisers keep their scalar settings).
    pub fn read_tensors(&mut self, r: &TensorReader, prefix: &str) -> Result<()> {
        let n = self.critic.members;
        let (aspec, cspec, vspec) = (
            self.actor.spec.clone(),
            self.critic.spec.clone(),
            self.value.spec.clone(),
        );
        self.actor = r.net(prefix, "actor", &aspec, 1)?;
        self.critic = r.net(prefix, "critic", &cspec, n)?;
        self.critic_target = r.net(prefix, "critic_target", &cspec, n)?;
        self.value = r.net(prefix, "value", &vspec, 1)?;
        let ad = self.act_dim;
        self.log_std = r.f32(&format!("{prefix}log_std"), &[ad])?;
        read_adam(r, prefix, "actor", &aspec, 1, &mut self.actor_opt)?;
        read_adam(r, prefix, "critic", &cspec, n, &mut self.critic_opt)?;
        read_adam(r, prefix, "value", &vspec, 1, &mut self.value_opt)?;
        read_vec_adam(r, prefix, "log_std", ad, &mut self.log_std_opt)?;
        Ok(())
    }

    /// The agent file (format `pars-agent`, metadata `algorithm` = `iql`; the mean
    /// network is stored as `actor`, so the file loads as a policy). `config` as in
    /// `pars::Agent::to_file`.
    pub fn to_file(&self, config: Option<&str>) -> Result<TensorWriter> {
        let wrap = IqlCfgWrap {
            agent: self.cfg.clone(),
            iql: self.iql.clone(),
        };
        let meta = IqlMeta {
            cfg_toml: toml::to_string(&wrap)?,
            obs_dim: self.obs_dim,
            act_dim: self.act_dim,
            q_min: self.q_min,
            steps: self.steps,
            rng: self.rng.clone(),
            actor_spec: self.actor.spec.clone(),
            critic_spec: self.critic.spec.clone(),
            value_spec: self.value.spec.clone(),
            critic_members: self.critic.members,
            actor_opt: AdamRecord::of(&self.actor_opt),
            log_std_opt: AdamRecord::of(&self.log_std_opt),
            critic_opt: AdamRecord::of(&self.critic_opt),
            value_opt: AdamRecord::of(&self.value_opt),
        };
        let mut w = TensorWriter::new();
        w.meta("format", AGENT_FORMAT);
        w.meta("version", FORMAT_VERSION.to_string());
        w.meta("algorithm", FILE_ALGORITHM);
        w.meta("spec", serde_json::to_string(&self.actor.spec)?);
        w.meta("critic_spec", serde_json::to_string(&self.critic.spec)?);
        w.meta("critic_members", self.critic.members.to_string());
        w.meta("value_spec", serde_json::to_string(&self.value.spec)?);
        let config = match config {
            Some(c) => c.to_string(),
            None => serde_json::to_string(&wrap)?,
        };
        w.meta("config", config);
        w.meta("obs_dim", self.obs_dim.to_string());
        w.meta("act_dim", self.act_dim.to_string());
        w.meta("q_min", self.q_min.to_string());
        w.meta("steps", self.steps.to_string());
        w.meta("state", serde_json::to_string(&meta)?);
        self.write_tensors(&mut w, "");
        Ok(w)
    }

    /// Rebuild an IQL agent from an IQL agent file read into `r`.
    pub fn read(r: &TensorReader) -> Result<Self> {
        let path = r.path().display().to_string();
        r.check_format(&[AGENT_FORMAT], "an agent checkpoint")?;
        ensure!(
            r.get_meta("algorithm") == Some(FILE_ALGORITHM),
            "{path}: not an IQL agent (a PARS or TD3+BC agent)"
        );
        let meta: IqlMeta = r.meta_json("state")?;
        let IqlCfgWrap { agent: cfg, iql } = toml::from_str(&meta.cfg_toml)
            .with_context(|| format!("{path}: malformed agent config"))?;
        ensure!(
            meta.critic_members == cfg.n_critics,
            "{path}: {} critics saved but the config says {}",
            meta.critic_members,
            cfg.n_critics
        );
        let mut agent = IqlAgent::new(cfg, iql, meta.obs_dim, meta.act_dim, meta.q_min, 1, 0);
        ensure!(
            same_shape(&agent.actor.spec, &meta.actor_spec)
                && same_shape(&agent.critic.spec, &meta.critic_spec)
                && same_shape(&agent.value.spec, &meta.value_spec),
            "{path}: the saved network shapes do not match the saved config"
        );
        agent.actor_opt = meta.actor_opt.into_adam();
        agent.log_std_opt = meta.log_std_opt.into_adam();
        agent.critic_opt = meta.critic_opt.into_adam();
        agent.value_opt = meta.value_opt.into_adam();
        agent.read_tensors(r, "")?;
        agent.steps = meta.steps;
        agent.rng = meta.rng;
        agent.reset_workspace();
        Ok(agent)
    }

    /// The `config` of an IQL trace: every agent config field and every `[iql]`
    /// field, with `value_layer_norm` resolved to a bool, plus `q_min`,
    /// `actor_cosine_steps` (the cosine schedule's length: one actor update per step),
    /// `gelu_approximate` and `step_offset`.
    pub fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(&self.cfg)?;
        let m = v
            .as_object_mut()
            .context("agent config is not a JSON object")?;
        let iql = serde_json::to_value(&self.iql)?;
        for (k, x) in iql.as_object().context("iql config is not a JSON object")? {
            m.insert(k.clone(), x.clone());
        }
        let cosine_steps = match self.actor_opt.schedule {
            LrSchedule::Cosine { total_steps } => total_steps,
            LrSchedule::Constant => total_steps,
        };
        m.insert(
            "value_layer_norm".into(),
            self.iql.value_layer_norm(&self.cfg).into(),
        );
        super::trace_extras(m, self.q_min, cosine_steps, self.steps);
        Ok(v)
    }
}

impl Learner for IqlAgent {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Iql
    }
    fn agent_config(&self) -> &AgentConfig {
        &self.cfg
    }
    fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    fn act_dim(&self) -> usize {
        self.act_dim
    }
    fn q_min(&self) -> f32 {
        self.q_min
    }
    fn steps(&self) -> u64 {
        self.steps
    }

    fn update(&mut self, batch: &Batch) -> UpdateStats {
        let (stats, iql) = IqlAgent::update(self, batch);
        UpdateStats {
            v_loss: Some(iql.v_loss),
            adv_mean: Some(iql.adv_mean),
            adv_std: Some(iql.adv_std),
            ..stats
        }
    }

    fn schedule_tied_to_length(&self) -> bool {
        matches!(self.actor_opt.schedule, LrSchedule::Cosine { .. })
    }

    fn actor(&self) -> &EnsembleMlp {
        &self.actor
    }

    /// μ(s) + N(0, σ²), clipped to the box (IQL does not learn online here).
    fn explore(&mut self, obs: &[f32], noise: f32, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let mut tape = Tape::new(&self.actor, 1);
        self.actor.forward(obs, 1, &[0], &mut tape);
        for (a, p) in out.iter_mut().zip(tape.output(0)) {
            let eps: f32 = rng.sample(rand_distr::StandardNormal);
            *a = (p + noise * eps).clamp(-1.0, 1.0);
        }
    }

    fn dormant_ratio(&self) -> Option<f64> {
        IqlAgent::dormant_ratio(self)
    }

    fn named_params(&self) -> Vec<(&'static str, &[f32])> {
        IqlAgent::named_params(self).to_vec()
    }

    fn apply_resumable(&mut self, cfg: &TrainConfig) {
        self.cfg = cfg.agent.clone();
        self.iql = cfg.iql_settings();
        self.actor_opt.lr = cfg.agent.actor_lr;
        self.log_std_opt.lr = cfg.agent.actor_lr;
        self.critic_opt.lr = cfg.agent.critic_lr;
        self.value_opt.lr = self.iql.value_lr;
        self.reset_workspace();
    }

    fn to_file(&self, config: Option<&str>) -> Result<TensorWriter> {
        IqlAgent::to_file(self, config)
    }
    fn write_tensors(&self, w: &mut TensorWriter, prefix: &str) {
        IqlAgent::write_tensors(self, w, prefix)
    }

    fn record_draws(&mut self, on: bool) {
        IqlAgent::record_draws(self, on)
    }
    fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value> {
        IqlAgent::trace_config(self, total_steps)
    }

    /// `draw.pa_u` (with PA) and `loss.{td, pa, q_data, target_mean, v, adv_mean,
    /// adv_std, actor}`.
    fn write_trace_step(&self, w: &mut TensorWriter, p: &str, stats: &UpdateStats) {
        let (b, ad) = (self.cfg.batch_size, self.act_dim);
        if self.cfg.penalty {
            let u = self.pa_draws().expect("draws are recorded");
            w.f32(format!("{p}draw.pa_u"), &[b, ad], u);
        }
        let mut loss = |n: &str, v: f32| w.f32(format!("{p}loss.{n}"), &[], &[v]);
        loss("td", stats.td_loss);
        loss("pa", stats.pa_loss);
        loss("q_data", stats.q_data);
        loss("target_mean", stats.target_mean);
        let iql = "an IQL update reports V and the advantages";
        loss("v", stats.v_loss.expect(iql));
        loss("adv_mean", stats.adv_mean.expect(iql));
        loss("adv_std", stats.adv_std.expect(iql));
        loss(
            "actor",
            stats.actor_loss.expect("IQL updates the actor every step"),
        );
    }

    fn clone_box(&self) -> Box<dyn Learner> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;

    const OD: usize = 3;
    const AD: usize = 2;
    const B: usize = 6;

    fn tiny_cfg() -> (AgentConfig, IqlConfig) {
        let agent = AgentConfig {
            hidden: 8,
            critic_depth: 2,
            actor_depth: 2,
            n_critics: 2,
            critic_subset: 2,
            batch_size: B,
            reward_scale: 3.0,
            alpha: 0.5,
            infeasible_distance: 2.0,
            output_init_scale: 0.5,
            // smooth networks: central differences never straddle a ReLU kink
            activation: Activation::Gelu,
            ..AgentConfig::default()
        };
        let iql = IqlConfig {
            expectile: 0.8,
            temperature: 2.0,
            reward_shift: -0.5,
            ..IqlConfig::default()
        };
        (agent, iql)
    }

    fn tiny_batch(seed: u64) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut b = Batch::new(B, OD, AD);
        for v in b
            .obs
            .iter_mut()
            .chain(b.next_obs.iter_mut())
            .chain(b.actions.iter_mut())
        {
            *v = rng.gen_range(-1.0..1.0);
        }
        for (i, r) in b.rewards.iter_mut().enumerate() {
            *r = i as f32 * 0.25;
        }
        b.dones[3] = 1.0;
        b
    }

    fn agent(agent: AgentConfig, iql: IqlConfig, seed: u64) -> IqlAgent {
        let mut a = IqlAgent::new(agent, iql, OD, AD, -1.0, 100, seed);
        // the mean network is ReLU like PARS's actor; GELU keeps central differences
        // off its kinks (the ReLU backward is checked layer by layer in nn::mlp)
        a.actor.spec.activation = Activation::Gelu;
        // make the targets differ from the critics and log σ non-zero
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
        for p in &mut a.critic_target.params {
            *p += rng.gen_range(-0.05..0.05);
        }
        a.log_std = vec![-0.3, 0.2];
        a
    }

    /// Set an ensemble to output the constant `k` (zero output weights).
    fn make_constant(net: &mut EnsembleMlp, k: f32) {
        let out = net.spec.output;
        let h = net.spec.hidden;
        let ml = net.member_len();
        for m in 0..net.members {
            let p = &mut net.params[m * ml..(m + 1) * ml];
            let n = p.len();
            p[n - out - h * out..n - out].fill(0.0);
            p[n - out..].fill(k);
        }
    }

    /// Central differences of `loss` in each of `n` parameters against `analytic`.
    fn check_grads(analytic: &[f32], loss: &mut dyn FnMut(usize, f32) -> f64, what: &str) {
        let eps = 1e-3f32;
        let mut nonzero = 0;
        for (i, &an) in analytic.iter().enumerate() {
            let fd = (loss(i, eps) - loss(i, -eps)) / (2.0 * eps as f64);
            let an = an as f64;
            let err = (fd - an).abs() / (2e-3 + 2e-2 * fd.abs().max(an.abs()));
            assert!(
                err <= 1.0,
                "{what} param {i}: finite difference {fd} vs analytic {an}"
            );
            nonzero += (an.abs() > 1e-6) as usize;
        }
        assert!(nonzero > 0, "{what}: every gradient is zero");
    }

    /// The gradients of every loss against central differences, for `cfg`.
    fn check_all(agent_cfg: AgentConfig, iql: IqlConfig, seed: u64) {
        let a = agent(agent_cfg, iql, seed);
        let batch = tiny_batch(seed + 1);
        let mut a0 = a.clone();
        a0.grads(&batch);
        let ws = &a0.ws;
        // V: expectile loss
        check_grads(
            &ws.value_grads,
            &mut |i, d| {
                let mut x = a.clone();
                x.value.params[i] += d;
                x.grads(&batch).1.v_loss as f64
            },
            "value",
        );
        // critics: TD + α·PA (same RNG state: same a_inf)
        check_grads(
            &ws.critic_grads,
            &mut |i, d| {
                let mut x = a.clone();
                x.critic.params[i] += d;
                let s = x.grads(&batch).0;
                s.td_loss as f64 + x.cfg.alpha as f64 * s.pa_loss as f64
            },
            "critic",
        );
        // actor: weighted log-likelihood (or squared error)
        check_grads(
            &ws.actor_grads,
            &mut |i, d| {
                let mut x = a.clone();
                x.actor.params[i] += d;
                x.grads(&batch).0.actor_loss.unwrap() as f64
            },
            "actor mean",
        );
        if a.iql.policy == IqlPolicy::Gaussian {
            check_grads(
                &ws.log_std_grads,
                &mut |i, d| {
                    let mut x = a.clone();
                    x.log_std[i] += d;
                    x.grads(&batch).0.actor_loss.unwrap() as f64
                },
                "log std",
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences_gaussian_with_ln_and_pa() {
        let (a, i) = tiny_cfg();
        check_all(a, i, 1);
    }

    #[test]
    fn gradients_match_finite_differences_without_ln_or_pa_and_deterministic() {
        let (a, i) = tiny_cfg();
        let a = AgentConfig {
            critic_layer_norm: false,
            penalty: false,
            ..a
        };
        check_all(
            a.clone(),
            IqlConfig {
                policy: IqlPolicy::Deterministic,
                ..i.clone()
            },
            2,
        );
        // V with LN while the critics have none
        check_all(
            a,
            IqlConfig {
                value_layer_norm: Some(true),
                ..i
            },
            3,
        );
    }

    #[test]
    fn clipped_weights_pass_no_gradient_of_their_own_and_match_finite_differences() {
        // a large temperature clips most weights at max_weight
        let (a, i) = tiny_cfg();
        let iql = IqlConfig {
            temperature: 200.0,
            max_weight: 7.0,
            ..i
        };
        let mut x = agent(a.clone(), iql.clone(), 4);
        x.grads(&tiny_batch(5));
        let clipped = x.ws.weight.iter().filter(|&&w| w == 7.0).count();
        assert!(
            clipped > 0 && clipped < B,
            "weights {:?}",
            &x.ws.weight[..B]
        );
        check_all(a, iql, 4);
    }

    #[test]
    fn the_clamped_log_std_gets_no_gradient() {
        let (a, i) = tiny_cfg();
        let mut x = agent(a, i, 6);
        x.log_std = vec![LOG_STD_MAX + 0.5, LOG_STD_MIN - 1.0];
        x.grads(&tiny_batch(7));
        assert_eq!(x.ws.log_std_grads, vec![0.0, 0.0]);
        // and the loss uses the clamped values: σ = e², e⁻²⁰
        let mut y = x.clone();
        y.log_std = vec![LOG_STD_MAX, LOG_STD_MIN];
        assert_eq!(
            x.grads(&tiny_batch(7)).0.actor_loss,
            y.grads(&tiny_batch(7)).0.actor_loss
        );
    }

    #[test]
    fn losses_match_a_hand_computed_case() {
        let (a, i) = tiny_cfg();
        let (tau_e, temp, shift) = (i.expectile, i.temperature, i.reward_shift);
        let mut x = IqlAgent::new(a.clone(), i, OD, AD, -4.0, 100, 3);
        make_constant(&mut x.critic_target, 2.0);
        make_constant(&mut x.critic, 1.5);
        make_constant(&mut x.value, 1.75);
        make_constant(&mut x.actor, 0.25); // μ = tanh(0.25)
        x.log_std = vec![0.1, -0.2];
        let batch = tiny_batch(2);
        let (s, iq) = x.grads(&batch);
        // u = 2 − 1.75 = 0.25 > 0: weight τ_e
        let u = 0.25f32;
        assert!((iq.v_loss - tau_e * u * u).abs() < 1e-6, "{iq:?}");
        assert!((iq.adv_mean - u).abs() < 1e-6 && iq.adv_std.abs() < 1e-5);
        let w = (temp * u).exp();
        assert!((iq.weight_mean - w).abs() < 1e-5);
        // y = c·(r + shift) + γ(1 − d)·1.75
        let y: Vec<f32> = (0..B)
            .map(|r| 3.0 * (batch.rewards[r] + shift) + 0.99 * (1.0 - batch.dones[r]) * 1.75)
            .collect();
        let td = y.iter().map(|y| (1.5 - y) * (1.5 - y)).sum::<f32>() / B as f32;
        assert!((s.td_loss - td).abs() < 1e-4, "{} vs {td}", s.td_loss);
        assert!((s.target_mean - y.iter().sum::<f32>() / B as f32).abs() < 1e-5);
        assert!((s.pa_loss - 5.5 * 5.5).abs() < 1e-4);
        assert!((s.q_data - 1.5).abs() < 1e-6 && (s.q_infeasible - 1.5).abs() < 1e-6);
        // L_π = w·mean_b Σ_d [(a − μ)²/(2σ²) + log σ + ½ log 2π]
        let mu = 0.25f32.tanh();
        let mut nll = 0.0f64;
        for r in 0..B {
            for (d, ls) in [0.1f64, -0.2].iter().enumerate() {
                let diff = (batch.actions[r * AD + d] - mu) as f64;
                nll += diff * diff / (2.0 * (2.0 * ls).exp())
                    + ls
                    + 0.5 * (2.0 * std::f64::consts::PI).ln();
            }
        }
        let want = w as f64 * nll / B as f64;
        assert!(
            (s.actor_loss.unwrap() as f64 - want).abs() < 1e-4 * want.abs(),
            "{:?} vs {want}",
            s.actor_loss
        );
        // a negative advantage weighs the value error by 1 − τ_e
        make_constant(&mut x.value, 2.5);
        let (_, iq) = x.grads(&batch);
        assert!((iq.v_loss - (1.0 - tau_e) * 0.25).abs() < 1e-6, "{iq:?}");
    }

    #[test]
    fn the_value_converges_to_the_expectile_of_the_target_values() {
        // one state, six actions: V(s) must go to the τ_e-expectile of the six
        // Q̂(s, a_b), which for τ_e = 0.9 lies well above their mean
        let (a, _) = tiny_cfg();
        let a = AgentConfig {
            tau: 1e-12, // targets stay put
            penalty: false,
            ..a
        };
        let expectile = 0.9;
        let iql = IqlConfig {
            expectile,
            value_lr: 1e-2,
            ..IqlConfig::default()
        };
        let mut x = IqlAgent::new(a, iql, OD, AD, 0.0, 100, 8);
        let mut batch = tiny_batch(9);
        for r in 0..B {
            batch.obs[r * OD..(r + 1) * OD].copy_from_slice(&[0.3, -0.2, 0.5]);
        }
        x.fill_inputs(&batch);
        let mut t = Tape::new(&x.critic_target, B);
        x.critic_target
            .forward(&x.ws.critic_in[..B * (OD + AD)], B, &[0, 1], &mut t);
        let q: Vec<f32> = (0..B).map(|r| t.output(0)[r].min(t.output(1)[r])).collect();
        // the expectile solves Σ_b |τ − 1(q_b < v)|·(q_b − v) = 0 (decreasing in v)
        let f = |v: f32| -> f32 {
            q.iter()
                .map(|&qb| {
                    let u = qb - v;
                    (if u < 0.0 { 1.0 - expectile } else { expectile }) * u
                })
                .sum()
        };
        let (mut lo, mut hi) = (-100.0f32, 100.0f32);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > 0.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        let want = 0.5 * (lo + hi);
        let spread =
            q.iter().cloned().fold(f32::MIN, f32::max) - q.iter().cloned().fold(f32::MAX, f32::min);
        let mean = q.iter().sum::<f32>() / B as f32;
        assert!(spread > 0.05, "{q:?}");
        for _ in 0..1500 {
            x.update(&batch);
        }
        let mut tv = Tape::new(&x.value, 1);
        x.value.forward(&batch.obs[..OD], 1, &[0], &mut tv);
        let v = tv.output(0)[0];
        assert!(
            (v - want).abs() < 0.03 * spread && (want - mean) > 0.2 * spread,
            "V = {v}, expectile {want}, mean {mean}, Q̂ {q:?}"
        );
    }

    #[test]
    fn same_seed_same_updates_and_thread_count_changes_nothing() {
        let batch = tiny_batch(10);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (a, i) = tiny_cfg();
                let mut x = IqlAgent::new(a, i, OD, AD, -1.0, 100, 12);
                let losses: Vec<f32> = (0..6).map(|_| x.update(&batch).1.v_loss).collect();
                (
                    x.critic.params,
                    x.value.params,
                    x.actor.params,
                    x.log_std,
                    losses,
                )
            })
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(1));
    }

    #[test]
    fn the_deterministic_policy_leaves_log_std_alone_and_targets_follow_by_polyak() {
        let (a, i) = tiny_cfg();
        let mut x = IqlAgent::new(
            a,
            IqlConfig {
                policy: IqlPolicy::Deterministic,
                ..i
            },
            OD,
            AD,
            -1.0,
            100,
            13,
        );
        let (c0, t0) = (x.critic.params.clone(), x.critic_target.params.clone());
        x.update(&tiny_batch(11));
        assert_eq!(x.log_std, vec![0.0; AD]);
        let tau = x.cfg.tau;
        for ((t, t0), c) in x.critic_target.params.iter().zip(&t0).zip(&x.critic.params) {
            assert!((t - (t0 + tau * (c - t0))).abs() < 1e-6);
        }
        assert_ne!(x.critic.params, c0);
    }
}

/// IQL agent files.
#[cfg(test)]
mod file_tests {
    use super::*;
    use crate::algos::Agent;
    use rand::{Rng, SeedableRng};

    #[test]
    fn iql_agent_round_trips_bit_for_bit_loads_as_a_policy_and_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let pre = crate::config::presets::preset("iql-rsln-pa").unwrap();
        let agent_cfg = AgentConfig {
            hidden: 8,
            batch_size: 4,
            ..pre.agent
        };
        let iql = pre.iql.unwrap();
        let mut a = IqlAgent::new(agent_cfg, iql, 3, 2, -1.234_567, 100, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut b = Batch::new(4, 3, 2);
        for v in b
            .obs
            .iter_mut()
            .chain(&mut b.next_obs)
            .chain(&mut b.actions)
        {
            *v = rng.gen_range(-1.0..1.0);
        }
        for _ in 0..5 {
            a.update(&b);
        }
        a.to_file(None).unwrap().write(&p).unwrap();
        let r = TensorReader::open(&p).unwrap();
        let mut c = IqlAgent::read(&r).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (x, y) in [
            (&a.actor.params, &c.actor.params),
            (&a.critic.params, &c.critic.params),
            (&a.critic_target.params, &c.critic_target.params),
            (&a.value.params, &c.value.params),
            (&a.log_std, &c.log_std),
            (&a.actor_opt.v, &c.actor_opt.v),
            (&a.log_std_opt.m, &c.log_std_opt.m),
            (&a.critic_opt.m, &c.critic_opt.m),
            (&a.value_opt.v, &c.value_opt.v),
        ] {
            assert_eq!(bits(x), bits(y));
        }
        assert_eq!(
            (a.cfg.clone(), a.iql.clone()),
            (c.cfg.clone(), c.iql.clone())
        );
        assert_eq!(
            (
                a.steps,
                a.q_min.to_bits(),
                a.value_opt.step,
                a.log_std_opt.schedule
            ),
            (
                c.steps,
                c.q_min.to_bits(),
                c.value_opt.step,
                c.log_std_opt.schedule
            )
        );
        // the same future
        for _ in 0..3 {
            assert_eq!(a.update(&b).1, c.update(&b).1);
        }
        assert_eq!(bits(&a.critic.params), bits(&c.critic.params));
        // the mean network loads as a policy; the PARS reader refuses the file, and the
        // IQL reader a PARS agent
        let pol = crate::policy::Policy::load(&p).unwrap();
        assert_eq!(
            bits(&pol.net.params),
            bits(&IqlAgent::read(&r).unwrap().actor.params)
        );
        let e = format!("{:#}", Agent::load(&p).err().unwrap());
        assert!(e.contains("an IQL agent"), "{e}");
        let pp = dir.path().join("pars.safetensors");
        crate::algos::pars::file_tests::tiny_agent()
            .save(&pp, None)
            .unwrap();
        let e = format!(
            "{:#}",
            IqlAgent::read(&TensorReader::open(&pp).unwrap())
                .err()
                .unwrap()
        );
        assert!(e.contains("not an IQL agent"), "{e}");
    }
}
