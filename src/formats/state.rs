//! The resumable-state container (`*_state.bin`): the 8 bytes `PARSCKP1`, a
//! little-endian u64 header length, a JSON header, then raw sections in the order the
//! header lists them — byte sections (e.g. an embedded agent file), f32 vectors, and a
//! replay buffer streamed in chunks as little-endian f32. Every float that must survive
//! bit for bit is kept in a section, a tensor, or as its bit pattern in JSON (`bits`,
//! `bits32`; JSON number parsing is not guaranteed to round-trip).
use crate::data::{Batch, ReplayBuffer};
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"PARSCKP1";
/// Version 2: the agent is one byte section holding an `agent.safetensors` file.
const FORMAT_VERSION: u32 = 2;
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
    let tmp = super::atomic::temp_sibling(path)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let agent: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
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
