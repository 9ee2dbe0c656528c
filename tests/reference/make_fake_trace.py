"""Write update traces in format v1 with the reference itself (PARS / TD3+BC / ReBRAC cases
with pars_ref, SAC / RLPD cases with sac_ref), for testing check_trace.py without the Rust tool.

Usage: python tests/reference/make_fake_trace.py OUTDIR [--dtype float64|float32] [--steps K]
           [--case NAME ...] [--hidden H] [--batch B] [--critics N]

For every case it writes OUTDIR/CASE.safetensors and a corrupted copy
OUTDIR/corrupt/CASE.safetensors, in which one tensor of one step's after-state is perturbed by
1e-3 relative to its largest magnitude. check_trace.py must accept the first (error ~1e-7 with
--dtype float64) and reject the second.

--dtype float32 runs the whole update in float32, the way an honest single-precision
implementation would: checking those traces measures how much of the 1e-4 tolerance plain
float32 rounding uses up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pars_ref  # noqa: E402
import sac_ref  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

BASE = dict(
    n_critics=2, critic_subset=2, critic_depth=2, actor_depth=2, hidden=32,
    critic_layer_norm=False, activation="relu", penalty=False, alpha=0.0, beta=2.5,
    reward_scale=1.0, gamma=0.99, tau=0.005, policy_noise=0.2, noise_clip=0.5,
    infeasible_distance=100.0, policy_delay=2, actor_lr=3e-4, critic_lr=3e-4,
    actor_cosine=False, actor_cosine_steps=1_000_000, actor_subset=None, q_min=-100.0,
    batch_size=24,
)

# name -> (config overrides, obs_dim, act_dim, reward kind)
CASES = {
    "td3bc": (dict(), 6, 3, "normal"),
    "pars_antmaze": (dict(n_critics=4, critic_depth=3, actor_depth=3, critic_layer_norm=True,
                          penalty=True, alpha=0.001, beta=0.01, reward_scale=10000.0,
                          gamma=0.995, infeasible_distance=1000.0, q_min=0.0), 7, 4, "binary"),
    "pars_adroit_cosine": (dict(n_critics=5, critic_layer_norm=True, activation="gelu",
                                penalty=True, alpha=0.01, beta=0.1, reward_scale=10.0,
                                actor_cosine=True, actor_cosine_steps=5, q_min=-715.0),
                           5, 3, "normal"),
    "online_subset1_beta0": (dict(n_critics=4, critic_layer_norm=True, activation="silu",
                                  penalty=True, alpha=0.1, beta=0.0, actor_subset=1,
                                  reward_scale=5.0, q_min=-366.0, policy_noise=0.0),
                             6, 2, "normal"),
    "subset2_delay1_sigmoid": (dict(n_critics=3, critic_layer_norm=True, activation="sigmoid",
                                    penalty=True, alpha=0.5, beta=0.5, actor_subset=2,
                                    policy_delay=1, critic_subset=1), 4, 3, "normal"),
    "identity_noln": (dict(activation="identity", penalty=True, alpha=0.01, critic_depth=1,
                           actor_depth=1), 4, 2, "normal"),
    "gelu_tanh": (dict(activation="gelu", gelu_approximate=True, critic_layer_norm=True,
                       policy_delay=3), 5, 2, "normal"),
    # ReBRAC: BC in the critic target against the batch's next actions, targets moved only
    # with the actor (the delay makes skipping them on critic-only steps visible)
    "rebrac": (dict(critic_depth=3, actor_depth=3, critic_layer_norm=True, beta=0.05,
                    beta_critic=0.5, target_update="with_actor"), 6, 3, "normal"),
}

SAC_BASE = dict(
    n_critics=2, critic_subset=2, critic_depth=2, actor_depth=2, hidden=32,
    critic_layer_norm=False, activation="relu", reward_scale=1.0, reward_shift=0.0, gamma=0.99,
    tau=0.005, policy_delay=1, actor_lr=3e-4, critic_lr=3e-4, temperature_lr=3e-4,
    actor_cosine=False, actor_cosine_steps=1_000_000, actor_subset=None, batch_size=24,
    init_temperature=0.2, target_entropy_scale=1.0, backup_entropy=True, log_std_min=-20.0,
    log_std_max=2.0, target_update="every_critic",
)

# SAC / RLPD cases, as CASES; target_entropy = -scale * act_dim is filled in by make_case
SAC_CASES = {
    "sac": (dict(), 6, 3, "normal"),
    # RLPD-style: LN ensemble, target min over a random 2, actor mean of all (no draw), H = -|A|/2
    "rlpd_ln_mean": (dict(n_critics=4, critic_layer_norm=True, activation="gelu",
                          critic_depth=3, actor_depth=3, actor_subset=4,
                          target_entropy_scale=0.5, reward_shift=-1.0), 5, 3, "binary"),
    # a drawn actor subset, delay 2 with an offset, no entropy backup, cosine actor rate and a
    # narrow log-std range so the hard clip cuts some gradients
    "sac_subset_delay_clip": (dict(n_critics=4, critic_subset=1, critic_layer_norm=True,
                                   activation="silu", actor_subset=2, policy_delay=2,
                                   step_offset=1, backup_entropy=False, reward_scale=2.0,
                                   actor_cosine=True, actor_cosine_steps=3, log_std_min=0.0,
                                   log_std_max=1.0), 4, 2, "normal"),
}
ALL_CASES = {**CASES, **SAC_CASES}


def f32(x):
    return np.asarray(x, np.float32)


def init_tensors(cfg: pars_ref.Config, shapes, rng) -> dict:
    """A non-trivial starting state: He-uniform hidden weights, larger-than-usual output
    weights (so Q is not ~0), random LN affine terms, targets near the online nets, non-zero
    Adam moments and step counts."""
    t = {}
    for net in ("actor", "critic"):
        for n, s in shapes[net].items():
            if n.endswith(".weight"):
                last = n.endswith(f"layer{cfg.actor_depth if net == 'actor' else cfg.critic_depth}.weight")
                bound = 0.3 if last else np.sqrt(6.0 / s[0])
                v = rng.uniform(-bound, bound, s)
            elif n.endswith(".ln_scale"):
                v = 1.0 + 0.1 * rng.standard_normal(s)
            elif n.endswith(".ln_bias"):
                v = 0.1 * rng.standard_normal(s)
            else:
                v = 0.1 + 0.05 * rng.standard_normal(s)
            t[n] = f32(v)
            t[n.replace(f"{net}.", f"{net}_target.", 1)] = f32(v + 0.01 * rng.standard_normal(s))
            t[f"{net}_adam.m.{n}"] = f32(1e-3 * rng.standard_normal(s))
            t[f"{net}_adam.v.{n}"] = f32(1e-5 * rng.random(s))
    t["actor_adam.step"] = np.asarray(3, np.int64)
    t["critic_adam.step"] = np.asarray(7, np.int64)
    return t


def sac_init_tensors(cfg: sac_ref.Config, shapes, rng) -> dict:
    """As init_tensors (no actor target), plus a learned temperature with its own Adam state."""
    t = {n: v for n, v in init_tensors(cfg, shapes, rng).items()
         if not n.startswith("actor_target.")}
    t["log_alpha"] = f32([np.log(SAC_BASE["init_temperature"]) + 0.1 * rng.standard_normal()])
    t["log_alpha_adam.m"] = f32(1e-3 * rng.standard_normal(1))
    t["log_alpha_adam.v"] = f32(1e-5 * rng.random(1))
    t["log_alpha_adam.step"] = np.asarray(5, np.int64)
    return t


def make_case(name: str, steps: int, dtype, seed: int, sizes=None):
    sac = name in SAC_CASES
    overrides, obs_dim, act_dim, reward_kind = ALL_CASES[name]
    cfg_dict = {**(SAC_BASE if sac else BASE), **overrides, **(sizes or {})}
    if sac:
        cfg_dict["target_entropy"] = -cfg_dict["target_entropy_scale"] * act_dim
    ref = sac_ref if sac else pars_ref
    cfg = ref.Config.from_dict(cfg_dict)
    rng = np.random.default_rng(seed)
    shapes = ref.param_shapes(cfg, obs_dim, act_dim)
    init = (sac_init_tensors if sac else init_tensors)(cfg, shapes, rng)
    out = {f"init.{n}": v for n, v in init.items()}
    state = ref.state_from_tensors(cfg, shapes, init.__getitem__, dtype)
    step_fn = ref.make_step(cfg)
    B = cfg.batch_size
    for k in range(1, steps + 1):
        batch = {
            "obs": f32(rng.standard_normal((B, obs_dim))),
            "actions": f32(rng.uniform(-1, 1, (B, act_dim))),
            "rewards": f32(rng.integers(0, 2, B) if reward_kind == "binary" else rng.standard_normal(B)),
            "next_obs": f32(rng.standard_normal((B, obs_dim))),
            "dones": f32(rng.random(B) < 0.2),
        }
        # the older cases stay without next actions: traces from before they were written
        if sac or "beta_critic" in cfg_dict:
            batch["next_actions"] = f32(rng.uniform(-1, 1, (B, act_dim)))
        draw = {
            "target_eps": f32(rng.standard_normal((B, act_dim))),
            "target_subset": rng.choice(cfg.n_critics, cfg.critic_subset, replace=False).astype(np.int64),
        }
        if not sac and cfg.penalty:
            draw["pa_u"] = f32(rng.uniform(-1, 1, (B, act_dim)))
        actor_step = cfg.is_actor_step(k)
        if actor_step and sac:
            draw["actor_eps"] = f32(rng.standard_normal((B, act_dim)))
        if actor_step and (cfg.actor_draws_subset() if sac else cfg.actor_subset is not None):
            draw["actor_subset"] = rng.choice(cfg.n_critics, cfg.actor_subset, replace=False).astype(np.int64)
        for n, v in batch.items():
            out[f"step{k}.batch.{n}"] = v
        for n, v in draw.items():
            out[f"step{k}.draw.{n}"] = v
        cast = lambda d: {n: (jnp.asarray(v, dtype) if v.dtype.kind == "f" else v) for n, v in d.items()}
        state, losses, _ = step_fn(state, cast(batch), cast(draw), actor_step)
        for n, v in losses.items():
            out[f"step{k}.loss.{n}"] = f32(v).reshape(())
        for n, v in ref.state_to_tensors(cfg, state).items():
            out[f"step{k}.after.{n}"] = v if v.dtype.kind == "i" else f32(v)
    meta = {
        "format": "pars-trace",
        "version": "1",
        "case": name,
        "config": json.dumps(cfg_dict),
        "obs_dim": str(obs_dim),
        "act_dim": str(act_dim),
        "steps": str(steps),
    }
    if sac:
        meta["algorithm"] = "sac"
    return out, meta


def corrupt(tensors: dict, steps: int) -> tuple:
    k = steps // 2 + 1
    name = f"step{k}.after.critic.0.layer0.weight"
    t = tensors[name].copy()
    t.flat[0] += 1e-3 * float(np.max(np.abs(t)))
    return {**tensors, name: t}, name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--case", action="append", choices=sorted(ALL_CASES))
    ap.add_argument("--hidden", type=int, help="override the hidden width of every case")
    ap.add_argument("--batch", type=int, help="override the batch size of every case")
    ap.add_argument("--critics", type=int, help="override the ensemble size of every case")
    args = ap.parse_args(argv)
    dtype = jnp.float64 if args.dtype == "float64" else jnp.float32
    os.makedirs(os.path.join(args.outdir, "corrupt"), exist_ok=True)
    for i, name in enumerate(args.case or ALL_CASES):
        sizes = {k: v for k, v in (("hidden", args.hidden), ("batch_size", args.batch),
                                   ("n_critics", args.critics)) if v is not None}
        tensors, meta = make_case(name, args.steps, dtype, seed=1000 + i, sizes=sizes)
        save_file(tensors, os.path.join(args.outdir, f"{name}.safetensors"), metadata=meta)
        bad, which = corrupt(tensors, args.steps)
        save_file(bad, os.path.join(args.outdir, "corrupt", f"{name}.safetensors"), metadata=meta)
        print(f"wrote {name}: {len(tensors)} tensors, {args.steps} steps ({args.dtype}); "
              f"corrupted copy perturbs {which}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
