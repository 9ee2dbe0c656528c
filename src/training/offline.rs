//! The offline loop: sample → update → log → evaluate → checkpoint.
use super::stats::{check_finite_params, check_finite_stats, StatsAccum};
use super::{check_resumable, drive, test_hooks, Outcome, Shell};
use crate::algos::{new_learner, read_learner, Learner};
use crate::config::resume::{check_resumable_change, resumed_train_config};
use crate::config::TrainConfig;
use crate::data::{Batch, RawDataset, Transitions};
use crate::envs::Env;
use crate::eval::{eval_learner, EvalResult};
use crate::formats::{write_state, Section, StateFile, TensorReader};
use crate::run::{
    parse_metrics_line, progress_bar, DatasetRecord, LiveRunDir, MetricsRow, RunPaths,
};
use anyhow::{ensure, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct TrainResult {
    pub agent: Box<dyn Learner>,
    pub metrics: Vec<MetricsRow>,
    pub final_eval: Option<EvalResult>,
    /// Wall-clock gradient steps per second (not written to the metrics file).
    pub steps_per_s: f64,
}

/// Everything of the offline loop besides the learner that a checkpoint must hold.
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

/// A host's view of a run (the Python module's callback and progress bar): called with
/// each metrics row once it is written; an error stops the run, which then fails.
pub type RowHook<'h> = Box<dyn FnMut(&MetricsRow) -> Result<()> + Send + 'h>;

/// An offline run in progress: the learner and the loop state, resumable from a
/// checkpoint.
pub struct OfflineRun<'d> {
    pub cfg: TrainConfig,
    data: &'d Transitions,
    pub agent: Box<dyn Learner>,
    st: LoopState,
    on_row: Option<RowHook<'d>>,
}

impl<'d> OfflineRun<'d> {
    pub fn new(cfg: &TrainConfig, data: &'d Transitions) -> Result<Self> {
        cfg.validate()?;
        ensure!(!data.is_empty(), "the dataset has no transitions");
        let agent = new_learner(cfg, data.obs_dim, data.act_dim, data.reward_min());
        tracing::info!(
            "{}: {} transitions (obs {}, act {}), {} steps, Q_min {}, seed {}",
            cfg.algo,
            data.len(),
            data.obs_dim,
            data.act_dim,
            cfg.steps,
            agent.q_min(),
            cfg.seed
        );
        Ok(Self {
            cfg: cfg.clone(),
            data,
            agent,
            st: LoopState {
                step: 0,
                sample_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ SAMPLE_SEED_XOR),
                acc: StatsAccum::default(),
                metrics_lines: Vec::new(),
                final_eval: None,
                data_hash: data.fingerprint(),
            },
            on_row: None,
        })
    }

    /// Call `hook` with every metrics row the run writes.
    pub fn with_row_hook(mut self, hook: Option<RowHook<'d>>) -> Self {
        self.on_row = hook;
        self
    }

    /// Gradient steps done.
    pub fn step(&self) -> u64 {
        self.st.step
    }

    /// Write the whole state (atomically: a kill during the write keeps the previous
    /// checkpoint). Refuses to store non-finite parameters.
    pub fn save(&self, path: &Path) -> Result<()> {
        check_finite_params(self.agent.as_ref(), self.st.step)?;
        test_hooks::maybe_abort("checkpoint", Some(path));
        let header = serde_json::json!({
            "kind": "offline",
            "config": toml::to_string(&self.cfg)?,
            "loop": serde_json::to_value(&self.st)?,
        });
        let agent = self.agent.to_file(None)?.to_bytes()?;
        write_state(path, header, &[Section::Bytes("agent", &agent)])
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
        let mut agent = read_learner(&TensorReader::from_bytes(path, bytes)?)?;
        ensure!(
            agent.algorithm() == cfg.algorithm,
            "{}: the checkpoint holds a {} learner, the config says {}",
            path.display(),
            agent.algorithm().name(),
            cfg.algorithm.name()
        );
        agent.apply_resumable(cfg);
        Ok(Self {
            cfg: cfg.clone(),
            data,
            agent,
            st,
            on_row: None,
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
        dir: Option<&mut LiveRunDir>,
        show_progress: bool,
    ) -> Result<Outcome<TrainResult>> {
        let cfg = self.cfg.clone();
        let data = self.data;
        let mut batch = Batch::new(cfg.agent.batch_size, data.obs_dim, data.act_dim);
        let pb = progress_bar(cfg.steps, &cfg.algo, show_progress);
        pb.set_position(self.st.step);
        let start = Instant::now();
        let start_step = self.st.step;
        // wall time spent evaluating, excluded from steps/s
        let mut eval_secs = 0.0;
        // metrics.csv grows row by row so long runs can be watched
        let mut shell = Shell::open(dir, &cfg, &self.st.metrics_lines, cfg.tensorboard)?;
        while self.st.step < cfg.steps {
            let step = self.st.step + 1;
            data.sample_into(&mut self.st.sample_rng, &mut batch);
            let stats = self.agent.update(&batch);
            check_finite_stats(&stats, step)?;
            self.st.step = step;
            self.st.acc.add(&stats);
            let eval_now =
                step == cfg.steps || (cfg.eval_every > 0 && step.is_multiple_of(cfg.eval_every));
            if step.is_multiple_of(cfg.log_every) || eval_now {
                check_finite_params(self.agent.as_ref(), step)?;
                let mut row = self.st.acc.row(step);
                row.dormant_ratio = self.agent.dormant_ratio();
                self.st.acc = StatsAccum::default();
                if eval_now {
                    let eval_start = Instant::now();
                    if let Some(env) = env.as_deref_mut() {
                        let ev = eval_learner(self.agent.as_ref(), env, cfg.eval_episodes)?;
                        test_hooks::maybe_abort("eval", None);
                        row.set_eval(&ev);
                        pb.set_message(format!("score {:.1}", ev.mean_score));
                        self.st.final_eval = Some(ev);
                    }
                    let info = [("step", step.to_string()), ("algo", cfg.algo.clone())];
                    shell.snapshot(step, self.agent.actor(), &info)?;
                    eval_secs += eval_start.elapsed().as_secs_f64();
                }
                shell.log(&mut self.st.metrics_lines, &row)?;
                if let Some(hook) = self.on_row.as_mut() {
                    hook(&row)?;
                }
            }
            pb.inc(1);
            let every = (cfg.checkpoint_every, cfg.checkpoint_minutes, cfg.log_every);
            if shell.end_step(step, cfg.steps, every, RunPaths::train_state, |p| {
                self.save(p)
            })? {
                pb.abandon();
                return Ok(Outcome::Interrupted(step));
            }
        }
        pb.finish_and_clear();
        let elapsed = start.elapsed().as_secs_f64() - eval_secs;
        let metrics = parse_lines(&self.st.metrics_lines)?;
        let info = [
            ("steps", cfg.steps.to_string()),
            ("algo", cfg.algo.clone()),
            ("q_min", self.agent.q_min().to_string()),
        ];
        shell.save_final(
            self.agent.as_ref(),
            &info,
            self.st.final_eval.as_ref(),
            &metrics,
            "gradient steps",
        )?;
        if let Some(p) = shell.paths() {
            // the whole learner (critics, targets, Adam moments, RNG) so `pars finetune`
            // continues exactly; a finished run is not resumed, so its state goes
            self.agent
                .to_file(Some(shell.config_json()))?
                .write(&p.agent())?;
            let _ = std::fs::remove_file(p.train_state());
        }
        Ok(Outcome::Finished(
            TrainResult {
                agent: self.agent.clone(),
                metrics,
                final_eval: self.st.final_eval.clone(),
                steps_per_s: (self.st.step - start_step) as f64 / elapsed.max(1e-9),
            },
            self.st.step,
        ))
    }
}

/// Seed offset of batch sampling (update traces sample the same batches).
pub(crate) const SAMPLE_SEED_XOR: u64 = 0x5EED_DA7A;

/// Metrics lines back to rows.
pub(crate) fn parse_lines(lines: &[String]) -> Result<Vec<MetricsRow>> {
    lines.iter().map(|l| parse_metrics_line(l)).collect()
}

/// Train offline on `data` in memory (no run directory): evaluates in `env` (if
/// given) every `eval_every` steps and at the end.
pub fn train_offline<'e>(
    cfg: &TrainConfig,
    data: &Transitions,
    env: Option<&mut (dyn Env + 'e)>,
    show_progress: bool,
) -> Result<TrainResult> {
    OfflineRun::new(cfg, data)?
        .run(env, None, show_progress)?
        .finished()
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
    let (_, tr) = crate::data::load_transitions_with(dataset, cfg.obs_keys.as_deref())?;
    let env = eval_env(cfg, &tr, &format!("dataset {}", dataset.display()))?;
    Ok((tr, env))
}

/// The evaluation environment of `cfg` (if any), checked against the data's dimensions.
fn eval_env(cfg: &TrainConfig, tr: &Transitions, what: &str) -> Result<Option<Box<dyn Env>>> {
    Ok(match &cfg.env {
        Some(id) if id == NO_ENV => None,
        Some(id) => {
            let env = crate::envs::make_env_with_reference(id, cfg.score_reference)?;
            ensure!(
                env.obs_dim() == tr.obs_dim && env.act_dim() == tr.act_dim,
                "{what} has obs/action dimensions {}/{} but environment {id} has {}/{}",
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
    })
}

/// `env = "none"`: no evaluation, and none taken from the dataset.
pub const NO_ENV: &str = "none";

/// `cfg` with what a Minari dataset says of its environment (`dataset_environment`).
pub fn with_dataset_env(cfg: &TrainConfig, dataset: &Path) -> Result<TrainConfig> {
    let mut cfg = cfg.clone();
    (cfg.env, cfg.score_reference) =
        dataset_environment(cfg.env.take(), cfg.score_reference, dataset)?;
    Ok(cfg)
}

/// What a Minari dataset says of its environment, given the configured `env` and
/// `reference`: without an `env`, the native environment of the dataset's
/// `eval_env_spec`/`env_spec` (an unknown one is an error suggesting `--env`); and, when
/// evaluating there without a reference, the dataset's reference scores. Other datasets
/// leave both as they are.
pub fn dataset_environment(
    env: Option<String>,
    reference: Option<[f64; 2]>,
    dataset: &Path,
) -> Result<(Option<String>, Option<[f64; 2]>)> {
    let file = crate::data::locate::dataset_file(dataset)?;
    let Some(meta) = crate::data::locate::MinariMetadata::of_file(&file)? else {
        return Ok((env, reference));
    };
    let Some(spec) = meta.evaluation_spec()? else {
        return Ok((env, reference));
    };
    let (env, native) = match env {
        Some(e) => {
            let native = crate::envs::native_env_for(&spec).ok();
            (e, native)
        }
        None => {
            let id = crate::envs::native_env_for(&spec)?;
            let gym_id = spec.get("id").and_then(|v| v.as_str()).unwrap_or("?");
            tracing::info!("evaluating in the native counterpart of the dataset's {gym_id}");
            (id.clone(), Some(id))
        }
    };
    let reference = match (reference, meta.ref_min_score, meta.ref_max_score) {
        (None, Some(lo), Some(hi)) if native.as_ref() == Some(&env) => Some([lo, hi]),
        (r, _, _) => r,
    };
    Ok((Some(env), reference))
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
    train_run_hooked(cfg, dataset, out, force, show_progress, None)
}

/// `train_run` with a hook on every metrics row.
pub fn train_run_hooked(
    cfg: &TrainConfig,
    dataset: &Path,
    out: &Path,
    force: bool,
    show_progress: bool,
    on_row: Option<RowHook<'_>>,
) -> Result<FinishedRun> {
    let cfg = &with_dataset_env(cfg, dataset)?;
    let (tr, env) = data_and_env(cfg, dataset)?;
    let run = OfflineRun::new(cfg, &tr)?.with_row_hook(on_row);
    let dir = LiveRunDir::create(out, "train", cfg.steps, force)?;
    start_offline_dir(cfg, out, dataset, tr.len())?;
    drive_offline(run, env, dir, show_progress)
}

/// `train_run` on a dataset held in memory (the Python module's numpy arrays): the
/// arrays are checked, their out-of-box actions clipped, and the run directory gets a
/// copy of them as `dataset.hdf5`, which its `dataset.json` names. The run is then the
/// one `pars train --dataset <that file>` makes, and `--resume` works on it.
pub fn train_run_in_memory(
    cfg: &TrainConfig,
    raw: &RawDataset,
    out: &Path,
    force: bool,
    show_progress: bool,
    on_row: Option<RowHook<'_>>,
) -> Result<FinishedRun> {
    let mut raw = raw.clone();
    let clipped = crate::data::clip_actions(&mut raw);
    if clipped > 0 {
        tracing::warn!("the dataset: {clipped} action values lay outside [-1, 1] and were clipped");
    }
    let tr = Transitions::from_raw(&raw).context("cannot build transitions")?;
    let env = eval_env(cfg, &tr, "the dataset")?;
    let run = OfflineRun::new(cfg, &tr)?.with_row_hook(on_row);
    let dir = LiveRunDir::create(out, "train", cfg.steps, force)?;
    let copy = RunPaths::new(out).dataset_copy();
    crate::data::write_d4rl(&copy, &raw)?;
    start_offline_dir(cfg, out, &copy, tr.len())?;
    drive_offline(run, env, dir, show_progress)
}

/// The files a new offline run directory starts with: its config and dataset record.
fn start_offline_dir(cfg: &TrainConfig, out: &Path, dataset: &Path, rows: usize) -> Result<()> {
    let paths = RunPaths::new(out);
    crate::run::write_atomic(&paths.config(), crate::run::config_toml(cfg)?.as_bytes())?;
    let record = DatasetRecord {
        path: dataset.display().to_string(),
        transitions: rows,
    };
    record.write(out)
}

/// `pars train --resume DIR`: continue the run in `dir` from its last checkpoint.
/// `flags` and `sets` may change only `RESUMABLE_KEYS`.
pub fn resume_run(
    dir: &Path,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
    show_progress: bool,
) -> Result<FinishedRun> {
    resume_run_hooked(dir, flags, sets, show_progress, None)
}

/// `resume_run` with a hook on every metrics row.
pub fn resume_run_hooked(
    dir: &Path,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
    show_progress: bool,
    on_row: Option<RowHook<'_>>,
) -> Result<FinishedRun> {
    let paths = RunPaths::new(dir);
    let cfg_path = paths.config();
    ensure!(
        cfg_path.is_file(),
        "{} is not an offline run directory (no {})",
        dir.display(),
        crate::run::paths::CONFIG_FILE
    );
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("cannot read {}", cfg_path.display()))?;
    let (saved, cfg) = resumed_train_config(&text, &cfg_path.display().to_string(), flags, sets)?;
    let state = paths.train_state();
    check_resumable(dir, &state, "start it again with --force")?;
    let dataset = DatasetRecord::require(dir)?.dataset();
    let (tr, env) = data_and_env(&cfg, &dataset)?;
    let run = OfflineRun::load(&state, &cfg, &tr)
        .with_context(|| format!("cannot resume {}", dir.display()))?
        .with_row_hook(on_row);
    let live = LiveRunDir::reopen(dir)?;
    if cfg != saved {
        crate::run::write_atomic(&cfg_path, crate::run::config_toml(&cfg)?.as_bytes())?;
    }
    if show_progress {
        println!("resuming {} at step {}", dir.display(), run.step());
    }
    drive_offline(run, env, live, show_progress)
}

/// `drive` for an offline run: its label with the result, and the final evaluation.
fn drive_offline(
    mut run: OfflineRun,
    mut env: Option<Box<dyn Env>>,
    dir: LiveRunDir,
    show: bool,
) -> Result<FinishedRun> {
    let label = run.cfg.algo.clone();
    let (result, dir) = drive(dir, "step", |d| run.run(env.as_deref_mut(), Some(d), show))?;
    Ok(FinishedRun { label, result, dir })
}

/// The default run directory `runs/<label>-<dataset stem>-s<seed>` (made unique).
pub fn default_run_dir(cfg: &TrainConfig, dataset: &Path) -> PathBuf {
    let stem = crate::data::dataset_label(dataset);
    let label = crate::run::sanitize_label(&cfg.algo);
    crate::run::unique_run_dir(PathBuf::from("runs").join(format!("{label}-{stem}-s{}", cfg.seed)))
}
