//! `pars sweep` and `pars report` on real files: grid validation, a local sweep that
//! finishes, skips finished cells and reruns deleted ones, failures that do not stop
//! the others, a clean stop on SIGTERM, report numbers and errors, the SLURM
//! backend's failures, and (where SLURM runs: `scripts/slurm-local.sh start`) a real
//! submission through `sbatch`.
mod common;
use common::{ok, pars, stderr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A small maze dataset, as `pars collect --env pointmaze-umaze-v0 --steps 3000` writes.
fn dataset(dir: &Path) -> PathBuf {
    let cfg = pars::recipes::scripted::CollectConfig::new(
        pars::envs::maze::Layout::Umaze,
        pars::recipes::scripted::Style::Diverse,
        3000,
        0,
    );
    let ds = pars::recipes::scripted::collect(&cfg).unwrap();
    let p = dir.join("d.hdf5");
    pars::data::write_d4rl(&p, &ds).unwrap();
    p
}

/// A grid of `variants` (label, preset, extra overrides) × seeds 0, 1 on `d.hdf5`.
fn grid(dir: &Path, steps: u64, variants: &[(&str, &str, &str)]) -> PathBuf {
    let mut s = format!(
        "seeds = [0, 1]\n[settings]\nsteps = {steps}\neval_every = {}\neval_episodes = 2\nlog_every = 10\nset = [\"agent.hidden=16\"]\n\
         [[dataset]]\nlabel = \"umaze\"\npath = \"d.hdf5\"\nenv = \"pointmaze-umaze-v0\"\n",
        steps / 3
    );
    for (label, preset, set) in variants {
        s.push_str(&format!(
            "[[variant]]\nlabel = \"{label}\"\npreset = \"{preset}\"\nset = [{set}]\n"
        ));
    }
    let p = dir.join("grid.toml");
    std::fs::write(&p, s).unwrap();
    p
}

const TWO: [(&str, &str, &str); 2] = [("pars", "pointmaze", ""), ("td3bc", "pointmaze-td3bc", "")];

const CELLS: [&str; 4] = [
    "pars-umaze-s0",
    "pars-umaze-s1",
    "td3bc-umaze-s0",
    "td3bc-umaze-s1",
];

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

/// Final evaluation score of a run, from its metrics.csv.
fn final_score(run: &Path) -> f64 {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let last = text
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(10).unwrap_or("").is_empty())
        .last()
        .unwrap();
    last.split(',').nth(10).unwrap().parse().unwrap()
}

fn report_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn bad_grids_are_rejected_before_any_run_naming_the_cell() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    dataset(d);
    type Variants<'a> = &'a [(&'a str, &'a str, &'a str)];
    let cases: [(Variants, &str, &str); 3] = [
        (
            &[("pars", "pointmazz", "")],
            "cell pars-umaze-s0",
            "unknown preset 'pointmazz'",
        ),
        (
            &[
                ("pars", "pointmaze", ""),
                ("wide", "pointmaze", "\"agent.hiden=32\""),
            ],
            "cell wide-umaze-s0",
            "hiden",
        ),
        (
            &[("pars", "pointmaze", "\"seed=4\"")],
            "cell pars-umaze-s0",
            "seeds",
        ),
    ];
    for (variants, cell, needle) in cases {
        let g = grid(d, 30, variants);
        let o = pars(&["sweep", g.to_str().unwrap(), "--out", "sw"], d);
        let e = stderr(&o);
        assert!(
            !o.status.success() && e.contains(cell) && e.contains(needle),
            "{e}"
        );
        assert!(
            !d.join("sw").exists(),
            "nothing may be written for a bad grid"
        );
    }
    // unknown environment and a missing dataset file
    let g = grid(d, 30, &TWO);
    let text = std::fs::read_to_string(&g).unwrap();
    std::fs::write(
        &g,
        text.replace("pointmaze-umaze-v0", "pointmaze-nowhere-v0"),
    )
    .unwrap();
    let e = stderr(&pars(&["sweep", "grid.toml", "--out", "sw"], d));
    assert!(
        e.contains("cell pars-umaze-s0") && e.contains("unknown environment"),
        "{e}"
    );
    std::fs::write(&g, text.replace("d.hdf5", "missing.hdf5")).unwrap();
    let e = stderr(&pars(&["sweep", "grid.toml", "--out", "sw"], d));
    assert!(
        e.contains("cell pars-umaze-s0")
            && e.contains("missing.hdf5")
            && e.contains("does not exist"),
        "{e}"
    );
    assert!(!d.join("sw").exists());
}

#[test]
fn local_sweep_finishes_skips_finished_cells_reruns_deleted_ones_and_reports() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    dataset(d);
    let g = grid(d, 60, &TWO);
    let g = g.to_str().unwrap();
    let out = ok(&pars(&["sweep", g, "--out", "sw", "--jobs", "2"], d));
    assert!(
        out.contains("4 to run") && out.contains("4 finished, 0 failed"),
        "{out}"
    );
    let sw = d.join("sw");
    for c in CELLS {
        let run = sw.join(c);
        assert!(
            run.join("policy.safetensors").is_file(),
            "{c} did not finish"
        );
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("cell.json")).unwrap()).unwrap();
        assert_eq!(info["variant"], c.split('-').next().unwrap());
        assert_eq!(info["dataset"], "umaze");
    }
    let cfg = std::fs::read_to_string(sw.join("td3bc-umaze-s1/config.toml")).unwrap();
    assert!(
        cfg.contains("seed = 1") && cfg.contains("algo = \"td3bc\"") && cfg.contains("hidden = 16"),
        "{cfg}"
    );
    let before: Vec<_> = CELLS
        .iter()
        .map(|c| mtime(&sw.join(c).join("metrics.csv")))
        .collect();

    // the same command again runs nothing
    let out = ok(&pars(&["sweep", g, "--out", "sw"], d));
    assert!(
        out.contains("4 already done") && out.contains("0 to run"),
        "{out}"
    );
    let after: Vec<_> = CELLS
        .iter()
        .map(|c| mtime(&sw.join(c).join("metrics.csv")))
        .collect();
    assert_eq!(before, after, "finished cells must not be rerun");

    // a deleted cell is run again, alone
    std::fs::remove_dir_all(sw.join("pars-umaze-s1")).unwrap();
    let st = ok(&pars(&["sweep", "status", "sw"], d));
    assert!(st.contains("3 done") && st.contains("1 pending"), "{st}");
    let out = ok(&pars(&["sweep", g, "--out", "sw"], d));
    assert!(
        out.contains("3 already done") && out.contains("1 to run") && out.contains("1 finished"),
        "{out}"
    );
    assert!(sw.join("pars-umaze-s1/cell.json").is_file());
    assert_eq!(mtime(&sw.join("pars-umaze-s0/metrics.csv")), before[0]);
    let st = ok(&pars(&["sweep", "status", "sw"], d));
    assert!(
        st.contains("4 done, 0 running") && st.contains("0 failed"),
        "{st}"
    );

    // a changed grid may not silently reuse finished runs of another configuration
    let text = std::fs::read_to_string(d.join("grid.toml")).unwrap();
    std::fs::write(
        d.join("grid2.toml"),
        text.replace("steps = 60", "steps = 90"),
    )
    .unwrap();
    let e = stderr(&pars(&["sweep", "grid2.toml", "--out", "sw"], d));
    assert!(
        e.contains("cell pars-umaze-s0") && e.contains("steps 60 → 90"),
        "{e}"
    );

    // the report: mean ± population std over seeds of each run's final evaluation
    let out = ok(&pars(&["report", "sw"], d));
    assert!(out.contains("| dataset | steps | pars | td3bc |"), "{out}");
    let rep = report_json(&sw.join("report"));
    for (i, v) in ["pars", "td3bc"].iter().enumerate() {
        let grp = &rep["groups"][i];
        assert_eq!(grp["variant"], *v);
        assert_eq!(grp["n_seeds"], 2);
        assert_eq!(grp["steps"], 60);
        let s: Vec<f64> = (0..2)
            .map(|s| final_score(&sw.join(format!("{v}-umaze-s{s}"))))
            .collect();
        let mean = (s[0] + s[1]) / 2.0;
        let std = ((s[0] - mean).powi(2) / 2.0 + (s[1] - mean).powi(2) / 2.0).sqrt();
        assert!((grp["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
        assert!((grp["std"].as_f64().unwrap() - std).abs() < 1e-9);
    }
    assert!(sw.join("report/curves-umaze.png").is_file());
    assert!(std::fs::read_to_string(sw.join("report/report.csv"))
        .unwrap()
        .contains("PointMaze,umaze,pars,"));
}

#[test]
fn a_failed_cell_does_not_stop_the_others_and_is_listed_with_its_error() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    dataset(d);
    // a reward scale that passes validation but makes the TD loss overflow
    let g = grid(
        d,
        60,
        &[
            ("pars", "pointmaze", ""),
            ("bad", "pointmaze", "\"agent.reward_scale=1e38\""),
        ],
    );
    let o = pars(&["sweep", g.to_str().unwrap(), "--out", "sw"], d);
    let e = stderr(&o);
    assert!(
        !o.status.success(),
        "a sweep with failed cells exits non-zero"
    );
    assert!(
        e.lines()
            .any(|l| l.starts_with("failed bad-umaze-s0: ") && l.contains("training diverged")),
        "{e}"
    );
    assert!(e.contains("2 of 4 cells failed"), "{e}");
    let sw = d.join("sw");
    assert!(sw.join("pars-umaze-s0/policy.safetensors").is_file());
    assert!(sw.join("pars-umaze-s1/policy.safetensors").is_file());
    let st = ok(&pars(&["sweep", "status", "sw"], d));
    assert!(st.contains("2 done") && st.contains("2 failed"), "{st}");
    assert!(
        st.lines().any(|l| l.starts_with("bad-umaze-s1")
            && l.contains("failed")
            && l.contains("diverged")),
        "{st}"
    );
    // the report covers the finished runs
    let out = ok(&pars(&["report", "sw", "--out", "rep"], d));
    assert!(out.contains("| pars |") && !out.contains("bad"), "{out}");
}

/// The steps reached by the cells `pars sweep status` shows as running.
fn running_steps(st: &str) -> Vec<u64> {
    st.lines()
        .skip(2)
        .filter(|l| l.split_whitespace().nth(1) == Some("running"))
        .filter_map(|l| l.split_whitespace().nth(2)?.split('/').next()?.parse().ok())
        .collect()
}

#[test]
fn sigterm_stops_a_local_sweep_cleanly_and_the_next_run_resumes_it() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    dataset(d);
    let g = grid(d, 6000, &TWO);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(["sweep", g.to_str().unwrap(), "--out", "sw", "--jobs", "2"])
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait until both running cells are training
    let sw = d.join("sw");
    let start = Instant::now();
    loop {
        let st = String::from_utf8_lossy(&pars(&["sweep", "status", "sw"], d).stdout).to_string();
        let steps = running_steps(&st);
        if steps.len() == 2 && steps.iter().all(|&s| s > 0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "cells did not start: {st}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "an interrupted sweep exits with 130"
    );
    let st = ok(&pars(&["sweep", "status", "sw"], d));
    assert!(
        st.contains("0 running") && st.contains("2 pending") && st.contains("2 interrupted"),
        "{st}"
    );
    assert!(st.contains("checkpoint at step"), "{st}");
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sw.join("state/pars-umaze-s0.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["state"], "interrupted");
    // the same command continues the interrupted cells from their checkpoints
    let out = ok(&pars(&["sweep", g.to_str().unwrap(), "--out", "sw"], d));
    assert!(
        out.contains("4 to run") && out.contains("4 finished"),
        "{out}"
    );
    for c in ["pars-umaze-s0", "pars-umaze-s1"] {
        let rec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(sw.join(format!("state/{c}.json"))).unwrap(),
        )
        .unwrap();
        assert!(
            rec["resumed_from"].as_u64().unwrap() > 0,
            "{c} was not resumed: {rec}"
        );
        assert_eq!(rec["attempts"], 2);
        // one metrics row per logging interval, none lost or repeated across the stop
        let m = std::fs::read_to_string(sw.join(c).join("metrics.csv")).unwrap();
        let steps: Vec<u64> = m
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            steps,
            (1..=600).map(|i| i * 10).collect::<Vec<u64>>(),
            "{c}"
        );
    }
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sw.join("state/td3bc-umaze-s0.json")).unwrap(),
    )
    .unwrap();
    assert!(
        rec["resumed_from"].is_null() && rec["attempts"] == 1,
        "{rec}"
    );
}

/// Write a fake run directory with chosen evaluation scores (from a real run's files).
fn fake_run(src: &Path, dst: &Path, seed: u64, steps: u64, scores: &[f64]) {
    std::fs::create_dir_all(dst).unwrap();
    for f in ["policy.safetensors", "dataset.json"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(src.join("config.toml")).unwrap();
    let cfg: String = cfg
        .lines()
        .map(|l| {
            if l.starts_with("seed = ") {
                format!("seed = {seed}")
            } else if l.starts_with("steps = ") {
                format!("steps = {steps}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dst.join("config.toml"), cfg).unwrap();
    let mut m = String::from(pars::run::METRICS_HEADER);
    m.push('\n');
    let n = scores.len() as u64;
    for (i, s) in scores.iter().enumerate() {
        let step = (i as u64 + 1) * steps / n;
        m.push_str(&format!("{step},1,0,1,0,,,,,0.5,{s},0,\n"));
    }
    std::fs::write(dst.join("metrics.csv"), m).unwrap();
}

#[test]
fn report_numbers_match_hand_computed_ones_and_bad_inputs_are_named() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = dataset(d);
    // one real single run (not from a sweep) to copy the files from
    let o = pars(
        &[
            "train",
            "--dataset",
            data.to_str().unwrap(),
            "--env",
            "pointmaze-umaze-v0",
            "--preset",
            "pointmaze",
            "--steps",
            "20",
            "--eval-every",
            "10",
            "--eval-episodes",
            "1",
            "--hidden",
            "16",
            "--quiet",
            "--out",
            "single",
        ],
        d,
    );
    ok(&o);
    let src = d.join("single");
    fake_run(&src, &d.join("runs/a0"), 0, 100, &[10.0, 30.0, 50.0]);
    fake_run(&src, &d.join("runs/a1"), 1, 100, &[20.0, 70.0, 60.0]);
    fake_run(&src, &d.join("runs/a2"), 2, 100, &[0.0, 90.0, 100.0]);
    for (metric, per_run) in [
        ("final", [50.0, 60.0, 100.0]),
        ("best", [50.0, 70.0, 100.0]),
        ("last-2", [40.0, 65.0, 95.0]),
    ] {
        let out = ok(&pars(
            &["report", "runs", "--metric", metric, "--out", "rep"],
            d,
        ));
        let mean = per_run.iter().sum::<f64>() / 3.0;
        let std = (per_run.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        let rep = report_json(&d.join("rep"));
        let g = &rep["groups"][0];
        // a single run is labelled by its dataset file and its algo
        assert_eq!(
            (g["dataset"].as_str(), g["variant"].as_str()),
            (Some("d"), Some("pointmaze"))
        );
        assert!(
            (g["mean"].as_f64().unwrap() - mean).abs() < 1e-9,
            "{metric}: {g}"
        );
        assert!(
            (g["std"].as_f64().unwrap() - std).abs() < 1e-9,
            "{metric}: {g}"
        );
        assert!(
            out.contains(&format!("| d | 100 | {mean:.1} ± {std:.1} (3) |")),
            "{out}"
        );
    }
    // a real run and a sweep-free directory mixed in: the real one has 20 steps
    let e = stderr(&pars(&["report", "runs", "single", "--out", "rep"], d));
    assert!(
        e.contains("the runs differ in") && e.contains("steps: 100") && e.contains("20 (single)"),
        "{e}"
    );
    let out = ok(&pars(
        &["report", "runs", "single", "--split", "--out", "rep"],
        d,
    ));
    assert!(
        out.contains("pointmaze [steps=100]") && out.contains("pointmaze [steps=20]"),
        "{out}"
    );
    // no runs
    std::fs::create_dir_all(d.join("empty/sub")).unwrap();
    let e = stderr(&pars(&["report", "empty"], d));
    assert!(e.contains("no finished offline runs in empty"), "{e}");
    // missing metrics
    std::fs::remove_file(d.join("runs/a1/metrics.csv")).unwrap();
    let e = stderr(&pars(&["report", "runs", "--out", "rep"], d));
    assert!(e.contains("runs/a1 has no metrics.csv"), "{e}");
    // metrics without evaluations
    std::fs::write(
        d.join("runs/a1/metrics.csv"),
        format!("{}\n10,1,0,1,0,,,,,,,,\n", pars::run::METRICS_HEADER),
    )
    .unwrap();
    let e = stderr(&pars(&["report", "runs", "--out", "rep"], d));
    assert!(e.contains("runs/a1 has no evaluation scores"), "{e}");
}

#[test]
fn slurm_backend_errors_leave_nothing_submitted() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    dataset(d);
    let g = grid(d, 30, &TWO);
    let run = |path: &str| {
        Command::new(env!("CARGO_BIN_EXE_pars"))
            .args([
                "sweep",
                g.to_str().unwrap(),
                "--out",
                "sw",
                "--backend",
                "slurm",
            ])
            .current_dir(d)
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let o = run("/nonexistent");
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("sbatch is not on PATH"),
        "{e}"
    );
    assert!(!d.join("sw/slurm/jobs.json").exists());
    // an sbatch that refuses the job
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("sbatch"),
        "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("sbatch"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(bin.to_str().unwrap());
    let e = stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("sbatch failed")
            && e.contains("invalid partition")
            && e.contains("nothing was submitted"),
        "{e}"
    );
    assert!(!d.join("sw/slurm/jobs.json").exists());
    let left: Vec<_> = std::fs::read_dir(d.join("sw/slurm")).unwrap().collect();
    assert!(left.is_empty(), "no script may be left behind");
    // status still works and shows every cell pending
    let st = ok(&pars(&["sweep", "status", "sw"], d));
    assert!(st.contains("0 done") && st.contains("4 pending"), "{st}");
}

fn slurm_available() -> Result<(), String> {
    let has = |p: &str| {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
            .unwrap_or(false)
    };
    if !has("sbatch") {
        return Err("sbatch is not on PATH".into());
    }
    match Command::new("sinfo").arg("-h").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "sinfo fails: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run sinfo: {e}")),
    }
}

/// Poll `pars sweep status` until `want` appears in its summary line.
fn wait_status(d: &Path, sw: &str, want: &str, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let st = String::from_utf8_lossy(&pars(&["sweep", "status", sw], d).stdout).to_string();
        if st.lines().next().unwrap_or("").contains(want) {
            return st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for '{want}':\n{st}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Cancels a SLURM job when dropped (also when the test fails).
struct Scancel(String);

impl Drop for Scancel {
    fn drop(&mut self) {
        let _ = Command::new("scancel").arg(&self.0).output();
    }
}

#[test]
fn slurm_sweep_runs_through_sbatch_and_reports() {
    if let Err(why) = slurm_available() {
        if std::env::var("PARS_TEST_SLURM").as_deref() == Ok("1") {
            panic!("PARS_TEST_SLURM=1 but SLURM is not usable here: {why}");
        }
        eprintln!("skipping the SLURM sweep test: {why} (run `bash scripts/slurm-local.sh start`, or set PARS_TEST_SLURM=1 to make this a failure)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    dataset(d);
    let g = grid(d, 60, &TWO);
    let g = g.to_str().unwrap();
    let out = ok(&pars(
        &[
            "sweep",
            g,
            "--out",
            "sw",
            "--backend",
            "slurm",
            "--time",
            "00:10:00",
        ],
        d,
    ));
    assert!(
        out.contains("submitted SLURM job") && out.contains("4 array tasks"),
        "{out}"
    );
    let sw = d.join("sw");
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sw.join("slurm/jobs.json")).unwrap())
            .unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    let script = std::fs::read_to_string(jobs[0]["script"].as_str().unwrap()).unwrap();
    assert!(
        script.contains("#SBATCH --signal=B:TERM@120") && script.contains("\nexec "),
        "{script}"
    );
    let st = wait_status(d, "sw", "4 done", 300);
    assert!(st.contains("slurm, job"), "{st}");
    for c in CELLS {
        assert!(
            sw.join(c).join("policy.safetensors").is_file(),
            "{c} did not finish"
        );
        assert!(sw.join(c).join("cell.json").is_file());
        let rec = std::fs::read_to_string(sw.join("state").join(format!("{c}.json"))).unwrap();
        assert!(rec.contains("\"slurm_task\": \""), "{rec}");
    }
    let out = ok(&pars(&["report", "sw"], d));
    assert!(
        out.contains("| umaze | 60 |") && out.matches("(2)").count() == 2,
        "{out}"
    );
    // submitting again submits nothing
    let out = ok(&pars(&["sweep", g, "--out", "sw", "--backend", "slurm"], d));
    assert!(
        out.contains("4 already done") && !out.contains("submitted"),
        "{out}"
    );

    // SIGTERM from SLURM (as before a time limit): the cells checkpoint and stop, are
    // shown as interrupted, and a new submission continues them
    let long = grid(d, 10_000, &TWO[..1]);
    let long = long.to_str().unwrap();
    let out = ok(&pars(
        &["sweep", long, "--out", "sw2", "--backend", "slurm"],
        d,
    ));
    assert!(out.contains("submitted"), "{out}");
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sw2/slurm/jobs.json")).unwrap())
            .unwrap();
    let job = jobs[0]["job_id"].as_str().unwrap().to_string();
    let _cancel = Scancel(job.clone());
    let start = Instant::now();
    loop {
        let st = String::from_utf8_lossy(&pars(&["sweep", "status", "sw2"], d).stdout).to_string();
        let steps = running_steps(&st);
        if steps.len() == 2 && steps.iter().all(|&s| s > 0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "cells did not start:\n{st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // the signal SLURM sends with --signal=B:TERM@secs: to the batch shell, i.e. pars
    let o = Command::new("scancel")
        .args(["--batch", "--signal=TERM", &job])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scancel: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st = wait_status(d, "sw2", "2 interrupted", 60);
    assert!(
        st.contains("0 running") && st.contains("checkpoint at step"),
        "{st}"
    );
    let rec = std::fs::read_to_string(d.join("sw2/state/pars-umaze-s0.json")).unwrap();
    assert!(rec.contains("\"state\": \"interrupted\""), "{rec}");
    let out = ok(&pars(
        &["sweep", long, "--out", "sw2", "--backend", "slurm"],
        d,
    ));
    assert!(
        out.contains("2 to run") && out.contains("submitted"),
        "{out}"
    );
    wait_status(d, "sw2", "2 done", 300);
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sw2/slurm/jobs.json")).unwrap())
            .unwrap();
    let job2 = jobs[1]["job_id"].as_str().unwrap().to_string();
    let _cancel2 = Scancel(job2.clone());
    for c in ["pars-umaze-s0", "pars-umaze-s1"] {
        let rec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(format!("sw2/state/{c}.json"))).unwrap(),
        )
        .unwrap();
        assert!(
            rec["resumed_from"].as_u64().unwrap() > 0,
            "{c} was not resumed: {rec}"
        );
        assert!(
            rec["slurm_task"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{job2}_")),
            "{rec}"
        );
    }
}
