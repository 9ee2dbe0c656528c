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
pub mod simd;

pub use adam::{Adam, LrSchedule};
pub use mlp::{EnsembleMlp, Init, MlpSpec, Tape};

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

/// One activation function as a type, so the fused loops are compiled once per
/// activation with no branch per element (and vectorise).
pub trait ActFn {
    fn f(x: f32) -> f32;
    /// d f(x) / dx given the input `x` and the output `y = f(x)`.
    fn df(x: f32, y: f32) -> f32;
}

pub struct Relu;
pub struct Gelu;
pub struct Silu;
pub struct Sigmoid;
pub struct Identity;

impl ActFn for Relu {
    #[inline(always)]
    fn f(x: f32) -> f32 {
        x.max(0.0)
    }
    #[inline(always)]
    fn df(x: f32, _: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

impl ActFn for Gelu {
    /// tanh approximation, as in JAX's default gelu
    #[inline(always)]
    fn f(x: f32) -> f32 {
        0.5 * x * (1.0 + (GELU_C * (x + 0.044715 * x * x * x)).tanh())
    }
    #[inline(always)]
    fn df(x: f32, _: f32) -> f32 {
        let t = (GELU_C * (x + 0.044715 * x * x * x)).tanh();
        0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
    }
}

impl ActFn for Silu {
    #[inline(always)]
    fn f(x: f32) -> f32 {
        x / (1.0 + (-x).exp())
    }
    #[inline(always)]
    fn df(x: f32, _: f32) -> f32 {
        let s = 1.0 / (1.0 + (-x).exp());
        s * (1.0 + x * (1.0 - s))
    }
}

impl ActFn for Sigmoid {
    #[inline(always)]
    fn f(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }
    #[inline(always)]
    fn df(_: f32, y: f32) -> f32 {
        y * (1.0 - y)
    }
}

impl ActFn for Identity {
    #[inline(always)]
    fn f(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn df(_: f32, _: f32) -> f32 {
        1.0
    }
}

/// Run `$body` with the type alias `$A` bound to the `ActFn` of `$act`.
#[macro_export]
macro_rules! with_activation {
    ($act:expr, $A:ident => $body:expr) => {
        match $act {
            $crate::nn::Activation::Relu => {
                type $A = $crate::nn::Relu;
                $body
            }
            $crate::nn::Activation::Gelu => {
                type $A = $crate::nn::Gelu;
                $body
            }
            $crate::nn::Activation::Silu => {
                type $A = $crate::nn::Silu;
                $body
            }
            $crate::nn::Activation::Sigmoid => {
                type $A = $crate::nn::Sigmoid;
                $body
            }
            $crate::nn::Activation::Identity => {
                type $A = $crate::nn::Identity;
                $body
            }
        }
    };
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        with_activation!(self, A => A::f(x))
    }

    /// d act(x) / dx, given the input `x` and the output `y = act(x)`.
    pub fn grad(self, x: f32, y: f32) -> f32 {
        with_activation!(self, A => A::df(x, y))
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

/// Σ x with 8 independent accumulators: a fixed summation order (deterministic)
/// that the compiler can keep in one SIMD register.
#[inline]
pub fn sum8(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in rest {
        s += v;
    }
    s
}

/// Σ a·b, same scheme as `sum8`.
#[inline]
pub fn dot8(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Polyak averaging: `target ← (1 − τ)·target + τ·online`.
pub fn polyak(target: &mut [f32], online: &[f32], tau: f32) {
    use rayon::prelude::*;
    assert_eq!(target.len(), online.len());
    let update = |(t, o): (&mut [f32], &[f32])| polyak_chunk(t, o, tau);
    if target.len() >= 2 * adam::PAR_CHUNK {
        target
            .par_chunks_mut(adam::PAR_CHUNK)
            .zip(online.par_chunks(adam::PAR_CHUNK))
            .for_each(update);
    } else {
        update((target, online));
    }
}

crate::multiversion! {
fn polyak_chunk(target: &mut [f32], online: &[f32], tau: f32) {
    for (t, o) in target.iter_mut().zip(online) {
        *t += tau * (o - *t);
    }
}
}
