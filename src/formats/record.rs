//! Pieces of the learners' agent files (burn's "records"): an optimiser's state as
//! tensors plus exact scalars, and the network-shape check of a loaded file.
use super::safetensors::{TensorReader, TensorWriter};
use super::state::bits32;
use crate::nn::{Adam, EnsembleMlp, LrSchedule, MlpSpec};
use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};

/// Adam's scalar state, exactly (its moments and step count are tensors).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdamRecord {
    #[serde(with = "bits32")]
    lr: f32,
    #[serde(with = "bits32")]
    beta1: f32,
    #[serde(with = "bits32")]
    beta2: f32,
    #[serde(with = "bits32")]
    eps: f32,
    schedule: LrSchedule,
}

impl AdamRecord {
    pub fn of(a: &Adam) -> Self {
        Self {
            lr: a.lr,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            schedule: a.schedule,
        }
    }

    /// The optimiser with these settings and no moments yet (`read_adam` fills them).
    pub fn into_adam(self) -> Adam {
        self.with_state(0, vec![], vec![])
    }

    fn with_state(self, step: u64, m: Vec<f32>, v: Vec<f32>) -> Adam {
        Adam {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            schedule: self.schedule,
            step,
            m,
            v,
        }
    }
}

/// The moments of `opt`, which optimises `net`, as `{prefix}{name}_adam.m.<net tensor>`
/// and `.v.<net tensor>`, and its step count `{prefix}{name}_adam.step` (int64, []).
pub fn write_adam(w: &mut TensorWriter, prefix: &str, name: &str, net: &EnsembleMlp, opt: &Adam) {
    let p = format!("{prefix}{name}_adam.");
    w.params(&format!("{p}m."), name, &net.spec, net.members, &opt.m);
    w.params(&format!("{p}v."), name, &net.spec, net.members, &opt.v);
    w.i64(format!("{p}step"), &[], &[opt.step as i64]);
}

/// Read what `write_adam` wrote into `opt` (which keeps its scalar settings).
pub fn read_adam(
    r: &TensorReader,
    prefix: &str,
    name: &str,
    spec: &MlpSpec,
    members: usize,
    opt: &mut Adam,
) -> Result<()> {
    let p = format!("{prefix}{name}_adam.");
    let m = r.params(&format!("{p}m."), name, spec, members)?;
    let v = r.params(&format!("{p}v."), name, spec, members)?;
    let step = read_step(r, &format!("{p}step"))?;
    *opt = AdamRecord::of(opt).with_state(step, m, v);
    Ok(())
}

/// `write_adam` for an optimiser of a plain vector of `len` values:
/// `{prefix}{name}_adam.m`, `.v` [len] and `.step`.
pub fn write_vec_adam(w: &mut TensorWriter, prefix: &str, name: &str, opt: &Adam) {
    let p = format!("{prefix}{name}_adam.");
    w.f32(format!("{p}m"), &[opt.m.len()], &opt.m);
    w.f32(format!("{p}v"), &[opt.v.len()], &opt.v);
    w.i64(format!("{p}step"), &[], &[opt.step as i64]);
}

/// Read what `write_vec_adam` wrote for a vector of `len` values into `opt`.
pub fn read_vec_adam(
    r: &TensorReader,
    prefix: &str,
    name: &str,
    len: usize,
    opt: &mut Adam,
) -> Result<()> {
    let p = format!("{prefix}{name}_adam.");
    let m = r.f32(&format!("{p}m"), &[len])?;
    let v = r.f32(&format!("{p}v"), &[len])?;
    let step = read_step(r, &format!("{p}step"))?;
    *opt = AdamRecord::of(opt).with_state(step, m, v);
    Ok(())
}

fn read_step(r: &TensorReader, name: &str) -> Result<u64> {
    let s = r.i64(name, &[])?[0];
    ensure!(
        s >= 0,
        "{}: tensor '{name}' is negative ({s})",
        r.path().display()
    );
    Ok(s as u64)
}

/// Two specs describe the same network; the init-only fields (bias init, output
/// scale) need not survive JSON exactly.
pub fn same_shape(a: &MlpSpec, b: &MlpSpec) -> bool {
    let key = |s: &MlpSpec| {
        (
            s.input,
            s.hidden,
            s.depth,
            s.output,
            s.layer_norm,
            s.activation,
            s.tanh_output,
            s.gaussian_head,
        )
    };
    key(a) == key(b)
}
