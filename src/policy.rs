//! Deterministic policies for deployment, and the network file format.
//!
//! A `.pnet` file is: the 8 bytes `PARSNET1`, a little-endian u64 header length, a
//! JSON header (network spec, member count, free-form metadata), then the parameters
//! as little-endian f32. It loads with no Python and no framework.
use crate::nn::{EnsembleMlp, MlpSpec, Tape};
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8; 8] = b"PARSNET1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetHeader {
    pub spec: MlpSpec,
    pub members: usize,
    #[serde(default)]
    pub meta: serde_json::Value,
}

pub fn save_net(path: &Path, net: &EnsembleMlp, meta: serde_json::Value) -> Result<()> {
    let header = serde_json::to_vec(&NetHeader {
        spec: net.spec.clone(),
        members: net.members,
        meta,
    })?;
    let mut buf = Vec::with_capacity(16 + header.len() + 4 * net.params.len());
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(header.len() as u64).to_le_bytes());
    buf.extend_from_slice(&header);
    for p in &net.params {
        buf.extend_from_slice(&p.to_le_bytes());
    }
    crate::run::write_atomic(path, &buf)
}

pub fn load_net(path: &Path) -> Result<(EnsembleMlp, serde_json::Value)> {
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("cannot open network file {}", path.display()))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    ensure!(
        bytes.len() >= 16 && &bytes[..8] == MAGIC,
        "{} is not a pars network file",
        path.display()
    );
    let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    ensure!(bytes.len() >= 16 + hlen, "{} is truncated", path.display());
    let header: NetHeader = serde_json::from_slice(&bytes[16..16 + hlen])
        .with_context(|| format!("{}: malformed header", path.display()))?;
    let data = &bytes[16 + hlen..];
    if data.len() % 4 != 0 {
        bail!(
            "{}: parameter block is not a whole number of f32",
            path.display()
        );
    }
    let params: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    ensure!(
        params.iter().all(|p| p.is_finite()),
        "{}: parameters contain NaN or infinity",
        path.display()
    );
    let net = EnsembleMlp::from_params(header.spec, header.members, params)
        .with_context(|| format!("{}: parameters do not fit the header", path.display()))?;
    Ok((net, header.meta))
}

/// A deterministic tanh actor, ready to act one observation at a time.
pub struct Policy {
    pub net: EnsembleMlp,
    tape: Tape,
}

impl Policy {
    pub fn new(net: EnsembleMlp) -> Self {
        let tape = Tape::new(&net, 1);
        Self { net, tape }
    }

    pub fn load(path: &Path) -> Result<Self> {
        let (net, _) = load_net(path)?;
        ensure!(
            net.members == 1 && net.spec.tanh_output,
            "{} is not a policy network",
            path.display()
        );
        Ok(Self::new(net))
    }

    pub fn obs_dim(&self) -> usize {
        self.net.spec.input
    }

    pub fn act_dim(&self) -> usize {
        self.net.spec.output
    }

    /// a = π(obs), in [−1, 1]^act_dim.
    pub fn act(&mut self, obs: &[f32]) -> &[f32] {
        self.net.forward(obs, 1, &[0], &mut self.tape);
        self.tape.output(0)
    }

    /// Actions for `rows` observations at once into `out` ([rows, act_dim]).
    pub fn act_batch(&self, obs: &[f32], rows: usize, tape: &mut Tape, out: &mut [f32]) {
        self.net.forward(obs, rows, &[0], tape);
        out[..rows * self.act_dim()].copy_from_slice(tape.output(0));
    }
}
