//! `pars demo`: build a dataset with no download, train PARS and TD3+BC on it with
//! several seeds at once, and compare them as mean ± std over seeds and over training.
//! The default task is the generated `hopper-random-net` dataset (a random network plus
//! noise), the study's (docs/study.md) closest affordable setting to the paper's
//! random-data results; `--task maze` is the
//! built-in point-mass maze.
use super::common::Output;
use crate::config::presets::{resolve_train_config, TrainSources};
use crate::data;
use crate::envs::maze::Layout;
use crate::eval::mean_std;
use crate::recipes::scripted::{collect, CollectConfig, Style};
use crate::training::{train_run, FinishedRun};
use anyhow::{ensure, Context, Result};
use clap::Args;
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the dataset and the runs go.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Seed of the dataset and of the first run (runs use seed, seed+1, ...).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training seeds per algorithm.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Data and task: hopper-random (the `hopper-random-net` recipe, MuJoCo Hopper) or maze
    /// (the scripted point-mass maze dataset, see --layout).
    #[arg(long, value_enum, default_value_t = Task::default())]
    pub task: Task,
    /// Maze layout of the maze task.
    #[arg(long, default_value = "medium")]
    pub layout: String,
    /// Gradient steps per run (default 10000 for hopper-random, 20000 for maze).
    #[arg(long)]
    pub steps: Option<u64>,
    /// A much shorter run (for smoke tests).
    #[arg(long)]
    pub fast: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    HopperRandom,
    Maze,
}

impl Default for Task {
    fn default() -> Self {
        if cfg!(feature = "mujoco") {
            Task::HopperRandom
        } else {
            Task::Maze
        }
    }
}

/// What a task trains on: the dataset's file name, its evaluation environment, the
/// (preset, label) of the compared algorithms, settings for every run, rows, steps,
/// evaluation episodes.
struct Setting {
    data_name: String,
    env: String,
    algos: [(&'static str, &'static str); 2],
    sets: Vec<(String, toml::Value)>,
    rows: usize,
    steps: u64,
    episodes: usize,
}

pub fn run(a: DemoArgs, out: &Output) -> Result<()> {
    ensure!(a.seeds > 0, "option --seeds must be positive");
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let s = match a.task {
        Task::HopperRandom => Setting {
            data_name: "hopper-random-net".into(),
            env: "hopper-random-v2".into(),
            // the paper's hopper-random preset (Table 11) against plain TD3+BC; width 64
            // instead of 256 keeps the demo to a few minutes on two cores
            algos: [("hopper-random-v2", "PARS"), ("td3bc", "TD3+BC")],
            sets: vec![("agent.hidden".into(), toml::Value::Integer(64))],
            rows: if a.fast { 5_000 } else { 200_000 },
            steps: if a.fast {
                300
            } else {
                a.steps.unwrap_or(10_000)
            },
            episodes: if a.fast { 2 } else { 10 },
        },
        Task::Maze => {
            let layout = Layout::from_name(&a.layout)
                .with_context(|| format!("option --layout: unknown maze layout '{}'", a.layout))?;
            Setting {
                data_name: CollectConfig::new(layout, Style::Diverse, 1, a.seed).dataset_id(),
                env: layout.env_id(),
                algos: [("pointmaze", "PARS"), ("pointmaze-td3bc", "TD3+BC")],
                sets: Vec::new(),
                rows: if a.fast { 20_000 } else { 200_000 },
                steps: if a.fast {
                    1_000
                } else {
                    a.steps.unwrap_or(20_000)
                },
                episodes: if a.fast { 5 } else { 20 },
            }
        }
    };
    let (steps, episodes) = (s.steps, s.episodes);
    let data_path = a.out.join(format!("{}.hdf5", s.data_name));
    println!(
        "1/2 building {} rows of {} (seed {})",
        s.rows, s.data_name, a.seed
    );
    let ds = match a.task {
        Task::HopperRandom => {
            let r = crate::recipes::recipe("hopper-random-net")?;
            crate::recipes::build(&r, Some(s.rows), a.seed, false)?
        }
        Task::Maze => {
            let layout = Layout::from_name(&a.layout).expect("checked above");
            collect(&CollectConfig::new(layout, Style::Diverse, s.rows, a.seed))?
        }
    };
    data::write_d4rl(&data_path, &ds)?;
    let env_id = s.env.clone();
    let algos = s.algos;
    let seeds: Vec<u64> = (a.seed..a.seed + a.seeds).collect();
    let cells: Vec<(&str, &str, u64)> = algos
        .iter()
        .flat_map(|&(p, l)| seeds.iter().map(move |&s| (p, l, s)))
        .collect();
    let jobs = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(cells.len());
    println!(
        "2/2 training {} for {steps} steps, seeds {}..={} ({} runs, {jobs} at a time)",
        algos.map(|x| x.1).join(" and "),
        seeds[0],
        seeds[seeds.len() - 1],
        cells.len()
    );
    let v = |x: u64| toml::Value::Integer(x as i64);
    let run_one =
        |&(preset, label, seed): &(&str, &str, u64)| -> Result<(String, u64, FinishedRun)> {
            let dir = a.out.join(format!("{}-s{seed}", label.replace('+', "")));
            let cfg = resolve_train_config(&TrainSources {
                preset: Some(preset.to_string()),
                env: Some(env_id.clone()),
                label: Some(label.to_string()),
                flags: [
                    ("steps".to_string(), v(steps)),
                    ("seed".into(), v(seed)),
                    ("eval_every".into(), v((steps / 5).max(1))),
                    ("eval_episodes".into(), v(episodes as u64)),
                    ("log_every".into(), v((steps / 100).max(1))),
                ]
                .into_iter()
                .chain(s.sets.iter().cloned())
                .collect(),
                ..TrainSources::default()
            })?;
            let done = train_run(&cfg, &data_path, &dir, true, false)?;
            if !out.quiet {
                let ev = done.result.final_eval.as_ref().expect("demo runs evaluate");
                println!(
                    "    {label:<7} seed {seed}: score {:5.1}{} ({:.0} steps/s)",
                    ev.mean_score,
                    ev.success_rate
                        .map(|s| format!(", success {:3.0}%", 100.0 * s))
                        .unwrap_or_default(),
                    done.result.steps_per_s
                );
            }
            Ok((label.to_string(), seed, done))
        };
    // runs are independent and each is deterministic, so running them side by side
    // changes no number
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let results: Vec<(String, u64, FinishedRun)> =
        pool.install(|| cells.par_iter().map(run_one).collect::<Result<Vec<_>>>())?;

    println!(
        "\nResults on {env_id} ({} seeds, {steps} steps each, {episodes} evaluation episodes per run):",
        seeds.len()
    );
    println!(
        "{:<8} {:>15} {:>15}   {:<24} runs",
        "algo", "score", "success (%)", "score per seed"
    );
    for &(_, label) in &algos {
        let mine: Vec<&(String, u64, FinishedRun)> =
            results.iter().filter(|r| r.0 == label).collect();
        let score: Vec<f64> = mine
            .iter()
            .map(|r| r.2.result.final_eval.as_ref().map_or(0.0, |e| e.mean_score))
            .collect();
        let success: Vec<f64> = mine
            .iter()
            .filter_map(|r| r.2.result.final_eval.as_ref().and_then(|e| e.success_rate))
            .map(|s| 100.0 * s)
            .collect();
        let (sm, ss) = mean_std(&score);
        let success = if success.is_empty() {
            "-".to_string()
        } else {
            let (cm, cs) = mean_std(&success);
            format!("{cm:.1} ± {cs:.1}")
        };
        let per: Vec<String> = score.iter().map(|s| format!("{s:.1}")).collect();
        println!(
            "{:<8} {:>7.1} ± {:<5.1} {:>15}   {:<24} {}",
            label,
            sm,
            ss,
            success,
            per.join(" "),
            a.out
                .join(format!("{}-s*", label.replace('+', "")))
                .display()
        );
    }
    // The final number is one point of a moving curve (docs/study.md): show the curve.
    let curve = |label: &str| -> Vec<(u64, f64)> {
        let per_run: Vec<Vec<(u64, f64)>> = results
            .iter()
            .filter(|r| r.0 == label)
            .map(|r| {
                r.2.result
                    .metrics
                    .iter()
                    .filter(|m| m.step > 0)
                    .filter_map(|m| m.eval_score.map(|s| (m.step, s)))
                    .collect()
            })
            .collect();
        (0..per_run[0].len())
            .map(|i| {
                let at: Vec<f64> = per_run
                    .iter()
                    .filter_map(|c| c.get(i).map(|x| x.1))
                    .collect();
                (per_run[0][i].0, mean_std(&at).0)
            })
            .collect()
    };
    let curves: Vec<Vec<(u64, f64)>> = algos.iter().map(|&(_, l)| curve(l)).collect();
    let header: Vec<String> = curves[0].iter().map(|(s, _)| format!("{s:>7}")).collect();
    println!("\nMean score over seeds at each evaluation (gradient steps):");
    println!("{:<8} {}", "", header.join(""));
    for (&(_, label), c) in algos.iter().zip(&curves) {
        let row: Vec<String> = c.iter().map(|(_, m)| format!("{m:>7.1}")).collect();
        println!("{label:<8} {}", row.join(""));
    }
    Ok(())
}
