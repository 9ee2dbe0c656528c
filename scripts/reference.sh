#!/usr/bin/env bash
# Independent Python/JAX reference of one PARS / TD3+BC / ReBRAC (or IQL, SAC / RLPD) update
# (tests/reference/): replays update traces written by the Rust tool and checks the losses and
# every parameter, target, temperature and Adam tensor after each step (see
# tests/reference/README.md).
#
# Usage: bash scripts/reference.sh [--tol X] [--resync] [--group-scale] [--per-step] TRACE...
#        bash scripts/reference.sh --traces [--case NAME]... [options]  (writes the CI cases with pars, checks them)
#        bash scripts/reference.sh --self-test     (checks the Python side alone; no Rust tool)
#
# Installs the pinned packages of tests/reference/requirements.txt (CPU-only JAX, optax, numpy,
# safetensors) into the virtualenv .reference/venv once; set PYTHON to pick the interpreter
# (CPython 3.11 or newer). Exit status: 0 agree, 1 mismatch, 2 bad input or usage.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.reference/venv
REQ=tests/reference/requirements.txt
PYTHON=${PYTHON:-python3}

if [ $# -eq 0 ]; then
  sed -n '7,9p' "$0" | sed 's/^# //' >&2
  exit 2
fi

# Install once; redo when the pinned list changed or the environment is broken.
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/requirements.txt" \
  || ! "$VENV/bin/python" -c "import jax, jaxlib, optax, numpy, safetensors" 2>/dev/null; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$REQ"
  cp "$REQ" "$VENV/requirements.txt"
fi

export JAX_PLATFORMS=cpu PYTHONDONTWRITEBYTECODE=1
if [ "$1" = "--self-test" ]; then
  exec "$VENV/bin/python" tests/reference/selftest.py
fi

if [ "$1" = "--traces" ]; then
  # The CI check: write one update trace per case with `pars debug trace` and replay them
  # all. Small networks (width 32, batch 16) and 4 steps (two actor updates at policy delay 2,
  # four for SAC) keep it fast.
  shift
  CASES=(pars_antmaze pars_mujoco pars_adroit_cosine actor_subset2 td3bc iql_rsln_pa iql_mujoco_det
         sac rlpd rlpd_antmaze rebrac)
  only=()
  while [ $# -gt 0 ] && [ "$1" = "--case" ]; do
    [ $# -ge 2 ] || { echo "error: --case needs a name (one of: ${CASES[*]})" >&2; exit 2; }
    [[ " ${CASES[*]} " == *" $2 "* ]] || { echo "error: unknown case '$2' (known: ${CASES[*]})" >&2; exit 2; }
    only+=("$2")
    shift 2
  done
  cargo build --release --quiet
  PARS=$PWD/target/release/pars
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    "$PARS" collect --quiet --env antmaze-umaze-v2 --steps 2000 --out antmaze.hdf5 >/dev/null
    "$PARS" collect --quiet --env hopper-v2 --steps 2000 --out hopper.hdf5 >/dev/null
    "$PARS" collect --quiet --env pen-v1 --steps 2000 --out pen.hdf5 >/dev/null
    S=(--set agent.hidden=32 --set agent.batch_size=16 --steps 4 --seed 0)
    # PARS AntMaze-style: N=4, 3 hidden layers, LN, PA L=1000, c_reward 10000, β 0.01, γ 0.995, σ 0.2
    "$PARS" debug trace --dataset antmaze.hdf5 --preset antmaze-single "${S[@]}" --case pars_antmaze --out pars_antmaze.safetensors
    # PARS MuJoCo-style: N=10, S_critic=10, β=0 (pure Q), σ=0, Q_min of Table 8
    "$PARS" debug trace --dataset hopper.hdf5 --preset hopper-medium-v2 "${S[@]}" --case pars_mujoco --out pars_mujoco.safetensors
    # Adroit-style: cosine actor learning rate
    "$PARS" debug trace --dataset pen.hdf5 --preset pen-cloned-v1 "${S[@]}" --case pars_adroit_cosine --out pars_adroit_cosine.safetensors
    # the online fine-tuning actor: mean over a random subset of S_actor critics
    "$PARS" debug trace --dataset hopper.hdf5 --preset pars --set agent.actor_subset=2 "${S[@]}" --case actor_subset2 --out actor_subset2.safetensors
    # plain TD3+BC: N=2, no LN, no PA
    "$PARS" debug trace --dataset hopper.hdf5 --preset td3bc "${S[@]}" --case td3bc --out td3bc.safetensors
    # IQL with RS-LN and PA (paper §6.5): c_reward 1000, LN in the critics and V, PA L=1000,
    # expectile 0.9, temperature 20 (weights clipped at 100), Gaussian policy, cosine actor rate
    "$PARS" debug trace --dataset antmaze.hdf5 --preset iql-rsln-pa "${S[@]}" --case iql_rsln_pa --out iql_rsln_pa.safetensors
    # IQL MuJoCo-style, deterministic policy, reward shift, GELU critics and V without LN
    "$PARS" debug trace --dataset hopper.hdf5 --preset iql --set 'iql.policy="deterministic"' --set iql.reward_shift=-1 --set agent.activation=gelu "${S[@]}" --case iql_mujoco_det --out iql_mujoco_det.safetensors
    # SAC: twin critics, min target, learned temperature
    "$PARS" debug trace --dataset hopper.hdf5 --preset sac "${S[@]}" --case sac --out sac.safetensors
    # RLPD: 10 LN critics, target min over a random 2, actor mean of all 10, H̄ = −|A|/2
    "$PARS" debug trace --dataset hopper.hdf5 --preset sac --set agent.n_critics=10 --set agent.critic_subset=2 --set agent.critic_layer_norm=true --set agent.actor_subset=10 --set sac.target_entropy_scale=0.5 "${S[@]}" --case rlpd --out rlpd.safetensors
    # RLPD AntMaze: depth 3, no entropy backup, subset 1, reward −1
    "$PARS" debug trace --dataset antmaze.hdf5 --preset sac --set agent.n_critics=10 --set agent.critic_subset=1 --set agent.critic_layer_norm=true --set agent.critic_depth=3 --set agent.actor_depth=3 --set agent.actor_subset=10 --set sac.target_entropy_scale=0.5 --set sac.backup_entropy=false --set sac.reward_shift=-1 "${S[@]}" --case rlpd_antmaze --out rlpd_antmaze.safetensors
    # ReBRAC: LN depth-3 critics, BC in the actor and the critic target, batch of next actions
    "$PARS" debug trace --dataset hopper.hdf5 --preset rebrac-hopper-medium-replay "${S[@]}" --case rebrac --out rebrac.safetensors
  )
  if [ ${#only[@]} -gt 0 ]; then
    for c in "${only[@]}"; do set -- "$@" "$work/$c.safetensors"; done
  else
    set -- "$@" "$work"/*.safetensors
  fi
fi

exec "$VENV/bin/python" tests/reference/check_trace.py "$@"
