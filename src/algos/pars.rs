//! PARS / TD3+BC agent: one gradient step as in SPEC §2.
//!
//! critic:  y = c_reward·r + γ(1−done)·(min_{i∈S} Q̄_i(s', ā') − β_c·Σ_d (ā'_d − a'_d)²),
//!          ā' = clip(π̄(s') + clip(σε, −c, c)), a' the data's next action (β_c: ReBRAC)
//!          L_Q = mean_i,b (Q_i(s,a) − y)² + α·mean_i,b (Q_i(s, a_inf) − Q_min)²
//! actor:   L_π = mean_b(−λ·q(s, π(s)) + β·Σ_d (π(s)_d − a_d)²),  λ = 1/mean|q|
use super::{Learner, UpdateStats};
use crate::config::{ActorValue, AgentConfig, Algorithm, TargetUpdate, TrainConfig};
use crate::data::Batch;
use crate::formats::record::{read_adam, same_shape, write_adam, AdamRecord};
use crate::formats::{bits32, TensorReader, TensorWriter, AGENT_FORMAT, FORMAT_VERSION};
use crate::nn::{polyak, Adam, EnsembleMlp, LrSchedule, MlpSpec, Tape};
use anyhow::{ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Map u ~ U(−1, 1) to an infeasible coordinate in [−2L, −L] ∪ [L, 2L].
#[inline]
pub fn infeasible_coordinate(u: f32, l: f32) -> f32 {
    if u < 0.0 {
        (u - 1.0) * l
    } else {
        (u + 1.0) * l
    }
}

/// The random draws of one update, kept when recording is on (`Agent::record_draws`;
/// for `pars debug trace`). Row-major like the batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draws {
    /// ε ~ N(0, 1) of the target policy noise, [B, act_dim], before σ and clipping.
    pub target_eps: Vec<f32>,
    /// Target members whose minimum formed the TD target (sorted).
    pub target_subset: Vec<usize>,
    /// u ~ U(−1, 1) mapped to the infeasible actions, [B, act_dim] (empty without PA).
    pub pa_u: Vec<f32>,
    /// Members drawn for the last actor update (empty when it drew none).
    pub actor_subset: Vec<usize>,
}

/// Preallocated buffers of the update step: nothing is allocated per step.
#[derive(Clone)]
struct Workspace {
    /// One row: the exploration action online.
    act_tape: Tape,
    actor_tape: Tape,
    actor_target_tape: Tape,
    critic_tape: Tape,
    critic_target_tape: Tape,
    critic_actor_tape: Tape,
    critic_in: Vec<f32>,
    next_in: Vec<f32>,
    next_act: Vec<f32>,
    target_eps: Vec<f32>,
    y: Vec<f32>,
    dout: Vec<f32>,
    critic_grads: Vec<f32>,
    actor_grads: Vec<f32>,
    dinput: Vec<f32>,
    dact: Vec<f32>,
    all_members: Vec<usize>,
    subset: Vec<usize>,
    /// Data rows of the last critic batch (for the dormant-neuron ratio).
    last_batch: usize,
}

#[derive(Clone)]
pub struct Agent {
    pub cfg: AgentConfig,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub actor: EnsembleMlp,
    pub actor_target: EnsembleMlp,
    pub critic: EnsembleMlp,
    pub critic_target: EnsembleMlp,
    pub actor_opt: Adam,
    pub critic_opt: Adam,
    pub q_min: f32,
    pub beta: f32,
    /// Gradient steps taken.
    pub steps: u64,
    pub rng: ChaCha8Rng,
    ws: Workspace,
    /// Where the draws go when recording (None: not recording, no cost but a branch).
    draws: Option<Box<Draws>>,
}

pub fn critic_spec(cfg: &AgentConfig, obs_dim: usize, act_dim: usize) -> MlpSpec {
    MlpSpec {
        input: obs_dim + act_dim,
        hidden: cfg.hidden,
        depth: cfg.critic_depth,
        output: 1,
        layer_norm: cfg.critic_layer_norm,
        activation: cfg.activation,
        tanh_output: false,
        gaussian_head: false,
        hidden_bias_init: cfg.hidden_bias_init,
        output_init_scale: cfg.output_init_scale,
    }
}

pub fn actor_spec(cfg: &AgentConfig, obs_dim: usize, act_dim: usize) -> MlpSpec {
    MlpSpec {
        input: obs_dim,
        hidden: cfg.hidden,
        depth: cfg.actor_depth,
        output: act_dim,
        layer_norm: false,
        activation: crate::nn::Activation::Relu,
        tanh_output: true,
        gaussian_head: false,
        hidden_bias_init: cfg.hidden_bias_init,
        output_init_scale: cfg.output_init_scale,
    }
}

impl Agent {
    /// `total_steps` sets the length of the actor's cosine schedule (if enabled).
    pub fn new(
        cfg: AgentConfig,
        obs_dim: usize,
        act_dim: usize,
        q_min: f32,
        total_steps: u64,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let actor =
            EnsembleMlp::new_with(actor_spec(&cfg, obs_dim, act_dim), 1, cfg.init, &mut rng);
        let critic = EnsembleMlp::new_with(
            critic_spec(&cfg, obs_dim, act_dim),
            cfg.n_critics,
            cfg.init,
            &mut rng,
        );
        let schedule = if cfg.actor_cosine {
            LrSchedule::Cosine {
                total_steps: total_steps.div_ceil(cfg.policy_delay as u64),
            }
        } else {
            LrSchedule::Constant
        };
        let actor_opt = Adam::new(actor.params.len(), cfg.actor_lr, schedule);
        let critic_opt = Adam::new(critic.params.len(), cfg.critic_lr, LrSchedule::Constant);
        let beta = cfg.resolve_beta(act_dim);
        let ws = Workspace::new(&cfg, &actor, &critic, obs_dim, act_dim);
        Self {
            actor_target: actor.clone(),
            critic_target: critic.clone(),
            actor,
            critic,
            actor_opt,
            critic_opt,
            q_min,
            beta,
            steps: 0,
            rng,
            ws,
            draws: None,
            cfg,
            obs_dim,
            act_dim,
        }
    }

    /// Rebuild the workspace (after loading networks from a checkpoint).
    pub fn reset_workspace(&mut self) {
        self.ws = Workspace::new(
            &self.cfg,
            &self.actor,
            &self.critic,
            self.obs_dim,
            self.act_dim,
        );
    }

    /// Record the random draws of each update (read them with `draws`); off by default.
    pub fn record_draws(&mut self, on: bool) {
        self.draws = on.then(|| {
            let (b, ad, n) = (self.cfg.batch_size, self.act_dim, self.cfg.n_critics);
            Box::new(Draws {
                target_eps: Vec::with_capacity(b * ad),
                target_subset: Vec::with_capacity(n),
                pa_u: Vec::with_capacity(b * ad),
                actor_subset: Vec::with_capacity(n),
            })
        });
    }

    /// The draws of the last critic update (and the last actor update), if recording.
    pub fn draws(&self) -> Option<&Draws> {
        self.draws.as_deref()
    }

    /// One offline gradient step on `batch` (critic every call, actor every `policy_delay`).
    pub fn update(&mut self, batch: &Batch) -> UpdateStats {
        let actor_step = (self.steps + 1).is_multiple_of(self.cfg.policy_delay as u64);
        // the actor step's π(s) is computed alongside the critic step (same numbers)
        let mut stats = self.critic_step(batch, actor_step);
        self.steps += 1;
        if actor_step {
            self.actor_step(batch, &mut stats, true);
        }
        if actor_step || self.cfg.target_update == TargetUpdate::EveryCritic {
            polyak(
                &mut self.critic_target.params,
                &self.critic.params,
                self.cfg.tau,
            );
            polyak(
                &mut self.actor_target.params,
                &self.actor.params,
                self.cfg.tau,
            );
        }
        stats
    }

    /// Critic step: TD loss plus (if PA) the infeasible-action penalty.
    pub fn update_critic(&mut self, batch: &Batch) -> UpdateStats {
        self.critic_step(batch, false)
    }

    /// Actor step (see `actor_grads`) followed by Adam.
    pub fn update_actor(&mut self, batch: &Batch, stats: &mut UpdateStats) {
        self.actor_step(batch, stats, false)
    }

    /// `critic_grads` then Adam.
    fn critic_step(&mut self, batch: &Batch, prefetch_actor: bool) -> UpdateStats {
        let stats = self.critic_grads(batch, prefetch_actor);
        self.critic_opt
            .update(&mut self.critic.params, &self.ws.critic_grads);
        stats
    }

    /// `actor_grads` then Adam.
    fn actor_step(&mut self, batch: &Batch, stats: &mut UpdateStats, forward_done: bool) {
        self.actor_grads(batch, stats, None, forward_done);
        self.actor_opt
            .update(&mut self.actor.params, &self.ws.actor_grads);
    }

    /// Gradient of the critic loss L_Q = TD + α·PA into the workspace; no parameter change.
    /// `prefetch_actor`: also run the actor's forward pass on `batch` for `actor_grads`.
    fn critic_grads(&mut self, batch: &Batch, prefetch_actor: bool) -> UpdateStats {
        let cfg = &self.cfg;
        let (b, od, ad) = (batch.size, self.obs_dim, self.act_dim);
        assert!(
            b <= cfg.batch_size,
            "batch larger than the configured batch_size"
        );
        let ind = od + ad;
        let n = cfg.n_critics;
        let ws = &mut self.ws;
        let mut rec = self.draws.as_deref_mut();
        if let Some(d) = rec.as_deref_mut() {
            d.target_eps.clear();
            d.pa_u.clear();
        }

        // Draws first, in a fixed order (ε, target subset, PA actions), so that the three
        // independent forward passes below can run at once with the same numbers.
        for e in &mut ws.target_eps[..b * ad] {
            *e = self.rng.sample(StandardNormal);
        }
        if let Some(d) = rec.as_deref_mut() {
            d.target_eps.extend_from_slice(&ws.target_eps[..b * ad]);
        }
        sample_subset(&mut self.rng, n, cfg.critic_subset, &mut ws.subset);
        if let Some(d) = rec.as_deref_mut() {
            d.target_subset.clear();
            d.target_subset.extend_from_slice(&ws.subset);
        }
        // rows 0..b: (s, a); rows b..2b: (s, a_inf) when PA is on
        concat_rows(
            &batch.obs[..b * od],
            &batch.actions[..b * ad],
            od,
            ad,
            &mut ws.critic_in[..b * ind],
        );
        let rows = if cfg.penalty {
            let l = cfg.infeasible_distance;
            for r in 0..b {
                let row = &mut ws.critic_in[(b + r) * ind..(b + r + 1) * ind];
                row[..od].copy_from_slice(&batch.obs[r * od..(r + 1) * od]);
                for a in &mut row[od..] {
                    let u = self.rng.gen_range(-1.0f32..1.0);
                    if let Some(d) = rec.as_deref_mut() {
                        d.pa_u.push(u);
                    }
                    *a = infeasible_coordinate(u, l);
                }
            }
            2 * b
        } else {
            b
        };

        let Workspace {
            actor_tape,
            actor_target_tape,
            critic_tape,
            critic_target_tape,
            critic_in,
            next_in,
            next_act,
            target_eps,
            subset,
            all_members,
            ..
        } = &mut *ws;
        let (actor, actor_target, critic, critic_target) = (
            &self.actor,
            &self.actor_target,
            &self.critic,
            &self.critic_target,
        );
        let target_path = || {
            // target action ā' = clip(π̄(s') + clip(σε, −c, c), −1, 1), then the targets' Q
            actor_target.forward(&batch.next_obs[..b * od], b, &[0], actor_target_tape);
            let pi_next = actor_target_tape.output(0);
            for ((o, p), e) in next_act[..b * ad].iter_mut().zip(pi_next).zip(&*target_eps) {
                let noise = (cfg.policy_noise * e).clamp(-cfg.noise_clip, cfg.noise_clip);
                *o = (p + noise).clamp(-1.0, 1.0);
            }
            concat_rows(
                &batch.next_obs[..b * od],
                &next_act[..b * ad],
                od,
                ad,
                &mut next_in[..b * ind],
            );
            critic_target.forward(&next_in[..b * ind], b, subset, critic_target_tape);
        };
        let online_path = || {
            critic.forward(&critic_in[..rows * ind], rows, all_members, critic_tape);
            // π(s) of the coming actor step depends on neither critic
            if prefetch_actor {
                actor.forward(&batch.obs[..b * od], b, &[0], actor_tape);
            }
        };
        rayon::join(target_path, online_path);

        // y = c·r + γ(1−d)·(min over a random subset of target members
        //     − β_critic·Σ_d (ā'_d − a'_d)²)   (ReBRAC's critic BC term, when on)
        let mut target_sum = 0.0f64;
        for r in 0..b {
            let mut q_next = ws
                .subset
                .iter()
                .map(|&m| ws.critic_target_tape.output(m)[r])
                .fold(f32::INFINITY, f32::min);
            if cfg.beta_critic > 0.0 {
                let bc: f32 = ws.next_act[r * ad..(r + 1) * ad]
                    .iter()
                    .zip(&batch.next_actions[r * ad..(r + 1) * ad])
                    .map(|(p, a)| (p - a) * (p - a))
                    .sum();
                q_next -= cfg.beta_critic * bc;
            }
            let y =
                cfg.reward_scale * batch.rewards[r] + cfg.gamma * (1.0 - batch.dones[r]) * q_next;
            ws.y[r] = y;
            target_sum += y as f64;
        }
        ws.last_batch = b;

        let scale = 2.0 / (n * b) as f32;
        let (mut td, mut pa, mut qd, mut qi) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for m in 0..n {
            let q = ws.critic_tape.output(m);
            let d = &mut ws.dout[m * rows..(m + 1) * rows];
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
        self.critic.backward(
            &mut ws.critic_tape,
            &ws.all_members,
            &ws.dout[..n * rows],
            Some(&mut ws.critic_grads),
            false,
        );

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

    /// Gradient of the actor loss into the workspace: maximise the critic's value (min
    /// over all N offline, mean over a random subset of `actor_subset` members online)
    /// with a BC term. `fixed_lambda` replaces λ = 1/mean|q| (for gradient checks).
    /// `forward_done`: the actor's forward pass on `batch` is already in the tape.
    fn actor_grads(
        &mut self,
        batch: &Batch,
        stats: &mut UpdateStats,
        fixed_lambda: Option<f32>,
        forward_done: bool,
    ) {
        let cfg = &self.cfg;
        let (b, od, ad) = (batch.size, self.obs_dim, self.act_dim);
        let ind = od + ad;
        let n = cfg.n_critics;
        let ws = &mut self.ws;

        if !forward_done {
            self.actor
                .forward(&batch.obs[..b * od], b, &[0], &mut ws.actor_tape);
        }
        let pi = ws.actor_tape.output(0);
        concat_rows(
            &batch.obs[..b * od],
            pi,
            od,
            ad,
            &mut ws.critic_in[..b * ind],
        );

        ws.subset.clear();
        match (cfg.actor_value, cfg.actor_subset) {
            // textbook TD3: Q_1 alone (the mean over the one-member subset {0})
            (ActorValue::FirstCritic, _) => ws.subset.push(0),
            (ActorValue::Ensemble, None) => ws.subset.extend(0..n),
            (ActorValue::Ensemble, Some(k)) => sample_subset(&mut self.rng, n, k, &mut ws.subset),
        }
        if let Some(d) = self.draws.as_deref_mut() {
            d.actor_subset.clear();
            if (cfg.actor_value, cfg.actor_subset.is_some()) == (ActorValue::Ensemble, true) {
                d.actor_subset.extend_from_slice(&ws.subset);
            }
        }
        let use_min = cfg.actor_value == ActorValue::Ensemble && cfg.actor_subset.is_none();
        self.critic.forward(
            &ws.critic_in[..b * ind],
            b,
            &ws.subset,
            &mut ws.critic_actor_tape,
        );

        // q per row and dq/dQ_m (min: the argmin member; mean: 1/|S| each)
        ws.dout[..n * b].fill(0.0);
        let mut abs_sum = 0.0f64;
        let mut q_sum = 0.0f64;
        for r in 0..b {
            let q = if use_min {
                let (mut best, mut arg) = (f32::INFINITY, 0);
                for &m in &ws.subset {
                    let v = ws.critic_actor_tape.output(m)[r];
                    if v < best {
                        best = v;
                        arg = m;
                    }
                }
                ws.dout[arg * b + r] = 1.0;
                best
            } else {
                let k = ws.subset.len() as f32;
                let mut s = 0.0;
                for &m in &ws.subset {
                    s += ws.critic_actor_tape.output(m)[r];
                    ws.dout[m * b + r] = 1.0 / k;
                }
                s / k
            };
            abs_sum += q.abs() as f64;
            q_sum += q as f64;
        }
        // β = 0 is pure Q maximisation: no normalisation needed
        let lambda = match fixed_lambda {
            Some(l) => l,
            None if self.beta > 0.0 => (b as f64 / abs_sum.max(1e-8)) as f32,
            None => 1.0,
        };
        let dq = -lambda / b as f32;
        for d in &mut ws.dout[..n * b] {
            *d *= dq;
        }
        self.critic.backward(
            &mut ws.critic_actor_tape,
            &ws.subset,
            &ws.dout[..n * b],
            None,
            true,
        );
        ws.critic_actor_tape
            .dinput_sum(&ws.subset, &mut ws.dinput[..b * ind]);

        let mut bc = 0.0f64;
        let two_beta = 2.0 * self.beta / b as f32;
        let pi = ws.actor_tape.output(0);
        for r in 0..b {
            for j in 0..ad {
                let diff = pi[r * ad + j] - batch.actions[r * ad + j];
                bc += (diff * diff) as f64;
                ws.dact[r * ad + j] = ws.dinput[r * ind + od + j] + two_beta * diff;
            }
        }
        self.actor.backward(
            &mut ws.actor_tape,
            &[0],
            &ws.dact[..b * ad],
            Some(&mut ws.actor_grads),
            false,
        );

        let bc = (bc / b as f64) as f32;
        stats.bc_loss = Some(bc);
        stats.lambda = Some(lambda);
        stats.actor_loss = Some(-lambda * (q_sum / b as f64) as f32 + self.beta * bc);
    }
}

impl Agent {
    /// Dormant-neuron ratio of the critic on the last batch's dataset rows: the
    /// fraction of hidden units (all members, all hidden layers) whose activation is
    /// ≤ 0 (threshold τ = 0) for every row of the batch.
    pub fn dormant_ratio(&self) -> Option<f64> {
        let b = self.ws.last_batch;
        (b > 0).then(|| {
            self.ws
                .critic_tape
                .dormant_ratio(self.cfg.critic_depth, self.cfg.hidden, b)
        })
    }
}

/// `k` distinct members of 0..n, uniformly, sorted, into `out` (partial Fisher–Yates;
/// `out`'s capacity is reused, so nothing is allocated per step).
pub(crate) fn sample_subset<R: Rng>(rng: &mut R, n: usize, k: usize, out: &mut Vec<usize>) {
    out.clear();
    out.extend(0..n);
    for i in 0..k {
        let j = rng.gen_range(i..n);
        out.swap(i, j);
    }
    out.truncate(k);
    out.sort_unstable();
}

/// out[r] = [a[r], b[r]] for row-major a [rows, da] and b [rows, db].
pub(crate) fn concat_rows(a: &[f32], b: &[f32], da: usize, db: usize, out: &mut [f32]) {
    for ((o, x), y) in out
        .chunks_exact_mut(da + db)
        .zip(a.chunks_exact(da))
        .zip(b.chunks_exact(db))
    {
        o[..da].copy_from_slice(x);
        o[da..].copy_from_slice(y);
    }
}

impl Workspace {
    fn new(
        cfg: &AgentConfig,
        actor: &EnsembleMlp,
        critic: &EnsembleMlp,
        od: usize,
        ad: usize,
    ) -> Self {
        let b = cfg.batch_size;
        let n = cfg.n_critics;
        let ind = od + ad;
        Self {
            act_tape: Tape::new(actor, 1),
            actor_tape: Tape::new(actor, b),
            actor_target_tape: Tape::new(actor, b),
            critic_tape: Tape::new(critic, 2 * b),
            critic_target_tape: Tape::new(critic, b),
            critic_actor_tape: Tape::new(critic, b),
            critic_in: vec![0.0; 2 * b * ind],
            next_in: vec![0.0; b * ind],
            next_act: vec![0.0; b * ad],
            target_eps: vec![0.0; b * ad],
            y: vec![0.0; b],
            dout: vec![0.0; n * 2 * b],
            critic_grads: vec![0.0; critic.params.len()],
            actor_grads: vec![0.0; actor.params.len()],
            dinput: vec![0.0; b * ind],
            dact: vec![0.0; b * ad],
            all_members: (0..n).collect(),
            subset: Vec::with_capacity(n),
            last_batch: 0,
        }
    }
}

/// The agent's scalar state, exactly (metadata `state` of an agent file).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct AgentMeta {
    /// The agent config as TOML (exact float round trip).
    cfg_toml: String,
    obs_dim: usize,
    act_dim: usize,
    #[serde(with = "bits32")]
    q_min: f32,
    #[serde(with = "bits32")]
    beta: f32,
    steps: u64,
    rng: ChaCha8Rng,
    actor_spec: MlpSpec,
    critic_spec: MlpSpec,
    critic_members: usize,
    actor_opt: AdamRecord,
    critic_opt: AdamRecord,
}

#[derive(Serialize, Deserialize)]
struct CfgWrap {
    agent: AgentConfig,
}

/// The agent file and update traces (see `crate::formats`).
impl Agent {
    /// A fresh agent for `cfg` (an offline run) on data whose smallest reward is `r_min`.
    pub fn from_config(cfg: &TrainConfig, obs_dim: usize, act_dim: usize, r_min: f32) -> Self {
        let q_min = cfg.agent.resolve_q_min(r_min);
        Self::new(
            cfg.agent.clone(),
            obs_dim,
            act_dim,
            q_min,
            cfg.steps,
            cfg.seed,
        )
    }

    /// Every state tensor under `prefix`: the networks `actor`, `actor_target`,
    /// `critic`, `critic_target` (names from `crate::formats::net_tensors`), the Adam
    /// moments `actor_adam.m.<actor tensor>`, `actor_adam.v.…`, `critic_adam.m.<critic
    /// tensor>`, `critic_adam.v.…`, and the step counts `actor_adam.step`,
    /// `critic_adam.step` (int64, shape []). Agent files and update traces share them.
    pub fn write_tensors(&self, w: &mut TensorWriter, prefix: &str) {
        w.net(prefix, "actor", &self.actor);
        w.net(prefix, "actor_target", &self.actor_target);
        w.net(prefix, "critic", &self.critic);
        w.net(prefix, "critic_target", &self.critic_target);
        write_adam(w, prefix, "actor", &self.actor, &self.actor_opt);
        write_adam(w, prefix, "critic", &self.critic, &self.critic_opt);
    }

    /// Read the tensors written by `write_tensors` under `prefix`; the agent's networks
    /// give the expected shapes.
    pub fn read_tensors(&mut self, r: &TensorReader, prefix: &str) -> Result<()> {
        let (aspec, cspec) = (self.actor.spec.clone(), self.critic.spec.clone());
        let n = self.critic.members;
        self.actor = r.net(prefix, "actor", &aspec, 1)?;
        self.actor_target = r.net(prefix, "actor_target", &aspec, 1)?;
        self.critic = r.net(prefix, "critic", &cspec, n)?;
        self.critic_target = r.net(prefix, "critic_target", &cspec, n)?;
        read_adam(r, prefix, "actor", &aspec, 1, &mut self.actor_opt)?;
        read_adam(r, prefix, "critic", &cspec, n, &mut self.critic_opt)?;
        Ok(())
    }

    /// The agent file's tensors and metadata. `config` is the run's resolved
    /// configuration as JSON text (metadata `config`); without it the agent's own
    /// config is stored there.
    pub fn to_file(&self, config: Option<&str>) -> Result<TensorWriter> {
        let meta = AgentMeta {
            cfg_toml: toml::to_string(&CfgWrap {
                agent: self.cfg.clone(),
            })?,
            obs_dim: self.obs_dim,
            act_dim: self.act_dim,
            q_min: self.q_min,
            beta: self.beta,
            steps: self.steps,
            rng: self.rng.clone(),
            actor_spec: self.actor.spec.clone(),
            critic_spec: self.critic.spec.clone(),
            critic_members: self.critic.members,
            actor_opt: AdamRecord::of(&self.actor_opt),
            critic_opt: AdamRecord::of(&self.critic_opt),
        };
        let mut w = TensorWriter::new();
        w.meta("format", AGENT_FORMAT);
        w.meta("version", FORMAT_VERSION.to_string());
        // `spec` is the actor's, so the file loads as a policy too
        w.meta("spec", serde_json::to_string(&self.actor.spec)?);
        w.meta("critic_spec", serde_json::to_string(&self.critic.spec)?);
        w.meta("critic_members", self.critic.members.to_string());
        let config = match config {
            Some(c) => c.to_string(),
            None => serde_json::to_string(&CfgWrap {
                agent: self.cfg.clone(),
            })?,
        };
        w.meta("config", config);
        w.meta("obs_dim", self.obs_dim.to_string());
        w.meta("act_dim", self.act_dim.to_string());
        // readable copies; `state` is the exact record that loading uses
        w.meta("q_min", self.q_min.to_string());
        w.meta("beta", self.beta.to_string());
        w.meta("steps", self.steps.to_string());
        w.meta("state", serde_json::to_string(&meta)?);
        self.write_tensors(&mut w, "");
        Ok(w)
    }

    /// Save the whole agent (e.g. at the end of offline training, for fine-tuning).
    pub fn save(&self, path: &std::path::Path, config: Option<&str>) -> Result<()> {
        self.to_file(config)?.write(path)
    }

    pub fn load(path: &std::path::Path) -> Result<Self> {
        Self::read(&TensorReader::open(path)?)
    }

    /// Rebuild an agent from an agent file read into `r`.
    pub fn read(r: &TensorReader) -> Result<Self> {
        let path = r.path().display().to_string();
        r.check_format(&[AGENT_FORMAT], "an agent checkpoint")?;
        ensure!(
            r.get_meta("algorithm") != Some(super::iql::FILE_ALGORITHM),
            "{path}: an IQL agent; this needs a PARS or TD3+BC agent (fine-tuning supports those only)"
        );
        let meta: AgentMeta = r.meta_json("state")?;
        let cfg = toml::from_str::<CfgWrap>(&meta.cfg_toml)
            .with_context(|| format!("{path}: malformed agent config"))?
            .agent;
        ensure!(
            meta.critic_members == cfg.n_critics,
            "{path}: {} critics saved but the config says {}",
            meta.critic_members,
            cfg.n_critics
        );
        let mut agent = Agent::new(cfg, meta.obs_dim, meta.act_dim, meta.q_min, 1, 0);
        ensure!(
            same_shape(&agent.actor.spec, &meta.actor_spec)
                && same_shape(&agent.critic.spec, &meta.critic_spec),
            "{path}: the saved network shapes do not match the saved config"
        );
        agent.actor_opt = meta.actor_opt.into_adam();
        agent.critic_opt = meta.critic_opt.into_adam();
        agent.read_tensors(r, "")?;
        agent.beta = meta.beta;
        agent.steps = meta.steps;
        agent.rng = meta.rng;
        agent.reset_workspace();
        Ok(agent)
    }

    /// The trace's `config`: every agent config field, with `beta` and `q_min`
    /// resolved, plus `actor_cosine_steps` (the cosine schedule's length in actor
    /// updates), `gelu_approximate` (our GELU is the tanh approximation, as JAX's
    /// default) and `step_offset` (updates the agent had taken before the trace).
    /// Floats are the exact f32 values, written as f64.
    pub fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(&self.cfg)?;
        let m = v
            .as_object_mut()
            .context("agent config is not a JSON object")?;
        let cosine_steps = match self.actor_opt.schedule {
            LrSchedule::Cosine { total_steps } => total_steps,
            LrSchedule::Constant => total_steps.div_ceil(self.cfg.policy_delay as u64),
        };
        m.insert("beta".into(), (self.beta as f64).into());
        super::trace_extras(m, self.q_min, cosine_steps, self.steps);
        Ok(v)
    }
}

impl Learner for Agent {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Pars
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
        Agent::update(self, batch)
    }

    fn can_learn_online(&self) -> bool {
        true
    }

    /// A critic step; with `TargetUpdate::EveryCritic` the target critics follow it.
    fn update_critic(&mut self, batch: &Batch) -> UpdateStats {
        let stats = Agent::update_critic(self, batch);
        self.steps += 1;
        if self.cfg.target_update == TargetUpdate::EveryCritic {
            polyak(
                &mut self.critic_target.params,
                &self.critic.params,
                self.cfg.tau,
            );
        }
        stats
    }

    /// An actor step, then the target actor (and, for textbook TD3's
    /// `TargetUpdate::WithActor`, the target critics, before it).
    fn update_actor(&mut self, batch: &Batch, stats: &mut UpdateStats) {
        Agent::update_actor(self, batch, stats);
        if self.cfg.target_update != TargetUpdate::EveryCritic {
            polyak(
                &mut self.critic_target.params,
                &self.critic.params,
                self.cfg.tau,
            );
        }
        polyak(
            &mut self.actor_target.params,
            &self.actor.params,
            self.cfg.tau,
        );
    }

    /// Network shapes must not change; the actor's cosine schedule (ended offline)
    /// gives way to a constant rate.
    fn go_online(&mut self, cfg: &AgentConfig) -> Result<()> {
        let old = &self.cfg;
        ensure!(
            (old.hidden, old.critic_depth, old.actor_depth, old.n_critics)
                == (cfg.hidden, cfg.critic_depth, cfg.actor_depth, cfg.n_critics)
                && (old.critic_layer_norm, old.activation)
                    == (cfg.critic_layer_norm, cfg.activation),
            "the online agent must keep the offline network shapes"
        );
        self.cfg = cfg.clone();
        self.beta = cfg.resolve_beta(self.act_dim);
        self.actor_opt.schedule = LrSchedule::Constant;
        self.actor_opt.lr = cfg.actor_lr;
        self.critic_opt.lr = cfg.critic_lr;
        self.reset_workspace();
        Ok(())
    }

    fn schedule_tied_to_length(&self) -> bool {
        matches!(self.actor_opt.schedule, LrSchedule::Cosine { .. })
    }

    fn actor(&self) -> &EnsembleMlp {
        &self.actor
    }

    /// π(s) + N(0, σ²), clipped to the box.
    fn explore(&mut self, obs: &[f32], noise: f32, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        self.actor.forward(obs, 1, &[0], &mut self.ws.act_tape);
        for (a, p) in out.iter_mut().zip(self.ws.act_tape.output(0)) {
            let eps: f32 = rng.sample(StandardNormal);
            *a = (p + noise * eps).clamp(-1.0, 1.0);
        }
    }

    fn dormant_ratio(&self) -> Option<f64> {
        Agent::dormant_ratio(self)
    }

    fn named_params(&self) -> Vec<(&'static str, &[f32])> {
        vec![
            ("critic", &self.critic.params),
            ("target critic", &self.critic_target.params),
            ("actor", &self.actor.params),
            ("target actor", &self.actor_target.params),
        ]
    }

    fn apply_resumable(&mut self, cfg: &TrainConfig) {
        self.cfg = cfg.agent.clone();
        self.beta = cfg.agent.resolve_beta(self.act_dim);
        self.actor_opt.lr = cfg.agent.actor_lr;
        self.critic_opt.lr = cfg.agent.critic_lr;
        self.reset_workspace();
    }

    fn to_file(&self, config: Option<&str>) -> Result<TensorWriter> {
        Agent::to_file(self, config)
    }
    fn write_tensors(&self, w: &mut TensorWriter, prefix: &str) {
        Agent::write_tensors(self, w, prefix)
    }

    fn record_draws(&mut self, on: bool) {
        Agent::record_draws(self, on)
    }
    fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value> {
        Agent::trace_config(self, total_steps)
    }

    /// `draw.{target_eps, target_subset, pa_u, actor_subset}` and
    /// `loss.{td, pa, q_data, target_mean, actor, bc, lambda}`.
    fn write_trace_step(&self, w: &mut TensorWriter, p: &str, stats: &UpdateStats) {
        let (b, ad) = (self.cfg.batch_size, self.act_dim);
        let idx = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        let d = self.draws().expect("draws are recorded");
        w.f32(format!("{p}draw.target_eps"), &[b, ad], &d.target_eps);
        let ts = idx(&d.target_subset);
        w.i64(format!("{p}draw.target_subset"), &[ts.len()], &ts);
        if self.cfg.penalty {
            w.f32(format!("{p}draw.pa_u"), &[b, ad], &d.pa_u);
        }
        if stats.actor_loss.is_some() && !d.actor_subset.is_empty() {
            let s = idx(&d.actor_subset);
            w.i64(format!("{p}draw.actor_subset"), &[s.len()], &s);
        }
        let mut loss = |n: &str, v: f32| w.f32(format!("{p}loss.{n}"), &[], &[v]);
        loss("td", stats.td_loss);
        loss("pa", stats.pa_loss);
        loss("q_data", stats.q_data);
        loss("target_mean", stats.target_mean);
        if let (Some(a), Some(bc), Some(l)) = (stats.actor_loss, stats.bc_loss, stats.lambda) {
            loss("actor", a);
            loss("bc", bc);
            loss("lambda", l);
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
    use crate::algos::AgentConfig;

    const OD: usize = 3;
    const AD: usize = 2;

    fn tiny_cfg() -> AgentConfig {
        AgentConfig {
            hidden: 8,
            critic_depth: 2,
            actor_depth: 2,
            n_critics: 3,
            critic_subset: 2,
            batch_size: 5,
            reward_scale: 3.0,
            alpha: 0.5,
            infeasible_distance: 2.0,
            beta: Some(0.3),
            output_init_scale: 0.5,
            ..AgentConfig::default()
        }
    }

    fn tiny_batch(seed: u64) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut b = Batch::new(5, OD, AD);
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

    /// Actor gradient for `cfg` with critic member 1 perturbed by `shift`.
    fn actor_grad_with_member1_shift(cfg: AgentConfig, shift: f32) -> Vec<f32> {
        let mut agent = Agent::new(cfg, OD, AD, -1.0, 100, 3);
        // member 1 scaled and lowered: with shift ≠ 0 it is the minimum on every row
        let len = agent.critic.params.len() / agent.cfg.n_critics;
        let member1 = &mut agent.critic.params[len..2 * len];
        for v in member1.iter_mut() {
            *v *= 1.0 + shift.abs();
        }
        member1[len - 1] -= 10.0 * shift.abs();
        let mut stats = UpdateStats::default();
        agent.actor_grads(&tiny_batch(1), &mut stats, Some(1.0), false);
        agent.ws.actor_grads.clone()
    }

    #[test]
    fn first_critic_actor_value_ignores_the_other_members() {
        let first = AgentConfig {
            actor_value: ActorValue::FirstCritic,
            ..tiny_cfg()
        };
        let g0 = actor_grad_with_member1_shift(first.clone(), 0.0);
        assert!(g0.iter().any(|g| *g != 0.0));
        assert_eq!(g0, actor_grad_with_member1_shift(first, 0.3));
        // the ensemble's min does see member 1
        assert_ne!(
            actor_grad_with_member1_shift(tiny_cfg(), 0.0),
            actor_grad_with_member1_shift(tiny_cfg(), 0.3)
        );
    }

    #[test]
    fn targets_move_with_the_actor_only_when_asked() {
        for (mode, moves_on_critic_only_steps) in [
            (TargetUpdate::EveryCritic, true),
            (TargetUpdate::WithActor, false),
        ] {
            let cfg = AgentConfig {
                target_update: mode,
                policy_delay: 2,
                ..tiny_cfg()
            };
            let mut agent = Agent::new(cfg, OD, AD, -1.0, 100, 3);
            let c0 = agent.critic_target.params.clone();
            agent.update(&tiny_batch(1)); // step 1: critic only
            assert_eq!(
                agent.critic_target.params != c0,
                moves_on_critic_only_steps,
                "{mode:?}"
            );
            let (c1, a1) = (
                agent.critic_target.params.clone(),
                agent.actor_target.params.clone(),
            );
            agent.update(&tiny_batch(2)); // step 2: critic and actor: both targets move
            assert_ne!(agent.critic_target.params, c1, "{mode:?}");
            assert_ne!(agent.actor_target.params, a1, "{mode:?}");
            // step 3: critic only; the actor now differs from its target
            let (c2, a2) = (
                agent.critic_target.params.clone(),
                agent.actor_target.params.clone(),
            );
            agent.update(&tiny_batch(3));
            assert_eq!(
                agent.critic_target.params != c2,
                moves_on_critic_only_steps,
                "{mode:?}"
            );
            assert_eq!(
                agent.actor_target.params != a2,
                moves_on_critic_only_steps,
                "{mode:?}"
            );
        }
    }

    #[test]
    fn pa_sampler_values_lie_only_in_the_infeasible_region() {
        let l = 100.0;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for i in 0..100_000 {
            let u = if i < 3 {
                [-1.0, 0.0, 0.999_999][i]
            } else {
                rng.gen_range(-1.0f32..1.0)
            };
            let a = infeasible_coordinate(u, l);
            assert!((l..=2.0 * l).contains(&a.abs()), "u={u} gave {a}");
        }
        // and the rows the critic actually sees
        let mut agent = Agent::new(tiny_cfg(), OD, AD, -1.0, 100, 3);
        agent.critic_grads(&tiny_batch(1), false);
        let (l, b, ind) = (agent.cfg.infeasible_distance, 5, OD + AD);
        let rows = &agent.ws.critic_in[b * ind..2 * b * ind];
        let mut signs = [0, 0];
        for row in rows.chunks_exact(ind) {
            for a in &row[OD..] {
                assert!((l..=2.0 * l).contains(&a.abs()));
                signs[(*a > 0.0) as usize] += 1;
            }
        }
        assert!(
            signs[0] > 0 && signs[1] > 0,
            "both sides of the box are sampled"
        );
    }

    /// Set a critic/actor ensemble to output the constant `k` (zero output weights).
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

    #[test]
    fn critic_losses_match_a_hand_computed_case() {
        let cfg = tiny_cfg();
        let q_min = -4.0;
        let mut agent = Agent::new(cfg.clone(), OD, AD, q_min, 100, 3);
        make_constant(&mut agent.critic_target, 2.0);
        make_constant(&mut agent.critic, 1.5);
        let batch = tiny_batch(2);
        let stats = agent.critic_grads(&batch, false);
        // y = c·r + γ(1−d)·2
        let y: Vec<f32> = (0..5)
            .map(|i| 3.0 * batch.rewards[i] + 0.99 * (1.0 - batch.dones[i]) * 2.0)
            .collect();
        let td = y.iter().map(|y| (1.5 - y) * (1.5 - y)).sum::<f32>() / 5.0;
        assert!((stats.target_mean - y.iter().sum::<f32>() / 5.0).abs() < 1e-5);
        assert!(
            (stats.td_loss - td).abs() < 1e-4,
            "{} vs {td}",
            stats.td_loss
        );
        assert!((stats.pa_loss - 5.5 * 5.5).abs() < 1e-4);
        assert!((stats.q_data - 1.5).abs() < 1e-6 && (stats.q_infeasible - 1.5).abs() < 1e-6);
    }

    #[test]
    fn actor_loss_matches_a_hand_computed_case() {
        let mut agent = Agent::new(tiny_cfg(), OD, AD, 0.0, 100, 3);
        make_constant(&mut agent.critic, -2.0);
        let batch = tiny_batch(4);
        let mut stats = UpdateStats::default();
        agent.actor_grads(&batch, &mut stats, None, false);
        let mut pol = crate::policy::Policy::new(agent.actor.clone());
        let mut bc = 0.0;
        for r in 0..5 {
            let a = pol.act(&batch.obs[r * OD..(r + 1) * OD]).to_vec();
            bc += (0..AD)
                .map(|j| (a[j] - batch.actions[r * AD + j]).powi(2))
                .sum::<f32>();
        }
        bc /= 5.0;
        // λ = 1/|−2| and the loss is −λ·(−2) + β·bc
        assert!((stats.lambda.unwrap() - 0.5).abs() < 1e-6);
        assert!((stats.bc_loss.unwrap() - bc).abs() < 1e-5);
        assert!((stats.actor_loss.unwrap() - (1.0 + 0.3 * bc)).abs() < 1e-5);
    }

    fn check_grads(
        analytic: &[f32],
        params: &mut dyn FnMut(usize, f32) -> f64,
        n: usize,
        what: &str,
    ) {
        let eps = 1e-3f32;
        let mut worst = 0.0f64;
        for i in 0..n {
            let fd = (params(i, eps) - params(i, -eps)) / (2.0 * eps as f64);
            let an = analytic[i] as f64;
            let err = (fd - an).abs() / (2e-3 + 2e-2 * fd.abs().max(an.abs()));
            worst = worst.max(err);
            assert!(
                err <= 1.0,
                "{what} param {i}: finite difference {fd} vs analytic {an}"
            );
        }
        assert!(worst.is_finite());
    }

    #[test]
    fn critic_gradient_matches_finite_differences_with_td_and_penalty() {
        // GELU: a smooth critic, so central differences never straddle a ReLU kink
        // (the ReLU backward itself is checked layer by layer in nn::mlp).
        // (ln, β_critic): the ReBRAC case has its BC term in the (constant) target
        for (ln, beta_critic) in [(true, 0.0), (false, 0.0), (true, 0.7)] {
            let cfg = AgentConfig {
                critic_layer_norm: ln,
                activation: crate::nn::Activation::Gelu,
                beta_critic,
                ..tiny_cfg()
            };
            let agent = Agent::new(cfg, OD, AD, -1.0, 100, 5);
            let batch = tiny_batch(6);
            let mut a0 = agent.clone();
            a0.critic_grads(&batch, false);
            let grads = a0.ws.critic_grads.clone();
            let n = agent.critic.params.len();
            let mut loss_at = |i: usize, d: f32| {
                let mut a = agent.clone(); // same RNG state: same noise, subset and a_inf
                a.critic.params[i] += d;
                let s = a.critic_grads(&batch, false);
                s.td_loss as f64 + a.cfg.alpha as f64 * s.pa_loss as f64
            };
            check_grads(&grads, &mut loss_at, n, "critic");
        }
    }

    #[test]
    fn rebrac_critic_bc_term_enters_the_target_by_hand() {
        // same draws with and without β_critic: the targets differ by
        // −γ·β_c·(1−d)·Σ_d (ā'_d − a'_d)², ā' from the target actor and the same ε
        let mut batch = tiny_batch(9);
        for (i, a) in batch.next_actions.iter_mut().enumerate() {
            *a = 0.1 * i as f32 - 0.4;
        }
        let mk = |beta_critic| {
            Agent::new(
                AgentConfig {
                    beta_critic,
                    ..tiny_cfg()
                },
                OD,
                AD,
                -1.0,
                100,
                11,
            )
        };
        let (mut off, mut on) = (mk(0.0), mk(0.5));
        off.critic_grads(&batch, false);
        on.critic_grads(&batch, false);
        let g = on.cfg.gamma;
        for r in 0..batch.size {
            let bc: f32 = (0..AD)
                .map(|d| {
                    let diff = on.ws.next_act[r * AD + d] - batch.next_actions[r * AD + d];
                    diff * diff
                })
                .sum();
            let expect = off.ws.y[r] - g * (1.0 - batch.dones[r]) * 0.5 * bc;
            assert!((on.ws.y[r] - expect).abs() < 1e-5, "row {r}");
            if batch.dones[r] == 0.0 {
                assert!(bc > 0.0 && on.ws.y[r] < off.ws.y[r]);
            }
        }
    }

    #[test]
    fn actor_gradient_matches_finite_differences_offline_and_online() {
        for actor_subset in [None, Some(2)] {
            let cfg = AgentConfig {
                actor_subset,
                ..tiny_cfg()
            };
            let agent = Agent::new(cfg, OD, AD, -1.0, 100, 7);
            let batch = tiny_batch(8);
            let lambda = 0.7;
            let mut a0 = agent.clone();
            let mut st = UpdateStats::default();
            a0.actor_grads(&batch, &mut st, Some(lambda), false);
            let grads = a0.ws.actor_grads.clone();
            let n = agent.actor.params.len();
            let mut loss_at = |i: usize, d: f32| {
                let mut a = agent.clone();
                a.actor.params[i] += d;
                let mut st = UpdateStats::default();
                a.actor_grads(&batch, &mut st, Some(lambda), false);
                st.actor_loss.unwrap() as f64
            };
            check_grads(&grads, &mut loss_at, n, "actor");
        }
    }

    #[test]
    fn results_are_bit_identical_across_thread_counts() {
        let batch = tiny_batch(10);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut a = Agent::new(tiny_cfg(), OD, AD, -1.0, 100, 12);
                for _ in 0..6 {
                    a.update(&batch);
                }
                (a.critic.params, a.actor.params)
            })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn subsets_are_distinct_sorted_and_cover_every_member() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::with_capacity(10);
        let mut counts = [0usize; 10];
        for _ in 0..5000 {
            sample_subset(&mut rng, 10, 2, &mut out);
            assert_eq!(out.len(), 2);
            assert!(out[0] < out[1]);
            out.iter().for_each(|&m| counts[m] += 1);
        }
        // each member is picked with probability 1/5: 1000 ± a few std
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn same_seed_gives_identical_updates() {
        let batch = tiny_batch(9);
        let run = || {
            let mut a = Agent::new(tiny_cfg(), OD, AD, -1.0, 100, 11);
            (0..10)
                .map(|_| a.update(&batch).td_loss)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}

/// Agent files (moved with the agent's own reader and writer).
#[cfg(test)]
pub(crate) mod file_tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    pub(crate) fn tiny_agent() -> Agent {
        let cfg = AgentConfig {
            hidden: 8,
            n_critics: 3,
            batch_size: 4,
            alpha: 0.123_456_78,
            ..AgentConfig::default()
        };
        let mut a = Agent::new(cfg, 3, 2, -1.234_567, 100, 1);
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
        a
    }

    #[test]
    fn agent_round_trips_bit_for_bit_and_continues_identically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let mut a = tiny_agent();
        a.actor_opt.schedule = LrSchedule::Cosine { total_steps: 7 };
        a.save(&p, None).unwrap();
        let b = Agent::load(&p).unwrap();
        assert_eq!(a.cfg, b.cfg);
        for (x, y) in [
            (&a.actor.params, &b.actor.params),
            (&a.actor_target.params, &b.actor_target.params),
            (&a.critic.params, &b.critic.params),
            (&a.critic_target.params, &b.critic_target.params),
            (&a.actor_opt.m, &b.actor_opt.m),
            (&a.actor_opt.v, &b.actor_opt.v),
            (&a.critic_opt.m, &b.critic_opt.m),
            (&a.critic_opt.v, &b.critic_opt.v),
        ] {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(x), bits(y));
        }
        assert_eq!(
            (a.actor_opt.step, a.critic_opt.step, a.actor_opt.schedule),
            (b.actor_opt.step, b.critic_opt.step, b.actor_opt.schedule)
        );
        assert_eq!(
            (a.q_min.to_bits(), a.beta.to_bits(), a.steps),
            (b.q_min.to_bits(), b.beta.to_bits(), b.steps)
        );
        // the same file again: identical bytes
        let p2 = dir.path().join("again.safetensors");
        b.save(&p2, None).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&p2).unwrap());
        let batch = Batch::new(4, 3, 2);
        let (mut a, mut b) = (a, b);
        for _ in 0..3 {
            assert_eq!(a.update(&batch).td_loss, b.update(&batch).td_loss);
        }
        assert_eq!(a.critic.params, b.critic.params);
        assert_eq!(a.actor.params, b.actor.params);
    }

    #[test]
    fn agent_file_is_named_like_a_policy_and_loads_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let a = tiny_agent();
        a.save(&p, Some("{\"algo\":\"x\"}")).unwrap();
        let r = TensorReader::open(&p).unwrap();
        assert_eq!(r.get_meta("format"), Some("pars-agent"));
        assert_eq!(r.get_meta("config"), Some("{\"algo\":\"x\"}"));
        for n in [
            "actor.0.layer0.weight",
            "actor_target.0.layer2.bias",
            "critic.2.layer1.ln_scale",
            "critic_target.0.layer1.ln_bias",
            "actor_adam.m.actor.0.layer1.weight",
            "actor_adam.v.actor.0.layer2.bias",
            "critic_adam.m.critic.1.layer0.weight",
            "critic_adam.v.critic.2.layer2.weight",
        ] {
            assert!(r.contains(n), "{n}");
        }
        assert_eq!(r.shape("critic.1.layer0.weight"), Some(&[5usize, 8][..]));
        assert_eq!(r.i64("critic_adam.step", &[]).unwrap(), vec![5]);
        let pol = crate::policy::Policy::load(&p).unwrap();
        assert_eq!(pol.net.params, a.actor.params);
        // a policy file is not an agent
        let pp = dir.path().join("policy.safetensors");
        crate::policy::save_policy(&pp, &a.actor, None, &[]).unwrap();
        let e = format!("{:#}", Agent::load(&pp).err().unwrap());
        assert!(
            e.contains("policy.safetensors: format is 'pars-policy', expected an agent checkpoint"),
            "{e}"
        );
    }

    #[test]
    fn bad_agent_files_name_the_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let a = tiny_agent();
        // drop one Adam tensor
        let w = a.to_file(None).unwrap();
        let bytes = w.to_bytes().unwrap();
        let r = TensorReader::from_bytes(&p, bytes).unwrap();
        let mut w2 = TensorWriter::new();
        for (k, v) in r.metadata() {
            w2.meta(k, v.clone());
        }
        for n in r.names() {
            let shape = r.shape(&n).unwrap().to_vec();
            if n.ends_with("_adam.step") {
                w2.i64(n.clone(), &shape, &r.i64(&n, &shape).unwrap());
            } else if n != "critic_adam.v.critic.1.layer1.bias" {
                let mut v = r.f32(&n, &shape).unwrap();
                if n == "critic_target.2.layer0.weight" {
                    v[0] = f32::NAN;
                }
                w2.f32(n.clone(), &shape, &v);
            }
        }
        w2.write(&p).unwrap();
        let e = format!("{:#}", Agent::load(&p).err().unwrap());
        assert!(
            e.contains("agent.safetensors: tensor 'critic_target.2.layer0.weight' contains NaN"),
            "{e}"
        );
        w2 = TensorWriter::new();
        for (k, v) in r.metadata() {
            w2.meta(k, v.clone());
        }
        for n in r.names() {
            let shape = r.shape(&n).unwrap().to_vec();
            if n.ends_with("_adam.step") {
                w2.i64(n.clone(), &shape, &r.i64(&n, &shape).unwrap());
            } else if n != "critic_adam.v.critic.1.layer1.bias" {
                w2.f32(n.clone(), &shape, &r.f32(&n, &shape).unwrap());
            }
        }
        w2.write(&p).unwrap();
        let e = format!("{:#}", Agent::load(&p).err().unwrap());
        assert!(
            e.contains("missing tensor 'critic_adam.v.critic.1.layer1.bias'"),
            "{e}"
        );
        std::fs::write(&p, b"hello world, not an agent").unwrap();
        let e = format!("{:#}", Agent::load(&p).err().unwrap());
        assert!(
            e.contains("agent.safetensors is not a safetensors file"),
            "{e}"
        );
    }
}
