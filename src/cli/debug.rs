//! `pars debug` (hidden): developer tools for checking pars against independent code.
//!
//! - `pars debug trace` writes an update trace for the Python/JAX reference
//!   (tests/reference/, `scripts/reference.sh`);
//! - `pars debug act` writes a policy's actions for given observations (checked
//!   against a numpy forward pass by tests/reference/policy_numpy.py).
use super::common::{policy_file, Output};
use crate::config::presets::{resolve_train_config, TrainSources};
use crate::policy::Policy;
use crate::training::trace::run_trace;
use anyhow::{ensure, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(hide = true)]
pub struct DebugArgs {
    #[command(subcommand)]
    command: DebugCommand,
}

#[derive(Subcommand, Debug)]
enum DebugCommand {
    /// Run K offline updates and write an update trace (inputs, random draws, losses,
    /// the state before and after every step) for the Python reference.
    Trace(TraceArgs),
    /// Actions of a saved policy for observations read from a JSON file.
    Act(ActArgs),
}

#[derive(Args, Debug)]
struct TraceArgs {
    /// D4RL or Minari HDF5 dataset (its dimensions set obs_dim and act_dim).
    #[arg(long)]
    dataset: PathBuf,
    /// Named preset (see `pars presets`).
    #[arg(long, default_value = "pars")]
    preset: String,
    /// Any config field, e.g. --set agent.hidden=32 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Updates to record (K).
    #[arg(long)]
    steps: u64,
    /// Seed of initialisation, batch sampling and the update's draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Case name stored in the trace (default: the output file's stem).
    #[arg(long)]
    case: Option<String>,
    /// Output trace file (.safetensors).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ActArgs {
    /// A policy file (policy.safetensors), an agent checkpoint or a run directory.
    #[arg(long)]
    policy: PathBuf,
    /// JSON file: a list of observations (each a list of numbers), or one observation.
    #[arg(long)]
    obs: PathBuf,
    /// Output JSON file (a list of actions); stdout when omitted.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(a: DebugArgs, out: &Output) -> Result<()> {
    match a.command {
        DebugCommand::Trace(t) => trace(t, out),
        DebugCommand::Act(t) => act(t),
    }
}

fn trace(a: TraceArgs, out: &Output) -> Result<()> {
    ensure!(a.steps > 0, "option --steps must be positive");
    let src = TrainSources {
        preset: Some(a.preset.clone()),
        flags: vec![
            ("steps".into(), toml::Value::try_from(a.steps)?),
            ("seed".into(), toml::Value::try_from(a.seed)?),
        ],
        sets: a.set.clone(),
        ..TrainSources::default()
    };
    let cfg = resolve_train_config(&src)?;
    ensure!(
        a.dataset.is_file(),
        "dataset file {} does not exist",
        a.dataset.display()
    );
    let (_, data) = crate::data::load_transitions(&a.dataset)?;
    let case = match &a.case {
        Some(c) => c.clone(),
        None => a
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "trace".into()),
    };
    let file = run_trace(&cfg, &data, &case)?.file;
    let bytes = file.to_bytes()?;
    crate::run::write_atomic(&a.out, &bytes)?;
    if !out.quiet {
        println!(
            "trace '{case}': {} updates, obs/action dimensions {}/{}, {} bytes -> {}",
            a.steps,
            data.obs_dim,
            data.act_dim,
            bytes.len(),
            a.out.display()
        );
    }
    Ok(())
}

fn act(a: ActArgs) -> Result<()> {
    let path = policy_file(&a.policy);
    let policy = Policy::load(&path)?;
    let text = std::fs::read_to_string(&a.obs)
        .with_context(|| format!("cannot read {}", a.obs.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", a.obs.display()))?;
    let rows: Vec<Vec<f32>> = match &v {
        serde_json::Value::Array(x) if x.first().is_some_and(|r| r.is_array()) => {
            serde_json::from_value(v.clone())
        }
        _ => serde_json::from_value(v.clone()).map(|r| vec![r]),
    }
    .with_context(|| {
        format!(
            "{}: expected a list of observations (lists of numbers)",
            a.obs.display()
        )
    })?;
    let od = policy.obs_dim();
    for (i, r) in rows.iter().enumerate() {
        ensure!(
            r.len() == od,
            "{}: observation {i} has {} values, the policy takes {od}",
            a.obs.display(),
            r.len()
        );
    }
    let n = rows.len().max(1);
    let flat: Vec<f32> = rows.concat();
    let mut tape = crate::nn::Tape::new(&policy.net, n);
    let mut acts = vec![0.0f32; n * policy.act_dim()];
    if !rows.is_empty() {
        policy.act_batch(&flat, rows.len(), &mut tape, &mut acts);
    }
    let out: Vec<&[f32]> = acts
        .chunks_exact(policy.act_dim())
        .take(rows.len())
        .collect();
    let json = serde_json::to_string(&out)?;
    match &a.out {
        Some(p) => crate::run::write_atomic(p, json.as_bytes())?,
        None => println!("{json}"),
    }
    Ok(())
}
