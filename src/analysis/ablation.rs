//! Ablation runner (paper Figs. 9, 11): the None / PA / LN / LN+PA × c_reward grid
//! and the |L_I| sweep (LN+PA), several seeds each, scored by evaluation in the
//! environment; bar charts with std error bars.
use super::{check_out, ensure_positive, finish, mean_std, progress, write_csv, RunSettings};
use crate::config::presets::preset;
use crate::config::TrainConfig;
use crate::envs::make_env;
use crate::plots::{bar_charts, BarSeries};
use crate::run::OutputDir;
use crate::training::train_offline;
use anyhow::{ensure, Context, Result};
use serde::Serialize;
use std::path::PathBuf;

/// What `pars analyze ablation` runs (its flags, parsed in `cli::analyze`).
#[derive(Debug, Clone)]
pub struct AblationSettings {
    /// Output directory.
    pub out: PathBuf,
    pub runs: RunSettings,
    /// Base preset (PARS settings for the dataset).
    pub preset: String,
    /// c_reward values of the LN/PA grid.
    pub c_values: Vec<f32>,
    /// |L_I| values of the distance sweep (each > 1).
    pub distances: Vec<f32>,
    /// c_reward of the distance sweep (default: the preset's).
    pub sweep_c: Option<f32>,
    /// Evaluation episodes at the end of each run (default 10, 2 when fast).
    pub eval_episodes: Option<usize>,
    /// Skip the distance sweep.
    pub no_distance: bool,
}

#[derive(Serialize, Clone, Debug)]
pub struct RunRow {
    /// "grid" or "distance".
    pub part: String,
    pub variant: String,
    pub layer_norm: bool,
    pub penalty: bool,
    pub c_reward: f32,
    pub distance: f32,
    pub seed: u64,
    pub score: f64,
    pub success: Option<f64>,
    /// Mean Q(s, a_data) over the last logging interval.
    pub q_data: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct Cell {
    pub part: String,
    pub variant: String,
    pub c_reward: f32,
    pub distance: f32,
    pub seeds: usize,
    pub score_mean: f64,
    pub score_std: f64,
}

const VARIANTS: [(&str, bool, bool); 4] = [
    ("None", false, false),
    ("PA", false, true),
    ("LN", true, false),
    ("LN+PA", true, true),
];

pub fn run(a: AblationSettings) -> Result<PathBuf> {
    ensure_positive("--c", &a.c_values)?;
    if !a.no_distance {
        ensure!(!a.distances.is_empty(), "option --distances needs a value");
        for d in &a.distances {
            ensure!(
                d.is_finite() && *d > 1.0,
                "option --distances: each |L_I| must exceed 1, the edge of the action box (got {d})"
            );
        }
    }
    let seeds = a.runs.seeds.unwrap_or(if a.runs.fast { 1 } else { 3 });
    ensure!(seeds > 0, "option --seeds must be positive");
    let steps = a
        .runs
        .steps
        .unwrap_or(if a.runs.fast { 200 } else { 20_000 });
    ensure!(steps > 0, "option --steps must be positive");
    let episodes = a.eval_episodes.unwrap_or(if a.runs.fast { 2 } else { 10 });
    ensure!(episodes > 0, "option --eval-episodes must be positive");
    let mut base = preset(&a.preset)?.agent;
    if let Some(h) = a.runs.hidden.or(if a.runs.fast { Some(16) } else { None }) {
        ensure!(h > 0, "option --hidden must be positive");
        base.hidden = h;
    }
    let sweep_c = a.sweep_c.unwrap_or(base.reward_scale);
    ensure_positive("--sweep-c", &[sweep_c])?;
    base.validate()?;
    check_out(&a.out)?;
    let data = a.runs.data.load(a.runs.fast)?;
    let env_id = data
        .env
        .clone()
        .context("ablation scores policies in an environment: give --env with --dataset")?;
    let mut env = make_env(&env_id)?;
    let tr = &data.transitions;
    ensure!(
        env.obs_dim() == tr.obs_dim && env.act_dim() == tr.act_dim,
        "dataset {} has obs/action dimensions {}/{} but environment {env_id} has {}/{}",
        data.name,
        tr.obs_dim,
        tr.act_dim,
        env.obs_dim(),
        env.act_dim()
    );

    // (part, variant, ln, pa, c, L)
    let mut jobs: Vec<(&str, &str, bool, bool, f32, f32)> = Vec::new();
    for &c in &a.c_values {
        for (name, ln, pa) in VARIANTS {
            jobs.push(("grid", name, ln, pa, c, base.infeasible_distance));
        }
    }
    if !a.no_distance {
        for &l in &a.distances {
            jobs.push(("distance", "LN+PA", true, true, sweep_c, l));
        }
    }
    let total = jobs.len() * seeds;
    let pb = progress(total as u64 * steps, "ablation", !a.runs.quiet);
    let t0 = std::time::Instant::now();
    let mut runs = Vec::new();
    for &(part, name, ln, pa, c, l) in &jobs {
        for s in 0..seeds as u64 {
            let seed = a.runs.seed + s;
            pb.set_message(format!("{part}: {name} c={c} L={l} seed={seed}"));
            let mut agent = base.clone();
            agent.critic_layer_norm = ln;
            agent.penalty = pa;
            agent.reward_scale = c;
            agent.infeasible_distance = l;
            let cfg = TrainConfig {
                algo: name.to_string(),
                agent,
                steps,
                seed,
                eval_every: 0,
                eval_episodes: episodes,
                log_every: (steps / 10).max(1),
                env: Some(env_id.clone()),
                ..TrainConfig::default()
            };
            let res = train_offline(&cfg, tr, Some(env.as_mut()), false)
                .with_context(|| format!("{part} run {name}, c_reward {c}, L {l}, seed {seed}"))?;
            let ev = res.final_eval.context("run was not evaluated")?;
            runs.push(RunRow {
                part: part.to_string(),
                variant: name.to_string(),
                layer_norm: ln,
                penalty: pa,
                c_reward: c,
                distance: l,
                seed,
                score: ev.mean_score,
                success: ev.success_rate,
                q_data: res.metrics.last().map(|m| m.q_data).unwrap_or(f64::NAN),
            });
            pb.inc(steps);
        }
    }
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();

    let mut cells = Vec::new();
    for &(part, name, _, _, c, l) in &jobs {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r.part == part && r.variant == name && r.c_reward == c && r.distance == l)
            .map(|r| r.score)
            .collect();
        let (m, s) = mean_std(&v);
        cells.push(Cell {
            part: part.to_string(),
            variant: name.to_string(),
            c_reward: c,
            distance: l,
            seeds: v.len(),
            score_mean: m,
            score_std: s,
        });
    }

    let run = OutputDir::create(&a.out)?;
    let cell = |part: &str, name: &str, c: f32, l: f32| {
        cells
            .iter()
            .find(|x| x.part == part && x.variant == name && x.c_reward == c && x.distance == l)
    };
    let grid_series: Vec<BarSeries> = VARIANTS
        .iter()
        .map(|(name, _, _)| {
            let cs: Vec<&Cell> = a
                .c_values
                .iter()
                .filter_map(|&c| cell("grid", name, c, base.infeasible_distance))
                .collect();
            BarSeries {
                name: name.to_string(),
                means: cs.iter().map(|c| c.score_mean).collect(),
                stds: cs.iter().map(|c| c.score_std).collect(),
            }
        })
        .collect();
    let mut charts = vec![(
        format!("LN / PA x c_reward ({})", data.name),
        "c_reward".to_string(),
        a.c_values.iter().map(|c| c.to_string()).collect(),
        grid_series,
    )];
    if !a.no_distance {
        let cs: Vec<&Cell> = a
            .distances
            .iter()
            .filter_map(|&l| cell("distance", "LN+PA", sweep_c, l))
            .collect();
        charts.push((
            format!("|L_I| sweep, LN+PA, c_reward = {sweep_c}"),
            "|L_I|".to_string(),
            a.distances.iter().map(|l| l.to_string()).collect(),
            vec![BarSeries {
                name: "LN+PA".into(),
                means: cs.iter().map(|c| c.score_mean).collect(),
                stds: cs.iter().map(|c| c.score_std).collect(),
            }],
        ));
    }
    bar_charts(
        &run.path().join("ablation.png"),
        &charts,
        &format!("normalised score ({seeds} seed(s), ± std)"),
    )?;
    let csv: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{},{},{},{},{:.4},{},{:.6e}",
                r.part,
                r.variant,
                r.layer_norm,
                r.penalty,
                r.c_reward,
                r.distance,
                r.seed,
                r.score,
                r.success.map(|s| format!("{s:.4}")).unwrap_or_default(),
                r.q_data
            )
        })
        .collect();
    write_csv(
        &run,
        "ablation.csv",
        "part,variant,layer_norm,penalty,c_reward,distance,seed,score,success,q_data",
        &csv,
    )?;
    run.write_json(
        "numbers.json",
        &serde_json::json!({
            "analysis": "ablation",
            "fast": a.runs.fast,
            "dataset": data.info(),
            "env": env_id,
            "preset": a.preset,
            "agent": base,
            "steps": steps,
            "seeds": seeds,
            "eval_episodes": episodes,
            "sweep_c": sweep_c,
            "seconds": secs,
            "definitions": {
                "score": "D4RL-normalised return of the deterministic actor after the last step, mean over eval_episodes",
                "cells": "mean and sample std of the score over seeds",
                "grid": "None / PA / LN / LN+PA at each c_reward, |L_I| from the preset",
                "distance": "LN+PA at sweep_c with infeasible actions in [-2L,-L] U [L,2L] per coordinate",
            },
            "cells": cells,
            "runs": runs,
        }),
    )?;
    let path = finish(run)?;
    if !a.runs.quiet {
        println!(
            "{:<9} {:<6} {:>9} {:>7} {:>16}",
            "part", "variant", "c_reward", "L", "score"
        );
        for c in &cells {
            println!(
                "{:<9} {:<6} {:>9} {:>7} {:>8.1} ± {:<6.1}",
                c.part, c.variant, c.c_reward, c.distance, c.score_mean, c.score_std
            );
        }
        println!("wrote {}", path.display());
    }
    Ok(path)
}
