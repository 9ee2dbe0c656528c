//! D4RL-style dataset recipes: the format of the files they write, determinism, the
//! intended quality ordering, and their errors (small sizes; the full sizes are in
//! docs/study.md).
mod common;
use common::{ok, pars, stderr};
use pars::data::{read_dataset, summarize, RawDataset};
use std::path::Path;

#[test]
fn recipes_write_d4rl_files_in_the_intended_quality_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (recipe, out) in [("hopper-random", "r.hdf5"), ("hopper-medium", "m.hdf5")] {
        ok(&pars(
            &[
                "collect", "--recipe", recipe, "--steps", "5000", "--out", out,
            ],
            d,
        ));
    }
    ok(&pars(
        &[
            "collect",
            "--recipe",
            "hopper-medium-replay",
            "--steps",
            "2000",
            "--out",
            "mr.hdf5",
        ],
        d,
    ));
    let (r, m, mr) = (
        read_dataset(&d.join("r.hdf5")).unwrap(),
        read_dataset(&d.join("m.hdf5")).unwrap(),
        read_dataset(&d.join("mr.hdf5")).unwrap(),
    );
    for (name, ds, rows) in [
        ("random", &r, 5000),
        ("medium", &m, 5000),
        ("replay", &mr, 2000),
    ] {
        assert_eq!((ds.len(), ds.obs_dim, ds.act_dim), (rows, 11, 3), "{name}");
        assert!(ds.actions.iter().all(|a| a.abs() <= 1.0), "{name}");
        // every policy here falls sooner or later
        assert!(ds.terminals.iter().any(|&t| t), "{name}: terminals");
    }
    assert!(mr.next_observations.is_some(), "replay rows store s'");
    let (sr, sm) = (summarize(&r), summarize(&m));
    assert!(
        sr.return_mean * 10.0 < sm.return_mean,
        "random {} vs medium {}",
        sr.return_mean,
        sm.return_mean
    );
    // D4RL's random hopper averages ~18; the medium policy returns 1134 without noise
    // (a third of the expert's 3234) and ~730 with the recipe's noise
    assert!(sr.return_mean < 100.0 && sm.return_mean > 500.0);
    // D4RL's expert file ≈ 3 511; ours samples ~2 860
    let e = check_expert(d, "hopper", (11, 3), &m);
    assert!(summarize(&e).return_mean > 2000.0);
    // a random hopper falls within ~20 steps; the medium one hops for hundreds
    assert!(
        sm.episodes * 5 < sr.episodes,
        "{} vs {} episodes",
        sm.episodes,
        sr.episodes
    );
    // the same seed rebuilds the same file; another seed gives other rows
    ok(&pars(
        &[
            "collect",
            "--recipe",
            "hopper-random",
            "--steps",
            "5000",
            "--out",
            "r2.hdf5",
        ],
        d,
    ));
    assert_eq!(
        std::fs::read(d.join("r.hdf5")).unwrap(),
        std::fs::read(d.join("r2.hdf5")).unwrap()
    );
    ok(&pars(
        &[
            "collect",
            "--recipe",
            "hopper-random",
            "--steps",
            "5000",
            "--seed",
            "3",
            "--out",
            "r3.hdf5",
        ],
        d,
    ));
    assert_ne!(read_dataset(&d.join("r3.hdf5")).unwrap().actions, r.actions);
}

/// Build `<body>-random`, `-medium` and `-medium-replay` small and check their format and
/// that random returns less than medium; returns (random, medium, medium-replay).
fn build_random_medium_replay(
    d: &Path,
    body: &str,
    dims: (usize, usize),
) -> (RawDataset, RawDataset, RawDataset) {
    let names = ["random", "medium", "medium-replay"].map(|k| format!("{body}-{k}"));
    for (recipe, rows) in names.iter().zip(["2000", "2000", "1500"]) {
        let out = format!("{recipe}.hdf5");
        ok(&pars(
            &[
                "collect", "--recipe", recipe, "--steps", rows, "--out", &out,
            ],
            d,
        ));
    }
    let read = |r: &str| read_dataset(&d.join(format!("{r}.hdf5"))).unwrap();
    let (r, m, mr) = (read(&names[0]), read(&names[1]), read(&names[2]));
    for (ds, rows) in [(&r, 2000), (&m, 2000), (&mr, 1500)] {
        assert_eq!((ds.len(), ds.obs_dim, ds.act_dim), (rows, dims.0, dims.1));
    }
    // the replay buffer starts with the training run's uniformly random actions
    assert!(mr.next_observations.is_some());
    let mean_abs = mr.actions.iter().map(|a| a.abs() as f64).sum::<f64>() / mr.actions.len() as f64;
    assert!(
        (mean_abs - 0.5).abs() < 0.03,
        "uniform actions have mean |a| 0.5: {mean_abs}"
    );
    (r, m, mr)
}

/// Build `<body>-expert` (sampled actions of the SAC expert) small, twice with one seed,
/// and check its format, determinism and that it returns more than `medium`.
fn check_expert(d: &Path, body: &str, dims: (usize, usize), medium: &RawDataset) -> RawDataset {
    let recipe = format!("{body}-expert");
    for out in ["e.hdf5", "e2.hdf5"] {
        ok(&pars(
            &[
                "collect", "--recipe", &recipe, "--steps", "2000", "--out", out,
            ],
            d,
        ));
    }
    assert_eq!(
        std::fs::read(d.join("e.hdf5")).unwrap(),
        std::fs::read(d.join("e2.hdf5")).unwrap(),
        "{recipe}: one seed, one file"
    );
    let e = read_dataset(&d.join("e.hdf5")).unwrap();
    assert_eq!((e.len(), e.obs_dim, e.act_dim), (2000, dims.0, dims.1));
    // sampled tanh-Gaussian actions: inside the box, never exactly at its edge
    assert!(e.actions.iter().all(|a| a.abs() < 1.0), "{recipe}");
    let (se, sm) = (summarize(&e), summarize(medium));
    assert!(
        se.return_mean > 1.5 * sm.return_mean,
        "{recipe}: expert {} vs medium {}",
        se.return_mean,
        sm.return_mean
    );
    e
}

#[test]
fn halfcheetah_recipes_order_random_below_medium() {
    let dir = tempfile::tempdir().unwrap();
    let (r, m, mr) = build_random_medium_replay(dir.path(), "halfcheetah", (17, 6));
    for ds in [&r, &m, &mr] {
        // HalfCheetah never terminates; episodes end by the 1000-step limit
        assert!(!ds.terminals.iter().any(|&t| t));
    }
    let (sr, sm) = (summarize(&r), summarize(&m));
    // D4RL: random ≈ −280, medium ≈ 4770; the stored policy returns 4162 without noise
    assert!(sr.return_mean < 0.0, "random {}", sr.return_mean);
    assert!(sm.return_mean > 3000.0, "medium {}", sm.return_mean);
    // D4RL's expert file ≈ 10 656; ours samples ~10 870
    let e = check_expert(dir.path(), "halfcheetah", (17, 6), &m);
    assert!(summarize(&e).return_mean > 9000.0);
}

#[test]
fn walker2d_recipes_order_random_below_medium() {
    let dir = tempfile::tempdir().unwrap();
    let (r, m, _) = build_random_medium_replay(dir.path(), "walker2d", (17, 6));
    // D4RL's expert file ≈ 4 921; ours samples ~4 764 and does not fall
    let e = check_expert(dir.path(), "walker2d", (17, 6), &m);
    assert!(summarize(&e).return_mean > 4000.0 && !e.terminals.iter().any(|&t| t));
    let (sr, sm) = (summarize(&r), summarize(&m));
    // D4RL: random ≈ 1.9, medium ≈ 2850; the stored policy returns 2146 without noise
    // and ~1600 with the recipe's noise, whose walks often end in a fall
    assert!(sr.return_mean < 50.0, "random {}", sr.return_mean);
    assert!(sm.return_mean > 800.0, "medium {}", sm.return_mean);
    // a random walker falls within ~20 steps, the medium one walks for hundreds
    assert!(
        sm.episodes * 10 < sr.episodes,
        "{} vs {} episodes",
        sm.episodes,
        sr.episodes
    );
}

#[test]
fn recipe_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fails = |args: &[&str], msg: &str| {
        let o = pars(args, d);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    };
    fails(
        &["collect", "--recipe", "hopper-superb", "--out", "x.hdf5"],
        "known: hopper-random",
    );
    fails(
        &[
            "collect",
            "--recipe",
            "hopper-medium-replay",
            "--steps",
            "300000",
            "--out",
            "x.hdf5",
        ],
        "can only shorten",
    );
    fails(
        &[
            "collect",
            "--recipe",
            "hopper-medium-replay",
            "--seed",
            "2",
            "--out",
            "x.hdf5",
        ],
        "takes no --seed",
    );
    assert!(!d.join("x.hdf5").exists());
    let o = pars(
        &[
            "collect",
            "--recipe",
            "hopper-random",
            "--policy",
            "p",
            "--out",
            "x.hdf5",
        ],
        d,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "--recipe with --policy is a usage error"
    );
}

#[test]
fn antmaze_recipes_drive_the_ant_through_the_maze() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let collect = |recipe: &str, seed: &str, out: &str| {
        let o = pars(
            &[
                "collect", "--recipe", recipe, "--steps", "3000", "--seed", seed, "--out", out,
            ],
            d,
        );
        ok(&o);
        o
    };
    let o = collect("antmaze-umaze", "0", "u.hdf5");
    let u = read_dataset(&d.join("u.hdf5")).unwrap();
    assert_eq!((u.len(), u.obs_dim, u.act_dim), (3000, 29, 8));
    assert!(u.actions.iter().all(|a| a.abs() <= 1.0));
    // sparse reward relabelled to the evaluation goal; terminals as in D4RL's v2 files
    assert!(u.rewards.iter().all(|&r| r == 0.0 || r == 1.0));
    assert!(u
        .rewards
        .iter()
        .zip(&u.terminals)
        .all(|(&r, &t)| t == (r == 1.0)));
    // episodes of at most 1000 steps, cut by timeouts; a terminal does not end the walk
    let next = u.next_observations.as_ref().unwrap();
    let mut len = 0;
    for i in 0..u.len() {
        len += 1;
        assert!(len <= 1000, "row {i}: episode longer than 1000 steps");
        if u.timeouts[i] {
            len = 0;
        } else if i + 1 < u.len() {
            assert_eq!(
                &next[i * 29..(i + 1) * 29],
                &u.observations[(i + 1) * 29..(i + 2) * 29]
            );
        }
    }
    assert!(u.timeouts[u.len() - 1]);
    // the ant walks from the start cell (origin) to the goal cell at (0, 8) and reaches it
    let summary = pars::recipes::goal_summary(&u);
    assert!(
        summary.1 >= 1 && summary.2 >= 1,
        "no episode reached the goal: {summary:?}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("of them reach the evaluation goal"));
    let far = u
        .observations
        .chunks(29)
        .map(|o| o[1])
        .fold(f32::MIN, f32::max);
    assert!(far > 7.0, "the ant got no further than y = {far}");
    // the diverse recipe starts anywhere; same seed, same file
    collect("antmaze-umaze-diverse", "1", "d.hdf5");
    collect("antmaze-umaze-diverse", "1", "d2.hdf5");
    assert_eq!(
        std::fs::read(d.join("d.hdf5")).unwrap(),
        std::fs::read(d.join("d2.hdf5")).unwrap()
    );
    let dv = read_dataset(&d.join("d.hdf5")).unwrap();
    assert_ne!(dv.observations[..2], u.observations[..2]);
}
