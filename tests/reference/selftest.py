"""Self-test of the Python reference and checker; needs no Rust tool.

Usage: python tests/reference/selftest.py

1. Adam/cosine schedule of the reference against the textbook formula (Kingma & Ba), the
   critic's forward pass against plain numpy (LayerNorm with biased variance, eps 1e-5), and
   SAC's tanh-Gaussian log-density and temperature gradient against the naive formulas.
2. Traces written by make_fake_trace.py (float64; PARS, ReBRAC and SAC cases) pass with
   error < 1e-6, also with --resync.
3. Their corrupted copies (one tensor off by 1e-3 relative) fail with exit status 1, as do a
   SAC trace with its temperature or entropy off and the ReBRAC trace replayed without its
   critic term or with targets moved every step.
4. Traces computed in float32 pass (how much tolerance single precision uses up).
5. Bad input exits with status 2 and a one-line error: missing file, truncated file, garbage,
   wrong format, wrong version, missing tensor, misshapen tensor, bad config, and a ReBRAC /
   SAC trace without its next actions / actor noise.

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
import sac_ref  # noqa: E402
import check_trace  # noqa: E402
import jax  # noqa: E402
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


def test_sac_policy():
    """sac_ref's log pi against the textbook density of tanh(N(mu, sigma^2)) (log N(u) minus
    log(1 - tanh(u)^2) = -2 log cosh u, fine for moderate u), the hard clip's zero gradient,
    the stable log-det at large u, and the temperature gradient alpha * (H - H_target)."""
    rng = np.random.default_rng(2)
    # a linear actor (depth 0): the gradient w.r.t. its bias is d log pi / d head
    cfg = sac_ref.Config.from_dict({**make_fake_trace.SAC_BASE, "actor_depth": 0,
                                    "target_entropy": -2.0, "log_std_min": -1.0,
                                    "log_std_max": 0.5})
    W, b = jnp.asarray(0.7 * rng.standard_normal((4, 4))), jnp.asarray(0.3 * rng.standard_normal(4))
    s, eps = rng.standard_normal((64, 4)), rng.standard_normal((64, 2))
    actor = {"layer0.weight": W, "layer0.bias": b}
    a, logp = (np.asarray(x) for x in sac_ref.sample(cfg, actor, jnp.asarray(s), jnp.asarray(eps)))
    head = s @ np.asarray(W) + np.asarray(b)
    mu, sigma = head[:, :2], np.exp(np.clip(head[:, 2:], -1.0, 0.5))
    u = mu + sigma * eps
    normal = -0.5 * ((u - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    want = np.sum(normal + 2 * np.log(np.cosh(u)), axis=1)  # 1 - tanh^2 = 1 / cosh^2
    d = max(float(np.max(np.abs(a - np.tanh(u)))), float(np.max(np.abs(logp - want))))
    row = lambda bb, si, ei: sac_ref.sample(cfg, {"layer0.weight": W, "layer0.bias": bb},
                                            si[None], ei[None])[1][0]
    g = np.asarray(jax.vmap(jax.grad(row), (None, 0, 0))(b, jnp.asarray(s), jnp.asarray(eps)))
    clipped = (head[:, 2:] < -1.0) | (head[:, 2:] > 0.5)
    clip_ok = bool(np.all(g[:, 2:][clipped] == 0.0) and np.all(g[:, 2:][~clipped] != 0.0)
                   and clipped.any() and (~clipped).any())
    # u = 30: 1 - tanh^2 underflows in the naive form; -log(1 - tanh^2 30) = 60 - 2 log 2
    big = float(sac_ref.sample(cfg, {"layer0.weight": jnp.zeros((4, 4)),
                                     "layer0.bias": jnp.asarray([30.0, 0.0, -1.0, -1.0])},
                               jnp.zeros((1, 4)), jnp.zeros((1, 2)))[1][0])
    big_want = 60.0 - 2 * np.log(2.0) + 2 * (1.0 - 0.5 * np.log(2 * np.pi))
    g_la = float(jax.grad(lambda x: sac_ref.temperature_loss(cfg, x, 1.7))(jnp.asarray([-0.3]))[0])
    d_t = abs(g_la - np.exp(-0.3) * (1.7 - (-2.0)))
    report("SAC tanh-Gaussian log pi, log-std clip and temperature gradient match the formulas",
           d < 1e-12 and clip_ok and abs(big - big_want) < 1e-9 and d_t < 1e-12,
           f"max diff {d:.1e}, clipped gradients zero {clip_ok}, log pi at u=30 {big:.6f} "
           f"(want {big_want:.6f}), temperature gradient diff {d_t:.1e}")


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
    test_variants(tmp, good)

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
    return paths[0], good


def rewrite(src: str, dst: str, tensors=None, config=None, drop=(), drop_config=()) -> str:
    """A copy of trace src with some tensors replaced or dropped, config fields changed or
    dropped."""
    t = {k: v for k, v in load_file(src).items() if k not in drop}
    with safe_open(src, framework="numpy") as f:
        meta = f.metadata()
    cfg = {k: v for k, v in {**json.loads(meta["config"]), **(config or {})}.items()
           if k not in drop_config}
    save_file({**t, **(tensors or {})}, dst, metadata={**meta, "config": json.dumps(cfg)})
    return dst


def test_variants(tmp: str, good: str):
    """What only SAC and ReBRAC have must be checked too: the temperature, its Adam state and
    the entropy (off by 1e-3 relative), ReBRAC's critic term and its target schedule."""
    sac = os.path.join(good, "sac.safetensors")
    t = load_file(sac)
    for name, needle in (("step3.after.log_alpha", "log_alpha differs"),
                         ("step2.after.log_alpha_adam.v", "log_alpha_adam.v differs"),
                         ("step4.loss.entropy", "loss.entropy =")):
        bad = rewrite(sac, os.path.join(tmp, "sac_bad.safetensors"),
                      {name: np.asarray(t[name] * (1 + 1e-3), np.float32)})
        code, out, _ = run_check([bad])
        report(f"SAC trace with {name} off by 1e-3 fails", code == 1 and needle in out, f"exit {code}")
    rebrac = os.path.join(good, "rebrac.safetensors")
    for change, what in (({"beta_critic": 0.0}, "without the critic BC term"),
                         ({"target_update": "every_critic"}, "with targets moved every step")):
        code, out, _ = run_check([rewrite(rebrac, os.path.join(tmp, "rebrac_bad.safetensors"),
                                          config=change)])
        report(f"ReBRAC trace replayed {what} fails", code == 1, f"exit {code}")


def test_bad_input(tmp: str, good: str, fake_dir: str):
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
    # what ReBRAC and SAC traces need beyond the PARS format
    rebrac, sac = (os.path.join(fake_dir, f"{n}.safetensors") for n in ("rebrac", "sac"))
    cases += [
        ("ReBRAC trace without next actions",
         rewrite(rebrac, os.path.join(tmp, "rb.safetensors"), drop=("step1.batch.next_actions",)),
         "missing tensor 'step1.batch.next_actions'"),
        ("SAC trace without actor noise",
         rewrite(sac, os.path.join(tmp, "sac1.safetensors"), drop=("step2.draw.actor_eps",)),
         "missing tensor 'step2.draw.actor_eps'"),
        ("SAC trace without its temperature",
         rewrite(sac, os.path.join(tmp, "sac2.safetensors"), drop=("step3.after.log_alpha",)),
         "missing tensor 'step3.after.log_alpha'"),
        ("SAC config without target_entropy",
         rewrite(sac, os.path.join(tmp, "sac3.safetensors"), drop_config=("target_entropy",)),
         "'target_entropy'"),
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
    test_sac_policy()
    with tempfile.TemporaryDirectory() as tmp:
        good, fake_dir = test_traces(tmp)
        test_bad_input(tmp, good, fake_dir)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
