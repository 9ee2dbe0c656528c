//! Dormant neurons of the critic vs c_reward, with and without LN (paper Fig. 7,
//! Table 12): TD3+BC runs on one dataset, the critic's hidden ReLU units measured
//! during training.
//!
//! Two measures (the paper's exact one is not stated; its "50 % is the maximum
//! expressivity for ReLU" reads as a per-sample activation rate):
//! - `dormant_ratio` = `Agent::dormant_ratio`, as logged by `pars train`: fraction of
//!   hidden units (all members and layers) whose activation is ≤ 0 for every row of
//!   the last training batch (threshold τ = 0);
//! - `inactive_fraction`: fraction of (unit, sample) pairs with activation ≤ 0 on a
//!   fixed probe set of dataset (s, a) pairs.
use super::{check_out, ensure_positive, finish, mean_std, progress, write_csv, RunSettings};
use crate::algos::pars::Agent;
use crate::config::presets::preset;
use crate::config::AgentConfig;
use crate::data::{Batch, Transitions};
use crate::envs::make_env;
use crate::eval::eval_learner;
use crate::nn::Tape;
use crate::plots::{plot_panels, Series};
use crate::run::OutputDir;
use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::PathBuf;

/// What `pars analyze dormant` runs (its flags, parsed in `cli::analyze`).
#[derive(Debug, Clone)]
pub struct DormantSettings {
    /// Output directory.
    pub out: PathBuf,
    pub runs: RunSettings,
    /// Base preset (TD3+BC as in the paper's Fig. 7).
    pub preset: String,
    /// c_reward values.
    pub c_values: Vec<f32>,
    /// Probe rows for the inactive fraction (default 2048, 256 when fast).
    pub probe_rows: Option<usize>,
    /// Measurement points per run.
    pub points: u64,
    /// Evaluation episodes at the end of each run (0 = no evaluation; default 10, 2 when fast).
    pub eval_episodes: Option<usize>,
}

#[derive(Serialize, Clone, Debug)]
pub struct CurvePoint {
    pub step: u64,
    pub dormant_ratio: f64,
    pub inactive_fraction: f64,
    pub q_data: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct RunResult {
    pub c: f32,
    pub layer_norm: bool,
    pub seed: u64,
    pub curve: Vec<CurvePoint>,
    pub score: Option<f64>,
}

#[derive(Serialize, Clone, Debug)]
pub struct TableRow {
    pub c: f32,
    pub layer_norm: bool,
    pub seeds: usize,
    /// Final values, mean ± std over seeds.
    pub dormant_mean: f64,
    pub dormant_std: f64,
    pub inactive_mean: f64,
    pub inactive_std: f64,
    pub q_data_mean: f64,
    pub score_mean: Option<f64>,
    pub score_std: Option<f64>,
}

/// Probe inputs: `rows` random dataset (s, a) pairs, concatenated.
pub fn probe_inputs(tr: &Transitions, rows: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9B0BE);
    let (od, ad) = (tr.obs_dim, tr.act_dim);
    let mut x = Vec::with_capacity(rows * (od + ad));
    for _ in 0..rows {
        let i = rng.gen_range(0..tr.len());
        x.extend_from_slice(&tr.obs[i * od..(i + 1) * od]);
        x.extend_from_slice(&tr.actions[i * ad..(i + 1) * ad]);
    }
    x
}

/// Fraction of (hidden unit, probe row) pairs of the critic with activation ≤ 0.
pub fn inactive_fraction(agent: &Agent, probe: &[f32], tape: &mut Tape) -> f64 {
    let net = &agent.critic;
    let rows = probe.len() / net.spec.input;
    let members: Vec<usize> = (0..net.members).collect();
    net.forward(probe, rows, &members, tape);
    let (mut off, mut total) = (0usize, 0usize);
    for m in 0..net.members {
        for l in 0..net.spec.depth {
            let h = tape.hidden(m, l);
            off += h.iter().filter(|v| **v <= 0.0).count();
            total += h.len();
        }
    }
    off as f64 / total.max(1) as f64
}

pub fn run(a: DormantSettings) -> Result<PathBuf> {
    ensure_positive("--c", &a.c_values)?;
    let seeds = a.runs.seeds.unwrap_or(1);
    ensure!(seeds > 0, "option --seeds must be positive");
    ensure!(a.points > 0, "option --points must be positive");
    let steps = a
        .runs
        .steps
        .unwrap_or(if a.runs.fast { 300 } else { 20_000 });
    ensure!(steps > 0, "option --steps must be positive");
    let probe_rows = a.probe_rows.unwrap_or(if a.runs.fast { 256 } else { 2048 });
    ensure!(probe_rows > 0, "option --probe-rows must be positive");
    let episodes = a.eval_episodes.unwrap_or(if a.runs.fast { 2 } else { 10 });
    let base: AgentConfig = {
        let mut cfg = preset(&a.preset)?.agent;
        if let Some(h) = a.runs.hidden.or(if a.runs.fast { Some(32) } else { None }) {
            ensure!(h > 0, "option --hidden must be positive");
            cfg.hidden = h;
        }
        cfg
    };
    base.validate()?;
    check_out(&a.out)?;
    let data = a.runs.data.load(a.runs.fast)?;
    let tr = &data.transitions;
    let mut env = match (&data.env, episodes > 0) {
        (Some(id), true) => {
            let env = make_env(id)?;
            ensure!(
                env.obs_dim() == tr.obs_dim && env.act_dim() == tr.act_dim,
                "dataset {} has obs/action dimensions {}/{} but environment {id} has {}/{}",
                data.name,
                tr.obs_dim,
                tr.act_dim,
                env.obs_dim(),
                env.act_dim()
            );
            Some(env)
        }
        _ => None,
    };
    let probe = probe_inputs(tr, probe_rows, a.runs.seed);
    let every = (steps / a.points).max(1);
    let settings: Vec<(f32, bool, u64)> = a
        .c_values
        .iter()
        .flat_map(|&c| [false, true].map(|ln| (c, ln)))
        .flat_map(|(c, ln)| (0..seeds as u64).map(move |s| (c, ln, a.runs.seed + s)))
        .collect();
    let pb = progress(settings.len() as u64 * steps, "dormant", !a.runs.quiet);
    let t0 = std::time::Instant::now();
    let mut runs = Vec::new();
    for &(c, ln, seed) in &settings {
        pb.set_message(format!("c={c} LN={ln} seed={seed}"));
        let cfg = AgentConfig {
            reward_scale: c,
            critic_layer_norm: ln,
            ..base.clone()
        };
        let q_min = cfg.resolve_q_min(tr.reward_min());
        let mut agent = Agent::new(cfg.clone(), tr.obs_dim, tr.act_dim, q_min, steps, seed);
        let mut tape = Tape::new(&agent.critic, probe_rows);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_DA7A);
        let mut batch = Batch::new(cfg.batch_size, tr.obs_dim, tr.act_dim);
        let mut curve = Vec::new();
        let (mut q_acc, mut n_acc) = (0.0f64, 0u64);
        for step in 1..=steps {
            tr.sample_into(&mut rng, &mut batch);
            let st = agent.update(&batch);
            ensure!(
                st.td_loss.is_finite(),
                "training diverged (c={c}, LN={ln}, seed {seed}) at step {step}"
            );
            q_acc += st.q_data as f64;
            n_acc += 1;
            if step % every == 0 || step == steps {
                curve.push(CurvePoint {
                    step,
                    dormant_ratio: agent.dormant_ratio().unwrap_or(f64::NAN),
                    inactive_fraction: inactive_fraction(&agent, &probe, &mut tape),
                    q_data: q_acc / n_acc as f64,
                });
                q_acc = 0.0;
                n_acc = 0;
            }
            pb.inc(1);
        }
        let score = match env.as_deref_mut() {
            Some(env) => Some(eval_learner(&agent, env, episodes)?.mean_score),
            None => None,
        };
        runs.push(RunResult {
            c,
            layer_norm: ln,
            seed,
            curve,
            score,
        });
    }
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();

    let mut table = Vec::new();
    for &c in &a.c_values {
        for ln in [false, true] {
            let rs: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.c == c && r.layer_norm == ln)
                .collect();
            let last = |f: &dyn Fn(&CurvePoint) -> f64| -> Vec<f64> {
                rs.iter().map(|r| f(r.curve.last().unwrap())).collect()
            };
            let (dm, ds) = mean_std(&last(&|p| p.dormant_ratio));
            let (im, is) = mean_std(&last(&|p| p.inactive_fraction));
            let (qm, _) = mean_std(&last(&|p| p.q_data));
            let scores: Vec<f64> = rs.iter().filter_map(|r| r.score).collect();
            let (sm, ss) = mean_std(&scores);
            table.push(TableRow {
                c,
                layer_norm: ln,
                seeds: rs.len(),
                dormant_mean: dm,
                dormant_std: ds,
                inactive_mean: im,
                inactive_std: is,
                q_data_mean: qm,
                score_mean: (!scores.is_empty()).then_some(sm),
                score_std: (!scores.is_empty()).then_some(ss),
            });
        }
    }

    let run = OutputDir::create(&a.out)?;
    // curves averaged over seeds, one series per (c, LN)
    let labels: Vec<String> = table
        .iter()
        .map(|t| format!("c={}{}", t.c, if t.layer_norm { " LN" } else { "" }))
        .collect();
    let series = |f: &dyn Fn(&CurvePoint) -> f64| -> Vec<Series> {
        table
            .iter()
            .zip(&labels)
            .map(|(t, name)| {
                let rs: Vec<&RunResult> = runs
                    .iter()
                    .filter(|r| r.c == t.c && r.layer_norm == t.layer_norm)
                    .collect();
                let points = rs[0]
                    .curve
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let v: Vec<f64> = rs.iter().map(|r| f(&r.curve[i])).collect();
                        (p.step as f64, mean_std(&v).0)
                    })
                    .collect();
                Series { name, points }
            })
            .collect()
    };
    plot_panels(
        &run.path().join("dormant.png"),
        &[
            (
                "dormant ratio % (unit off on all batch rows)",
                "gradient steps",
                series(&|p| 100.0 * p.dormant_ratio),
            ),
            (
                "inactive fraction % (unit, sample)",
                "gradient steps",
                series(&|p| 100.0 * p.inactive_fraction),
            ),
            ("mean Q(s, a_data)", "gradient steps", series(&|p| p.q_data)),
        ],
    )?;
    let mut rows = Vec::new();
    for r in &runs {
        for p in &r.curve {
            rows.push(format!(
                "{},{},{},{},{:.6},{:.6},{:.6e}",
                r.c, r.layer_norm, r.seed, p.step, p.dormant_ratio, p.inactive_fraction, p.q_data
            ));
        }
    }
    write_csv(
        &run,
        "dormant_curves.csv",
        "c,layer_norm,seed,step,dormant_ratio,inactive_fraction,q_data",
        &rows,
    )?;
    let trows: Vec<String> = table
        .iter()
        .map(|t| {
            format!(
                "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6e},{},{}",
                t.c,
                t.layer_norm,
                t.seeds,
                t.dormant_mean,
                t.dormant_std,
                t.inactive_mean,
                t.inactive_std,
                t.q_data_mean,
                t.score_mean.map(|v| format!("{v:.3}")).unwrap_or_default(),
                t.score_std.map(|v| format!("{v:.3}")).unwrap_or_default()
            )
        })
        .collect();
    write_csv(
        &run,
        "dormant.csv",
        "c,layer_norm,seeds,dormant_mean,dormant_std,inactive_mean,inactive_std,q_data_mean,score_mean,score_std",
        &trows,
    )?;
    run.write_json(
        "numbers.json",
        &serde_json::json!({
            "analysis": "dormant",
            "fast": a.runs.fast,
            "dataset": data.info(),
            "preset": a.preset,
            "agent": base,
            "steps": steps,
            "probe_rows": probe_rows,
            "eval_episodes": episodes,
            "seconds": secs,
            "definitions": {
                "dormant_ratio": "fraction of the critic's hidden units (all members, all hidden layers) whose post-activation value is <= 0 (tau = 0) for every row of the last training batch; Agent::dormant_ratio, as in metrics.csv",
                "inactive_fraction": "fraction of (hidden unit, probe sample) pairs with post-activation value <= 0, on a fixed probe set of dataset (s, a); 1 - activation rate",
                "final": "values at the last step, mean and sample std over seeds",
            },
            "table": table,
            "runs": runs,
        }),
    )?;
    let path = finish(run)?;
    if !a.runs.quiet {
        println!(
            "{:>8} {:>4} {:>16} {:>16} {:>12} {:>8}",
            "c", "LN", "dormant %", "inactive %", "Q(s,a)", "score"
        );
        for t in &table {
            println!(
                "{:>8} {:>4} {:>9.1} ± {:<4.1} {:>9.1} ± {:<4.1} {:>12.3} {:>8}",
                t.c,
                if t.layer_norm { "yes" } else { "no" },
                100.0 * t.dormant_mean,
                100.0 * t.dormant_std,
                100.0 * t.inactive_mean,
                100.0 * t.inactive_std,
                t.q_data_mean,
                t.score_mean
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or("-".into())
            );
        }
        println!(
            "definitions: dormant = hidden unit with activation <= 0 on every row of a {}-row training batch; inactive = share of (unit, sample) pairs <= 0 on {probe_rows} dataset rows",
            base.batch_size
        );
        println!("wrote {}", path.display());
    }
    Ok(path)
}
