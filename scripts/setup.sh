#!/usr/bin/env bash
# Installs the system libraries the build needs (Debian/Ubuntu): HDF5 for datasets,
# fontconfig + a font for the PNG plots. Skips apt when everything is present.
set -euo pipefail
pkgs=(libhdf5-dev pkg-config libfontconfig1-dev fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
