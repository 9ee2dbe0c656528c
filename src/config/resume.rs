//! What a resumed offline run may change (`pars train --resume DIR --set ...`).
use super::{apply_overrides, TrainConfig};
use anyhow::{ensure, Context, Result};

/// Settings that `pars train --resume DIR --set ...` may change: they do not change
/// the networks, the data or what a step computes on them, only how long the run goes,
/// what it logs, and the weights, rates and noise of the losses.
pub const RESUMABLE_KEYS: [&str; 18] = [
    "steps",
    "tensorboard",
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

/// The config of a resumed offline run: `saved` (its `config.toml`, as text) with
/// `flags` and `--set` applied, validated and checked against `RESUMABLE_KEYS`.
/// Returns (saved, new).
pub fn resumed_train_config(
    saved_text: &str,
    what: &str,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
) -> Result<(TrainConfig, TrainConfig)> {
    let mut v: toml::Value =
        toml::from_str(saved_text).with_context(|| format!("{what} is not valid TOML"))?;
    let saved: TrainConfig = v
        .clone()
        .try_into()
        .with_context(|| format!("{what} is not a training config"))?;
    apply_overrides(&mut v, flags, sets)?;
    let cfg: TrainConfig = v.try_into().context("invalid configuration")?;
    cfg.validate()?;
    check_resumable_change(&saved, &cfg)?;
    Ok((saved, cfg))
}
