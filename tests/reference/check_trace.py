"""Replay PARS (and IQL, SAC) update traces with the reference implementation and check agreement.

Usage: python tests/reference/check_trace.py [--tol 1e-4] [--resync] [--group-scale] [--per-step]
                                            TRACE...

For each trace: start from the `init.` tensors, replay every step with the trace's batches and
random draws, and compare each logged loss and every parameter / target / Adam tensor after each
step with the reference. Error of a tensor = max|ours - ref| / max(max|ref|, 1e-6), where ours
is the trace's value and ref the reference's. A trace fails when any error exceeds the tolerance.

--group-scale relaxes the denominator for tensors (see --help). Failing losses get a note when
they agree relative to the size of the terms they sum (cancellation in float32).

By default the reference runs on its own state from `init.` on (errors compound over steps, as
a real independent replay); --resync restarts every step from the trace's previous `after.`
state, which isolates the error of each single step.

Exit status: 0 all traces agree; 1 some trace disagrees; 2 bad input (file missing, truncated or
unparseable, wrong format/version, missing or misshapen tensor, bad config).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iql_ref  # noqa: E402
import pars_ref  # noqa: E402
import sac_ref  # noqa: E402

FORMAT = "pars-trace"
VERSION = "1"
DENOM_FLOOR = 1e-6
STATE_LOSSES = ("td", "pa", "q_data", "target_mean")
ACTOR_LOSSES = ("actor", "bc", "lambda")


class BadInput(Exception):
    """The trace cannot be checked; the message is one line."""


def rel_error(ours, ref, scale: float = 0.0) -> float:
    """max|ours - ref| / max(max|ref|, 1e-6); with scale > 0 the denominator is at least scale."""
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    if ours.size == 0:
        return 0.0
    diff = float(np.max(np.abs(ours - ref)))
    if not np.isfinite(diff):
        return float("inf")
    return diff / max(float(np.max(np.abs(ref))), scale, DENOM_FLOOR)


def group_of(name: str) -> str:
    """'critic_adam.m.critic.3.layer2.bias' -> 'critic_adam.m.critic.3', 'critic.3.layer0.weight'
    -> 'critic.3': the tensors of one kind of one network member."""
    head, _, _ = name.partition(".layer")
    return head


def load_trace(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    if not os.path.isfile(path):
        raise BadInput(f"{path}: no such file")
    try:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
        tensors = load_file(path)
    except Exception as e:  # safetensors raises several types for truncated / garbage files
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(f"{path}: not a readable safetensors file ({msg})") from None
    return tensors, meta


class Trace:
    """A loaded, validated trace."""

    ref = pars_ref
    actor_losses = ACTOR_LOSSES
    actor_every_step = False  # True: no policy delay, every step updates the actor (IQL)

    def __init__(self, path: str):
        self.path = path
        self.tensors, meta = load_trace(path)
        fmt = meta.get("format")
        if fmt != FORMAT:
            raise BadInput(f"{path}: metadata format is {fmt!r}, expected {FORMAT!r}")
        ver = meta.get("version")
        if ver != VERSION:
            raise BadInput(f"{path}: trace version {ver!r} is not supported (expected {VERSION!r})")
        for key in ("case", "config", "obs_dim", "act_dim", "steps"):
            if key not in meta:
                raise BadInput(f"{path}: metadata has no '{key}'")
        self.case = meta["case"]
        try:
            cfg = json.loads(meta["config"])
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}: metadata 'config' is not JSON ({e})") from None
        try:
            self.cfg = pars_ref.Config.from_dict(cfg)
        except pars_ref.ConfigError as e:
            raise BadInput(f"{path}: {e}") from None
        self.obs_dim = self._meta_int(meta, "obs_dim", 1)
        self.act_dim = self._meta_int(meta, "act_dim", 1)
        self.steps = self._meta_int(meta, "steps", 0)
        self.shapes = pars_ref.param_shapes(self.cfg, self.obs_dim, self.act_dim)
        self._validate()

    def _meta_int(self, meta, key, minimum) -> int:
        try:
            v = int(meta[key])
        except ValueError:
            raise BadInput(f"{self.path}: metadata '{key}' is not an integer: {meta[key]!r}") from None
        if v < minimum:
            raise BadInput(f"{self.path}: metadata '{key}' must be >= {minimum}, got {v}")
        return v

    def get(self, name: str, shape: Optional[tuple] = None, dtype: str = "float") -> np.ndarray:
        if name not in self.tensors:
            raise BadInput(f"{self.path}: missing tensor '{name}'")
        t = self.tensors[name]
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise BadInput(
                f"{self.path}: tensor '{name}' has shape {list(t.shape)}, expected {list(shape)}"
            )
        if dtype == "float" and not np.issubdtype(t.dtype, np.floating):
            raise BadInput(f"{self.path}: tensor '{name}' has dtype {t.dtype}, expected a float")
        if dtype == "int" and not np.issubdtype(t.dtype, np.integer):
            raise BadInput(f"{self.path}: tensor '{name}' has dtype {t.dtype}, expected an integer")
        return t

    def state_shapes(self) -> Dict[str, tuple]:
        out: Dict[str, tuple] = {}
        for net in pars_ref.NETS:
            out.update(self.shapes[net])
        for net in ("actor", "critic"):
            for n, s in self.shapes[net].items():
                out[f"{net}_adam.m.{n}"] = s
                out[f"{net}_adam.v.{n}"] = s
            out[f"{net}_adam.step"] = ()
        return out

    def _validate(self):
        """Every tensor the format requires is there with the right shape and dtype."""
        c, B = self.cfg, self.cfg.batch_size
        shapes = self.state_shapes()
        used = set()
        prefixes = ["init."] + [f"step{k}.after." for k in range(1, self.steps + 1)]
        for p in prefixes:
            for n, s in shapes.items():
                self.get(p + n, s, "int" if n.endswith("_adam.step") else "float")
                used.add(p + n)
        for k in range(1, self.steps + 1):
            for n, s in self.batch_shapes().items():
                self.get(f"step{k}.batch.{n}", s)
                used.add(f"step{k}.batch.{n}")
            self.get(f"step{k}.draw.target_eps", (B, self.act_dim))
            sub = self.get(f"step{k}.draw.target_subset", (c.critic_subset,), "int")
            self._check_indices(f"step{k}.draw.target_subset", sub)
            used.update({f"step{k}.draw.target_eps", f"step{k}.draw.target_subset"})
            if c.penalty:
                self.get(f"step{k}.draw.pa_u", (B, self.act_dim))
                used.add(f"step{k}.draw.pa_u")
            if c.actor_subset is not None and c.is_actor_step(k):
                sub = self.get(f"step{k}.draw.actor_subset", (c.actor_subset,), "int")
                self._check_indices(f"step{k}.draw.actor_subset", sub)
                used.add(f"step{k}.draw.actor_subset")
            for n in STATE_LOSSES:
                self.get(f"step{k}.loss.{n}", ())
                used.add(f"step{k}.loss.{n}")
            for n in ACTOR_LOSSES:
                if f"step{k}.loss.{n}" in self.tensors:
                    self.get(f"step{k}.loss.{n}", ())
                    used.add(f"step{k}.loss.{n}")
        self.unused = sorted(set(self.tensors) - used)

    def _check_indices(self, name, idx):
        if np.any(idx < 0) or np.any(idx >= self.cfg.n_critics):
            raise BadInput(
                f"{self.path}: tensor '{name}' has member indices {idx.tolist()} outside "
                f"0..{self.cfg.n_critics - 1}"
            )

    def batch_shapes(self) -> Dict[str, tuple]:
        B = self.cfg.batch_size
        shapes = {
            "obs": (B, self.obs_dim),
            "actions": (B, self.act_dim),
            "rewards": (B,),
            "next_obs": (B, self.obs_dim),
            "dones": (B,),
        }
        # The dataset's next actions: needed by ReBRAC's critic term, checked whenever written
        if getattr(self.cfg, "beta_critic", 0.0) > 0 or "step1.batch.next_actions" in self.tensors:
            shapes["next_actions"] = (B, self.act_dim)
        return shapes

    def batch(self, k: int):
        return {n: np.asarray(self.tensors[f"step{k}.batch.{n}"], np.float64)
                for n in self.batch_shapes()}

    def draw(self, k: int):
        d = {
            "target_eps": np.asarray(self.tensors[f"step{k}.draw.target_eps"], np.float64),
            "target_subset": np.asarray(self.tensors[f"step{k}.draw.target_subset"], np.int64),
        }
        if self.cfg.penalty:
            d["pa_u"] = np.asarray(self.tensors[f"step{k}.draw.pa_u"], np.float64)
        if self.cfg.actor_subset is not None and self.cfg.is_actor_step(k):
            d["actor_subset"] = np.asarray(self.tensors[f"step{k}.draw.actor_subset"], np.int64)
        return d

    def state(self, prefix: str):
        return pars_ref.state_from_tensors(
            self.cfg, self.shapes, lambda n: self.tensors[prefix + n]
        )


class IqlTrace(Trace):
    """A loaded, validated IQL trace (metadata `algorithm` = `iql`)."""

    ref = iql_ref
    actor_every_step = True

    def __init__(self, path: str):
        self._open(path)
        self._validate()

    def _open(self, path: str):
        """Metadata, config (parsed by self.ref.Config) and shapes, as Trace.__init__ does."""
        self.path = path
        self.tensors, meta = load_trace(path)
        if meta.get("format") != FORMAT:
            raise BadInput(f"{path}: metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
        if meta.get("version") != VERSION:
            raise BadInput(f"{path}: trace version {meta.get('version')!r} is not supported "
                           f"(expected {VERSION!r})")
        for key in ("case", "config", "obs_dim", "act_dim", "steps"):
            if key not in meta:
                raise BadInput(f"{path}: metadata has no '{key}'")
        self.case = meta["case"]
        try:
            self.cfg = self.ref.Config.from_dict(json.loads(meta["config"]))
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}: metadata 'config' is not JSON ({e})") from None
        except pars_ref.ConfigError as e:
            raise BadInput(f"{path}: {e}") from None
        self.obs_dim = self._meta_int(meta, "obs_dim", 1)
        self.act_dim = self._meta_int(meta, "act_dim", 1)
        self.steps = self._meta_int(meta, "steps", 0)
        self.shapes = self.ref.param_shapes(self.cfg, self.obs_dim, self.act_dim)

    def state_shapes(self) -> Dict[str, tuple]:
        return self.ref.state_shapes(self.cfg, self.shapes)

    def _validate(self):
        B = self.cfg.batch_size
        used = set()
        prefixes = ["init."] + [f"step{k}.after." for k in range(1, self.steps + 1)]
        for p in prefixes:
            for n, s in self.state_shapes().items():
                self.get(p + n, s, "int" if n.endswith("_adam.step") else "float")
                used.add(p + n)
        for k in range(1, self.steps + 1):
            for n, s in self.batch_shapes().items():
                self.get(f"step{k}.batch.{n}", s)
                used.add(f"step{k}.batch.{n}")
            if self.cfg.penalty:
                self.get(f"step{k}.draw.pa_u", (B, self.act_dim))
                used.add(f"step{k}.draw.pa_u")
            for n in iql_ref.LOSSES:
                self.get(f"step{k}.loss.{n}", ())
                used.add(f"step{k}.loss.{n}")
        self.unused = sorted(set(self.tensors) - used)

    def draw(self, k: int):
        if self.cfg.penalty:
            return {"pa_u": np.asarray(self.tensors[f"step{k}.draw.pa_u"], np.float64)}
        return {}

    def state(self, prefix: str):
        return self.ref.state_from_tensors(
            self.cfg, self.shapes, lambda n: self.tensors[prefix + n]
        )


class SacTrace(IqlTrace):
    """A loaded, validated SAC / RLPD trace (metadata `algorithm` = `sac`); reads its
    metadata and state like IQL, its draws and policy delay like PARS."""

    ref = sac_ref
    actor_losses = sac_ref.ACTOR_LOSSES
    actor_every_step = False

    def _validate(self):
        c, B, A = self.cfg, self.cfg.batch_size, self.act_dim
        used = set()
        prefixes = ["init."] + [f"step{k}.after." for k in range(1, self.steps + 1)]
        for p in prefixes:
            for n, s in self.state_shapes().items():
                self.get(p + n, s, "int" if n.endswith("_adam.step") else "float")
                used.add(p + n)
        for k in range(1, self.steps + 1):
            for n, s in self.batch_shapes().items():
                self.get(f"step{k}.batch.{n}", s)
                used.add(f"step{k}.batch.{n}")
            self.get(f"step{k}.draw.target_eps", (B, A))
            sub = self.get(f"step{k}.draw.target_subset", (c.critic_subset,), "int")
            self._check_indices(f"step{k}.draw.target_subset", sub)
            used.update({f"step{k}.draw.target_eps", f"step{k}.draw.target_subset"})
            if c.is_actor_step(k):
                self.get(f"step{k}.draw.actor_eps", (B, A))
                used.add(f"step{k}.draw.actor_eps")
                if c.actor_draws_subset():
                    sub = self.get(f"step{k}.draw.actor_subset", (c.actor_subset,), "int")
                    self._check_indices(f"step{k}.draw.actor_subset", sub)
                    used.add(f"step{k}.draw.actor_subset")
            for n in sac_ref.STATE_LOSSES:
                self.get(f"step{k}.loss.{n}", ())
                used.add(f"step{k}.loss.{n}")
            for n in sac_ref.ACTOR_LOSSES:
                if f"step{k}.loss.{n}" in self.tensors:
                    self.get(f"step{k}.loss.{n}", ())
                    used.add(f"step{k}.loss.{n}")
        self.unused = sorted(set(self.tensors) - used)

    def draw(self, k: int):
        d = {
            "target_eps": np.asarray(self.tensors[f"step{k}.draw.target_eps"], np.float64),
            "target_subset": np.asarray(self.tensors[f"step{k}.draw.target_subset"], np.int64),
        }
        if self.cfg.is_actor_step(k):
            d["actor_eps"] = np.asarray(self.tensors[f"step{k}.draw.actor_eps"], np.float64)
            if self.cfg.actor_draws_subset():
                d["actor_subset"] = np.asarray(self.tensors[f"step{k}.draw.actor_subset"], np.int64)
        return d


def open_trace(path: str) -> Trace:
    """A PARS / TD3+BC trace, or an IQL / SAC trace when its metadata's `algorithm` says so."""
    _, meta = load_trace(path)
    kind = {"iql": IqlTrace, "sac": SacTrace}.get(meta.get("algorithm"), Trace)
    return kind(path)


class Result:
    def __init__(self, trace: Trace):
        self.case = trace.case
        self.steps = trace.steps
        self.loss_err = 0.0
        self.loss_worst = ""
        self.tensor_err = 0.0
        self.tensor_worst = ""
        self.failures: List[str] = []  # first few messages
        self.n_failures = 0
        self.per_step: List[Tuple[int, float, str, float, str]] = []

    def note_failure(self, msg: str):
        self.n_failures += 1
        if len(self.failures) < 10:
            self.failures.append(msg)

    @property
    def ok(self) -> bool:
        return self.n_failures == 0


def check(trace: Trace, tol: float, resync: bool, group_scale: bool) -> Result:
    cfg = trace.cfg
    res = Result(trace)
    step_fn = trace.ref.make_step(cfg)
    to_tensors = trace.ref.state_to_tensors
    state = trace.state("init.")
    names = list(trace.state_shapes())
    for k in range(1, trace.steps + 1):
        if trace.actor_every_step:
            # IQL updates V, the critics and the actor on every step
            new_state, losses, sizes = step_fn(state, trace.batch(k), trace.draw(k))
        else:
            actor_step = cfg.is_actor_step(k)
            has_actor_loss = f"step{k}.loss.actor" in trace.tensors
            if has_actor_loss != actor_step:
                res.note_failure(
                    f"step {k}: trace {'has' if has_actor_loss else 'lacks'} an actor update, "
                    f"but policy_delay={cfg.policy_delay} says it should "
                    f"{'not ' if not actor_step else ''}have one"
                )
            if actor_step:
                for n in trace.actor_losses:
                    if f"step{k}.loss.{n}" not in trace.tensors:
                        raise BadInput(f"{trace.path}: missing tensor 'step{k}.loss.{n}'")
            new_state, losses, sizes = step_fn(state, trace.batch(k), trace.draw(k), actor_step)

        step_loss_err, step_loss_worst = 0.0, ""
        for n, v in losses.items():
            # --group-scale: a loss is measured against the size of the terms it sums
            e = rel_error(trace.tensors[f"step{k}.loss.{n}"], v,
                          float(sizes[n]) if group_scale else 0.0)
            if e > step_loss_err or not step_loss_worst:
                step_loss_err, step_loss_worst = e, f"loss.{n}"
            if e > res.loss_err or not res.loss_worst:
                res.loss_err, res.loss_worst = e, f"step{k}.loss.{n}"
            if not e <= tol:
                ours = trace.tensors[f"step{k}.loss.{n}"]
                note = ""
                e_terms = rel_error(ours, v, float(sizes[n]))
                if e_terms <= tol:
                    note = (f"; {e_terms:.3g} relative to the size of its terms "
                            f"{float(sizes[n]):.4g}: float32 cancellation?")
                res.note_failure(
                    f"step {k}: loss.{n} = {float(ours):.9g}, reference {float(v):.9g} "
                    f"(error {e:.3g}{note})"
                )

        ref = to_tensors(cfg, new_state)
        group_max: Dict[str, float] = {}
        if group_scale:
            for n in names:
                g = group_of(n)
                group_max[g] = max(group_max.get(g, 0.0), float(np.max(np.abs(ref[n]))))
        step_err, step_worst = 0.0, ""
        for n in names:
            ours = trace.tensors[f"step{k}.after.{n}"]
            e = rel_error(ours, ref[n], group_max.get(group_of(n), 0.0))
            if e > step_err or not step_worst:
                step_err, step_worst = e, n
            if e > res.tensor_err or not res.tensor_worst:
                res.tensor_err, res.tensor_worst = e, f"step{k}.after.{n}"
            if not e <= tol:
                res.note_failure(f"step {k}: {n} differs (error {e:.3g})")
        res.per_step.append((k, step_loss_err, step_loss_worst, step_err, step_worst))
        state = trace.state(f"step{k}.after.") if resync else new_state
    return res


def fmt_err(e: float) -> str:
    return f"{e:.2e}"


def print_table(rows: List[List[str]]):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="+", metavar="TRACE")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest allowed error (default 1e-4)")
    ap.add_argument("--resync", action="store_true",
                    help="start every step from the trace's previous after-state")
    ap.add_argument("--per-step", action="store_true", help="print the errors of every step")
    ap.add_argument("--group-scale", action="store_true",
                    help="divide a tensor's error by the largest magnitude over all tensors of "
                         "the same kind of the same member (e.g. every critic_adam.m tensor of "
                         "critic 3) instead of its own: tolerates float32 noise in one-element "
                         "tensors such as the output bias's Adam moments")
    args = ap.parse_args(argv)

    rows = [["case", "steps", "loss err", "tensor err", "worst tensor", "result"]]
    results: List[Result] = []
    bad = False
    for path in args.traces:
        try:
            trace = open_trace(path)
            for n in trace.unused[:1]:
                print(f"warning: {path}: {len(trace.unused)} tensor(s) not in format v1, "
                      f"e.g. '{n}'", file=sys.stderr)
            res = check(trace, args.tol, args.resync, args.group_scale)
        except BadInput as e:
            print(f"error: {e}", file=sys.stderr)
            bad = True
            rows.append([os.path.basename(path), "-", "-", "-", "-", "BAD INPUT"])
            continue
        results.append(res)
        rows.append([res.case, str(res.steps), fmt_err(res.loss_err), fmt_err(res.tensor_err),
                     res.tensor_worst, "ok" if res.ok else "FAIL"])
        if args.per_step:
            print(f"{res.case}:")
            for k, le, ln, te, tn in res.per_step:
                print(f"  step {k:4d}  loss {fmt_err(le)} ({ln})  tensors {fmt_err(te)} ({tn})")
    print_table(rows)
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"\n{r.case}: {r.n_failures} value(s) beyond tolerance {args.tol:g}; first ones:")
        for m in r.failures:
            print(f"  {m}")
    if bad:
        return 2
    if failed:
        return 1
    print(f"\nall {len(results)} trace(s) agree within {args.tol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
