//! The offline training loop: sample → update → log → evaluate → checkpoint.
use super::config::TrainConfig;
use super::pars::Agent;
use crate::data::{Batch, Transitions};
use crate::envs::Env;
use crate::eval::{evaluate, EvalResult};
use crate::policy::{save_net, Policy};
use crate::run::{MetricsRow, RunDir, METRICS_HEADER};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
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

pub fn progress_bar(len: u64, label: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {per_sec:>12} eta {eta} {msg}",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

pub fn eval_agent(agent: &Agent, env: &mut dyn Env, episodes: usize) -> Result<EvalResult> {
    let mut policy = Policy::new(agent.actor.clone());
    evaluate(env, |o| policy.act(o).to_vec(), episodes, EVAL_SEED)
}

#[derive(Default)]
struct Accum {
    n: u64,
    td: f64,
    pa: f64,
    qd: f64,
    qi: f64,
    na: u64,
    actor: f64,
    bc: f64,
    lambda: f64,
}

impl Accum {
    fn add(&mut self, s: &super::UpdateStats) {
        self.n += 1;
        self.td += s.td_loss as f64;
        self.pa += s.pa_loss as f64;
        self.qd += s.q_data as f64;
        self.qi += s.q_infeasible as f64;
        if let (Some(a), Some(b), Some(l)) = (s.actor_loss, s.bc_loss, s.lambda) {
            self.na += 1;
            self.actor += a as f64;
            self.bc += b as f64;
            self.lambda += l as f64;
        }
    }
    fn row(&self, step: u64) -> MetricsRow {
        let n = self.n.max(1) as f64;
        let na = self.na as f64;
        let some = |v: f64| if self.na > 0 { Some(v / na) } else { None };
        MetricsRow {
            step,
            td_loss: self.td / n,
            pa_loss: self.pa / n,
            q_data: self.qd / n,
            q_infeasible: self.qi / n,
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
    let mut acc = Accum::default();
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
            acc = Accum::default();
            if eval_now {
                let eval_start = Instant::now();
                if let Some(env) = env.as_deref_mut() {
                    let ev = eval_agent(&agent, env, cfg.eval_episodes)?;
                    row.eval_return = Some(ev.mean_return);
                    row.eval_score = Some(ev.mean_score);
                    row.eval_score_std = Some(ev.std_score);
                    row.eval_success = ev.success_rate;
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
