//! Deterministic policies for deployment, and the network files (safetensors).
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
//!
//! A policy file (`policy.safetensors`) holds the actor `actor.0.*` and the metadata
//! `format` = `pars-policy`, `version` = `1`, `spec` (the network shape as JSON),
//! `config` (the run's resolved configuration as JSON, where there is one), `members`
//! and what the run adds (`algo`, `steps`, `q_min`, …).
use crate::nn::{EnsembleMlp, MlpSpec, Tape};
use anyhow::{ensure, Context, Result};
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// File name of the deployable actor in a run directory.
pub const POLICY_FILE: &str = "policy.safetensors";
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
        crate::run::write_atomic(path, &self.to_bytes()?)
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

/// Save a deterministic actor as a policy file. `config` is the run's resolved
/// configuration as JSON text (metadata `config`); `info` adds metadata entries
/// (e.g. `algo`, `steps`, `q_min`).
pub fn save_policy(
    path: &Path,
    actor: &EnsembleMlp,
    config: Option<&str>,
    info: &[(&str, String)],
) -> Result<()> {
    let mut w = TensorWriter::new();
    w.meta("format", POLICY_FORMAT);
    w.meta("version", FORMAT_VERSION.to_string());
    w.meta("spec", serde_json::to_string(&actor.spec)?);
    w.meta("members", actor.members.to_string());
    if let Some(c) = config {
        w.meta("config", c);
    }
    for (k, v) in info {
        w.meta(k, v.clone());
    }
    w.net("", "actor", actor);
    w.write(path)
}

/// The actor of a policy file, or of an agent checkpoint, and the file's metadata.
pub fn load_policy_net(path: &Path) -> Result<(EnsembleMlp, HashMap<String, String>)> {
    policy_net_of(TensorReader::open(path)?, path)
}

fn policy_net_of(r: TensorReader, path: &Path) -> Result<(EnsembleMlp, HashMap<String, String>)> {
    r.check_format(&[POLICY_FORMAT, AGENT_FORMAT], "a policy")?;
    let spec: MlpSpec = r.meta_json("spec")?;
    ensure!(
        spec.tanh_output,
        "{}: 'spec' is not a policy network (no tanh output)",
        path.display()
    );
    let members: usize = match r.get_meta("members") {
        Some(m) => m.parse().ok().filter(|&m| m == 1).with_context(|| {
            format!(
                "{}: a policy has one member, metadata says '{m}'",
                path.display()
            )
        })?,
        None => 1,
    };
    let net = r.net("", "actor", &spec, members)?;
    Ok((net, r.meta))
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

    /// Load `policy.safetensors` (or the actor of an agent checkpoint `agent.safetensors`).
    pub fn load(path: &Path) -> Result<Self> {
        let (net, _) = load_policy_net(path)?;
        Ok(Self::new(net))
    }

    /// A policy from the bytes of a policy file (e.g. one built into the binary);
    /// `name` stands for the file in messages.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self> {
        let path = Path::new(name);
        let (net, _) = policy_net_of(TensorReader::from_bytes(path, bytes)?, path)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn spec(ln: bool) -> MlpSpec {
        MlpSpec {
            input: 5,
            hidden: 8,
            depth: 2,
            output: 3,
            layer_norm: ln,
            activation: Activation::Relu,
            tanh_output: true,
            hidden_bias_init: 0.1,
            output_init_scale: 0.5,
        }
    }

    fn actor(seed: u64) -> EnsembleMlp {
        EnsembleMlp::new(spec(false), 1, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn names_tile_the_parameter_vector_and_follow_the_forward_pass() {
        for ln in [false, true] {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let net = EnsembleMlp::new(spec(ln), 3, &mut rng);
            let t = net_tensors("critic", &net.spec, 3);
            assert_eq!(t.last().unwrap().range.end, net.params.len());
            for w in t.windows(2) {
                assert_eq!(w[0].range.end, w[1].range.start);
            }
            assert_eq!(t[0].name, "critic.0.layer0.weight");
            assert_eq!(t[0].shape, vec![5, 8]);
            let per = if ln { 10 } else { 6 };
            assert_eq!(t.len(), 3 * per);
            assert_eq!(t[2 * per + per - 1].name, "critic.2.layer2.bias");
            assert_eq!(t[2 * per + per - 1].shape, vec![3]);
        }
        // a forward pass written from the names alone (x·W + b, relu, tanh) agrees
        let net = actor(4);
        let t = net_tensors("actor", &net.spec, 1);
        let get = |n: &str| &net.params[t.iter().find(|x| x.name == n).unwrap().range.clone()];
        let obs = [0.3f32, -0.2, 0.9, 0.0, -1.0];
        let mut x = obs.to_vec();
        for l in 0..=2 {
            let w = get(&format!("actor.0.layer{l}.weight"));
            let b = get(&format!("actor.0.layer{l}.bias"));
            let out = b.len();
            let y: Vec<f32> = (0..out)
                .map(|j| {
                    let z = b[j] + (0..x.len()).map(|i| x[i] * w[i * out + j]).sum::<f32>();
                    if l < 2 {
                        z.max(0.0)
                    } else {
                        z.tanh()
                    }
                })
                .collect();
            x = y;
        }
        let mut p = Policy::new(net);
        let a = p.act(&obs);
        for (u, v) in a.iter().zip(&x) {
            assert!((u - v).abs() < 1e-6, "{a:?} vs {x:?}");
        }
    }

    #[test]
    fn policy_round_trips_bit_for_bit_and_files_are_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        let net = actor(1);
        let cfg = serde_json::json!({"agent": {"hidden": 8}, "algo": "PARS"});
        let text = cfg.to_string();
        let info = [("algo", "PARS".to_string()), ("q_min", "-1.5".to_string())];
        save_policy(&a, &net, Some(&text), &info).unwrap();
        save_policy(&b, &net, Some(&text), &info).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let (back, meta) = load_policy_net(&a).unwrap();
        assert_eq!(back.params, net.params);
        assert_eq!(back.spec, net.spec);
        assert_eq!(meta["format"], "pars-policy");
        assert_eq!(meta["q_min"], "-1.5");
        let c: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
        assert_eq!(c, cfg);
        let p = Policy::load(&a).unwrap();
        assert_eq!((p.obs_dim(), p.act_dim()), (5, 3));
    }

    /// Rewrite `file`'s tensors and metadata with `edit` and return the load error.
    fn load_error(
        dir: &Path,
        edit: impl FnOnce(&mut BTreeMap<String, (Vec<usize>, Vec<f32>)>, &mut BTreeMap<String, String>),
    ) -> String {
        let good = dir.join("good.safetensors");
        save_policy(&good, &actor(2), None, &[]).unwrap();
        let r = TensorReader::open(&good).unwrap();
        let mut tensors = BTreeMap::new();
        for n in r.names() {
            let shape = r.shape(&n).unwrap().to_vec();
            tensors.insert(n.clone(), (shape.clone(), r.f32(&n, &shape).unwrap()));
        }
        let mut meta: BTreeMap<String, String> = r
            .metadata()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        edit(&mut tensors, &mut meta);
        let mut w = TensorWriter::new();
        for (k, v) in meta {
            w.meta(&k, v);
        }
        for (n, (s, v)) in tensors {
            w.f32(n, &s, &v);
        }
        let bad = dir.join("bad.safetensors");
        w.write(&bad).unwrap();
        let e = format!("{:#}", Policy::load(&bad).err().expect("load must fail"));
        assert!(e.contains("bad.safetensors"), "names the file: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    #[test]
    fn bad_policy_files_are_clear_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // not a safetensors file at all
        let junk = d.join("junk.safetensors");
        std::fs::write(&junk, b"PARSNET1 this is an old or foreign file").unwrap();
        let e = format!("{:#}", Policy::load(&junk).err().unwrap());
        assert!(
            e.contains("junk.safetensors is not a safetensors file"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            Policy::load(&d.join("none.safetensors")).err().unwrap()
        );
        assert!(
            e.contains("cannot read") && e.contains("none.safetensors"),
            "{e}"
        );

        let e = load_error(d, |_, m| {
            m.insert("format".into(), "pars-trace".into());
        });
        assert!(
            e.contains("format is 'pars-trace', expected a policy"),
            "{e}"
        );
        let e = load_error(d, |_, m| {
            m.remove("format");
        });
        assert!(e.contains("no 'format'"), "{e}");
        let e = load_error(d, |_, m| {
            m.insert("version".into(), "2".into());
        });
        assert!(
            e.contains("version 2 is newer than this build of pars supports (1)"),
            "{e}"
        );
        let e = load_error(d, |t, _| {
            t.remove("actor.0.layer2.bias");
        });
        assert!(e.contains("missing tensor 'actor.0.layer2.bias'"), "{e}");
        let e = load_error(d, |t, _| {
            t.insert("actor.0.layer1.weight".into(), (vec![8, 4], vec![0.0; 32]));
        });
        assert!(
            e.contains("tensor 'actor.0.layer1.weight' has shape [8, 4], expected [8, 8]"),
            "{e}"
        );
        let e = load_error(d, |t, _| {
            t.get_mut("actor.0.layer0.bias").unwrap().1[3] = f32::NAN;
        });
        assert!(
            e.contains("tensor 'actor.0.layer0.bias' contains NaN or infinity"),
            "{e}"
        );
        let e = load_error(d, |t, _| {
            t.get_mut("actor.0.layer2.weight").unwrap().1[0] = f32::INFINITY;
        });
        assert!(
            e.contains("'actor.0.layer2.weight' contains NaN or infinity"),
            "{e}"
        );
        let e = load_error(d, |_, m| {
            m.insert("spec".into(), "{\"input\": 5}".into());
        });
        assert!(e.contains("metadata 'spec' is malformed"), "{e}");
    }

    #[test]
    fn reader_checks_dtypes_and_reads_ints() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        let mut w = TensorWriter::new();
        w.i64("step", &[], &[7]);
        w.f32("x", &[2], &[1.0, 2.0]);
        w.write(&p).unwrap();
        let r = TensorReader::open(&p).unwrap();
        assert_eq!(r.i64("step", &[]).unwrap(), vec![7]);
        let e = r.f32("step", &[]).unwrap_err().to_string();
        assert!(
            e.contains("tensor 'step' has dtype I64, expected F32"),
            "{e}"
        );
    }
}
