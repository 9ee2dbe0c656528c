//! Binary state files: a whole agent (networks, targets, Adam moments, RNG) and,
//! for online runs, the replay buffer and loop state, so a run resumes exactly.
//!
//! Layout: the 8 bytes `PARSCKP1`, a little-endian u64 header length, a JSON header,
//! then raw little-endian f32 sections in the order the header lists them. Every
//! float that must survive bit for bit is kept in a section or as its bit pattern
//! in the header (JSON number parsing is not guaranteed to round-trip).
use super::config::AgentConfig;
use super::pars::Agent;
use crate::data::{Batch, ReplayBuffer};
use crate::nn::{Adam, EnsembleMlp, LrSchedule, MlpSpec};
use anyhow::{bail, ensure, Context, Result};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"PARSCKP1";
const FORMAT_VERSION: u32 = 1;
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
    /// Replay rows in slot order, each `[obs, action, reward, next_obs, done]`;
    /// then the buffer's obs_dim and act_dim.
    Replay(&'a str, &'a ReplayBuffer, usize, usize),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SectionInfo {
    name: String,
    /// Number of f32 values.
    len: u64,
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
            },
            Section::Replay(name, buf, od, ad) => SectionInfo {
                name: name.to_string(),
                len: (buf.len() * replay_row_len(*od, *ad)) as u64,
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
        let data: u64 = sections.iter().map(|s| s.len * 4).sum();
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
        self.reader.seek_relative(4 * s.len as i64)?;
        Ok(())
    }

    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>> {
        let s = self.next(name)?;
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

/// Adam's scalar state (its moments go into sections).
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
    step: u64,
}

impl AdamMeta {
    fn of(a: &Adam) -> Self {
        Self {
            lr: a.lr,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            schedule: a.schedule,
            step: a.step,
        }
    }
    fn into_adam(self, m: Vec<f32>, v: Vec<f32>) -> Adam {
        Adam {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            schedule: self.schedule,
            step: self.step,
            m,
            v,
        }
    }
}

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

/// Header entry describing `agent` (goes under the key "agent").
pub fn agent_header(agent: &Agent) -> Result<Value> {
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
    Ok(serde_json::to_value(meta)?)
}

/// The agent's sections, in the order `read_agent` expects them.
pub fn agent_sections(agent: &Agent) -> Vec<Section<'_>> {
    vec![
        Section::F32("actor", &agent.actor.params),
        Section::F32("actor_target", &agent.actor_target.params),
        Section::F32("critic", &agent.critic.params),
        Section::F32("critic_target", &agent.critic_target.params),
        Section::F32("actor_adam_m", &agent.actor_opt.m),
        Section::F32("actor_adam_v", &agent.actor_opt.v),
        Section::F32("critic_adam_m", &agent.critic_opt.m),
        Section::F32("critic_adam_v", &agent.critic_opt.v),
    ]
}

/// Rebuild the agent described by `header` from the next sections of `file`.
pub fn read_agent(file: &mut StateFile, header: &Value) -> Result<Agent> {
    let path = file.path.display().to_string();
    let meta: AgentMeta = serde_json::from_value(header.clone())
        .with_context(|| format!("{path}: malformed agent header"))?;
    let cfg = toml::from_str::<CfgWrap>(&meta.cfg_toml)
        .with_context(|| format!("{path}: malformed agent config"))?
        .agent;
    let mut agent = Agent::new(cfg, meta.obs_dim, meta.act_dim, meta.q_min, 1, 0);
    let mut net = |name: &str, spec: &MlpSpec, members: usize| -> Result<EnsembleMlp> {
        let p = file.read_f32(name)?;
        ensure!(
            p.iter().all(|x| x.is_finite()),
            "{path}: network '{name}' contains NaN or infinity"
        );
        EnsembleMlp::from_params(spec.clone(), members, p)
            .with_context(|| format!("{path}: network '{name}' does not fit its shape"))
    };
    agent.actor = net("actor", &meta.actor_spec, 1)?;
    agent.actor_target = net("actor_target", &meta.actor_spec, 1)?;
    agent.critic = net("critic", &meta.critic_spec, meta.critic_members)?;
    agent.critic_target = net("critic_target", &meta.critic_spec, meta.critic_members)?;
    ensure!(
        meta.critic_members == agent.cfg.n_critics,
        "{path}: {} critics saved but the config says {}",
        meta.critic_members,
        agent.cfg.n_critics
    );
    let mut moments = |name: &str, n: usize| -> Result<Vec<f32>> {
        let v = file.read_f32(name)?;
        ensure!(
            v.len() == n,
            "{path}: '{name}' has {} values, expected {n}",
            v.len()
        );
        Ok(v)
    };
    let (na, nc) = (agent.actor.params.len(), agent.critic.params.len());
    let (am, av) = (moments("actor_adam_m", na)?, moments("actor_adam_v", na)?);
    let (cm, cv) = (moments("critic_adam_m", nc)?, moments("critic_adam_v", nc)?);
    agent.actor_opt = meta.actor_opt.into_adam(am, av);
    agent.critic_opt = meta.critic_opt.into_adam(cm, cv);
    agent.beta = meta.beta;
    agent.steps = meta.steps;
    agent.rng = meta.rng;
    agent.reset_workspace();
    Ok(agent)
}

/// Save a whole agent (e.g. at the end of offline training, for fine-tuning).
pub fn save_agent(path: &Path, agent: &Agent) -> Result<()> {
    let header = serde_json::json!({ "kind": "agent", "agent": agent_header(agent)? });
    write_state(path, header, &agent_sections(agent))
}

pub fn load_agent(path: &Path) -> Result<Agent> {
    let mut f = StateFile::open(path)?;
    let h = f.header["agent"].clone();
    read_agent(&mut f, &h)
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
        let p = dir.path().join("a.bin");
        let a = tiny_agent();
        save_agent(&p, &a).unwrap();
        let b = load_agent(&p).unwrap();
        assert_eq!(a.cfg, b.cfg);
        assert_eq!(a.actor.params, b.actor.params);
        assert_eq!(a.critic_target.params, b.critic_target.params);
        assert_eq!(a.critic_opt.v, b.critic_opt.v);
        assert_eq!(a.actor_opt.step, b.actor_opt.step);
        assert_eq!((a.q_min, a.beta, a.steps), (b.q_min, b.beta, b.steps));
        let batch = Batch::new(4, 3, 2);
        let (mut a, mut b) = (a, b);
        for _ in 0..3 {
            assert_eq!(a.update(&batch).td_loss, b.update(&batch).td_loss);
        }
        assert_eq!(a.critic.params, b.critic.params);
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
    fn corrupt_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        save_agent(&p, &tiny_agent()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        let e = load_agent(&p).err().unwrap().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&p, b"hello world, not a state").unwrap();
        let e = load_agent(&p).err().unwrap().to_string();
        assert!(e.contains("not a pars state file"), "{e}");
    }
}
