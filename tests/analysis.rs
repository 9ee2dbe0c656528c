//! `pars analyze ...` in fast mode: each command writes its figures and a numbers
//! file with the expected structure, finite values and the property it is about.
use clap::Parser;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn analyze(args: &[&str]) -> anyhow::Result<()> {
    let mut v = vec!["pars", "analyze"];
    v.extend_from_slice(args);
    let cli = pars::cli::Cli::try_parse_from(v)?;
    pars::cli::run(cli)
}

fn numbers(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("numbers.json")).expect("numbers.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn png(dir: &Path, name: &str) {
    let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|_| panic!("{name} missing"));
    assert!(bytes.len() > 5000, "{name} is suspiciously small");
    assert_eq!(&bytes[1..4], b"PNG", "{name} is not a PNG");
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {v}"))
}

fn finite(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(f(v, k).is_finite(), "{k} is not finite in {v}");
    }
}

fn out(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    tmp.path().join(name)
}

#[test]
fn toy_fast_writes_the_grid_and_shows_the_extrapolation_effects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out(&tmp, "toy");
    analyze(&[
        "toy",
        "--fast",
        "--quiet",
        "--c",
        "1,100",
        "--out",
        dir.to_str().unwrap(),
    ])
    .unwrap();
    for p in ["toy_fit.png", "toy_split.png", "toy_activations.png"] {
        png(&dir, p);
    }
    let csv = std::fs::read_to_string(dir.join("toy.csv")).unwrap();
    assert!(csv.starts_with("data,variant,activation,layer_norm,penalty,c,"));
    let n = numbers(&dir);
    let fits = n["fits"].as_array().unwrap();
    // 3 variants × 2 c × 2 shapes + 4 activations (ReLU is the LN c=100 fit)
    assert_eq!(fits.len(), 16);
    assert_eq!(csv.lines().count(), 17);
    let keys = [
        "train_mse",
        "in_data_mean",
        "in_data_max",
        "ring_mean",
        "ring_max",
        "outer_mean",
        "outer_max",
        "far_mean",
    ];
    for x in fits {
        finite(x, &keys);
    }
    let get = |data: &str, variant: &str, c: f64| {
        fits.iter()
            .find(|x| x["data"] == data && x["variant"] == variant && f(x, "c") == c)
            .unwrap_or_else(|| panic!("no fit {data} {variant} {c}"))
    };
    for act in ["gelu", "silu", "sigmoid", "identity"] {
        get("disk", &format!("ln_{act}"), 100.0);
    }
    for c in [1.0, 100.0] {
        let (no, ln, pa) = (
            get("disk", "no_ln", c),
            get("disk", "ln", c),
            get("disk", "ln_pa", c),
        );
        // the fits are good inside the data: mean of x1²+x2² over the disk is 0.125
        for x in [no, ln, pa] {
            assert!((f(x, "in_data_mean") - 0.125).abs() < 0.01, "{x}");
        }
        // without LN the fit extrapolates upward: ring above everything in the data
        assert!(f(no, "ring_mean") > f(no, "in_data_max"), "{no}");
        // LN bounds far extrapolation; PA pushes far predictions toward Q_min = 0
        assert!(
            f(ln, "outer_mean") < 0.5 * f(no, "outer_mean"),
            "{ln} vs {no}"
        );
        assert!(f(pa, "far_mean") < 0.5 * f(ln, "far_mean"), "{pa} vs {ln}");
    }
    // with LN the out-of-data predictions (relative to c) drop as c grows
    assert!(f(get("disk", "ln", 100.0), "ring_mean") < f(get("disk", "ln", 1.0), "ring_mean"));
}

#[test]
fn ntk_fast_similarity_to_the_ring_drops_with_reward_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out(&tmp, "ntk");
    analyze(&["ntk", "--fast", "--quiet", "--out", dir.to_str().unwrap()]).unwrap();
    png(&dir, "ntk.png");
    let n = numbers(&dir);
    let grid = n["grid"].as_u64().unwrap() as usize;
    let maps = n["maps"].as_array().unwrap();
    assert_eq!(maps.len(), 2);
    for m in maps {
        finite(
            m,
            &["ring_mean", "in_data_mean", "corner_mean", "min", "max"],
        );
        assert!(
            f(m, "min") >= -1.0 - 1e-6 && f(m, "max") <= 1.0 + 1e-6,
            "{m}"
        );
        // cells next to p are almost parallel to it
        assert!(f(m, "max") > 0.95, "{m}");
    }
    assert!(f(&maps[1], "ring_mean") < f(&maps[0], "ring_mean"));
    let csv = std::fs::read_to_string(dir.join("ntk_grid.csv")).unwrap();
    assert!(csv.starts_with("x1,x2,sim_c1,sim_c100\n"));
    assert_eq!(csv.lines().count(), grid * grid + 1);
}

#[test]
fn dormant_fast_table_covers_every_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out(&tmp, "dormant");
    analyze(&[
        "dormant",
        "--fast",
        "--quiet",
        "--c",
        "1,100",
        "--out",
        dir.to_str().unwrap(),
    ])
    .unwrap();
    png(&dir, "dormant.png");
    let n = numbers(&dir);
    assert!(n["definitions"]["dormant_ratio"]
        .as_str()
        .unwrap()
        .contains("tau = 0"));
    let table = n["table"].as_array().unwrap();
    assert_eq!(table.len(), 4);
    for t in table {
        finite(t, &["dormant_mean", "inactive_mean", "q_data_mean"]);
        for k in ["dormant_mean", "inactive_mean"] {
            assert!((0.0..=1.0).contains(&f(t, k)), "{t}");
        }
        assert!(f(t, "score_mean").is_finite());
    }
    // the critic's values follow the reward scale
    let q = |c: f64, ln: bool| {
        f(
            table
                .iter()
                .find(|t| f(t, "c") == c && t["layer_norm"] == ln)
                .unwrap(),
            "q_data_mean",
        )
    };
    for ln in [false, true] {
        assert!(q(100.0, ln) > 5.0 * q(1.0, ln).abs(), "{}", q(100.0, ln));
    }
    let runs = n["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs
        .iter()
        .all(|r| r["curve"].as_array().unwrap().len() >= 10));
    let csv = std::fs::read_to_string(dir.join("dormant.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
}

#[test]
fn maxq_fast_max_q_actions_are_larger_than_the_data_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out(&tmp, "maxq");
    analyze(&["maxq", "--fast", "--quiet", "--out", dir.to_str().unwrap()]).unwrap();
    png(&dir, "maxq.png");
    let n = numbers(&dir);
    let data = f(&n, "data_norm");
    assert!(data > 0.0 && data < 1.0);
    let summary = n["summary"].as_array().unwrap();
    let variants: Vec<&str> = summary
        .iter()
        .map(|s| s["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["none", "ln", "ln_pa"]);
    for s in summary {
        finite(
            s,
            &[
                "maxq_norm_mean",
                "boundary_fraction_mean",
                "q_data_mean",
                "q_maxq_mean",
            ],
        );
        assert!(f(s, "maxq_norm_mean") <= 1.0 + 1e-6);
        // Table 1: the maximiser sits near the edge of the box, beyond the data
        assert!(f(s, "maxq_norm_mean") > data, "{s}");
        // and it is a maximiser
        assert!(f(s, "q_maxq_mean") >= f(s, "q_data_mean"), "{s}");
    }
}

#[test]
fn ablation_fast_fills_every_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out(&tmp, "ablation");
    analyze(&[
        "ablation",
        "--fast",
        "--quiet",
        "--c",
        "1,100",
        "--distances",
        "2,1000",
        "--steps",
        "100",
        "--out",
        dir.to_str().unwrap(),
    ])
    .unwrap();
    png(&dir, "ablation.png");
    let n = numbers(&dir);
    let cells = n["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4 * 2 + 2);
    for c in cells {
        finite(c, &["score_mean", "score_std"]);
        assert!((0.0..=100.0).contains(&f(c, "score_mean")), "{c}");
    }
    let variants: Vec<&str> = cells[..4]
        .iter()
        .map(|c| c["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["None", "PA", "LN", "LN+PA"]);
    let csv = std::fs::read_to_string(dir.join("ablation.csv")).unwrap();
    assert_eq!(csv.lines().count(), 11);
}

#[test]
fn bad_input_gets_a_one_line_error_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_pars"))
            .arg("analyze")
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = run(&["toy", "--fast", "--c", "1,0", "--out", "t"]);
    assert!(e.contains("--c") && e.contains("positive"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    let e = run(&["maxq", "--fast", "--dataset", "nope.hdf5", "--out", "m"]);
    assert!(
        e.contains("nope.hdf5") && e.contains("does not exist"),
        "{e}"
    );
    let e = run(&["ntk", "--fast", "--steps", "0", "--out", "n"]);
    assert!(e.contains("--steps"), "{e}");
    let e = run(&["ablation", "--fast", "--distances", "0.5", "--out", "a"]);
    assert!(e.contains("--distances"), "{e}");
    let e = run(&["maxq", "--fast", "--variants", "ln,bogus", "--out", "m"]);
    assert!(e.contains("bogus"), "{e}");
    // a dataset file without --env cannot be scored
    let ds = pars::recipes::scripted::collect(&pars::recipes::scripted::CollectConfig::new(
        pars::envs::maze::Layout::Umaze,
        pars::recipes::scripted::Style::Diverse,
        2000,
        0,
    ))
    .unwrap();
    pars::data::write_d4rl(&tmp.path().join("d.hdf5"), &ds).unwrap();
    let e = run(&["ablation", "--fast", "--dataset", "d.hdf5", "--out", "a"]);
    assert!(e.contains("--env"), "{e}");
    for d in ["t", "m", "n", "a"] {
        assert!(!tmp.path().join(d).exists());
    }
    // an existing output directory is never overwritten
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    let e = run(&["dormant", "--fast", "--out", "taken"]);
    assert!(e.contains("already exists"), "{e}");
}
