//! The offline training loop: sample → update → log → evaluate → checkpoint.
use super::config::TrainConfig;
use super::pars::{Agent, UpdateStats};
use crate::data::{Batch, Transitions};
use crate::envs::Env;
use crate::eval::{evaluate, EvalResult};
use crate::policy::{save_net, Policy};
use crate::run::{progress_bar, MetricsRow, RunDir, METRICS_HEADER};
use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::Instant;

/// Evaluation episodes use these seeds (offset by the episode index), so every
/// evaluation of a run sees the same start states.
pub const EVAL_SEED: u64 = 1_000_003;

pub struct TrainResult {
    pub agent: Agent,
    pub metrics: Vec<MetricsRow>,
    pub final_eval: Option<EvalResult>,
    /// Wall-clock gradient steps per second (not written to the metrics file).
    pub steps_per_s: f64,
}

pub fn eval_agent(agent: &Agent, env: &mut dyn Env, episodes: usize) -> Result<EvalResult> {
    let mut policy = Policy::new(agent.actor.clone());
    evaluate(env, |o| policy.act(o).to_vec(), episodes, EVAL_SEED)
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
        if let (Some(a), Some(b), Some(l)) = (s.actor_loss, s.bc_loss, s.lambda) {
            self.na += 1;
            self.actor += a as f64;
            self.bc += b as f64;
            self.lambda += l as f64;
        }
    }
    pub fn row(&self, step: u64) -> MetricsRow {
        // NaN where the interval had no updates (before learning starts)
        let mean = |v: f64, n: u64| if n > 0 { v / n as f64 } else { f64::NAN };
        let some = |v: f64| (self.na > 0).then(|| v / self.na as f64);
        MetricsRow {
            step,
            td_loss: mean(self.td, self.n),
            pa_loss: mean(self.pa, self.n),
            q_data: mean(self.qd, self.n),
            q_infeasible: mean(self.qi, self.n),
            actor_loss: some(self.actor),
            bc_loss: some(self.bc),
            lambda: some(self.lambda),
            ..Default::default()
        }
    }
}

/// Train offline on `data`. Evaluates in `env` (if given) every `eval_every` steps and
/// at the end; writes metrics, checkpoints and plots into `run` (if given).
pub fn train_offline<'e>(
    cfg: &TrainConfig,
    data: &Transitions,
    mut env: Option<&mut (dyn Env + 'e)>,
    run: Option<&RunDir>,
    show_progress: bool,
) -> Result<TrainResult> {
    cfg.validate()?;
    anyhow::ensure!(!data.is_empty(), "the dataset has no transitions");
    let q_min = cfg.agent.resolve_q_min(data.reward_min());
    let mut agent = Agent::new(
        cfg.agent.clone(),
        data.obs_dim,
        data.act_dim,
        q_min,
        cfg.steps,
        cfg.seed,
    );
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5EED_DA7A);
    let mut batch = Batch::new(cfg.agent.batch_size, data.obs_dim, data.act_dim);
    let mut metrics = Vec::new();
    let mut acc = StatsAccum::default();
    let pb = progress_bar(cfg.steps, &cfg.algo, show_progress);
    let start = Instant::now();
    let mut final_eval = None;
    // wall time spent evaluating, excluded from steps/s
    let mut eval_secs = 0.0;
    // metrics.csv grows row by row so long runs can be watched
    let mut metrics_file = match run {
        Some(run) => {
            let mut f = std::fs::File::create(run.path().join("metrics.csv"))?;
            writeln!(f, "{METRICS_HEADER}")?;
            Some(f)
        }
        None => None,
    };
    for step in 1..=cfg.steps {
        data.sample_into(&mut sample_rng, &mut batch);
        let stats = agent.update(&batch);
        if !stats.td_loss.is_finite() {
            anyhow::bail!(
                "training diverged at step {step}: TD loss is {}",
                stats.td_loss
            );
        }
        acc.add(&stats);
        let eval_now = step == cfg.steps || (cfg.eval_every > 0 && step % cfg.eval_every == 0);
        if step % cfg.log_every == 0 || eval_now {
            let mut row = acc.row(step);
            row.dormant_ratio = agent.dormant_ratio();
            acc = StatsAccum::default();
            if eval_now {
                let eval_start = Instant::now();
                if let Some(env) = env.as_deref_mut() {
                    let ev = eval_agent(&agent, env, cfg.eval_episodes)?;
                    row.set_eval(&ev);
                    pb.set_message(format!("score {:.1}", ev.mean_score));
                    final_eval = Some(ev);
                }
                if let Some(run) = run {
                    let meta = serde_json::json!({ "step": step, "algo": cfg.algo });
                    save_net(
                        &run.path().join(format!("checkpoints/actor_{step}.pnet")),
                        &agent.actor,
                        meta,
                    )?;
                }
                eval_secs += eval_start.elapsed().as_secs_f64();
            }
            if let Some(f) = metrics_file.as_mut() {
                writeln!(f, "{}", row.csv_line())?;
            }
            metrics.push(row);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let elapsed = start.elapsed().as_secs_f64() - eval_secs;
    if let Some(run) = run {
        let meta = serde_json::json!({ "steps": cfg.steps, "algo": cfg.algo, "q_min": q_min });
        save_net(&run.path().join("policy.pnet"), &agent.actor, meta.clone())?;
        save_net(
            &run.path().join("checkpoints/critic.pnet"),
            &agent.critic,
            meta.clone(),
        )?;
        save_net(
            &run.path().join("checkpoints/critic_target.pnet"),
            &agent.critic_target,
            meta.clone(),
        )?;
        save_net(
            &run.path().join("checkpoints/actor_target.pnet"),
            &agent.actor_target,
            meta,
        )?;
        // whole agent (Adam moments, RNG) so `pars finetune` continues exactly
        super::checkpoint::save_agent(&run.path().join("checkpoints/agent_state.bin"), &agent)?;
        if let Err(e) = crate::run::plot_learning_curves(
            &run.path().join("learning_curves.png"),
            &metrics,
            "gradient steps",
        ) {
            tracing::warn!("could not draw the learning-curve plot: {e}");
        }
    }
    Ok(TrainResult {
        agent,
        metrics,
        final_eval,
        steps_per_s: cfg.steps as f64 / elapsed.max(1e-9),
    })
}

/// A finished offline run: the result and where its directory ended up.
pub struct FinishedRun {
    pub result: TrainResult,
    pub dir: std::path::PathBuf,
}

/// The whole of `pars train` below the command line: load the dataset (clipping
/// out-of-box actions), check it against the evaluation environment, create the run
/// directory `out`, train, and write config, dataset record, metrics, policy and
/// final evaluation.
pub fn train_run(
    cfg: &TrainConfig,
    dataset: &std::path::Path,
    out: &std::path::Path,
    show_progress: bool,
) -> Result<FinishedRun> {
    anyhow::ensure!(
        dataset.exists(),
        "dataset file {} does not exist",
        dataset.display()
    );
    let (_, tr) = crate::data::load_transitions(dataset)?;
    let mut env = match &cfg.env {
        Some(id) => {
            let env = crate::envs::make_env(id)?;
            anyhow::ensure!(
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
        None => None,
    };
    let run = RunDir::create(out)?;
    run.write_text("config.toml", &crate::run::config_toml(cfg)?)?;
    run.write_json(
        "dataset.json",
        &serde_json::json!({ "path": dataset.display().to_string(), "transitions": tr.len() }),
    )?;
    let result = train_offline(cfg, &tr, env.as_deref_mut(), Some(&run), show_progress)?;
    if let Some(ev) = &result.final_eval {
        run.write_json("final_eval.json", ev)?;
    }
    let dir = run.finish()?;
    Ok(FinishedRun { result, dir })
}

/// The default run directory `runs/<label>-<dataset stem>-s<seed>` (made unique).
pub fn default_run_dir(cfg: &TrainConfig, dataset: &std::path::Path) -> std::path::PathBuf {
    let stem = dataset
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "data".into());
    let label = crate::run::sanitize_label(&cfg.algo);
    crate::run::unique_run_dir(
        std::path::PathBuf::from("runs").join(format!("{label}-{stem}-s{}", cfg.seed)),
    )
}
