//! `pars finetune`, `pars online` and `pars collect --policy/--from-run` end to end,
//! in fast mode (small networks, short runs): fine-tuning raises the success rate,
//! online learning from scratch solves the smallest maze and its replay buffer
//! trains offline PARS, and a killed fine-tune resumes to the same numbers.
mod common;
use common::{ok, pars, spawn_until_file};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// Bad input: exit code 1 and exactly one `error:` line on stderr.
fn fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("error:"), "{err}");
    assert!(err.contains(needle), "'{needle}' not in: {err}");
}

/// (env step, eval success) of the rows with an evaluation.
fn successes(run: &Path) -> Vec<(u64, f64)> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (!f[12].is_empty()).then(|| (f[0].parse().unwrap(), f[12].parse().unwrap()))
        })
        .collect()
}

fn collect_umaze(dir: &Path, rows: &str) -> PathBuf {
    let out = dir.join("umaze.hdf5");
    ok(&pars(
        &[
            "collect",
            "--env",
            "pointmaze-umaze-v0",
            "--steps",
            rows,
            "--out",
            "umaze.hdf5",
        ],
        dir,
    ));
    out
}

/// A deliberately short offline PARS run (small network): it does not reach the goal yet.
fn short_offline_run(dir: &Path, name: &str) {
    ok(&pars(
        &[
            "train",
            "--dataset",
            "umaze.hdf5",
            "--env",
            "pointmaze-umaze-v0",
            "--preset",
            "pointmaze",
            "--steps",
            "1000",
            "--hidden",
            "32",
            "--batch-size",
            "64",
            "--eval-every",
            "500",
            "--eval-episodes",
            "5",
            "--log-every",
            "250",
            "--quiet",
            "--out",
            name,
        ],
        dir,
    ));
}

/// Fast-mode fine-tune: 3000 environment steps, UTD 5.
fn finetune_args<'a>(from: &'a str, out: &'a str, steps: &'a str, ck: &'a str) -> Vec<&'a str> {
    vec![
        "finetune",
        "--from",
        from,
        "--out",
        out,
        "--steps",
        steps,
        "--utd",
        "5",
        "--eval-every",
        "250",
        "--log-every",
        "250",
        "--eval-episodes",
        "5",
        "--checkpoint-every",
        ck,
        "--quiet",
    ]
}

#[test]
fn finetune_raises_the_success_rate_of_a_weak_offline_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    collect_umaze(d, "20000");
    short_offline_run(d, "offline");
    let offline = successes(&d.join("offline"));
    assert_eq!(offline.last().unwrap().1, 0.0, "offline run: {offline:?}");
    assert!(d.join("offline/checkpoints/agent.safetensors").is_file());

    let out = ok(&pars(&finetune_args("offline", "ft", "3000", "1000"), d));
    assert!(out.is_empty(), "--quiet prints nothing: {out}");
    let ft = d.join("ft");
    for f in [
        "online.toml",
        "metrics.csv",
        "episodes.csv",
        "policy.safetensors",
        "final_eval.json",
        "learning_curves.png",
        "checkpoints/online_state.bin",
    ] {
        assert!(ft.join(f).is_file(), "missing {f}");
    }
    let s = successes(&ft);
    println!("fine-tune success by env step: {s:?}");
    // the first row scores the offline policy before any online step
    assert_eq!(s[0], (0, 0.0));
    assert_eq!(s.len(), 13);
    let last4: f64 = s[s.len() - 4..].iter().map(|x| x.1).sum::<f64>() / 4.0;
    assert!(last4 >= 0.5, "success over the last 1000 env steps: {s:?}");
    // the online α, β and S_actor of the preset, PA on
    let toml = std::fs::read_to_string(ft.join("online.toml")).unwrap();
    for want in [
        "utd = 5",
        "offline_fraction = 0.5",
        "actor_subset = 1",
        "beta = 0.0",
        "penalty = true",
    ] {
        assert!(toml.contains(want), "{want} not in online.toml:\n{toml}");
    }
    let episodes = std::fs::read_to_string(ft.join("episodes.csv")).unwrap();
    assert!(
        episodes.lines().skip(1).any(|l| l.ends_with(",1")),
        "no training episode reached the goal"
    );

    // PA can be switched off for the Fig. 10 ablation
    ok(&pars(
        &[
            "finetune",
            "--from",
            "offline",
            "--out",
            "ft-nopa",
            "--steps",
            "20",
            "--utd",
            "2",
            "--penalty",
            "false",
            "--eval-episodes",
            "1",
            "--quiet",
        ],
        d,
    ));
    let toml = std::fs::read_to_string(d.join("ft-nopa/online.toml")).unwrap();
    assert!(toml.contains("penalty = false"));

    // bad input: one line, non-zero exit, no run directory
    fails(
        &pars(&["finetune", "--from", "umaze.hdf5", "--out", "x"], d),
        "is not a finished pars training run",
    );
    fails(
        &pars(&["finetune", "--from", "nowhere", "--out", "x"], d),
        "nowhere",
    );
    fails(
        &pars(
            &[
                "finetune",
                "--from",
                "offline",
                "--env",
                "pointmaze-nope-v0",
                "--out",
                "x",
            ],
            d,
        ),
        "unknown environment",
    );
    fails(
        &pars(
            &[
                "finetune",
                "--from",
                "offline",
                "--offline-fraction",
                "1.5",
                "--out",
                "x",
            ],
            d,
        ),
        "offline_fraction",
    );
    fails(
        &pars(&["finetune", "--from", "offline", "--out", "ft"], d),
        "holds another run (finished)",
    );
    fails(
        &pars(&["finetune", "--resume", "ft"], d),
        "already finished",
    );
    fails(
        &pars(&["finetune", "--resume", "nothing"], d),
        "not an online run directory",
    );
    fails(
        &pars(&["finetune", "--resume", "ft", "--seed", "5"], d),
        "except --steps",
    );
    // a new length does not reopen a finished run
    fails(
        &pars(&["finetune", "--resume", "ft", "--steps", "5000"], d),
        "already finished",
    );
    assert!(!d.join("x").exists());
}

#[test]
fn online_from_scratch_solves_umaze_and_its_replay_trains_offline_pars() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&pars(
        &[
            "online",
            "--env",
            "pointmaze-umaze-v0",
            "--algo",
            "pars",
            "--hidden",
            "64",
            "--batch-size",
            "128",
            "--exploration-noise",
            "0.3",
            "--random-steps",
            "20000",
            "--learning-starts",
            "20000",
            "--steps",
            "36000",
            "--eval-every",
            "2000",
            "--log-every",
            "1000",
            "--eval-episodes",
            "5",
            "--checkpoint-every",
            "0",
            "--out",
            "scratch",
            "--quiet",
        ],
        d,
    ));
    let s = successes(&d.join("scratch"));
    println!("online success by env step: {s:?}");
    assert_eq!(s.last().unwrap().1, 1.0, "{s:?}");

    // the replay buffer as a D4RL "replay" dataset
    let out = ok(&pars(
        &["collect", "--from-run", "scratch", "--out", "replay.hdf5"],
        d,
    ));
    assert!(out.contains("rows"), "{out}");
    let info = ok(&pars(&["data", "info", "replay.hdf5"], d));
    println!("{info}");
    ok(&pars(
        &[
            "train",
            "--dataset",
            "replay.hdf5",
            "--env",
            "pointmaze-umaze-v0",
            "--preset",
            "pointmaze",
            "--steps",
            "20000",
            "--hidden",
            "32",
            "--batch-size",
            "64",
            "--eval-every",
            "2000",
            "--eval-episodes",
            "5",
            "--log-every",
            "1000",
            "--quiet",
            "--out",
            "from-replay",
        ],
        d,
    ));
    let s = successes(&d.join("from-replay"));
    println!("offline PARS on the replay data: {s:?}");
    assert_eq!(s.last().unwrap().1, 1.0, "{s:?}");

    // a "medium"-style dataset: the learned policy rolled out with noise
    let out = ok(&pars(
        &[
            "collect",
            "--policy",
            "scratch",
            "--policy-noise",
            "0.2",
            "--env",
            "pointmaze-umaze-v0",
            "--steps",
            "3000",
            "--seed",
            "1",
            "--out",
            "medium.hdf5",
        ],
        d,
    ));
    assert!(out.contains("3000 rows"), "{out}");
    assert!(
        !out.contains(" 0 reached"),
        "noisy learned policy never reached the goal: {out}"
    );

    fails(
        &pars(&["online", "--env", "cartpole-v9", "--out", "y"], d),
        "unknown environment",
    );
    fails(
        &pars(&["collect", "--from-run", "nowhere", "--out", "z.hdf5"], d),
        "is not a finished",
    );
    fails(
        &pars(
            &[
                "collect",
                "--policy",
                "nowhere.safetensors",
                "--out",
                "z.hdf5",
            ],
            d,
        ),
        "nowhere.safetensors",
    );
    assert!(!d.join("y").exists() && !d.join("z.hdf5").exists());
}

/// `pars collect --from-run DIR --steps N` is the buffer as it stood at step N: the same
/// file as a run of the same seed stopped at N (how a medium-replay recipe is checked
/// against the run its behaviour policy came from).
#[test]
fn the_first_rows_of_a_buffer_are_the_buffer_of_a_shorter_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: String| ok(&pars(&args.split_whitespace().collect::<Vec<_>>(), d));
    for (steps, out) in [("700", "long"), ("450", "short")] {
        run(format!(
            "online --env pointmaze-umaze-v0 --steps {steps} --random-steps 200 \
             --learning-starts 200 --eval-every 0 --hidden 8 --batch-size 8 --seed 4 \
             --out {out} -q"
        ));
    }
    run("collect --from-run short --out s.hdf5 -q".into());
    run("collect --from-run long --steps 450 --out l.hdf5 -q".into());
    assert_eq!(
        std::fs::read(d.join("s.hdf5")).unwrap(),
        std::fs::read(d.join("l.hdf5")).unwrap()
    );
    fails(
        &pars(
            &[
                "collect",
                "--from-run",
                "long",
                "--steps",
                "701",
                "--out",
                "x.hdf5",
            ],
            d,
        ),
        "701 asked for",
    );
    assert!(!d.join("x.hdf5").exists());
}

#[test]
fn killed_finetune_resumes_to_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    collect_umaze(d, "20000");
    short_offline_run(d, "offline");
    let steps = "3000";
    ok(&pars(&finetune_args("offline", "whole", steps, "250"), d));

    // the same fine-tune, killed (SIGKILL) right after its first checkpoint
    let mut child = spawn_until_file(
        &finetune_args("offline", "cut", steps, "250"),
        d,
        &d.join("cut/checkpoints/online_state.bin"),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "run ended before it was killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // the directory says the run did not finish; its process is gone
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("cut/status.json")).unwrap()).unwrap();
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["command"], "finetune", "{status}");
    assert!(status["last_checkpoint"].as_u64().unwrap() > 0, "{status}");

    // a new run into the same place is refused: the checkpoint is kept
    fails(
        &pars(&finetune_args("offline", "cut", steps, "250"), d),
        "--resume",
    );

    let out = ok(&pars(&["finetune", "--resume", "cut"], d));
    let at: u64 = out
        .split("at environment step ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume message in: {out}"));
    assert!(
        at > 0 && at < 3000 && at.is_multiple_of(250),
        "resumed at {at}"
    );
    fails(
        &pars(&["finetune", "--resume", "cut"], d),
        "already finished",
    );
    let resumed_from = std::fs::read_to_string(d.join("cut/metrics.csv")).unwrap();
    for f in [
        "metrics.csv",
        "episodes.csv",
        "policy.safetensors",
        "final_eval.json",
    ] {
        let a = std::fs::read(d.join("whole").join(f)).unwrap();
        let b = std::fs::read(d.join("cut").join(f)).unwrap();
        assert!(a == b, "{f} differs after resume");
    }
    assert!(resumed_from.lines().count() > 10);
}

/// Critic updates per second: the UTD-20 fine-tuning loop against the offline loop,
/// same agent shape (preset pointmaze: width 128, N = 4, batch 256), alternating
/// three times to average out load. `cargo test --release --test online -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_utd_loop_against_offline_updates() {
    use pars::algos::{Agent, Learner};
    use pars::config::presets::preset;
    use pars::config::OnlineConfig;
    use pars::data::{Batch, Transitions};
    use pars::envs::maze::{Layout, PointMaze};
    use pars::recipes::scripted::{collect, CollectConfig, Style};
    use pars::training::OnlineRun;
    use rand::SeedableRng;

    let raw = collect(&CollectConfig::new(
        Layout::Umaze,
        Style::Diverse,
        50_000,
        0,
    ))
    .unwrap();
    let data = Transitions::from_raw(&raw).unwrap();
    let cfg = preset("pointmaze").unwrap().agent;
    let n = 2000u64;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let mut agent = Agent::new(cfg.clone(), 4, 2, 0.0, n, 0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut batch = Batch::new(cfg.batch_size, 4, 2);
        let t = Instant::now();
        for _ in 0..n {
            data.sample_into(&mut rng, &mut batch);
            agent.update(&batch);
        }
        off.push(n as f64 / t.elapsed().as_secs_f64());

        let s = preset("pointmaze").unwrap().online.unwrap();
        let ocfg = OnlineConfig {
            agent: pars::config::AgentConfig {
                alpha: s.alpha,
                beta: Some(s.beta),
                actor_subset: Some(s.actor_subset),
                ..cfg.clone()
            },
            env: "pointmaze-umaze-v0".into(),
            steps: n / 20,
            eval_every: 0,
            checkpoint_every: 0,
            ..OnlineConfig::default()
        };
        let mut agent = Agent::new(cfg.clone(), 4, 2, 0.0, n, 0);
        agent.go_online(&ocfg.agent).unwrap();
        let mut run = OnlineRun::new(ocfg, Box::new(agent), Some(&data)).unwrap();
        let mut env = PointMaze::new(Layout::Umaze);
        let res = run
            .run(&mut env, None, None, u64::MAX, false)
            .unwrap()
            .finished()
            .unwrap();
        on.push(res.updates_per_s);
    }
    println!("offline updates/s {off:.0?}; UTD-20 loop critic updates/s {on:.0?}");
}
