"""The native environments (MuJoCo locomotion, AntMaze, Adroit, PointMaze) as gymnasium
environments. The physics runs in Rust; these are the environments `pars eval` and the
training loops use, cross-checked against Gymnasium's and Gymnasium-Robotics' own."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import gymnasium as gym
import numpy as np

from . import _native


def env_ids() -> List[str]:
    """Every native environment id (D4RL's names: hopper-v2, antmaze-umaze-v2, door-v1, ...)."""
    return [e[0] for e in _native.list_envs()]


class ParsEnv(gym.Env):
    """A native environment behind gymnasium's API.

    Observations are float32 vectors; actions are float32 in [-1, 1] (the native
    environments scale them to the actuators' ranges). Episodes end with `terminated`
    when the task ends and `truncated` at the time limit; `info["success"]` says whether
    a goal-reaching task (AntMaze, PointMaze, Adroit) has been solved."""

    metadata: Dict[str, Any] = {"render_modes": []}

    def __init__(self, env_id: str, seed: Optional[int] = None) -> None:
        self._env = _native.NativeEnv(env_id)
        self.env_id = env_id
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, shape=(self._env.obs_dim,), dtype=np.float32
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self._env.act_dim,), dtype=np.float32)
        self.max_episode_steps = self._env.max_episode_steps
        self._first_seed = seed
        self._needs_reset = True

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
    ) -> Tuple[np.ndarray, Dict[str, Any]]:
        if seed is None and self._first_seed is not None:
            seed, self._first_seed = self._first_seed, None
        super().reset(seed=seed)
        # each episode's start is drawn from the env's generator, so a seeded first
        # reset fixes every later episode too (gymnasium's convention)
        native_seed = int(self.np_random.integers(0, 2**63 - 1))
        self._needs_reset = False
        return self._env.reset(native_seed), {}

    def step(self, action: Any) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        a = np.asarray(action, dtype=np.float32).reshape(-1)
        if a.shape[0] != self._env.act_dim:
            raise ValueError(f"action has {a.shape[0]} values, {self.env_id} takes {self._env.act_dim}")
        obs, reward, terminated, truncated, success = self._env.step(np.ascontiguousarray(a))
        if terminated or truncated:
            self._needs_reset = True
        info: Dict[str, Any] = {} if success is None else {"success": bool(success)}
        return obs, float(reward), bool(terminated), bool(truncated), info

    def __repr__(self) -> str:
        return f"ParsEnv({self.env_id!r})"


def make_env(env_id: str, seed: Optional[int] = None) -> ParsEnv:
    """A gymnasium environment over the native `env_id` (see `env_ids()`). With `seed`,
    the first `reset()` is `reset(seed=seed)`. Also registered as
    `gymnasium.make("pars_rl/<env_id>")`."""
    return ParsEnv(env_id, seed)


def _register() -> None:
    for env_id in env_ids():
        name = f"pars_rl/{env_id}"
        if name not in gym.registry:
            # no TimeLimit wrapper: the native environment truncates at its own limit; a
            # string entry point keeps the spec serialisable (Minari stores it)
            gym.register(name, entry_point="pars_rl._envs:ParsEnv", kwargs={"env_id": env_id})


_register()
