//! The paper's baselines end to end through the CLI: SAC and RLPD online, ReBRAC
//! offline and fine-tuned, SAC-N offline; each stopped part-way and resumed ends with
//! the same files, byte for byte, as the run left alone; SAC policies sample for
//! `pars collect --stochastic`.
mod common;
use common::{ok, pars, stderr};
use std::path::Path;

fn run(args: &[&str], d: &Path) -> String {
    ok(&pars(args, d))
}

/// Run `args` killed (as by SIGKILL) inside its `n`-th periodic evaluation.
fn killed(args: &[&str], d: &Path, n: u32) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pars"))
        .args(args)
        .current_dir(d)
        .env("PARS_TEST_ABORT", format!("eval:{n}"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "the run was not stopped");
}

fn same_files(d: &Path, a: &str, b: &str, files: &[&str]) {
    for f in files {
        let x = std::fs::read(d.join(a).join(f)).unwrap();
        let y = std::fs::read(d.join(b).join(f)).unwrap();
        assert!(x == y, "{f} differs between {a} and {b}");
    }
}

const ONLINE_FILES: [&str; 4] = [
    "metrics.csv",
    "episodes.csv",
    "final_eval.json",
    "policy.safetensors",
];
const OFFLINE_FILES: [&str; 3] = ["metrics.csv", "final_eval.json", "policy.safetensors"];

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(
        &[
            "collect",
            "--quiet",
            "--env",
            "hopper-v2",
            "--steps",
            "1500",
            "--out",
            "h.hdf5",
        ],
        dir.path(),
    );
    dir
}

/// `pars online` args of a small SAC-family run to `steps` environment steps.
fn online<'a>(algo: &'a str, out: &'a str, steps: &'a str, dataset: bool) -> Vec<&'a str> {
    let mut v = vec![
        "online",
        "--algo",
        algo,
        "--env",
        "hopper-v2",
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
        "--utd",
        "2",
        "--eval-every",
        "300",
        "--eval-episodes",
        "1",
        "--log-every",
        "100",
        "--checkpoint-every",
        "100",
        "--quiet",
        "--out",
        out,
    ];
    if dataset {
        v.extend(["--dataset", "h.hdf5"]);
    }
    v
}

#[test]
fn sac_and_rlpd_online_resume_byte_identically_and_sac_policies_sample() {
    let dir = setup();
    let d = dir.path();
    for (algo, dataset) in [("sac", false), ("rlpd", true)] {
        let (whole, part) = (format!("{algo}-whole"), format!("{algo}-part"));
        run(&online(algo, &whole, "600", dataset), d);
        killed(&online(algo, &part, "600", dataset), d, 1);
        run(&["online", "--resume", &part, "--quiet"], d);
        same_files(d, &whole, &part, &ONLINE_FILES);
        let cfg = std::fs::read_to_string(d.join(&whole).join("online.toml")).unwrap();
        assert!(cfg.contains("[sac]"), "{cfg}");
        let metrics = std::fs::read_to_string(d.join(&whole).join("metrics.csv")).unwrap();
        let last: Vec<&str> = metrics.lines().last().unwrap().split(',').collect();
        let (entropy, temperature): (f64, f64) =
            (last[16].parse().unwrap(), last[17].parse().unwrap());
        assert!(entropy.is_finite() && temperature > 0.0 && temperature < 1.0);
    }
    let cfg = std::fs::read_to_string(d.join("rlpd-whole/online.toml")).unwrap();
    for line in [
        "n_critics = 10",
        "critic_layer_norm = true",
        "utd = 2",
        "offline_fraction = 0.5",
    ] {
        assert!(cfg.contains(line), "{line} not in {cfg}");
    }
    let e = stderr(&pars(&online("rlpd", "r2", "300", false), d));
    assert!(e.contains("--dataset"), "{e}");

    // a SAC policy acts with tanh(μ) and samples with --stochastic; seeded samples
    let collect = |out: &str, stochastic: bool| {
        let mut a = vec![
            "collect",
            "--quiet",
            "--env",
            "hopper-v2",
            "--policy",
            "sac-whole",
            "--steps",
            "300",
            "--seed",
            "3",
            "--out",
            out,
        ];
        if stochastic {
            a.push("--stochastic");
        }
        run(&a, d);
        std::fs::read(d.join(out)).unwrap()
    };
    let (det, s1, s2) = (
        collect("det.hdf5", false),
        collect("s1.hdf5", true),
        collect("s2.hdf5", true),
    );
    assert_eq!(s1, s2);
    assert_ne!(det, s1);
    let e = stderr(&pars(
        &[
            "collect",
            "--env",
            "hopper-v2",
            "--policy",
            "rb-whole",
            "--steps",
            "10",
            "--stochastic",
            "--out",
            "x.hdf5",
        ],
        d,
    ));
    assert!(e.contains("error"), "{e}");
    assert!(!d.join("x.hdf5").exists());
}

#[test]
fn rebrac_and_sac_n_train_resume_byte_identically_and_rebrac_fine_tunes() {
    let dir = setup();
    let d = dir.path();
    let train = |algo: &str, preset: &str, out: &str, kill: bool| {
        let args = [
            "train",
            "--algo",
            algo,
            "--preset",
            preset,
            "--dataset",
            "h.hdf5",
            "--env",
            "hopper-v2",
            "--hidden",
            "16",
            "--batch-size",
            "32",
            "--steps",
            "400",
            "--eval-every",
            "200",
            "--eval-episodes",
            "1",
            "--log-every",
            "50",
            "--checkpoint-every",
            "100",
            "--quiet",
            "--out",
            out,
        ];
        if kill {
            killed(&args, d, 1);
        } else {
            run(&args, d);
        }
    };
    for (algo, preset, name) in [
        ("rebrac", "rebrac-hopper-medium-replay-v2", "rb"),
        ("sac", "sac-n", "sn"),
    ] {
        let (whole, part) = (format!("{name}-whole"), format!("{name}-part"));
        train(algo, preset, &whole, false);
        train(algo, preset, &part, true);
        run(&["train", "--resume", &part, "--quiet"], d);
        same_files(d, &whole, &part, &OFFLINE_FILES);
    }
    let cfg = std::fs::read_to_string(d.join("rb-whole/config.toml")).unwrap();
    for line in [
        "beta_critic = 0.5",
        "beta = 0.05",
        "critic_depth = 3",
        "target_update = \"with_actor\"",
    ] {
        assert!(cfg.contains(line), "{line} not in {cfg}");
    }
    // --algo rebrac finds the dataset's preset from --env, and says when there is none
    let e = stderr(&pars(
        &[
            "train",
            "--algo",
            "rebrac",
            "--dataset",
            "h.hdf5",
            "--env",
            "hopper-v2",
            "--out",
            "no",
        ],
        d,
    ));
    assert!(e.contains("ReBRAC has no preset for 'hopper-v2'"), "{e}");
    assert!(!d.join("no").exists());
    // a ReBRAC run fine-tunes online, keeping its critic BC term
    run(
        &[
            "finetune",
            "--from",
            "rb-whole",
            "--env",
            "hopper-v2",
            "--dataset",
            "h.hdf5",
            "--steps",
            "150",
            "--utd",
            "2",
            "--eval-every",
            "150",
            "--eval-episodes",
            "1",
            "--quiet",
            "--out",
            "rb-ft",
        ],
        d,
    );
    let cfg = std::fs::read_to_string(d.join("rb-ft/online.toml")).unwrap();
    assert!(cfg.contains("beta_critic = 0.5"), "{cfg}");
    // bad values are one-line errors
    for (set, what) in [
        ("agent.beta_critic=-1", "beta_critic"),
        ("sac.init_temperature=-0.5", "init_temperature"),
        ("sac.bogus=1", "bogus"),
        ("agent.beta=nan", "beta"),
    ] {
        let algo = if set.starts_with("sac") {
            "sac"
        } else {
            "rebrac"
        };
        let preset = if algo == "sac" {
            "sac"
        } else {
            "rebrac-hopper-medium-v2"
        };
        let e = stderr(&pars(
            &[
                "train",
                "--algo",
                algo,
                "--preset",
                preset,
                "--dataset",
                "h.hdf5",
                "--set",
                set,
                "--out",
                "bad",
            ],
            d,
        ));
        assert!(e.contains(what), "{set}: {e}");
        assert!(!d.join("bad").exists());
    }
}
