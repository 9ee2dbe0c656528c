//! Command implementations behind the `pars` binary.
use crate::algos::presets::{preset, preset_names};
use crate::algos::train::{train_offline, TrainResult};
use crate::algos::TrainConfig;
use crate::data::{self, RawDataset, Transitions};
use crate::envs::collect::{collect, CollectConfig, Style};
use crate::envs::maze::Layout;
use crate::envs::{list_envs, make_env};
use crate::eval::evaluate;
use crate::nn::Activation;
use crate::policy::Policy;
use crate::run::RunDir;
use anyhow::{ensure, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "pars",
    version,
    about = "PARS: offline and offline-to-online RL (Penalizing infeasible Actions and Reward Scaling)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum EnvsCommand {
    /// Replay reference trajectories recorded from the Python environments
    /// (scripts/crosscheck.py) and compare observations, rewards and termination.
    #[cfg(feature = "mujoco")]
    Crosscheck {
        /// Trace files (JSON) written by scripts/crosscheck.py.
        #[arg(required = true)]
        traces: Vec<std::path::PathBuf>,
        /// Largest allowed |ours − reference| / max(1, |reference|).
        #[arg(long, default_value_t = 1e-5)]
        tol: f64,
    },
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Collect a D4RL HDF5 dataset: a maze with the scripted controller, a saved
    /// policy in any environment (--policy), or an online run's replay buffer (--from-run).
    Collect(CollectArgs),
    /// Train offline (PARS, TD3+BC or an ablation) on a dataset.
    Train(TrainArgs),
    /// Fine-tune an offline run online (exploration, mixed replay, UTD 20); resumable.
    Finetune(crate::cli_online::FinetuneArgs),
    /// Learn online from scratch (TD3, or the PARS critic with --algo pars); resumable.
    Online(crate::cli_online::OnlineArgs),
    /// Evaluate a saved policy in an environment.
    Eval(EvalArgs),
    /// Inspect datasets.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// List the environments (id, observation and action sizes, episode limit).
    Envs {
        #[command(subcommand)]
        command: Option<EnvsCommand>,
    },
    /// List the hyperparameter presets.
    Presets,
    /// Collect a built-in maze dataset, train PARS and TD3+BC on it and compare them.
    Demo(DemoArgs),
    /// Time the PARS training step and inference (see README).
    Bench(crate::bench::BenchArgs),
    /// Reproduce the paper's analyses
    Analyze {
        #[command(subcommand)]
        command: crate::analysis::cli::AnalyzeCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Episodes, transitions, terminals, timeouts, dimensions, reward range.
    Info { file: PathBuf },
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Environment, e.g. pointmaze-umaze-v0 or hopper-v2 (see `pars envs`).
    #[arg(long, default_value = "pointmaze-umaze-v0")]
    pub env: String,
    /// Mazes: diverse (random starts and goals, the default), play (hand-picked goals) or
    /// random (uniform random actions). Other environments: random (the default).
    #[arg(long)]
    pub style: Option<String>,
    /// Rows to collect.
    #[arg(long, default_value_t = 1_000_000)]
    pub steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Std of the Gaussian noise on the controller's actions.
    #[arg(long, default_value_t = 0.3)]
    pub noise: f32,
    /// Output HDF5 file.
    #[arg(long)]
    pub out: PathBuf,
    /// Roll out this saved policy (policy.pnet or a run directory) in --env instead.
    #[arg(long, conflicts_with = "from_run")]
    pub policy: Option<PathBuf>,
    /// Std of the Gaussian noise on the policy's actions (with --policy).
    #[arg(long, default_value_t = 0.0)]
    pub policy_noise: f32,
    /// Export the replay buffer of a finished `pars online`/`pars finetune` run instead.
    #[arg(long)]
    pub from_run: Option<PathBuf>,
}

#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    /// D4RL or Minari HDF5 dataset.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Environment for evaluation (e.g. pointmaze-umaze-v0); omit to skip evaluation.
    #[arg(long)]
    pub env: Option<String>,
    /// Named preset (see `pars presets`); default "pars".
    #[arg(long)]
    pub preset: Option<String>,
    /// TOML file with fields of the run config (top level) and `[agent]`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run directory (default runs/<preset>-<dataset>-s<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub eval_every: Option<u64>,
    #[arg(long)]
    pub eval_episodes: Option<usize>,
    #[arg(long)]
    pub log_every: Option<u64>,
    /// c_reward.
    #[arg(long)]
    pub reward_scale: Option<f32>,
    /// α, weight of the infeasible-action penalty.
    #[arg(long)]
    pub alpha: Option<f32>,
    /// β, behaviour-cloning weight.
    #[arg(long)]
    pub beta: Option<f32>,
    /// L, distance of the infeasible region.
    #[arg(long)]
    pub infeasible_distance: Option<f32>,
    /// LayerNorm in the critic (true/false).
    #[arg(long)]
    pub layer_norm: Option<bool>,
    /// Infeasible-action penalty (true/false).
    #[arg(long)]
    pub penalty: Option<bool>,
    /// Ensemble size N.
    #[arg(long)]
    pub n_critics: Option<usize>,
    /// S_critic, members in the min of the TD target.
    #[arg(long)]
    pub critic_subset: Option<usize>,
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    #[arg(long)]
    pub hidden: Option<usize>,
    #[arg(long)]
    pub critic_depth: Option<usize>,
    #[arg(long)]
    pub actor_depth: Option<usize>,
    #[arg(long)]
    pub gamma: Option<f32>,
    #[arg(long)]
    pub policy_noise: Option<f32>,
    /// Minimum reward of the task (default: the dataset's).
    #[arg(long)]
    pub r_min: Option<f32>,
    /// Any config field, e.g. --set agent.tau=0.01 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Label for tables and plots (default: the preset name).
    #[arg(long)]
    pub label: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A policy file (policy.pnet) or a run directory.
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub env: String,
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    #[arg(long, default_value_t = crate::algos::train::EVAL_SEED)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the dataset and the two runs go.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Maze layout of the built-in dataset.
    #[arg(long, default_value = "medium")]
    pub layout: String,
    /// Gradient steps per algorithm.
    #[arg(long, default_value_t = 20_000)]
    pub steps: u64,
    /// A much shorter run (for smoke tests).
    #[arg(long)]
    pub fast: bool,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Collect(a) => cmd_collect(a),
        Command::Train(a) => cmd_train(a).map(|_| ()),
        Command::Finetune(a) => crate::cli_online::cmd_finetune(a),
        Command::Online(a) => crate::cli_online::cmd_online(a),
        Command::Eval(a) => cmd_eval(a),
        Command::Data {
            command: DataCommand::Info { file },
        } => cmd_data_info(&file),
        #[cfg(feature = "mujoco")]
        Command::Envs {
            command: Some(EnvsCommand::Crosscheck { traces, tol }),
        } => crate::envs::mujoco::crosscheck::run(&traces, tol),
        Command::Envs { .. } => {
            println!(
                "{:<28} {:>7} {:>7} {:>13}",
                "environment", "obs_dim", "act_dim", "episode_limit"
            );
            for (id, o, a, t) in list_envs() {
                println!("{id:<28} {o:>7} {a:>7} {t:>13}");
            }
            Ok(())
        }
        Command::Presets => {
            for n in preset_names() {
                println!("{n}");
            }
            Ok(())
        }
        Command::Demo(a) => cmd_demo(a),
        Command::Bench(a) => crate::bench::run_bench(a),
        Command::Analyze { command } => crate::analysis::cli::run(command),
    }
}

fn cmd_collect(a: CollectArgs) -> Result<()> {
    if a.policy.is_some() || a.from_run.is_some() {
        return crate::cli_online::collect_extra(&a);
    }
    ensure!(a.steps > 0, "option --steps must be positive");
    let layout = Layout::from_env_id(&a.env).or_else(|| Layout::from_name(&a.env));
    let style_name = a.style.as_deref().unwrap_or(if layout.is_some() {
        "diverse"
    } else {
        "random"
    });
    if style_name == "random" {
        return collect_random(&a);
    }
    let Some(layout) = layout else {
        anyhow::bail!(
            "option --style {style_name}: environment {} has only --style random (or --policy)",
            a.env
        );
    };
    let style: Style = style_name
        .parse()
        .map_err(|e| anyhow::anyhow!("option --style: {e}"))?;
    let cfg = CollectConfig {
        action_noise: a.noise,
        ..CollectConfig::new(layout, style, a.steps, a.seed)
    };
    let ds = collect(&cfg)?;
    data::write_d4rl(&a.out, &ds)?;
    println!(
        "wrote {} ({} rows, {})",
        a.out.display(),
        ds.len(),
        cfg.dataset_id()
    );
    Ok(())
}

/// Uniform random actions in any environment (D4RL's `-random` datasets).
fn collect_random(a: &CollectArgs) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let mut env = make_env(&a.env)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0x5eed_0f_ac71_0a5);
    let act_dim = env.act_dim();
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = crate::algos::train::progress_bar(a.steps as u64, "collect", show);
    let mut n = 0u64;
    let ds = crate::envs::collect::rollout_policy(
        env.as_mut(),
        |_| {
            n += 1;
            if n % 1000 == 0 {
                bar.set_position(n);
            }
            (0..act_dim).map(|_| rng.gen_range(-1.0f32..=1.0)).collect()
        },
        a.steps,
        0.0,
        a.seed,
    )?;
    bar.finish_and_clear();
    data::write_d4rl(&a.out, &ds)?;
    println!(
        "wrote {} ({} rows of uniform random actions in {})",
        a.out.display(),
        ds.len(),
        a.env
    );
    Ok(())
}

/// Load a dataset for training: read, clip out-of-box actions (with a warning), build transitions.
pub fn load_transitions(path: &Path) -> Result<(RawDataset, Transitions)> {
    let mut raw = data::minari::read_dataset(path)?;
    let clipped = data::d4rl::clip_actions(&mut raw);
    if clipped > 0 {
        tracing::warn!(
            "{}: {clipped} action values lay outside [-1, 1] and were clipped",
            path.display()
        );
        eprintln!(
            "warning: {}: {clipped} action values lay outside [-1, 1] and were clipped",
            path.display()
        );
    }
    let tr = Transitions::from_raw(&raw)
        .with_context(|| format!("{}: cannot build transitions", path.display()))?;
    Ok((raw, tr))
}

/// Merge `over` into `base` (tables recursively).
fn merge_toml(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge_toml(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

pub(crate) fn set_path(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<()> {
    let mut cur = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .with_context(|| format!("option --set {key}: '{p}' is not a table"))?;
        if i + 1 == parts.len() {
            table.insert(p.to_string(), value);
            return Ok(());
        }
        cur = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

/// Apply flag values, then the `--set KEY=VALUE` strings, to a config tree.
pub(crate) fn apply_overrides(
    v: &mut toml::Value,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
) -> Result<()> {
    for (k, val) in flags {
        set_path(v, &k, val)?;
    }
    for s in sets {
        let (k, val) = parse_set(s)?;
        set_path(v, &k, val)?;
    }
    Ok(())
}

pub(crate) fn parse_set(kv: &str) -> Result<(String, toml::Value)> {
    let (k, v) = kv
        .split_once('=')
        .with_context(|| format!("option --set expects KEY=VALUE, got '{kv}'"))?;
    let doc: toml::Table =
        toml::from_str(&format!("v = {v}")).or_else(|_| toml::from_str(&format!("v = \"{v}\"")))?;
    Ok((k.trim().to_string(), doc["v"].clone()))
}

/// preset → TOML file → flags, validated.
pub fn resolve_config(a: &TrainArgs) -> Result<TrainConfig> {
    // Without --preset, a D4RL dataset id in --env (`hopper-medium-v2`) picks its preset.
    let preset_name = match (&a.preset, &a.env) {
        (Some(p), _) => p.clone(),
        (None, Some(env)) if preset(env).is_ok() => {
            eprintln!("using preset {env} (from --env; --preset overrides)");
            env.clone()
        }
        _ => "pars".into(),
    };
    let p = preset(&preset_name)?;
    let base = TrainConfig {
        algo: a.label.clone().unwrap_or_else(|| p.name.clone()),
        agent: p.agent,
        env: a.env.clone(),
        ..TrainConfig::default()
    };
    let mut v = toml::Value::try_from(&base)?;
    if let Some(path) = &a.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let over: toml::Value = toml::from_str(&text)
            .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        merge_toml(&mut v, over);
    }
    let mut sets: Vec<(String, toml::Value)> = Vec::new();
    macro_rules! flag {
        ($field:ident, $key:expr) => {
            if let Some(x) = a.$field.clone() {
                sets.push(($key.to_string(), toml::Value::try_from(x)?));
            }
        };
    }
    flag!(steps, "steps");
    flag!(seed, "seed");
    flag!(eval_every, "eval_every");
    flag!(eval_episodes, "eval_episodes");
    flag!(log_every, "log_every");
    flag!(batch_size, "agent.batch_size");
    flag!(reward_scale, "agent.reward_scale");
    flag!(alpha, "agent.alpha");
    flag!(beta, "agent.beta");
    flag!(infeasible_distance, "agent.infeasible_distance");
    flag!(layer_norm, "agent.critic_layer_norm");
    flag!(penalty, "agent.penalty");
    flag!(n_critics, "agent.n_critics");
    flag!(critic_subset, "agent.critic_subset");
    flag!(activation, "agent.activation");
    flag!(hidden, "agent.hidden");
    flag!(critic_depth, "agent.critic_depth");
    flag!(actor_depth, "agent.actor_depth");
    flag!(gamma, "agent.gamma");
    flag!(policy_noise, "agent.policy_noise");
    flag!(r_min, "agent.r_min");
    apply_overrides(&mut v, sets, &a.set)?;
    let cfg: TrainConfig = v.try_into().context("invalid configuration")?;
    cfg.validate()?;
    Ok(cfg)
}

fn default_run_dir(cfg: &TrainConfig, dataset: &Path) -> PathBuf {
    let stem = dataset
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "data".into());
    let label = crate::run::sanitize_label(&cfg.algo);
    crate::run::unique_run_dir(PathBuf::from("runs").join(format!("{label}-{stem}-s{}", cfg.seed)))
}

/// Train and return the result and the finished run directory.
pub fn cmd_train(a: TrainArgs) -> Result<(TrainResult, PathBuf)> {
    let cfg = resolve_config(&a)?;
    ensure!(
        a.dataset.exists(),
        "dataset file {} does not exist",
        a.dataset.display()
    );
    let (_, tr) = load_transitions(&a.dataset)?;
    let mut env = match &cfg.env {
        Some(id) => {
            let env = make_env(id)?;
            ensure!(
                env.obs_dim() == tr.obs_dim && env.act_dim() == tr.act_dim,
                "dataset {} has obs/action dimensions {}/{} but environment {id} has {}/{}",
                a.dataset.display(),
                tr.obs_dim,
                tr.act_dim,
                env.obs_dim(),
                env.act_dim()
            );
            Some(env)
        }
        None => None,
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_run_dir(&cfg, &a.dataset));
    let run = RunDir::create(&out)?;
    run.write_text("config.toml", &toml::to_string_pretty(&cfg)?)?;
    run.write_json(
        "dataset.json",
        &serde_json::json!({ "path": a.dataset.display().to_string(), "transitions": tr.len() }),
    )?;
    let res = train_offline(&cfg, &tr, env.as_deref_mut(), Some(&run), !a.quiet)?;
    if let Some(ev) = &res.final_eval {
        run.write_json("final_eval.json", ev)?;
    }
    let path = run.finish()?;
    if !a.quiet {
        print_result(&cfg.algo, &res);
        println!("run directory: {}", path.display());
    }
    Ok((res, path))
}

fn print_result(label: &str, res: &TrainResult) {
    match &res.final_eval {
        Some(ev) => println!(
            "{label}: normalised score {:.1} ± {:.1}, return {:.3}{} ({:.0} steps/s)",
            ev.mean_score,
            ev.std_score,
            ev.mean_return,
            ev.success_rate
                .map(|s| format!(", success {:.0}%", 100.0 * s))
                .unwrap_or_default(),
            res.steps_per_s
        ),
        None => println!(
            "{label}: trained ({:.0} steps/s), no evaluation environment",
            res.steps_per_s
        ),
    }
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let path = if a.policy.is_dir() {
        a.policy.join("policy.pnet")
    } else {
        a.policy.clone()
    };
    let mut policy = Policy::load(&path)?;
    let mut env = make_env(&a.env)?;
    ensure!(
        policy.obs_dim() == env.obs_dim() && policy.act_dim() == env.act_dim(),
        "policy {} has obs/action dimensions {}/{} but environment {} has {}/{}",
        path.display(),
        policy.obs_dim(),
        policy.act_dim(),
        a.env,
        env.obs_dim(),
        env.act_dim()
    );
    ensure!(a.episodes > 0, "option --episodes must be positive");
    let ev = evaluate(env.as_mut(), |o| policy.act(o).to_vec(), a.episodes, a.seed)?;
    println!("{}", serde_json::to_string_pretty(&ev)?);
    Ok(())
}

fn cmd_data_info(file: &Path) -> Result<()> {
    let raw = data::minari::read_dataset(file)?;
    let s = data::d4rl::summarize(&raw);
    println!("{}\n{s}", file.display());
    Ok(())
}

fn cmd_demo(a: DemoArgs) -> Result<()> {
    let layout = Layout::from_name(&a.layout)
        .with_context(|| format!("option --layout: unknown maze layout '{}'", a.layout))?;
    let (rows, steps, episodes) = if a.fast {
        (20_000, 1_000, 5)
    } else {
        (200_000, a.steps, 20)
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let cfg = CollectConfig::new(layout, Style::Diverse, rows, a.seed);
    let data_path = a.out.join(format!("{}.hdf5", cfg.dataset_id()));
    println!(
        "1/3 collecting {} rows of {} with the scripted controller (seed {})",
        rows,
        cfg.dataset_id(),
        a.seed
    );
    let ds = collect(&cfg)?;
    data::write_d4rl(&data_path, &ds)?;
    let env_id = layout.env_id();
    let mut results = Vec::new();
    for (i, (preset, label)) in [("pointmaze", "PARS"), ("pointmaze-td3bc", "TD3+BC")]
        .iter()
        .enumerate()
    {
        println!(
            "{}/3 training {label} for {steps} steps (seed {})",
            i + 2,
            a.seed
        );
        let out = a
            .out
            .join(format!("{}-s{}", label.replace('+', ""), a.seed));
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        let args = TrainArgs {
            dataset: data_path.clone(),
            env: Some(env_id.clone()),
            preset: Some(preset.to_string()),
            out: Some(out),
            steps: Some(steps),
            seed: Some(a.seed),
            eval_every: Some((steps / 5).max(1)),
            eval_episodes: Some(episodes),
            log_every: Some((steps / 100).max(1)),
            label: Some(label.to_string()),
            ..TrainArgs::default()
        };
        let (res, path) = cmd_train(args)?;
        results.push((label.to_string(), res, path));
    }
    println!(
        "\nResults on {env_id} ({} evaluation episodes, seed {}, {} steps each):",
        episodes, a.seed, steps
    );
    println!(
        "{:<8} {:>16} {:>9} {:>10}  run",
        "algo", "score", "success", "steps/s"
    );
    for (label, res, path) in &results {
        let ev = res.final_eval.as_ref().expect("demo always evaluates");
        println!(
            "{:<8} {:>8.1} ± {:<5.1} {:>8.0}% {:>10.0}  {}",
            label,
            ev.mean_score,
            ev.std_score,
            100.0 * ev.success_rate.unwrap_or(0.0),
            res.steps_per_s,
            path.display()
        );
    }
    Ok(())
}
