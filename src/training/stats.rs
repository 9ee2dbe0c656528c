//! What the loops measure: sums of update statistics over a logging interval, and the
//! divergence checks on them and on the parameters.
use crate::algos::{Learner, UpdateStats};
use crate::run::MetricsRow;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Sums of update statistics over a logging interval (offline and online alike;
/// serialised bit-exactly into online checkpoints).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatsAccum {
    pub n: u64,
    #[serde(with = "crate::formats::bits")]
    td: f64,
    #[serde(with = "crate::formats::bits")]
    pa: f64,
    #[serde(with = "crate::formats::bits")]
    qd: f64,
    #[serde(with = "crate::formats::bits")]
    qi: f64,
    na: u64,
    #[serde(with = "crate::formats::bits")]
    actor: f64,
    #[serde(with = "crate::formats::bits")]
    bc: f64,
    #[serde(with = "crate::formats::bits")]
    lambda: f64,
    /// Actor updates that reported a BC loss and λ (PARS's; IQL's report neither).
    #[serde(default)]
    nbc: u64,
    /// IQL: steps, V loss, advantage mean and std.
    #[serde(default)]
    nv: u64,
    #[serde(default, with = "crate::formats::bits")]
    v: f64,
    #[serde(default, with = "crate::formats::bits")]
    adv_mean: f64,
    #[serde(default, with = "crate::formats::bits")]
    adv_std: f64,
    /// SAC: actor steps, entropy and temperature.
    #[serde(default)]
    ne: u64,
    #[serde(default, with = "crate::formats::bits")]
    entropy: f64,
    #[serde(default, with = "crate::formats::bits")]
    temperature: f64,
}

impl StatsAccum {
    /// A whole offline step: its critic and (if any) actor statistics.
    pub fn add(&mut self, s: &UpdateStats) {
        self.add_critic(s);
        self.add_actor(s);
    }

    /// A critic step (with IQL's value statistics, which come with it).
    pub fn add_critic(&mut self, s: &UpdateStats) {
        self.n += 1;
        self.td += s.td_loss as f64;
        self.pa += s.pa_loss as f64;
        self.qd += s.q_data as f64;
        self.qi += s.q_infeasible as f64;
        if let (Some(v), Some(m), Some(sd)) = (s.v_loss, s.adv_mean, s.adv_std) {
            self.nv += 1;
            self.v += v as f64;
            self.adv_mean += m as f64;
            self.adv_std += sd as f64;
        }
    }
    pub fn add_actor(&mut self, s: &UpdateStats) {
        if let Some(a) = s.actor_loss {
            self.na += 1;
            self.actor += a as f64;
            if let (Some(b), Some(l)) = (s.bc_loss, s.lambda) {
                self.nbc += 1;
                self.bc += b as f64;
                self.lambda += l as f64;
            }
            if let (Some(e), Some(t)) = (s.entropy, s.temperature) {
                self.ne += 1;
                self.entropy += e as f64;
                self.temperature += t as f64;
            }
        }
    }
    pub fn row(&self, step: u64) -> MetricsRow {
        // NaN where the interval had no updates (before learning starts)
        let mean = |v: f64, n: u64| if n > 0 { v / n as f64 } else { f64::NAN };
        let some = |v: f64, n: u64| (n > 0).then(|| v / n as f64);
        MetricsRow {
            step,
            td_loss: mean(self.td, self.n),
            pa_loss: mean(self.pa, self.n),
            q_data: mean(self.qd, self.n),
            q_infeasible: mean(self.qi, self.n),
            actor_loss: some(self.actor, self.na),
            bc_loss: some(self.bc, self.nbc),
            lambda: some(self.lambda, self.nbc),
            v_loss: some(self.v, self.nv),
            adv_mean: some(self.adv_mean, self.nv),
            adv_std: some(self.adv_std, self.nv),
            entropy: some(self.entropy, self.ne),
            temperature: some(self.temperature, self.ne),
            ..Default::default()
        }
    }
}

/// A non-finite loss or Q value stops the run, naming the step and the quantity.
pub fn check_finite_stats(s: &UpdateStats, step: u64) -> Result<()> {
    // a fixed table, so the per-step check allocates nothing; `None` = not measured
    let named = [
        ("TD loss", Some(s.td_loss)),
        ("PA loss", Some(s.pa_loss)),
        ("mean Q on dataset actions", Some(s.q_data)),
        ("TD target", Some(s.target_mean)),
        // NaN by definition without PA
        (
            "mean Q on infeasible actions",
            (s.pa_loss != 0.0 || s.q_infeasible.is_finite()).then_some(s.q_infeasible),
        ),
        ("actor loss", s.actor_loss),
        ("λ", s.lambda),
        ("V loss", s.v_loss),
        ("mean advantage", s.adv_mean),
        ("entropy", s.entropy),
        ("temperature", s.temperature),
    ];
    for (name, v) in named {
        if let Some(v) = v.filter(|v| !v.is_finite()) {
            bail!("training diverged at step {step}: {name} is {v}");
        }
    }
    Ok(())
}

/// A non-finite parameter anywhere stops the run (checked at logging and checkpoint
/// times: a full scan every step would cost more than it saves).
pub fn check_finite_params(agent: &dyn Learner, step: u64) -> Result<()> {
    for (name, p) in agent.named_params() {
        if let Some(i) = p.iter().position(|v| !v.is_finite()) {
            bail!(
                "training diverged at step {step}: {name} parameter {i} is {}",
                p[i]
            );
        }
    }
    Ok(())
}
