//! The safetensors codec of every pars network file: policy files, agent checkpoints
//! and update traces.
//!
//! Every network file is a [safetensors](https://github.com/huggingface/safetensors) file:
//! an 8-byte little-endian header length, a JSON header (tensor names, dtypes, shapes,
//! offsets, and string metadata under `__metadata__`), then the raw little-endian data.
//! It loads with no pars code (`safetensors.numpy.load_file` in Python) and no framework.
//!
//! Tensor names come from one function, [`net_tensors`]: member `m` of network `NET`
//! has `NET.{m}.layer{l}.weight` with shape `[in, out]` (the engine computes x·W),
//! `NET.{m}.layer{l}.bias` `[out]` and, on hidden layers with LayerNorm,
//! `NET.{m}.layer{l}.ln_scale` and `NET.{m}.layer{l}.ln_bias` `[out]`; l = 0..=depth,
//! layer `depth` is the output layer. Policy files, agent checkpoints and update
//! traces all use these names (see docs/deploy.md).
use crate::nn::{EnsembleMlp, MlpSpec};
use anyhow::{ensure, Context, Result};
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// `format` of a policy file.
pub const POLICY_FORMAT: &str = "pars-policy";
/// `format` of a whole-agent checkpoint (it holds the actor too, so it also loads as a policy).
pub const AGENT_FORMAT: &str = "pars-agent";
/// Newest `version` of the policy and agent formats this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// One named tensor of an ensemble network: its name, its shape and where its values
/// lie in the network's flat parameter vector (`EnsembleMlp::params`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub range: Range<usize>,
}

/// The naming function: every tensor of a `members`-member network of shape `spec`
/// called `net` (`actor`, `critic`, `actor_target`, …), in the order of the flat
/// parameter vector. Member m, layer l (0..=depth; `depth` is the output layer):
/// `{net}.{m}.layer{l}.weight` [in, out], `.bias` [out], and `.ln_scale`, `.ln_bias`
/// [out] on hidden layers with LayerNorm. Per member the parameters are laid out layer
/// by layer as W (row-major [in, out]), b, then LayerNorm gain and shift.
pub fn net_tensors(net: &str, spec: &MlpSpec, members: usize) -> Vec<NetTensor> {
    let mut out = Vec::new();
    let mut off = 0;
    for m in 0..members {
        let mut fan_in = spec.input;
        for l in 0..=spec.depth {
            let hidden = l < spec.depth;
            let fan_out = if hidden { spec.hidden } else { spec.output };
            let mut push = |kind: &str, shape: Vec<usize>| {
                let n: usize = shape.iter().product();
                out.push(NetTensor {
                    name: format!("{net}.{m}.layer{l}.{kind}"),
                    shape,
                    range: off..off + n,
                });
                off += n;
            };
            push("weight", vec![fan_in, fan_out]);
            push("bias", vec![fan_out]);
            if hidden && spec.layer_norm {
                push("ln_scale", vec![fan_out]);
                push("ln_bias", vec![fan_out]);
            }
            fan_in = fan_out;
        }
    }
    out
}

/// Tensors and string metadata collected for one safetensors file.
#[derive(Default)]
pub struct TensorWriter {
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    meta: BTreeMap<String, String>,
}

impl TensorWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// One metadata entry (`__metadata__`, string → string).
    pub fn meta(&mut self, key: &str, value: impl Into<String>) {
        self.meta.insert(key.to_string(), value.into());
    }

    pub fn f32(&mut self, name: impl Into<String>, shape: &[usize], data: &[f32]) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors
            .push((name.into(), Dtype::F32, shape.to_vec(), bytes));
    }

    pub fn i64(&mut self, name: impl Into<String>, shape: &[usize], data: &[i64]) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors
            .push((name.into(), Dtype::I64, shape.to_vec(), bytes));
    }

    /// Every member of `net` under `{prefix}{name}.…` (names from [`net_tensors`]).
    pub fn net(&mut self, prefix: &str, name: &str, net: &EnsembleMlp) {
        self.params(prefix, name, &net.spec, net.members, &net.params);
    }

    /// A flat vector laid out like a network's parameters (e.g. Adam moments), named
    /// `{prefix}{net}.{m}.layer{l}.…`.
    pub fn params(&mut self, prefix: &str, net: &str, spec: &MlpSpec, members: usize, v: &[f32]) {
        for t in net_tensors(net, spec, members) {
            self.f32(format!("{prefix}{}", t.name), &t.shape, &v[t.range]);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.iter().any(|t| t.0 == name)
    }

    /// The file's bytes. Deterministic: the same tensors and metadata give the same
    /// bytes (the header's JSON keys are sorted).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let views = self
            .tensors
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("cannot build a safetensors file: {e}"))?;
        let meta: HashMap<String, String> = self.meta.clone().into_iter().collect();
        let bytes = safetensors::serialize(views, Some(meta))
            .map_err(|e| anyhow::anyhow!("cannot build a safetensors file: {e}"))?;
        // The crate writes `__metadata__` from a HashMap (random order): rewrite the
        // header with sorted keys so equal content gives equal files.
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n])?;
        let mut h = serde_json::to_vec(&header)?;
        h.resize(h.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(8 + h.len() + bytes.len() - 8 - n);
        out.extend_from_slice(&(h.len() as u64).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&bytes[8 + n..]);
        Ok(out)
    }

    /// Write the file atomically (temporary sibling, then rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        super::atomic::write_atomic(path, &self.to_bytes()?)
    }
}

/// A safetensors file read into memory, with checked accessors whose errors are one
/// line naming the file and, where it applies, the tensor.
pub struct TensorReader {
    path: PathBuf,
    bytes: Vec<u8>,
    data_start: usize,
    header: Metadata,
    meta: HashMap<String, String>,
}

impl TensorReader {
    /// The file's string metadata, taken out of the reader.
    pub fn into_metadata(self) -> HashMap<String, String> {
        self.meta
    }

    pub fn open(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_bytes(path, bytes)
    }

    /// Parse `bytes`; `path` only names the file in error messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let (n, header) = SafeTensors::read_metadata(&bytes).map_err(|e| {
            let old = [b"PARSNET1", b"PARSCKP1"]
                .iter()
                .any(|m| bytes.starts_with(*m));
            let why = if old {
                "an old pars .pnet/.bin file; this version reads safetensors files".to_string()
            } else {
                e.to_string()
            };
            anyhow::anyhow!("{} is not a safetensors file ({why})", path.display())
        })?;
        let meta = header.metadata().clone().unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            data_start: 8 + n,
            header,
            meta,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A metadata entry, if present.
    pub fn get_meta(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }

    /// All metadata entries.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.meta
    }

    /// A required metadata entry.
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.get_meta(key).with_context(|| {
            format!(
                "{}: metadata has no '{key}' (not written by pars?)",
                self.path.display()
            )
        })
    }

    /// A metadata entry holding JSON, parsed.
    pub fn meta_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.meta(key)?)
            .with_context(|| format!("{}: metadata '{key}' is malformed", self.path.display()))
    }

    /// Check `format` (one of `accepted`) and `version` (at most what this build
    /// supports); returns the format.
    pub fn check_format(&self, accepted: &[&str], what: &str) -> Result<String> {
        let p = self.path.display();
        let fmt = self
            .get_meta("format")
            .with_context(|| format!("{p}: not a pars file (its metadata has no 'format')"))?;
        ensure!(
            accepted.contains(&fmt),
            "{p}: format is '{fmt}', expected {what} ({})",
            accepted.join(" or ")
        );
        let v = self.meta("version")?;
        let v: u32 = v
            .trim()
            .parse()
            .with_context(|| format!("{p}: version '{v}' is not a number"))?;
        ensure!(
            v <= FORMAT_VERSION,
            "{p}: {fmt} version {v} is newer than this build of pars supports ({FORMAT_VERSION}); update pars"
        );
        Ok(fmt.to_string())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.header.info(name).is_some()
    }

    /// Names of all tensors (in file order).
    pub fn names(&self) -> Vec<String> {
        self.header.offset_keys()
    }

    fn info(&self, name: &str, dtype: Dtype, shape: &[usize]) -> Result<&TensorInfo> {
        let p = self.path.display();
        let info = self
            .header
            .info(name)
            .with_context(|| format!("{p}: missing tensor '{name}'"))?;
        ensure!(
            info.dtype == dtype,
            "{p}: tensor '{name}' has dtype {:?}, expected {dtype:?}",
            info.dtype
        );
        ensure!(
            info.shape == shape,
            "{p}: tensor '{name}' has shape {:?}, expected {shape:?}",
            info.shape
        );
        Ok(info)
    }

    fn data(&self, info: &TensorInfo) -> &[u8] {
        let (s, e) = info.data_offsets;
        &self.bytes[self.data_start + s..self.data_start + e]
    }

    /// A float32 tensor of exactly `shape` into `out`; NaN and infinity are refused.
    pub fn f32_into(&self, name: &str, shape: &[usize], out: &mut [f32]) -> Result<()> {
        let info = self.info(name, Dtype::F32, shape)?;
        assert_eq!(out.len(), shape.iter().product::<usize>());
        for (o, c) in out.iter_mut().zip(self.data(info).chunks_exact(4)) {
            *o = f32::from_le_bytes(c.try_into().unwrap());
        }
        ensure!(
            out.iter().all(|v| v.is_finite()),
            "{}: tensor '{name}' contains NaN or infinity",
            self.path.display()
        );
        Ok(())
    }

    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let mut v = vec![0.0; shape.iter().product()];
        self.f32_into(name, shape, &mut v)?;
        Ok(v)
    }

    /// An int64 tensor of exactly `shape`.
    pub fn i64(&self, name: &str, shape: &[usize]) -> Result<Vec<i64>> {
        let info = self.info(name, Dtype::I64, shape)?;
        Ok(self
            .data(info)
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    /// The shape of a tensor, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.header.info(name).map(|i| &i.shape[..])
    }

    /// A flat vector laid out like a network's parameters, from the tensors
    /// `{prefix}{net}.{m}.layer{l}.…` (names and shapes from [`net_tensors`]).
    pub fn params(
        &self,
        prefix: &str,
        net: &str,
        spec: &MlpSpec,
        members: usize,
    ) -> Result<Vec<f32>> {
        let tensors = net_tensors(net, spec, members);
        let mut v = vec![0.0; tensors.last().map_or(0, |t| t.range.end)];
        for t in tensors {
            self.f32_into(&format!("{prefix}{}", t.name), &t.shape, &mut v[t.range])?;
        }
        Ok(v)
    }

    /// Network `net` with `members` members of shape `spec`.
    pub fn net(
        &self,
        prefix: &str,
        net: &str,
        spec: &MlpSpec,
        members: usize,
    ) -> Result<EnsembleMlp> {
        check_spec(spec, members).with_context(|| {
            format!(
                "{}: network '{net}' has an invalid shape",
                self.path.display()
            )
        })?;
        let params = self.params(prefix, net, spec, members)?;
        EnsembleMlp::from_params(spec.clone(), members, params)
            .with_context(|| format!("{}: network '{net}'", self.path.display()))
    }
}

fn check_spec(spec: &MlpSpec, members: usize) -> Result<()> {
    ensure!(
        members > 0 && spec.input > 0 && spec.output > 0 && spec.hidden > 0,
        "sizes must be positive (input {}, hidden {}, output {}, members {members})",
        spec.input,
        spec.hidden,
        spec.output
    );
    Ok(())
}
