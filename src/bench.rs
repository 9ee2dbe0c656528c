//! `pars bench`: steps/s of the full PARS (and IQL, ReBRAC) update, FLOPs, fraction of
//! the measured GEMM peak, thread scaling, inference latency, a dataset-memory check and
//! the online loops' speed (PARS fine-tuning, SAC, RLPD).
use crate::algos::pars::Agent;
use crate::algos::Learner;
use crate::config::{AgentConfig, Algorithm, IqlConfig, SacConfig, TrainConfig};
use crate::data::{Batch, RawDataset, Transitions};
use crate::nn::gemm::{matmul, MatRef};
use crate::nn::{EnsembleMlp, Tape};
use crate::policy::Policy;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

/// What `pars bench` measures (the command's flags, see `cli::bench`).
#[derive(Clone, Debug)]
pub struct BenchSettings {
    /// Configurations to time (A, B, C: PARS / TD3+BC; D: IQL; E: ReBRAC).
    pub configs: Vec<String>,
    /// Timed steps per repeat.
    pub steps: usize,
    pub repeats: usize,
    /// Threads (`None`: all cores).
    pub threads: Option<usize>,
    /// Skip the 1-thread scaling run.
    pub no_scaling: bool,
    /// Also build a 1M-transition dataset and report peak resident memory.
    pub memory: bool,
    /// Print one JSON object instead of a table.
    pub json: bool,
    /// Environment steps of the UTD-20 online measurements (SAC, at UTD 1, takes 20×
    /// as many: the same number of updates); 0 skips them.
    pub online_steps: u64,
    /// Online loops to time: `pars` (fine-tuning), `sac`, `rlpd`.
    pub online: Vec<String>,
    /// Time these MuJoCo environments instead (empty: all).
    pub envs: Option<Vec<String>>,
    /// Environment steps timed per environment (with `envs`).
    pub env_steps: usize,
}

/// Simulation speed of one environment.
#[derive(Serialize, Clone, Debug)]
pub struct EnvBench {
    pub env: String,
    /// Our `Env::step` (action check, controls, physics, reward, observation).
    pub env_steps_per_s: f64,
    /// The same physics alone: `frame_skip` × `mj_step` per environment step, from the
    /// same start states with the same controls.
    pub raw_steps_per_s: f64,
    /// 1 − env / raw: the share of time spent outside MuJoCo.
    pub overhead: f64,
    pub frame_skip: usize,
}

/// Time `steps` environment steps with uniform random actions, best of `repeats`.
#[cfg(feature = "mujoco")]
pub fn bench_env(id: &str, steps: usize, repeats: usize) -> Result<EnvBench> {
    use crate::envs::mujoco::make_sim_env;
    use anyhow::Context;
    let mut env = make_sim_env(id)
        .with_context(|| format!("'{id}' is not a MuJoCo environment (see `pars envs`)"))??;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let act_dim = env.act_dim();
    let actions: Vec<Vec<f32>> = (0..steps)
        .map(|_| (0..act_dim).map(|_| rng.gen_range(-1.0f32..=1.0)).collect())
        .collect();
    // Episodes as (start qpos, qvel, task, first step, last step + 1).
    type Start = (Vec<f64>, Vec<f64>, Vec<f64>, usize, usize);
    let mut best_env = f64::INFINITY;
    let mut episodes: Vec<Start> = Vec::new();
    for _ in 0..repeats {
        episodes.clear();
        let mut elapsed = 0.0;
        let mut seed = 0;
        let mut t = 0;
        while t < steps {
            env.reset(seed);
            seed += 1;
            let sim = env.sim();
            let task = env.task_state();
            let mut ep = (sim.qpos().to_vec(), sim.qvel().to_vec(), task, t, t);
            while t < steps {
                let start = Instant::now();
                let s = env.step(&actions[t])?;
                elapsed += start.elapsed().as_secs_f64();
                t += 1;
                if s.terminated || s.truncated {
                    break;
                }
            }
            ep.4 = t;
            episodes.push(ep);
        }
        best_env = best_env.min(elapsed);
    }
    let ctrls: Vec<Vec<f64>> = actions.iter().map(|a| env.action_to_ctrl(a)).collect();
    let mut best_raw = f64::INFINITY;
    for _ in 0..repeats {
        let mut elapsed = 0.0;
        for (qpos, qvel, task, from, to) in &episodes {
            env.set_episode_state(qpos, qvel, task)?;
            let sim = env.sim_mut();
            let start = Instant::now();
            for c in &ctrls[*from..*to] {
                sim.step(c);
            }
            elapsed += start.elapsed().as_secs_f64();
        }
        best_raw = best_raw.min(elapsed);
    }
    let (env_rate, raw_rate) = (steps as f64 / best_env, steps as f64 / best_raw);
    Ok(EnvBench {
        env: env.id().to_string(),
        env_steps_per_s: env_rate,
        raw_steps_per_s: raw_rate,
        overhead: 1.0 - env_rate / raw_rate,
        frame_skip: env.sim().frame_skip,
    })
}

#[cfg(feature = "mujoco")]
fn run_env_bench(a: &BenchSettings, ids: &[String]) -> Result<()> {
    let ids: Vec<String> = if ids.is_empty() {
        crate::envs::mujoco::list_envs()
            .into_iter()
            .map(|e| e.id)
            .collect()
    } else {
        ids.to_vec()
    };
    anyhow::ensure!(a.env_steps > 0, "option --env-steps must be positive");
    let mut rows = Vec::new();
    for id in &ids {
        if !a.json {
            eprintln!("timing {id} ...");
        }
        rows.push(bench_env(id, a.env_steps, a.repeats.min(3))?);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<20} {:>12} {:>14} {:>10} {:>11}",
        "environment", "env steps/s", "raw MuJoCo/s", "overhead", "frame_skip"
    );
    for r in &rows {
        println!(
            "{:<20} {:>12.0} {:>14.0} {:>9.1}% {:>11}",
            r.env,
            r.env_steps_per_s,
            r.raw_steps_per_s,
            100.0 * r.overhead,
            r.frame_skip
        );
    }
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn run_env_bench(_a: &BenchSettings, _ids: &[String]) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo environments (built without the `mujoco` feature)")
}

#[derive(Serialize, Clone, Debug)]
pub struct ConfigResult {
    pub name: String,
    pub description: String,
    pub steps_per_s: f64,
    pub steps_per_s_min: f64,
    pub flops_per_step: f64,
    pub gflops: f64,
    pub peak_gflops: f64,
    pub fraction_of_peak: f64,
    pub threads: usize,
    pub steps_per_s_1_thread: Option<f64>,
    pub scaling: Option<f64>,
}

#[derive(Serialize, Debug)]
pub struct BenchReport {
    pub threads: usize,
    pub peak_gflops_1_thread: f64,
    pub peak_gflops: f64,
    pub configs: Vec<ConfigResult>,
    pub actor_latency_us: f64,
    pub actor_batch256_us: f64,
    pub peak_rss_mib_1m_dataset: Option<f64>,
    pub online: Vec<OnlineBench>,
}

/// An online run's speed: how much the online loop (acting, simulation, replay,
/// bookkeeping) adds to its updates.
#[derive(Serialize, Clone, Debug)]
pub struct OnlineBench {
    /// `pars`, `sac` or `rlpd`.
    pub name: String,
    pub description: String,
    pub env: String,
    pub utd: usize,
    pub env_steps_per_s: f64,
    /// Critic updates per second inside the update block (actor updates included).
    pub updates_per_s: f64,
    /// The same networks' offline update rate (critic + delayed actor, config-style).
    pub offline_steps_per_s: f64,
    /// Share of the loop's wall-clock time spent outside the updates.
    pub loop_overhead: f64,
}

/// One benchmark configuration: a learner on synthetic data of the given sizes.
pub struct BenchConfig {
    pub description: String,
    pub obs: usize,
    pub act: usize,
    pub agent: AgentConfig,
    /// IQL's settings (config D); `None`: PARS / TD3+BC.
    pub iql: Option<IqlConfig>,
    /// SAC's settings (the online SAC / RLPD learners); `None`: not SAC.
    pub sac: Option<SacConfig>,
}

impl BenchConfig {
    /// A training config that builds this learner.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            algorithm: if self.iql.is_some() {
                Algorithm::Iql
            } else if self.sac.is_some() {
                Algorithm::Sac
            } else {
                Algorithm::Pars
            },
            agent: self.agent.clone(),
            iql: self.iql.clone(),
            sac: self.sac.clone(),
            steps: 1_000_000,
            seed: 0,
            ..TrainConfig::default()
        }
    }

    /// A fresh learner (Q_min 0).
    pub fn learner(&self) -> Box<dyn Learner> {
        crate::algos::new_learner(&self.train_config(), self.obs, self.act, 0.0)
    }
}

/// The benchmark configurations of the speed issue (A, B, C), IQL's (D) and ReBRAC's (E).
pub fn bench_config(name: &str) -> Result<BenchConfig> {
    let base = AgentConfig {
        hidden: 256,
        batch_size: 256,
        ..AgentConfig::default()
    };
    let pars = |description: &str, obs, act, agent| BenchConfig {
        description: description.into(),
        obs,
        act,
        agent,
        iql: None,
        sac: None,
    };
    Ok(match name.to_ascii_uppercase().as_str() {
        "A" => pars(
            "halfcheetah: N=10, 2x256, LN, PA",
            17,
            6,
            AgentConfig {
                n_critics: 10,
                critic_depth: 2,
                actor_depth: 2,
                ..base
            },
        ),
        "B" => pars(
            "antmaze: N=4, 3x256, LN, PA",
            29,
            8,
            AgentConfig {
                n_critics: 4,
                critic_depth: 3,
                actor_depth: 3,
                gamma: 0.995,
                infeasible_distance: 1000.0,
                ..base
            },
        ),
        "C" => pars(
            "plain TD3+BC: N=2, 2x256",
            17,
            6,
            AgentConfig {
                hidden: 256,
                ..AgentConfig::td3bc()
            },
        ),
        "D" => {
            let p = crate::config::presets::preset("iql-rsln-pa")?;
            BenchConfig {
                description: "antmaze IQL+RS-LN+PA: 2xQ, V, 2x256".into(),
                obs: 29,
                act: 8,
                agent: p.agent,
                iql: p.iql,
                sac: None,
            }
        }
        // ReBRAC's batch of 1024 and depth-3 LN critics, BC in the actor and the target
        "E" => pars(
            "ReBRAC: N=2, 3x256, LN, batch 1024",
            17,
            6,
            crate::config::baselines::rebrac_preset("halfcheetah-medium-v2")
                .expect("ReBRAC has a halfcheetah-medium preset")
                .agent,
        ),
        other => {
            anyhow::bail!("unknown benchmark configuration '{other}' (known: A, B, C, D, E)")
        }
    })
}

/// FLOPs of one update (PARS: averaged over the policy delay), counted from shapes.
pub fn flops_per_step(c: &BenchConfig) -> f64 {
    let (cfg, obs, act) = (&c.agent, c.obs, c.act);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let actor = EnsembleMlp::new(crate::algos::pars::actor_spec(cfg, obs, act), 1, &mut rng);
    let critic = EnsembleMlp::new(crate::algos::pars::critic_spec(cfg, obs, act), 1, &mut rng);
    let b = cfg.batch_size;
    let n = cfg.n_critics as u64;
    let rows = if cfg.penalty { 2 * b } else { b };
    if let Some(iql) = &c.iql {
        let value = EnsembleMlp::new(crate::algos::iql::value_spec(cfg, iql, obs), 1, &mut rng);
        // Q̂ on (s, a); V on s and s' and its backward; the critics; the actor
        let step = n * critic.forward_flops(b)
            + 2 * value.forward_flops(b)
            + value.backward_flops(b, true, false)
            + n * (critic.forward_flops(rows) + critic.backward_flops(rows, true, false))
            + actor.forward_flops(b)
            + actor.backward_flops(b, true, false);
        return step as f64;
    }
    let critic_step = actor.forward_flops(b)
        + cfg.critic_subset as u64 * critic.forward_flops(b)
        + n * (critic.forward_flops(rows) + critic.backward_flops(rows, true, false));
    let actor_members = cfg.actor_subset.map(|s| s as u64).unwrap_or(n);
    let actor_step = actor.forward_flops(b)
        + actor_members * (critic.forward_flops(b) + critic.backward_flops(b, false, true))
        + actor.backward_flops(b, true, false);
    critic_step as f64 + actor_step as f64 / cfg.policy_delay as f64
}

fn synthetic_transitions(n: usize, obs: usize, act: usize, seed: u64) -> Transitions {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut raw = RawDataset {
        observations: (0..n * obs).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        actions: (0..n * act).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        rewards: (0..n).map(|_| rng.gen_range(0.0..1.0)).collect(),
        terminals: vec![false; n],
        timeouts: vec![false; n],
        next_observations: None,
        obs_dim: obs,
        act_dim: act,
    };
    raw.timeouts[n - 1] = true;
    Transitions::from_raw(&raw).expect("synthetic data is valid")
}

/// Single-precision GEMM rate on `threads` cores, each multiplying its own large
/// square matrices (the same kernels the engine uses).
pub fn gemm_peak_gflops(threads: usize) -> f64 {
    gemm_peak_gflops_tries(threads, 3)
}

/// The best of `tries` measurements of `gemm_peak_gflops`.
fn gemm_peak_gflops_tries(threads: usize, tries: usize) -> f64 {
    let n = 1024;
    let run = || {
        let a = vec![0.5f32; n * n];
        let b = vec![0.25f32; n * n];
        let mut c = vec![0.0f32; n * n];
        matmul(MatRef::new(&a, n, n), MatRef::new(&b, n, n), &mut c, false);
        let reps = 6;
        let t = Instant::now();
        for _ in 0..reps {
            matmul(MatRef::new(&a, n, n), MatRef::new(&b, n, n), &mut c, false);
        }
        2.0 * (n * n * n) as f64 * reps as f64 / t.elapsed().as_secs_f64() / 1e9
    };
    let mut best = 0.0f64;
    for _ in 0..tries {
        let total: f64 = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads).map(|_| s.spawn(run)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        best = best.max(total);
    }
    best
}

/// Median of a non-empty list.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// One configuration's timings, measured in rounds.
struct Timing {
    min: f64,
    median: f64,
    median_1_thread: Option<f64>,
    /// Medians over rounds of the ratios measured within each round.
    fraction_of_peak: f64,
    scaling: Option<f64>,
    peak: f64,
}

/// A configuration's learner on synthetic data, timed a number of updates at a time.
struct Stepper {
    data: Transitions,
    agent: Box<dyn Learner>,
    batch: Batch,
    rng: ChaCha8Rng,
}

impl Stepper {
    fn new(c: &BenchConfig) -> Self {
        Self {
            data: synthetic_transitions(10_000, c.obs, c.act, 1),
            agent: c.learner(),
            batch: Batch::new(c.agent.batch_size, c.obs, c.act),
            rng: ChaCha8Rng::seed_from_u64(2),
        }
    }

    /// Updates per second over `n` updates on `pool`.
    fn rate(&mut self, pool: &rayon::ThreadPool, n: usize) -> f64 {
        pool.install(|| {
            let t = Instant::now();
            for _ in 0..n {
                self.data.sample_into(&mut self.rng, &mut self.batch);
                self.agent.update(&self.batch);
            }
            n as f64 / t.elapsed().as_secs_f64()
        })
    }
}

/// Time a configuration in `repeats` rounds. Each round measures the GEMM peak on the
/// pool's cores, `steps` updates on the pool and (with `pool1`) `steps` updates on one
/// thread, back to back, so that a slow spell of a shared machine weighs on the step
/// rate and on the peak it is divided by alike; ratios are taken within a round.
fn time_config(
    c: &BenchConfig,
    steps: usize,
    repeats: usize,
    pool: &rayon::ThreadPool,
    pool1: Option<&rayon::ThreadPool>,
) -> Timing {
    let flops = flops_per_step(c);
    let mut a = Stepper::new(c);
    a.rate(pool, 10);
    let mut one = pool1.map(|p1| {
        let mut s = Stepper::new(c);
        s.rate(p1, 10);
        (s, p1)
    });
    let (mut rates, mut rates1, mut fractions, mut scalings, mut peaks) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..repeats {
        let peak = gemm_peak_gflops_tries(pool.current_num_threads(), 1);
        let rate = a.rate(pool, steps);
        rates.push(rate);
        peaks.push(peak);
        fractions.push(flops * rate / 1e9 / peak);
        if let Some((s, p1)) = one.as_mut() {
            let r1 = s.rate(p1, steps);
            rates1.push(r1);
            scalings.push(rate / r1);
        }
    }
    Timing {
        min: rates.iter().cloned().fold(f64::INFINITY, f64::min),
        median: median(rates),
        median_1_thread: pool1.map(|_| median(rates1)),
        fraction_of_peak: median(fractions),
        scaling: pool1.map(|_| median(scalings)),
        peak: median(peaks),
    }
}

/// Time an online run on Hopper: `pars`, a fine-tune with the hopper-medium preset's
/// online settings (UTD 20, S_actor 1, half of each batch from a synthetic offline
/// dataset); `sac`, SAC from scratch (UTD 1, 20× the environment steps); `rlpd`, RLPD
/// (UTD 20, 10 LN critics, half of each batch offline). Learning starts at once, so
/// every step is a steady-state step (acting with the policy, one update block).
fn bench_online(
    name: &str,
    env_steps: u64,
    repeats: usize,
    pool: &rayon::ThreadPool,
) -> Result<OnlineBench> {
    use crate::config::online::{scratch_config, OnlineAlgo};
    use crate::config::OnlineConfig;
    use crate::training::OnlineRun;
    let mut env = crate::envs::make_env("hopper-v2")?;
    let (obs, act) = (env.obs_dim(), env.act_dim());
    let quiet = |cfg: OnlineConfig, steps: u64| OnlineConfig {
        steps,
        random_steps: 0,
        learning_starts: 0,
        eval_every: 0,
        checkpoint_every: 0,
        log_every: steps.max(1),
        ..cfg
    };
    let (description, cfg) = match name {
        "pars" => {
            let p = crate::config::presets::preset("hopper-medium")?;
            let settings = p.online.clone().expect("hopper-medium has online settings");
            let cfg = OnlineConfig {
                algo: "bench".into(),
                agent: settings.online_agent(&p.agent),
                env: "hopper-v2".into(),
                offline_fraction: settings.offline_fraction,
                exploration_noise: settings.exploration_noise,
                ..OnlineConfig::default()
            };
            (
                "PARS fine-tune (hopper-medium preset)",
                quiet(cfg, env_steps),
            )
        }
        "sac" | "rlpd" => {
            let algo = if name == "sac" {
                OnlineAlgo::Sac
            } else {
                OnlineAlgo::Rlpd
            };
            let (cfg, _) = scratch_config(algo, None, None, "hopper-v2")?;
            let steps = env_steps * 20 / cfg.utd as u64;
            let description = if name == "sac" {
                "SAC: N=2, 2x256"
            } else {
                "RLPD: N=10, 2x256, LN, 50 % offline"
            };
            (description, quiet(cfg, steps))
        }
        other => anyhow::bail!("unknown online benchmark '{other}' (known: pars, sac, rlpd)"),
    };
    let data = (cfg.offline_fraction > 0.0).then(|| synthetic_transitions(10_000, obs, act, 5));
    let mut offline = Stepper::new(&BenchConfig {
        description: String::new(),
        obs,
        act,
        agent: cfg.agent.clone(),
        iql: None,
        sac: cfg.sac.clone(),
    });
    offline.rate(pool, 10);
    let offline = median(
        (0..repeats.min(3))
            .map(|_| offline.rate(pool, 50))
            .collect(),
    );
    let res = pool.install(|| -> Result<_> {
        let agent: Box<dyn Learner> = if cfg.sac.is_some() {
            crate::algos::new_online_learner(&cfg, obs, act)
        } else {
            Box::new(Agent::new(
                cfg.agent.clone(),
                obs,
                act,
                -100.0,
                cfg.steps,
                0,
            ))
        };
        let mut run = OnlineRun::new(cfg.clone(), agent, data.as_ref())?;
        run.run(env.as_mut(), None, None, u64::MAX, false)?
            .finished()
    })?;
    let update_share = cfg.utd as f64 * res.env_steps_per_s / res.updates_per_s;
    Ok(OnlineBench {
        name: name.into(),
        description: description.into(),
        env: cfg.env,
        utd: cfg.utd,
        env_steps_per_s: res.env_steps_per_s,
        updates_per_s: res.updates_per_s,
        offline_steps_per_s: offline,
        loop_overhead: 1.0 - update_share,
    })
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run_bench(a: BenchSettings) -> Result<()> {
    if let Some(ids) = &a.envs {
        return run_env_bench(&a, ids);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = a.threads.unwrap_or(cores).max(1);
    anyhow::ensure!(
        a.steps > 0 && a.repeats > 0,
        "options --steps and --repeats must be positive"
    );
    // names are checked before anything is timed
    for name in &a.configs {
        bench_config(name)?;
    }
    for name in &a.online {
        let n = name.trim().to_ascii_lowercase();
        anyhow::ensure!(
            ["pars", "sac", "rlpd"].contains(&n.as_str()),
            "unknown online benchmark '{name}' (known: pars, sac, rlpd)"
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let pool1 = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    if !a.json {
        eprintln!("measuring GEMM peak ...");
    }
    let peak1 = gemm_peak_gflops(1);
    let peak = if threads > 1 {
        gemm_peak_gflops(threads)
    } else {
        peak1
    };
    let mut configs = Vec::new();
    for name in &a.configs {
        let c = bench_config(name)?;
        let desc = c.description.clone();
        if !a.json {
            eprintln!("timing config {name} ({desc}) ...");
        }
        let flops = flops_per_step(&c);
        let scaling_pool = (threads > 1 && !a.no_scaling).then_some(&pool1);
        let t = time_config(&c, a.steps, a.repeats, &pool, scaling_pool);
        configs.push(ConfigResult {
            name: name.to_ascii_uppercase(),
            description: desc,
            steps_per_s: t.median,
            steps_per_s_min: t.min,
            flops_per_step: flops,
            gflops: flops * t.median / 1e9,
            peak_gflops: t.peak,
            fraction_of_peak: t.fraction_of_peak,
            threads,
            steps_per_s_1_thread: t.median_1_thread,
            scaling: t.scaling,
        });
    }
    // inference: deterministic actor, HalfCheetah shape
    let BenchConfig {
        obs,
        act,
        agent: cfg,
        ..
    } = bench_config("A")?;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let actor = EnsembleMlp::new(crate::algos::pars::actor_spec(&cfg, obs, act), 1, &mut rng);
    let mut policy = Policy::new(actor.clone());
    let o: Vec<f32> = (0..obs).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let reps = 20_000;
    let t = Instant::now();
    let mut sink = 0.0;
    for _ in 0..reps {
        sink += policy.act(&o)[0];
    }
    let latency = t.elapsed().as_secs_f64() / reps as f64 * 1e6;
    let obs256: Vec<f32> = (0..256 * obs).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut tape = Tape::new(&actor, 256);
    let mut out = vec![0.0; 256 * act];
    let reps_b = 2000;
    let t = Instant::now();
    for _ in 0..reps_b {
        policy.act_batch(&obs256, 256, &mut tape, &mut out);
        sink += out[0];
    }
    let batch_us = t.elapsed().as_secs_f64() / reps_b as f64 * 1e6;
    std::hint::black_box(sink);
    let rss = if a.memory {
        let data = synthetic_transitions(1_000_000, obs, act, 4);
        let mut agent = Agent::new(cfg.clone(), obs, act, 0.0, 1_000_000, 0);
        let mut batch = Batch::new(cfg.batch_size, obs, act);
        pool.install(|| {
            for _ in 0..20 {
                data.sample_into(&mut rng, &mut batch);
                agent.update(&batch);
            }
        });
        peak_rss_mib()
    } else {
        None
    };
    let mut online = Vec::new();
    for name in a.online.iter().filter(|_| a.online_steps > 0) {
        let name = name.trim().to_ascii_lowercase();
        if !cfg!(feature = "mujoco") {
            tracing::warn!("skipping the online measurements: this build has no MuJoCo");
            break;
        }
        if !a.json {
            eprintln!("timing online {name} on hopper ...");
        }
        online.push(bench_online(&name, a.online_steps, a.repeats, &pool)?);
    }
    let report = BenchReport {
        threads,
        peak_gflops_1_thread: peak1,
        peak_gflops: peak,
        configs,
        actor_latency_us: latency,
        actor_batch256_us: batch_us,
        peak_rss_mib_1m_dataset: rss,
        online,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("threads: {threads}   GEMM peak (f32, 1024^3): {:.1} GFLOP/s on 1 thread, {:.1} GFLOP/s on {threads}", peak1, peak);
    println!("(each configuration runs in rounds of peak, {threads}-thread and 1-thread timing; \"of peak\" and 2T/1T are medians of the rounds' ratios)");
    println!(
        "{:<4} {:<34} {:>10} {:>10} {:>12} {:>9} {:>8} {:>9}",
        "cfg", "description", "steps/s", "min", "MFLOP/step", "GFLOP/s", "of peak", "2T/1T"
    );
    for c in &report.configs {
        println!(
            "{:<4} {:<34} {:>10.1} {:>10.1} {:>12.1} {:>9.1} {:>7.1}% {:>9}",
            c.name,
            c.description,
            c.steps_per_s,
            c.steps_per_s_min,
            c.flops_per_step / 1e6,
            c.gflops,
            100.0 * c.fraction_of_peak,
            c.scaling
                .map(|s| format!("{s:.2}x"))
                .unwrap_or_else(|| "-".into())
        );
    }
    println!("actor inference (obs 17 → act 6, 2x256): {:.2} µs per observation, {:.1} µs per batch of 256", latency, batch_us);
    for o in &report.online {
        println!(
            "online {} ({}, {}, UTD {}): {:.1} env steps/s = {:.0} critic updates/s in the update block; {:.2} % of the time outside the updates (same networks offline: {:.1} steps/s)",
            o.name,
            o.description,
            o.env,
            o.utd,
            o.env_steps_per_s,
            o.updates_per_s,
            100.0 * o.loop_overhead,
            o.offline_steps_per_s
        );
    }
    if let Some(r) = rss {
        println!("peak resident memory with a 1M-transition dataset (config A): {r:.0} MiB");
    }
    Ok(())
}
