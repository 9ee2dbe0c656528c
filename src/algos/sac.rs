//! SAC with automatic entropy tuning (Haarnoja et al. 2018b) on a critic ensemble:
//! SAC (N = 2, min of both), SAC-N offline, and RLPD's learner (Ball et al. 2023:
//! LayerNorm critics, N = 10, target min over a random pair, actor on the mean).
//!
//! actor:   u = μ(s) + σ(s)·ε,  a = tanh(u),  log σ clipped to [LOG_STD_MIN, LOG_STD_MAX]
//!          log π(a|s) = Σ_d [log N(ε_d; 0, 1) − log σ_d − log(1 − tanh² u_d)]
//! critic:  y = c·(r + shift) + γ(1−d)·(min_{i∈S} Q̄_i(s', a') − α·log π(a'|s')),  a' ~ π(s')
//!          L_Q = mean_i,b (Q_i(s, a) − y)²           (the entropy term only with backup_entropy)
//! actor:   L_π = mean_b (α·log π(a|s) − Q(s, a)),   Q = min over all N, or the mean of S_actor
//! α:       L_α = α·(−mean_b log π(a|s) − H̄),  learned as log α
//!
//! The critic step draws ε' then the target subset; the actor step draws ε then (for a
//! random S_actor < N) its members. Targets follow every critic step by Polyak.
use super::{Learner, UpdateStats};
use crate::config::{AgentConfig, Algorithm, SacConfig, TrainConfig};
use crate::data::Batch;
use crate::formats::record::{
    read_adam, read_vec_adam, same_shape, write_adam, write_vec_adam, AdamRecord,
};
use crate::formats::{bits32, TensorReader, TensorWriter, AGENT_FORMAT, FORMAT_VERSION};
use crate::nn::{polyak, Adam, EnsembleMlp, LrSchedule, MlpSpec, Tape};
use crate::policy::{LOG_STD_MAX, LOG_STD_MIN};
use anyhow::{ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Metadata `algorithm` of a SAC agent file and trace.
pub const FILE_ALGORITHM: &str = "sac";

/// ½·ln(2π).
const HALF_LN_2PI: f32 = 0.918_938_5;

/// log(1 − tanh² u) without cancellation: 2·(ln 2 − u − softplus(−2u)).
#[inline]
fn log1m_tanh2(u: f32) -> f32 {
    let x = -2.0 * u;
    let softplus = x.max(0.0) + (-x.abs()).exp().ln_1p();
    2.0 * (std::f32::consts::LN_2 - u - softplus)
}

/// The random draws of one update, kept when recording (for update traces).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draws {
    /// ε' ~ N(0, 1) of the next actions a' = tanh(μ(s') + σ(s')ε'), [B, act_dim].
    pub target_eps: Vec<f32>,
    /// Target members whose minimum formed the TD target (sorted).
    pub target_subset: Vec<usize>,
    /// ε of the actor step's actions, [B, act_dim] (empty without an actor step).
    pub actor_eps: Vec<f32>,
    /// Members drawn for the actor's value (empty when it drew none).
    pub actor_subset: Vec<usize>,
}

/// Sampled actions of a batch: a = tanh(μ + σε) with everything the backward needs.
#[derive(Clone)]
struct Sampled {
    eps: Vec<f32>,
    /// tanh(u), [B, act_dim].
    act: Vec<f32>,
    /// tanh(u) again, kept apart from `act` (which the critic input borrows).
    tanh_u: Vec<f32>,
    /// σ, [B, act_dim].
    std: Vec<f32>,
    /// Whether log σ was inside its clip range (else it gets no gradient).
    inside: Vec<bool>,
    /// log π(a|s), [B].
    log_prob: Vec<f32>,
}

impl Sampled {
    fn new(b: usize, ad: usize) -> Self {
        Self {
            eps: vec![0.0; b * ad],
            act: vec![0.0; b * ad],
            tanh_u: vec![0.0; b * ad],
            std: vec![0.0; b * ad],
            inside: vec![true; b * ad],
            log_prob: vec![0.0; b],
        }
    }

    /// Fill from the actor's head outputs `head` ([B, 2·act_dim]) and the drawn `eps`.
    fn fill(&mut self, head: &[f32], b: usize, ad: usize) {
        for r in 0..b {
            let row = &head[r * 2 * ad..(r + 1) * 2 * ad];
            let mut lp = 0.0f32;
            for d in 0..ad {
                let i = r * ad + d;
                let raw = row[ad + d];
                let ls = raw.clamp(LOG_STD_MIN, LOG_STD_MAX);
                self.inside[i] = (LOG_STD_MIN..=LOG_STD_MAX).contains(&raw);
                let std = ls.exp();
                let e = self.eps[i];
                let u = row[d] + std * e;
                let a = u.tanh();
                self.std[i] = std;
                self.act[i] = a;
                self.tanh_u[i] = a;
                lp += -0.5 * e * e - HALF_LN_2PI - ls - log1m_tanh2(u);
            }
            self.log_prob[r] = lp;
        }
    }
}

/// Preallocated buffers of the update step: nothing is allocated per step.
#[derive(Clone)]
struct Workspace {
    act_tape: Tape,
    actor_tape: Tape,
    actor_next_tape: Tape,
    critic_tape: Tape,
    critic_target_tape: Tape,
    critic_actor_tape: Tape,
    critic_in: Vec<f32>,
    next_in: Vec<f32>,
    next: Sampled,
    cur: Sampled,
    y: Vec<f32>,
    dout: Vec<f32>,
    critic_grads: Vec<f32>,
    actor_grads: Vec<f32>,
    dinput: Vec<f32>,
    dhead: Vec<f32>,
    all_members: Vec<usize>,
    subset: Vec<usize>,
    actor_members: Vec<usize>,
    last_batch: usize,
}

impl Workspace {
    fn new(
        cfg: &AgentConfig,
        actor: &EnsembleMlp,
        critic: &EnsembleMlp,
        od: usize,
        ad: usize,
    ) -> Self {
        let (b, n, ind) = (cfg.batch_size, cfg.n_critics, od + ad);
        Self {
            act_tape: Tape::new(actor, 1),
            actor_tape: Tape::new(actor, b),
            actor_next_tape: Tape::new(actor, b),
            critic_tape: Tape::new(critic, b),
            critic_target_tape: Tape::new(critic, b),
            critic_actor_tape: Tape::new(critic, b),
            critic_in: vec![0.0; b * ind],
            next_in: vec![0.0; b * ind],
            next: Sampled::new(b, ad),
            cur: Sampled::new(b, ad),
            y: vec![0.0; b],
            dout: vec![0.0; n * b],
            critic_grads: vec![0.0; critic.params.len()],
            actor_grads: vec![0.0; actor.params.len()],
            dinput: vec![0.0; b * ind],
            dhead: vec![0.0; b * 2 * ad],
            all_members: (0..n).collect(),
            subset: Vec::with_capacity(n),
            actor_members: Vec::with_capacity(n),
            last_batch: 0,
        }
    }
}

#[derive(Clone)]
pub struct SacAgent {
    pub cfg: AgentConfig,
    pub sac: SacConfig,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// The tanh-Gaussian actor: output [μ | log σ].
    pub actor: EnsembleMlp,
    pub critic: EnsembleMlp,
    pub critic_target: EnsembleMlp,
    pub actor_opt: Adam,
    pub critic_opt: Adam,
    /// log α, one value.
    pub log_alpha: Vec<f32>,
    pub alpha_opt: Adam,
    /// H̄, resolved.
    pub target_entropy: f32,
    /// Q_min (reported only: SAC has no infeasible-action penalty).
    pub q_min: f32,
    /// Critic steps taken.
    pub steps: u64,
    pub rng: ChaCha8Rng,
    ws: Workspace,
    draws: Option<Box<Draws>>,
}

pub fn actor_spec(cfg: &AgentConfig, obs_dim: usize, act_dim: usize) -> MlpSpec {
    MlpSpec {
        output: 2 * act_dim,
        tanh_output: false,
        gaussian_head: true,
        ..super::pars::actor_spec(cfg, obs_dim, act_dim)
    }
}

impl SacAgent {
    pub fn new(
        cfg: AgentConfig,
        sac: SacConfig,
        obs_dim: usize,
        act_dim: usize,
        q_min: f32,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let actor =
            EnsembleMlp::new_with(actor_spec(&cfg, obs_dim, act_dim), 1, cfg.init, &mut rng);
        let critic = EnsembleMlp::new_with(
            super::pars::critic_spec(&cfg, obs_dim, act_dim),
            cfg.n_critics,
            cfg.init,
            &mut rng,
        );
        let actor_opt = Adam::new(actor.params.len(), cfg.actor_lr, LrSchedule::Constant);
        let critic_opt = Adam::new(critic.params.len(), cfg.critic_lr, LrSchedule::Constant);
        let alpha_opt = Adam::new(1, sac.temperature_lr, LrSchedule::Constant);
        let ws = Workspace::new(&cfg, &actor, &critic, obs_dim, act_dim);
        Self {
            critic_target: critic.clone(),
            actor,
            critic,
            actor_opt,
            critic_opt,
            log_alpha: vec![sac.init_temperature.ln()],
            alpha_opt,
            target_entropy: sac.resolve_target_entropy(act_dim),
            q_min,
            steps: 0,
            rng,
            ws,
            draws: None,
            cfg,
            sac,
            obs_dim,
            act_dim,
        }
    }

    /// A fresh agent for an offline run (SAC-N).
    pub fn from_config(cfg: &TrainConfig, obs_dim: usize, act_dim: usize, r_min: f32) -> Self {
        let q_min = cfg.agent.resolve_q_min(r_min);
        Self::new(
            cfg.agent.clone(),
            cfg.sac_settings(),
            obs_dim,
            act_dim,
            q_min,
            cfg.seed,
        )
    }

    /// α = exp(log α).
    pub fn alpha(&self) -> f32 {
        self.log_alpha[0].exp()
    }

    pub fn reset_workspace(&mut self) {
        self.ws = Workspace::new(
            &self.cfg,
            &self.actor,
            &self.critic,
            self.obs_dim,
            self.act_dim,
        );
    }

    pub fn record_draws(&mut self, on: bool) {
        self.draws = on.then(Default::default);
    }

    pub fn draws(&self) -> Option<&Draws> {
        self.draws.as_deref()
    }

    /// One offline step: a critic step (targets follow), then every `policy_delay`
    /// steps the actor and the temperature.
    pub fn update(&mut self, batch: &Batch) -> UpdateStats {
        let mut stats = self.critic_step(batch);
        if self.steps.is_multiple_of(self.cfg.policy_delay as u64) {
            self.actor_step(batch, &mut stats);
        }
        stats
    }

    /// Critic gradient, Adam, Polyak, count.
    fn critic_step(&mut self, batch: &Batch) -> UpdateStats {
        let stats = self.critic_grads(batch);
        self.critic_opt
            .update(&mut self.critic.params, &self.ws.critic_grads);
        polyak(
            &mut self.critic_target.params,
            &self.critic.params,
            self.cfg.tau,
        );
        self.steps += 1;
        stats
    }

    /// Actor gradient and Adam, then the temperature on the same samples.
    fn actor_step(&mut self, batch: &Batch, stats: &mut UpdateStats) {
        self.actor_grads(batch, stats);
        self.actor_opt
            .update(&mut self.actor.params, &self.ws.actor_grads);
        let entropy = stats.entropy.expect("the actor step reports the entropy");
        let grad = [self.temperature_grad(entropy)];
        self.alpha_opt.update(&mut self.log_alpha, &grad);
    }

    /// dL_α/d log α = α·(entropy − H̄).
    fn temperature_grad(&self, entropy: f32) -> f32 {
        self.alpha() * (entropy - self.target_entropy)
    }

    /// Gradient of L_Q into the workspace; no parameter change.
    fn critic_grads(&mut self, batch: &Batch) -> UpdateStats {
        let cfg = &self.cfg;
        let (b, od, ad) = (batch.size, self.obs_dim, self.act_dim);
        assert!(
            b <= cfg.batch_size,
            "batch larger than the configured batch_size"
        );
        let (ind, n) = (od + ad, cfg.n_critics);
        let alpha = self.alpha();
        let ws = &mut self.ws;
        for e in &mut ws.next.eps[..b * ad] {
            *e = self.rng.sample(StandardNormal);
        }
        super::pars::sample_subset(&mut self.rng, n, cfg.critic_subset, &mut ws.subset);
        if let Some(d) = self.draws.as_deref_mut() {
            d.target_eps.clear();
            d.target_eps.extend_from_slice(&ws.next.eps[..b * ad]);
            d.target_subset.clear();
            d.target_subset.extend_from_slice(&ws.subset);
        }
        super::pars::concat_rows(
            &batch.obs[..b * od],
            &batch.actions[..b * ad],
            od,
            ad,
            &mut ws.critic_in[..b * ind],
        );
        let Workspace {
            actor_next_tape,
            critic_tape,
            critic_target_tape,
            critic_in,
            next_in,
            next,
            subset,
            all_members,
            ..
        } = &mut *ws;
        let (actor, critic, critic_target) = (&self.actor, &self.critic, &self.critic_target);
        let target_path = || {
            actor.forward(&batch.next_obs[..b * od], b, &[0], actor_next_tape);
            next.fill(actor_next_tape.output(0), b, ad);
            super::pars::concat_rows(
                &batch.next_obs[..b * od],
                &next.act[..b * ad],
                od,
                ad,
                &mut next_in[..b * ind],
            );
            critic_target.forward(&next_in[..b * ind], b, subset, critic_target_tape);
        };
        let online_path = || critic.forward(&critic_in[..b * ind], b, all_members, critic_tape);
        rayon::join(target_path, online_path);

        let backup = if self.sac.backup_entropy { alpha } else { 0.0 };
        let mut target_sum = 0.0f64;
        for r in 0..b {
            let q_next = ws
                .subset
                .iter()
                .map(|&m| ws.critic_target_tape.output(m)[r])
                .fold(f32::INFINITY, f32::min);
            let soft = q_next - backup * ws.next.log_prob[r];
            let reward = batch.rewards[r] + self.sac.reward_shift;
            let y = cfg.reward_scale * reward + cfg.gamma * (1.0 - batch.dones[r]) * soft;
            ws.y[r] = y;
            target_sum += y as f64;
        }
        ws.last_batch = b;
        let scale = 2.0 / (n * b) as f32;
        let (mut td, mut qd) = (0.0f64, 0.0f64);
        for m in 0..n {
            let q = ws.critic_tape.output(m);
            let d = &mut ws.dout[m * b..(m + 1) * b];
            for r in 0..b {
                let e = q[r] - ws.y[r];
                td += (e * e) as f64;
                qd += q[r] as f64;
                d[r] = scale * e;
            }
        }
        self.critic.backward(
            &mut ws.critic_tape,
            &ws.all_members,
            &ws.dout[..n * b],
            Some(&mut ws.critic_grads),
            false,
        );
        let nb = (n * b) as f64;
        UpdateStats {
            td_loss: (td / nb) as f32,
            pa_loss: 0.0,
            q_data: (qd / nb) as f32,
            q_infeasible: f32::NAN,
            target_mean: (target_sum / b as f64) as f32,
            ..Default::default()
        }
    }

    /// Gradient of L_π into the workspace (reparameterised through a = tanh(μ + σε));
    /// reports the actor loss, the entropy and α in `stats`.
    fn actor_grads(&mut self, batch: &Batch, stats: &mut UpdateStats) {
        let cfg = &self.cfg;
        let (b, od, ad) = (batch.size, self.obs_dim, self.act_dim);
        let (ind, n) = (od + ad, cfg.n_critics);
        let alpha = self.alpha();
        let ws = &mut self.ws;
        for e in &mut ws.cur.eps[..b * ad] {
            *e = self.rng.sample(StandardNormal);
        }
        // the actor's value: min over all members, or the mean of S_actor of them
        ws.actor_members.clear();
        let use_min = match cfg.actor_subset {
            None => {
                ws.actor_members.extend(0..n);
                true
            }
            Some(k) if k >= n => {
                ws.actor_members.extend(0..n);
                false
            }
            Some(k) => {
                super::pars::sample_subset(&mut self.rng, n, k, &mut ws.actor_members);
                false
            }
        };
        if let Some(d) = self.draws.as_deref_mut() {
            d.actor_eps.clear();
            d.actor_eps.extend_from_slice(&ws.cur.eps[..b * ad]);
            d.actor_subset.clear();
            if cfg.actor_subset.is_some_and(|k| k < n) {
                d.actor_subset.extend_from_slice(&ws.actor_members);
            }
        }
        self.actor
            .forward(&batch.obs[..b * od], b, &[0], &mut ws.actor_tape);
        ws.cur.fill(ws.actor_tape.output(0), b, ad);
        super::pars::concat_rows(
            &batch.obs[..b * od],
            &ws.cur.act[..b * ad],
            od,
            ad,
            &mut ws.critic_in[..b * ind],
        );
        self.critic.forward(
            &ws.critic_in[..b * ind],
            b,
            &ws.actor_members,
            &mut ws.critic_actor_tape,
        );
        // dL/dQ_m: −1/b on the argmin member (min) or −1/(b·k) on each (mean)
        ws.dout[..n * b].fill(0.0);
        let inv_b = 1.0 / b as f32;
        let (mut q_sum, mut lp_sum) = (0.0f64, 0.0f64);
        for r in 0..b {
            let q = if use_min {
                let (mut best, mut arg) = (f32::INFINITY, 0);
                for &m in &ws.actor_members {
                    let v = ws.critic_actor_tape.output(m)[r];
                    if v < best {
                        best = v;
                        arg = m;
                    }
                }
                ws.dout[arg * b + r] = -inv_b;
                best
            } else {
                let k = ws.actor_members.len() as f32;
                let mut s = 0.0;
                for &m in &ws.actor_members {
                    s += ws.critic_actor_tape.output(m)[r];
                    ws.dout[m * b + r] = -inv_b / k;
                }
                s / k
            };
            q_sum += q as f64;
            lp_sum += ws.cur.log_prob[r] as f64;
        }
        self.critic.backward(
            &mut ws.critic_actor_tape,
            &ws.actor_members,
            &ws.dout[..n * b],
            None,
            true,
        );
        ws.critic_actor_tape
            .dinput_sum(&ws.actor_members, &mut ws.dinput[..b * ind]);
        // through a = tanh(u), u = μ + σε and log π's −log σ − log(1 − tanh² u)
        let ab = alpha * inv_b;
        for r in 0..b {
            for d in 0..ad {
                let i = r * ad + d;
                let t = ws.cur.tanh_u[i];
                let du = ws.dinput[r * ind + od + d] * (1.0 - t * t) + ab * 2.0 * t;
                ws.dhead[r * 2 * ad + d] = du;
                ws.dhead[r * 2 * ad + ad + d] = if ws.cur.inside[i] {
                    du * ws.cur.std[i] * ws.cur.eps[i] - ab
                } else {
                    0.0
                };
            }
        }
        self.actor.backward(
            &mut ws.actor_tape,
            &[0],
            &ws.dhead[..b * 2 * ad],
            Some(&mut ws.actor_grads),
            false,
        );
        let (q_mean, lp_mean) = ((q_sum / b as f64) as f32, (lp_sum / b as f64) as f32);
        stats.actor_loss = Some(alpha * lp_mean - q_mean);
        stats.entropy = Some(-lp_mean);
        stats.temperature = Some(alpha);
    }

    /// Dormant-neuron ratio of the critic on the last batch.
    pub fn dormant_ratio(&self) -> Option<f64> {
        let b = self.ws.last_batch;
        (b > 0).then(|| {
            self.ws
                .critic_tape
                .dormant_ratio(self.cfg.critic_depth, self.cfg.hidden, b)
        })
    }
}

/// A SAC agent's scalar state, exactly (metadata `state` of a SAC agent file).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SacMeta {
    /// `[agent]` and `[sac]` as TOML (exact float round trip).
    cfg_toml: String,
    obs_dim: usize,
    act_dim: usize,
    #[serde(with = "bits32")]
    q_min: f32,
    steps: u64,
    rng: ChaCha8Rng,
    actor_spec: MlpSpec,
    critic_spec: MlpSpec,
    critic_members: usize,
    actor_opt: AdamRecord,
    critic_opt: AdamRecord,
    alpha_opt: AdamRecord,
}

#[derive(Serialize, Deserialize)]
struct SacCfgWrap {
    agent: AgentConfig,
    sac: SacConfig,
}

/// The agent file and update traces (see `crate::formats`).
impl SacAgent {
    /// Every state tensor under `prefix`: the networks `actor` (output [μ | log σ]),
    /// `critic`, `critic_target`, the scalar `log_alpha` [1], their Adam moments
    /// (`actor_adam.m.<actor tensor>`, …, `log_alpha_adam.m`, `.v`) and step counts
    /// (`<name>_adam.step`, int64 []).
    pub fn write_tensors(&self, w: &mut TensorWriter, prefix: &str) {
        w.net(prefix, "actor", &self.actor);
        w.net(prefix, "critic", &self.critic);
        w.net(prefix, "critic_target", &self.critic_target);
        w.f32(format!("{prefix}log_alpha"), &[1], &self.log_alpha);
        write_adam(w, prefix, "actor", &self.actor, &self.actor_opt);
        write_adam(w, prefix, "critic", &self.critic, &self.critic_opt);
        write_vec_adam(w, prefix, "log_alpha", &self.alpha_opt);
    }

    pub fn read_tensors(&mut self, r: &TensorReader, prefix: &str) -> Result<()> {
        let (aspec, cspec, n) = (
            self.actor.spec.clone(),
            self.critic.spec.clone(),
            self.critic.members,
        );
        self.actor = r.net(prefix, "actor", &aspec, 1)?;
        self.critic = r.net(prefix, "critic", &cspec, n)?;
        self.critic_target = r.net(prefix, "critic_target", &cspec, n)?;
        self.log_alpha = r.f32(&format!("{prefix}log_alpha"), &[1])?;
        read_adam(r, prefix, "actor", &aspec, 1, &mut self.actor_opt)?;
        read_adam(r, prefix, "critic", &cspec, n, &mut self.critic_opt)?;
        read_vec_adam(r, prefix, "log_alpha", 1, &mut self.alpha_opt)?;
        Ok(())
    }

    /// The agent file (format `pars-agent`, metadata `algorithm` = `sac`; the actor is
    /// stored as `actor` with its Gaussian head, so the file loads as a policy).
    pub fn to_file(&self, config: Option<&str>) -> Result<TensorWriter> {
        let wrap = SacCfgWrap {
            agent: self.cfg.clone(),
            sac: self.sac.clone(),
        };
        let meta = SacMeta {
            cfg_toml: toml::to_string(&wrap)?,
            obs_dim: self.obs_dim,
            act_dim: self.act_dim,
            q_min: self.q_min,
            steps: self.steps,
            rng: self.rng.clone(),
            actor_spec: self.actor.spec.clone(),
            critic_spec: self.critic.spec.clone(),
            critic_members: self.critic.members,
            actor_opt: AdamRecord::of(&self.actor_opt),
            critic_opt: AdamRecord::of(&self.critic_opt),
            alpha_opt: AdamRecord::of(&self.alpha_opt),
        };
        let mut w = TensorWriter::new();
        w.meta("format", AGENT_FORMAT);
        w.meta("version", FORMAT_VERSION.to_string());
        w.meta("algorithm", FILE_ALGORITHM);
        w.meta("spec", serde_json::to_string(&self.actor.spec)?);
        w.meta("critic_spec", serde_json::to_string(&self.critic.spec)?);
        w.meta("critic_members", self.critic.members.to_string());
        let config = match config {
            Some(c) => c.to_string(),
            None => serde_json::to_string(&wrap)?,
        };
        w.meta("config", config);
        w.meta("obs_dim", self.obs_dim.to_string());
        w.meta("act_dim", self.act_dim.to_string());
        w.meta("q_min", self.q_min.to_string());
        w.meta("steps", self.steps.to_string());
        w.meta("temperature", self.alpha().to_string());
        w.meta("state", serde_json::to_string(&meta)?);
        self.write_tensors(&mut w, "");
        Ok(w)
    }

    /// Rebuild a SAC agent from a SAC agent file read into `r`.
    pub fn read(r: &TensorReader) -> Result<Self> {
        let path = r.path().display().to_string();
        r.check_format(&[AGENT_FORMAT], "an agent checkpoint")?;
        ensure!(
            r.get_meta("algorithm") == Some(FILE_ALGORITHM),
            "{path}: not a SAC agent"
        );
        let meta: SacMeta = r.meta_json("state")?;
        let SacCfgWrap { agent: cfg, sac } = toml::from_str(&meta.cfg_toml)
            .with_context(|| format!("{path}: malformed agent config"))?;
        ensure!(
            meta.critic_members == cfg.n_critics,
            "{path}: {} critics saved but the config says {}",
            meta.critic_members,
            cfg.n_critics
        );
        let mut agent = SacAgent::new(cfg, sac, meta.obs_dim, meta.act_dim, meta.q_min, 0);
        ensure!(
            same_shape(&agent.actor.spec, &meta.actor_spec)
                && same_shape(&agent.critic.spec, &meta.critic_spec),
            "{path}: the saved network shapes do not match the saved config"
        );
        agent.actor_opt = meta.actor_opt.into_adam();
        agent.critic_opt = meta.critic_opt.into_adam();
        agent.alpha_opt = meta.alpha_opt.into_adam();
        agent.read_tensors(r, "")?;
        agent.steps = meta.steps;
        agent.rng = meta.rng;
        agent.reset_workspace();
        Ok(agent)
    }

    /// The `config` of a SAC trace: every agent and `[sac]` field, with
    /// `target_entropy` resolved, plus `q_min`, `actor_cosine_steps`,
    /// `gelu_approximate` and `step_offset` (`algos::trace_extras`).
    pub fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(&self.cfg)?;
        let m = v
            .as_object_mut()
            .context("agent config is not a JSON object")?;
        let sac = serde_json::to_value(&self.sac)?;
        for (k, x) in sac.as_object().context("sac config is not a JSON object")? {
            m.insert(k.clone(), x.clone());
        }
        m.insert("target_entropy".into(), (self.target_entropy as f64).into());
        m.insert("log_std_min".into(), (LOG_STD_MIN as f64).into());
        m.insert("log_std_max".into(), (LOG_STD_MAX as f64).into());
        super::trace_extras(m, self.q_min, total_steps, self.steps);
        Ok(v)
    }
}

impl Learner for SacAgent {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Sac
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
        SacAgent::update(self, batch)
    }
    fn can_learn_online(&self) -> bool {
        true
    }
    fn update_critic(&mut self, batch: &Batch) -> UpdateStats {
        self.critic_step(batch)
    }
    fn update_actor(&mut self, batch: &Batch, stats: &mut UpdateStats) {
        self.actor_step(batch, stats)
    }
    fn go_online(&mut self, cfg: &AgentConfig) -> Result<()> {
        let old = &self.cfg;
        ensure!(
            (
                old.hidden,
                old.critic_depth,
                old.actor_depth,
                old.n_critics,
                old.critic_layer_norm
            ) == (
                cfg.hidden,
                cfg.critic_depth,
                cfg.actor_depth,
                cfg.n_critics,
                cfg.critic_layer_norm
            ),
            "the online agent must keep the offline network shapes"
        );
        self.cfg = cfg.clone();
        self.actor_opt.lr = cfg.actor_lr;
        self.critic_opt.lr = cfg.critic_lr;
        self.reset_workspace();
        Ok(())
    }
    fn schedule_tied_to_length(&self) -> bool {
        false
    }
    fn actor(&self) -> &EnsembleMlp {
        &self.actor
    }
    /// A sample tanh(μ + σε) of the policy (SAC explores with its own noise; `noise`
    /// is not used).
    fn explore(&mut self, obs: &[f32], _noise: f32, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let ad = self.act_dim;
        self.actor.forward(obs, 1, &[0], &mut self.ws.act_tape);
        let o = self.ws.act_tape.output(0);
        for d in 0..ad {
            let eps: f32 = rng.sample(StandardNormal);
            let std = o[ad + d].clamp(LOG_STD_MIN, LOG_STD_MAX).exp();
            out[d] = (o[d] + std * eps).tanh();
        }
    }
    fn dormant_ratio(&self) -> Option<f64> {
        SacAgent::dormant_ratio(self)
    }
    fn named_params(&self) -> Vec<(&'static str, &[f32])> {
        vec![
            ("critic", &self.critic.params),
            ("target critic", &self.critic_target.params),
            ("actor", &self.actor.params),
            ("log temperature", &self.log_alpha),
        ]
    }
    fn apply_resumable(&mut self, cfg: &TrainConfig) {
        self.cfg = cfg.agent.clone();
        self.sac = cfg.sac_settings();
        self.target_entropy = self.sac.resolve_target_entropy(self.act_dim);
        self.actor_opt.lr = cfg.agent.actor_lr;
        self.critic_opt.lr = cfg.agent.critic_lr;
        self.alpha_opt.lr = self.sac.temperature_lr;
        self.reset_workspace();
    }
    fn to_file(&self, config: Option<&str>) -> Result<TensorWriter> {
        SacAgent::to_file(self, config)
    }
    fn write_tensors(&self, w: &mut TensorWriter, prefix: &str) {
        SacAgent::write_tensors(self, w, prefix)
    }
    fn record_draws(&mut self, on: bool) {
        SacAgent::record_draws(self, on)
    }
    fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value> {
        SacAgent::trace_config(self, total_steps)
    }
    /// `draw.{target_eps, target_subset, actor_eps, actor_subset}` and
    /// `loss.{td, q_data, target_mean, actor, entropy, temperature}`.
    fn write_trace_step(&self, w: &mut TensorWriter, p: &str, stats: &UpdateStats) {
        let (b, ad) = (self.cfg.batch_size, self.act_dim);
        let idx = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        let d = self.draws().expect("draws are recorded");
        w.f32(format!("{p}draw.target_eps"), &[b, ad], &d.target_eps);
        let ts = idx(&d.target_subset);
        w.i64(format!("{p}draw.target_subset"), &[ts.len()], &ts);
        if stats.actor_loss.is_some() {
            w.f32(format!("{p}draw.actor_eps"), &[b, ad], &d.actor_eps);
            if !d.actor_subset.is_empty() {
                let s = idx(&d.actor_subset);
                w.i64(format!("{p}draw.actor_subset"), &[s.len()], &s);
            }
        }
        let mut loss = |n: &str, v: f32| w.f32(format!("{p}loss.{n}"), &[], &[v]);
        loss("td", stats.td_loss);
        loss("q_data", stats.q_data);
        loss("target_mean", stats.target_mean);
        if let (Some(a), Some(e), Some(t)) = (stats.actor_loss, stats.entropy, stats.temperature) {
            loss("actor", a);
            loss("entropy", e);
            loss("temperature", t);
        }
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
    use rand::Rng;

    const OD: usize = 3;
    const AD: usize = 2;
    const B: usize = 5;

    fn tiny_cfg() -> AgentConfig {
        AgentConfig {
            hidden: 8,
            n_critics: 3,
            critic_subset: 2,
            batch_size: B,
            reward_scale: 2.0,
            penalty: false,
            policy_delay: 1,
            output_init_scale: 0.5,
            ..AgentConfig::default()
        }
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
            *r = i as f32 * 0.25 - 0.5;
        }
        b.dones[3] = 1.0;
        b
    }

    fn agent(cfg: AgentConfig, sac: SacConfig, seed: u64) -> SacAgent {
        SacAgent::new(cfg, sac, OD, AD, -10.0, seed)
    }

    /// Central differences in f64 of `loss` against `analytic`. Where the one-sided
    /// differences disagree a ReLU kink lies within `eps`: there the analytic value
    /// must match one side; such parameters must stay few.
    fn check_grads(analytic: &[f32], loss: &mut dyn FnMut(usize, f32) -> f64, what: &str) {
        let eps = 1e-3f32;
        let close = |x: f64, y: f64| (x - y).abs() <= 2e-3 + 2e-2 * x.abs().max(y.abs());
        let (mut nonzero, mut kinks) = (0, 0);
        for (i, &an) in analytic.iter().enumerate() {
            let (lp, l0, lm) = (loss(i, eps), loss(i, 0.0), loss(i, -eps));
            let (fp, fm) = ((lp - l0) / eps as f64, (l0 - lm) / eps as f64);
            let fd = (lp - lm) / (2.0 * eps as f64);
            let an = an as f64;
            if close(fp, fm) || close(fd, an) {
                assert!(
                    close(fd, an),
                    "{what} param {i}: finite difference {fd} vs analytic {an}"
                );
            } else {
                kinks += 1;
                assert!(
                    close(fp, an) || close(fm, an),
                    "{what} param {i}: one-sided differences {fm} / {fp} vs analytic {an}"
                );
            }
            nonzero += (an.abs() > 1e-6) as usize;
        }
        assert!(nonzero > 0, "{what}: every gradient is zero");
        assert!(
            kinks * 10 <= analytic.len(),
            "{what}: {kinks} parameters sit on kinks"
        );
    }

    /// The critic and actor gradients against central differences (same RNG state,
    /// so the same ε, ε' and subsets on both sides).
    fn check_all(cfg: AgentConfig, sac: SacConfig, seed: u64) {
        let mut a = agent(cfg, sac, seed);
        // member 1 far below the others (its output bias): the min has no kink nearby
        let len = a.critic.member_len();
        a.critic.params[2 * len - 1] -= 5.0;
        let batch = tiny_batch(seed + 1);
        let mut a0 = a.clone();
        a0.critic_grads(&batch);
        check_grads(
            &a0.ws.critic_grads,
            &mut |i, d| {
                let mut x = a.clone();
                x.critic.params[i] += d;
                x.critic_grads(&batch).td_loss as f64
            },
            "critic",
        );
        let mut a0 = a.clone();
        let mut st = UpdateStats::default();
        a0.actor_grads(&batch, &mut st);
        check_grads(
            &a0.ws.actor_grads,
            &mut |i, d| {
                let mut x = a.clone();
                x.actor.params[i] += d;
                let mut s = UpdateStats::default();
                x.actor_grads(&batch, &mut s);
                s.actor_loss.unwrap() as f64
            },
            "actor",
        );
        // the temperature: dL_α/d log α with L_α = α·(entropy − H̄), entropy held
        let entropy = st.entropy.unwrap();
        let an = a.temperature_grad(entropy);
        let l = |d: f32| {
            let alpha = ((a.log_alpha[0] + d) as f64).exp();
            alpha * (entropy as f64 - a.target_entropy as f64)
        };
        let fd = (l(1e-3) - l(-1e-3)) / 2e-3;
        assert!(
            (fd - an as f64).abs() < 1e-4 * (1.0 + fd.abs()),
            "temperature {fd} vs {an}"
        );
    }

    #[test]
    fn log1m_tanh2_is_exact_and_stable() {
        for u in [-30.0f32, -5.0, -0.7, 0.0, 0.3, 4.0, 30.0] {
            let direct = (1.0 - (u as f64).tanh().powi(2)).ln();
            let ours = log1m_tanh2(u) as f64;
            if u.abs() < 8.0 {
                assert!((ours - direct).abs() < 1e-5, "u = {u}: {ours} vs {direct}");
            } else {
                // direct form underflows; ours keeps the asymptote 2·ln 2 − 2|u|
                assert!((ours - (2.0 * 2f64.ln() - 2.0 * u.abs() as f64)).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn log_prob_matches_the_change_of_variables_by_hand() {
        // one row, one dimension: μ = 0.3, log σ = −0.5, ε = 0.8
        let mut s = Sampled::new(1, 1);
        s.eps[0] = 0.8;
        s.fill(&[0.3, -0.5], 1, 1);
        let std = (-0.5f64).exp();
        let u = 0.3 + std * 0.8;
        let normal = -0.5 * 0.8f64 * 0.8 - 0.5 * (2.0 * std::f64::consts::PI).ln() - (-0.5);
        let expect = normal - (1.0 - u.tanh().powi(2)).ln();
        assert!((s.log_prob[0] as f64 - expect).abs() < 1e-5);
        assert!((s.act[0] as f64 - u.tanh()).abs() < 1e-6);
        // a clipped log σ: σ = e², and no gradient flows to it
        s.fill(&[0.3, 5.0], 1, 1);
        assert!(!s.inside[0] && (s.std[0] - 2f32.exp()).abs() < 1e-5);
    }

    #[test]
    fn gradients_match_finite_differences_sac_min_of_all() {
        for seed in [1, 4] {
            check_all(tiny_cfg(), SacConfig::default(), seed);
        }
    }

    #[test]
    fn gradients_match_finite_differences_rlpd_style_ln_mean_no_backup() {
        let cfg = AgentConfig {
            critic_layer_norm: true,
            actor_subset: Some(3),
            ..tiny_cfg()
        };
        let sac = SacConfig {
            backup_entropy: false,
            init_temperature: 0.3,
            ..SacConfig::default()
        };
        check_all(cfg, sac, 2);
        // a random S_actor < N
        let cfg = AgentConfig {
            actor_subset: Some(2),
            ..tiny_cfg()
        };
        check_all(cfg, SacConfig::default(), 3);
    }

    #[test]
    fn the_entropy_backup_enters_the_target_exactly() {
        let batch = tiny_batch(5);
        let mk = |backup| {
            agent(
                tiny_cfg(),
                SacConfig {
                    backup_entropy: backup,
                    ..Default::default()
                },
                4,
            )
        };
        let (mut on, mut off) = (mk(true), mk(false));
        let (s_on, s_off) = (on.critic_grads(&batch), off.critic_grads(&batch));
        // same draws: the difference is −γ·α·mean_b (1−d)·log π(a'|s')
        let alpha = on.alpha();
        let expect: f64 = (0..B)
            .map(|r| {
                -(on.cfg.gamma * (1.0 - batch.dones[r]) * alpha * on.ws.next.log_prob[r]) as f64
            })
            .sum::<f64>()
            / B as f64;
        let got = (s_on.target_mean - s_off.target_mean) as f64;
        assert!((got - expect).abs() < 1e-4, "{got} vs {expect}");
    }

    #[test]
    fn the_temperature_moves_towards_the_target_entropy() {
        // entropy above H̄: α falls; below: α rises
        let batch = tiny_batch(6);
        for (h, falls) in [(-100.0f32, true), (100.0, false)] {
            let mut a = agent(
                tiny_cfg(),
                SacConfig {
                    target_entropy: Some(h),
                    ..Default::default()
                },
                7,
            );
            let before = a.alpha();
            for _ in 0..5 {
                a.update(&batch);
            }
            assert_eq!(
                a.alpha() < before,
                falls,
                "H̄ = {h}: α {before} → {}",
                a.alpha()
            );
        }
    }

    #[test]
    fn same_seed_same_updates_and_agent_files_round_trip() {
        let batch = tiny_batch(8);
        let mut a = agent(tiny_cfg(), SacConfig::default(), 9);
        let mut b = agent(tiny_cfg(), SacConfig::default(), 9);
        for _ in 0..3 {
            a.update(&batch);
            b.update(&batch);
        }
        assert_eq!(a.actor.params, b.actor.params);
        assert_eq!(a.critic.params, b.critic.params);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        a.to_file(None).unwrap().write(&p).unwrap();
        let back = crate::algos::read_learner(&TensorReader::open(&p).unwrap()).unwrap();
        let mut back = back.as_any().downcast_ref::<SacAgent>().unwrap().clone();
        assert_eq!(back.log_alpha, a.log_alpha);
        // the next update of the loaded agent equals the original's, bit for bit
        a.update(&batch);
        back.update(&batch);
        assert_eq!(a.actor.params, back.actor.params);
        assert_eq!(a.critic_target.params, back.critic_target.params);
        assert_eq!(a.log_alpha, back.log_alpha);
        // and the file loads as a policy acting with tanh(μ)
        let mut pol = crate::policy::Policy::load(&p).unwrap();
        assert_eq!(pol.act_dim(), AD);
        let obs = [0.1f32, -0.4, 0.7];
        let act = pol.act(&obs).to_vec();
        let mut tape = Tape::new(&a.actor, 1);
        let saved = crate::algos::read_learner(&TensorReader::open(&p).unwrap()).unwrap();
        saved.actor().forward(&obs, 1, &[0], &mut tape);
        let mu = tape.output(0);
        for d in 0..AD {
            assert_eq!(act[d], mu[d].tanh());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut s = [0.0f32; AD];
        pol.sample(&obs, &mut rng, &mut s);
        assert!(s != act.as_slice() && s.iter().all(|v| v.abs() <= 1.0));
    }
}
