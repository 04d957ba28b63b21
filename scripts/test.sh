#!/usr/bin/env bash
# The test command: install dependencies, check formatting, build (CUDA code too when
# nvcc exists), run the unit, ops and model tests, then rebuild with ASan+UBSan and run the
# unit and model tests again. GPU tests (label gpu) run only on the GPU machine
# (scripts/gpu-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/lint.sh

jobs=$(nproc)
echo "== build (Release, with the libtorch trainer)"
SWIFTKV_BUILD_DIR=build scripts/build.sh -DSWIFTKV_TRAIN=ON  # distillation tests run in CI too
echo "== tests (Release)"
ctest --test-dir build --output-on-failure -j "$jobs" -LE gpu

echo "== build (ASan+UBSan, no CUDA: the unit and model tests and what they run)"
# -O1 -g1: half the compile time of -O2 -g (57 s -> 30 s for safetensors.cc on the 2-core CI
# machine) and still line numbers in every sanitizer report. A unity build: most of a source's
# compile time is code generation for the same header templates (nlohmann::json, GoogleTest),
# which a unity source does once for up to 8 sources. The Release build above compiles every
# source on its own, so a missing #include still fails CI.
SWIFTKV_BUILD_DIR=build-sanitize SWIFTKV_BUILD_TARGETS="swiftkv_tests_unit swiftkv_tests_model" \
  scripts/build.sh -DSWIFTKV_SANITIZE=ON -DSWIFTKV_CUDA=OFF -DCMAKE_UNITY_BUILD=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
echo "== tests (ASan+UBSan: unit and model)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs" -L 'unit|model'
