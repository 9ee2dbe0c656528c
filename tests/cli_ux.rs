//! The command line as a user meets it: pipes, exit statuses, presets, completions,
//! quiet and verbose output.
mod common;
use common::{ok, pars, stderr};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pars"))
}

#[test]
fn a_closed_output_pipe_ends_quietly() {
    for args in [&["envs"][..], &["presets"], &["completions", "bash"]] {
        // a pipe whose reading end is already closed: the first write fails
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = bin()
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        // ended by SIGPIPE like other Unix tools (or finished before noticing)
        use std::os::unix::process::ExitStatusExt;
        assert!(
            o.status.signal() == Some(13) || o.status.success(),
            "{args:?}: {:?}",
            o.status
        );
    }
}

#[test]
fn exit_statuses_are_documented_ones() {
    let d = tempfile::tempdir().unwrap();
    // 0 success
    assert_eq!(pars(&["envs"], d.path()).status.code(), Some(0));
    // 2 usage: unknown command, unknown flag, missing value
    assert_eq!(pars(&["no-such-command"], d.path()).status.code(), Some(2));
    assert_eq!(
        pars(&["envs", "--no-such-flag"], d.path()).status.code(),
        Some(2)
    );
    assert_eq!(pars(&["train"], d.path()).status.code(), Some(2));
    // 1 error: a missing file, an unknown preset
    let o = pars(&["data", "info", "missing.hdf5"], d.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert_eq!(
        pars(&["presets", "no-such-preset"], d.path()).status.code(),
        Some(1)
    );
}

#[test]
fn a_printed_preset_is_a_config_file_that_train_accepts_unchanged() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    ok(&pars(
        &[
            "collect",
            "--env",
            "pointmaze-umaze-v0",
            "--steps",
            "3000",
            "--out",
            "u.hdf5",
        ],
        d,
    ));
    let toml = ok(&pars(&["presets", "antmaze-large-diverse-v2"], d));
    std::fs::write(d.join("p.toml"), &toml).unwrap();
    let small = [
        "--steps",
        "4",
        "--hidden",
        "8",
        "--batch-size",
        "8",
        "--quiet",
    ];
    let mut a = vec![
        "train",
        "--dataset",
        "u.hdf5",
        "--config",
        "p.toml",
        "--out",
        "from_file",
    ];
    a.extend(small);
    ok(&pars(&a, d));
    let mut b = vec![
        "train",
        "--dataset",
        "u.hdf5",
        "--preset",
        "antmaze-large-diverse-v2",
        "--out",
        "from_preset",
    ];
    b.extend(small);
    ok(&pars(&b, d));
    let read = |r: &str| std::fs::read_to_string(d.join(r).join("config.toml")).unwrap();
    assert_eq!(read("from_file"), read("from_preset"));
    assert!(read("from_file").contains("reward_scale = 10000.0"));
    // the table shows what differs between presets
    let table = ok(&pars(&["presets"], d));
    let head = table.lines().next().unwrap();
    for col in [
        "c_reward", "PA α", "β", "N", "S_crit", "γ", "depth", "width", "σ_pol", "S_act",
    ] {
        assert!(head.contains(col), "{head}");
    }
    let row = table.lines().find(|l| l.starts_with("td3bc ")).unwrap();
    assert!(row.contains(" no ") && row.contains("0.4/|A|"), "{row}");
    // the baselines: ReBRAC's critic BC weight and batch, SAC's temperature
    assert!(head.contains("β_Q") && head.contains("batch"), "{head}");
    let row = table
        .lines()
        .find(|l| l.starts_with("rebrac-hopper-medium-replay-v2 "))
        .unwrap();
    assert!(
        row.contains(" rebrac ") && row.contains(" 0.5 ") && row.contains(" 1024 "),
        "{row}"
    );
    // a ReBRAC dataset whose critic BC weight is 0 is still ReBRAC, with β_Q shown as 0
    let row = table
        .lines()
        .find(|l| l.starts_with("rebrac-walker2d-random-v2 "))
        .unwrap();
    assert!(row.contains(" rebrac ") && row.contains(" 0 "), "{row}");
    let row = table.lines().find(|l| l.starts_with("sac-n ")).unwrap();
    assert!(row.contains(" sac ") && row.contains(" 10 "), "{row}");
}

#[test]
fn completions_for_three_shells() {
    let d = tempfile::tempdir().unwrap();
    let bash = ok(&pars(&["completions", "bash"], d.path()));
    assert!(
        bash.contains("_pars()") && bash.contains("finetune"),
        "{bash}"
    );
    let zsh = ok(&pars(&["completions", "zsh"], d.path()));
    assert!(zsh.contains("#compdef pars"));
    let fish = ok(&pars(&["completions", "fish"], d.path()));
    assert!(fish.contains("complete -c pars"));
}

#[test]
fn quiet_drops_summaries_and_verbose_adds_log_lines() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    ok(&pars(
        &[
            "collect",
            "--env",
            "pointmaze-umaze-v0",
            "--steps",
            "2000",
            "--out",
            "u.hdf5",
        ],
        d,
    ));
    let run = |extra: &[&str], out: &str| {
        let mut a = vec![
            "train",
            "--dataset",
            "u.hdf5",
            "--steps",
            "4",
            "--hidden",
            "8",
            "--batch-size",
            "8",
            "--out",
            out,
        ];
        a.extend(extra);
        pars(&a, d)
    };
    let loud = ok(&run(&[], "a"));
    assert!(loud.contains("run directory: a"), "{loud}");
    let q = run(&["--quiet"], "b");
    assert_eq!(ok(&q), "");
    // a run that cannot evaluate says so, even when quiet; with --env it does not
    assert!(
        stderr(&q).contains("no evaluation environment (--env"),
        "{}",
        stderr(&q)
    );
    let e = run(&["--quiet", "--env", "pointmaze-umaze-v0"], "e");
    assert_eq!(ok(&e), "");
    assert_eq!(stderr(&e), "");
    // global flags work before the command too, and -v raises the log level
    let mut a = vec!["-v", "--quiet"];
    a.extend([
        "train",
        "--dataset",
        "u.hdf5",
        "--steps",
        "4",
        "--hidden",
        "8",
    ]);
    a.extend(["--batch-size", "8", "--out", "c"]);
    let o = pars(&a, d);
    assert_eq!(ok(&o), "");
    assert!(stderr(&o).contains("INFO"), "{}", stderr(&o));
}

#[test]
fn quiet_collect_prints_nothing_and_still_writes_the_dataset() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let run = |cmd: &str| pars(&cmd.split_whitespace().collect::<Vec<_>>(), d);
    // without --quiet the summary names the file
    let loud = ok(&run("collect --steps 500 --out loud.hdf5"));
    assert!(loud.starts_with("wrote loud.hdf5 ("), "{loud}");
    let quiet = |cmd: &str, file: &str| {
        assert_eq!(ok(&run(cmd)), "", "{cmd}");
        let len = std::fs::metadata(d.join(file))
            .unwrap_or_else(|_| panic!("{cmd}: wrote no {file}"))
            .len();
        assert!(len > 1000, "{cmd}: {file} has {len} bytes");
    };
    // the scripted maze controller (the global flag before the command) and uniform
    // random actions (after it)
    quiet("-q collect --steps 500 --out maze.hdf5", "maze.hdf5");
    quiet(
        "collect --quiet --style random --steps 300 --out r.hdf5",
        "r.hdf5",
    );
    // a saved policy's rollouts and an online run's replay buffer
    let tiny = "--hidden 8 --batch-size 8 -q";
    ok(&run(&format!(
        "train --dataset maze.hdf5 --steps 4 --out t {tiny}"
    )));
    quiet("collect -q --policy t --steps 200 --out p.hdf5", "p.hdf5");
    ok(&run(&format!(
        "online --env pointmaze-umaze-v0 --steps 200 --eval-every 200 --eval-episodes 1 \
         --out o {tiny}"
    )));
    quiet("-q collect --from-run o --out replay.hdf5", "replay.hdf5");
    // a D4RL-style recipe
    #[cfg(feature = "mujoco")]
    quiet(
        "collect -q --recipe hopper-random --steps 300 --out recipe.hdf5",
        "recipe.hdf5",
    );
}

#[test]
fn demo_compares_both_algorithms_over_seeds() {
    let d = tempfile::tempdir().unwrap();
    let out = ok(&pars(
        &["demo", "--fast", "--seeds", "2", "--out", "demo"],
        d.path(),
    ));
    assert!(
        out.contains("Results on hopper-random-v2 (2 seeds"),
        "{out}"
    );
    for algo in ["PARS", "TD3+BC"] {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("{algo} ")))
            .unwrap_or_else(|| panic!("no {algo} row in {out}"));
        assert!(row.contains(" ± "), "{row}");
        // the curve: one mean per evaluation (300 fast steps, evaluated every 60)
        let curve = out
            .lines()
            .rfind(|l| l.starts_with(&format!("{algo} ")))
            .unwrap();
        let means: Vec<f64> = curve[algo.len()..]
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(means.len(), 5, "{curve}");
    }
    assert!(
        out.contains("Mean score over seeds at each evaluation"),
        "{out}"
    );
    for run in ["PARS-s0", "PARS-s1", "TD3BC-s0", "TD3BC-s1"] {
        let status =
            std::fs::read_to_string(d.path().join("demo").join(run).join("status.json")).unwrap();
        assert!(status.contains("\"finished\""), "{run}: {status}");
    }
}

#[test]
fn bench_reports_every_part_in_json() {
    let o = bin()
        .args([
            "bench",
            "--configs",
            "C,D",
            "--steps",
            "2",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--online-steps",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let configs = v["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 2);
    for c in configs {
        // the peak and the steps are timed at different moments, so on a loaded machine
        // the fraction can pass 1; only a wild value points at a FLOP-count bug
        let f = c["fraction_of_peak"].as_f64().unwrap();
        assert!(
            c["steps_per_s"].as_f64().unwrap() > 0.0 && f > 0.0 && f < 5.0,
            "{c}"
        );
    }
    let online = v["online"].as_array().unwrap();
    let names: Vec<_> = online.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pars", "sac", "rlpd"]);
    for (o, utd) in online.iter().zip([20, 1, 20]) {
        assert_eq!(o["utd"], utd, "{o}");
        let share = o["loop_overhead"].as_f64().unwrap();
        assert!(o["env_steps_per_s"].as_f64().unwrap() > 0.0 && (0.0..1.0).contains(&share));
        // UTD critic updates per environment step, so env steps/s ≤ updates/s / UTD
        let (e, u) = (
            o["env_steps_per_s"].as_f64().unwrap(),
            o["updates_per_s"].as_f64().unwrap(),
        );
        assert!(e * utd as f64 <= u * 1.0001, "{o}");
    }
    let bad = bin()
        .args(["bench", "--configs", "F", "--steps", "1", "--repeats", "1"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("known: A, B, C, D, E"));
}
