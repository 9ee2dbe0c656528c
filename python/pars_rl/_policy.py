"""Deployable policies and evaluation in the native environments."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Union

import numpy as np

from . import _native

PathLike = Union[str, "os.PathLike[str]"]


def _rows_of(obs: Any, width: int) -> "tuple[np.ndarray, bool]":
    """Observations as a float32 [n, width] batch, and whether a single row was given."""
    a = np.asarray(obs)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"observations must be a numeric array, got dtype {a.dtype}")
    single = a.ndim == 1
    if single:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(
            f"observations must be [obs_dim] or [n, obs_dim], got shape {list(a.shape)}"
        )
    if a.shape[1] != width:
        raise ValueError(f"observations have {a.shape[1]} columns, the policy takes {width}")
    return np.ascontiguousarray(a, dtype=np.float32), single


class Policy:
    """A trained actor: deterministic actions in [-1, 1] for observations.

    `Policy.load("runs/.../policy.safetensors")` reads the file `pars train` and
    `Algorithm.save_policy` write; call it on one observation ([obs_dim] → [act_dim]) or
    a batch ([n, obs_dim] → [n, act_dim]). Non-finite observations raise ValueError."""

    def __init__(self) -> None:
        raise TypeError("use Policy.load(path) or Algorithm.policy()")

    @classmethod
    def _wrap(cls, native: "_native.Policy") -> "Policy":
        p = cls.__new__(cls)
        p._native = native
        return p

    @classmethod
    def load(cls, path: PathLike) -> "Policy":
        """A `policy.safetensors` file, an agent file, or a run directory (its policy
        file), as `pars eval --policy` takes them."""
        path = os.fspath(path)
        if os.path.isdir(path):
            f = os.path.join(path, "policy.safetensors")
            if not os.path.isfile(f):
                raise ValueError(f"run directory {path} has no policy.safetensors (not finished?)")
            path = f
        return cls._wrap(_native.Policy.load(path))

    @property
    def obs_dim(self) -> int:
        return self._native.obs_dim

    @property
    def act_dim(self) -> int:
        return self._native.act_dim

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        rows, single = _rows_of(observations, self.obs_dim)
        out = self._native.act(rows)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"Policy(obs_dim={self.obs_dim}, act_dim={self.act_dim})"


def _python_episodes(
    act: Callable[[np.ndarray], Any], env_id: str, episodes: int, seed: int
) -> Dict[str, Any]:
    """The native evaluation loop (episode i reset with seed + i) around a Python
    callable, so any policy is scored the way `pars eval` scores one."""
    env = _native.NativeEnv(env_id)
    returns, lengths, successes = [], [], []
    for ep in range(episodes):
        obs = env.reset(seed + ep)
        ret, n, success = 0.0, 0, None
        for _ in range(env.max_episode_steps):
            a = np.ascontiguousarray(np.asarray(act(obs), dtype=np.float32).reshape(-1))
            obs, r, terminated, truncated, success = env.step(a)
            ret += r
            n += 1
            if terminated or truncated:
                break
        returns.append(ret)
        lengths.append(n)
        if success is not None:
            successes.append(1.0 if success else 0.0)
    return {"returns": returns, "lengths": lengths, "successes": successes}


def evaluate(
    policy: Any, env_id: str, episodes: int = 10, seed: Optional[int] = None
) -> Dict[str, Any]:
    """Run `episodes` episodes in a native environment and score them.

    policy: a `Policy`, a trained `Algorithm`, a policy file's path, or any callable
        mapping one observation to one action (run in Python, with the same seeds).
    seed: episode i starts from reset seed `seed + i` (default: `pars eval`'s seed).

    Returns a dict: returns, scores (D4RL normalised, 0 = random, 100 = expert; the raw
    return where the environment has no reference), lengths, mean/std of both, and
    success_rate for goal-reaching tasks (else None)."""
    from ._algos import Algorithm  # here: _algos imports this module

    if not isinstance(episodes, (int, np.integer)) or isinstance(episodes, bool) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, not {episodes!r}")
    if isinstance(policy, (str, os.PathLike)):
        policy = Policy.load(policy)
    if isinstance(policy, Algorithm):
        policy = policy.policy()
    if isinstance(policy, Policy):
        return dict(policy._native.evaluate(env_id, int(episodes), seed))
    if not callable(policy):
        raise TypeError(
            f"policy must be a Policy, an Algorithm, a path or a callable, not {type(policy).__name__}"
        )
    seed = _native.EVAL_SEED if seed is None else int(seed)
    eps = _python_episodes(policy, env_id, int(episodes), seed)
    ref = _native.reference_returns(env_id)
    returns = np.asarray(eps["returns"], dtype=np.float64)
    scores = returns if ref is None else 100.0 * (returns - ref[0]) / (ref[1] - ref[0])
    return {
        "env_id": env_id,
        "returns": eps["returns"],
        "scores": scores.tolist(),
        "lengths": eps["lengths"],
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_score": float(scores.mean()),
        "std_score": float(scores.std()),
        "success_rate": float(np.mean(eps["successes"])) if eps["successes"] else None,
    }
