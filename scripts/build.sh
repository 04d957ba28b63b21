#!/usr/bin/env bash
# Configures and builds into build/ (Release). Extra arguments go to cmake's configure step.
# SWIFTKV_BUILD_TARGETS (space-separated) builds only those targets, e.g. swiftkv_tests_unit.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SWIFTKV_BUILD_DIR:-build}
targets=()
for target in ${SWIFTKV_BUILD_TARGETS:-}; do
  targets+=(--target "$target")
done
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" "${targets[@]}"
