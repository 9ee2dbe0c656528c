//! Normalised NTK map (paper Fig. 6): for the LN toy networks of `toy`, the cosine
//! between parameter gradients k(p, x) / sqrt(k(p, p)·k(x, x)), k(p, x) = ⟨∇θ f(p), ∇θ f(x)⟩,
//! between the data-boundary point p = (0.32, −0.38) and every cell of [−1,1]².
use super::toy::{fit, grid_points, FitOptions, Shape, Variant};
use super::{check_out, ensure_positive, finish, progress};
use crate::nn::{EnsembleMlp, Tape};
use crate::plots::{heatmap_grid, HeatPanel, Overlay};
use crate::run::OutputDir;
use anyhow::{ensure, Result};
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

pub const P: [f32; 2] = [0.32, -0.38];

/// ∇θ f(x) of a single-member network, written into `g`.
fn param_grad(net: &EnsembleMlp, x: &[f32], tape: &mut Tape, g: &mut [f32]) {
    net.forward(x, 1, &[0], tape);
    net.backward(tape, &[0], &[1.0], Some(g), false);
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Normalised NTK between `p` and each row of `points` (row-major 2-D).
pub fn ntk_similarity(net: &EnsembleMlp, p: [f32; 2], points: &[f32]) -> Vec<f64> {
    let n = net.params.len();
    let mut tape = Tape::new(net, 1);
    let mut gp = vec![0.0f32; n];
    param_grad(net, &p, &mut tape, &mut gp);
    let kpp = dot(&gp, &gp);
    points
        .par_chunks(2 * 64)
        .flat_map_iter(|chunk| {
            let mut tape = Tape::new(net, 1);
            let mut g = vec![0.0f32; n];
            let gp = &gp;
            chunk
                .chunks_exact(2)
                .map(move |x| {
                    param_grad(net, x, &mut tape, &mut g);
                    let kxx = dot(&g, &g);
                    dot(gp, &g) / (kpp * kxx).sqrt().max(1e-300)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What `pars analyze ntk` computes (its flags, parsed in `cli::analyze`).
#[derive(Debug, Clone)]
pub struct NtkSettings {
    /// Output directory.
    pub out: PathBuf,
    pub fit: FitOptions,
    /// Reward scales c of the LN networks.
    pub c_values: Vec<f32>,
    /// Grid cells per side (default 101, 31 when fast).
    pub grid: Option<usize>,
    /// No progress bar, table or summary.
    pub quiet: bool,
}

#[derive(Serialize, Debug)]
pub struct NtkStats {
    pub c: f32,
    /// Mean similarity over cells of [−1,1]² outside the data disk.
    pub ring_mean: f64,
    /// Mean similarity over cells inside the data disk.
    pub in_data_mean: f64,
    /// Mean over ring cells with r > 1 (the corners, far from the data).
    pub corner_mean: f64,
    pub min: f64,
    pub max: f64,
    pub train_mse: f64,
}

pub fn run(a: NtkSettings) -> Result<PathBuf> {
    ensure_positive("--c", &a.c_values)?;
    // same settings as `toy`, so the networks are the toy's LN fits
    let s = a.fit.settings(None, None)?;
    let grid = a.grid.unwrap_or(if a.fit.fast { 31 } else { 101 });
    ensure!(grid >= 2, "option --grid must be at least 2");
    check_out(&a.out)?;
    let t0 = std::time::Instant::now();
    let pb = progress((a.c_values.len() * s.steps) as u64, "ntk fits", !a.quiet);
    let fits: Vec<_> = a
        .c_values
        .par_iter()
        .map(|&c| fit(&s, Shape::Disk, Variant::LN, c, &pb))
        .collect();
    pb.finish_and_clear();
    let pts = grid_points(-1.0, 1.0, grid);
    let maps: Vec<Vec<f64>> = fits
        .iter()
        .map(|f| ntk_similarity(&f.net, P, &pts))
        .collect();
    let secs = t0.elapsed().as_secs_f64();

    let inside: Vec<bool> = pts
        .chunks_exact(2)
        .map(|q| Shape::Disk.contains(q[0], q[1]))
        .collect();
    let corner: Vec<bool> = pts
        .chunks_exact(2)
        .map(|q| q[0] * q[0] + q[1] * q[1] > 1.0)
        .collect();
    let avg = |m: &[f64], f: &dyn Fn(usize) -> bool| {
        let v: Vec<f64> = (0..m.len()).filter(|&i| f(i)).map(|i| m[i]).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let stats: Vec<NtkStats> = a
        .c_values
        .iter()
        .zip(&maps)
        .zip(&fits)
        .map(|((&c, m), f)| NtkStats {
            c,
            ring_mean: avg(m, &|i| !inside[i]),
            in_data_mean: avg(m, &|i| inside[i]),
            corner_mean: avg(m, &|i| corner[i]),
            min: m.iter().copied().fold(f64::INFINITY, f64::min),
            max: m.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            train_mse: f.train_mse,
        })
        .collect();

    let run = OutputDir::create(&a.out)?;
    let lo = stats.iter().map(|s| s.min).fold(f64::INFINITY, f64::min);
    let panels: Vec<HeatPanel> = a
        .c_values
        .iter()
        .zip(&maps)
        .map(|(c, m)| HeatPanel {
            title: format!("LN, c={c}: normalised NTK with p"),
            lo: -1.0,
            hi: 1.0,
            n: grid,
            values: m.clone(),
            range: Some((lo.min(0.0), 1.0)),
            overlays: vec![
                Overlay::Circle {
                    cx: 0.0,
                    cy: 0.0,
                    r: 0.5,
                },
                Overlay::Point {
                    x: P[0] as f64,
                    y: P[1] as f64,
                },
            ],
        })
        .collect();
    heatmap_grid(
        &run.path().join("ntk.png"),
        "Normalised NTK k(p,x)/sqrt(k(p,p)k(x,x)), p = (0.32, -0.38) (red)",
        panels.len(),
        &panels,
        (430, 350),
    )?;
    let mut csv = String::from("x1,x2");
    for c in &a.c_values {
        csv.push_str(&format!(",sim_c{c}"));
    }
    csv.push('\n');
    for (i, q) in pts.chunks_exact(2).enumerate() {
        csv.push_str(&format!("{},{}", q[0], q[1]));
        for m in &maps {
            csv.push_str(&format!(",{:.6}", m[i]));
        }
        csv.push('\n');
    }
    run.write_text("ntk_grid.csv", &csv)?;
    run.write_json(
        "numbers.json",
        &serde_json::json!({
            "analysis": "ntk",
            "fast": a.fit.fast,
            "p": P,
            "settings": s,
            "grid": grid,
            "seconds": secs,
            "definitions": {
                "similarity": "<grad_theta f(p), grad_theta f(x)> / (|grad f(p)| |grad f(x)|), all parameters of the LN network (toy fit of c(x1^2+x2^2) on r <= 0.5)",
                "ring_mean": "mean over cells of [-1,1]^2 with r > 0.5",
                "in_data_mean": "mean over cells with r <= 0.5",
                "corner_mean": "mean over cells with r > 1",
            },
            "maps": stats,
        }),
    )?;
    let path = finish(run)?;
    if !a.quiet {
        println!(
            "{:>6} {:>10} {:>10} {:>10}",
            "c", "ring mean", "in-data", "corners"
        );
        for s in &stats {
            println!(
                "{:>6} {:>10.3} {:>10.3} {:>10.3}",
                s.c, s.ring_mean, s.in_data_mean, s.corner_mean
            );
        }
        println!("wrote {}", path.display());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::toy::{spec, FitSettings};
    use rand::SeedableRng;

    #[test]
    fn similarity_is_one_at_p_and_a_cosine_elsewhere() {
        let s = FitSettings {
            hidden: 16,
            ..FitSettings::fast()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let net = EnsembleMlp::new(spec(&s, Variant::LN), 1, &mut rng);
        let pts = [P[0], P[1], 0.9, 0.9, -0.2, 0.1, 0.32, -0.38];
        let k = ntk_similarity(&net, P, &pts);
        assert!((k[0] - 1.0).abs() < 1e-6 && (k[3] - 1.0).abs() < 1e-6);
        assert!(k.iter().all(|v| v.abs() <= 1.0 + 1e-9));
        // symmetric: k(p, x) = k(x, p)
        let x = [0.9f32, 0.9];
        let back = ntk_similarity(&net, x, &P);
        assert!((back[0] - k[1]).abs() < 1e-6);
    }
}
