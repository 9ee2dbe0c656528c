//! IQL end to end: it learns the built-in medium maze, and `pars train --algo iql`
//! logs, evaluates, checkpoints and resumes like PARS, with its settings checked
//! before training starts.
mod common;
use common::{ok, pars, stderr};
use pars::config::presets::{resolve_train_config, TrainSources};
use pars::config::Algorithm;
use pars::data::Transitions;
use pars::envs::make_env;
use pars::envs::maze::Layout;
use pars::eval::evaluate;
use pars::eval::EVAL_SEED;
use pars::recipes::scripted::{collect, CollectConfig, Style};
use pars::training::train_offline;
use rand::{Rng, SeedableRng};
use std::path::Path;

#[test]
fn short_iql_run_learns_the_medium_maze() {
    let raw = collect(&CollectConfig::new(
        Layout::Medium,
        Style::Diverse,
        200_000,
        0,
    ))
    .unwrap();
    let data = Transitions::from_raw(&raw).unwrap();
    let mut env = make_env("pointmaze-medium-v0").unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let random = evaluate(
        env.as_mut(),
        |_| vec![rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)],
        10,
        EVAL_SEED,
    )
    .unwrap();
    // IQL with CORL's AntMaze settings (expectile 0.9, temperature 10), narrower
    let cfg = resolve_train_config(&TrainSources {
        env: Some("pointmaze-medium-v0".into()),
        sets: [
            "algorithm=iql",
            "agent.hidden=64",
            "steps=10000",
            "eval_every=0",
            "log_every=1000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..TrainSources::default()
    })
    .unwrap();
    assert_eq!(cfg.algorithm, Algorithm::Iql);
    assert_eq!(cfg.iql.as_ref().unwrap().expectile, 0.9);
    let res = train_offline(&cfg, &data, Some(env.as_mut()), false).unwrap();
    let iql = res.final_eval.unwrap();
    let (r, p) = (random.success_rate.unwrap(), iql.success_rate.unwrap());
    eprintln!("random policy success {r}, IQL success {p}");
    assert!(p >= 0.8, "IQL should reach the goal reliably, got {p}");
    assert!(p >= r + 0.5, "IQL ({p}) should clearly beat random ({r})");
    // V, the advantages and the actor loss are logged every row; no PARS columns
    for m in &res.metrics {
        assert!(
            m.v_loss.unwrap().is_finite() && m.adv_std.unwrap() > 0.0,
            "{m:?}"
        );
        assert!(m.actor_loss.unwrap().is_finite() && m.bc_loss.is_none() && m.lambda.is_none());
        assert!(m.q_infeasible.is_nan() && m.pa_loss == 0.0);
    }
    // the critics learned the {0, 1} reward's values: positive, below 1/(1 − γ)
    let last = res.metrics.last().unwrap();
    assert!(last.q_data > 0.0 && last.q_data < 100.0, "{last:?}");
}

fn args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "train",
        "--dataset",
        "u.hdf5",
        "--env",
        "pointmaze-umaze-v0",
        "--algo",
        "iql",
        "--preset",
        "iql-rsln-pa",
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
    ];
    a.extend_from_slice(extra);
    a
}

fn read(d: &Path, f: &str) -> Vec<u8> {
    std::fs::read(d.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn iql_runs_log_checkpoint_resume_evaluate_and_refuse_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
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
        d,
    ));
    // bad settings: one error line before anything is written
    for (set, want) in [
        ("iql.expectile=1.5", "iql.expectile must be in (0, 1)"),
        (
            "iql.temperature=-1",
            "iql.temperature must be a finite non-negative",
        ),
        (
            "iql.temperature=nan",
            "iql.temperature must be a finite non-negative",
        ),
        ("iql.tempreature=3", "unknown field `tempreature`"),
        ("agent.tau=nan", "tau must be in (0, 1]"),
    ] {
        let o = pars(&args("bad", &["--set", set]), d);
        assert!(!o.status.success(), "{set}");
        let e = stderr(&o);
        assert!(e.contains(want), "{set}: {e}");
        assert_eq!(
            e.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{e}"
        );
        assert!(!d.join("bad").exists(), "{set}: a run directory was left");
    }
    let o = pars(
        &[
            "train",
            "--dataset",
            "u.hdf5",
            "--algo",
            "iql",
            "--preset",
            "pointmaze",
            "--out",
            "bad",
        ],
        d,
    );
    assert!(stderr(&o).contains("is a PARS preset"), "{}", stderr(&o));
    assert!(!d.join("bad").exists());

    ok(&pars(&args("whole", &[]), d));
    let w = d.join("whole");
    let metrics = String::from_utf8(read(&w, "metrics.csv")).unwrap();
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = metrics
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 1200 / 50);
    for r in &rows {
        assert_eq!(r.len(), header.len());
        for c in [
            "v_loss",
            "adv_mean",
            "adv_std",
            "actor_loss",
            "td_loss",
            "pa_loss",
        ] {
            let v: f64 = r[col(c)].parse().unwrap();
            assert!(v.is_finite(), "{c} = {v}");
        }
        assert!(r[col("bc_loss")].is_empty() && r[col("lambda")].is_empty());
        // PA is on: the infeasible actions' Q is logged
        assert!(r[col("q_infeasible")].parse::<f64>().unwrap().is_finite());
    }
    assert_eq!(
        rows.iter()
            .filter(|r| !r[col("eval_score")].is_empty())
            .count(),
        4
    );
    for f in [
        "config.toml",
        "learning_curves.png",
        "policy.safetensors",
        "final_eval.json",
        "checkpoints/agent.safetensors",
        "checkpoints/actor_300.safetensors",
    ] {
        assert!(w.join(f).is_file(), "missing {f}");
    }
    let cfg = String::from_utf8(read(&w, "config.toml")).unwrap();
    assert!(
        cfg.contains("algorithm = \"iql\"") && cfg.contains("[iql]"),
        "{cfg}"
    );

    // killed while writing its 3rd checkpoint, resumed: the same bytes
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(args("killed", &[]))
        .current_dir(d)
        .env("PARS_TEST_ABORT", "checkpoint:3")
        .output()
        .unwrap();
    assert!(!o.status.success());
    ok(&pars(&["train", "--resume", "killed", "--quiet"], d));
    for f in ["metrics.csv", "final_eval.json", "policy.safetensors"] {
        assert!(
            read(&w, f) == read(&d.join("killed"), f),
            "{f} of the resumed run differs"
        );
    }

    // the policy evaluates like any other; fine-tuning is refused with the reason
    let e = ok(&pars(
        &[
            "eval",
            "--policy",
            "whole",
            "--env",
            "pointmaze-umaze-v0",
            "--episodes",
            "2",
        ],
        d,
    ));
    assert!(e.contains("return"), "{e}");
    let o = pars(
        &[
            "finetune", "--from", "whole", "--steps", "10", "--out", "ft",
        ],
        d,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is an IQL run"), "{}", stderr(&o));
    assert!(!d.join("ft").exists());

    // a printed IQL preset is a config file that train accepts unchanged
    let toml = ok(&pars(&["presets", "iql-rsln-pa"], d));
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
        "f",
    ];
    a.extend(small);
    ok(&pars(&a, d));
    let mut b = vec![
        "train",
        "--dataset",
        "u.hdf5",
        "--preset",
        "iql-rsln-pa",
        "--out",
        "p",
    ];
    b.extend(small);
    ok(&pars(&b, d));
    assert_eq!(
        read(&d.join("f"), "config.toml"),
        read(&d.join("p"), "config.toml")
    );
    let table = ok(&pars(&["presets"], d));
    assert!(table.lines().next().unwrap().contains("algo"));
    let row = table
        .lines()
        .find(|l| l.starts_with("iql-rsln-pa "))
        .unwrap();
    assert!(row.contains(" iql ") && row.contains(" 1000 "), "{row}");
}
