//! The MuJoCo environments through the library and the `pars` binary: reproducible
//! resets, rejected actions, D4RL-style semantics, clear errors for missing model files,
//! and a collect → train → evaluate run on Hopper.
#![cfg(feature = "mujoco")]
mod common;
use common::{pars, pars_minari, stderr};
use pars::envs::mujoco::make_sim_env;
use pars::envs::{list_envs, make_env};
use std::process::Command;

const LOCOMOTION: [&str; 3] = ["hopper-v2", "halfcheetah-v2", "walker2d-v2"];

#[test]
fn every_listed_environment_builds_with_the_listed_sizes() {
    for spec in list_envs() {
        let (id, obs, act) = (&spec.id, spec.obs_dim, spec.act_dim);
        let mut env = make_env(id).unwrap_or_else(|e| panic!("{id}: {e:#}"));
        assert_eq!(env.spec(), &spec, "{id}");
        assert_eq!((env.obs_dim(), env.act_dim()), (obs, act), "{id}");
        let o = env.reset(0);
        assert_eq!(o.len(), obs, "{id}");
        assert!(o.iter().all(|x| x.is_finite()), "{id}");
        let s = env.step(&vec![0.0; act]).unwrap();
        assert_eq!(s.obs.len(), obs, "{id}");
        assert!(s.reward.is_finite(), "{id}");
    }
}

#[test]
fn d4rl_dataset_names_pick_the_simulator() {
    for (name, id) in [
        ("hopper-medium-v2", "hopper-v2"),
        ("halfcheetah-medium-replay-v2", "halfcheetah-v2"),
        ("walker2d-medium-expert-v2", "walker2d-v2"),
        ("antmaze-large-diverse-v2", "antmaze-large-v2"),
        ("antmaze-ultra-play-v0", "antmaze-ultra-v0"),
        ("pen-human-v1", "pen-v1"),
        ("relocate-cloned-v1", "relocate-v1"),
    ] {
        assert_eq!(make_env(name).unwrap().id(), id, "{name}");
    }
    let e = make_env("hopper").err().unwrap().to_string();
    assert!(e.contains("unknown environment"), "{e}");
}

#[test]
fn resets_are_reproducible_per_seed() {
    for id in LOCOMOTION {
        let mut a = make_env(id).unwrap();
        let mut b = make_env(id).unwrap();
        let (oa, ob) = (a.reset(7), b.reset(7));
        assert_eq!(oa, ob, "{id}");
        assert_ne!(oa, a.reset(8), "{id}: seeds 7 and 8 give the same start");
        // same seed and actions → same trajectory, bit for bit
        a.reset(3);
        b.reset(3);
        for t in 0..50 {
            let act: Vec<f32> = (0..a.act_dim())
                .map(|i| ((t * 7 + i * 3) % 11) as f32 / 5.0 - 1.0)
                .collect();
            let (sa, sb) = (a.step(&act).unwrap(), b.step(&act).unwrap());
            assert_eq!(sa.obs, sb.obs, "{id} step {t}");
            assert_eq!(sa.reward.to_bits(), sb.reward.to_bits());
            if sa.terminated {
                break;
            }
        }
    }
}

#[test]
fn bad_actions_never_reach_the_simulator() {
    for id in LOCOMOTION {
        let mut env = make_sim_env(id).unwrap().unwrap();
        env.reset(0);
        let before = env.sim().qpos().to_vec();
        let n = env.act_dim();
        let e = env.step(&vec![0.0; n + 1]).unwrap_err().to_string();
        assert!(e.contains("dimension"), "{e}");
        let mut nan = vec![0.0; n];
        nan[1] = f32::NAN;
        let e = env.step(&nan).unwrap_err().to_string();
        assert!(e.contains("not finite"), "{e}");
        assert_eq!(env.sim().qpos(), &before[..], "{id}: state changed");
        // actions outside the box are clipped, not passed on
        assert_eq!(env.action_to_ctrl(&vec![5.0; n]), vec![1.0; n]);
    }
}

#[test]
fn locomotion_rewards_and_termination_follow_d4rl() {
    // HalfCheetah never terminates: 1000 steps, then truncation.
    let mut env = make_env("halfcheetah-v2").unwrap();
    env.reset(0);
    let mut steps = 0;
    loop {
        let s = env.step(&[0.0; 6]).unwrap();
        steps += 1;
        assert!(!s.terminated);
        if s.truncated {
            break;
        }
    }
    assert_eq!(steps, 1000);
    assert!(env.step(&[0.0; 6]).is_err(), "step after the end");

    // Hopper with full torque falls over: terminated, not truncated, healthy bonus paid.
    let mut env = make_sim_env("hopper-v2").unwrap().unwrap();
    env.reset(0);
    let mut last = None;
    for _ in 0..1000 {
        let x0 = env.sim().qpos()[0];
        let s = env.step(&[1.0, -1.0, 1.0]).unwrap();
        let dt = env.sim().dt();
        let expected = (env.sim().qpos()[0] - x0) / dt + 1.0 - 1e-3 * 3.0;
        assert!(
            (s.reward as f64 - expected).abs() < 1e-4,
            "reward {}",
            s.reward
        );
        if s.terminated || s.truncated {
            last = Some(s);
            break;
        }
    }
    let last = last.unwrap();
    assert!(last.terminated && !last.truncated);
    let q = env.sim().qpos();
    assert!(
        q[1] <= 0.7 || q[2].abs() >= 0.2,
        "terminated while healthy: {q:?}"
    );
}

#[test]
fn missing_model_files_say_what_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pars"))
        .args([
            "collect",
            "--env",
            "hopper-v2",
            "--steps",
            "10",
            "--out",
            "x.hdf5",
        ])
        .env("PARS_MUJOCO_PACKAGES", tmp.path().join("nowhere"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("hopper.xml") && e.contains("not found"), "{e}");
    assert!(
        e.contains("scripts/setup.sh") && e.contains("PARS_MUJOCO_PACKAGES"),
        "{e}"
    );
    assert!(!tmp.path().join("x.hdf5").exists());
}

#[test]
fn hopper_collect_train_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = pars(
        &[
            "collect",
            "--env",
            "hopper-v2",
            "--steps",
            "3000",
            "--seed",
            "1",
            "--out",
            "hop.hdf5",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = pars(&["data", "info", "hop.hdf5"], d);
    let info = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(info.contains("obs_dim            11"), "{info}");
    let train = |out: &str| {
        pars(
            &[
                "train",
                "--dataset",
                "hop.hdf5",
                "--env",
                "hopper-random-v2",
                "--steps",
                "200",
                "--hidden",
                "32",
                "--n-critics",
                "2",
                "--eval-every",
                "100",
                "--eval-episodes",
                "2",
                "--log-every",
                "100",
                "--quiet",
                "--out",
                out,
            ],
            d,
        )
    };
    let o = train("run_a");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("using preset hopper-random-v2"),
        "{}",
        stderr(&o)
    );
    let metrics = std::fs::read_to_string(d.join("run_a/metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("run_a/final_eval.json")).unwrap())
            .unwrap();
    let ret = eval["mean_return"].as_f64().unwrap();
    let score = eval["mean_score"].as_f64().unwrap();
    // D4RL's Hopper reference returns: random −20.272305, expert 3234.3
    let expected = 100.0 * (ret + 20.272305) / (3234.3 + 20.272305);
    assert!(
        (score - expected).abs() < 1e-6,
        "score {score} vs {expected}"
    );
    assert!(ret.is_finite() && eval["mean_length"].as_f64().unwrap() >= 1.0);
    // deterministic: a second run gives the same numbers
    assert!(train("run_b").status.success());
    assert_eq!(
        metrics,
        std::fs::read_to_string(d.join("run_b/metrics.csv")).unwrap()
    );
    // the saved policy rolls out with noise into a dataset that loads again
    let o = pars(
        &[
            "collect",
            "--env",
            "hopper-v2",
            "--policy",
            "run_a",
            "--policy-noise",
            "0.1",
            "--steps",
            "500",
            "--out",
            "hop2.hdf5",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(pars(&["data", "info", "hop2.hdf5"], d).status.success());
}

#[test]
fn minari_dataset_ids_pick_the_simulator_or_explain_why_not() {
    // Minari's MuJoCo datasets were collected in Gymnasium's v5 environments
    assert_eq!(
        make_env("mujoco/hopper/medium-v0").unwrap().id(),
        "hopper-v5"
    );
    assert_eq!(
        make_env("mujoco/walker2d/expert-v0").unwrap().id(),
        "walker2d-v5"
    );
    assert_eq!(make_env("HalfCheetah-v5").unwrap().id(), "halfcheetah-v5");
    assert_eq!(
        make_env("D4RL/door/cloned-v2").unwrap().id(),
        "AdroitHandDoor-v1"
    );
    assert_eq!(
        make_env("D4RL/pointmaze/medium-dense-v2").unwrap().id(),
        "PointMaze_MediumDense-v3"
    );
    assert_eq!(
        make_env("D4RL/pointmaze/umaze-v2").unwrap().id(),
        "PointMaze_UMaze-v3"
    );
    assert_eq!(
        make_env("D4RL/antmaze/large-diverse-v1").unwrap().id(),
        "AntMaze_Large-v4"
    );
    let e = make_env("D4RL/antmaze/huge-v1").err().unwrap().to_string();
    assert!(e.contains("'huge'"), "{e}");
}

#[test]
fn v5_pays_the_healthy_bonus_only_while_healthy() {
    // The same falling Hopper in both versions: equal rewards, except on the terminating
    // step, where v2 (Gymnasium v4) still pays the bonus of 1 and v5 does not.
    let mut v2 = make_env("hopper-v2").unwrap();
    let mut v5 = make_env("Hopper-v5").unwrap();
    assert_eq!(v2.reset(3), v5.reset(3));
    for t in 0..1000 {
        let (a, b) = (
            v2.step(&[1.0, -1.0, 1.0]).unwrap(),
            v5.step(&[1.0, -1.0, 1.0]).unwrap(),
        );
        assert_eq!(a.obs, b.obs, "step {t}");
        assert_eq!(a.terminated, b.terminated, "step {t}");
        if a.terminated {
            assert!((a.reward - b.reward - 1.0).abs() < 1e-5, "step {t}");
            return;
        }
        assert_eq!(a.reward, b.reward, "step {t}");
    }
    panic!("the hopper never fell");
}

/// Collect a small Minari dataset of `env`, then give its metadata another `env_spec` id
/// and reference scores, as a dataset made in Gymnasium would have them.
/// How far an evaluation's score is from its return scored by the tests' reference
/// returns (0, 1000): 0 when the reference normalised it.
fn off_reference(ev: &serde_json::Value) -> f64 {
    let (ret, score) = (
        ev["mean_return"].as_f64().unwrap(),
        ev["mean_score"].as_f64().unwrap(),
    );
    (score - ret / 10.0).abs()
}

fn minari_dataset(
    d: &std::path::Path,
    env: &str,
    id: &str,
    spec: serde_json::Value,
    refs: (f64, f64),
) {
    let o = pars_minari(
        &[
            "collect",
            "--env",
            env,
            "--steps",
            "600",
            "--seed",
            "2",
            "--format",
            "minari",
            "--dataset-id",
            id,
            "--quiet",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = d.join("minari").join(id).join("data/metadata.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    m["env_spec"] = serde_json::json!(spec.to_string());
    m["ref_min_score"] = serde_json::json!(refs.0);
    m["ref_max_score"] = serde_json::json!(refs.1);
    std::fs::write(&meta, m.to_string()).unwrap();
}

#[test]
fn a_minari_dataset_brings_its_environment_and_reference_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = |id: &str| serde_json::json!({"id": id, "max_episode_steps": 1000});
    minari_dataset(
        d,
        "hopper-v5",
        "mujoco/hopper/medium-v0",
        spec("Hopper-v5"),
        (0.0, 1e3),
    );
    minari_dataset(
        d,
        "hopper-v2",
        "test/humanoid/x-v0",
        spec("Humanoid-v5"),
        (0.0, 1.0),
    );
    let train = |args: &[&str]| {
        let mut v = vec![
            "train",
            "--preset",
            "hopper-medium-v2",
            "--steps",
            "20",
            "--hidden",
            "16",
            "--eval-episodes",
            "2",
            "--quiet",
        ];
        v.extend_from_slice(args);
        pars_minari(&v, d)
    };
    // no --env: the dataset's Hopper-v5 and its reference scores
    let o = train(&["--dataset", "mujoco/hopper/medium-v0", "--out", "a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(d.join("a/config.toml")).unwrap()).unwrap();
    assert_eq!(config["env"].as_str(), Some("hopper-v5"));
    assert_eq!(
        config["score_reference"],
        toml::Value::try_from([0.0, 1000.0]).unwrap()
    );
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a/final_eval.json")).unwrap())
            .unwrap();
    assert!(off_reference(&eval) < 1e-9, "{eval}");
    // --env wins; another environment keeps D4RL's table
    let o = train(&[
        "--dataset",
        "mujoco/hopper/medium-v0",
        "--env",
        "hopper-v2",
        "--out",
        "b",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = std::fs::read_to_string(d.join("b/config.toml")).unwrap();
    assert!(config.contains("env = \"hopper-v2\"") && !config.contains("score_reference"));
    // an environment with no native counterpart: a clear error, nothing written
    let o = train(&["--dataset", "test/humanoid/x-v0", "--out", "c"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("'Humanoid-v5'") && e.contains("--env none"),
        "{e}"
    );
    assert!(!d.join("c").exists());
    // ... or --env none: training without evaluations
    let o = train(&[
        "--dataset",
        "test/humanoid/x-v0",
        "--env",
        "none",
        "--out",
        "c",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.join("c/final_eval.json").exists());

    // eval: a run directory's environment and reference by default, a dataset's on request
    let reference = toml::Value::try_from([0.0, 1000.0]).unwrap();
    let json = |o: std::process::Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let eval = |args: &[&str]| {
        let mut v = vec!["eval", "--episodes", "2", "--json"];
        v.extend_from_slice(args);
        json(pars_minari(&v, d))
    };
    let ev = eval(&["--policy", "a"]);
    assert!(off_reference(&ev) < 1e-9, "{ev}");
    let ev = eval(&["--policy", "b", "--dataset", "mujoco/hopper/medium-v0"]);
    assert!(off_reference(&ev) < 1e-9, "{ev}");
    let ev = eval(&["--policy", "a", "--env", "hopper-v2"]);
    assert!(off_reference(&ev) > 1e-3, "D4RL's table in hopper-v2: {ev}");
    let o = pars_minari(&["eval", "--policy", "c"], d);
    assert!(
        o.status.code() == Some(1) && stderr(&o).contains("pass --env"),
        "{}",
        stderr(&o)
    );
    // finetune keeps the offline run's environment and reference in its online.toml
    let online = |dir: &str| -> toml::Value {
        toml::from_str(&std::fs::read_to_string(d.join(dir).join("online.toml")).unwrap()).unwrap()
    };
    let common = [
        "--steps",
        "30",
        "--eval-every",
        "30",
        "--eval-episodes",
        "1",
        "--quiet",
    ];
    // run `args` plus the common flags; the online.toml it wrote to `out`
    let run_online = |mut v: Vec<&str>, out: &str| {
        v.extend_from_slice(&common);
        let o = pars_minari(&v, d);
        assert!(o.status.success(), "{}", stderr(&o));
        online(out)
    };
    let f = run_online(vec!["finetune", "--from", "a", "--out", "f"], "f");
    assert_eq!(f["env"].as_str(), Some("hopper-v5"));
    assert_eq!(f["score_reference"], reference);
    // online with a Minari dataset: its environment without --env, and its reference
    let v = vec![
        "online",
        "--algo",
        "rlpd",
        "--dataset",
        "mujoco/hopper/medium-v0",
        "--out",
        "o",
        "--hidden",
        "16",
        "--learning-starts",
        "10",
        "--random-steps",
        "10",
    ];
    let on = run_online(v, "o");
    assert_eq!(on["env"].as_str(), Some("hopper-v5"));
    assert_eq!(on["score_reference"], reference);
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("o/final_eval.json")).unwrap())
            .unwrap();
    assert!(off_reference(&ev) < 1e-9, "{ev}");

    // a sweep names the dataset by id and takes its environment
    std::fs::write(
        d.join("grid.toml"),
        "seeds = 1\n[settings]\nsteps = 20\neval_every = 20\neval_episodes = 1\n\
         set = [\"agent.hidden=16\"]\n\
         [[dataset]]\nlabel = \"hm\"\nid = \"mujoco/hopper/medium-v0\"\n\
         [[variant]]\nlabel = \"td3bc\"\npreset = \"td3bc\"\n",
    )
    .unwrap();
    let o = pars_minari(&["sweep", "grid.toml", "--out", "sw", "--quiet"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let cell: toml::Value =
        toml::from_str(&std::fs::read_to_string(d.join("sw/td3bc-hm-s0/config.toml")).unwrap())
            .unwrap();
    assert_eq!(cell["env"].as_str(), Some("hopper-v5"));
    assert_eq!(cell["score_reference"], reference);
}

#[test]
fn a_minari_point_maze_dataset_evaluates_in_its_maze_with_its_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Gymnasium-Robotics' spec as Minari stores it: a map with fixed goal and reset cells,
    // the goal ending the episode, a shorter time limit
    let map = serde_json::json!([
        [1, 1, 1, 1, 1],
        [1, "r", 0, 0, 1],
        [1, 1, 1, 0, 1],
        [1, "g", 0, 0, 1],
        [1, 1, 1, 1, 1]
    ]);
    let spec = serde_json::json!({"id": "PointMaze_UMaze-v3", "max_episode_steps": 150,
        "kwargs": {"maze_map": map, "reward_type": "sparse", "continuing_task": false,
                   "reset_target": false}});
    minari_dataset(
        d,
        "PointMaze_UMaze-v3",
        "test/pointmaze/umaze-v0",
        spec,
        (0.5, 2.5),
    );
    let o = pars_minari(
        &[
            "train",
            "--preset",
            "pointmaze",
            "--steps",
            "20",
            "--hidden",
            "16",
            "--eval-episodes",
            "3",
            "--quiet",
            "--dataset",
            "test/pointmaze/umaze-v0",
            "--out",
            "m",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(d.join("m/config.toml")).unwrap()).unwrap();
    let env: serde_json::Value = serde_json::from_str(config["env"].as_str().unwrap()).unwrap();
    assert_eq!(env["id"], "PointMaze_UMaze-v3");
    assert_eq!(env["kwargs"]["maze_map"], map);
    assert_eq!(env["kwargs"]["continuing_task"], false);
    assert_eq!(env["max_episode_steps"], 150);
    assert_eq!(
        config["score_reference"],
        toml::Value::try_from([0.5, 2.5]).unwrap()
    );
    // the environment the config names: goal in the bottom-left cell, start top-left
    let mut maze = make_env(config["env"].as_str().unwrap()).unwrap();
    assert_eq!(maze.max_episode_steps(), 150);
    for seed in 0..5 {
        let o = maze.reset(seed);
        assert!(
            (o[0] + 1.0).abs() <= 0.25 && (o[1] - 1.0).abs() <= 0.25,
            "{o:?}"
        );
    }
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("m/final_eval.json")).unwrap())
            .unwrap();
    let (ret, score) = (
        eval["mean_return"].as_f64().unwrap(),
        eval["mean_score"].as_f64().unwrap(),
    );
    assert!(
        (score - 100.0 * (ret - 0.5) / 2.0).abs() < 1e-9,
        "score {score}, return {ret}"
    );
}

#[test]
fn point_maze_v3_goals_rewards_and_termination() {
    // the registered sparse UMaze: a continuing task, so the goal never ends an episode
    let mut env = make_sim_env("PointMaze_UMaze-v3").unwrap().unwrap();
    assert_eq!(env.max_episode_steps(), 300);
    let o = env.reset(4);
    let goal = env.task_state();
    // put the ball on the goal: reward 1, not terminated
    env.set_episode_state(&[goal[0], goal[1]], &[0.0, 0.0], &goal)
        .unwrap();
    let s = env.step(&[0.0, 0.0]).unwrap();
    assert_eq!((s.reward, s.terminated), (1.0, false));
    assert_eq!(env.success(), Some(true));
    assert_eq!(o.len(), 4);
    // dense: exp(-distance) from the goal after the step
    let mut env = make_sim_env("PointMaze_UMazeDense-v3").unwrap().unwrap();
    env.reset(1);
    let g = env.task_state();
    let s = env.step(&[1.0, -1.0]).unwrap();
    let q = env.sim().qpos();
    let d = ((q[0] - g[0]).powi(2) + (q[1] - g[1]).powi(2)).sqrt();
    assert!((s.reward as f64 - (-d).exp()).abs() < 1e-6);
    // velocities are clipped to 5 before each step: full force for long stays bounded
    let mut env = make_env("PointMaze_Open-v3").unwrap();
    env.reset(0);
    for _ in 0..50 {
        let s = env.step(&[1.0, 0.0]).unwrap();
        assert!(s.obs[2].abs() <= 5.0 + 100.0 * 0.01 * 1.0, "{:?}", s.obs);
    }
}

#[test]
fn ant_maze_v4_starts_at_rest_away_from_the_goal_and_pays_at_it() {
    let mut env = make_sim_env("AntMaze_UMaze-v4").unwrap().unwrap();
    assert_eq!((env.spec().obs_dim, env.spec().act_dim), (29, 8));
    assert_eq!(env.max_episode_steps(), 700);
    for seed in 0..5 {
        let o = env.reset(seed);
        let goal = env.task_state();
        // position first; the torso at the model's height, every velocity zero
        let d = ((o[0] as f64 - goal[0]).powi(2) + (o[1] as f64 - goal[1]).powi(2)).sqrt();
        assert!(
            d > 0.5 * 4.0 - 2f64.sqrt() * 0.25 * 4.0,
            "seed {seed}: start {d} from the goal"
        );
        assert_eq!(o[2], 0.75);
        assert!(o[15..].iter().all(|&v| v == 0.0), "{o:?}");
    }
    // on the goal: reward 1 and, continuing, no termination
    let goal = env.task_state();
    let mut qpos = env.sim().qpos().to_vec();
    qpos[..2].copy_from_slice(&goal);
    let qvel = vec![0.0; qpos.len() - 1];
    env.set_episode_state(&qpos, &qvel, &goal).unwrap();
    let s = env.step(&[0.0; 8]).unwrap();
    assert_eq!((s.reward, s.terminated), (1.0, false));
    assert_eq!(env.success(), Some(true));
}
