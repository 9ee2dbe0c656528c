#!/usr/bin/env bash
# md5 sums of whole small runs, to show that a refactor moves code without moving
# numbers: run it before and after (keep a copy of the old binary, e.g.
# `cp target/release/pars target/pars-before`), then `diff` the two outputs. Covers
# offline PARS (width 64, with its checkpoints), TD3+BC and IQL, a fine-tune, an online
# TD3 run with its resumable state, two dataset recipes (hopper-random-net,
# hopper-medium-replay-td3; RANDOM_RECIPE / REPLAY_RECIPE name them for an older binary
# that called them hopper-random and hopper-medium-replay), update traces of PARS and IQL, and the demo's numbers
# (FINGERPRINT_DEMO=0 skips the demo's two minutes). Files that hold times or process
# ids (status.json, TensorBoard event files, the demo's steps/s) are left out. Runs go to target/fingerprint
# (its path is recorded in the runs, so both sides use the same one).
# Usage: [PARS=BINARY] bash scripts/fingerprint.sh > sums.txt
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/fingerprint
rm -rf "$out"; mkdir -p "$out"
bin=${PARS:-./target/release/pars}
pars() { "$bin" --quiet "$@"; }
sums() { # md5 of every file of a run directory but status.json
  (cd "$1" && find . -type f ! -name status.json ! -name '*.tmp*' ! -name 'events.out.tfevents*' | LC_ALL=C sort | xargs md5sum)
}
pars collect --recipe "${RANDOM_RECIPE:-hopper-random-net}" --steps 20000 --out "$out/hopper-random.hdf5"
common=(--dataset "$out/hopper-random.hdf5" --env hopper-random-v2 --hidden 64 --steps 600
        --eval-every 300 --eval-episodes 2 --log-every 100 --checkpoint-every 200)
pars train "${common[@]}" --preset hopper-random-v2 --out "$out/pars"
pars train "${common[@]}" --preset td3bc --out "$out/td3bc"
pars train "${common[@]}" --algo iql --out "$out/iql"
pars finetune --from "$out/pars" --steps 300 --utd 2 --eval-every 150 --eval-episodes 2 \
  --log-every 50 --checkpoint-every 100 --out "$out/finetune"
pars online --env hopper-v2 --hidden 32 --steps 1200 --random-steps 400 --learning-starts 400 \
  --eval-every 400 --eval-episodes 2 --log-every 100 --checkpoint-every 300 --out "$out/online"
pars collect --recipe "${REPLAY_RECIPE:-hopper-medium-replay-td3}" --steps 3000 --out "$out/hopper-medium-replay.hdf5"
mkdir -p "$out/traces"
pars debug trace --dataset "$out/hopper-random.hdf5" --preset hopper-random-v2 --set agent.hidden=16 \
  --set agent.batch_size=8 --steps 4 --out "$out/traces/pars.safetensors"
pars debug trace --dataset "$out/hopper-random.hdf5" --preset iql-rsln-pa --set agent.hidden=16 \
  --set agent.batch_size=8 --steps 4 --out "$out/traces/iql.safetensors"
for r in pars td3bc iql finetune online traces; do echo "## $r"; sums "$out/$r"; done
echo "## datasets"; (cd "$out" && md5sum hopper-random.hdf5 hopper-medium-replay.hdf5)
if [ "${FINGERPRINT_DEMO:-1}" = 1 ]; then
  echo "## demo"
  "$bin" demo 2>/dev/null | sed -E 's/\([0-9]+ steps\/s\)//'
fi
