#!/usr/bin/env bash
# Installs what the build needs on Debian/Ubuntu and skips what is present:
#  * system libraries: HDF5 for datasets, fontconfig + a font for the PNG plots;
#  * MuJoCo 3.17.0 (the library ships inside the `mujoco` wheel) and the model files of the
#    benchmark environments (the `gymnasium` and `gymnasium-robotics` packages), installed
#    with pip into .mujoco/py without their Python dependencies: the Rust code only reads
#    libmujoco.so and the XML/mesh files. `.cargo/config.toml` points the build at
#    .mujoco/lib. To build without MuJoCo: cargo build --no-default-features.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libhdf5-dev pkg-config libfontconfig1-dev fonts-dejavu-core python3-pip)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# A python3 with pip that is not Debian's (pyenv, say) is good enough.
if [[ " ${missing[*]} " == *" python3-pip "* ]] && python3 -m pip --version >/dev/null 2>&1; then
  missing=("${missing[@]/python3-pip}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep . || true))
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

MJ=.mujoco
if [ ! -f "$MJ/py/mujoco/libmujoco.so.3.17.0" ] || [ ! -d "$MJ/py/gymnasium_robotics" ] \
  || [ ! -d "$MJ/py/gymnasium" ]; then
  rm -rf "$MJ/py"
  python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
    --no-deps --target "$MJ/py" mujoco==3.17.0 gymnasium==1.4.0 gymnasium-robotics==1.4.2 \
    2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check \
    --no-deps --target "$MJ/py" mujoco==3.17.0 gymnasium==1.4.0 gymnasium-robotics==1.4.2
fi
mkdir -p "$MJ/lib"
ln -sf ../py/mujoco/libmujoco.so.3.17.0 "$MJ/lib/libmujoco.so.3.17.0"
ln -sf libmujoco.so.3.17.0 "$MJ/lib/libmujoco.so"
