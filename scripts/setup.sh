#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (idempotent; apt only when missing).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcpp-httplib-dev libpcre2-dev libcli11-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy
  libtorch-dev  # the distillation trainer (SWIFTKV_TRAIN); GPU machines use PyTorch's libtorch
  libgloo-dev   # headers of c10d's ProcessGroupGloo: data-parallel distillation on CPU ranks
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: all build dependencies present"
