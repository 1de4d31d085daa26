#!/usr/bin/env bash
# Debian packages amplify_ros needs that pip cannot provide: off-screen OpenGL for MuJoCo, libusb
# for pyrealsense2 (which fails to import without it, camera or not).
set -euo pipefail
missing=()
ldconfig -p | grep -q 'libOSMesa\.so' || missing+=(libosmesa6)
ldconfig -p | grep -q 'libusb-1\.0\.so\.0' || missing+=(libusb-1.0-0)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "error: need ${missing[*]} (apt-get install ${missing[*]}) and cannot become root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" \
  || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
