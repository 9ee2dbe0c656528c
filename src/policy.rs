//! Deterministic policies for deployment.
//!
//! A policy file (`policy.safetensors`) is a safetensors file (see `crate::formats`) that
//! holds the actor `actor.0.*` and the metadata `format` = `pars-policy`, `version` =
//! `1`, `spec` (the network shape as JSON), `config` (the run's resolved configuration
//! as JSON, where there is one), `members` and what the run adds (`algo`, `steps`,
//! `q_min`, …). See docs/deploy.md.
use crate::formats::{TensorReader, TensorWriter, AGENT_FORMAT, FORMAT_VERSION, POLICY_FORMAT};
use crate::nn::{EnsembleMlp, MlpSpec, Tape};
use anyhow::{ensure, Context, Result};
use std::collections::HashMap;
use std::path::Path;

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
        spec.tanh_output || (spec.gaussian_head && spec.output % 2 == 0),
        "{}: 'spec' is not a policy network (no tanh output or tanh-Gaussian head)",
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
    Ok((net, r.into_metadata()))
}

/// log σ of a tanh-Gaussian head is clipped to this range (SAC's usual bounds).
pub const LOG_STD_MIN: f32 = -20.0;
pub const LOG_STD_MAX: f32 = 2.0;

/// A deterministic actor, ready to act one observation at a time: a tanh network, or
/// a tanh-Gaussian head (`MlpSpec::gaussian_head`), whose deterministic action is
/// tanh(μ) and which can also sample (`sample`).
pub struct Policy {
    pub net: EnsembleMlp,
    tape: Tape,
    /// The action of the last `act` (tanh-Gaussian heads only).
    action: Vec<f32>,
}

impl Policy {
    pub fn new(net: EnsembleMlp) -> Self {
        let tape = Tape::new(&net, 1);
        let action = vec![
            0.0;
            if net.spec.gaussian_head {
                net.spec.output / 2
            } else {
                0
            }
        ];
        Self { net, tape, action }
    }

    /// Whether the policy can sample (a tanh-Gaussian head).
    pub fn is_stochastic(&self) -> bool {
        self.net.spec.gaussian_head
    }

    /// A sampled action tanh(μ + σε), ε ~ N(0, I) from `rng`, into `out`; a policy
    /// without a Gaussian head returns its deterministic action.
    pub fn sample<R: rand::Rng>(&mut self, obs: &[f32], rng: &mut R, out: &mut [f32]) {
        if !self.is_stochastic() {
            out.copy_from_slice(self.act(obs));
            return;
        }
        let ad = self.act_dim();
        self.net.forward(obs, 1, &[0], &mut self.tape);
        let o = self.tape.output(0);
        for j in 0..ad {
            let eps: f32 = rng.sample(rand_distr::StandardNormal);
            let log_std = o[ad + j].clamp(LOG_STD_MIN, LOG_STD_MAX);
            out[j] = (o[j] + log_std.exp() * eps).tanh();
        }
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
        act_dim_of(&self.net.spec)
    }

    /// a = π(obs), in [−1, 1]^act_dim.
    pub fn act(&mut self, obs: &[f32]) -> &[f32] {
        self.net.forward(obs, 1, &[0], &mut self.tape);
        if !self.net.spec.gaussian_head {
            return self.tape.output(0);
        }
        for (a, m) in self.action.iter_mut().zip(self.tape.output(0)) {
            *a = m.tanh();
        }
        &self.action
    }

    /// Actions for `rows` observations at once into `out` ([rows, act_dim]).
    pub fn act_batch(&self, obs: &[f32], rows: usize, tape: &mut Tape, out: &mut [f32]) {
        self.net.forward(obs, rows, &[0], tape);
        let ad = self.act_dim();
        if !self.net.spec.gaussian_head {
            out[..rows * ad].copy_from_slice(tape.output(0));
            return;
        }
        for (o, row) in out[..rows * ad]
            .chunks_exact_mut(ad)
            .zip(tape.output(0).chunks_exact(2 * ad))
        {
            for (a, m) in o.iter_mut().zip(&row[..ad]) {
                *a = m.tanh();
            }
        }
    }
}

/// The action dimension of a policy network: its output, or half of it for a
/// tanh-Gaussian head ([μ | log σ]).
pub fn act_dim_of(spec: &MlpSpec) -> usize {
    if spec.gaussian_head {
        spec.output / 2
    } else {
        spec.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::net_tensors;
    use crate::nn::Activation;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

    fn spec(ln: bool) -> MlpSpec {
        MlpSpec {
            input: 5,
            hidden: 8,
            depth: 2,
            output: 3,
            layer_norm: ln,
            activation: Activation::Relu,
            tanh_output: true,
            gaussian_head: false,
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
