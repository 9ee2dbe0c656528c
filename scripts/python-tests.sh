#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment (no Rust, HDF5 or MuJoCo on
# its paths: the wheel must carry them) and run the Python tests from outside the checkout,
# so `import pars_rl` finds the installed package, not the sources. Gymnasium's own MuJoCo
# and Gymnasium-Robotics' environments are there for the Minari tests (datasets collected
# in Hopper-v5 and PointMaze_UMaze-v3).
# Usage: bash scripts/python-tests.sh [PYTEST ARGS ...]   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PYTHON=${PYTHON:-python3}
cargo build --release --quiet --bin pars
bash scripts/wheel.sh
wheel=$(ls -t target/wheels/pars_rl-*.whl | head -1)
venv=target/python-test-venv
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" "pytest>=7" "matplotlib>=3.5" "tensorboard>=2.10" "minari[create,hdf5]>=0.5" "gymnasium[mujoco]" "gymnasium-robotics"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# the pars binary finds libmujoco through this path; the wheel must not need it
env -u LD_LIBRARY_PATH -u PARS_MUJOCO_PACKAGES \
  PARS_BIN="$root/target/release/pars" \
  "$root/$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests" "$@"
