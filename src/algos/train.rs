//! The offline training loop: sample → update → log → evaluate → checkpoint.
use super::checkpoint::{self, Section, StateFile};
use super::config::{Algorithm, TrainConfig};
use super::iql::{IqlAgent, IqlStats};
use super::pars::{Agent, UpdateStats};
use crate::data::{Batch, Transitions};
use crate::envs::Env;
use crate::eval::{evaluate, EvalResult};
use crate::nn::EnsembleMlp;
use crate::policy::TensorReader;
use crate::policy::TensorWriter;
use crate::policy::{save_policy, Policy, POLICY_FILE};
use crate::run::metrics::write_lines;
use crate::run::{parse_metrics_line, progress_bar, LiveRunDir, MetricsRow, METRICS_HEADER};
use anyhow::{bail, ensure, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Evaluation episodes use these seeds (offset by the episode index), so every
/// evaluation of a run sees the same start states.
pub const EVAL_SEED: u64 = 1_000_003;

pub struct TrainResult {
    pub agent: Learner,
    pub metrics: Vec<MetricsRow>,
    pub final_eval: Option<EvalResult>,
    /// Wall-clock gradient steps per second (not written to the metrics file).
    pub steps_per_s: f64,
}

pub fn eval_agent(agent: &Agent, env: &mut dyn Env, episodes: usize) -> Result<EvalResult> {
    eval_actor(&agent.actor, env, episodes)
}

/// Evaluate a deterministic actor (PARS's actor, IQL's mean network).
pub fn eval_actor(actor: &EnsembleMlp, env: &mut dyn Env, episodes: usize) -> Result<EvalResult> {
    let mut policy = Policy::new(actor.clone());
    evaluate(env, |o| policy.act(o).to_vec(), episodes, EVAL_SEED)
}

/// The learner of an offline run (`TrainConfig::algorithm`).
#[derive(Clone)]
pub enum Learner {
    Pars(Box<Agent>),
    Iql(Box<IqlAgent>),
}

/// The statistics of one offline step.
pub struct StepStats {
    pub base: UpdateStats,
    /// IQL's value and advantage statistics.
    pub iql: Option<IqlStats>,
}

impl Learner {
    /// A fresh learner for `cfg` on data whose smallest reward is `r_min`.
    pub fn new(cfg: &TrainConfig, obs_dim: usize, act_dim: usize, r_min: f32) -> Self {
        match cfg.algorithm {
            Algorithm::Pars => Learner::Pars(Box::new(Agent::new(
                cfg.agent.clone(),
                obs_dim,
                act_dim,
                cfg.agent.resolve_q_min(r_min),
                cfg.steps,
                cfg.seed,
            ))),
            Algorithm::Iql => {
                let iql = cfg.iql_settings();
                let q_min = iql.resolve_q_min(&cfg.agent, r_min);
                Learner::Iql(Box::new(IqlAgent::new(
                    cfg.agent.clone(),
                    iql,
                    obs_dim,
                    act_dim,
                    q_min,
                    cfg.steps,
                    cfg.seed,
                )))
            }
        }
    }

    /// One gradient step.
    pub fn update(&mut self, batch: &Batch) -> StepStats {
        match self {
            Learner::Pars(a) => StepStats {
                base: a.update(batch),
                iql: None,
            },
            Learner::Iql(a) => {
                let (base, iql) = a.update(batch);
                StepStats {
                    base,
                    iql: Some(iql),
                }
            }
        }
    }

    /// The deterministic actor that is evaluated and saved as the policy.
    pub fn actor(&self) -> &EnsembleMlp {
        match self {
            Learner::Pars(a) => &a.actor,
            Learner::Iql(a) => &a.actor,
        }
    }

    pub fn q_min(&self) -> f32 {
        match self {
            Learner::Pars(a) => a.q_min,
            Learner::Iql(a) => a.q_min,
        }
    }

    pub fn dormant_ratio(&self) -> Option<f64> {
        match self {
            Learner::Pars(a) => a.dormant_ratio(),
            Learner::Iql(a) => a.dormant_ratio(),
        }
    }

    /// The PARS / TD3+BC agent, if this is one.
    pub fn as_pars(&self) -> Option<&Agent> {
        match self {
            Learner::Pars(a) => Some(a),
            Learner::Iql(_) => None,
        }
    }

    /// The whole learner as an agent file (`checkpoint::agent_writer` /
    /// `iql_agent_writer`).
    pub fn writer(&self, config: Option<&str>) -> Result<TensorWriter> {
        match self {
            Learner::Pars(a) => checkpoint::agent_writer(a, config),
            Learner::Iql(a) => checkpoint::iql_agent_writer(a, config),
        }
    }

    /// Read an agent file of `cfg.algorithm` and apply the settings a resumed run may
    /// change (`RESUMABLE_KEYS`).
    fn read(r: &TensorReader, cfg: &TrainConfig) -> Result<Self> {
        Ok(match cfg.algorithm {
            Algorithm::Pars => {
                let mut agent = checkpoint::read_agent(r)?;
                agent.cfg = cfg.agent.clone();
                agent.beta = cfg.agent.resolve_beta(agent.act_dim);
                agent.actor_opt.lr = cfg.agent.actor_lr;
                agent.critic_opt.lr = cfg.agent.critic_lr;
                agent.reset_workspace();
                Learner::Pars(Box::new(agent))
            }
            Algorithm::Iql => {
                let mut agent = checkpoint::read_iql_agent(r)?;
                agent.cfg = cfg.agent.clone();
                agent.iql = cfg.iql_settings();
                agent.actor_opt.lr = cfg.agent.actor_lr;
                agent.log_std_opt.lr = cfg.agent.actor_lr;
                agent.critic_opt.lr = cfg.agent.critic_lr;
                agent.value_opt.lr = agent.iql.value_lr;
                agent.reset_workspace();
                Learner::Iql(Box::new(agent))
            }
        })
    }

    /// Every parameter vector with its name (for divergence checks).
    fn named_params(&self) -> Vec<(&'static str, &[f32])> {
        match self {
            Learner::Pars(a) => vec![
                ("critic", &a.critic.params),
                ("target critic", &a.critic_target.params),
                ("actor", &a.actor.params),
                ("target actor", &a.actor_target.params),
            ],
            Learner::Iql(a) => a.named_params().to_vec(),
        }
    }
}

/// Sums of update statistics over a logging interval (offline and online alike;
/// serialised bit-exactly into online checkpoints).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct StatsAccum {
    pub n: u64,
    #[serde(with = "super::checkpoint::bits")]
    td: f64,
    #[serde(with = "super::checkpoint::bits")]
    pa: f64,
    #[serde(with = "super::checkpoint::bits")]
    qd: f64,
    #[serde(with = "super::checkpoint::bits")]
    qi: f64,
    na: u64,
    #[serde(with = "super::checkpoint::bits")]
    actor: f64,
    #[serde(with = "super::checkpoint::bits")]
    bc: f64,
    #[serde(with = "super::checkpoint::bits")]
    lambda: f64,
    /// Actor updates that reported a BC loss and λ (PARS's; IQL's report neither).
    #[serde(default)]
    nbc: u64,
    /// IQL: steps, V loss, advantage mean and std.
    #[serde(default)]
    nv: u64,
    #[serde(default, with = "super::checkpoint::bits")]
    v: f64,
    #[serde(default, with = "super::checkpoint::bits")]
    adv_mean: f64,
    #[serde(default, with = "super::checkpoint::bits")]
    adv_std: f64,
}

impl StatsAccum {
    /// A whole offline step: its critic and (if any) actor statistics.
    pub fn add(&mut self, s: &UpdateStats) {
        self.add_critic(s);
        self.add_actor(s);
    }

    pub fn add_critic(&mut self, s: &UpdateStats) {
        self.n += 1;
        self.td += s.td_loss as f64;
        self.pa += s.pa_loss as f64;
        self.qd += s.q_data as f64;
        self.qi += s.q_infeasible as f64;
    }
    pub fn add_actor(&mut self, s: &UpdateStats) {
        if let Some(a) = s.actor_loss {
            self.na += 1;
            self.actor += a as f64;
            if let (Some(b), Some(l)) = (s.bc_loss, s.lambda) {
                self.nbc += 1;
                self.bc += b as f64;
                self.lambda += l as f64;
            }
        }
    }
    pub fn add_iql(&mut self, s: &IqlStats) {
        self.nv += 1;
        self.v += s.v_loss as f64;
        self.adv_mean += s.adv_mean as f64;
        self.adv_std += s.adv_std as f64;
    }
    pub fn row(&self, step: u64) -> MetricsRow {
        // NaN where the interval had no updates (before learning starts)
        let mean = |v: f64, n: u64| if n > 0 { v / n as f64 } else { f64::NAN };
        let some = |v: f64, n: u64| (n > 0).then(|| v / n as f64);
        MetricsRow {
            step,
            td_loss: mean(self.td, self.n),
            pa_loss: mean(self.pa, self.n),
            q_data: mean(self.qd, self.n),
            q_infeasible: mean(self.qi, self.n),
            actor_loss: some(self.actor, self.na),
            bc_loss: some(self.bc, self.nbc),
            lambda: some(self.lambda, self.nbc),
            v_loss: some(self.v, self.nv),
            adv_mean: some(self.adv_mean, self.nv),
            adv_std: some(self.adv_std, self.nv),
            ..Default::default()
        }
    }
}

/// Name of the resumable offline state inside `<run>/checkpoints/`.
pub const TRAIN_STATE_FILE: &str = "train_state.bin";

/// Settings that `pars train --resume DIR --set ...` may change: they do not change
/// the networks, the data or what a step computes on them, only how long the run goes,
/// what it logs, and the weights, rates and noise of the losses.
pub const RESUMABLE_KEYS: [&str; 17] = [
    "steps",
    "eval_every",
    "eval_episodes",
    "log_every",
    "checkpoint_every",
    "checkpoint_minutes",
    "agent.alpha",
    "agent.beta",
    "agent.actor_lr",
    "agent.critic_lr",
    "agent.tau",
    "agent.policy_noise",
    "agent.penalty",
    "iql.temperature",
    "iql.expectile",
    "iql.max_weight",
    "iql.value_lr",
];

/// Everything of the offline loop besides the agent that a checkpoint must hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LoopState {
    step: u64,
    sample_rng: ChaCha8Rng,
    acc: StatsAccum,
    metrics_lines: Vec<String>,
    final_eval: Option<EvalResult>,
    /// `Transitions::fingerprint` of the dataset the run trains on.
    data_hash: u64,
}

/// How a call to `OfflineRun::run` ended.
pub enum Outcome {
    Finished(TrainResult),
    /// A signal asked to stop; a checkpoint was written at this step.
    Interrupted(u64),
}

/// An offline run in progress: the learner and the loop state, resumable from a
/// checkpoint.
pub struct OfflineRun<'d> {
    pub cfg: TrainConfig,
    data: &'d Transitions,
    pub agent: Learner,
    st: LoopState,
}

impl<'d> OfflineRun<'d> {
    pub fn new(cfg: &TrainConfig, data: &'d Transitions) -> Result<Self> {
        cfg.validate()?;
        ensure!(!data.is_empty(), "the dataset has no transitions");
        let agent = Learner::new(cfg, data.obs_dim, data.act_dim, data.reward_min());
        let q_min = agent.q_min();
        tracing::info!(
            "{}: {} transitions (obs {}, act {}), {} steps, Q_min {q_min}, seed {}",
            cfg.algo,
            data.len(),
            data.obs_dim,
            data.act_dim,
            cfg.steps,
            cfg.seed
        );
        Ok(Self {
            cfg: cfg.clone(),
            data,
            agent,
            st: LoopState {
                step: 0,
                sample_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5EED_DA7A),
                acc: StatsAccum::default(),
                metrics_lines: Vec::new(),
                final_eval: None,
                data_hash: data.fingerprint(),
            },
        })
    }

    /// Gradient steps done.
    pub fn step(&self) -> u64 {
        self.st.step
    }

    /// Write the whole state (atomically: a kill during the write keeps the previous
    /// checkpoint). Refuses to store non-finite parameters.
    pub fn save(&self, path: &Path) -> Result<()> {
        check_finite_params(&self.agent, self.st.step)?;
        test_hooks::maybe_abort("checkpoint", Some(path));
        let header = serde_json::json!({
            "kind": "offline",
            "config": toml::to_string(&self.cfg)?,
            "loop": serde_json::to_value(&self.st)?,
        });
        let agent = self.agent.writer(None)?.to_bytes()?;
        checkpoint::write_state(path, header, &[Section::Bytes("agent", &agent)])
    }

    /// Continue from a checkpoint written by `save`. `cfg` may differ from the saved
    /// config only in `RESUMABLE_KEYS`; the data must be the same.
    pub fn load(path: &Path, cfg: &TrainConfig, data: &'d Transitions) -> Result<Self> {
        let mut f = StateFile::open(path)?;
        ensure!(
            f.header["kind"] == "offline",
            "{} is not an offline-run checkpoint",
            path.display()
        );
        let saved: TrainConfig = toml::from_str(f.header["config"].as_str().unwrap_or(""))
            .with_context(|| format!("{}: malformed config", path.display()))?;
        check_resumable_change(&saved, cfg)?;
        let st: LoopState = serde_json::from_value(f.header["loop"].clone())
            .with_context(|| format!("{}: malformed loop state", path.display()))?;
        ensure!(
            st.data_hash == data.fingerprint(),
            "the dataset differs from the one the run was trained on (its contents changed)"
        );
        ensure!(
            st.step <= cfg.steps,
            "the run is at step {} already; --steps must be at least that",
            st.step
        );
        let bytes = f.read_bytes("agent")?;
        let agent = Learner::read(&TensorReader::from_bytes(path, bytes)?, cfg)?;
        Ok(Self {
            cfg: cfg.clone(),
            data,
            agent,
            st,
        })
    }

    /// Train up to `cfg.steps`. Evaluates in `env` (if given) every `eval_every` steps
    /// and at the end; with `dir`, writes metrics, checkpoints (every
    /// `checkpoint_every` steps or `checkpoint_minutes`, whichever comes first),
    /// policy and plots there and keeps its status file current. A SIGINT/SIGTERM (see
    /// `run::signals`) ends the current step, writes a checkpoint and returns
    /// `Interrupted`.
    pub fn run<'e>(
        &mut self,
        mut env: Option<&mut (dyn Env + 'e)>,
        mut dir: Option<&mut LiveRunDir>,
        show_progress: bool,
    ) -> Result<Outcome> {
        let cfg = self.cfg.clone();
        let data = self.data;
        let mut batch = Batch::new(cfg.agent.batch_size, data.obs_dim, data.act_dim);
        let pb = progress_bar(cfg.steps, &cfg.algo, show_progress);
        pb.set_position(self.st.step);
        let start = Instant::now();
        let start_step = self.st.step;
        // wall time spent evaluating, excluded from steps/s
        let mut eval_secs = 0.0;
        let path = dir.as_ref().map(|d| d.path().to_path_buf());
        let state_path = path
            .as_ref()
            .map(|p| p.join("checkpoints").join(TRAIN_STATE_FILE));
        // metrics.csv grows row by row so long runs can be watched; a resumed run
        // rewrites it to the checkpoint's rows first
        let mut metrics_file = match &path {
            Some(p) => Some(write_lines(
                &p.join("metrics.csv"),
                METRICS_HEADER,
                &self.st.metrics_lines,
            )?),
            None => None,
        };
        // the resolved config, stored in every policy and agent file
        let config_json = serde_json::to_string(&cfg)?;
        let mut last_checkpoint = Instant::now();
        while self.st.step < cfg.steps {
            let step = self.st.step + 1;
            data.sample_into(&mut self.st.sample_rng, &mut batch);
            let stats = self.agent.update(&batch);
            check_finite_stats(&stats, step)?;
            self.st.step = step;
            self.st.acc.add(&stats.base);
            if let Some(s) = &stats.iql {
                self.st.acc.add_iql(s);
            }
            let eval_now =
                step == cfg.steps || (cfg.eval_every > 0 && step.is_multiple_of(cfg.eval_every));
            if step.is_multiple_of(cfg.log_every) || eval_now {
                check_finite_params(&self.agent, step)?;
                let mut row = self.st.acc.row(step);
                row.dormant_ratio = self.agent.dormant_ratio();
                self.st.acc = StatsAccum::default();
                if eval_now {
                    let eval_start = Instant::now();
                    if let Some(env) = env.as_deref_mut() {
                        let ev = eval_actor(self.agent.actor(), env, cfg.eval_episodes)?;
                        test_hooks::maybe_abort("eval", None);
                        row.set_eval(&ev);
                        pb.set_message(format!("score {:.1}", ev.mean_score));
                        self.st.final_eval = Some(ev);
                    }
                    if let Some(p) = &path {
                        let info = [("step", step.to_string()), ("algo", cfg.algo.clone())];
                        save_policy(
                            &p.join(format!("checkpoints/actor_{step}.safetensors")),
                            self.agent.actor(),
                            Some(config_json.as_str()),
                            &info,
                        )?;
                    }
                    eval_secs += eval_start.elapsed().as_secs_f64();
                }
                let line = row.csv_line();
                if let Some(f) = metrics_file.as_mut() {
                    writeln!(f, "{line}")?;
                }
                self.st.metrics_lines.push(line);
            }
            pb.inc(1);
            let stop = crate::run::signals::stop_requested();
            if let (Some(d), Some(sp)) = (dir.as_deref_mut(), &state_path) {
                let due = (cfg.checkpoint_every > 0 && step.is_multiple_of(cfg.checkpoint_every))
                    || (cfg.checkpoint_minutes > 0.0
                        && last_checkpoint.elapsed().as_secs_f64()
                            >= 60.0 * cfg.checkpoint_minutes as f64);
                if (due || stop) && step < cfg.steps {
                    let t0 = Instant::now();
                    self.save(sp)?;
                    tracing::info!(
                        "checkpoint at step {step}: {:.1} MiB in {:.0} ms",
                        std::fs::metadata(sp).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0,
                        1e3 * t0.elapsed().as_secs_f64()
                    );
                    last_checkpoint = Instant::now();
                    d.progress(step, Some(step))?;
                } else if step.is_multiple_of(cfg.log_every) {
                    d.progress(step, None)?;
                }
            }
            if stop && step < cfg.steps {
                pb.abandon();
                return Ok(Outcome::Interrupted(step));
            }
        }
        pb.finish_and_clear();
        let elapsed = start.elapsed().as_secs_f64() - eval_secs;
        let metrics = self
            .st
            .metrics_lines
            .iter()
            .map(|l| parse_metrics_line(l))
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = &path {
            let info = [
                ("steps", cfg.steps.to_string()),
                ("algo", cfg.algo.clone()),
                ("q_min", self.agent.q_min().to_string()),
            ];
            save_policy(
                &p.join(POLICY_FILE),
                self.agent.actor(),
                Some(config_json.as_str()),
                &info,
            )?;
            // whole agent (critics, targets, Adam moments, RNG) so `pars finetune`
            // continues exactly
            self.agent
                .writer(Some(config_json.as_str()))?
                .write(&p.join("checkpoints").join(checkpoint::AGENT_FILE))?;
            if let Err(e) = crate::run::plot_learning_curves(
                &p.join("learning_curves.png"),
                &metrics,
                "gradient steps",
            ) {
                tracing::warn!("could not draw the learning-curve plot: {e}");
            }
        }
        Ok(Outcome::Finished(TrainResult {
            agent: self.agent.clone(),
            metrics,
            final_eval: self.st.final_eval.clone(),
            steps_per_s: (self.st.step - start_step) as f64 / elapsed.max(1e-9),
        }))
    }
}

/// A non-finite loss or Q value stops the run, naming the step and the quantity.
fn check_finite_stats(stats: &StepStats, step: u64) -> Result<()> {
    let s = &stats.base;
    let (v_loss, adv_mean) = stats
        .iql
        .as_ref()
        .map_or((None, None), |i| (Some(i.v_loss), Some(i.adv_mean)));
    // a fixed table, so the per-step check allocates nothing; `None` = not measured
    let named = [
        ("TD loss", Some(s.td_loss)),
        ("PA loss", Some(s.pa_loss)),
        ("mean Q on dataset actions", Some(s.q_data)),
        ("TD target", Some(s.target_mean)),
        // NaN by definition without PA
        (
            "mean Q on infeasible actions",
            (s.pa_loss != 0.0 || s.q_infeasible.is_finite()).then_some(s.q_infeasible),
        ),
        ("actor loss", s.actor_loss),
        ("λ", s.lambda),
        ("V loss", v_loss),
        ("mean advantage", adv_mean),
    ];
    for (name, v) in named {
        if let Some(v) = v.filter(|v| !v.is_finite()) {
            bail!("training diverged at step {step}: {name} is {v}");
        }
    }
    Ok(())
}

/// A non-finite parameter anywhere stops the run (checked at logging and checkpoint
/// times: a full scan every step would cost more than it saves).
fn check_finite_params(agent: &Learner, step: u64) -> Result<()> {
    for (name, p) in agent.named_params() {
        if let Some(i) = p.iter().position(|v| !v.is_finite()) {
            bail!(
                "training diverged at step {step}: {name} parameter {i} is {}",
                p[i]
            );
        }
    }
    Ok(())
}

/// `new` may differ from `saved` only in `RESUMABLE_KEYS`.
pub fn check_resumable_change(saved: &TrainConfig, new: &TrainConfig) -> Result<()> {
    let (a, b) = (toml::Value::try_from(saved)?, toml::Value::try_from(new)?);
    let mut changed = Vec::new();
    diff_keys(&a, &b, "", &mut changed);
    let refused: Vec<&str> = changed
        .iter()
        .map(|s| s.as_str())
        .filter(|k| !RESUMABLE_KEYS.contains(k))
        .collect();
    ensure!(
        refused.is_empty(),
        "cannot change {} when resuming (only {} may change); start a new run instead",
        refused.join(", "),
        RESUMABLE_KEYS.join(", ")
    );
    ensure!(
        !(new.agent.actor_cosine && new.steps != saved.steps),
        "cannot change steps when resuming a run with a cosine actor schedule (its length is fixed)"
    );
    Ok(())
}

fn diff_keys(a: &toml::Value, b: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff_keys(u, v, &name, out),
                    _ => out.push(name),
                }
            }
        }
        (x, y) if x != y => out.push(prefix.to_string()),
        _ => {}
    }
}

/// Train offline on `data` in memory (no run directory): evaluates in `env` (if
/// given) every `eval_every` steps and at the end.
pub fn train_offline<'e>(
    cfg: &TrainConfig,
    data: &Transitions,
    env: Option<&mut (dyn Env + 'e)>,
    show_progress: bool,
) -> Result<TrainResult> {
    match OfflineRun::new(cfg, data)?.run(env, None, show_progress)? {
        Outcome::Finished(r) => Ok(r),
        Outcome::Interrupted(step) => Err(Interrupted { step }.into()),
    }
}

/// A finished offline run: the result and where its directory is.
pub struct FinishedRun {
    /// The run's label (`algo` of its config).
    pub label: String,
    pub result: TrainResult,
    pub dir: PathBuf,
}

/// Load a dataset and make its evaluation environment, checking their dimensions.
fn data_and_env(cfg: &TrainConfig, dataset: &Path) -> Result<(Transitions, Option<Box<dyn Env>>)> {
    ensure!(
        dataset.exists(),
        "dataset file {} does not exist",
        dataset.display()
    );
    let (_, tr) = crate::data::load_transitions(dataset)?;
    let env = match &cfg.env {
        Some(id) => {
            let env = crate::envs::make_env(id)?;
            ensure!(
                env.obs_dim() == tr.obs_dim && env.act_dim() == tr.act_dim,
                "dataset {} has obs/action dimensions {}/{} but environment {id} has {}/{}",
                dataset.display(),
                tr.obs_dim,
                tr.act_dim,
                env.obs_dim(),
                env.act_dim()
            );
            Some(env)
        }
        None => {
            tracing::warn!(
                "no evaluation environment (--env, e.g. --env hopper-medium-v2): training without evaluations"
            );
            None
        }
    };
    Ok((tr, env))
}

/// The whole of `pars train` below the command line: load the dataset (clipping
/// out-of-box actions), check it against the evaluation environment, create the run
/// directory `out` (refusing one that holds another run unless `force`), train, and
/// write config, dataset record, metrics, checkpoints, policy and final evaluation.
pub fn train_run(
    cfg: &TrainConfig,
    dataset: &Path,
    out: &Path,
    force: bool,
    show_progress: bool,
) -> Result<FinishedRun> {
    let (tr, env) = data_and_env(cfg, dataset)?;
    let run = OfflineRun::new(cfg, &tr)?;
    let dir = LiveRunDir::create(out, "train", cfg.steps, force)?;
    dir.write_text("config.toml", &crate::run::config_toml(cfg)?)?;
    dir.write_json(
        "dataset.json",
        &serde_json::json!({ "path": dataset.display().to_string(), "transitions": tr.len() }),
    )?;
    drive(run, env, dir, show_progress)
}

/// `pars train --resume DIR`: continue the run in `dir` from its last checkpoint.
/// `flags` and `sets` may change only `RESUMABLE_KEYS`.
pub fn resume_run(
    dir: &Path,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
    show_progress: bool,
) -> Result<FinishedRun> {
    let cfg_path = dir.join("config.toml");
    ensure!(
        cfg_path.is_file(),
        "{} is not an offline run directory (no config.toml)",
        dir.display()
    );
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("cannot read {}", cfg_path.display()))?;
    let mut v: toml::Value = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", cfg_path.display()))?;
    let saved: TrainConfig = v
        .clone()
        .try_into()
        .with_context(|| format!("{} is not a training config", cfg_path.display()))?;
    super::config::apply_overrides(&mut v, flags, sets)?;
    let cfg: TrainConfig = v.try_into().context("invalid configuration")?;
    cfg.validate()?;
    check_resumable_change(&saved, &cfg)?;
    let state = dir.join("checkpoints").join(TRAIN_STATE_FILE);
    let status = crate::run::Status::read(dir)?;
    if matches!(&status, Some(s) if s.state == crate::run::RunState::Finished) {
        bail!("run {} has already finished", dir.display());
    }
    ensure!(
        state.is_file(),
        "run {} has no checkpoint to resume from (it stopped before its first); start it again with --force",
        dir.display()
    );
    let ds: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("dataset.json"))
            .with_context(|| format!("{}: no dataset.json", dir.display()))?,
    )
    .with_context(|| format!("{}: malformed dataset.json", dir.display()))?;
    let dataset = PathBuf::from(
        ds["path"]
            .as_str()
            .with_context(|| format!("{}: dataset.json has no path", dir.display()))?,
    );
    let (tr, env) = data_and_env(&cfg, &dataset)?;
    let run = OfflineRun::load(&state, &cfg, &tr)
        .with_context(|| format!("cannot resume {}", dir.display()))?;
    let live = LiveRunDir::reopen(dir)?;
    if cfg != saved {
        live.write_text("config.toml", &crate::run::config_toml(&cfg)?)?;
    }
    if show_progress {
        println!("resuming {} at step {}", dir.display(), run.step());
    }
    drive(run, env, live, show_progress)
}

/// Run to the end, keeping `dir`'s status: finished, failed (with the error) or
/// interrupted (with how to resume).
fn drive(
    mut run: OfflineRun,
    mut env: Option<Box<dyn Env>>,
    mut dir: LiveRunDir,
    show_progress: bool,
) -> Result<FinishedRun> {
    crate::run::signals::install();
    match run.run(env.as_deref_mut(), Some(&mut dir), show_progress) {
        Ok(Outcome::Finished(result)) => {
            if let Some(ev) = &result.final_eval {
                dir.write_json("final_eval.json", ev)?;
            }
            // a finished run is not resumed; agent.safetensors holds its final state
            let _ = std::fs::remove_file(dir.path().join("checkpoints").join(TRAIN_STATE_FILE));
            dir.progress(run.step(), None)?;
            let dir = dir.finish()?;
            Ok(FinishedRun {
                label: run.cfg.algo.clone(),
                result,
                dir,
            })
        }
        Ok(Outcome::Interrupted(step)) => {
            let path = dir.path().to_path_buf();
            dir.interrupt(step)?;
            eprintln!(
                "interrupted at step {step}; checkpoint written. Resume with: pars train --resume {}",
                path.display()
            );
            Err(Interrupted { step }.into())
        }
        Err(e) => {
            let last = dir.status().last_checkpoint;
            let path = dir.path().to_path_buf();
            dir.fail(&e);
            Err(match last {
                Some(c) => e.context(format!(
                    "run {} failed; its last good checkpoint is at step {c} (pars train --resume {} --set ...)",
                    path.display(),
                    path.display()
                )),
                None => e.context(format!("run {} failed", path.display())),
            })
        }
    }
}

/// The error of a run stopped by a signal (the binary exits with status 130).
#[derive(Debug)]
pub struct Interrupted {
    pub step: u64,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted at step {}", self.step)
    }
}

impl std::error::Error for Interrupted {}

/// Test-only fault injection: `PARS_TEST_ABORT=<point>:<n>` aborts the process (like a
/// SIGKILL: no cleanup) the n-th time it reaches `point`: `checkpoint` (leaving a
/// half-written temporary file beside the checkpoint) or `eval` (inside an
/// evaluation). The kill-and-resume tests use it to stop at exact places.
mod test_hooks {
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};

    static CHECKPOINTS: AtomicU64 = AtomicU64::new(0);
    static EVALS: AtomicU64 = AtomicU64::new(0);

    pub fn maybe_abort(point: &str, path: Option<&Path>) {
        let Ok(spec) = std::env::var("PARS_TEST_ABORT") else {
            return;
        };
        let Some((p, n)) = spec.split_once(':') else {
            return;
        };
        if p != point {
            return;
        }
        let counter = if point == "checkpoint" {
            &CHECKPOINTS
        } else {
            &EVALS
        };
        let k = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if n.parse::<u64>().ok() == Some(k) {
            if let Some(path) = path {
                if let Ok(tmp) = crate::run::temp_sibling(path) {
                    let _ = std::fs::write(tmp, b"PARSCKP1 half-written");
                }
            }
            std::process::abort();
        }
    }
}

/// The default run directory `runs/<label>-<dataset stem>-s<seed>` (made unique).
pub fn default_run_dir(cfg: &TrainConfig, dataset: &Path) -> PathBuf {
    let stem = dataset
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "data".into());
    let label = crate::run::sanitize_label(&cfg.algo);
    crate::run::unique_run_dir(PathBuf::from("runs").join(format!("{label}-{stem}-s{}", cfg.seed)))
}
