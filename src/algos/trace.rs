//! Update traces (`pars debug trace`): K offline updates of the agent, written with
//! every input, random draw, loss and the whole state before and after each step, so
//! an independent implementation (tests/reference/, Python/JAX) can replay and check
//! them. The updates are `Agent::update`, the code path of training, with the agent's
//! draw recording switched on; batches are sampled as `pars train` samples them, so a
//! trace of K steps is the first K steps of the training run with the same config.
//!
//! Format (safetensors, version 1; tensors float32 unless stated):
//! metadata `format` = `pars-trace`, `version` = `1`, `case`, `config` (JSON),
//! `obs_dim`, `act_dim`, `steps` (K); tensors `init.` + every state tensor (see
//! `checkpoint::write_agent_tensors`), and for k = 1..=K `step{k}.batch.{obs, actions,
//! rewards, next_obs, dones}`, `step{k}.draw.{target_eps, target_subset, pa_u,
//! actor_subset}`, `step{k}.loss.{td, pa, q_data, target_mean, actor, bc, lambda}` and
//! `step{k}.after.` + every state tensor. tests/reference/README.md has the details.
//! IQL traces (`run_iql_trace`) share the format, with metadata `algorithm` = `iql` and
//! IQL's state tensors, draws and losses.
use super::checkpoint::{write_agent_tensors, write_iql_tensors};
use super::config::TrainConfig;
use super::iql::IqlAgent;
use super::pars::Agent;
use crate::data::{Batch, Transitions};
use crate::nn::LrSchedule;
use crate::policy::TensorWriter;
use anyhow::{ensure, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

pub const TRACE_FORMAT: &str = "pars-trace";
pub const TRACE_VERSION: u32 = 1;

/// Seed offset of batch sampling: the one `train::train_offline` uses (a test checks
/// that a trace follows the training run).
const SAMPLE_SEED_XOR: u64 = 0x5EED_DA7A;

/// The trace's `config`: every agent config field, with `beta` and `q_min` resolved,
/// plus `actor_cosine_steps` (the cosine schedule's length in actor updates),
/// `gelu_approximate` (our GELU is the tanh approximation, as JAX's default) and
/// `step_offset` (updates the agent had taken before the trace: 0). Floats are the
/// exact f32 values, written as f64.
pub fn trace_config(agent: &Agent, total_steps: u64) -> Result<Value> {
    let mut v = serde_json::to_value(&agent.cfg)?;
    let m = v
        .as_object_mut()
        .context("agent config is not a JSON object")?;
    let cosine_steps = match agent.actor_opt.schedule {
        LrSchedule::Cosine { total_steps } => total_steps,
        LrSchedule::Constant => total_steps.div_ceil(agent.cfg.policy_delay as u64),
    };
    m.insert("beta".into(), (agent.beta as f64).into());
    m.insert("q_min".into(), (agent.q_min as f64).into());
    m.insert("actor_cosine_steps".into(), cosine_steps.into());
    m.insert("gelu_approximate".into(), true.into());
    m.insert("step_offset".into(), agent.steps.into());
    Ok(v)
}

/// A finished trace: the file's contents and the agent after the last step.
pub struct Trace {
    pub file: TensorWriter,
    pub agent: Agent,
}

/// Run `cfg.steps` updates of a fresh agent (seed `cfg.seed`) on `data` and record them.
pub fn run_trace(cfg: &TrainConfig, data: &Transitions, case: &str) -> Result<Trace> {
    cfg.validate()?;
    ensure!(
        cfg.algorithm == super::config::Algorithm::Pars,
        "run_trace covers PARS and TD3+BC; IQL traces come from run_iql_trace"
    );
    ensure!(!data.is_empty(), "the dataset has no transitions");
    let k_steps = cfg.steps;
    let (od, ad) = (data.obs_dim, data.act_dim);
    let q_min = cfg.agent.resolve_q_min(data.reward_min());
    let mut agent = Agent::new(cfg.agent.clone(), od, ad, q_min, k_steps, cfg.seed);
    agent.record_draws(true);
    let b = cfg.agent.batch_size;
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ SAMPLE_SEED_XOR);
    let mut batch = Batch::new(b, od, ad);

    let mut w = TensorWriter::new();
    w.meta("format", TRACE_FORMAT);
    w.meta("version", TRACE_VERSION.to_string());
    w.meta("case", case);
    w.meta(
        "config",
        serde_json::to_string(&trace_config(&agent, k_steps)?)?,
    );
    w.meta("obs_dim", od.to_string());
    w.meta("act_dim", ad.to_string());
    w.meta("steps", k_steps.to_string());
    w.meta("seed", cfg.seed.to_string());
    w.meta("algo", cfg.algo.clone());
    write_agent_tensors(&mut w, "init.", &agent);

    let idx = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
    for k in 1..=k_steps {
        data.sample_into(&mut sample_rng, &mut batch);
        let stats = agent.update(&batch);
        let p = format!("step{k}.");
        write_batch(&mut w, &p, &batch);

        let d = agent.draws().expect("draws are recorded");
        w.f32(format!("{p}draw.target_eps"), &[b, ad], &d.target_eps);
        let ts = idx(&d.target_subset);
        w.i64(format!("{p}draw.target_subset"), &[ts.len()], &ts);
        if agent.cfg.penalty {
            w.f32(format!("{p}draw.pa_u"), &[b, ad], &d.pa_u);
        }
        let actor_step = stats.actor_loss.is_some();
        if actor_step && !d.actor_subset.is_empty() {
            let s = idx(&d.actor_subset);
            w.i64(format!("{p}draw.actor_subset"), &[s.len()], &s);
        }

        let mut loss = |n: &str, v: f32| w.f32(format!("{p}loss.{n}"), &[], &[v]);
        loss("td", stats.td_loss);
        loss("pa", stats.pa_loss);
        loss("q_data", stats.q_data);
        loss("target_mean", stats.target_mean);
        if let (Some(a), Some(bc), Some(l)) = (stats.actor_loss, stats.bc_loss, stats.lambda) {
            loss("actor", a);
            loss("bc", bc);
            loss("lambda", l);
        }
        write_agent_tensors(&mut w, &format!("{p}after."), &agent);
    }
    agent.record_draws(false);
    Ok(Trace { file: w, agent })
}

/// The `config` of an IQL trace: every agent config field and every `[iql]` field, with
/// `value_layer_norm` resolved to a bool, plus `q_min`, `actor_cosine_steps` (the cosine
/// schedule's length: one actor update per step), `gelu_approximate` and `step_offset`.
pub fn iql_trace_config(agent: &IqlAgent, total_steps: u64) -> Result<Value> {
    let mut v = serde_json::to_value(&agent.cfg)?;
    let m = v
        .as_object_mut()
        .context("agent config is not a JSON object")?;
    let iql = serde_json::to_value(&agent.iql)?;
    for (k, x) in iql.as_object().context("iql config is not a JSON object")? {
        m.insert(k.clone(), x.clone());
    }
    let cosine_steps = match agent.actor_opt.schedule {
        LrSchedule::Cosine { total_steps } => total_steps,
        LrSchedule::Constant => total_steps,
    };
    m.insert(
        "value_layer_norm".into(),
        agent.iql.value_layer_norm(&agent.cfg).into(),
    );
    m.insert("q_min".into(), (agent.q_min as f64).into());
    m.insert("actor_cosine_steps".into(), cosine_steps.into());
    m.insert("gelu_approximate".into(), true.into());
    m.insert("step_offset".into(), agent.steps.into());
    Ok(v)
}

/// `run_trace` for IQL: `cfg.steps` updates of a fresh IQL agent, recorded in the same
/// format with metadata `algorithm` = `iql`: state tensors as `checkpoint::write_iql_tensors`
/// names them, draws `draw.pa_u` (with PA), losses `loss.{td, pa, q_data, target_mean, v,
/// adv_mean, adv_std, actor}`.
pub fn run_iql_trace(
    cfg: &TrainConfig,
    data: &Transitions,
    case: &str,
) -> Result<(TensorWriter, IqlAgent)> {
    cfg.validate()?;
    ensure!(
        cfg.algorithm == super::config::Algorithm::Iql,
        "run_iql_trace needs algorithm = \"iql\""
    );
    ensure!(!data.is_empty(), "the dataset has no transitions");
    let k_steps = cfg.steps;
    let (od, ad) = (data.obs_dim, data.act_dim);
    let iql = cfg.iql_settings();
    let q_min = iql.resolve_q_min(&cfg.agent, data.reward_min());
    let mut agent = IqlAgent::new(cfg.agent.clone(), iql, od, ad, q_min, k_steps, cfg.seed);
    agent.record_draws(true);
    let b = cfg.agent.batch_size;
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ SAMPLE_SEED_XOR);
    let mut batch = Batch::new(b, od, ad);

    let mut w = TensorWriter::new();
    w.meta("format", TRACE_FORMAT);
    w.meta("version", TRACE_VERSION.to_string());
    w.meta("algorithm", "iql");
    w.meta("case", case);
    w.meta(
        "config",
        serde_json::to_string(&iql_trace_config(&agent, k_steps)?)?,
    );
    w.meta("obs_dim", od.to_string());
    w.meta("act_dim", ad.to_string());
    w.meta("steps", k_steps.to_string());
    w.meta("seed", cfg.seed.to_string());
    w.meta("algo", cfg.algo.clone());
    write_iql_tensors(&mut w, "init.", &agent);
    for k in 1..=k_steps {
        data.sample_into(&mut sample_rng, &mut batch);
        let (stats, istats) = agent.update(&batch);
        let p = format!("step{k}.");
        write_batch(&mut w, &p, &batch);
        if agent.cfg.penalty {
            let u = agent.pa_draws().expect("draws are recorded");
            w.f32(format!("{p}draw.pa_u"), &[b, ad], u);
        }
        let mut loss = |n: &str, v: f32| w.f32(format!("{p}loss.{n}"), &[], &[v]);
        loss("td", stats.td_loss);
        loss("pa", stats.pa_loss);
        loss("q_data", stats.q_data);
        loss("target_mean", stats.target_mean);
        loss("v", istats.v_loss);
        loss("adv_mean", istats.adv_mean);
        loss("adv_std", istats.adv_std);
        loss(
            "actor",
            stats.actor_loss.expect("IQL updates the actor every step"),
        );
        write_iql_tensors(&mut w, &format!("{p}after."), &agent);
    }
    agent.record_draws(false);
    Ok((w, agent))
}

/// `{prefix}batch.*`: the rows one step trained on.
fn write_batch(w: &mut TensorWriter, prefix: &str, batch: &Batch) {
    let (b, od, ad) = (batch.size, batch.obs_dim, batch.act_dim);
    w.f32(format!("{prefix}batch.obs"), &[b, od], &batch.obs[..b * od]);
    w.f32(
        format!("{prefix}batch.actions"),
        &[b, ad],
        &batch.actions[..b * ad],
    );
    w.f32(format!("{prefix}batch.rewards"), &[b], &batch.rewards[..b]);
    w.f32(
        format!("{prefix}batch.next_obs"),
        &[b, od],
        &batch.next_obs[..b * od],
    );
    w.f32(format!("{prefix}batch.dones"), &[b], &batch.dones[..b]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algos::checkpoint::read_agent_tensors;
    use crate::algos::AgentConfig;
    use crate::data::RawDataset;
    use crate::policy::TensorReader;
    use rand::Rng;

    fn data(od: usize, ad: usize) -> Transitions {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 200;
        let mut raw = RawDataset {
            observations: (0..n * od).map(|_| rng.gen_range(-1.0..1.0)).collect(),
            actions: (0..n * ad).map(|_| rng.gen_range(-1.0..1.0)).collect(),
            rewards: (0..n).map(|_| rng.gen_range(-1.0..0.5)).collect(),
            terminals: (0..n).map(|i| i % 37 == 36).collect(),
            timeouts: vec![false; n],
            next_observations: None,
            obs_dim: od,
            act_dim: ad,
        };
        raw.timeouts[n - 1] = true;
        Transitions::from_raw(&raw).unwrap()
    }

    fn cfg(agent: AgentConfig, steps: u64) -> TrainConfig {
        TrainConfig {
            agent: AgentConfig {
                hidden: 16,
                batch_size: 8,
                ..agent
            },
            steps,
            seed: 3,
            log_every: 1,
            ..TrainConfig::default()
        }
    }

    /// The agent stored under `prefix`, on the shapes of `like`.
    fn state(r: &TensorReader, prefix: &str, like: &Agent) -> Agent {
        let mut a = like.clone();
        read_agent_tensors(r, prefix, &mut a).unwrap();
        a
    }

    fn same(a: &Agent, b: &Agent) -> bool {
        a.actor.params == b.actor.params
            && a.actor_target.params == b.actor_target.params
            && a.critic.params == b.critic.params
            && a.critic_target.params == b.critic_target.params
            && a.actor_opt.m == b.actor_opt.m
            && a.actor_opt.v == b.actor_opt.v
            && a.critic_opt.m == b.critic_opt.m
            && a.critic_opt.v == b.critic_opt.v
            && a.actor_opt.step == b.actor_opt.step
            && a.critic_opt.step == b.critic_opt.step
    }

    #[test]
    fn trace_round_trips_and_init_plus_k_steps_is_the_final_state() {
        let (od, ad) = (4, 2);
        let d = data(od, ad);
        let k = 5;
        let agent_cfg = AgentConfig {
            n_critics: 4,
            critic_subset: 2,
            actor_subset: Some(2),
            actor_cosine: true,
            ..AgentConfig::default()
        };
        let c = cfg(agent_cfg, k);
        let t = run_trace(&c, &d, "unit").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        t.file.write(&p).unwrap();
        let r = TensorReader::open(&p).unwrap();
        assert_eq!(r.get_meta("format"), Some("pars-trace"));
        assert_eq!(r.get_meta("version"), Some("1"));
        assert_eq!(r.get_meta("case"), Some("unit"));
        assert_eq!(r.get_meta("steps"), Some("5"));
        let config: Value = serde_json::from_str(r.get_meta("config").unwrap()).unwrap();
        for key in [
            "n_critics",
            "critic_subset",
            "critic_depth",
            "actor_depth",
            "hidden",
            "critic_layer_norm",
            "activation",
            "penalty",
            "alpha",
            "beta",
            "reward_scale",
            "gamma",
            "tau",
            "policy_noise",
            "noise_clip",
            "infeasible_distance",
            "policy_delay",
            "actor_lr",
            "critic_lr",
            "actor_cosine",
            "actor_cosine_steps",
            "actor_subset",
            "q_min",
            "batch_size",
        ] {
            assert!(config.get(key).is_some(), "config lacks {key}");
        }
        assert_eq!(config["activation"], "relu");
        assert_eq!(config["actor_cosine_steps"], 3); // ceil(5 / 2) actor updates
        assert_eq!(config["beta"].as_f64().unwrap() as f32, t.agent.beta);

        // init is a fresh agent; step K's after-state is the final agent
        let fresh = Agent::new(c.agent.clone(), od, ad, t.agent.q_min, k, c.seed);
        assert!(same(&state(&r, "init.", &t.agent), &fresh));
        assert!(same(
            &state(&r, &format!("step{k}.after."), &t.agent),
            &t.agent
        ));
        // replaying the trace's batches from init reproduces every after-state
        let mut replay = fresh;
        let b = c.agent.batch_size;
        for s in 1..=k {
            let mut batch = Batch::new(b, od, ad);
            let p = format!("step{s}.batch.");
            batch.obs = r.f32(&format!("{p}obs"), &[b, od]).unwrap();
            batch.actions = r.f32(&format!("{p}actions"), &[b, ad]).unwrap();
            batch.rewards = r.f32(&format!("{p}rewards"), &[b]).unwrap();
            batch.next_obs = r.f32(&format!("{p}next_obs"), &[b, od]).unwrap();
            batch.dones = r.f32(&format!("{p}dones"), &[b]).unwrap();
            let st = replay.update(&batch);
            assert!(
                same(&replay, &state(&r, &format!("step{s}.after."), &t.agent)),
                "step {s}"
            );
            let td = r.f32(&format!("step{s}.loss.td"), &[]).unwrap()[0];
            assert_eq!(td, st.td_loss);
            // draws: ε and u present and sized; subsets distinct members in range
            r.f32(&format!("step{s}.draw.target_eps"), &[b, ad])
                .unwrap();
            let u = r.f32(&format!("step{s}.draw.pa_u"), &[b, ad]).unwrap();
            assert!(u.iter().all(|u| (-1.0..1.0).contains(u)));
            let ts = r.i64(&format!("step{s}.draw.target_subset"), &[2]).unwrap();
            assert!(ts[0] < ts[1] && ts[1] < 4);
            let actor = s % 2 == 0;
            assert_eq!(r.contains(&format!("step{s}.loss.actor")), actor);
            assert_eq!(r.contains(&format!("step{s}.loss.lambda")), actor);
            assert_eq!(r.contains(&format!("step{s}.draw.actor_subset")), actor);
            if actor {
                r.i64(&format!("step{s}.draw.actor_subset"), &[2]).unwrap();
            }
        }
        assert_eq!(
            r.i64(&format!("step{k}.after.actor_adam.step"), &[])
                .unwrap(),
            vec![2]
        );
        assert_eq!(
            r.i64(&format!("step{k}.after.critic_adam.step"), &[])
                .unwrap(),
            vec![5]
        );
    }

    #[test]
    fn trace_follows_the_training_run_and_recording_changes_nothing() {
        let d = data(3, 2);
        let c = cfg(AgentConfig::td3bc(), 6);
        let t = run_trace(&c, &d, "td3bc").unwrap();
        let trained = crate::algos::train::train_offline(&c, &d, None, false).unwrap();
        assert!(same(&t.agent, trained.agent.as_pars().unwrap()));
        // without the penalty or S_actor there is no pa_u and no actor_subset
        let bytes = t.file.to_bytes().unwrap();
        let r = TensorReader::from_bytes(std::path::Path::new("t"), bytes).unwrap();
        assert!(!r.contains("step1.draw.pa_u") && !r.contains("step2.draw.actor_subset"));
        assert!(r.contains("step2.loss.actor") && !r.contains("step1.loss.actor"));
        assert_eq!(r.shape("step1.draw.target_subset"), Some(&[2usize][..]));
    }

    #[test]
    fn iql_trace_replays_from_init_and_follows_the_training_run() {
        use crate::algos::checkpoint::read_iql_tensors;
        use crate::algos::config::{Algorithm, IqlConfig};
        let (od, ad, k) = (3, 2, 4);
        let d = data(od, ad);
        let pre = crate::algos::presets::preset("iql-rsln-pa").unwrap();
        let c = TrainConfig {
            algorithm: Algorithm::Iql,
            iql: Some(IqlConfig {
                expectile: 0.8,
                reward_shift: -0.5,
                ..pre.iql.unwrap()
            }),
            ..cfg(
                AgentConfig {
                    infeasible_distance: 3.0,
                    ..pre.agent
                },
                k,
            )
        };
        let (file, agent) = run_iql_trace(&c, &d, "iql").unwrap();
        let trained = crate::algos::train::train_offline(&c, &d, None, false).unwrap();
        let crate::algos::train::Learner::Iql(trained) = trained.agent else {
            panic!("an IQL run gives an IQL learner")
        };
        let same = |a: &IqlAgent, b: &IqlAgent| {
            a.actor.params == b.actor.params
                && a.log_std == b.log_std
                && a.critic.params == b.critic.params
                && a.critic_target.params == b.critic_target.params
                && a.value.params == b.value.params
                && a.value_opt.m == b.value_opt.m
                && a.log_std_opt.v == b.log_std_opt.v
                && a.critic_opt.step == b.critic_opt.step
        };
        assert!(same(&agent, &trained), "recording changes nothing");
        let r =
            TensorReader::from_bytes(std::path::Path::new("t"), file.to_bytes().unwrap()).unwrap();
        assert_eq!(r.get_meta("algorithm"), Some("iql"));
        let config: Value = serde_json::from_str(r.get_meta("config").unwrap()).unwrap();
        for key in [
            "expectile",
            "temperature",
            "max_weight",
            "value_lr",
            "policy",
            "reward_shift",
            "value_layer_norm",
            "q_min",
            "actor_cosine_steps",
        ] {
            assert!(config.get(key).is_some(), "config lacks {key}");
        }
        assert_eq!(config["value_layer_norm"], true);
        assert_eq!(config["actor_cosine_steps"], k);
        // replaying the batches from init reproduces every after-state (the PA draws
        // come from the agent's RNG, which the replay shares)
        let load = |prefix: &str| {
            let mut a = agent.clone();
            read_iql_tensors(&r, prefix, &mut a).unwrap();
            a
        };
        let mut replay = IqlAgent::new(
            c.agent.clone(),
            c.iql_settings(),
            od,
            ad,
            agent.q_min,
            k,
            c.seed,
        );
        assert!(same(&load("init."), &replay));
        let b = c.agent.batch_size;
        for s in 1..=k {
            let mut batch = Batch::new(b, od, ad);
            let p = format!("step{s}.batch.");
            batch.obs = r.f32(&format!("{p}obs"), &[b, od]).unwrap();
            batch.actions = r.f32(&format!("{p}actions"), &[b, ad]).unwrap();
            batch.rewards = r.f32(&format!("{p}rewards"), &[b]).unwrap();
            batch.next_obs = r.f32(&format!("{p}next_obs"), &[b, od]).unwrap();
            batch.dones = r.f32(&format!("{p}dones"), &[b]).unwrap();
            replay.record_draws(true);
            let (st, ist) = replay.update(&batch);
            assert!(same(&replay, &load(&format!("step{s}.after."))), "step {s}");
            let u = r.f32(&format!("step{s}.draw.pa_u"), &[b, ad]).unwrap();
            assert_eq!(replay.pa_draws().unwrap(), &u[..]);
            let loss = |n: &str| r.f32(&format!("step{s}.loss.{n}"), &[]).unwrap()[0];
            assert_eq!(
                (loss("td"), loss("v"), loss("actor")),
                (st.td_loss, ist.v_loss, st.actor_loss.unwrap())
            );
            assert_eq!(
                (loss("adv_mean"), loss("adv_std")),
                (ist.adv_mean, ist.adv_std)
            );
        }
        assert_eq!(
            r.i64(&format!("step{k}.after.value_adam.step"), &[])
                .unwrap(),
            vec![k as i64]
        );
    }
}
