"""Datasets: numpy arrays in D4RL's layout, or a D4RL/Minari HDF5 file."""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import numpy as np

from . import _native

PathLike = Union[str, "os.PathLike[str]"]


def _as_rows(name: str, value: object, two_d: bool, kind: str) -> np.ndarray:
    """`value` as a C-contiguous array, checked the way the HDF5 reader checks a file's
    arrays (same messages); `kind` is "float" or "flag"."""
    a = np.asarray(value)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"'{name}' must be a numeric array, got dtype {a.dtype}")
    if two_d:
        if a.ndim != 2:
            raise ValueError(f"'{name}' must be 2-D [n, dim], got shape {list(a.shape)}")
    else:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"'{name}' must be 1-D [n] (or [n, 1]), got shape {list(a.shape)}")
    if kind == "flag":
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"'{name}' has a non-finite value")
        return np.ascontiguousarray(a != 0)
    return np.ascontiguousarray(a, dtype=np.float32)


class Dataset:
    """Transitions in D4RL's layout: row i is (observations[i], actions[i], rewards[i]),
    with the next observation in row i+1 unless the episode ended there (terminals[i]:
    the MDP ended; timeouts[i]: the episode was cut, so row i has no successor).
    With `next_observations` (D4RL's key), every row has its successor, timeouts too.

    Arrays may be any numeric dtype (they are stored as float32, flags as bool); shapes
    are [n, obs_dim], [n, act_dim], [n], [n], [n]. Rows are checked as `pars train`
    checks a file: equal lengths, finite values. Actions outside [-1, 1] are clipped
    with a warning when training starts, as the command line does.
    """

    def __init__(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminals: np.ndarray,
        timeouts: Optional[np.ndarray] = None,
        next_observations: Optional[np.ndarray] = None,
    ) -> None:
        obs = _as_rows("observations", observations, True, "float")
        act = _as_rows("actions", actions, True, "float")
        rew = _as_rows("rewards", rewards, False, "float")
        term = _as_rows("terminals", terminals, False, "flag")
        if timeouts is None:
            # as for a D4RL file without timeouts: only the last row ends an episode
            tout = np.zeros(len(rew), dtype=bool)
            if len(tout) > 0:
                tout[-1] = True
        else:
            tout = _as_rows("timeouts", timeouts, False, "flag")
        nxt = None
        if next_observations is not None:
            nxt = _as_rows("next_observations", next_observations, True, "float")
        self._native = _native.Dataset.from_arrays(obs, act, rew, term, tout, nxt)

    @classmethod
    def _wrap(cls, native: "_native.Dataset") -> "Dataset":
        d = cls.__new__(cls)
        d._native = native
        return d

    @property
    def path(self) -> Optional[str]:
        """The file the dataset was loaded from (None for arrays)."""
        p = self._native.path
        return None if p is None else str(p)

    @property
    def obs_dim(self) -> int:
        return self._native.obs_dim

    @property
    def act_dim(self) -> int:
        return self._native.act_dim

    @property
    def transitions(self) -> int:
        """How many (s, a, r, s', done) rows training samples from."""
        return self._native.transitions

    @property
    def observations(self) -> np.ndarray:
        return self._native.observations

    @property
    def actions(self) -> np.ndarray:
        return self._native.actions

    @property
    def next_observations(self) -> Optional[np.ndarray]:
        return self._native.next_observations

    @property
    def rewards(self) -> np.ndarray:
        return self._native.rewards

    @property
    def terminals(self) -> np.ndarray:
        return self._native.terminals

    @property
    def timeouts(self) -> np.ndarray:
        return self._native.timeouts

    def __len__(self) -> int:
        return len(self._native)

    def summary(self) -> str:
        """The statistics `pars data info` prints (rows, episodes, returns, ranges)."""
        return self._native.summary()

    def save(self, path: PathLike) -> None:
        """Write a D4RL-layout HDF5 file (atomically: a failed write leaves nothing)."""
        self._native.save(os.fspath(path))

    def __repr__(self) -> str:
        src = f", path={self.path!r}" if self.path else ""
        return (
            f"Dataset(rows={len(self)}, obs_dim={self.obs_dim}, act_dim={self.act_dim}, "
            f"transitions={self.transitions}{src})"
        )


def load_dataset(path: PathLike, obs_keys: Optional[Sequence[str]] = None) -> Dataset:
    """Read a dataset as `pars train --dataset` does: a D4RL or Minari HDF5 file, a Minari
    dataset directory, or a Minari id (`mujoco/hopper/medium-v0`, looked up in
    MINARI_DATASETS_PATH or ~/.minari/datasets; nothing is downloaded). `obs_keys`: the
    keys of a dict observation to concatenate, in order (default: D4RL's layout, see
    docs/configuration.md). A missing or malformed dataset raises ValueError naming it."""
    keys = None if obs_keys is None else [str(k) for k in obs_keys]
    return Dataset._wrap(_native.Dataset.load(os.fspath(path), keys))
