//! Update traces (`pars debug trace`): K offline updates of the agent, written with
//! every input, random draw, loss and the whole state before and after each step, so
//! an independent implementation (tests/reference/, Python/JAX) can replay and check
//! them. The updates are `Learner::update`, the code path of training, with the learner's
//! draw recording switched on; batches are sampled as `pars train` samples them, so a
//! trace of K steps is the first K steps of the training run with the same config.
//!
//! Format (safetensors, version 1; tensors float32 unless stated):
//! metadata `format` = `pars-trace`, `version` = `1`, `case`, `config` (JSON),
//! `obs_dim`, `act_dim`, `steps` (K); tensors `init.` + every state tensor (see
//! `Learner::write_tensors`), and for k = 1..=K `step{k}.batch.{obs, actions,
//! rewards, next_obs, dones, next_actions}`, `step{k}.draw.{target_eps, target_subset, pa_u,
//! actor_subset}`, `step{k}.loss.{td, pa, q_data, target_mean, actor, bc, lambda}` and
//! `step{k}.after.` + every state tensor. tests/reference/README.md has the details.
//! IQL and SAC traces share the format, with metadata `algorithm` = `iql` / `sac` and
//! their learners' state tensors, draws and losses.
use super::offline::SAMPLE_SEED_XOR;
use crate::algos::{new_learner, Learner};
use crate::config::TrainConfig;
use crate::data::{Batch, Transitions};
use crate::formats::TensorWriter;
use anyhow::{ensure, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub const TRACE_FORMAT: &str = "pars-trace";
pub const TRACE_VERSION: u32 = 1;

/// A finished trace: the file's contents and the learner after the last step.
pub struct Trace {
    pub file: TensorWriter,
    pub agent: Box<dyn Learner>,
}

/// Run `cfg.steps` updates of a fresh learner (seed `cfg.seed`) on `data` and record
/// them: batches sampled as `pars train` samples them, the learner's draws and losses
/// (`Learner::write_trace_step`) and its whole state before and after every step.
pub fn run_trace(cfg: &TrainConfig, data: &Transitions, case: &str) -> Result<Trace> {
    cfg.validate()?;
    ensure!(!data.is_empty(), "the dataset has no transitions");
    let k_steps = cfg.steps;
    let (od, ad) = (data.obs_dim, data.act_dim);
    let mut agent = new_learner(cfg, od, ad, data.reward_min());
    agent.record_draws(true);
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ SAMPLE_SEED_XOR);
    let mut batch = Batch::new(cfg.agent.batch_size, od, ad);

    let mut w = TensorWriter::new();
    w.meta("format", TRACE_FORMAT);
    w.meta("version", TRACE_VERSION.to_string());
    if agent.as_iql().is_some() {
        w.meta("algorithm", crate::algos::iql::FILE_ALGORITHM);
    } else if agent.as_sac().is_some() {
        w.meta("algorithm", crate::algos::sac::FILE_ALGORITHM);
    }
    w.meta("case", case);
    w.meta(
        "config",
        serde_json::to_string(&agent.trace_config(k_steps)?)?,
    );
    w.meta("obs_dim", od.to_string());
    w.meta("act_dim", ad.to_string());
    w.meta("steps", k_steps.to_string());
    w.meta("seed", cfg.seed.to_string());
    w.meta("algo", cfg.algo.clone());
    agent.write_tensors(&mut w, "init.");
    for k in 1..=k_steps {
        data.sample_into(&mut sample_rng, &mut batch);
        let stats = agent.update(&batch);
        let p = format!("step{k}.");
        write_batch(&mut w, &p, &batch);
        agent.write_trace_step(&mut w, &p, &stats);
        agent.write_tensors(&mut w, &format!("{p}after."));
    }
    agent.record_draws(false);
    Ok(Trace { file: w, agent })
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
    // the dataset's next actions (ReBRAC's critic BC term)
    w.f32(
        format!("{prefix}batch.next_actions"),
        &[b, ad],
        &batch.next_actions[..b * ad],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algos::{Agent, IqlAgent};
    use crate::config::AgentConfig;
    use crate::data::RawDataset;
    use crate::formats::TensorReader;
    use rand::Rng;
    use serde_json::Value;

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
        a.read_tensors(r, prefix).unwrap();
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
        let t_agent = t.agent.as_pars().unwrap().clone();
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
        assert_eq!(config["beta"].as_f64().unwrap() as f32, t_agent.beta);

        // init is a fresh agent; step K's after-state is the final agent
        let fresh = Agent::new(c.agent.clone(), od, ad, t_agent.q_min, k, c.seed);
        assert!(same(&state(&r, "init.", &t_agent), &fresh));
        assert!(same(
            &state(&r, &format!("step{k}.after."), &t_agent),
            &t_agent
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
                same(&replay, &state(&r, &format!("step{s}.after."), &t_agent)),
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
        let trained = crate::training::train_offline(&c, &d, None, false).unwrap();
        assert!(same(
            t.agent.as_pars().unwrap(),
            trained.agent.as_pars().unwrap()
        ));
        // without the penalty or S_actor there is no pa_u and no actor_subset
        let bytes = t.file.to_bytes().unwrap();
        let r = TensorReader::from_bytes(std::path::Path::new("t"), bytes).unwrap();
        assert!(!r.contains("step1.draw.pa_u") && !r.contains("step2.draw.actor_subset"));
        assert!(r.contains("step2.loss.actor") && !r.contains("step1.loss.actor"));
        assert_eq!(r.shape("step1.draw.target_subset"), Some(&[2usize][..]));
    }

    #[test]
    fn iql_trace_replays_from_init_and_follows_the_training_run() {
        use crate::config::{Algorithm, IqlConfig};
        let (od, ad, k) = (3, 2, 4);
        let d = data(od, ad);
        let pre = crate::config::presets::preset("iql-rsln-pa").unwrap();
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
        let t = run_trace(&c, &d, "iql").unwrap();
        let (file, agent) = (t.file, t.agent.as_iql().unwrap().clone());
        let trained = crate::training::train_offline(&c, &d, None, false).unwrap();
        let trained = trained
            .agent
            .as_iql()
            .expect("an IQL run gives an IQL learner");
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
        assert!(same(&agent, trained), "recording changes nothing");
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
            a.read_tensors(&r, prefix).unwrap();
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
