//! Offline runs that survive kills, signals and divergence: a run stopped at any point
//! and resumed ends with the same metrics, final evaluation and policy, byte for byte,
//! as the run left alone.
mod common;
use common::{ok, pars, spawn_until_file, stderr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const OUTPUTS: [&str; 3] = ["metrics.csv", "final_eval.json", "policy.safetensors"];

fn train_args(out: &str) -> Vec<String> {
    [
        "train",
        "--dataset",
        "u.hdf5",
        "--env",
        "pointmaze-umaze-v0",
        "--preset",
        "pointmaze",
        "--steps",
        "1200",
        "--hidden",
        "16",
        "--batch-size",
        "32",
        "--eval-every",
        "300",
        "--eval-episodes",
        "2",
        "--log-every",
        "50",
        "--checkpoint-every",
        "100",
        "--quiet",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_with_env(args: &[String], d: &Path, key: &str, value: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(args)
        .current_dir(d)
        .env(key, value)
        .output()
        .unwrap()
}

fn status(d: &Path, run: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(d.join(run).join("status.json")).unwrap())
        .unwrap()
}

fn assert_same_outputs(d: &Path, a: &str, b: &str) {
    for f in OUTPUTS {
        let x = std::fs::read(d.join(a).join(f)).unwrap();
        let y = std::fs::read(d.join(b).join(f)).unwrap();
        assert!(x == y, "{f} of {b} differs from {a}");
    }
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&pars(
        &[
            "collect",
            "--env",
            "pointmaze-umaze-v0",
            "--steps",
            "8000",
            "--out",
            "u.hdf5",
        ],
        dir.path(),
    ));
    let args = train_args("whole");
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    ok(&pars(&a, dir.path()));
    assert_eq!(status(dir.path(), "whole")["state"], "finished");
    dir
}

#[test]
fn killed_at_any_point_and_resumed_gives_identical_results() {
    let dir = setup();
    let d = dir.path();
    // killed while writing its 3rd checkpoint (a half-written temporary file stays),
    // inside its 2nd evaluation, and inside its last evaluation (after the last checkpoint)
    for (name, point) in [
        ("ckpt", "checkpoint:3"),
        ("eval", "eval:2"),
        ("last", "eval:4"),
    ] {
        let o = run_with_env(&train_args(name), d, "PARS_TEST_ABORT", point);
        assert!(!o.status.success(), "{point}: the run was not stopped");
        let st = status(d, name);
        assert_eq!(st["state"], "running", "{point}: {st}");
        let resumed = ok(&pars(&["train", "--resume", name], d));
        assert!(resumed.contains("resuming"), "{resumed}");
        assert_eq!(status(d, name)["state"], "finished");
        assert_same_outputs(d, "whole", name);
        let leftovers: Vec<_> = std::fs::read_dir(d.join(name).join("checkpoints"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: temporary files left");
    }
    // a finished run is not resumed again; a new run into it is refused
    let o = pars(&["train", "--resume", "ckpt"], d);
    assert!(stderr(&o).contains("already finished"), "{}", stderr(&o));
    let args = train_args("ckpt");
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let o = pars(&a, d);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--resume") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    let mut forced = a.clone();
    forced.push("--force");
    ok(&pars(&forced, d));
    assert_same_outputs(d, "whole", "ckpt");
}

#[test]
fn sigkill_at_a_random_moment_and_sigterm_resume_exactly() {
    let dir = setup();
    let d = dir.path();
    for (name, signal) in [("killed", libc::SIGKILL), ("termed", libc::SIGTERM)] {
        let child = spawn_until_file(
            &train_args(name),
            d,
            &d.join(name).join("checkpoints/train_state.bin"),
        );
        std::thread::sleep(Duration::from_millis(30));
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let o = child.wait_with_output().unwrap();
        if signal == libc::SIGTERM {
            // finished its step, wrote a checkpoint, said how to resume, exit 130
            assert_eq!(
                o.status.code(),
                Some(130),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("pars train --resume termed"), "{err}");
            let st = status(d, name);
            assert_eq!(st["state"], "interrupted", "{st}");
            assert_eq!(st["step"], st["last_checkpoint"], "{st}");
        }
        ok(&pars(&["train", "--resume", name], d));
        assert_same_outputs(d, "whole", name);
    }
}

#[test]
fn divergence_keeps_the_last_good_checkpoint_and_resumes_with_other_settings() {
    let dir = setup();
    let d = dir.path();
    // stop after the 2nd checkpoint, then diverge on resume with an absurd learning rate
    let o = run_with_env(&train_args("div"), d, "PARS_TEST_ABORT", "checkpoint:3");
    assert!(!o.status.success());
    let o = pars(
        &["train", "--resume", "div", "--set", "agent.critic_lr=1e30"],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("training diverged at step 20"), "{err}"); // soon after 200
    assert!(err.contains("last good checkpoint is at step 200"), "{err}");
    let st = status(d, "div");
    assert_eq!(st["state"], "failed", "{st}");
    assert!(st["error"].as_str().unwrap().contains("diverged"), "{st}");
    // settings that change the networks cannot change on resume
    let o = pars(&["train", "--resume", "div", "--set", "agent.hidden=64"], d);
    assert!(
        stderr(&o).contains("cannot change agent.hidden"),
        "{}",
        stderr(&o)
    );
    // back to the original rate: the run ends as if nothing happened
    ok(&pars(
        &[
            "train",
            "--resume",
            "div",
            "--set",
            "agent.critic_lr=0.0003",
        ],
        d,
    ));
    assert_same_outputs(d, "whole", "div");
}

#[test]
fn bad_resumes_are_one_line_errors_that_touch_nothing() {
    let dir = setup();
    let d = dir.path();
    let o = run_with_env(&train_args("cut"), d, "PARS_TEST_ABORT", "checkpoint:3");
    assert!(!o.status.success());
    let snapshot = |run: &str| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = walk(&d.join(run));
        v.sort();
        v
    };
    let before = snapshot("cut");
    let fails = |args: &[&str], msg: &str| {
        let o = pars(args, d);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    std::fs::create_dir_all(d.join("empty")).unwrap();
    fails(
        &["train", "--resume", "empty"],
        "not an offline run directory",
    );
    fails(
        &["train", "--resume", "nowhere"],
        "not an offline run directory",
    );
    fails(
        &["train", "--resume", "cut", "--set", "agent.n_critics=2"],
        "cannot change agent.n_critics",
    );
    fails(
        &["train", "--resume", "cut", "--set", "seed=5"],
        "cannot change seed",
    );
    // the dataset changed since the run started
    std::fs::rename(d.join("u.hdf5"), d.join("u.orig")).unwrap();
    ok(&pars(
        &[
            "collect",
            "--env",
            "pointmaze-umaze-v0",
            "--steps",
            "8000",
            "--seed",
            "9",
            "--out",
            "u.hdf5",
        ],
        d,
    ));
    fails(&["train", "--resume", "cut"], "dataset differs");
    std::fs::rename(d.join("u.orig"), d.join("u.hdf5")).unwrap();
    assert_eq!(
        before,
        snapshot("cut"),
        "a refused resume changed the run's files"
    );
    // a truncated checkpoint
    let state = d.join("cut/checkpoints/train_state.bin");
    let bytes = std::fs::read(&state).unwrap();
    std::fs::write(&state, &bytes[..bytes.len() / 2]).unwrap();
    let before = snapshot("cut");
    fails(&["train", "--resume", "cut"], "cannot resume cut");
    assert_eq!(before, snapshot("cut"));
    std::fs::write(&state, &bytes).unwrap();
    ok(&pars(&["train", "--resume", "cut"], d));
    assert_same_outputs(d, "whole", "cut");
}

fn walk(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            v.extend(walk(&path));
        } else {
            v.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    v
}

/// An online run's outputs in `b` are byte-identical to those in `a`.
fn assert_same_online_outputs(d: &Path, a: &str, b: &str) {
    for f in [
        "metrics.csv",
        "episodes.csv",
        "final_eval.json",
        "policy.safetensors",
    ] {
        let x = std::fs::read(d.join(a).join(f)).unwrap();
        let y = std::fs::read(d.join(b).join(f)).unwrap();
        assert!(x == y, "{f} differs between {a} and {b}");
    }
}

#[test]
fn online_runs_stop_on_sigterm_and_resume_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = |out: &str, steps: &str| -> Vec<String> {
        [
            "online",
            "--env",
            "pointmaze-umaze-v0",
            "--algo",
            "pars",
            "--hidden",
            "16",
            "--batch-size",
            "32",
            "--steps",
            steps,
            "--random-steps",
            "200",
            "--learning-starts",
            "200",
            "--eval-every",
            "500",
            "--eval-episodes",
            "2",
            "--log-every",
            "100",
            "--checkpoint-every",
            "100",
            "--quiet",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args("whole", "1500");
    ok(&pars(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>(), d));
    assert_eq!(status(d, "whole")["state"], "finished");
    assert_eq!(status(d, "whole")["command"], "online");
    let child = spawn_until_file(
        &args("termed", "1500"),
        d,
        &d.join("termed/checkpoints/online_state.bin"),
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("pars online --resume termed"), "{err}");
    let st = status(d, "termed");
    assert_eq!(st["state"], "interrupted", "{st}");
    ok(&pars(&["online", "--resume", "termed"], d));
    assert_eq!(status(d, "termed")["state"], "finished");
    assert_same_online_outputs(d, "whole", "termed");
    // a run started for 900 steps and extended on resume ends as the 1500-step run
    let child = spawn_until_file(
        &args("short", "900"),
        d,
        &d.join("short/checkpoints/online_state.bin"),
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(130));
    let at = status(d, "short")["step"].as_u64().unwrap();
    let e = stderr(&pars(
        &["online", "--resume", "short", "--steps", &at.to_string()],
        d,
    ));
    assert!(e.contains("already at environment step"), "{e}");
    let e = stderr(&pars(&["online", "--resume", "short", "--seed", "3"], d));
    assert!(e.contains("except --steps"), "{e}");
    // as if a kill had come between an extension's online.toml and its next checkpoint
    let toml_path = d.join("short/online.toml");
    let text = std::fs::read_to_string(&toml_path).unwrap();
    assert!(text.contains("steps = 900\n"), "{text}");
    std::fs::write(&toml_path, text.replace("steps = 900\n", "steps = 1200\n")).unwrap();
    ok(&pars(
        &["online", "--resume", "short", "--steps", "1500"],
        d,
    ));
    let st = status(d, "short");
    assert_eq!(
        (&st["state"], &st["total_steps"]),
        (&"finished".into(), &1500.into())
    );
    assert_same_online_outputs(d, "whole", "short");
}
