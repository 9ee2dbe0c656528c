//! Toy regression (paper Fig. 5, App. D Figs. 14, 15): fit y = c·f(x) on data in a
//! small region of [−1,1]² and look at what the network predicts everywhere else.
//!
//! Data shapes:
//! - `disk`: f = x1² + x2² on the disk of radius 0.5 (Fig. 5);
//! - `split`: two separated inverted cones, f = ‖x − m_k‖ on disks of radius 0.3
//!   around m = (±0.4, 0) (App. D, Fig. 14; the paper gives no formula, this is ours).
//!
//! Every (shape, variant, c) is its own single-member network, seeded by (seed, c),
//! so the no-LN / LN / LN+PA fits of one c see the same data, init stream and batches.
use super::{check_out, ensure_positive, finish, progress, write_csv};
use crate::algos::pars::infeasible_coordinate;
use crate::nn::{Activation, Adam, EnsembleMlp, LrSchedule, MlpSpec, Tape};
use crate::plots::{heatmap_grid, HeatPanel, Overlay};
use crate::run::OutputDir;
use anyhow::{ensure, Result};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Disk,
    Split,
}

const DISK_R: f32 = 0.5;
const CONE_R: f32 = 0.3;
const CONE_X: f32 = 0.4;

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Disk => "disk",
            Shape::Split => "split",
        }
    }

    /// Whether (x, y) lies in the data region.
    pub fn contains(self, x: f32, y: f32) -> bool {
        match self {
            Shape::Disk => x * x + y * y <= DISK_R * DISK_R,
            Shape::Split => {
                let d = |m: f32| (x - m) * (x - m) + y * y <= CONE_R * CONE_R;
                d(CONE_X) || d(-CONE_X)
            }
        }
    }

    /// The unscaled target f(x) (only meaningful inside the data region).
    pub fn target(self, x: f32, y: f32) -> f32 {
        match self {
            Shape::Disk => x * x + y * y,
            Shape::Split => {
                let m = if x >= 0.0 { CONE_X } else { -CONE_X };
                ((x - m) * (x - m) + y * y).sqrt()
            }
        }
    }

    /// A uniform point of the data region (rejection sampling from its bounding box).
    pub fn sample<R: Rng>(self, rng: &mut R) -> [f32; 2] {
        let b = match self {
            Shape::Disk => DISK_R,
            Shape::Split => CONE_X + CONE_R,
        };
        loop {
            let x = rng.gen_range(-b..b);
            let y = rng.gen_range(-b..b);
            if self.contains(x, y) {
                return [x, y];
            }
        }
    }

    pub fn overlays(self) -> Vec<Overlay> {
        match self {
            Shape::Disk => vec![Overlay::Circle {
                cx: 0.0,
                cy: 0.0,
                r: DISK_R as f64,
            }],
            Shape::Split => vec![
                Overlay::Circle {
                    cx: CONE_X as f64,
                    cy: 0.0,
                    r: CONE_R as f64,
                },
                Overlay::Circle {
                    cx: -CONE_X as f64,
                    cy: 0.0,
                    r: CONE_R as f64,
                },
            ],
        }
    }
}

/// Network and training switches of one fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub layer_norm: bool,
    /// Penalty on infeasible inputs: Q(x_inf) → Q_min = 0.
    pub penalty: bool,
    pub activation: Activation,
}

impl Variant {
    pub const NO_LN: Variant = Variant {
        layer_norm: false,
        penalty: false,
        activation: Activation::Relu,
    };
    pub const LN: Variant = Variant {
        layer_norm: true,
        penalty: false,
        activation: Activation::Relu,
    };
    pub const LN_PA: Variant = Variant {
        layer_norm: true,
        penalty: true,
        activation: Activation::Relu,
    };

    /// Short key used in the numbers files.
    pub fn key(&self) -> String {
        let base = match (self.layer_norm, self.penalty) {
            (false, false) => "no_ln",
            (true, false) => "ln",
            (false, true) => "pa",
            (true, true) => "ln_pa",
        };
        if self.activation == Activation::Relu {
            base.to_string()
        } else {
            format!("{base}_{}", self.activation.name())
        }
    }

    pub fn label(&self) -> String {
        let base = match (self.layer_norm, self.penalty) {
            (false, false) => "No LN",
            (true, false) => "LN",
            (false, true) => "PA",
            (true, true) => "LN+PA",
        };
        if self.activation == Activation::Relu {
            base.to_string()
        } else {
            format!("{base} {}", self.activation.name())
        }
    }
}

/// Sizes and optimisation of the toy fits.
#[derive(Clone, Debug, Serialize)]
pub struct FitSettings {
    pub hidden: usize,
    /// Hidden layers.
    pub depth: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f32,
    /// Points in the fixed training set.
    pub n_data: usize,
    /// Weight of the penalty loss.
    pub alpha: f32,
    /// L: penalty inputs have every coordinate in [−2L, −L] ∪ [L, 2L].
    pub infeasible_distance: f32,
    pub seed: u64,
}

impl FitSettings {
    pub fn paper() -> Self {
        Self {
            hidden: 256,
            depth: 3,
            steps: 3000,
            batch: 256,
            lr: 1e-3,
            n_data: 2000,
            alpha: 0.1,
            infeasible_distance: 100.0,
            seed: 0,
        }
    }

    pub fn fast() -> Self {
        Self {
            hidden: 64,
            steps: 1500,
            batch: 128,
            n_data: 500,
            ..Self::paper()
        }
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(self.hidden > 0, "option --hidden must be positive");
        ensure!(self.depth > 0, "option --depth must be positive");
        ensure!(self.steps > 0, "option --steps must be positive");
        ensure!(self.batch > 0, "option --batch must be positive");
        ensure!(self.n_data > 0, "option --n-data must be positive");
        ensure_positive("--lr", &[self.lr])?;
        ensure!(
            self.alpha.is_finite() && self.alpha >= 0.0,
            "option --alpha must be a finite non-negative number (got {})",
            self.alpha
        );
        ensure!(
            self.infeasible_distance.is_finite() && self.infeasible_distance > 1.0,
            "option --infeasible-distance must exceed 1, the edge of the input box (got {})",
            self.infeasible_distance
        );
        Ok(())
    }
}

fn stream(seed: u64, c: f32, tag: u64) -> ChaCha8Rng {
    let mut s = seed ^ (c.to_bits() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    s = s.wrapping_add(tag.wrapping_mul(0xD1B5_4A32_D192_ED03));
    ChaCha8Rng::seed_from_u64(s)
}

pub fn spec(s: &FitSettings, v: Variant) -> MlpSpec {
    MlpSpec {
        input: 2,
        hidden: s.hidden,
        depth: s.depth,
        output: 1,
        layer_norm: v.layer_norm,
        activation: v.activation,
        tanh_output: false,
        gaussian_head: false,
        hidden_bias_init: 0.1,
        output_init_scale: 3e-3,
    }
}

/// A trained network and its training error.
pub struct Fit {
    pub net: EnsembleMlp,
    /// Mean squared error on the training set divided by c².
    pub train_mse: f64,
}

/// Fit y = c·f(x) on `shape` with Adam on mean squared error (+ α·mean Q(x_inf)²).
pub fn fit(s: &FitSettings, shape: Shape, v: Variant, c: f32, pb: &ProgressBar) -> Fit {
    let mut data_rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0xDA7A);
    let xs: Vec<[f32; 2]> = (0..s.n_data).map(|_| shape.sample(&mut data_rng)).collect();
    let ys: Vec<f32> = xs.iter().map(|p| c * shape.target(p[0], p[1])).collect();
    let mut net = EnsembleMlp::new(spec(s, v), 1, &mut stream(s.seed, c, 1));
    let mut batch_rng = stream(s.seed, c, 2);
    let mut pa_rng = stream(s.seed, c, 3);
    let b = s.batch;
    let rows = if v.penalty { 2 * b } else { b };
    let mut tape = Tape::new(&net, rows);
    let mut x = vec![0.0f32; rows * 2];
    let mut y = vec![0.0f32; b];
    let mut dout = vec![0.0f32; rows];
    let mut grads = vec![0.0f32; net.params.len()];
    let mut adam = Adam::new(net.params.len(), s.lr, LrSchedule::Constant);
    let scale = 2.0 / b as f32;
    let tick = 50;
    for step in 0..s.steps {
        for r in 0..b {
            let i = batch_rng.gen_range(0..s.n_data);
            x[2 * r..2 * r + 2].copy_from_slice(&xs[i]);
            y[r] = ys[i];
        }
        for v in &mut x[2 * b..] {
            *v = infeasible_coordinate(pa_rng.gen_range(-1.0f32..1.0), s.infeasible_distance);
        }
        net.forward(&x, rows, &[0], &mut tape);
        let q = tape.output(0);
        for r in 0..b {
            dout[r] = scale * (q[r] - y[r]);
        }
        for r in b..rows {
            dout[r] = s.alpha * scale * q[r]; // Q_min = 0
        }
        net.backward(&mut tape, &[0], &dout, Some(&mut grads), false);
        adam.update(&mut net.params, &grads);
        if (step + 1) % tick == 0 {
            pb.inc(tick as u64);
        }
    }
    pb.inc((s.steps % tick) as u64);
    let flat: Vec<f32> = xs.iter().flatten().copied().collect();
    let pred = predict(&net, &flat);
    let mse = pred
        .iter()
        .zip(&ys)
        .map(|(p, y)| (p - *y as f64).powi(2))
        .sum::<f64>()
        / s.n_data as f64;
    Fit {
        net,
        train_mse: mse / (c as f64 * c as f64),
    }
}

/// Network outputs for row-major 2-D points.
pub fn predict(net: &EnsembleMlp, points: &[f32]) -> Vec<f64> {
    let d = net.spec.input;
    let chunk = 2048;
    let mut tape = Tape::new(net, chunk);
    let mut out = Vec::with_capacity(points.len() / d);
    for c in points.chunks(chunk * d) {
        net.forward(c, c.len() / d, &[0], &mut tape);
        out.extend(tape.output(0).iter().map(|v| *v as f64));
    }
    out
}

/// Cell centres of an n × n grid over [lo, hi]², row-major with y outer.
pub fn grid_points(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    let h = (hi - lo) / n as f32;
    let mut p = Vec::with_capacity(2 * n * n);
    for iy in 0..n {
        for ix in 0..n {
            p.push(lo + (ix as f32 + 0.5) * h);
            p.push(lo + (iy as f32 + 0.5) * h);
        }
    }
    p
}

/// The table row of one fit; every prediction is divided by c.
#[derive(Clone, Debug, Serialize)]
pub struct FitStats {
    pub data: Shape,
    pub variant: String,
    pub activation: String,
    pub layer_norm: bool,
    pub penalty: bool,
    pub c: f32,
    /// Training-set MSE / c².
    pub train_mse: f64,
    /// Grid cells of [−1,1]² inside the data region.
    pub in_data_mean: f64,
    pub in_data_max: f64,
    /// Grid cells of [−1,1]² outside the data region.
    pub ring_mean: f64,
    pub ring_max: f64,
    /// Grid cells of [−5,5]² outside [−1,1]².
    pub outer_mean: f64,
    pub outer_max: f64,
    /// Cells of [−5,5]² with max(|x1|, |x2|) > 4 (the figure's border).
    pub far_mean: f64,
}

struct FitResult {
    shape: Shape,
    variant: Variant,
    c: f32,
    small: Vec<f64>,
    wide: Vec<f64>,
    stats: FitStats,
}

fn mean_max<'a>(it: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (mut s, mut n, mut m) = (0.0, 0usize, f64::NEG_INFINITY);
    for v in it {
        s += v;
        n += 1;
        m = m.max(*v);
    }
    (s / n.max(1) as f64, m)
}

const WIDE: f32 = 5.0;

fn evaluate(shape: Shape, v: Variant, c: f32, fit: &Fit, grid: usize) -> FitResult {
    let pts_s = grid_points(-1.0, 1.0, grid);
    let pts_w = grid_points(-WIDE, WIDE, grid);
    let cf = c as f64;
    let small: Vec<f64> = predict(&fit.net, &pts_s).iter().map(|q| q / cf).collect();
    let wide: Vec<f64> = predict(&fit.net, &pts_w).iter().map(|q| q / cf).collect();
    let inside: Vec<bool> = pts_s
        .chunks_exact(2)
        .map(|p| shape.contains(p[0], p[1]))
        .collect();
    let (in_mean, in_max) = mean_max(small.iter().zip(&inside).filter(|x| *x.1).map(|x| x.0));
    let (ring_mean, ring_max) = mean_max(small.iter().zip(&inside).filter(|x| !*x.1).map(|x| x.0));
    let cheb: Vec<f32> = pts_w
        .chunks_exact(2)
        .map(|p| p[0].abs().max(p[1].abs()))
        .collect();
    let (outer_mean, outer_max) =
        mean_max(wide.iter().zip(&cheb).filter(|x| *x.1 > 1.0).map(|x| x.0));
    let (far_mean, _) = mean_max(wide.iter().zip(&cheb).filter(|x| *x.1 > 4.0).map(|x| x.0));
    FitResult {
        shape,
        variant: v,
        c,
        small,
        wide,
        stats: FitStats {
            data: shape,
            variant: v.key(),
            activation: v.activation.name().to_string(),
            layer_norm: v.layer_norm,
            penalty: v.penalty,
            c,
            train_mse: fit.train_mse,
            in_data_mean: in_mean,
            in_data_max: in_max,
            ring_mean,
            ring_max,
            outer_mean,
            outer_max,
            far_mean,
        },
    }
}

/// What `pars analyze toy` fits and draws (its flags, parsed in `cli::analyze`); `None`
/// picks the paper's value or, with `fit.fast`, the fast one.
#[derive(Debug, Clone)]
pub struct ToySettings {
    /// Output directory.
    pub out: PathBuf,
    pub fit: FitOptions,
    /// Reward scales c.
    pub c_values: Vec<f32>,
    /// Weight of the penalty on infeasible inputs (Q_min = 0).
    pub alpha: f32,
    /// L of the penalty region [−2L, −L] ∪ [L, 2L] per coordinate.
    pub infeasible_distance: f32,
    /// Heatmap cells per side (default 101, 41 when fast).
    pub grid: Option<usize>,
    /// c of the activation-function comparison (Fig. 15).
    pub activation_c: f32,
    /// Skip the split-data fits (App. D, Fig. 14).
    pub no_split: bool,
    /// Skip the activation-function fits (App. D, Fig. 15).
    pub no_activations: bool,
    /// No progress bar, table or summary.
    pub quiet: bool,
}

/// The network and fit options shared by `analyze toy` and `analyze ntk` (the NTK maps use
/// the toy's LN fits), as given: `settings` fills in the paper's or the fast defaults.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Small networks, few steps, coarse grids (for tests).
    pub fast: bool,
    /// Hidden width (default 256, 64 when fast).
    pub hidden: Option<usize>,
    /// Hidden layers.
    pub depth: usize,
    /// Adam steps per fit (default 3000, 1500 when fast).
    pub steps: Option<usize>,
    /// Batch size (default 256, 128 when fast).
    pub batch: Option<usize>,
    pub lr: f32,
    /// Training points (default 2000, 500 when fast).
    pub n_data: Option<usize>,
    pub seed: u64,
}

impl FitOptions {
    /// The paper's (or the fast) settings with these options applied; the penalty's α and
    /// L stay at the preset's values unless given.
    pub fn settings(
        &self,
        alpha: Option<f32>,
        infeasible_distance: Option<f32>,
    ) -> Result<FitSettings> {
        let base = if self.fast {
            FitSettings::fast()
        } else {
            FitSettings::paper()
        };
        let s = FitSettings {
            hidden: self.hidden.unwrap_or(base.hidden),
            depth: self.depth,
            steps: self.steps.unwrap_or(base.steps),
            batch: self.batch.unwrap_or(base.batch),
            lr: self.lr,
            n_data: self.n_data.unwrap_or(base.n_data),
            alpha: alpha.unwrap_or(base.alpha),
            infeasible_distance: infeasible_distance.unwrap_or(base.infeasible_distance),
            seed: self.seed,
        };
        s.validate()?;
        Ok(s)
    }
}

impl ToySettings {
    pub fn settings(&self) -> Result<FitSettings> {
        self.fit
            .settings(Some(self.alpha), Some(self.infeasible_distance))
    }

    pub fn grid(&self) -> Result<usize> {
        let g = self.grid.unwrap_or(if self.fit.fast { 41 } else { 101 });
        ensure!(g >= 2, "option --grid must be at least 2");
        Ok(g)
    }
}

const ACTIVATIONS: [Activation; 5] = [
    Activation::Relu,
    Activation::Gelu,
    Activation::Silu,
    Activation::Sigmoid,
    Activation::Identity,
];

/// Run every fit in parallel (one network per job).
fn run_jobs(
    s: &FitSettings,
    jobs: &[(Shape, Variant, f32)],
    grid: usize,
    show: bool,
) -> Vec<FitResult> {
    let pb = progress((jobs.len() * s.steps) as u64, "toy fits", show);
    let out: Vec<FitResult> = jobs
        .par_iter()
        .map(|&(shape, v, c)| {
            let f = fit(s, shape, v, c, &pb);
            evaluate(shape, v, c, &f, grid)
        })
        .collect();
    pb.finish_and_clear();
    out
}

fn panels_for(
    results: &[FitResult],
    shape: Shape,
    rows: &[f32],
    variants: &[Variant],
    grid: usize,
) -> Vec<HeatPanel> {
    let mut panels = Vec::new();
    for &c in rows {
        for v in variants {
            let Some(r) = results
                .iter()
                .find(|r| r.shape == shape && r.variant == *v && r.c == c)
            else {
                continue;
            };
            let mut ov = shape.overlays();
            panels.push(HeatPanel {
                title: format!("{}, c={}: [-1,1]", v.label(), c),
                lo: -1.0,
                hi: 1.0,
                n: grid,
                values: r.small.clone(),
                range: None,
                overlays: ov.clone(),
            });
            ov.push(Overlay::Square { lo: -1.0, hi: 1.0 });
            panels.push(HeatPanel {
                title: format!("{}, c={}: [-5,5]", v.label(), c),
                lo: -WIDE as f64,
                hi: WIDE as f64,
                n: grid,
                values: r.wide.clone(),
                range: None,
                overlays: ov,
            });
        }
    }
    panels
}

pub fn run(a: ToySettings) -> Result<PathBuf> {
    ensure_positive("--c", &a.c_values)?;
    ensure_positive("--activation-c", &[a.activation_c])?;
    let s = a.settings()?;
    let grid = a.grid()?;
    check_out(&a.out)?;
    let main_variants = [Variant::NO_LN, Variant::LN, Variant::LN_PA];
    let mut jobs: Vec<(Shape, Variant, f32)> = Vec::new();
    let mut push = |j: (Shape, Variant, f32)| {
        if !jobs.contains(&j) {
            jobs.push(j);
        }
    };
    for &c in &a.c_values {
        for v in main_variants {
            push((Shape::Disk, v, c));
        }
    }
    if !a.no_split {
        for &c in &a.c_values {
            for v in main_variants {
                push((Shape::Split, v, c));
            }
        }
    }
    let act_variants: Vec<Variant> = ACTIVATIONS
        .iter()
        .map(|&activation| Variant {
            activation,
            ..Variant::LN
        })
        .collect();
    if !a.no_activations {
        for v in &act_variants {
            push((Shape::Disk, *v, a.activation_c));
        }
    }
    let t0 = std::time::Instant::now();
    let results = run_jobs(&s, &jobs, grid, !a.quiet);
    let secs = t0.elapsed().as_secs_f64();

    let run = OutputDir::create(&a.out)?;
    let ps = (310, 255);
    heatmap_grid(
        &run.path().join("toy_fit.png"),
        "Toy regression y = c(x1^2 + x2^2), data in the disk r <= 0.5 (prediction / c)",
        6,
        &panels_for(&results, Shape::Disk, &a.c_values, &main_variants, grid),
        ps,
    )?;
    if !a.no_split {
        heatmap_grid(
            &run.path().join("toy_split.png"),
            "Split data: two inverted cones y = c|x - m|, m = (+-0.4, 0), r <= 0.3 (prediction / c)",
            6,
            &panels_for(&results, Shape::Split, &a.c_values, &main_variants, grid),
            ps,
        )?;
    }
    if !a.no_activations {
        // columns: activations; rows: [−1,1]² then [−5,5]²
        let p = panels_for(
            &results,
            Shape::Disk,
            &[a.activation_c],
            &act_variants,
            grid,
        );
        let (small, wide): (Vec<_>, Vec<_>) =
            p.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let panels: Vec<HeatPanel> = small
            .into_iter()
            .chain(wide)
            .map(|(_, mut p)| {
                if !p.title.starts_with("LN ") {
                    p.title = p.title.replacen("LN", "LN relu", 1);
                }
                p
            })
            .collect();
        heatmap_grid(
            &run.path().join("toy_activations.png"),
            &format!(
                "Activation functions with LN, c = {} (prediction / c)",
                a.activation_c
            ),
            act_variants.len(),
            &panels,
            ps,
        )?;
    }
    let stats: Vec<&FitStats> = results.iter().map(|r| &r.stats).collect();
    let header = "data,variant,activation,layer_norm,penalty,c,train_mse,in_data_mean,in_data_max,ring_mean,ring_max,outer_mean,outer_max,far_mean";
    let rows: Vec<String> = stats
        .iter()
        .map(|t| {
            format!(
                "{},{},{},{},{},{},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e}",
                t.data.name(),
                t.variant,
                t.activation,
                t.layer_norm,
                t.penalty,
                t.c,
                t.train_mse,
                t.in_data_mean,
                t.in_data_max,
                t.ring_mean,
                t.ring_max,
                t.outer_mean,
                t.outer_max,
                t.far_mean
            )
        })
        .collect();
    write_csv(&run, "toy.csv", header, &rows)?;
    run.write_json(
        "numbers.json",
        &serde_json::json!({
            "analysis": "toy",
            "fast": a.fit.fast,
            "settings": s,
            "c_values": a.c_values,
            "activation_c": a.activation_c,
            "grid": grid,
            "seconds": secs,
            "definitions": {
                "predictions": "network output divided by c, on the centres of a grid x grid lattice",
                "in_data": "cells of [-1,1]^2 inside the data region",
                "ring": "cells of [-1,1]^2 outside the data region (A_OOD-out)",
                "outer": "cells of [-5,5]^2 outside [-1,1]^2",
                "far": "cells of [-5,5]^2 with max(|x1|,|x2|) > 4",
                "train_mse": "training-set mean squared error / c^2",
                "penalty": "alpha * mean Q(x_inf)^2 with every coordinate of x_inf in [-2L,-L] U [L,2L], Q_min = 0",
                "true_ring_mean_disk": true_ring_mean(grid),
            },
            "fits": stats,
        }),
    )?;
    let path = finish(run)?;
    if !a.quiet {
        print_table(&stats);
        println!("wrote {}", path.display());
    }
    Ok(path)
}

/// Mean of the true f = x1² + x2² over the ring cells (for reference).
fn true_ring_mean(grid: usize) -> f64 {
    let p = grid_points(-1.0, 1.0, grid);
    let v: Vec<f64> = p
        .chunks_exact(2)
        .filter(|q| !Shape::Disk.contains(q[0], q[1]))
        .map(|q| (q[0] * q[0] + q[1] * q[1]) as f64)
        .collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn print_table(stats: &[&FitStats]) {
    println!(
        "{:<6} {:<16} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "data", "variant", "c", "in mean", "in max", "ring mean", "ring max", "outer", "far"
    );
    for t in stats {
        println!(
            "{:<6} {:<16} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            t.data.name(),
            t.variant,
            t.c,
            t.in_data_mean,
            t.in_data_max,
            t.ring_mean,
            t.ring_max,
            t.outer_mean,
            t.far_mean
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_regions_and_targets() {
        assert!(Shape::Disk.contains(0.3, -0.38) && !Shape::Disk.contains(0.5, 0.1));
        assert!((Shape::Disk.target(0.3, 0.4) - 0.25).abs() < 1e-6);
        // split: two disks of radius 0.3 around (±0.4, 0), a gap at the origin
        assert!(Shape::Split.contains(0.4, 0.29) && Shape::Split.contains(-0.65, 0.0));
        assert!(!Shape::Split.contains(0.0, 0.0) && !Shape::Split.contains(0.4, 0.31));
        assert!(Shape::Split.target(0.4, 0.0).abs() < 1e-6);
        assert!((Shape::Split.target(-0.4, 0.2) - 0.2).abs() < 1e-6);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for shape in [Shape::Disk, Shape::Split] {
            for _ in 0..1000 {
                let p = shape.sample(&mut rng);
                assert!(shape.contains(p[0], p[1]));
            }
        }
    }

    #[test]
    fn grid_points_are_cell_centres_x_fastest() {
        let p = grid_points(-1.0, 1.0, 4);
        assert_eq!(p.len(), 32);
        assert_eq!(&p[..4], &[-0.75, -0.75, -0.25, -0.75]);
        assert_eq!(&p[30..], &[0.75, 0.75]);
    }

    #[test]
    fn a_fit_is_deterministic_and_learns() {
        let s = FitSettings {
            hidden: 16,
            depth: 2,
            steps: 300,
            n_data: 200,
            ..FitSettings::fast()
        };
        let pb = ProgressBar::hidden();
        let a = fit(&s, Shape::Disk, Variant::LN_PA, 10.0, &pb);
        let b = fit(&s, Shape::Disk, Variant::LN_PA, 10.0, &pb);
        assert_eq!(a.net.params, b.net.params);
        // relative MSE well below the variance of f on the disk (≈ 0.005)
        assert!(a.train_mse < 1e-3, "{}", a.train_mse);
    }
}
