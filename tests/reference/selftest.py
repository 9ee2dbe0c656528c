"""Self-test of the Python reference and checker; needs no Rust tool.

Usage: python tests/reference/selftest.py

1. Adam/cosine schedule of the reference against the textbook formula (Kingma & Ba), and the
   critic's forward pass against plain numpy (LayerNorm with biased variance, eps 1e-5).
2. Traces written by make_fake_trace.py (float64) pass with error < 1e-6, also with --resync.
3. Their corrupted copies (one tensor off by 1e-3 relative) fail with exit status 1.
4. Traces computed in float32 pass (how much tolerance single precision uses up).
5. Bad input exits with status 2 and a one-line error: missing file, truncated file, garbage,
   wrong format, wrong version, missing tensor, misshapen tensor, bad config.

Ends with the line 'N passed, N failed'.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pars_ref  # noqa: E402
import check_trace  # noqa: E402
import make_fake_trace  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402
from safetensors import safe_open  # noqa: E402

RESULTS = {"passed": 0, "failed": 0}


def report(name: str, ok: bool, detail: str = ""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'}  {name}{('  -- ' + detail) if detail else ''}", flush=True)


def run_check(argv):
    """check_trace.main(argv) -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = check_trace.main(argv)
    return code, out.getvalue(), err.getvalue()


def table_errors(stdout: str):
    """{case: (loss err, tensor err)} from check_trace's table."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\S+)\s+\d+\s+(\S+)\s+(\S+)\s+\S+\s+(ok|FAIL)$", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return rows


def test_adam_formula():
    rng = np.random.default_rng(0)
    cfg = pars_ref.Config.from_dict({**make_fake_trace.BASE, "actor_cosine": True,
                                     "actor_cosine_steps": 10, "actor_lr": 1e-3})
    theta, g = rng.standard_normal(7), rng.standard_normal(7)
    m, v = 1e-2 * rng.standard_normal(7), 1e-3 * rng.random(7)
    worst = 0.0
    for count in (0, 3, 9, 10, 25):  # past T the schedule stays at its end value (0)
        opt = pars_ref.actor_optimizer(cfg)
        st = pars_ref.make_opt_state(opt, {"p": jnp.asarray(theta)}, {"p": jnp.asarray(m)},
                                     {"p": jnp.asarray(v)}, count)
        upd, st2 = opt.update({"p": jnp.asarray(g)}, st, {"p": jnp.asarray(theta)})
        got = theta + np.asarray(upd["p"])
        t = count + 1
        lr = 1e-3 * 0.5 * (1 + math.cos(math.pi * min(count, 10) / 10))
        m2, v2 = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        want = theta - lr * (m2 / (1 - 0.9 ** t)) / (np.sqrt(v2 / (1 - 0.999 ** t)) + 1e-8)
        mu, nu, c2 = pars_ref.adam_fields(st2)
        worst = max(worst, float(np.max(np.abs(got - want))),
                    float(np.max(np.abs(np.asarray(mu["p"]) - m2))),
                    float(np.max(np.abs(np.asarray(nu["p"]) - v2))),
                    abs(int(c2) - t), abs(pars_ref.cosine_lr(cfg, count) - lr))
    report("Adam + cosine schedule match the textbook formula", worst < 1e-12, f"max diff {worst:.1e}")


def test_forward():
    rng = np.random.default_rng(1)
    cfg = pars_ref.Config.from_dict({**make_fake_trace.BASE, "critic_layer_norm": True,
                                     "n_critics": 3, "activation": "silu"})
    shapes = pars_ref.param_shapes(cfg, 4, 2)
    t = {n: rng.standard_normal(s) for n, s in shapes["critic"].items()}
    params = pars_ref._stack(cfg, shapes, "critic", t.__getitem__, jnp.float64)
    s, a = rng.standard_normal((5, 4)), rng.uniform(-1, 1, (5, 2))
    got = np.asarray(pars_ref.critic_apply(cfg, params, jnp.asarray(s), jnp.asarray(a)))
    want = np.zeros((3, 5))
    for i in range(3):
        x = np.concatenate([s, a], 1)
        for l in range(cfg.critic_depth):
            z = x @ t[f"critic.{i}.layer{l}.weight"] + t[f"critic.{i}.layer{l}.bias"]
            mu, var = z.mean(1, keepdims=True), z.var(1, keepdims=True)
            z = (z - mu) / np.sqrt(var + 1e-5) * t[f"critic.{i}.layer{l}.ln_scale"] \
                + t[f"critic.{i}.layer{l}.ln_bias"]
            x = z / (1 + np.exp(-z))
        want[i] = (x @ t[f"critic.{i}.layer{cfg.critic_depth}.weight"]
                   + t[f"critic.{i}.layer{cfg.critic_depth}.bias"])[:, 0]
    d = float(np.max(np.abs(got - want)))
    report("critic forward (LN + SiLU, 3 members) matches numpy", d < 1e-12, f"max diff {d:.1e}")


def test_traces(tmp: str):
    good = os.path.join(tmp, "f64")
    with contextlib.redirect_stdout(io.StringIO()):
        make_fake_trace.main([good])
    paths = sorted(os.path.join(good, f) for f in os.listdir(good) if f.endswith(".safetensors"))
    for mode in ([], ["--resync"]):
        code, out, err = run_check(mode + paths)
        errs = table_errors(out)
        # Resynced steps start from the float32-rounded after-states, whose rounding shows in
        # near-cancelling losses (loss.actor ~ -1 + beta * bc); tensors stay at rounding level.
        cols = (lambda v: max(v)) if not mode else (lambda v: v[1])
        worst = max((cols(v) for v in errs.values()), default=float("inf"))
        report(f"{len(paths)} float64 fake traces pass {' '.join(mode)}".rstrip(),
               code == 0 and len(errs) == len(paths) and worst < 1e-6,
               f"exit {code}, largest {'error' if not mode else 'tensor error'} {worst:.2e}")
        if mode == []:
            print(out)
    for p in sorted(os.listdir(os.path.join(good, "corrupt"))):
        code, out, _ = run_check([os.path.join(good, "corrupt", p)])
        hit = "critic.0.layer0.weight differs" in out
        report(f"corrupted {p} fails", code == 1 and hit, f"exit {code}")

    f32 = os.path.join(tmp, "f32")
    with contextlib.redirect_stdout(io.StringIO()):
        make_fake_trace.main([f32, "--dtype", "float32", "--steps", "8"])
    paths32 = sorted(os.path.join(f32, f) for f in os.listdir(f32) if f.endswith(".safetensors"))
    code, out, err = run_check(paths32)
    errs = table_errors(out)
    worst = max((max(v) for v in errs.values()), default=float("inf"))
    report("float32 traces (single-precision run of the same update) pass", code == 0,
           f"exit {code}, largest error {worst:.2e}")
    print(out)
    return paths[0]


def test_bad_input(tmp: str, good: str):
    tensors = load_file(good)
    with safe_open(good, framework="numpy") as f:
        meta = f.metadata()
    raw = open(good, "rb").read()

    def write(name, data=None, t=None, m=None):
        p = os.path.join(tmp, name)
        if data is not None:
            open(p, "wb").write(data)
        else:
            save_file(t if t is not None else tensors, p, metadata=m if m is not None else meta)
        return p

    first_after = next(n for n in tensors if n.startswith("step2.after.critic.1."))
    cases = [
        ("missing file", os.path.join(tmp, "nope.safetensors"), "no such file"),
        ("truncated file", write("trunc.safetensors", raw[: len(raw) // 2]), "not a readable"),
        ("garbage file", write("garbage.safetensors", b"\x07" * 100), "not a readable"),
        ("empty file", write("empty.safetensors", b""), "not a readable"),
        ("wrong format", write("fmt.safetensors", m={**meta, "format": "other"}), "format"),
        ("no metadata format", write("nofmt.safetensors",
                                     m={k: v for k, v in meta.items() if k != "format"}), "format"),
        ("wrong version", write("ver.safetensors", m={**meta, "version": "2"}), "version"),
        ("missing tensor", write("miss.safetensors",
                                 t={k: v for k, v in tensors.items() if k != first_after}),
         f"missing tensor '{first_after}'"),
        ("missing Adam step", write("miss2.safetensors",
                                    t={k: v for k, v in tensors.items() if k != "init.critic_adam.step"}),
         "missing tensor 'init.critic_adam.step'"),
        ("misshapen tensor", write("shape.safetensors",
                                   t={**tensors, "step1.batch.rewards": tensors["step1.batch.rewards"][:-1]}),
         "step1.batch.rewards' has shape"),
        ("config not JSON", write("cfg.safetensors", m={**meta, "config": "{oops"}), "not JSON"),
        ("config missing field", write("cfg2.safetensors", m={**meta, "config": json.dumps(
            {k: v for k, v in json.loads(meta["config"]).items() if k != "gamma"})}), "'gamma'"),
        ("steps beyond the trace", write("steps.safetensors", m={**meta, "steps": "99"}), "missing tensor"),
    ]
    for name, path, needle in cases:
        code, out, err = run_check([path])
        lines = [l for l in err.splitlines() if l.strip()]
        ok = code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
        report(f"bad input: {name} -> exit 2", ok, lines[0] if lines else f"exit {code}, no message")
    # One bad file among good ones still makes the run exit 2, and the good one is still checked.
    code, out, err = run_check([good, cases[0][1]])
    report("bad input among good traces -> exit 2", code == 2 and " ok" in out, f"exit {code}")


def main() -> int:
    test_adam_formula()
    test_forward()
    with tempfile.TemporaryDirectory() as tmp:
        good = test_traces(tmp)
        test_bad_input(tmp, good)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
