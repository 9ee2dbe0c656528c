//! The online loop (SPEC §4): fine-tuning after offline training and learning from
//! scratch, generic over the learner (`Learner::can_learn_online`) and the `Env`.
//!
//! Each environment step: act with the learner's exploration action (uniform
//! random actions for the first `random_steps`), store the transition, then `utd`
//! critic updates on batches mixing offline and online rows, then one actor update.
//! A time-limit truncation is stored with done = 0 (bootstrapping continues).
//!
//! Resume: a checkpoint holds the agent, the replay buffer, every RNG, the metric
//! lines so far and the running episode as (reset seed, actions so far). Replaying
//! those actions restores any deterministic environment exactly, so a resumed run
//! writes the same numbers as an uninterrupted one.
use super::offline::parse_lines;
use super::stats::StatsAccum;
use super::{check_resumable, drive, Outcome, Shell};
use crate::algos::{read_learner, Learner};
use crate::config::{OnlineConfig, TrainConfig};
use crate::data::{Batch, RawDataset, ReplayBuffer, Transitions};
use crate::envs::Env;
use crate::eval::{eval_learner, EvalResult};
use crate::formats::{bits, write_state, Section, StateFile, TensorReader};
use crate::run::metrics::write_lines;
use crate::run::{progress_bar, LiveRunDir, MetricsRow, RunPaths, RunState, Status};
use anyhow::{bail, ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Header of `episodes.csv` (one row per finished training episode).
pub const EPISODES_HEADER: &str = "env_step,length,return,success";

/// The running training episode.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Episode {
    seed: u64,
    steps: u64,
    #[serde(with = "bits")]
    ret: f64,
}

/// Everything of the loop besides agent and buffer that a checkpoint must hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LoopState {
    env_steps: u64,
    updates: u64,
    episodes: u64,
    successes: u64,
    sample_rng: ChaCha8Rng,
    act_rng: ChaCha8Rng,
    episode: Option<Episode>,
    acc: StatsAccum,
    metrics_lines: Vec<String>,
    episode_lines: Vec<String>,
    /// Push indices of rows cut by a time limit still in the buffer (for export).
    truncations: VecDeque<u64>,
    final_eval: Option<EvalResult>,
    /// Hash of the offline data, so a resume cannot silently mix in other data.
    offline_hash: Option<u64>,
}

pub struct OnlineResult {
    pub metrics: Vec<MetricsRow>,
    pub final_eval: Option<EvalResult>,
    /// Critic updates per second of wall-clock time spent in the update loop.
    pub updates_per_s: f64,
    /// Environment steps per second over the whole run (evaluation included).
    pub env_steps_per_s: f64,
    pub episodes: u64,
    /// Fraction of finished training episodes that succeeded (goal tasks).
    pub train_success_rate: Option<f64>,
}

/// An online run in progress: agent, online buffer and loop state.
pub struct OnlineRun<'d> {
    pub cfg: OnlineConfig,
    pub agent: Box<dyn Learner>,
    pub buffer: ReplayBuffer,
    offline: Option<&'d Transitions>,
    st: LoopState,
    /// Actions of the running episode (replayed on resume).
    episode_actions: Vec<f32>,
    /// Current observation of the running episode.
    obs: Vec<f32>,
    /// The env is positioned at `obs` (false right after loading a checkpoint).
    env_ready: bool,
}

/// The offline run in `dir`: its config and its whole learner (networks, targets,
/// Adam state and RNG from `checkpoints/agent.safetensors`).
pub fn load_offline_run(dir: &Path) -> Result<(TrainConfig, Box<dyn Learner>)> {
    let paths = RunPaths::new(dir);
    let (cfg_path, state) = (paths.config(), paths.agent());
    ensure!(
        dir.is_dir() && cfg_path.is_file() && state.is_file(),
        "{} is not a finished pars training run (needs {} and checkpoints/{})",
        dir.display(),
        crate::run::paths::CONFIG_FILE,
        crate::run::paths::AGENT_FILE
    );
    if let Some(s) = Status::read(dir)? {
        ensure!(
            s.state == RunState::Finished,
            "{} has not finished (its status is {:?}); resume it with pars train --resume {} first",
            dir.display(),
            s.state,
            dir.display()
        );
    }
    let text = std::fs::read_to_string(&cfg_path)?;
    let cfg: TrainConfig = toml::from_str(&text).with_context(|| {
        format!(
            "{}: not an offline training config (online runs cannot be fine-tuned again)",
            cfg_path.display()
        )
    })?;
    let agent = read_learner(&TensorReader::open(&state)?)?;
    ensure!(
        agent.can_learn_online(),
        "{} is an {} run; pars finetune fine-tunes PARS and TD3+BC runs only",
        dir.display(),
        agent.algorithm().title()
    );
    Ok((cfg, agent))
}

impl<'d> OnlineRun<'d> {
    /// A fresh run. `agent` is either trained offline (already through
    /// `Learner::go_online`) or newly initialised.
    pub fn new(
        cfg: OnlineConfig,
        agent: Box<dyn Learner>,
        offline: Option<&'d Transitions>,
    ) -> Result<Self> {
        cfg.validate()?;
        ensure!(
            agent.can_learn_online(),
            "{} cannot learn online",
            agent.algorithm().title()
        );
        let (od, ad) = (agent.obs_dim(), agent.act_dim());
        if let Some(d) = offline {
            ensure!(
                (d.obs_dim, d.act_dim) == (od, ad),
                "offline data has obs/action dimensions {}/{} but the agent {od}/{ad}",
                d.obs_dim,
                d.act_dim,
            );
            ensure!(!d.is_empty(), "the offline dataset has no transitions");
        }
        ensure!(
            *agent.agent_config() == cfg.agent,
            "the agent's config differs from the online config"
        );
        let buffer = ReplayBuffer::new(cfg.buffer_size, od, ad);
        let st = LoopState {
            env_steps: 0,
            updates: 0,
            episodes: 0,
            successes: 0,
            sample_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x05A3_71E5),
            act_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xAC7_10E5),
            episode: None,
            acc: StatsAccum::default(),
            metrics_lines: Vec::new(),
            episode_lines: Vec::new(),
            truncations: VecDeque::new(),
            final_eval: None,
            offline_hash: offline.map(Transitions::fingerprint),
        };
        Ok(Self {
            cfg,
            agent,
            buffer,
            offline,
            st,
            episode_actions: Vec::new(),
            obs: Vec::new(),
            env_ready: true,
        })
    }

    /// Environment steps taken so far.
    pub fn env_steps(&self) -> u64 {
        self.st.env_steps
    }

    pub fn is_finished(&self) -> bool {
        self.st.env_steps >= self.cfg.steps
    }

    /// Save everything needed to continue (atomic write).
    pub fn save(&self, path: &Path) -> Result<()> {
        let header = serde_json::json!({
            "kind": "online",
            "config": toml::to_string(&self.cfg)?,
            "loop": serde_json::to_value(&self.st)?,
            "obs_dim": self.agent.obs_dim(),
            "act_dim": self.agent.act_dim(),
        });
        // the agent as the bytes of an agent.safetensors file
        let agent = self.agent.to_file(None)?.to_bytes()?;
        let (od, ad) = (self.agent.obs_dim(), self.agent.act_dim());
        let sections = [
            Section::Bytes("agent", &agent),
            Section::Replay("replay", &self.buffer, od, ad),
            Section::F32("episode_actions", &self.episode_actions),
            Section::F32("episode_obs", &self.obs),
        ];
        write_state(path, header, &sections)
    }

    /// Continue from a checkpoint written by `save`. The config is the run's
    /// `online.toml`; it must match the one stored in the checkpoint.
    pub fn load(path: &Path, cfg: OnlineConfig, offline: Option<&'d Transitions>) -> Result<Self> {
        let mut f = StateFile::open(path)?;
        ensure!(
            f.header["kind"] == "online",
            "{} is not an online-run checkpoint",
            path.display()
        );
        let saved: OnlineConfig = toml::from_str(f.header["config"].as_str().unwrap_or(""))
            .with_context(|| format!("{}: malformed config", path.display()))?;
        // the length may differ: `--resume --steps N` writes online.toml before the
        // next checkpoint stores the new length (a kill in between must not strand it)
        let length = cfg.steps;
        ensure!(
            OnlineConfig {
                steps: saved.steps,
                ..cfg.clone()
            } == saved,
            "{}: the checkpoint belongs to a different configuration",
            path.display()
        );
        let cfg = saved;
        let st: LoopState = serde_json::from_value(f.header["loop"].clone())
            .with_context(|| format!("{}: malformed loop state", path.display()))?;
        let agent_bytes = f.read_bytes("agent")?;
        let agent = read_learner(&TensorReader::from_bytes(path, agent_bytes)?)?;
        let buffer = f.read_replay(
            "replay",
            cfg.buffer_size,
            st.env_steps,
            agent.obs_dim(),
            agent.act_dim(),
        )?;
        let episode_actions = f.read_f32("episode_actions")?;
        let obs = f.read_f32("episode_obs")?;
        let mut run = Self::new(cfg, agent, offline)?;
        ensure!(
            run.st.offline_hash == st.offline_hash,
            "{}: the offline dataset differs from the one the run started with",
            path.display()
        );
        run.buffer = buffer;
        run.st = st;
        run.episode_actions = episode_actions;
        run.obs = obs;
        run.env_ready = run.st.episode.is_none();
        if length != run.cfg.steps {
            run.extend(length)?;
        }
        Ok(run)
    }

    /// Let the run go on to `steps` environment steps instead of its configured length
    /// (`pars online --resume DIR --steps N`, through `load`). Nothing else in the loop
    /// depends on the length, except a cosine learning-rate schedule, which is refused.
    fn extend(&mut self, steps: u64) -> Result<()> {
        ensure!(
            steps > self.st.env_steps,
            "option --steps {steps}: the run is already at environment step {}",
            self.st.env_steps
        );
        ensure!(
            !self.agent.schedule_tied_to_length(),
            "option --steps: the actor's learning-rate schedule is tied to the run's length ({} steps), so the run cannot be extended",
            self.cfg.steps
        );
        self.cfg.steps = steps;
        Ok(())
    }

    /// Put `env` back into the running episode by replaying its actions.
    fn restore_env(&mut self, env: &mut dyn Env) -> Result<()> {
        if self.env_ready {
            return Ok(());
        }
        let ep = self.st.episode.as_ref().expect("a running episode");
        let ad = self.agent.act_dim();
        ensure!(
            self.episode_actions.len() as u64 == ep.steps * ad as u64,
            "checkpoint: episode actions do not match its length"
        );
        let mut obs = env.reset(ep.seed);
        for a in self.episode_actions.chunks_exact(ad) {
            let s = env.step(a)?;
            ensure!(
                !(s.terminated || s.truncated),
                "environment {}: replaying the interrupted episode ended it early; the environment is not deterministic",
                env.id()
            );
            obs = s.obs;
        }
        ensure!(
            obs == self.obs,
            "environment {}: replaying the interrupted episode gave a different state; the environment is not deterministic",
            env.id()
        );
        self.env_ready = true;
        Ok(())
    }

    /// Run until `until` environment steps (capped at `cfg.steps`). With `dir`,
    /// metrics, episodes, actor snapshots and checkpoints go there, and at the end the
    /// final policy, state and figures; its status is kept current.
    pub fn run(
        &mut self,
        env: &mut dyn Env,
        mut eval_env: Option<&mut dyn Env>,
        dir: Option<&mut LiveRunDir>,
        until: u64,
        show_progress: bool,
    ) -> Result<Outcome<OnlineResult>> {
        let cfg = self.cfg.clone();
        let (od, ad) = (self.agent.obs_dim(), self.agent.act_dim());
        ensure!(
            (env.obs_dim(), env.act_dim()) == (od, ad),
            "environment {} has obs/action dimensions {}/{} but the agent {od}/{ad}",
            env.id(),
            env.obs_dim(),
            env.act_dim(),
        );
        self.restore_env(env)?;
        let until = until.min(cfg.steps);
        let b = cfg.agent.batch_size;
        let n_off = cfg.offline_rows(self.offline.is_some());
        let mut batch = Batch::new(b, od, ad);
        let mut action = vec![0.0f32; ad];

        // metrics and episodes are rewritten from the state: rows after the checkpoint go
        let mut shell = Shell::open(dir, &cfg, &self.st.metrics_lines, cfg.tensorboard)?;
        let mut episodes_file = match shell.paths() {
            Some(p) => Some(write_lines(
                &p.episodes(),
                EPISODES_HEADER,
                &self.st.episode_lines,
            )?),
            None => None,
        };
        let pb = progress_bar(cfg.steps, &cfg.algo, show_progress);
        pb.set_position(self.st.env_steps);
        let start = Instant::now();
        let start_steps = self.st.env_steps;
        let mut update_secs = 0.0f64;
        let mut updates_timed = 0u64;

        // score of the starting policy
        if self.st.env_steps == 0 && self.st.metrics_lines.is_empty() {
            if let Some(e) = eval_env.as_deref_mut() {
                let mut row = StatsAccum::default().row(0);
                let ev = eval_learner(self.agent.as_ref(), e, cfg.eval_episodes)?;
                row.set_eval(&ev);
                shell.log(&mut self.st.metrics_lines, &row)?;
            }
        }

        while self.st.env_steps < until {
            let t = self.st.env_steps + 1;
            self.act(env, t, &mut action, episodes_file.as_mut())?;
            if t > cfg.learning_starts {
                let t0 = Instant::now();
                self.learn(t, &mut batch, n_off)?;
                update_secs += t0.elapsed().as_secs_f64();
                updates_timed += cfg.utd as u64;
            }

            let eval_now =
                t == cfg.steps || (cfg.eval_every > 0 && t.is_multiple_of(cfg.eval_every));
            if t.is_multiple_of(cfg.log_every) || eval_now {
                let mut row = self.st.acc.row(t);
                if self.st.acc.n > 0 {
                    row.dormant_ratio = self.agent.dormant_ratio();
                }
                self.st.acc = StatsAccum::default();
                if eval_now {
                    if let Some(e) = eval_env.as_deref_mut() {
                        super::test_hooks::maybe_abort("eval", None);
                        let ev = eval_learner(self.agent.as_ref(), e, cfg.eval_episodes)?;
                        row.set_eval(&ev);
                        pb.set_message(format!("score {:.1}", ev.mean_score));
                        self.st.final_eval = Some(ev);
                    }
                    let info = [("env_steps", t.to_string()), ("algo", cfg.algo.clone())];
                    shell.snapshot(t, self.agent.actor(), &info)?;
                }
                shell.log(&mut self.st.metrics_lines, &row)?;
            }
            pb.inc(1);
            let every = (cfg.checkpoint_every, 0.0, cfg.log_every);
            if shell.end_step(t, cfg.steps, every, RunPaths::online_state, |p| {
                self.save(p)
            })? {
                pb.abandon();
                return Ok(Outcome::Interrupted(t));
            }
        }
        pb.finish_and_clear();
        let elapsed = start.elapsed().as_secs_f64();

        let metrics = parse_lines(&self.st.metrics_lines)?;
        if self.is_finished() {
            if let Some(p) = shell.paths() {
                // kept: the replay buffer exports as a dataset (`pars collect --from-run`)
                self.save(&p.online_state())?;
            }
            let info = [
                ("algo", cfg.algo.clone()),
                ("env_steps", self.st.env_steps.to_string()),
                ("q_min", self.agent.q_min().to_string()),
            ];
            shell.save_final(
                self.agent.as_ref(),
                &info,
                self.st.final_eval.as_ref(),
                &metrics,
                "environment steps",
            )?;
            if let Some(p) = shell.paths() {
                if let Err(e) = crate::plots::plot_success(
                    &p.success_plot(),
                    &format!("{} on {}", self.cfg.algo, self.cfg.env),
                    self.cfg.steps as f64,
                    &metrics,
                    &self.st.episode_lines,
                ) {
                    tracing::warn!("could not draw the success-rate plot: {e}");
                }
            }
        }
        let result = OnlineResult {
            metrics,
            final_eval: self.st.final_eval.clone(),
            updates_per_s: updates_timed as f64 / update_secs.max(1e-9),
            env_steps_per_s: (self.st.env_steps - start_steps) as f64 / elapsed.max(1e-9),
            episodes: self.st.episodes,
            // goal tasks only: an env without a goal reports no success at all
            train_success_rate: (self.st.episodes > 0 && env.success().is_some())
                .then(|| self.st.successes as f64 / self.st.episodes as f64),
        };
        Ok(Outcome::Finished(result, self.st.env_steps))
    }

    /// Environment step `t`: the exploration action (uniform for the first
    /// `random_steps`), stored in the buffer; a finished episode goes to `episodes`.
    fn act(
        &mut self,
        env: &mut dyn Env,
        t: u64,
        action: &mut [f32],
        episodes: Option<&mut std::fs::File>,
    ) -> Result<()> {
        let cfg = &self.cfg;
        if self.st.episode.is_none() {
            let seed: u64 = self.st.act_rng.gen();
            self.obs = env.reset(seed);
            self.episode_actions.clear();
            self.st.episode = Some(Episode {
                seed,
                steps: 0,
                ret: 0.0,
            });
        }
        if t <= cfg.random_steps {
            for a in action.iter_mut() {
                *a = self.st.act_rng.gen_range(-1.0f32..=1.0);
            }
        } else {
            self.agent.explore(
                &self.obs,
                cfg.exploration_noise,
                &mut self.st.act_rng,
                action,
            );
        }
        let step = env.step(action)?;
        self.buffer
            .push(&self.obs, action, step.reward, &step.obs, step.terminated);
        self.st.env_steps = t;
        self.episode_actions.extend_from_slice(action);
        let ep = self.st.episode.as_mut().expect("episode");
        ep.steps += 1;
        ep.ret += step.reward as f64;
        if step.terminated || step.truncated {
            if !step.terminated {
                self.st.truncations.push_back(t - 1);
            }
            while self
                .st
                .truncations
                .front()
                .is_some_and(|&i| i + (cfg.buffer_size as u64) < t)
            {
                self.st.truncations.pop_front();
            }
            let success = env.success();
            self.st.episodes += 1;
            self.st.successes += success.unwrap_or(false) as u64;
            let line = format!(
                "{t},{},{:.6e},{}",
                ep.steps,
                ep.ret,
                success.map(|s| (s as u8).to_string()).unwrap_or_default()
            );
            if let Some(f) = episodes {
                writeln!(f, "{line}")?;
            }
            self.st.episode_lines.push(line);
            self.st.episode = None;
        } else {
            self.obs = step.obs;
        }
        Ok(())
    }

    /// The updates after environment step `t`: `utd` critic steps on batches mixing
    /// `n_off` offline rows with online ones, then (every `actor_every` steps) an actor
    /// step on the last batch.
    fn learn(&mut self, t: u64, batch: &mut Batch, n_off: usize) -> Result<()> {
        let (b, utd, actor_every) = (
            self.cfg.agent.batch_size,
            self.cfg.utd,
            self.cfg.actor_every,
        );
        let mut stats = Default::default();
        for _ in 0..utd {
            if let Some(d) = self.offline {
                d.sample_rows_into(&mut self.st.sample_rng, batch, 0, n_off);
            }
            self.buffer
                .sample_rows_into(&mut self.st.sample_rng, batch, n_off, b - n_off);
            stats = self.agent.update_critic(batch);
            if !stats.td_loss.is_finite() {
                bail!(
                    "training diverged at environment step {t}: TD loss is {}",
                    stats.td_loss
                );
            }
            self.st.updates += 1;
            self.st.acc.add_critic(&stats);
        }
        if t.is_multiple_of(actor_every) {
            self.agent.update_actor(batch, &mut stats);
            self.st.acc.add_actor(&stats);
        }
        Ok(())
    }
}

fn load_offline_data(cfg: &OnlineConfig) -> Result<Option<Transitions>> {
    match &cfg.dataset {
        Some(p) => Ok(Some(
            crate::data::load_transitions_with(Path::new(p), cfg.obs_keys.as_deref())?.1,
        )),
        None => Ok(None),
    }
}

/// Start a fresh online run in `out` (refusing a directory that holds another run:
/// `--resume` continues that one) and run it to the end; returns the final config,
/// the result and the run directory.
pub fn start_run(
    cfg: OnlineConfig,
    agent: Box<dyn Learner>,
    out: &Path,
    show_progress: bool,
) -> Result<(OnlineConfig, OnlineResult, PathBuf)> {
    let offline = load_offline_data(&cfg)?;
    let mut env = crate::envs::make_env_with_reference(&cfg.env, cfg.score_reference)?;
    let mut eval_env = crate::envs::make_env_with_reference(&cfg.env, cfg.score_reference)?;
    if let Some(d) = &offline {
        ensure!(
            (d.obs_dim, d.act_dim) == (env.obs_dim(), env.act_dim()),
            "dataset has obs/action dimensions {}/{} but environment {} has {}/{}",
            d.obs_dim,
            d.act_dim,
            cfg.env,
            env.obs_dim(),
            env.act_dim()
        );
    }
    let command = if cfg.from_run.is_some() {
        "finetune"
    } else {
        "online"
    };
    let online = OnlineRun::new(cfg, agent, offline.as_ref())?;
    let dir = LiveRunDir::create(out, command, online.cfg.steps, false)?;
    let toml = crate::run::config_toml(&online.cfg)?;
    crate::run::write_atomic(&RunPaths::new(out).online_config(), toml.as_bytes())?;
    drive_online(online, env.as_mut(), eval_env.as_mut(), dir, show_progress)
}

/// Continue the online run in `dir` from its last checkpoint, to `steps` environment
/// steps if given (else its configured length).
pub fn resume_run(
    dir: &Path,
    steps: Option<u64>,
    show_progress: bool,
) -> Result<(OnlineConfig, OnlineResult, PathBuf)> {
    let paths = RunPaths::new(dir);
    let (state, toml_path) = (paths.online_state(), paths.online_config());
    ensure!(
        toml_path.is_file(),
        "{} is not an online run directory (no {})",
        dir.display(),
        crate::run::paths::ONLINE_CONFIG_FILE
    );
    check_resumable(dir, &state, "start it again with a new --out")?;
    let text = std::fs::read_to_string(&toml_path)
        .with_context(|| format!("cannot read {}", toml_path.display()))?;
    let mut cfg: OnlineConfig = toml::from_str(&text).with_context(|| {
        format!(
            "{}: invalid {}",
            dir.display(),
            crate::run::paths::ONLINE_CONFIG_FILE
        )
    })?;
    // a new length goes through `load`, which accepts one that differs from the checkpoint's
    if let Some(n) = steps {
        cfg.steps = n;
    }
    let offline = load_offline_data(&cfg)?;
    let mut env = crate::envs::make_env_with_reference(&cfg.env, cfg.score_reference)?;
    let mut eval_env = crate::envs::make_env_with_reference(&cfg.env, cfg.score_reference)?;
    let online = OnlineRun::load(&state, cfg, offline.as_ref())
        .with_context(|| format!("cannot resume {}", dir.display()))?;
    let mut live = LiveRunDir::reopen(dir)?;
    if steps.is_some() {
        let toml = crate::run::config_toml(&online.cfg)?;
        crate::run::write_atomic(&toml_path, toml.as_bytes())?;
        live.set_total_steps(online.cfg.steps)?;
    }
    if show_progress {
        println!(
            "resuming {} at environment step {}",
            dir.display(),
            online.env_steps()
        );
    }
    drive_online(online, env.as_mut(), eval_env.as_mut(), live, show_progress)
}

/// `drive` for an online run: the final config with the result.
fn drive_online(
    mut online: OnlineRun,
    env: &mut dyn Env,
    eval_env: &mut dyn Env,
    dir: LiveRunDir,
    show_progress: bool,
) -> Result<(OnlineConfig, OnlineResult, PathBuf)> {
    let (res, path) = drive(dir, "environment step", |d| {
        online.run(env, Some(eval_env), Some(d), u64::MAX, show_progress)
    })?;
    Ok((online.cfg, res, path))
}

/// The replay buffer of an online run's state file as a D4RL dataset, oldest row
/// first. Terminals are the env's terminations; time-limit cuts and the final row
/// (unless terminal) are timeouts; next observations are stored. With `first`, only the
/// first rows, the last of them cut like a run's final row (errors if the buffer wrapped).
pub fn replay_dataset(state_path: &Path, first: Option<usize>) -> Result<RawDataset> {
    let mut f = StateFile::open(state_path)?;
    ensure!(
        f.header["kind"] == "online",
        "{} is not an online-run state file",
        state_path.display()
    );
    let cfg: OnlineConfig = toml::from_str(f.header["config"].as_str().unwrap_or(""))
        .with_context(|| format!("{}: malformed config", state_path.display()))?;
    let st: LoopState = serde_json::from_value(f.header["loop"].clone())
        .with_context(|| format!("{}: malformed loop state", state_path.display()))?;
    let od = f.header["obs_dim"].as_u64().context("obs_dim")? as usize;
    let ad = f.header["act_dim"].as_u64().context("act_dim")? as usize;
    f.skip("agent")?;
    let buf = f.read_replay("replay", cfg.buffer_size, st.env_steps, od, ad)?;
    let mut ds = buffer_dataset(&buf, cfg.buffer_size, &st, od, ad)
        .with_context(|| format!("{}", state_path.display()))?;
    if let Some(n) = first {
        ensure!(n > 0, "the number of rows must be positive");
        ensure!(
            st.env_steps as usize <= cfg.buffer_size,
            "{}: the buffer has dropped its oldest rows ({} steps, room for {}), so its first {n} steps are gone",
            state_path.display(),
            st.env_steps,
            cfg.buffer_size
        );
        ensure!(
            n <= ds.len(),
            "{} holds {} rows; {n} asked for",
            state_path.display(),
            ds.len()
        );
        ds.truncate(n);
        // the cut row ends as the last row of a run stopped there does
        ds.timeouts[n - 1] = !ds.terminals[n - 1];
    }
    Ok(ds)
}

impl OnlineRun<'_> {
    /// The replay buffer as a D4RL dataset (as `replay_dataset` reads it from a file).
    pub fn replay_raw(&self) -> Result<RawDataset> {
        buffer_dataset(
            &self.buffer,
            self.cfg.buffer_size,
            &self.st,
            self.agent.obs_dim(),
            self.agent.act_dim(),
        )
    }
}

/// Buffer rows oldest first; terminals are the env's terminations, time-limit cuts and
/// the final row (unless terminal) are timeouts; next observations are stored.
fn buffer_dataset(
    buf: &ReplayBuffer,
    buffer_size: usize,
    st: &LoopState,
    od: usize,
    ad: usize,
) -> Result<RawDataset> {
    let n = buf.len();
    ensure!(n > 0, "the replay buffer is empty");
    let pushed = st.env_steps;
    // slot of the oldest row, and the push index of slot 0
    let (first_slot, first_index) = if pushed as usize > buffer_size {
        let head = (pushed % buffer_size as u64) as usize;
        (head, pushed - n as u64)
    } else {
        (0, 0)
    };
    let order: Vec<usize> = (0..n).map(|k| (first_slot + k) % n).collect();
    let mut batch = Batch::new(n, od, ad);
    buf.copy_rows_into(&order, &mut batch, 0);
    let truncated: std::collections::HashSet<u64> = st.truncations.iter().copied().collect();
    let terminals: Vec<bool> = batch.dones.iter().map(|&d| d != 0.0).collect();
    let timeouts: Vec<bool> = (0..n)
        .map(|k| !terminals[k] && (truncated.contains(&(first_index + k as u64)) || k + 1 == n))
        .collect();
    let ds = RawDataset {
        observations: batch.obs,
        actions: batch.actions,
        rewards: batch.rewards,
        terminals,
        timeouts,
        next_observations: Some(batch.next_obs),
        obs_dim: od,
        act_dim: ad,
    };
    ds.validate()?;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algos::Agent;
    use crate::config::presets::preset;
    use crate::config::AgentConfig;
    use crate::envs::maze::{Layout, PointMaze};
    use crate::run::paths::{EPISODES_FILE, METRICS_FILE};

    /// The run directory at `p`: new, or reopened to go on.
    fn live(p: &Path) -> LiveRunDir {
        if p.exists() {
            LiveRunDir::reopen(p).unwrap()
        } else {
            LiveRunDir::create(p, "online", 0, false).unwrap()
        }
    }

    fn small_cfg(steps: u64) -> OnlineConfig {
        let agent = AgentConfig {
            hidden: 16,
            batch_size: 32,
            actor_subset: Some(1),
            beta: Some(0.0),
            ..preset("pointmaze").unwrap().agent
        };
        OnlineConfig {
            algo: "test".into(),
            agent,
            env: "pointmaze-umaze-v0".into(),
            steps,
            utd: 3,
            random_steps: 50,
            buffer_size: 150,
            eval_every: 100,
            eval_episodes: 1,
            log_every: 40,
            checkpoint_every: 120,
            ..OnlineConfig::default()
        }
    }

    fn fresh(cfg: &OnlineConfig) -> OnlineRun<'static> {
        let agent = Agent::new(cfg.agent.clone(), 4, 2, 0.0, cfg.steps, cfg.seed);
        OnlineRun::new(cfg.clone(), Box::new(agent), None).unwrap()
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn interrupted_and_resumed_in_process_matches_uninterrupted() {
        let cfg = small_cfg(400);
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut env = PointMaze::new(Layout::Umaze);
        let mut ev = PointMaze::new(Layout::Umaze);
        fresh(&cfg)
            .run(
                &mut env,
                Some(&mut ev),
                Some(&mut live(&a)),
                u64::MAX,
                false,
            )
            .unwrap();
        // stop at 250 (last checkpoint at 240, mid-episode), then resume from it
        let mut first = fresh(&cfg);
        first
            .run(&mut env, Some(&mut ev), Some(&mut live(&b)), 250, false)
            .unwrap();
        assert_eq!(first.env_steps(), 250);
        drop(first);
        let state = RunPaths::new(&b).online_state();
        let mut resumed = OnlineRun::load(&state, cfg.clone(), None).unwrap();
        assert_eq!(resumed.env_steps(), 240);
        // another maze cannot replay the interrupted episode: refused, nothing lost
        let mut wrong = PointMaze::new(Layout::Medium);
        let mut db = live(&b);
        let e = resumed
            .run(&mut wrong, Some(&mut ev), Some(&mut db), u64::MAX, false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not deterministic"), "{e}");
        let mut env2 = PointMaze::new(Layout::Umaze);
        resumed
            .run(&mut env2, Some(&mut ev), Some(&mut db), u64::MAX, false)
            .unwrap();
        for f in [METRICS_FILE, EPISODES_FILE] {
            assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
        }
        let (pa, pb) = (RunPaths::new(&a).policy(), RunPaths::new(&b).policy());
        assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
        // the buffer wrapped (400 pushes into 150 slots) and still exports in order
        let ds = replay_dataset(&RunPaths::new(&a).online_state(), None).unwrap();
        assert_eq!(ds.len(), 150);
        let next = ds.next_observations.as_ref().unwrap();
        for i in 0..149 {
            if !(ds.terminals[i] || ds.timeouts[i]) {
                assert_eq!(
                    &next[i * 4..i * 4 + 4],
                    &ds.observations[(i + 1) * 4..(i + 2) * 4]
                );
            }
        }
        assert!(ds.timeouts[149] || ds.terminals[149]);
    }

    #[test]
    fn resume_refuses_other_offline_data() {
        use crate::recipes::scripted::{collect, CollectConfig, Style};
        let data = |seed| {
            let raw = collect(&CollectConfig::new(
                Layout::Umaze,
                Style::Diverse,
                500,
                seed,
            ));
            Transitions::from_raw(&raw.unwrap()).unwrap()
        };
        let (a, b) = (data(0), data(1));
        let cfg = small_cfg(130);
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::new(cfg.agent.clone(), 4, 2, 0.0, 130, 0);
        let mut env = PointMaze::new(Layout::Umaze);
        let run_dir = dir.path().join("run");
        OnlineRun::new(cfg.clone(), Box::new(agent), Some(&a))
            .unwrap()
            .run(&mut env, None, Some(&mut live(&run_dir)), u64::MAX, false)
            .unwrap();
        let state = RunPaths::new(&run_dir).online_state();
        assert!(OnlineRun::load(&state, cfg.clone(), Some(&a)).is_ok());
        let e = OnlineRun::load(&state, cfg.clone(), Some(&b))
            .err()
            .unwrap();
        assert!(e.to_string().contains("offline dataset differs"), "{e}");
        let mut other = cfg.clone();
        other.utd = 4;
        let e = OnlineRun::load(&state, other, Some(&a)).err().unwrap();
        assert!(e.to_string().contains("different configuration"), "{e}");
    }

    /// Episodes alternate: cut by a 4-step time limit, then terminated at step 2.
    struct Toy {
        spec: crate::envs::EnvSpec,
        t: usize,
        episode: u64,
        done: bool,
    }

    impl Env for Toy {
        fn spec(&self) -> &crate::envs::EnvSpec {
            &self.spec
        }
        fn reset(&mut self, _seed: u64) -> Vec<f32> {
            self.t = 0;
            self.episode += 1;
            self.done = false;
            vec![0.0; 4]
        }
        fn step(&mut self, _a: &[f32]) -> Result<crate::envs::Step> {
            ensure!(!self.done, "step after the end");
            self.t += 1;
            let terminated = self.episode.is_multiple_of(2) && self.t == 2;
            let truncated = !terminated && self.t == 4;
            self.done = terminated || truncated;
            Ok(crate::envs::Step {
                obs: vec![self.t as f32; 4],
                reward: terminated as u8 as f32,
                terminated,
                truncated,
            })
        }
    }

    #[test]
    fn truncation_keeps_bootstrapping_and_termination_stops_it() {
        let mut cfg = small_cfg(12);
        cfg.env = "toy".into();
        let mut run = fresh(&cfg);
        let mut env = Toy {
            spec: crate::envs::EnvSpec::new("toy", 4, 2, 4),
            t: 0,
            episode: 0,
            done: true,
        };
        let res = run
            .run(&mut env, None, None, u64::MAX, false)
            .unwrap()
            .finished()
            .unwrap();
        // no goal, so no goal-reaching rate in the summary
        assert_eq!(res.train_success_rate, None);
        // episodes: 4 steps cut, 2 steps terminal, 4 cut, 2 terminal
        let mut batch = Batch::new(12, 4, 2);
        run.buffer
            .copy_rows_into(&(0..12).collect::<Vec<_>>(), &mut batch, 0);
        let dones: Vec<f32> = batch.dones.clone();
        let mut want = vec![0.0; 12];
        want[5] = 1.0;
        want[11] = 1.0;
        assert_eq!(dones, want, "only terminations stop bootstrapping");
        assert_eq!(batch.rewards[5], 1.0);
        assert_eq!(run.st.truncations, VecDeque::from(vec![3, 9]));
        assert_eq!(run.st.episodes, 4);
        // a cut row's next state is the last state of its episode, not a reset
        assert_eq!(&batch.next_obs[3 * 4..4 * 4], &[4.0; 4]);
        assert_eq!(&batch.obs[4 * 4..5 * 4], &[0.0; 4]);
    }
}
