//! The dataset types every other part shares: the raw arrays of a logged dataset
//! (`RawDataset`), the (s, a, r, s', done) rows built from them (`Transitions`), and a
//! training minibatch (`Batch`). File formats live in `d4rl`/`minari`, sampling in `replay`.

use std::fmt;

use anyhow::{bail, Result};

/// The arrays of a D4RL-format file, row-major, one row per logged step.
#[derive(Clone, Debug, Default)]
pub struct RawDataset {
    /// [n, obs_dim]
    pub observations: Vec<f32>,
    /// [n, act_dim]
    pub actions: Vec<f32>,
    /// [n]
    pub rewards: Vec<f32>,
    /// [n] the task ended after this step (no bootstrapping)
    pub terminals: Vec<bool>,
    /// [n] the episode was cut by a time limit after this step
    pub timeouts: Vec<bool>,
    /// [n, obs_dim], optional in the file
    pub next_observations: Option<Vec<f32>>,
    pub obs_dim: usize,
    pub act_dim: usize,
}

impl RawDataset {
    /// An empty dataset with room for `rows` rows, next observations included, for
    /// collectors that append one logged step at a time with `push_row`.
    pub fn with_capacity(obs_dim: usize, act_dim: usize, rows: usize) -> RawDataset {
        RawDataset {
            observations: Vec::with_capacity(rows * obs_dim),
            actions: Vec::with_capacity(rows * act_dim),
            rewards: Vec::with_capacity(rows),
            terminals: Vec::with_capacity(rows),
            timeouts: Vec::with_capacity(rows),
            next_observations: Some(Vec::with_capacity(rows * obs_dim)),
            obs_dim,
            act_dim,
        }
    }

    /// Appends one logged step (s, a, r, terminal, timeout, s'). Panics on a dataset
    /// without next observations (one not made by `with_capacity`) or on wrong widths.
    pub fn push_row(
        &mut self,
        obs: &[f32],
        action: &[f32],
        reward: f32,
        terminal: bool,
        timeout: bool,
        next_obs: &[f32],
    ) {
        assert!(
            obs.len() == self.obs_dim && next_obs.len() == self.obs_dim,
            "push_row: observation width {} / {}, dataset's {}",
            obs.len(),
            next_obs.len(),
            self.obs_dim
        );
        assert_eq!(action.len(), self.act_dim, "push_row: action width");
        self.next_observations
            .as_mut()
            .expect("push_row needs a dataset with next observations (RawDataset::with_capacity)")
            .extend_from_slice(next_obs);
        self.observations.extend_from_slice(obs);
        self.actions.extend_from_slice(action);
        self.rewards.push(reward);
        self.terminals.push(terminal);
        self.timeouts.push(timeout);
    }

    /// Keeps the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        self.observations.truncate(rows * self.obs_dim);
        self.actions.truncate(rows * self.act_dim);
        self.rewards.truncate(rows);
        self.terminals.truncate(rows);
        self.timeouts.truncate(rows);
        if let Some(n) = &mut self.next_observations {
            n.truncate(rows * self.obs_dim);
        }
    }

    /// Appends `other`'s rows (same widths; next observations kept only if both have
    /// them).
    pub fn append(&mut self, other: &RawDataset) -> Result<()> {
        if (other.obs_dim, other.act_dim) != (self.obs_dim, self.act_dim) {
            bail!(
                "cannot join datasets of widths {}/{} and {}/{}",
                self.obs_dim,
                self.act_dim,
                other.obs_dim,
                other.act_dim
            );
        }
        self.observations.extend_from_slice(&other.observations);
        self.actions.extend_from_slice(&other.actions);
        self.rewards.extend_from_slice(&other.rewards);
        self.terminals.extend_from_slice(&other.terminals);
        self.timeouts.extend_from_slice(&other.timeouts);
        self.next_observations = match (self.next_observations.take(), &other.next_observations) {
            (Some(mut a), Some(b)) => {
                a.extend_from_slice(b);
                Some(a)
            }
            _ => None,
        };
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.rewards.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Checks that all arrays agree on the row count and are finite.
    /// The message is one line without a file name; callers prefix it.
    pub fn validate(&self) -> Result<()> {
        let n = self.rewards.len();
        if n == 0 {
            bail!("dataset has no rows");
        }
        if self.obs_dim == 0 || self.act_dim == 0 {
            bail!(
                "obs_dim and act_dim must be positive (got {} and {})",
                self.obs_dim,
                self.act_dim
            );
        }
        let check_rows = |key: &str, len: usize, width: usize| -> Result<()> {
            if len != n * width {
                bail!(
                    "'{key}' has {} values, expected {n} rows x {width} = {}",
                    len,
                    n * width
                );
            }
            Ok(())
        };
        check_rows("observations", self.observations.len(), self.obs_dim)?;
        check_rows("actions", self.actions.len(), self.act_dim)?;
        check_rows("terminals", self.terminals.len(), 1)?;
        check_rows("timeouts", self.timeouts.len(), 1)?;
        if let Some(next) = &self.next_observations {
            check_rows("next_observations", next.len(), self.obs_dim)?;
        }
        check_finite("observations", &self.observations, self.obs_dim)?;
        check_finite("actions", &self.actions, self.act_dim)?;
        check_finite("rewards", &self.rewards, 1)?;
        if let Some(next) = &self.next_observations {
            check_finite("next_observations", next, self.obs_dim)?;
        }
        Ok(())
    }
}

pub(crate) fn check_finite(key: &str, data: &[f32], width: usize) -> Result<()> {
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        bail!(
            "'{key}' has a non-finite value ({}) at row {}",
            data[pos],
            pos / width.max(1)
        );
    }
    Ok(())
}

/// Clips actions to [-1, 1] in place; returns how many values were outside.
pub fn clip_actions(ds: &mut RawDataset) -> usize {
    let mut outside = 0;
    for a in &mut ds.actions {
        if *a < -1.0 || *a > 1.0 {
            outside += 1;
            *a = a.clamp(-1.0, 1.0);
        }
    }
    outside
}

/// Statistics for `pars data info`.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    pub rows: usize,
    /// Segments ended by a terminal or timeout, plus a trailing unfinished one.
    pub episodes: usize,
    /// Rows usable as (s, a, r, s', done) after `Transitions::from_raw`.
    pub transitions: usize,
    pub terminals: usize,
    pub timeouts: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub has_next_observations: bool,
    pub reward_min: f32,
    pub reward_max: f32,
    pub reward_mean: f64,
    pub return_min: f64,
    pub return_max: f64,
    pub return_mean: f64,
    pub return_std: f64,
    /// 5th, 25th, 50th, 75th and 95th percentile of the episode returns.
    pub return_quantiles: [f64; 5],
    pub length_mean: f64,
    pub length_median: f64,
    /// γ of `value_mean`.
    pub gamma: f64,
    /// Mean over rows of the discounted return-to-go, cut at each episode's end (a
    /// timeout is not bootstrapped, so this is a lower bound there): the data's value, to
    /// set against a critic's Q on dataset actions divided by its reward scale.
    pub value_mean: f64,
    pub action_min: f32,
    pub action_max: f32,
    pub actions_out_of_range: usize,
}

/// `summarize_with` at γ = 0.99, the MuJoCo and Adroit discount.
pub fn summarize(ds: &RawDataset) -> DatasetSummary {
    summarize_with(ds, 0.99)
}

/// Linear-interpolation quantile of sorted values (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let x = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo as f64)
}

pub fn summarize_with(ds: &RawDataset, gamma: f64) -> DatasetSummary {
    let n = ds.len();
    let ends = |i: usize| ds.terminals[i] || ds.timeouts[i] || i + 1 == n;
    let (mut returns, mut lengths) = (Vec::new(), Vec::new());
    let (mut acc, mut len) = (0.0f64, 0usize);
    for i in 0..n {
        acc += ds.rewards[i] as f64;
        len += 1;
        if ends(i) {
            returns.push(acc);
            lengths.push(len as f64);
            (acc, len) = (0.0, 0);
        }
    }
    let mut value_sum = 0.0f64;
    let mut g = 0.0f64;
    for i in (0..n).rev() {
        if ends(i) {
            g = 0.0;
        }
        g = ds.rewards[i] as f64 + gamma * g;
        value_sum += g;
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let m = mean(&returns);
    let return_std = mean(
        &returns
            .iter()
            .map(|r| (r - m) * (r - m))
            .collect::<Vec<_>>(),
    )
    .sqrt();
    let mut sorted = returns.clone();
    sorted.sort_by(f64::total_cmp);
    let return_quantiles = [0.05, 0.25, 0.5, 0.75, 0.95].map(|q| quantile(&sorted, q));
    lengths.sort_by(f64::total_cmp);
    let fmin = |it: &mut dyn Iterator<Item = f32>| it.fold(f32::INFINITY, f32::min);
    let fmax = |it: &mut dyn Iterator<Item = f32>| it.fold(f32::NEG_INFINITY, f32::max);
    DatasetSummary {
        rows: n,
        episodes: returns.len(),
        transitions: Transitions::count(ds),
        terminals: ds.terminals.iter().filter(|&&t| t).count(),
        timeouts: ds.timeouts.iter().filter(|&&t| t).count(),
        obs_dim: ds.obs_dim,
        act_dim: ds.act_dim,
        has_next_observations: ds.next_observations.is_some(),
        reward_min: fmin(&mut ds.rewards.iter().copied()),
        reward_max: fmax(&mut ds.rewards.iter().copied()),
        reward_mean: if n == 0 {
            0.0
        } else {
            ds.rewards.iter().map(|&r| r as f64).sum::<f64>() / n as f64
        },
        return_min: sorted.first().copied().unwrap_or(0.0),
        return_max: sorted.last().copied().unwrap_or(0.0),
        return_mean: m,
        return_std,
        return_quantiles,
        length_mean: mean(&lengths),
        length_median: quantile(&lengths, 0.5),
        gamma,
        value_mean: if n == 0 { 0.0 } else { value_sum / n as f64 },
        action_min: fmin(&mut ds.actions.iter().copied()),
        action_max: fmax(&mut ds.actions.iter().copied()),
        actions_out_of_range: ds.actions.iter().filter(|a| a.abs() > 1.0).count(),
    }
}

impl fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rows               {}", self.rows)?;
        writeln!(f, "episodes           {}", self.episodes)?;
        writeln!(f, "transitions        {}", self.transitions)?;
        writeln!(f, "terminals          {}", self.terminals)?;
        writeln!(f, "timeouts           {}", self.timeouts)?;
        writeln!(f, "obs_dim            {}", self.obs_dim)?;
        writeln!(f, "act_dim            {}", self.act_dim)?;
        writeln!(
            f,
            "next_observations  {}",
            if self.has_next_observations {
                "stored"
            } else {
                "absent (taken from the following row)"
            }
        )?;
        writeln!(
            f,
            "reward             min {:.4}  max {:.4}  mean {:.4}",
            self.reward_min, self.reward_max, self.reward_mean
        )?;
        writeln!(
            f,
            "episode return     min {:.2}  max {:.2}  mean {:.2}  std {:.2}",
            self.return_min, self.return_max, self.return_mean, self.return_std
        )?;
        let [p5, p25, p50, p75, p95] = self.return_quantiles;
        writeln!(
            f,
            "return percentiles 5: {p5:.2}  25: {p25:.2}  50: {p50:.2}  75: {p75:.2}  95: {p95:.2}"
        )?;
        writeln!(
            f,
            "episode length     mean {:.1}  median {:.1}",
            self.length_mean, self.length_median
        )?;
        writeln!(
            f,
            "value              mean discounted return-to-go {:.3} (γ {}; set Q on dataset actions / c_reward against it)",
            self.value_mean, self.gamma
        )?;
        write!(
            f,
            "actions            min {:.4}  max {:.4}  ({} values outside [-1, 1])",
            self.action_min, self.action_max, self.actions_out_of_range
        )
    }
}

/// A minibatch, row-major, allocated once and refilled each step.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// [size, obs_dim]
    pub obs: Vec<f32>,
    /// [size, act_dim]
    pub actions: Vec<f32>,
    /// [size]
    pub rewards: Vec<f32>,
    /// [size, obs_dim]
    pub next_obs: Vec<f32>,
    /// [size, act_dim]: the data's action in s' (ReBRAC's critic BC term; see
    /// `Transitions::next_actions`)
    pub next_actions: Vec<f32>,
    /// [size], 1.0 where the next state is terminal
    pub dones: Vec<f32>,
    pub size: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
}

impl Batch {
    pub fn new(size: usize, obs_dim: usize, act_dim: usize) -> Self {
        Batch {
            obs: vec![0.0; size * obs_dim],
            actions: vec![0.0; size * act_dim],
            rewards: vec![0.0; size],
            next_obs: vec![0.0; size * obs_dim],
            next_actions: vec![0.0; size * act_dim],
            dones: vec![0.0; size],
            size,
            obs_dim,
            act_dim,
        }
    }
}

/// Where the next observation of a dataset row comes from.
enum Next {
    /// `next_observations[i]` from the file.
    Stored,
    /// `observations[j]`; for terminal rows without stored next states
    /// j == i, a placeholder that `done = 1` masks out of every TD target.
    Row(usize),
}

/// Row `i`'s transition, or None when its next state is unknown.
fn next_of(ds: &RawDataset, i: usize) -> Option<Next> {
    if ds.next_observations.is_some() {
        return Some(Next::Stored);
    }
    if ds.terminals[i] {
        // Never observations[i + 1]: that row starts the next episode.
        Some(Next::Row(i))
    } else if ds.timeouts[i] || i + 1 == ds.len() {
        None
    } else {
        Some(Next::Row(i + 1))
    }
}

/// Offline transitions in flat row-major arrays.
#[derive(Clone, Debug, Default)]
pub struct Transitions {
    /// [n, obs_dim]
    pub obs: Vec<f32>,
    /// [n, act_dim]
    pub actions: Vec<f32>,
    /// [n]
    pub rewards: Vec<f32>,
    /// [n, obs_dim]
    pub next_obs: Vec<f32>,
    /// [n, act_dim]: the action the data took in s' — row i + 1's when it continues
    /// the episode, else row i's own (terminal rows: masked out by done = 1; rows cut
    /// by a time limit with stored next states: the nearest action the file has).
    pub next_actions: Vec<f32>,
    /// [n], 1.0 for terminal steps (a timeout is not terminal)
    pub dones: Vec<f32>,
    pub obs_dim: usize,
    pub act_dim: usize,
}

impl Transitions {
    /// Builds (s, a, r, s', done) rows like D4RL's `qlearning_dataset`, but
    /// never pairing a row with the first state of the next episode.
    ///
    /// With `next_observations` in the file every row is kept. Without it,
    /// s' = observations[i + 1]; rows ending in a timeout (and a final row
    /// that is not terminal) are dropped since their s' is not in the file;
    /// terminal rows are kept with done = 1 and s' = s as a placeholder.
    pub fn from_raw(ds: &RawDataset) -> Result<Transitions> {
        ds.validate()?;
        let (od, ad) = (ds.obs_dim, ds.act_dim);
        let n = Self::count(ds);
        if n == 0 {
            bail!(
                "dataset yields no transitions: each of its {} rows ends in a timeout or is the unfinished last row",
                ds.len()
            );
        }
        let mut t = Transitions {
            obs: Vec::with_capacity(n * od),
            actions: Vec::with_capacity(n * ad),
            rewards: Vec::with_capacity(n),
            next_obs: Vec::with_capacity(n * od),
            next_actions: Vec::with_capacity(n * ad),
            dones: Vec::with_capacity(n),
            obs_dim: od,
            act_dim: ad,
        };
        for i in 0..ds.len() {
            let next = match next_of(ds, i) {
                Some(Next::Stored) => &ds.next_observations.as_ref().unwrap()[i * od..(i + 1) * od],
                Some(Next::Row(j)) => &ds.observations[j * od..(j + 1) * od],
                None => continue,
            };
            t.obs
                .extend_from_slice(&ds.observations[i * od..(i + 1) * od]);
            t.actions
                .extend_from_slice(&ds.actions[i * ad..(i + 1) * ad]);
            t.rewards.push(ds.rewards[i]);
            t.next_obs.extend_from_slice(next);
            let continues = !ds.terminals[i] && !ds.timeouts[i] && i + 1 < ds.len();
            let j = if continues { i + 1 } else { i };
            t.next_actions
                .extend_from_slice(&ds.actions[j * ad..(j + 1) * ad]);
            t.dones.push(if ds.terminals[i] { 1.0 } else { 0.0 });
        }
        Ok(t)
    }

    /// How many transitions `from_raw` would build (for summaries).
    pub fn count(ds: &RawDataset) -> usize {
        (0..ds.len()).filter(|&i| next_of(ds, i).is_some()).count()
    }

    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Order-sensitive hash of every value (`next_actions` follow from the others): a
    /// resumed run checks that its data did not change.
    pub fn fingerprint(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.len() as u64;
        for col in [
            &self.obs,
            &self.actions,
            &self.rewards,
            &self.next_obs,
            &self.dones,
        ] {
            for x in col.iter() {
                h = (h ^ x.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    pub fn reward_min(&self) -> f32 {
        self.rewards.iter().copied().fold(f32::INFINITY, f32::min)
    }

    pub fn reward_max(&self) -> f32 {
        self.rewards
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Episodes [1, 2] (terminal), [3] (timeout) and [4, 0, 2] (unfinished), by hand.
    #[test]
    fn summary_returns_lengths_and_value_by_hand() {
        let mut ds = RawDataset::with_capacity(1, 1, 6);
        let rows = [
            (1.0, false, false),
            (2.0, true, false),
            (3.0, false, true),
            (4.0, false, false),
            (0.0, false, false),
            (2.0, false, false),
        ];
        for (r, t, to) in rows {
            ds.push_row(&[0.0], &[0.0], r, t, to, &[0.0]);
        }
        let s = summarize_with(&ds, 0.5);
        assert_eq!(s.episodes, 3);
        assert_eq!((s.return_min, s.return_max, s.return_mean), (3.0, 6.0, 4.0));
        // returns 3, 3, 6: variance ((1)² + (1)² + (2)²) / 3 = 2
        assert!((s.return_std - 2f64.sqrt()).abs() < 1e-12);
        // sorted 3, 3, 6: the 75th percentile interpolates halfway between 3 and 6
        for (got, want) in s.return_quantiles.iter().zip([3.0, 3.0, 3.0, 4.5, 5.7]) {
            assert!((got - want).abs() < 1e-12, "{:?}", s.return_quantiles);
        }
        assert_eq!((s.length_mean, s.length_median), (2.0, 2.0));
        // return-to-go at γ ½: 1 + 2/2 = 2, 2; 3; 4 + 0 + 2/4 = 4.5, 0 + 2/2 = 1, 2
        assert!((s.value_mean - (2.0 + 2.0 + 3.0 + 4.5 + 1.0 + 2.0) / 6.0).abs() < 1e-12);
        assert_eq!(summarize(&ds).gamma, 0.99);
        let text = s.to_string();
        assert!(text.contains("std 1.41"), "{text}");
        assert!(text.contains("50: 3.00"), "{text}");
    }
}
