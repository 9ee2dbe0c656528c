//! The `pars` binary on real files: bad input gets a one-line error, a non-zero exit
//! and no run directory; good input trains, evaluates and is deterministic.
mod common;
use common::{ok, pars, stderr};
use pars::data::{write_d4rl, RawDataset};
use std::path::{Path, PathBuf};

/// A small valid maze-shaped dataset (obs 4, act 2) with a few episodes.
fn small_dataset(rows: usize) -> RawDataset {
    let cfg = pars::recipes::scripted::CollectConfig::new(
        pars::envs::maze::Layout::Umaze,
        pars::recipes::scripted::Style::Diverse,
        rows,
        0,
    );
    pars::recipes::scripted::collect(&cfg).unwrap()
}

fn write(dir: &Path, name: &str, ds: &RawDataset) -> PathBuf {
    let p = dir.join(name);
    write_d4rl(&p, ds).unwrap();
    p
}

/// Write an HDF5 file by hand (for malformed inputs the library refuses to write).
fn raw_h5(path: &Path, f: impl FnOnce(&hdf5::File)) {
    let file = hdf5::File::create(path).unwrap();
    f(&file);
}

fn train_args<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--dataset",
        data,
        "--env",
        "pointmaze-umaze-v0",
        "--preset",
        "pointmaze",
        "--steps",
        "20",
        "--log-every",
        "10",
        "--eval-episodes",
        "1",
        "--hidden",
        "16",
        "--quiet",
        "--out",
        out,
    ]
}

fn assert_fails(dir: &Path, args: &[&str], needle: &str) {
    let o = pars(args, dir);
    assert!(!o.status.success(), "expected failure for {args:?}");
    let e = stderr(&o);
    assert!(
        e.contains(needle),
        "error for {args:?} should mention '{needle}', got: {e}"
    );
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "one error line: {e}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("run"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-written run left behind: {leftovers:?}"
    );
}

#[test]
fn bad_inputs_get_clear_errors_and_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let good = small_dataset(500);

    assert_fails(d, &train_args("missing.hdf5", "run"), "missing.hdf5");

    std::fs::write(d.join("text.hdf5"), "not hdf5").unwrap();
    assert_fails(d, &train_args("text.hdf5", "run"), "text.hdf5");

    raw_h5(&d.join("nokey.hdf5"), |f| {
        f.new_dataset::<f32>()
            .shape((500, 4))
            .create("observations")
            .unwrap()
            .write_raw(&good.observations)
            .unwrap();
        f.new_dataset_builder()
            .with_data(&good.rewards)
            .create("rewards")
            .unwrap();
    });
    assert_fails(d, &train_args("nokey.hdf5", "run"), "actions");

    let mut short = good.clone();
    short.rewards.truncate(400);
    raw_h5(&d.join("lengths.hdf5"), |f| {
        f.new_dataset::<f32>()
            .shape((500, 4))
            .create("observations")
            .unwrap()
            .write_raw(&short.observations)
            .unwrap();
        f.new_dataset::<f32>()
            .shape((500, 2))
            .create("actions")
            .unwrap()
            .write_raw(&short.actions)
            .unwrap();
        f.new_dataset_builder()
            .with_data(&short.rewards)
            .create("rewards")
            .unwrap();
        let t: Vec<u8> = vec![0; 500];
        f.new_dataset_builder()
            .with_data(&t)
            .create("terminals")
            .unwrap();
        f.new_dataset_builder()
            .with_data(&t)
            .create("timeouts")
            .unwrap();
    });
    assert_fails(d, &train_args("lengths.hdf5", "run"), "rewards");

    let mut nan = good.clone();
    nan.rewards[17] = f32::NAN;
    raw_h5(&d.join("nan.hdf5"), |f| {
        f.new_dataset::<f32>()
            .shape((500, 4))
            .create("observations")
            .unwrap()
            .write_raw(&nan.observations)
            .unwrap();
        f.new_dataset::<f32>()
            .shape((500, 2))
            .create("actions")
            .unwrap()
            .write_raw(&nan.actions)
            .unwrap();
        f.new_dataset_builder()
            .with_data(&nan.rewards)
            .create("rewards")
            .unwrap();
        let t: Vec<u8> = nan.terminals.iter().map(|&b| b as u8).collect();
        let to: Vec<u8> = nan.timeouts.iter().map(|&b| b as u8).collect();
        f.new_dataset_builder()
            .with_data(&t)
            .create("terminals")
            .unwrap();
        f.new_dataset_builder()
            .with_data(&to)
            .create("timeouts")
            .unwrap();
    });
    assert_fails(d, &train_args("nan.hdf5", "run"), "NaN");

    let mut wide = good.clone();
    wide.act_dim = 3;
    wide.actions = (0..500 * 3).map(|i| ((i % 7) as f32 - 3.0) / 4.0).collect();
    let wide_path = write(d, "wide.hdf5", &wide);
    assert_fails(
        d,
        &train_args(wide_path.to_str().unwrap(), "run"),
        "dimensions",
    );

    let ok = write(d, "ok.hdf5", &good);
    let ok = ok.to_str().unwrap();
    let mut a = train_args(ok, "run");
    a[6] = "no-such-preset";
    assert_fails(d, &a, "unknown preset 'no-such-preset'");
    let mut a = train_args(ok, "run");
    a.extend(["--batch-size", "0"]);
    assert_fails(d, &a, "batch_size");
    let mut a = train_args(ok, "run");
    a[4] = "pointmaze-nowhere-v0";
    assert_fails(d, &a, "unknown environment");
}

#[test]
fn actions_outside_the_box_are_clipped_with_a_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = small_dataset(300);
    ds.actions[0] = 1.5;
    ds.actions[5] = -2.0;
    ds.actions[9] = 1.0001;
    let p = write(tmp.path(), "wide.hdf5", &ds);
    let o = pars(&train_args(p.to_str().unwrap(), "run"), tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("3 action values lay outside [-1, 1] and were clipped"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn same_seed_same_metrics_and_a_complete_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = write(d, "data.hdf5", &small_dataset(2000));
    let p = p.to_str().unwrap();
    for out in ["run_a", "run_b"] {
        let o = pars(&train_args(p, out), d);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let a = std::fs::read_to_string(d.join("run_a/metrics.csv")).unwrap();
    let b = std::fs::read_to_string(d.join("run_b/metrics.csv")).unwrap();
    assert_eq!(a, b);
    assert!(
        a.lines().count() >= 3,
        "header + a row per log interval: {a}"
    );
    for f in [
        "config.toml",
        "metrics.csv",
        "policy.safetensors",
        "learning_curves.png",
        "final_eval.json",
        "checkpoints/agent.safetensors",
        "checkpoints/actor_20.safetensors",
    ] {
        assert!(d.join("run_a").join(f).exists(), "run directory lacks {f}");
    }
    // a different seed gives different numbers
    let mut args = train_args(p, "run_c");
    args.extend(["--seed", "1"]);
    assert!(pars(&args, d).status.success());
    assert_ne!(
        a,
        std::fs::read_to_string(d.join("run_c/metrics.csv")).unwrap()
    );
    // the saved policy evaluates from the CLI
    let o = pars(
        &[
            "eval",
            "--policy",
            "run_a",
            "--env",
            "pointmaze-umaze-v0",
            "--episodes",
            "2",
        ],
        d,
    );
    let line = ok(&o);
    assert!(
        line.starts_with("pointmaze-umaze-v0: 2 episodes, return ") && line.contains("success"),
        "{line}"
    );
    // --json: the whole result as one object
    let o = pars(
        &[
            "eval",
            "--policy",
            "run_a",
            "--env",
            "pointmaze-umaze-v0",
            "--episodes",
            "2",
            "--json",
        ],
        d,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["episodes"], 2);
    assert!(
        v["mean_score"].is_f64() && v["success_rate"].is_f64(),
        "{v}"
    );
    // an existing run directory is never overwritten
    assert!(!pars(&train_args(p, "run_a"), d).status.success());
}

#[test]
fn data_info_reports_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "d.hdf5", &small_dataset(1000));
    let o = pars(&["data", "info", p.to_str().unwrap()], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for k in [
        "episodes",
        "transitions",
        "terminals",
        "timeouts",
        "obs_dim",
        "act_dim",
        "reward",
        "outside",
    ] {
        assert!(out.contains(k), "data info lacks '{k}': {out}");
    }
    assert!(!pars(&["data", "info", "nope.hdf5"], tmp.path())
        .status
        .success());
}

#[test]
fn collect_writes_a_loadable_dataset_and_rejects_unknown_styles() {
    let tmp = tempfile::tempdir().unwrap();
    let o = pars(
        &[
            "collect",
            "--env",
            "pointmaze-medium-v0",
            "--style",
            "play",
            "--steps",
            "3000",
            "--out",
            "m.hdf5",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ds = pars::data::read_d4rl(&tmp.path().join("m.hdf5")).unwrap();
    assert_eq!((ds.len(), ds.obs_dim, ds.act_dim), (3000, 4, 2));
    let o = pars(
        &[
            "collect", "--style", "weird", "--steps", "10", "--out", "x.hdf5",
        ],
        tmp.path(),
    );
    assert!(!o.status.success());
    assert!(!tmp.path().join("x.hdf5").exists());
}
