//! `pars demo`: collect a built-in maze dataset, train PARS and TD3+BC on it, compare.
use super::common::{print_train_summary, Output};
use crate::algos::presets::{resolve_train_config, TrainSources};
use crate::algos::train::train_run;
use crate::data;
use crate::envs::collect::{collect, CollectConfig, Style};
use crate::envs::maze::Layout;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

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

pub fn run(a: DemoArgs, out: &Output) -> Result<()> {
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
        let dir = a
            .out
            .join(format!("{}-s{}", label.replace('+', ""), a.seed));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let v = |x: u64| toml::Value::Integer(x as i64);
        let cfg = resolve_train_config(&TrainSources {
            preset: Some(preset.to_string()),
            env: Some(env_id.clone()),
            label: Some(label.to_string()),
            flags: vec![
                ("steps".into(), v(steps)),
                ("seed".into(), v(a.seed)),
                ("eval_every".into(), v((steps / 5).max(1))),
                ("eval_episodes".into(), v(episodes as u64)),
                ("log_every".into(), v((steps / 100).max(1))),
            ],
            ..TrainSources::default()
        })?;
        let done = train_run(&cfg, &data_path, &dir, true, out.progress())?;
        if !out.quiet {
            print_train_summary(label, &done.result);
            println!("run directory: {}", done.dir.display());
        }
        results.push((label.to_string(), done));
    }
    println!(
        "\nResults on {env_id} ({} evaluation episodes, seed {}, {} steps each):",
        episodes, a.seed, steps
    );
    println!(
        "{:<8} {:>16} {:>9} {:>10}  run",
        "algo", "score", "success", "steps/s"
    );
    for (label, done) in &results {
        let ev = done
            .result
            .final_eval
            .as_ref()
            .expect("demo always evaluates");
        println!(
            "{:<8} {:>8.1} ± {:<5.1} {:>8.0}% {:>10.0}  {}",
            label,
            ev.mean_score,
            ev.std_score,
            100.0 * ev.success_rate.unwrap_or(0.0),
            done.result.steps_per_s,
            done.dir.display()
        );
    }
    Ok(())
}
