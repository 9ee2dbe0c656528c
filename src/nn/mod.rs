//! Neural-network engine: ensemble MLPs with hand-written fused forward/backward,
//! Adam and Polyak target copies.
//!
//! Why hand-written: the PARS step is tiny per member (batch 256, width 256) and is
//! dominated by per-call overhead in general frameworks. Fusing bias + LayerNorm +
//! activation into one pass after each GEMM, keeping every buffer preallocated and
//! running members on separate cores is what makes the step fast.
pub mod adam;
pub mod gemm;
pub mod mlp;

pub use adam::{Adam, LrSchedule};
pub use mlp::{EnsembleMlp, MlpSpec, Tape};

use serde::{Deserialize, Serialize};

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Gelu,
    Silu,
    Sigmoid,
    /// No nonlinearity.
    Identity,
}

const GELU_C: f32 = 0.797_884_6; // sqrt(2/pi)

impl Activation {
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            // tanh approximation, as in JAX's default gelu
            Activation::Gelu => 0.5 * x * (1.0 + (GELU_C * (x + 0.044715 * x * x * x)).tanh()),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Identity => x,
        }
    }

    /// d act(x) / dx, given the input `x` and the output `y = act(x)`.
    #[inline(always)]
    pub fn grad(self, x: f32, y: f32) -> f32 {
        match self {
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Gelu => {
                let u = GELU_C * (x + 0.044715 * x * x * x);
                let t = u.tanh();
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
            }
            Activation::Silu => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 + x * (1.0 - s))
            }
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Identity => 1.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Sigmoid => "sigmoid",
            Activation::Identity => "identity",
        }
    }
}

/// Polyak averaging: `target ← (1 − τ)·target + τ·online`.
pub fn polyak(target: &mut [f32], online: &[f32], tau: f32) {
    assert_eq!(target.len(), online.len());
    for (t, o) in target.iter_mut().zip(online) {
        *t += tau * (o - *t);
    }
}
