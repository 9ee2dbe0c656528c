//! The hidden `pars debug` commands: update traces for the Python reference, and a
//! policy file checked against a numpy forward pass (tests/reference/policy_numpy.py).
mod common;
use common::{ok, pars, stderr};
use pars::data::write_d4rl;
use pars::formats::TensorReader;
use pars::nn::{Activation, EnsembleMlp, MlpSpec};
use pars::policy::save_policy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn maze_dataset(dir: &Path) {
    let cfg = pars::recipes::scripted::CollectConfig::new(
        pars::envs::maze::Layout::Umaze,
        pars::recipes::scripted::Style::Diverse,
        500,
        0,
    );
    write_d4rl(
        &dir.join("maze.hdf5"),
        &pars::recipes::scripted::collect(&cfg).unwrap(),
    )
    .unwrap();
}

fn fails(o: &std::process::Output, needle: &str) {
    assert!(!o.status.success(), "expected a failure");
    let e = stderr(o);
    assert!(e.contains(needle), "error should mention '{needle}': {e}");
    assert_eq!(e.lines().count(), 1, "one line: {e}");
}

#[test]
fn trace_writes_every_tensor_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    maze_dataset(d);
    let args = |extra: &[&'static str]| {
        let mut v = vec![
            "debug",
            "trace",
            "--dataset",
            "maze.hdf5",
            "--preset",
            "pointmaze",
            "--set",
            "agent.hidden=8",
            "--set",
            "agent.batch_size=4",
            "--seed",
            "1",
            "--out",
            "t.safetensors",
            "--quiet",
        ];
        v.extend_from_slice(extra);
        v
    };
    let out = ok(&pars(&args(&["--steps", "3"]), d));
    assert!(out.is_empty(), "--quiet prints nothing: {out}");
    let r = TensorReader::open(&d.join("t.safetensors")).unwrap();
    assert_eq!(r.get_meta("format"), Some("pars-trace"));
    assert_eq!(r.get_meta("case"), Some("t"));
    assert_eq!(
        (r.get_meta("obs_dim"), r.get_meta("act_dim")),
        (Some("4"), Some("2"))
    );
    let cfg: serde_json::Value = serde_json::from_str(r.get_meta("config").unwrap()).unwrap();
    assert_eq!(
        (cfg["hidden"].as_u64(), cfg["n_critics"].as_u64()),
        (Some(8), Some(4))
    );
    assert_eq!(cfg["critic_layer_norm"], true);
    for n in [
        "init.actor.0.layer0.weight",
        "init.critic.3.layer1.ln_scale",
        "init.critic_adam.m.critic.0.layer2.bias",
        "init.actor_adam.step",
        "step1.batch.obs",
        "step1.draw.target_eps",
        "step1.draw.target_subset",
        "step1.draw.pa_u",
        "step1.loss.td",
        "step2.loss.lambda",
        "step3.after.critic_target.3.layer2.weight",
        "step3.after.critic_adam.v.critic.1.layer0.ln_bias",
    ] {
        assert!(r.contains(n), "trace lacks {n}");
    }
    assert_eq!(r.shape("step1.batch.obs"), Some(&[4usize, 4][..]));
    assert_eq!(
        r.shape("step3.after.actor.0.layer0.weight"),
        Some(&[4usize, 8][..])
    );
    assert!(!r.contains("step1.loss.actor") && !r.contains("step4.loss.td"));
    // same seed, same bytes
    let first = std::fs::read(d.join("t.safetensors")).unwrap();
    ok(&pars(&args(&["--steps", "3"]), d));
    assert_eq!(first, std::fs::read(d.join("t.safetensors")).unwrap());
    std::fs::remove_file(d.join("t.safetensors")).unwrap();

    fails(
        &pars(&args(&["--steps", "0"]), d),
        "option --steps must be positive",
    );
    let mut a = args(&["--steps", "2"]);
    a[5] = "no-such-preset";
    fails(&pars(&a, d), "unknown preset 'no-such-preset'");
    let mut a = args(&["--steps", "2"]);
    a[3] = "missing.hdf5";
    fails(&pars(&a, d), "dataset file missing.hdf5 does not exist");
    fails(
        &pars(&args(&["--steps", "2", "--set", "agent.n_critics=0"]), d),
        "n_critics",
    );
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "maze.hdf5")
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

/// The Python of tests/reference (numpy, safetensors), set up by scripts/reference.sh.
fn reference_python() -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".reference/venv/bin/python");
    p.is_file().then_some(p)
}

#[test]
fn policy_file_matches_a_numpy_forward_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let spec = MlpSpec {
        input: 7,
        hidden: 32,
        depth: 3,
        output: 3,
        layer_norm: false,
        activation: Activation::Relu,
        tanh_output: true,
        gaussian_head: false,
        hidden_bias_init: 0.1,
        // large enough that actions spread over (−1, 1)
        output_init_scale: 0.3,
    };
    let actor = EnsembleMlp::new(spec, 1, &mut rng);
    save_policy(&d.join("policy.safetensors"), &actor, None, &[]).unwrap();
    let obs: Vec<Vec<f32>> = (0..64)
        .map(|_| (0..7).map(|_| rng.gen_range(-3.0..3.0)).collect())
        .collect();
    std::fs::write(d.join("obs.json"), serde_json::to_string(&obs).unwrap()).unwrap();
    // a run directory works as well as the file
    ok(&pars(
        &[
            "debug", "act", "--policy", ".", "--obs", "obs.json", "--out", "act.json",
        ],
        d,
    ));
    let acts: Vec<Vec<f32>> =
        serde_json::from_str(&std::fs::read_to_string(d.join("act.json")).unwrap()).unwrap();
    assert_eq!((acts.len(), acts[0].len()), (64, 3));
    let mut p = pars::policy::Policy::load(&d.join("policy.safetensors")).unwrap();
    assert_eq!(p.act(&obs[5]), &acts[5][..]);
    fails(
        &pars(
            &["debug", "act", "--policy", "obs.json", "--obs", "obs.json"],
            d,
        ),
        "obs.json is not a safetensors file",
    );

    let Some(python) = reference_python() else {
        println!(
            "NOTICE: skipped the numpy check of policy.safetensors: no .reference/venv \
             (create it with `bash scripts/reference.sh --self-test`)"
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/policy_numpy.py");
    let o = std::process::Command::new(python)
        .arg(script)
        .args(["policy.safetensors", "obs.json", "act.json"])
        .current_dir(d)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert!(
        o.status.success(),
        "numpy disagrees with pars: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("64 observations, 3 action dims"), "{out}");
}

/// The engine's elementwise kernels are compiled for AVX-512, AVX2 and baseline SSE2
/// and picked at run time (`nn::simd`); every copy must give the same bytes. Widths
/// that are not multiples of the vector length exercise the loops' remainders.
#[test]
fn every_simd_level_gives_the_same_update_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    maze_dataset(d);
    for (case, extra) in [
        ("pars-ln", &["--preset", "pointmaze"][..]),
        (
            "gelu",
            &["--preset", "pointmaze", "--set", "agent.activation=gelu"][..],
        ),
        ("td3bc", &["--preset", "td3bc"][..]),
        ("iql", &["--preset", "iql-rsln-pa"][..]),
    ] {
        let mut traces = Vec::new();
        for level in ["baseline", "avx2", "avx512"] {
            let out = format!("{case}-{level}.safetensors");
            let mut args = vec![
                "debug",
                "trace",
                "--dataset",
                "maze.hdf5",
                "--set",
                "agent.hidden=40",
                "--set",
                "agent.batch_size=21",
                "--steps",
                "4",
                "--seed",
                "2",
                "--case",
                case,
                "--out",
                &out,
                "--quiet",
            ];
            args.extend_from_slice(extra);
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_pars"))
                .args(&args)
                .current_dir(d)
                .env("PARS_SIMD", level)
                .output()
                .unwrap();
            ok(&o);
            traces.push(std::fs::read(d.join(&out)).unwrap());
        }
        assert!(traces[0] == traces[1], "{case}: AVX2 differs from baseline");
        assert!(
            traces[0] == traces[2],
            "{case}: AVX-512 differs from baseline"
        );
    }
}
