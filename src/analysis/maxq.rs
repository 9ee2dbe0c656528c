//! Max-Q action norm (paper Table 1): fit Q to the behaviour policy by offline SARSA
//! (the target uses the dataset's next action), then find argmax_a Q(s, a) inside the
//! action box by projected gradient ascent from several starts, and compare
//! ‖a‖ / √act_dim of those actions with the dataset's.
use super::{check_out, finish, mean_std, progress, write_csv, RunSettings};
use crate::algos::pars::{critic_spec, infeasible_coordinate};
use crate::config::presets::preset;
use crate::config::AgentConfig;
use crate::data::RawDataset;
use crate::nn::{polyak, Adam, EnsembleMlp, LrSchedule, Tape};
use crate::plots::{bar_charts, BarSeries};
use crate::run::OutputDir;
use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::PathBuf;

/// What `pars analyze maxq` runs (its flags, parsed in `cli::analyze`).
#[derive(Debug, Clone)]
pub struct MaxqSettings {
    /// Output directory.
    pub out: PathBuf,
    pub runs: RunSettings,
    /// Preset giving the critic's shape, γ, α and L.
    pub preset: String,
    /// Critic variants: none, ln, ln_pa.
    pub variants: Vec<String>,
    /// c_reward of the SARSA targets.
    pub reward_scale: f32,
    /// Critic ensemble size (Q = mean over members).
    pub n_critics: usize,
    /// Dataset states searched (default 1000, 64 when fast).
    pub states: Option<usize>,
    /// Random starts per state.
    pub starts: usize,
    /// Gradient-ascent steps (Adam on the action, clipped to the box after each).
    pub ascent_steps: Option<usize>,
    /// Adam's learning rate of the ascent.
    pub ascent_lr: f32,
}

/// (s, a, r, s', a', done) rows; a' = the dataset's next action (0 after a terminal).
pub struct Sarsa {
    pub obs: Vec<f32>,
    pub act: Vec<f32>,
    pub rew: Vec<f32>,
    pub next_obs: Vec<f32>,
    pub next_act: Vec<f32>,
    pub done: Vec<f32>,
    pub od: usize,
    pub ad: usize,
}

impl Sarsa {
    pub fn from_raw(raw: &RawDataset) -> Result<Sarsa> {
        let (od, ad, n) = (raw.obs_dim, raw.act_dim, raw.len());
        let mut s = Sarsa {
            obs: Vec::new(),
            act: Vec::new(),
            rew: Vec::new(),
            next_obs: Vec::new(),
            next_act: Vec::new(),
            done: Vec::new(),
            od,
            ad,
        };
        let stored = raw.next_observations.as_ref();
        for i in 0..n {
            let terminal = raw.terminals[i];
            if !terminal && (raw.timeouts[i] || i + 1 == n) {
                continue; // next action unknown
            }
            s.obs
                .extend_from_slice(&raw.observations[i * od..(i + 1) * od]);
            s.act.extend_from_slice(&raw.actions[i * ad..(i + 1) * ad]);
            s.rew.push(raw.rewards[i]);
            let j = if terminal { i } else { i + 1 };
            match stored {
                Some(no) => s.next_obs.extend_from_slice(&no[i * od..(i + 1) * od]),
                None => s
                    .next_obs
                    .extend_from_slice(&raw.observations[j * od..(j + 1) * od]),
            }
            if terminal {
                s.next_act.extend(std::iter::repeat_n(0.0, ad));
            } else {
                s.next_act
                    .extend_from_slice(&raw.actions[j * ad..(j + 1) * ad]);
            }
            s.done.push(if terminal { 1.0 } else { 0.0 });
        }
        ensure!(
            !s.rew.is_empty(),
            "dataset has no (s, a, r, s', a') tuples for SARSA"
        );
        Ok(s)
    }

    pub fn len(&self) -> usize {
        self.rew.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rew.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticVariant {
    None,
    Ln,
    LnPa,
}

impl CriticVariant {
    fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "no_ln" => Ok(Self::None),
            "ln" => Ok(Self::Ln),
            "ln_pa" | "ln+pa" => Ok(Self::LnPa),
            o => anyhow::bail!("option --variants: unknown variant '{o}' (known: none, ln, ln_pa)"),
        }
    }
    fn label(self) -> &'static str {
        match self {
            Self::None => "max-Q (no LN)",
            Self::Ln => "max-Q (LN)",
            Self::LnPa => "max-Q (LN+PA)",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Ln => "ln",
            Self::LnPa => "ln_pa",
        }
    }
}

fn concat(s: &[f32], a: &[f32], out: &mut Vec<f32>) {
    out.extend_from_slice(s);
    out.extend_from_slice(a);
}

/// Offline SARSA: y_m = c·r + γ(1−d)·Q̄_m(s', a'_data) per member, Adam, Polyak targets;
/// with PA, + α·mean (Q(s, a_inf) − Q_min)².
pub fn train_sarsa(
    d: &Sarsa,
    cfg: &AgentConfig,
    q_min: f32,
    steps: u64,
    seed: u64,
    pb: &indicatif::ProgressBar,
) -> Result<EnsembleMlp> {
    let (od, ad) = (d.od, d.ad);
    let ind = od + ad;
    let n = cfg.n_critics;
    let b = cfg.batch_size;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut critic = EnsembleMlp::new(critic_spec(cfg, od, ad), n, &mut rng);
    let mut target = critic.clone();
    let mut adam = Adam::new(critic.params.len(), cfg.critic_lr, LrSchedule::Constant);
    let rows = if cfg.penalty { 2 * b } else { b };
    let mut tape = Tape::new(&critic, rows);
    let mut ttape = Tape::new(&critic, b);
    let all: Vec<usize> = (0..n).collect();
    let mut x = Vec::with_capacity(rows * ind);
    let mut xn = Vec::with_capacity(b * ind);
    let mut idx = vec![0usize; b];
    let mut y = vec![0.0f32; n * b];
    let mut dout = vec![0.0f32; n * rows];
    let mut grads = vec![0.0f32; critic.params.len()];
    let scale = 2.0 / (n * b) as f32;
    for step in 1..=steps {
        x.clear();
        xn.clear();
        for i in idx.iter_mut() {
            *i = rng.gen_range(0..d.len());
            concat(
                &d.obs[*i * od..(*i + 1) * od],
                &d.act[*i * ad..(*i + 1) * ad],
                &mut x,
            );
            concat(
                &d.next_obs[*i * od..(*i + 1) * od],
                &d.next_act[*i * ad..(*i + 1) * ad],
                &mut xn,
            );
        }
        if cfg.penalty {
            for &i in &idx {
                x.extend_from_slice(&d.obs[i * od..(i + 1) * od]);
                for _ in 0..ad {
                    x.push(infeasible_coordinate(
                        rng.gen_range(-1.0f32..1.0),
                        cfg.infeasible_distance,
                    ));
                }
            }
        }
        target.forward(&xn, b, &all, &mut ttape);
        for m in 0..n {
            let qn = ttape.output(m);
            for (r, &i) in idx.iter().enumerate() {
                y[m * b + r] = cfg.reward_scale * d.rew[i] + cfg.gamma * (1.0 - d.done[i]) * qn[r];
            }
        }
        critic.forward(&x, rows, &all, &mut tape);
        let mut td = 0.0f64;
        for m in 0..n {
            let q = tape.output(m);
            for r in 0..b {
                let e = q[r] - y[m * b + r];
                td += (e * e) as f64;
                dout[m * rows + r] = scale * e;
            }
            for r in b..rows {
                dout[m * rows + r] = cfg.alpha * scale * (q[r] - q_min);
            }
        }
        ensure!(td.is_finite(), "SARSA diverged at step {step}");
        critic.backward(&mut tape, &all, &dout, Some(&mut grads), false);
        adam.update(&mut critic.params, &grads);
        polyak(&mut target.params, &critic.params, cfg.tau);
        pb.inc(1);
    }
    Ok(critic)
}

/// For each state (row-major `states`), the best of `starts` projected-gradient-ascent
/// runs on mean_m Q_m(s, ·) over [−1, 1]^ad. Returns (actions, Q at them).
#[allow(clippy::too_many_arguments)]
pub fn max_q_actions(
    critic: &EnsembleMlp,
    states: &[f32],
    od: usize,
    ad: usize,
    starts: usize,
    iters: usize,
    lr: f32,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let ns = states.len() / od;
    let rows = ns * starts;
    let ind = od + ad;
    let n = critic.members;
    let all: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xA5CE);
    let mut a: Vec<f32> = (0..rows * ad)
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let mut x = vec![0.0f32; rows * ind];
    for r in 0..rows {
        let s = r / starts;
        x[r * ind..r * ind + od].copy_from_slice(&states[s * od..(s + 1) * od]);
    }
    let mut tape = Tape::new(critic, rows);
    let dout = vec![-1.0 / n as f32; n * rows]; // minimise −mean Q
    let mut dx = vec![0.0f32; rows * ind];
    let mut g = vec![0.0f32; rows * ad];
    let mut adam = Adam::new(rows * ad, lr, LrSchedule::Constant);
    let write = |x: &mut [f32], a: &[f32]| {
        for r in 0..rows {
            x[r * ind + od..(r + 1) * ind].copy_from_slice(&a[r * ad..(r + 1) * ad]);
        }
    };
    for _ in 0..iters {
        write(&mut x, &a);
        critic.forward(&x, rows, &all, &mut tape);
        critic.backward(&mut tape, &all, &dout, None, true);
        tape.dinput_sum(&all, &mut dx);
        for r in 0..rows {
            g[r * ad..(r + 1) * ad].copy_from_slice(&dx[r * ind + od..(r + 1) * ind]);
        }
        adam.update(&mut a, &g);
        a.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
    }
    write(&mut x, &a);
    critic.forward(&x, rows, &all, &mut tape);
    let q: Vec<f32> = (0..rows)
        .map(|r| (0..n).map(|m| tape.output(m)[r]).sum::<f32>() / n as f32)
        .collect();
    let mut best_a = Vec::with_capacity(ns * ad);
    let mut best_q = Vec::with_capacity(ns);
    for s in 0..ns {
        let r = (s * starts..(s + 1) * starts)
            .max_by(|&i, &j| q[i].total_cmp(&q[j]))
            .unwrap();
        best_a.extend_from_slice(&a[r * ad..(r + 1) * ad]);
        best_q.push(q[r]);
    }
    (best_a, best_q)
}

/// Mean of ‖a‖ / √ad over rows of `a`.
pub fn mean_norm(a: &[f32], ad: usize) -> f64 {
    let max = (ad as f64).sqrt();
    let rows = a.len() / ad;
    a.chunks_exact(ad)
        .map(|r| r.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() / max)
        .sum::<f64>()
        / rows.max(1) as f64
}

fn mean_q(critic: &EnsembleMlp, x: &[f32], rows: usize) -> f64 {
    let mut tape = Tape::new(critic, rows);
    let all: Vec<usize> = (0..critic.members).collect();
    critic.forward(x, rows, &all, &mut tape);
    all.iter()
        .map(|&m| tape.output(m).iter().map(|v| *v as f64).sum::<f64>())
        .sum::<f64>()
        / (rows * critic.members) as f64
}

#[derive(Serialize, Debug, Clone)]
pub struct RunRow {
    pub variant: CriticVariant,
    pub seed: u64,
    /// Mean ‖a‖/√ad of the max-Q actions.
    pub maxq_norm: f64,
    /// Share of max-Q actions with some |a_j| ≥ 0.99 (on the box boundary).
    pub boundary_fraction: f64,
    /// Mean Q at the dataset actions / at the max-Q actions of the searched states.
    pub q_data: f64,
    pub q_maxq: f64,
}

#[derive(Serialize, Debug, Clone)]
pub struct SummaryRow {
    pub variant: CriticVariant,
    pub seeds: usize,
    pub maxq_norm_mean: f64,
    pub maxq_norm_std: f64,
    pub boundary_fraction_mean: f64,
    pub q_data_mean: f64,
    pub q_maxq_mean: f64,
}

pub fn run(a: MaxqSettings) -> Result<PathBuf> {
    let variants: Vec<CriticVariant> = a
        .variants
        .iter()
        .map(|s| CriticVariant::parse(s))
        .collect::<Result<_>>()?;
    ensure!(!variants.is_empty(), "option --variants needs a value");
    let seeds = a.runs.seeds.unwrap_or(1);
    ensure!(seeds > 0, "option --seeds must be positive");
    ensure!(a.starts > 0, "option --starts must be positive");
    ensure!(a.n_critics > 0, "option --n-critics must be positive");
    super::ensure_positive("--reward-scale", &[a.reward_scale])?;
    super::ensure_positive("--ascent-lr", &[a.ascent_lr])?;
    let steps = a
        .runs
        .steps
        .unwrap_or(if a.runs.fast { 300 } else { 20_000 });
    ensure!(steps > 0, "option --steps must be positive");
    let n_states = a.states.unwrap_or(if a.runs.fast { 64 } else { 1000 });
    ensure!(n_states > 0, "option --states must be positive");
    let iters = a.ascent_steps.unwrap_or(if a.runs.fast { 50 } else { 200 });
    let mut base = preset(&a.preset)?.agent;
    base.reward_scale = a.reward_scale;
    base.n_critics = a.n_critics;
    base.critic_subset = base.critic_subset.min(a.n_critics);
    if let Some(h) = a.runs.hidden.or(if a.runs.fast { Some(32) } else { None }) {
        ensure!(h > 0, "option --hidden must be positive");
        base.hidden = h;
    }
    base.validate()?;
    check_out(&a.out)?;
    let data = a.runs.data.load(a.runs.fast)?;
    let sarsa = Sarsa::from_raw(&data.raw)?;
    let (od, ad) = (sarsa.od, sarsa.ad);
    let data_norm_all = mean_norm(&sarsa.act, ad);

    // the searched states: distinct random rows
    let mut rng = ChaCha8Rng::seed_from_u64(a.runs.seed ^ 0x57A7E5);
    let rows: Vec<usize> =
        rand::seq::index::sample(&mut rng, sarsa.len(), n_states.min(sarsa.len())).into_vec();
    let states: Vec<f32> = rows
        .iter()
        .flat_map(|&i| sarsa.obs[i * od..(i + 1) * od].iter().copied())
        .collect();
    let data_actions: Vec<f32> = rows
        .iter()
        .flat_map(|&i| sarsa.act[i * ad..(i + 1) * ad].iter().copied())
        .collect();
    let mut x_data = Vec::with_capacity(rows.len() * (od + ad));
    for &i in &rows {
        concat(
            &sarsa.obs[i * od..(i + 1) * od],
            &sarsa.act[i * ad..(i + 1) * ad],
            &mut x_data,
        );
    }
    let data_norm_states = mean_norm(&data_actions, ad);

    let pb = progress(
        (variants.len() * seeds) as u64 * steps,
        "sarsa",
        !a.runs.quiet,
    );
    let t0 = std::time::Instant::now();
    let mut runs = Vec::new();
    let r_min = sarsa.rew.iter().copied().fold(f32::INFINITY, f32::min);
    for &v in &variants {
        for s in 0..seeds as u64 {
            let seed = a.runs.seed + s;
            let cfg = AgentConfig {
                critic_layer_norm: v != CriticVariant::None,
                penalty: v == CriticVariant::LnPa,
                ..base.clone()
            };
            let q_min = cfg.resolve_q_min(r_min);
            pb.set_message(v.key());
            let critic = train_sarsa(&sarsa, &cfg, q_min, steps, seed, &pb)?;
            let (act, q) =
                max_q_actions(&critic, &states, od, ad, a.starts, iters, a.ascent_lr, seed);
            let boundary = act
                .chunks_exact(ad)
                .filter(|r| r.iter().any(|v| v.abs() >= 0.99))
                .count() as f64
                / rows.len() as f64;
            runs.push(RunRow {
                variant: v,
                seed,
                maxq_norm: mean_norm(&act, ad),
                boundary_fraction: boundary,
                q_data: mean_q(&critic, &x_data, rows.len()),
                q_maxq: q.iter().map(|v| *v as f64).sum::<f64>() / q.len() as f64,
            });
        }
    }
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let summary: Vec<SummaryRow> = variants
        .iter()
        .map(|&v| {
            let rs: Vec<&RunRow> = runs.iter().filter(|r| r.variant == v).collect();
            let f =
                |g: &dyn Fn(&RunRow) -> f64| mean_std(&rs.iter().map(|r| g(r)).collect::<Vec<_>>());
            let (nm, ns) = f(&|r| r.maxq_norm);
            SummaryRow {
                variant: v,
                seeds: rs.len(),
                maxq_norm_mean: nm,
                maxq_norm_std: ns,
                boundary_fraction_mean: f(&|r| r.boundary_fraction).0,
                q_data_mean: f(&|r| r.q_data).0,
                q_maxq_mean: f(&|r| r.q_maxq).0,
            }
        })
        .collect();

    let run = OutputDir::create(&a.out)?;
    let mut groups = vec!["data actions".to_string()];
    let mut means = vec![data_norm_all];
    let mut stds = vec![0.0];
    for s in &summary {
        groups.push(s.variant.label().to_string());
        means.push(s.maxq_norm_mean);
        stds.push(s.maxq_norm_std);
    }
    bar_charts(
        &run.path().join("maxq.png"),
        &[(
            format!("Mean action norm / max norm ({})", data.name),
            format!(
                "SARSA critic, c_reward = {}, {} seed(s)",
                a.reward_scale, seeds
            ),
            groups,
            vec![BarSeries {
                name: "norm".into(),
                means,
                stds,
            }],
        )],
        "||a|| / sqrt(act_dim)",
    )?;
    let csv: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{},{},{:.6},{:.6},{:.6e},{:.6e}",
                r.variant.key(),
                r.seed,
                r.maxq_norm,
                r.boundary_fraction,
                r.q_data,
                r.q_maxq
            )
        })
        .collect();
    write_csv(
        &run,
        "maxq.csv",
        "variant,seed,maxq_norm,boundary_fraction,q_data,q_maxq",
        &csv,
    )?;
    run.write_json(
        "numbers.json",
        &serde_json::json!({
            "analysis": "maxq",
            "fast": a.runs.fast,
            "dataset": data.info(),
            "sarsa_tuples": sarsa.len(),
            "preset": a.preset,
            "agent": base,
            "steps": steps,
            "states": rows.len(),
            "starts": a.starts,
            "ascent_steps": iters,
            "ascent_lr": a.ascent_lr,
            "seconds": secs,
            "definitions": {
                "norm": "||a||_2 / sqrt(act_dim), the largest norm in [-1,1]^act_dim being sqrt(act_dim)",
                "data_norm": "mean norm of all dataset actions",
                "data_norm_states": "mean norm of the dataset actions of the searched states",
                "maxq": "argmax over [-1,1]^act_dim of the mean of the ensemble's Q(s, .), by Adam ascent with clipping to the box, best of `starts` uniform random starts",
                "boundary_fraction": "share of max-Q actions with some |a_j| >= 0.99",
                "sarsa": "y_m = c r + gamma (1 - done) Qtarget_m(s', a'_data) for each member m",
            },
            "data_norm": data_norm_all,
            "data_norm_states": data_norm_states,
            "summary": summary,
            "runs": runs,
        }),
    )?;
    let path = finish(run)?;
    if !a.runs.quiet {
        println!("{}: data actions {:.3}", data.name, data_norm_all);
        for s in &summary {
            println!(
                "{:<16} norm {:.3} ± {:.3}  on boundary {:>5.1}%  Q(data) {:.3}  Q(max) {:.3}",
                s.variant.label(),
                s.maxq_norm_mean,
                s.maxq_norm_std,
                100.0 * s.boundary_fraction_mean,
                s.q_data_mean,
                s.q_maxq_mean
            );
        }
        println!("wrote {}", path.display());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, MlpSpec};

    #[test]
    fn sarsa_pairs_each_row_with_the_next_action_of_its_episode() {
        // rows 0,1,2 | 3 (timeout) | 4 (terminal) | 5 (last row)
        let raw = RawDataset {
            observations: (0..6).map(|i| i as f32).collect(),
            actions: (0..6).map(|i| 0.1 * i as f32).collect(),
            rewards: vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            terminals: vec![false, false, false, false, true, false],
            timeouts: vec![false, false, false, true, false, false],
            next_observations: None,
            obs_dim: 1,
            act_dim: 1,
        };
        let s = Sarsa::from_raw(&raw).unwrap();
        assert_eq!(s.obs, vec![0.0, 1.0, 2.0, 4.0]);
        assert_eq!(s.next_obs, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.next_act, vec![0.1, 0.2, 0.3, 0.0]);
        assert_eq!(s.done, vec![0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn ascent_finds_the_corner_of_a_linear_critic() {
        // identity activation: Q is affine in a, so the maximiser is a corner
        let spec = MlpSpec {
            input: 3,
            hidden: 8,
            depth: 1,
            output: 1,
            layer_norm: false,
            activation: Activation::Identity,
            tanh_output: false,
            gaussian_head: false,
            hidden_bias_init: 0.0,
            output_init_scale: 0.5,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let net = EnsembleMlp::new(spec, 2, &mut rng);
        // the gradient of mean Q w.r.t. a is constant; read it by finite difference
        let q = |a0: f32, a1: f32| mean_q(&net, &[0.5, a0, a1], 1);
        let g = [q(0.1, 0.0) - q(-0.1, 0.0), q(0.0, 0.1) - q(0.0, -0.1)];
        let (a, best) = max_q_actions(&net, &[0.5, -0.5], 1, 2, 3, 100, 0.1, 0);
        assert_eq!(a[0], g[0].signum() as f32);
        assert_eq!(a[1], g[1].signum() as f32);
        assert!((best[0] as f64 - q(a[0], a[1])).abs() < 1e-4);
        assert!((mean_norm(&a[..2], 2) - 1.0).abs() < 1e-6);
    }
}
