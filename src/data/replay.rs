//! Uniform replay sampling from `Transitions` and the online `ReplayBuffer`.

use rand::Rng;

use super::dataset::{Batch, Transitions};

/// The sampling methods of a transition store with fields obs, actions, rewards,
/// next_obs, dones, obs_dim, act_dim; shared by `Transitions` and `ReplayBuffer`.
macro_rules! store_sampling {
    () => {
        fn columns(&self) -> Columns<'_> {
            Columns {
                obs: &self.obs,
                actions: &self.actions,
                rewards: &self.rewards,
                next_obs: &self.next_obs,
                next_actions: &self.next_actions,
                dones: &self.dones,
                obs_dim: self.obs_dim,
                act_dim: self.act_dim,
            }
        }

        /// Fills the whole batch uniformly with replacement.
        pub fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, batch: &mut Batch) {
            let size = batch.size;
            self.sample_rows_into(rng, batch, 0, size);
        }

        /// Fills batch rows `row_offset..row_offset + count` uniformly with
        /// replacement, so one batch can mix several sources.
        pub fn sample_rows_into<R: Rng + ?Sized>(
            &self,
            rng: &mut R,
            batch: &mut Batch,
            row_offset: usize,
            count: usize,
        ) {
            self.columns()
                .sample_rows(self.len(), rng, batch, row_offset, count);
        }

        /// Copies rows `indices` into batch rows starting at `row_offset`.
        pub fn copy_rows_into(&self, indices: &[usize], batch: &mut Batch, row_offset: usize) {
            self.columns().copy_rows(indices, batch, row_offset);
        }
    };
}

/// Borrowed columns of a transition store; shared by `Transitions` and
/// `ReplayBuffer` so the copy code exists once.
struct Columns<'a> {
    obs: &'a [f32],
    actions: &'a [f32],
    rewards: &'a [f32],
    next_obs: &'a [f32],
    next_actions: &'a [f32],
    dones: &'a [f32],
    obs_dim: usize,
    act_dim: usize,
}

impl Columns<'_> {
    fn check(&self, batch: &Batch, row_offset: usize, count: usize) {
        assert_eq!(
            (batch.obs_dim, batch.act_dim),
            (self.obs_dim, self.act_dim),
            "batch dims differ from the source"
        );
        assert!(
            row_offset + count <= batch.size,
            "rows {row_offset}..{} exceed batch size {}",
            row_offset + count,
            batch.size
        );
    }

    #[inline]
    fn copy_row(&self, src: usize, batch: &mut Batch, dst: usize) {
        let (od, ad) = (self.obs_dim, self.act_dim);
        batch.obs[dst * od..(dst + 1) * od].copy_from_slice(&self.obs[src * od..(src + 1) * od]);
        batch.next_obs[dst * od..(dst + 1) * od]
            .copy_from_slice(&self.next_obs[src * od..(src + 1) * od]);
        batch.actions[dst * ad..(dst + 1) * ad]
            .copy_from_slice(&self.actions[src * ad..(src + 1) * ad]);
        batch.next_actions[dst * ad..(dst + 1) * ad]
            .copy_from_slice(&self.next_actions[src * ad..(src + 1) * ad]);
        batch.rewards[dst] = self.rewards[src];
        batch.dones[dst] = self.dones[src];
    }

    fn copy_rows(&self, indices: &[usize], batch: &mut Batch, row_offset: usize) {
        self.check(batch, row_offset, indices.len());
        for (k, &i) in indices.iter().enumerate() {
            self.copy_row(i, batch, row_offset + k);
        }
    }

    fn sample_rows<R: Rng + ?Sized>(
        &self,
        len: usize,
        rng: &mut R,
        batch: &mut Batch,
        row_offset: usize,
        count: usize,
    ) {
        self.check(batch, row_offset, count);
        assert!(len > 0 || count == 0, "cannot sample from an empty store");
        for k in 0..count {
            let i = rng.gen_range(0..len);
            self.copy_row(i, batch, row_offset + k);
        }
    }
}

impl Transitions {
    store_sampling!();
}

/// Fixed-capacity ring buffer for online transitions; once full, each push
/// overwrites the oldest entry. Indices refer to storage slots, not age.
#[derive(Clone, Debug)]
pub struct ReplayBuffer {
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_obs: Vec<f32>,
    /// The action of the next push when it continues the episode (its obs equals
    /// this row's next_obs), else the row's own action (see `Transitions::next_actions`).
    next_actions: Vec<f32>,
    dones: Vec<f32>,
    obs_dim: usize,
    act_dim: usize,
    capacity: usize,
    /// Slot the next push writes once the buffer is full.
    head: usize,
    /// Slot of the last push.
    last: Option<usize>,
}

impl ReplayBuffer {
    pub fn new(capacity: usize, obs_dim: usize, act_dim: usize) -> Self {
        assert!(capacity > 0, "replay capacity must be positive");
        // Grows on push: large capacities cost nothing until used.
        ReplayBuffer {
            obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            next_obs: Vec::new(),
            next_actions: Vec::new(),
            dones: Vec::new(),
            obs_dim,
            act_dim,
            capacity,
            head: 0,
            last: None,
        }
    }

    pub fn push(&mut self, obs: &[f32], action: &[f32], reward: f32, next_obs: &[f32], done: bool) {
        let (od, ad) = (self.obs_dim, self.act_dim);
        assert_eq!(obs.len(), od, "obs length");
        assert_eq!(next_obs.len(), od, "next_obs length");
        assert_eq!(action.len(), ad, "action length");
        if let Some(p) = self.last {
            if self.dones[p] == 0.0 && self.next_obs[p * od..(p + 1) * od] == *obs {
                self.next_actions[p * ad..(p + 1) * ad].copy_from_slice(action);
            }
        }
        let done = if done { 1.0 } else { 0.0 };
        let slot = if self.len() < self.capacity {
            self.obs.extend_from_slice(obs);
            self.actions.extend_from_slice(action);
            self.rewards.push(reward);
            self.next_obs.extend_from_slice(next_obs);
            self.next_actions.extend_from_slice(action);
            self.dones.push(done);
            self.len() - 1
        } else {
            let i = self.head;
            self.obs[i * od..(i + 1) * od].copy_from_slice(obs);
            self.actions[i * ad..(i + 1) * ad].copy_from_slice(action);
            self.rewards[i] = reward;
            self.next_obs[i * od..(i + 1) * od].copy_from_slice(next_obs);
            self.next_actions[i * ad..(i + 1) * ad].copy_from_slice(action);
            self.dones[i] = done;
            self.head = (self.head + 1) % self.capacity;
            i
        };
        self.last = Some(slot);
    }

    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn clear(&mut self) {
        self.obs.clear();
        self.actions.clear();
        self.rewards.clear();
        self.next_obs.clear();
        self.next_actions.clear();
        self.dones.clear();
        self.head = 0;
        self.last = None;
    }

    store_sampling!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::d4rl::tests::toy_dataset;
    use crate::data::{read_d4rl, write_d4rl};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Transitions of the toy dataset after a write/read round trip.
    fn toy_from_file(with_next: bool) -> Transitions {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("toy.hdf5");
        write_d4rl(&path, &toy_dataset(with_next)).unwrap();
        Transitions::from_raw(&read_d4rl(&path).unwrap()).unwrap()
    }

    fn row(v: &[f32], i: usize, d: usize) -> &[f32] {
        &v[i * d..(i + 1) * d]
    }

    #[test]
    fn next_actions_continue_the_episode_or_repeat_the_row() {
        // actions a_i = i/10; rows 0 1 2T | 3 4 5(timeout) | 6 7
        let t = toy_from_file(false);
        // kept rows 0, 1, 2, 3, 4, 6: next actions a1, a2, (terminal) a2, a4, a5, a7
        let expect = [0.1f32, 0.2, 0.2, 0.4, 0.5, 0.7];
        assert_eq!(t.next_actions, expect.to_vec());
        // with stored next states every row is kept; the timeout row 5 repeats a5
        let t = toy_from_file(true);
        let expect = [0.1f32, 0.2, 0.2, 0.4, 0.5, 0.5, 0.7, 0.7];
        assert_eq!(t.next_actions, expect.to_vec());
        // the online buffer links a push to the previous one when it continues it
        let mut buf = ReplayBuffer::new(4, 1, 1);
        buf.push(&[0.0], &[0.1], 0.0, &[1.0], false);
        buf.push(&[1.0], &[0.2], 0.0, &[2.0], false); // continues row 0
        buf.push(&[9.0], &[0.3], 0.0, &[3.0], false); // a new episode (reset)
        buf.push(&[3.0], &[0.4], 0.0, &[4.0], true); // continues row 2, terminal
        buf.push(&[4.0], &[0.5], 0.0, &[5.0], false); // after a terminal: not linked
        let mut b = Batch::new(4, 1, 1);
        buf.copy_rows_into(&[0, 1, 2, 3], &mut b, 0);
        // slot 0 now holds the fifth push (ring of 4)
        assert_eq!(b.next_actions, vec![0.5, 0.2, 0.4, 0.4]);
    }

    #[test]
    fn builder_without_next_observations() {
        // Rows: 0 1 2T | 3 4 5(timeout) | 6 7(end of file).
        let t = toy_from_file(false);
        // Kept rows: 0, 1, 2 (terminal), 3, 4, 6. Dropped: 5 (timeout), 7 (last).
        assert_eq!(t.len(), 6);
        assert_eq!(t.rewards, vec![0.0, 1.0, 2.0, 3.0, 4.0, 6.0]);
        assert_eq!(t.dones, vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        // obs row i = [i, 10 i]; s' is the following row inside an episode.
        assert_eq!(row(&t.next_obs, 0, 2), &[1.0, 10.0]);
        assert_eq!(row(&t.next_obs, 1, 2), &[2.0, 20.0]);
        // Terminal row 2 must not point at row 3 (next episode's start).
        assert_eq!(row(&t.next_obs, 2, 2), &[2.0, 20.0]);
        assert_eq!(row(&t.next_obs, 4, 2), &[5.0, 50.0]);
        assert_eq!(row(&t.obs, 5, 2), &[6.0, 60.0]);
        assert_eq!(row(&t.next_obs, 5, 2), &[7.0, 70.0]);
        // No transition links two episodes: s' is always s + 1 row or s itself.
        for k in 0..t.len() {
            let (s, s2) = (t.obs[2 * k], t.next_obs[2 * k]);
            let step = s2 - s;
            assert!(step == 1.0 || (step == 0.0 && t.dones[k] == 1.0));
            let ends = [2.0, 5.0];
            assert!(!ends.contains(&s) || t.dones[k] == 1.0, "crossed at {s}");
        }
        assert_eq!(t.actions, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.6]);
        assert_eq!(t.reward_min(), 0.0);
        assert_eq!(t.reward_max(), 6.0);
    }

    #[test]
    fn builder_with_next_observations() {
        let t = toy_from_file(true);
        // Every row kept, including the timeout row 5 and last row 7.
        assert_eq!(t.len(), 8);
        assert_eq!(t.dones, vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(row(&t.next_obs, 5, 2), &[105.0, 1005.0]);
        assert_eq!(row(&t.next_obs, 2, 2), &[102.0, 1002.0]);
        assert_eq!(row(&t.obs, 7, 2), &[7.0, 70.0]);
    }

    #[test]
    fn builder_rejects_all_timeouts() {
        let mut ds = toy_dataset(false);
        ds.terminals = vec![false; 8];
        ds.timeouts = vec![true; 8];
        let msg = Transitions::from_raw(&ds).unwrap_err().to_string();
        assert!(msg.contains("no transitions"), "{msg}");
    }

    #[test]
    fn sampling_is_seeded_and_in_range() {
        let t = toy_from_file(false);
        let mut a = Batch::new(64, 2, 1);
        let mut b = Batch::new(64, 2, 1);
        t.sample_into(&mut ChaCha8Rng::seed_from_u64(7), &mut a);
        t.sample_into(&mut ChaCha8Rng::seed_from_u64(7), &mut b);
        assert_eq!(a.obs, b.obs);
        assert_eq!(a.rewards, b.rewards);
        let mut c = Batch::new(64, 2, 1);
        t.sample_into(&mut ChaCha8Rng::seed_from_u64(8), &mut c);
        assert_ne!(a.rewards, c.rewards);
        // Every sampled row is a real transition, consistent across columns.
        for k in 0..64 {
            let i = t.rewards.iter().position(|&r| r == a.rewards[k]).unwrap();
            assert_eq!(row(&a.obs, k, 2), row(&t.obs, i, 2));
            assert_eq!(row(&a.next_obs, k, 2), row(&t.next_obs, i, 2));
            assert_eq!(a.actions[k], t.actions[i]);
            assert_eq!(a.dones[k], t.dones[i]);
        }
        // Large sample hits every index.
        let mut big = Batch::new(2000, 2, 1);
        t.sample_into(&mut ChaCha8Rng::seed_from_u64(1), &mut big);
        for r in &t.rewards {
            assert!(big.rewards.contains(r));
        }
    }

    #[test]
    fn mixed_batch_from_two_sources() {
        let t = toy_from_file(false);
        let mut buf = ReplayBuffer::new(4, 2, 1);
        buf.push(&[-1.0, -1.0], &[0.9], -5.0, &[-2.0, -2.0], true);
        let mut batch = Batch::new(6, 2, 1);
        t.copy_rows_into(&[0, 5], &mut batch, 0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        buf.sample_rows_into(&mut rng, &mut batch, 2, 4);
        assert_eq!(batch.rewards, vec![0.0, 6.0, -5.0, -5.0, -5.0, -5.0]);
        assert_eq!(row(&batch.obs, 1, 2), &[6.0, 60.0]);
        assert_eq!(row(&batch.next_obs, 3, 2), &[-2.0, -2.0]);
        assert_eq!(batch.dones, vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    #[should_panic(expected = "exceed batch size")]
    fn copy_past_batch_end_panics() {
        let t = toy_from_file(false);
        let mut batch = Batch::new(2, 2, 1);
        t.copy_rows_into(&[0, 1], &mut batch, 1);
    }

    #[test]
    fn replay_buffer_wraps_around() {
        let mut buf = ReplayBuffer::new(3, 1, 1);
        assert!(buf.is_empty());
        for i in 0..5 {
            let x = i as f32;
            buf.push(&[x], &[x / 10.0], x, &[x + 1.0], i == 4);
        }
        assert_eq!(buf.len(), 3);
        assert_eq!(buf.capacity(), 3);
        // Slots after 5 pushes into 3: [3, 4, 2].
        let mut batch = Batch::new(3, 1, 1);
        buf.copy_rows_into(&[0, 1, 2], &mut batch, 0);
        assert_eq!(batch.rewards, vec![3.0, 4.0, 2.0]);
        assert_eq!(batch.obs, vec![3.0, 4.0, 2.0]);
        assert_eq!(batch.next_obs, vec![4.0, 5.0, 3.0]);
        assert_eq!(batch.actions, vec![0.3, 0.4, 0.2]);
        assert_eq!(batch.dones, vec![0.0, 1.0, 0.0]);
        buf.push(&[9.0], &[0.9], 9.0, &[10.0], false);
        buf.copy_rows_into(&[2], &mut batch, 0);
        assert_eq!(batch.rewards[0], 9.0);
        // Sampling stays within the 3 live entries.
        let mut big = Batch::new(500, 1, 1);
        buf.sample_into(&mut ChaCha8Rng::seed_from_u64(0), &mut big);
        assert!(big.rewards.iter().all(|r| [3.0, 4.0, 9.0].contains(r)));
        buf.clear();
        assert!(buf.is_empty());
    }
}
