"""Configs (a preset plus overrides, resolved as `pars train --preset P --set K=V` does)
and the algorithms they create."""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from . import _native
from ._dataset import Dataset, PathLike
from ._policy import Policy

MetricsRow = Dict[str, float]


@functools.lru_cache(maxsize=1)
def _presets() -> Dict[str, Dict[str, Any]]:
    return json.loads(_native.presets_json())


def presets() -> Dict[str, Dict[str, Any]]:
    """Every preset's resolved settings, keyed by name (what `pars presets NAME` shows).
    Settings of the learner are under "agent" (and "iql" or "sac" for those learners)."""
    return json.loads(json.dumps(_presets()))  # a copy the caller may change


class Config:
    """A preset plus overrides. Overrides use the names of `pars presets NAME`: a bare
    name (`alpha=0.01`, `hidden=64`, `eval_every=5000`) is found at the top level or in
    the learner's table; a dotted one (`agent.alpha`) names it exactly. Unknown or
    ambiguous names and bad values raise ValueError when the config is made."""

    #: the learner of this config's presets: "pars", "iql" or "sac"
    learner = "pars"
    #: the preset used when none is given
    default_preset: Optional[str] = "pars"

    def __init__(self, preset: Optional[str] = None, **overrides: Union[bool, int, float, str]):
        preset = self._preset_name(preset)
        known = _presets()
        if preset in known and known[preset]["algorithm"] != self.learner:
            owner = _CONFIG_OF.get(known[preset]["algorithm"], "Config")
            raise ValueError(
                f"preset '{preset}' is for the {known[preset]['algorithm']} learner, not "
                f"{self.learner}: use {owner}('{preset}')"
            )
        self.preset = preset
        self.overrides = dict(overrides)
        # resolved now, so a bad name fails here rather than at fit
        self._toml = _native.resolve_config(preset, None, self.overrides)

    def _preset_name(self, preset: Optional[str]) -> str:
        if preset is not None:
            return preset
        if self.default_preset is None:
            raise ValueError(f"{type(self).__name__} needs a preset")
        return self.default_preset

    def to_toml(self) -> str:
        """The resolved settings in the TOML form `pars train --config` reads."""
        return self._toml

    def create(self, seed: int = 0, threads: Optional[int] = None) -> "Algorithm":
        """An untrained algorithm. `threads`: worker threads (default: all cores)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise TypeError(f"seed must be a non-negative int, not {seed!r}")
        return Algorithm(self, int(seed), threads)

    def __repr__(self) -> str:
        args = [repr(self.preset)] + [f"{k}={v!r}" for k, v in self.overrides.items()]
        return f"{type(self).__name__}({', '.join(args)})"


class PARSConfig(Config):
    """PARS (TD3+BC with RS-LN, PA and a critic ensemble). Presets: "pars" (default),
    a D4RL dataset's name such as "hopper-medium-v2" or "antmaze-umaze-v2" (the paper's
    settings for it), or one of the ablations listed by `presets()`."""


class TD3PlusBCConfig(Config):
    """TD3+BC (Fujimoto & Gu, 2021): the PARS learner without LayerNorm, reward scale
    or penalty; preset "td3bc"."""

    default_preset = "td3bc"


class ReBRACConfig(Config):
    """ReBRAC (Tarasov et al., 2023) with its per-dataset settings: give the dataset,
    e.g. ReBRACConfig("hopper-medium-v2") (preset "rebrac-hopper-medium-v2")."""

    default_preset = None

    def _preset_name(self, preset: Optional[str]) -> str:
        if preset is None:
            names = sorted(p[len("rebrac-") :] for p in _presets() if p.startswith("rebrac-"))
            raise ValueError(
                "ReBRACConfig needs the dataset its settings are for, one of: " + ", ".join(names)
            )
        return preset if preset.startswith("rebrac-") else "rebrac-" + preset


class IQLConfig(Config):
    """Implicit Q-learning (Kostrikov et al., 2022); presets "iql" (MuJoCo),
    "iql-antmaze", and the RS-LN / PA variants "iql-rsln", "iql-rsln-pa"."""

    learner = "iql"
    default_preset = "iql"


class SACConfig(Config):
    """Offline SAC with a critic ensemble: preset "sac", or "sac-n" for SAC-N."""

    learner = "sac"
    default_preset = "sac"


_CONFIG_OF = {"pars": "PARSConfig", "iql": "IQLConfig", "sac": "SACConfig"}


class Algorithm:
    """A learner made by `Config.create`. `fit` trains it in a run directory; after that
    `predict`, `save_policy` and `policy` use the trained actor."""

    def __init__(self, config: Config, seed: int, threads: Optional[int]) -> None:
        self.config = config
        self.seed = seed
        self._trainer = _native.Trainer(config.to_toml(), seed, threads)
        self.run_dir: Optional[str] = None

    @property
    def threads(self) -> int:
        return self._trainer.threads

    def fit(
        self,
        dataset: Optional[Dataset],
        n_steps: int,
        eval_env: Optional[str] = None,
        eval_every: Optional[int] = None,
        eval_episodes: Optional[int] = None,
        run_dir: Optional[PathLike] = None,
        callback: Optional[Callable[[MetricsRow], Any]] = None,
        progress: bool = True,
        resume: bool = False,
        force: bool = False,
    ) -> Dict[str, Any]:
        """Train for `n_steps` gradient steps (in total: with `resume`, up to that step).

        eval_env: an environment id (see `env_ids()`) to evaluate in every `eval_every`
            steps and at the end; None: a Minari dataset's own environment (from its
            env spec, scored with its reference scores), else no evaluation. It does not
            change the preset.
        run_dir: the run directory, with the files `pars train` writes (default
            runs/<label>-<dataset file stem or "numpy">-s<seed>, made unique). A
            directory holding another run is an error unless `force`.
        callback: called with every metrics row (a dict: step, td_loss, q_data, ...,
            eval_score); an exception it raises stops the run and is raised here.
        resume: continue the run in `run_dir` from its last checkpoint (`dataset` may
            be None: the run's own dataset is used).
        Ctrl-C checkpoints the run, then raises KeyboardInterrupt; `resume=True` goes on.

        Returns a dict: run_dir, steps_per_s, final_return / final_score (with an
        eval_env), and metrics (every row)."""
        if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, not {n_steps!r}")
        if dataset is not None and not isinstance(dataset, Dataset):
            raise TypeError(
                f"dataset must be a pars_rl.Dataset (see Dataset(...) and load_dataset), "
                f"not {type(dataset).__name__}"
            )
        if dataset is None and not resume:
            raise ValueError("fit needs a dataset")
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(n_steps), unit="step", desc=self.config.preset, dynamic_ncols=True)

        def on_row(row: MetricsRow) -> None:
            if bar is not None:
                step = int(row.get("step", 0))
                if step > bar.n:
                    bar.update(step - bar.n)
                if "eval_score" in row:
                    bar.set_postfix(score=f"{row['eval_score']:.1f}", refresh=False)
            if callback is not None:
                callback(row)

        try:
            out = self._trainer.fit(
                None if dataset is None else dataset._native,
                int(n_steps),
                None if run_dir is None else os.fspath(run_dir),
                eval_env,
                eval_every,
                eval_episodes,
                force,
                resume,
                on_row if (bar is not None or callback is not None) else None,
            )
        finally:
            if bar is not None:
                bar.close()
        self.run_dir = str(out["run_dir"])
        out["run_dir"] = self.run_dir
        return out

    def predict(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic actions: [n, obs_dim] → [n, act_dim] float32 (one row → one)."""
        p = self.policy()
        return p(observations)

    def policy(self) -> Policy:
        """The trained actor as a `Policy`."""
        return Policy._wrap(self._trainer.policy())

    def save_policy(self, path: PathLike) -> None:
        """Write the actor as a `policy.safetensors` file (`Policy.load`, `pars eval`)."""
        self._trainer.save_policy(os.fspath(path))

    def __repr__(self) -> str:
        state = f"trained, run_dir={self.run_dir!r}" if self._trainer.is_trained else "untrained"
        return f"Algorithm({self.config!r}, seed={self.seed}, {state})"


__all__: List[str] = [
    "Algorithm",
    "Config",
    "IQLConfig",
    "PARSConfig",
    "ReBRACConfig",
    "SACConfig",
    "TD3PlusBCConfig",
    "presets",
]
