//! Saved agents and resumable state.
//!
//! A whole agent (networks, targets, Adam moments and step counts, learning-rate
//! schedule, Q_min, β, step count, RNG) is a safetensors file, `agent.safetensors`
//! (format `pars-agent`): the tensors are named as in every pars network file (see
//! `crate::policy::net_tensors`), the scalar state is exact JSON metadata. It holds the
//! actor under the policy's names, so it also loads as a policy.
//!
//! Online runs keep one state file (`online_state.bin`): the 8 bytes `PARSCKP1`, a
//! little-endian u64 header length, a JSON header, then raw sections in the order the
//! header lists them: the agent (the bytes of an `agent.safetensors` file), the replay
//! buffer streamed in chunks as little-endian f32, and the running episode. Every float
//! that must survive bit for bit is kept in a section, a tensor, or as its bit pattern
//! in JSON (JSON number parsing is not guaranteed to round-trip).
use super::config::{AgentConfig, IqlConfig};
use super::iql::IqlAgent;
use super::pars::Agent;
use crate::data::{Batch, ReplayBuffer};
use crate::nn::{Adam, LrSchedule, MlpSpec};
use crate::policy::{TensorReader, TensorWriter, AGENT_FORMAT, FORMAT_VERSION as NET_VERSION};
use anyhow::{bail, ensure, Context, Result};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"PARSCKP1";
/// Version 2: the agent is one byte section holding an `agent.safetensors` file.
const FORMAT_VERSION: u32 = 2;
/// File name of the whole agent in a training run's `checkpoints/`.
pub const AGENT_FILE: &str = "agent.safetensors";
/// Rows per chunk when streaming a replay buffer (keeps the extra memory small).
const CHUNK_ROWS: usize = 4096;

/// Serde helpers that store floats as their bit patterns.
pub mod bits {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

pub mod bits32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(v.to_bits())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        u32::deserialize(d).map(f32::from_bits)
    }
}

/// One block of raw data in a state file.
pub enum Section<'a> {
    F32(&'a str, &'a [f32]),
    /// Raw bytes (e.g. an embedded safetensors file).
    Bytes(&'a str, &'a [u8]),
    /// Replay rows in slot order, each `[obs, action, reward, next_obs, done]`;
    /// then the buffer's obs_dim and act_dim.
    Replay(&'a str, &'a ReplayBuffer, usize, usize),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SectionInfo {
    name: String,
    /// Number of values: f32, or bytes when `bytes`.
    len: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    bytes: bool,
}

impl SectionInfo {
    fn byte_len(&self) -> u64 {
        if self.bytes {
            self.len
        } else {
            4 * self.len
        }
    }
}

fn replay_row_len(od: usize, ad: usize) -> usize {
    2 * od + ad + 2
}

impl Section<'_> {
    fn info(&self) -> SectionInfo {
        match self {
            Section::F32(name, v) => SectionInfo {
                name: name.to_string(),
                len: v.len() as u64,
                bytes: false,
            },
            Section::Bytes(name, v) => SectionInfo {
                name: name.to_string(),
                len: v.len() as u64,
                bytes: true,
            },
            Section::Replay(name, buf, od, ad) => SectionInfo {
                name: name.to_string(),
                len: (buf.len() * replay_row_len(*od, *ad)) as u64,
                bytes: false,
            },
        }
    }

    fn write(&self, w: &mut impl Write, bytes: &mut Vec<u8>) -> std::io::Result<()> {
        match self {
            Section::F32(_, v) => {
                for chunk in v.chunks(1 << 16) {
                    write_f32s(w, chunk, bytes)?;
                }
            }
            Section::Bytes(_, v) => w.write_all(v)?,
            Section::Replay(_, buf, od, ad) => {
                let (od, ad) = (*od, *ad);
                let row = replay_row_len(od, ad);
                let mut batch = Batch::new(CHUNK_ROWS.min(buf.len().max(1)), od, ad);
                let mut flat = Vec::with_capacity(batch.size * row);
                let mut start = 0;
                while start < buf.len() {
                    let n = (buf.len() - start).min(batch.size);
                    let idx: Vec<usize> = (start..start + n).collect();
                    buf.copy_rows_into(&idx, &mut batch, 0);
                    flat.clear();
                    for r in 0..n {
                        flat.extend_from_slice(&batch.obs[r * od..(r + 1) * od]);
                        flat.extend_from_slice(&batch.actions[r * ad..(r + 1) * ad]);
                        flat.push(batch.rewards[r]);
                        flat.extend_from_slice(&batch.next_obs[r * od..(r + 1) * od]);
                        flat.push(batch.dones[r]);
                    }
                    write_f32s(w, &flat, bytes)?;
                    start += n;
                }
            }
        }
        Ok(())
    }
}

fn write_f32s(w: &mut impl Write, v: &[f32], bytes: &mut Vec<u8>) -> std::io::Result<()> {
    bytes.clear();
    bytes.reserve(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    w.write_all(bytes)
}

/// Write a state file atomically (temporary sibling, fsync, rename): an interrupted
/// write leaves the previous file intact.
pub fn write_state(path: &Path, header: Value, sections: &[Section]) -> Result<()> {
    let mut header = match header {
        Value::Object(m) => m,
        _ => bail!("state header must be a JSON object"),
    };
    header.insert("format_version".into(), FORMAT_VERSION.into());
    header.insert(
        "sections".into(),
        serde_json::to_value(sections.iter().map(|s| s.info()).collect::<Vec<_>>())?,
    );
    let header = serde_json::to_vec(&Value::Object(header))?;
    let tmp = crate::run::temp_sibling(path)?;
    let res = (|| -> Result<()> {
        let f = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        w.write_all(MAGIC)?;
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(&header)?;
        let mut bytes = Vec::new();
        for s in sections {
            s.write(&mut w, &mut bytes)?;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("cannot write {}", path.display())));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A state file opened for reading; sections are read in file order.
pub struct StateFile {
    pub header: Value,
    path: PathBuf,
    reader: BufReader<File>,
    sections: VecDeque<SectionInfo>,
}

impl StateFile {
    pub fn open(path: &Path) -> Result<Self> {
        let f = File::open(path)
            .with_context(|| format!("cannot open state file {}", path.display()))?;
        let file_len = f.metadata()?.len();
        let mut reader = BufReader::with_capacity(1 << 20, f);
        let mut head = [0u8; 16];
        reader
            .read_exact(&mut head)
            .ok()
            .filter(|_| &head[..8] == MAGIC)
            .with_context(|| format!("{} is not a pars state file", path.display()))?;
        let hlen = u64::from_le_bytes(head[8..16].try_into().unwrap());
        ensure!(
            16 + hlen <= file_len,
            "{} is truncated (header)",
            path.display()
        );
        let mut hbytes = vec![0u8; hlen as usize];
        reader.read_exact(&mut hbytes)?;
        let header: Value = serde_json::from_slice(&hbytes)
            .with_context(|| format!("{}: malformed header", path.display()))?;
        let version = header["format_version"].as_u64().unwrap_or(0);
        ensure!(
            version == FORMAT_VERSION as u64,
            "{}: state format version {version} is not supported (expected {FORMAT_VERSION})",
            path.display()
        );
        let sections: VecDeque<SectionInfo> = serde_json::from_value(header["sections"].clone())
            .with_context(|| format!("{}: malformed section list", path.display()))?;
        let data: u64 = sections.iter().map(|s| s.byte_len()).sum();
        ensure!(
            16 + hlen + data == file_len,
            "{} is truncated or corrupt ({} bytes, expected {})",
            path.display(),
            file_len,
            16 + hlen + data
        );
        Ok(Self {
            header,
            path: path.to_path_buf(),
            reader,
            sections,
        })
    }

    fn next(&mut self, name: &str) -> Result<SectionInfo> {
        let s = self
            .sections
            .pop_front()
            .with_context(|| format!("{}: missing section '{name}'", self.path.display()))?;
        ensure!(
            s.name == name,
            "{}: expected section '{name}', found '{}'",
            self.path.display(),
            s.name
        );
        Ok(s)
    }

    fn read_raw(&mut self, n: usize, out: &mut Vec<f32>, bytes: &mut Vec<u8>) -> Result<()> {
        bytes.resize(n * 4, 0);
        self.reader.read_exact(bytes)?;
        out.clear();
        out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
        );
        Ok(())
    }

    /// Skip the next section without reading it.
    pub fn skip(&mut self, name: &str) -> Result<()> {
        let s = self.next(name)?;
        self.reader.seek_relative(s.byte_len() as i64)?;
        Ok(())
    }

    /// The next section, a byte section.
    pub fn read_bytes(&mut self, name: &str) -> Result<Vec<u8>> {
        let s = self.next(name)?;
        ensure!(
            s.bytes,
            "{}: section '{name}' is not a byte section",
            self.path.display()
        );
        let mut v = vec![0u8; s.len as usize];
        self.reader.read_exact(&mut v)?;
        Ok(v)
    }

    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>> {
        let s = self.next(name)?;
        ensure!(
            !s.bytes,
            "{}: section '{name}' is not a float section",
            self.path.display()
        );
        let mut v = Vec::new();
        self.read_raw(s.len as usize, &mut v, &mut Vec::new())?;
        Ok(v)
    }

    /// Rebuild a ring buffer of `capacity` that has seen `pushed` pushes, slot for
    /// slot, including where its next push will write.
    pub fn read_replay(
        &mut self,
        name: &str,
        capacity: usize,
        pushed: u64,
        obs_dim: usize,
        act_dim: usize,
    ) -> Result<ReplayBuffer> {
        let s = self.next(name)?;
        let mut buf = ReplayBuffer::new(capacity, obs_dim, act_dim);
        let (od, ad) = (obs_dim, act_dim);
        let row = replay_row_len(od, ad);
        ensure!(
            (s.len as usize).is_multiple_of(row),
            "{}: replay section is not a whole number of rows",
            self.path.display()
        );
        let len = s.len as usize / row;
        ensure!(
            len == (pushed as usize).min(capacity),
            "{}: replay buffer holds {len} rows but {pushed} pushes into capacity {capacity} leave {}",
            self.path.display(),
            (pushed as usize).min(capacity)
        );
        let (mut flat, mut bytes) = (Vec::new(), Vec::new());
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CHUNK_ROWS);
            self.read_raw(n * row, &mut flat, &mut bytes)?;
            for r in flat.chunks_exact(row) {
                let (obs, rest) = r.split_at(od);
                let (act, rest) = rest.split_at(ad);
                let (next, _) = rest[1..].split_at(od);
                buf.push(obs, act, rest[0], next, rest[1 + od] != 0.0);
            }
            done += n;
        }
        // A full ring's next write goes to slot pushed % capacity: re-push the
        // first slots (same data) to move the write position there.
        if pushed as usize > capacity {
            let head = (pushed % capacity as u64) as usize;
            let mut batch = Batch::new(head.max(1), od, ad);
            let idx: Vec<usize> = (0..head).collect();
            buf.copy_rows_into(&idx, &mut batch, 0);
            for r in 0..head {
                buf.push(
                    &batch.obs[r * od..(r + 1) * od],
                    &batch.actions[r * ad..(r + 1) * ad],
                    batch.rewards[r],
                    &batch.next_obs[r * od..(r + 1) * od],
                    batch.dones[r] != 0.0,
                );
            }
        }
        Ok(buf)
    }
}

/// Adam's scalar state (its moments and step count are tensors).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct AdamMeta {
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

impl AdamMeta {
    fn of(a: &Adam) -> Self {
        Self {
            lr: a.lr,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            schedule: a.schedule,
        }
    }
    fn into_adam(self, step: u64, m: Vec<f32>, v: Vec<f32>) -> Adam {
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

/// The agent's scalar state, exactly (metadata `state` of an agent file).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct AgentMeta {
    /// The agent config as TOML (exact float round trip).
    cfg_toml: String,
    obs_dim: usize,
    act_dim: usize,
    #[serde(with = "bits32")]
    q_min: f32,
    #[serde(with = "bits32")]
    beta: f32,
    steps: u64,
    rng: ChaCha8Rng,
    actor_spec: MlpSpec,
    critic_spec: MlpSpec,
    critic_members: usize,
    actor_opt: AdamMeta,
    critic_opt: AdamMeta,
}

#[derive(Serialize, Deserialize)]
struct CfgWrap {
    agent: AgentConfig,
}

/// Every state tensor of `agent` under `prefix`: the networks `actor`, `actor_target`,
/// `critic`, `critic_target` (names from `crate::policy::net_tensors`), the Adam
/// moments `actor_adam.m.<actor tensor>`, `actor_adam.v.…`, `critic_adam.m.<critic
/// tensor>`, `critic_adam.v.…`, and the step counts `actor_adam.step`,
/// `critic_adam.step` (int64, shape []). Agent files and update traces share them.
pub fn write_agent_tensors(w: &mut TensorWriter, prefix: &str, agent: &Agent) {
    w.net(prefix, "actor", &agent.actor);
    w.net(prefix, "actor_target", &agent.actor_target);
    w.net(prefix, "critic", &agent.critic);
    w.net(prefix, "critic_target", &agent.critic_target);
    let (a, c) = (&agent.actor, &agent.critic);
    for (opt, net, name) in [
        (&agent.actor_opt, a, "actor"),
        (&agent.critic_opt, c, "critic"),
    ] {
        let p = format!("{prefix}{name}_adam.");
        w.params(&format!("{p}m."), name, &net.spec, net.members, &opt.m);
        w.params(&format!("{p}v."), name, &net.spec, net.members, &opt.v);
        w.i64(format!("{p}step"), &[], &[opt.step as i64]);
    }
}

/// Read the state tensors written by `write_agent_tensors` under `prefix` into
/// `agent`, whose networks give the expected shapes.
pub fn read_agent_tensors(r: &TensorReader, prefix: &str, agent: &mut Agent) -> Result<()> {
    let (aspec, cspec) = (agent.actor.spec.clone(), agent.critic.spec.clone());
    let n = agent.critic.members;
    agent.actor = r.net(prefix, "actor", &aspec, 1)?;
    agent.actor_target = r.net(prefix, "actor_target", &aspec, 1)?;
    agent.critic = r.net(prefix, "critic", &cspec, n)?;
    agent.critic_target = r.net(prefix, "critic_target", &cspec, n)?;
    for (name, spec, members) in [("actor", &aspec, 1), ("critic", &cspec, n)] {
        let p = format!("{prefix}{name}_adam.");
        let m = r.params(&format!("{p}m."), name, spec, members)?;
        let v = r.params(&format!("{p}v."), name, spec, members)?;
        let step = r.i64(&format!("{p}step"), &[])?[0];
        ensure!(
            step >= 0,
            "{}: tensor '{p}step' is negative ({step})",
            r.path().display()
        );
        let opt = if name == "actor" {
            &mut agent.actor_opt
        } else {
            &mut agent.critic_opt
        };
        *opt = AdamMeta::of(opt).into_adam(step as u64, m, v);
    }
    Ok(())
}

/// An agent file's tensors and metadata. `config` is the run's resolved configuration
/// as JSON text (metadata `config`); without it the agent's own config is stored there.
pub fn agent_writer(agent: &Agent, config: Option<&str>) -> Result<TensorWriter> {
    let meta = AgentMeta {
        cfg_toml: toml::to_string(&CfgWrap {
            agent: agent.cfg.clone(),
        })?,
        obs_dim: agent.obs_dim,
        act_dim: agent.act_dim,
        q_min: agent.q_min,
        beta: agent.beta,
        steps: agent.steps,
        rng: agent.rng.clone(),
        actor_spec: agent.actor.spec.clone(),
        critic_spec: agent.critic.spec.clone(),
        critic_members: agent.critic.members,
        actor_opt: AdamMeta::of(&agent.actor_opt),
        critic_opt: AdamMeta::of(&agent.critic_opt),
    };
    let mut w = TensorWriter::new();
    w.meta("format", AGENT_FORMAT);
    w.meta("version", NET_VERSION.to_string());
    // `spec` is the actor's, so the file loads as a policy too
    w.meta("spec", serde_json::to_string(&agent.actor.spec)?);
    w.meta("critic_spec", serde_json::to_string(&agent.critic.spec)?);
    w.meta("critic_members", agent.critic.members.to_string());
    let config = match config {
        Some(c) => c.to_string(),
        None => serde_json::to_string(&CfgWrap {
            agent: agent.cfg.clone(),
        })?,
    };
    w.meta("config", config);
    w.meta("obs_dim", agent.obs_dim.to_string());
    w.meta("act_dim", agent.act_dim.to_string());
    // readable copies; `state` is the exact record that loading uses
    w.meta("q_min", agent.q_min.to_string());
    w.meta("beta", agent.beta.to_string());
    w.meta("steps", agent.steps.to_string());
    w.meta("state", serde_json::to_string(&meta)?);
    write_agent_tensors(&mut w, "", agent);
    Ok(w)
}

/// Save a whole agent (e.g. at the end of offline training, for fine-tuning).
pub fn save_agent(path: &Path, agent: &Agent, config: Option<&str>) -> Result<()> {
    agent_writer(agent, config)?.write(path)
}

pub fn load_agent(path: &Path) -> Result<Agent> {
    read_agent(&TensorReader::open(path)?)
}

/// Rebuild an agent from an agent file read into `r`.
pub fn read_agent(r: &TensorReader) -> Result<Agent> {
    let path = r.path().display().to_string();
    r.check_format(&[AGENT_FORMAT], "an agent checkpoint")?;
    ensure!(
        r.get_meta("algorithm") != Some(IQL_ALGORITHM),
        "{path}: an IQL agent; this needs a PARS or TD3+BC agent (fine-tuning supports those only)"
    );
    let meta: AgentMeta = r.meta_json("state")?;
    let cfg = toml::from_str::<CfgWrap>(&meta.cfg_toml)
        .with_context(|| format!("{path}: malformed agent config"))?
        .agent;
    ensure!(
        meta.critic_members == cfg.n_critics,
        "{path}: {} critics saved but the config says {}",
        meta.critic_members,
        cfg.n_critics
    );
    let mut agent = Agent::new(cfg, meta.obs_dim, meta.act_dim, meta.q_min, 1, 0);
    ensure!(
        same_shape(&agent.actor.spec, &meta.actor_spec)
            && same_shape(&agent.critic.spec, &meta.critic_spec),
        "{path}: the saved network shapes do not match the saved config"
    );
    agent.actor_opt = meta.actor_opt.into_adam(0, vec![], vec![]);
    agent.critic_opt = meta.critic_opt.into_adam(0, vec![], vec![]);
    read_agent_tensors(r, "", &mut agent)?;
    agent.beta = meta.beta;
    agent.steps = meta.steps;
    agent.rng = meta.rng;
    agent.reset_workspace();
    Ok(agent)
}

/// Metadata `algorithm` of an IQL agent file (PARS agent files have none).
pub const IQL_ALGORITHM: &str = "iql";

/// An IQL agent's scalar state, exactly (metadata `state` of an IQL agent file).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IqlMeta {
    /// `[agent]` and `[iql]` as TOML (exact float round trip).
    cfg_toml: String,
    obs_dim: usize,
    act_dim: usize,
    #[serde(with = "bits32")]
    q_min: f32,
    steps: u64,
    rng: ChaCha8Rng,
    actor_spec: MlpSpec,
    critic_spec: MlpSpec,
    value_spec: MlpSpec,
    critic_members: usize,
    actor_opt: AdamMeta,
    log_std_opt: AdamMeta,
    critic_opt: AdamMeta,
    value_opt: AdamMeta,
}

#[derive(Serialize, Deserialize)]
struct IqlCfgWrap {
    agent: AgentConfig,
    iql: IqlConfig,
}

/// Every state tensor of an IQL agent under `prefix`: the networks `actor` (the mean
/// μ), `critic`, `critic_target`, `value`, the vector `log_std` [act_dim], their Adam
/// moments (`actor_adam.m.<actor tensor>`, …, `value_adam.v.<value tensor>`,
/// `log_std_adam.m`, `log_std_adam.v`) and step counts (`<name>_adam.step`, int64 []).
pub fn write_iql_tensors(w: &mut TensorWriter, prefix: &str, agent: &IqlAgent) {
    w.net(prefix, "actor", &agent.actor);
    w.net(prefix, "critic", &agent.critic);
    w.net(prefix, "critic_target", &agent.critic_target);
    w.net(prefix, "value", &agent.value);
    let ad = agent.act_dim;
    w.f32(format!("{prefix}log_std"), &[ad], &agent.log_std);
    for (opt, net, name) in [
        (&agent.actor_opt, &agent.actor, "actor"),
        (&agent.critic_opt, &agent.critic, "critic"),
        (&agent.value_opt, &agent.value, "value"),
    ] {
        let p = format!("{prefix}{name}_adam.");
        w.params(&format!("{p}m."), name, &net.spec, net.members, &opt.m);
        w.params(&format!("{p}v."), name, &net.spec, net.members, &opt.v);
        w.i64(format!("{p}step"), &[], &[opt.step as i64]);
    }
    let p = format!("{prefix}log_std_adam.");
    w.f32(format!("{p}m"), &[ad], &agent.log_std_opt.m);
    w.f32(format!("{p}v"), &[ad], &agent.log_std_opt.v);
    w.i64(format!("{p}step"), &[], &[agent.log_std_opt.step as i64]);
}

/// Read the tensors written by `write_iql_tensors` into `agent`, whose networks give
/// the expected shapes (its optimisers keep their scalar settings).
pub fn read_iql_tensors(r: &TensorReader, prefix: &str, agent: &mut IqlAgent) -> Result<()> {
    let n = agent.critic.members;
    let (aspec, cspec, vspec) = (
        agent.actor.spec.clone(),
        agent.critic.spec.clone(),
        agent.value.spec.clone(),
    );
    agent.actor = r.net(prefix, "actor", &aspec, 1)?;
    agent.critic = r.net(prefix, "critic", &cspec, n)?;
    agent.critic_target = r.net(prefix, "critic_target", &cspec, n)?;
    agent.value = r.net(prefix, "value", &vspec, 1)?;
    let ad = agent.act_dim;
    agent.log_std = r.f32(&format!("{prefix}log_std"), &[ad])?;
    let step = |name: &str| -> Result<u64> {
        let s = r.i64(name, &[])?[0];
        ensure!(
            s >= 0,
            "{}: tensor '{name}' is negative ({s})",
            r.path().display()
        );
        Ok(s as u64)
    };
    for (name, spec, members) in [
        ("actor", &aspec, 1),
        ("critic", &cspec, n),
        ("value", &vspec, 1),
    ] {
        let p = format!("{prefix}{name}_adam.");
        let m = r.params(&format!("{p}m."), name, spec, members)?;
        let v = r.params(&format!("{p}v."), name, spec, members)?;
        let s = step(&format!("{p}step"))?;
        let opt = match name {
            "actor" => &mut agent.actor_opt,
            "critic" => &mut agent.critic_opt,
            _ => &mut agent.value_opt,
        };
        *opt = AdamMeta::of(opt).into_adam(s, m, v);
    }
    let p = format!("{prefix}log_std_adam.");
    let m = r.f32(&format!("{p}m"), &[ad])?;
    let v = r.f32(&format!("{p}v"), &[ad])?;
    let s = step(&format!("{p}step"))?;
    agent.log_std_opt = AdamMeta::of(&agent.log_std_opt).into_adam(s, m, v);
    Ok(())
}

/// An IQL agent file's tensors and metadata (format `pars-agent`, metadata
/// `algorithm` = `iql`; the mean network is stored as `actor`, so the file loads as a
/// policy). `config` as in `agent_writer`.
pub fn iql_agent_writer(agent: &IqlAgent, config: Option<&str>) -> Result<TensorWriter> {
    let wrap = IqlCfgWrap {
        agent: agent.cfg.clone(),
        iql: agent.iql.clone(),
    };
    let meta = IqlMeta {
        cfg_toml: toml::to_string(&wrap)?,
        obs_dim: agent.obs_dim,
        act_dim: agent.act_dim,
        q_min: agent.q_min,
        steps: agent.steps,
        rng: agent.rng.clone(),
        actor_spec: agent.actor.spec.clone(),
        critic_spec: agent.critic.spec.clone(),
        value_spec: agent.value.spec.clone(),
        critic_members: agent.critic.members,
        actor_opt: AdamMeta::of(&agent.actor_opt),
        log_std_opt: AdamMeta::of(&agent.log_std_opt),
        critic_opt: AdamMeta::of(&agent.critic_opt),
        value_opt: AdamMeta::of(&agent.value_opt),
    };
    let mut w = TensorWriter::new();
    w.meta("format", AGENT_FORMAT);
    w.meta("version", NET_VERSION.to_string());
    w.meta("algorithm", IQL_ALGORITHM);
    w.meta("spec", serde_json::to_string(&agent.actor.spec)?);
    w.meta("critic_spec", serde_json::to_string(&agent.critic.spec)?);
    w.meta("critic_members", agent.critic.members.to_string());
    w.meta("value_spec", serde_json::to_string(&agent.value.spec)?);
    let config = match config {
        Some(c) => c.to_string(),
        None => serde_json::to_string(&wrap)?,
    };
    w.meta("config", config);
    w.meta("obs_dim", agent.obs_dim.to_string());
    w.meta("act_dim", agent.act_dim.to_string());
    w.meta("q_min", agent.q_min.to_string());
    w.meta("steps", agent.steps.to_string());
    w.meta("state", serde_json::to_string(&meta)?);
    write_iql_tensors(&mut w, "", agent);
    Ok(w)
}

/// Rebuild an IQL agent from an IQL agent file read into `r`.
pub fn read_iql_agent(r: &TensorReader) -> Result<IqlAgent> {
    let path = r.path().display().to_string();
    r.check_format(&[AGENT_FORMAT], "an agent checkpoint")?;
    ensure!(
        r.get_meta("algorithm") == Some(IQL_ALGORITHM),
        "{path}: not an IQL agent (a PARS or TD3+BC agent)"
    );
    let meta: IqlMeta = r.meta_json("state")?;
    let IqlCfgWrap { agent: cfg, iql } = toml::from_str(&meta.cfg_toml)
        .with_context(|| format!("{path}: malformed agent config"))?;
    ensure!(
        meta.critic_members == cfg.n_critics,
        "{path}: {} critics saved but the config says {}",
        meta.critic_members,
        cfg.n_critics
    );
    let mut agent = IqlAgent::new(cfg, iql, meta.obs_dim, meta.act_dim, meta.q_min, 1, 0);
    ensure!(
        same_shape(&agent.actor.spec, &meta.actor_spec)
            && same_shape(&agent.critic.spec, &meta.critic_spec)
            && same_shape(&agent.value.spec, &meta.value_spec),
        "{path}: the saved network shapes do not match the saved config"
    );
    agent.actor_opt = meta.actor_opt.into_adam(0, vec![], vec![]);
    agent.log_std_opt = meta.log_std_opt.into_adam(0, vec![], vec![]);
    agent.critic_opt = meta.critic_opt.into_adam(0, vec![], vec![]);
    agent.value_opt = meta.value_opt.into_adam(0, vec![], vec![]);
    read_iql_tensors(r, "", &mut agent)?;
    agent.steps = meta.steps;
    agent.rng = meta.rng;
    agent.reset_workspace();
    Ok(agent)
}

/// Two specs describe the same network; the init-only fields (bias init, output
/// scale) need not survive JSON exactly.
fn same_shape(a: &MlpSpec, b: &MlpSpec) -> bool {
    let key = |s: &MlpSpec| {
        (
            s.input,
            s.hidden,
            s.depth,
            s.output,
            s.layer_norm,
            s.activation,
            s.tanh_output,
        )
    };
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn tiny_agent() -> Agent {
        let cfg = AgentConfig {
            hidden: 8,
            n_critics: 3,
            batch_size: 4,
            alpha: 0.123_456_78,
            ..AgentConfig::default()
        };
        let mut a = Agent::new(cfg, 3, 2, -1.234_567, 100, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut b = Batch::new(4, 3, 2);
        for v in b
            .obs
            .iter_mut()
            .chain(&mut b.next_obs)
            .chain(&mut b.actions)
        {
            *v = rng.gen_range(-1.0..1.0);
        }
        for _ in 0..5 {
            a.update(&b);
        }
        a
    }

    #[test]
    fn agent_round_trips_bit_for_bit_and_continues_identically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let mut a = tiny_agent();
        a.actor_opt.schedule = LrSchedule::Cosine { total_steps: 7 };
        save_agent(&p, &a, None).unwrap();
        let b = load_agent(&p).unwrap();
        assert_eq!(a.cfg, b.cfg);
        for (x, y) in [
            (&a.actor.params, &b.actor.params),
            (&a.actor_target.params, &b.actor_target.params),
            (&a.critic.params, &b.critic.params),
            (&a.critic_target.params, &b.critic_target.params),
            (&a.actor_opt.m, &b.actor_opt.m),
            (&a.actor_opt.v, &b.actor_opt.v),
            (&a.critic_opt.m, &b.critic_opt.m),
            (&a.critic_opt.v, &b.critic_opt.v),
        ] {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(x), bits(y));
        }
        assert_eq!(
            (a.actor_opt.step, a.critic_opt.step, a.actor_opt.schedule),
            (b.actor_opt.step, b.critic_opt.step, b.actor_opt.schedule)
        );
        assert_eq!(
            (a.q_min.to_bits(), a.beta.to_bits(), a.steps),
            (b.q_min.to_bits(), b.beta.to_bits(), b.steps)
        );
        // the same file again: identical bytes
        let p2 = dir.path().join("again.safetensors");
        save_agent(&p2, &b, None).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&p2).unwrap());
        let batch = Batch::new(4, 3, 2);
        let (mut a, mut b) = (a, b);
        for _ in 0..3 {
            assert_eq!(a.update(&batch).td_loss, b.update(&batch).td_loss);
        }
        assert_eq!(a.critic.params, b.critic.params);
        assert_eq!(a.actor.params, b.actor.params);
    }

    #[test]
    fn agent_file_is_named_like_a_policy_and_loads_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let a = tiny_agent();
        save_agent(&p, &a, Some("{\"algo\":\"x\"}")).unwrap();
        let r = TensorReader::open(&p).unwrap();
        assert_eq!(r.get_meta("format"), Some("pars-agent"));
        assert_eq!(r.get_meta("config"), Some("{\"algo\":\"x\"}"));
        for n in [
            "actor.0.layer0.weight",
            "actor_target.0.layer2.bias",
            "critic.2.layer1.ln_scale",
            "critic_target.0.layer1.ln_bias",
            "actor_adam.m.actor.0.layer1.weight",
            "actor_adam.v.actor.0.layer2.bias",
            "critic_adam.m.critic.1.layer0.weight",
            "critic_adam.v.critic.2.layer2.weight",
        ] {
            assert!(r.contains(n), "{n}");
        }
        assert_eq!(r.shape("critic.1.layer0.weight"), Some(&[5usize, 8][..]));
        assert_eq!(r.i64("critic_adam.step", &[]).unwrap(), vec![5]);
        let pol = crate::policy::Policy::load(&p).unwrap();
        assert_eq!(pol.net.params, a.actor.params);
        // a policy file is not an agent
        let pp = dir.path().join("policy.safetensors");
        crate::policy::save_policy(&pp, &a.actor, None, &[]).unwrap();
        let e = format!("{:#}", load_agent(&pp).err().unwrap());
        assert!(
            e.contains("policy.safetensors: format is 'pars-policy', expected an agent checkpoint"),
            "{e}"
        );
    }

    #[test]
    fn bad_agent_files_name_the_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let a = tiny_agent();
        // drop one Adam tensor
        let w = agent_writer(&a, None).unwrap();
        let bytes = w.to_bytes().unwrap();
        let r = TensorReader::from_bytes(&p, bytes).unwrap();
        let mut w2 = TensorWriter::new();
        for (k, v) in r.metadata() {
            w2.meta(k, v.clone());
        }
        for n in r.names() {
            let shape = r.shape(&n).unwrap().to_vec();
            if n.ends_with("_adam.step") {
                w2.i64(n.clone(), &shape, &r.i64(&n, &shape).unwrap());
            } else if n != "critic_adam.v.critic.1.layer1.bias" {
                let mut v = r.f32(&n, &shape).unwrap();
                if n == "critic_target.2.layer0.weight" {
                    v[0] = f32::NAN;
                }
                w2.f32(n.clone(), &shape, &v);
            }
        }
        w2.write(&p).unwrap();
        let e = format!("{:#}", load_agent(&p).err().unwrap());
        assert!(
            e.contains("agent.safetensors: tensor 'critic_target.2.layer0.weight' contains NaN"),
            "{e}"
        );
        w2 = TensorWriter::new();
        for (k, v) in r.metadata() {
            w2.meta(k, v.clone());
        }
        for n in r.names() {
            let shape = r.shape(&n).unwrap().to_vec();
            if n.ends_with("_adam.step") {
                w2.i64(n.clone(), &shape, &r.i64(&n, &shape).unwrap());
            } else if n != "critic_adam.v.critic.1.layer1.bias" {
                w2.f32(n.clone(), &shape, &r.f32(&n, &shape).unwrap());
            }
        }
        w2.write(&p).unwrap();
        let e = format!("{:#}", load_agent(&p).err().unwrap());
        assert!(
            e.contains("missing tensor 'critic_adam.v.critic.1.layer1.bias'"),
            "{e}"
        );
        std::fs::write(&p, b"hello world, not an agent").unwrap();
        let e = format!("{:#}", load_agent(&p).err().unwrap());
        assert!(
            e.contains("agent.safetensors is not a safetensors file"),
            "{e}"
        );
    }

    #[test]
    fn iql_agent_round_trips_bit_for_bit_loads_as_a_policy_and_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.safetensors");
        let pre = crate::algos::presets::preset("iql-rsln-pa").unwrap();
        let agent_cfg = AgentConfig {
            hidden: 8,
            batch_size: 4,
            ..pre.agent
        };
        let iql = pre.iql.unwrap();
        let mut a = IqlAgent::new(agent_cfg, iql, 3, 2, -1.234_567, 100, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut b = Batch::new(4, 3, 2);
        for v in b
            .obs
            .iter_mut()
            .chain(&mut b.next_obs)
            .chain(&mut b.actions)
        {
            *v = rng.gen_range(-1.0..1.0);
        }
        for _ in 0..5 {
            a.update(&b);
        }
        iql_agent_writer(&a, None).unwrap().write(&p).unwrap();
        let r = TensorReader::open(&p).unwrap();
        let mut c = read_iql_agent(&r).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (x, y) in [
            (&a.actor.params, &c.actor.params),
            (&a.critic.params, &c.critic.params),
            (&a.critic_target.params, &c.critic_target.params),
            (&a.value.params, &c.value.params),
            (&a.log_std, &c.log_std),
            (&a.actor_opt.v, &c.actor_opt.v),
            (&a.log_std_opt.m, &c.log_std_opt.m),
            (&a.critic_opt.m, &c.critic_opt.m),
            (&a.value_opt.v, &c.value_opt.v),
        ] {
            assert_eq!(bits(x), bits(y));
        }
        assert_eq!(
            (a.cfg.clone(), a.iql.clone()),
            (c.cfg.clone(), c.iql.clone())
        );
        assert_eq!(
            (
                a.steps,
                a.q_min.to_bits(),
                a.value_opt.step,
                a.log_std_opt.schedule
            ),
            (
                c.steps,
                c.q_min.to_bits(),
                c.value_opt.step,
                c.log_std_opt.schedule
            )
        );
        // the same future
        for _ in 0..3 {
            assert_eq!(a.update(&b).1, c.update(&b).1);
        }
        assert_eq!(bits(&a.critic.params), bits(&c.critic.params));
        // the mean network loads as a policy; the PARS reader refuses the file, and the
        // IQL reader a PARS agent
        let pol = crate::policy::Policy::load(&p).unwrap();
        assert_eq!(
            bits(&pol.net.params),
            bits(&read_iql_agent(&r).unwrap().actor.params)
        );
        let e = format!("{:#}", load_agent(&p).err().unwrap());
        assert!(e.contains("an IQL agent"), "{e}");
        let pp = dir.path().join("pars.safetensors");
        save_agent(&pp, &tiny_agent(), None).unwrap();
        let e = format!(
            "{:#}",
            read_iql_agent(&TensorReader::open(&pp).unwrap())
                .err()
                .unwrap()
        );
        assert!(e.contains("not an IQL agent"), "{e}");
    }

    #[test]
    fn replay_round_trips_including_the_write_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.bin");
        for pushed in [0u64, 3, 5, 12, 13] {
            let mut buf = ReplayBuffer::new(5, 2, 1);
            let row = |i: u64| {
                let x = i as f32;
                (
                    [x, -x],
                    [x / 10.0],
                    x * 2.0,
                    [x + 0.5, 1.0],
                    i.is_multiple_of(3),
                )
            };
            for i in 0..pushed {
                let (o, a, r, n, d) = row(i);
                buf.push(&o, &a, r, &n, d);
            }
            write_state(
                &p,
                serde_json::json!({}),
                &[Section::Replay("replay", &buf, 2, 1)],
            )
            .unwrap();
            let mut f = StateFile::open(&p).unwrap();
            let mut back = f.read_replay("replay", 5, pushed, 2, 1).unwrap();
            assert_eq!(back.len(), buf.len());
            // same future: push two more rows into both and compare all slots
            for i in pushed..pushed + 2 {
                let (o, a, r, n, d) = row(i + 100);
                buf.push(&o, &a, r, &n, d);
                back.push(&o, &a, r, &n, d);
            }
            let idx: Vec<usize> = (0..buf.len()).collect();
            let (mut x, mut y) = (Batch::new(5, 2, 1), Batch::new(5, 2, 1));
            buf.copy_rows_into(&idx, &mut x, 0);
            back.copy_rows_into(&idx, &mut y, 0);
            assert_eq!((x.obs, x.rewards, x.dones), (y.obs, y.rewards, y.dones));
        }
    }

    #[test]
    fn corrupt_state_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.bin");
        let a = tiny_agent();
        let agent = agent_writer(&a, None).unwrap().to_bytes().unwrap();
        let floats = [1.0f32, 2.0, 3.0];
        write_state(
            &p,
            serde_json::json!({}),
            &[Section::Bytes("agent", &agent), Section::F32("x", &floats)],
        )
        .unwrap();
        let mut f = StateFile::open(&p).unwrap();
        let back = f.read_bytes("agent").unwrap();
        assert_eq!(back, agent);
        assert_eq!(f.read_f32("x").unwrap(), floats);
        let b = read_agent(&TensorReader::from_bytes(&p, back).unwrap()).unwrap();
        assert_eq!(a.critic.params, b.critic.params);
        let mut f = StateFile::open(&p).unwrap();
        f.skip("agent").unwrap();
        assert_eq!(f.read_f32("x").unwrap(), floats);

        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        let e = StateFile::open(&p).err().unwrap().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&p, b"hello world, not a state").unwrap();
        let e = StateFile::open(&p).err().unwrap().to_string();
        assert!(e.contains("not a pars state file"), "{e}");
    }
}
