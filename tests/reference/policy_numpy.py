"""Check a pars policy file against a numpy forward pass.

Usage: python tests/reference/policy_numpy.py POLICY OBS_JSON ACTIONS_JSON [--tol 1e-5]

POLICY is a `policy.safetensors` written by pars; OBS_JSON a list of observations;
ACTIONS_JSON the actions pars computed for them (`pars debug act --policy POLICY --obs
OBS_JSON --out ACTIONS_JSON`). The policy is loaded with `safetensors.numpy.load_file`
alone and evaluated with the few lines of numpy in `act` (the snippet of docs/deploy.md).
Prints the largest absolute difference; exit status 0 when it is within the tolerance,
1 when not, 2 on bad input.
"""

import argparse
import json
import sys

import numpy as np
from safetensors.numpy import load_file


def act(path, obs):
    """a = pi(obs): x @ W + b per layer (W is [in, out]), ReLU on hidden layers, tanh last."""
    t = load_file(path)
    depth = max(int(k.split(".")[2][len("layer"):]) for k in t if k.startswith("actor.0."))
    x = np.asarray(obs, np.float32)
    for l in range(depth + 1):
        x = x @ t[f"actor.0.layer{l}.weight"] + t[f"actor.0.layer{l}.bias"]
        x = np.maximum(x, 0.0) if l < depth else np.tanh(x)
    return x


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy")
    ap.add_argument("obs")
    ap.add_argument("actions")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args(argv)
    try:
        with open(args.obs) as f:
            obs = np.asarray(json.load(f), np.float32)
        with open(args.actions) as f:
            ours = np.asarray(json.load(f), np.float64)
        ref = act(args.policy, obs).astype(np.float64)
    except Exception as e:  # one line naming what could not be read
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    if ours.shape != ref.shape:
        print(f"error: pars wrote actions of shape {ours.shape}, numpy computed {ref.shape}",
              file=sys.stderr)
        return 2
    diff = float(np.max(np.abs(ours - ref))) if ref.size else 0.0
    ok = diff <= args.tol
    print(f"{ref.shape[0]} observations, {ref.shape[1]} action dims: max |pars - numpy| = "
          f"{diff:.3g} ({'ok' if ok else 'FAIL'}, tolerance {args.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
