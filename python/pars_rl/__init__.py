"""pars_rl: PARS (Penalizing infeasible Actions and Reward Scaling), TD3+BC, IQL, ReBRAC and
SAC on a native Rust engine, from numpy arrays, D4RL/Minari HDF5 files and gymnasium.

    import pars_rl
    data = pars_rl.Dataset(observations, actions, rewards, terminals, timeouts)
    algo = pars_rl.PARSConfig("hopper-medium-v2").create(seed=0)
    algo.fit(data, n_steps=100_000, eval_env="hopper-v2")
    actions = algo.predict(observations[:8])
    pars_rl.evaluate(algo, "hopper-v2", episodes=10)

A `fit` writes the run directory `pars train` writes (config, metrics.csv, checkpoints,
policy.safetensors), so runs made here and by the command line are interchangeable.
"""

from __future__ import annotations

import os as _os

_ASSETS = _os.path.join(_os.path.dirname(__file__), "_assets")
# The MuJoCo model files ship inside the wheel; an explicit setting still wins.
if "PARS_MUJOCO_PACKAGES" not in _os.environ and _os.path.isdir(_ASSETS):
    _os.environ["PARS_MUJOCO_PACKAGES"] = _ASSETS

from ._algos import (  # noqa: E402
    Algorithm,
    Config,
    IQLConfig,
    PARSConfig,
    ReBRACConfig,
    SACConfig,
    TD3PlusBCConfig,
    presets,
)
from ._dataset import Dataset, load_dataset  # noqa: E402
from ._envs import ParsEnv, env_ids, make_env  # noqa: E402
from ._policy import Policy, evaluate  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Algorithm",
    "Config",
    "Dataset",
    "IQLConfig",
    "PARSConfig",
    "ParsEnv",
    "Policy",
    "ReBRACConfig",
    "SACConfig",
    "TD3PlusBCConfig",
    "env_ids",
    "evaluate",
    "load_dataset",
    "make_env",
    "presets",
]
