//! Adam over a flat parameter vector, with an optional cosine learning-rate decay.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// (params, grads, m, v) slices of one parallel task.
type Chunk<'a> = (((&'a mut [f32], &'a [f32]), &'a mut [f32]), &'a mut [f32]);

/// Elements per parallel task in elementwise updates.
pub const PAR_CHUNK: usize = 32 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    Constant,
    /// Cosine decay from the base rate to 0 over `total_steps` updates.
    Cosine {
        total_steps: u64,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub schedule: LrSchedule,
    pub step: u64,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl Adam {
    pub fn new(n_params: usize, lr: f32, schedule: LrSchedule) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            schedule,
            step: 0,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
        }
    }

    /// Learning rate used by the next update.
    pub fn current_lr(&self) -> f32 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine { total_steps } => {
                let frac = (self.step as f64 / total_steps.max(1) as f64).min(1.0);
                (self.lr as f64 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())) as f32
            }
        }
    }

    pub fn update(&mut self, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), self.m.len());
        assert_eq!(grads.len(), self.m.len());
        let lr = self.current_lr();
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        let step_size = lr / bc1;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let inv_sqrt_bc2 = 1.0 / bc2.sqrt();
        let update = |(((p, g), m), v): Chunk| {
            adam_chunk(p, g, m, v, [b1, b2, step_size, inv_sqrt_bc2, eps])
        };
        // elementwise, so splitting across cores changes no result
        if params.len() >= 2 * PAR_CHUNK {
            params
                .par_chunks_mut(PAR_CHUNK)
                .zip(grads.par_chunks(PAR_CHUNK))
                .zip(self.m.par_chunks_mut(PAR_CHUNK))
                .zip(self.v.par_chunks_mut(PAR_CHUNK))
                .for_each(update);
        } else {
            update((((params, grads), &mut self.m[..]), &mut self.v[..]));
        }
    }
}

crate::multiversion! {
/// One Adam step on a slice; `k` = [β1, β2, lr/(1−β1^t), 1/√(1−β2^t), ε].
fn adam_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: [f32; 5]) {
    let [b1, b2, step_size, inv_sqrt_bc2, eps] = k;
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *p -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr_against_gradient_sign() {
        let mut adam = Adam::new(3, 0.1, LrSchedule::Constant);
        let mut p = vec![1.0, -1.0, 0.5];
        adam.update(&mut p, &[2.0, -0.5, 0.0]);
        // with bias correction the first step is lr·sign(g)
        assert!((p[0] - 0.9).abs() < 1e-5);
        assert!((p[1] + 0.9).abs() < 1e-5);
        assert!((p[2] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut adam = Adam::new(2, 0.05, LrSchedule::Constant);
        let mut p = vec![3.0f32, -2.0];
        for _ in 0..2000 {
            let g = vec![2.0 * (p[0] - 1.0), 2.0 * (p[1] + 0.5)];
            adam.update(&mut p, &g);
        }
        assert!((p[0] - 1.0).abs() < 1e-2 && (p[1] + 0.5).abs() < 1e-2);
    }

    #[test]
    fn cosine_schedule_decays_to_zero() {
        let mut adam = Adam::new(1, 1.0, LrSchedule::Cosine { total_steps: 10 });
        assert!((adam.current_lr() - 1.0).abs() < 1e-6);
        adam.step = 5;
        assert!((adam.current_lr() - 0.5).abs() < 1e-6);
        adam.step = 10;
        assert!(adam.current_lr().abs() < 1e-6);
    }
}
