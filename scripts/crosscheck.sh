#!/usr/bin/env bash
# Cross-check our MuJoCo environments against the Python reference environments:
# installs gymnasium[mujoco] and gymnasium-robotics (MuJoCo 3.17.0) in a virtualenv,
# records reference trajectories, and replays them with `pars envs crosscheck`.
# Usage: bash scripts/crosscheck.sh [ENV_ID ...]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.mujoco/venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import gymnasium_robotics, mujoco" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "gymnasium[mujoco]==1.4.0" "mujoco==3.17.0" "gymnasium-robotics==1.4.2"
fi
cargo build --release --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$VENV/bin/python" -W ignore scripts/crosscheck/crosscheck.py "$out" "$@"
./target/release/pars envs crosscheck "$out"/*.json
