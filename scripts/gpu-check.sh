#!/usr/bin/env bash
# One command on the GPU machine (H200): build with -DCMAKE_CUDA_ARCHITECTURES=90a, run every
# gpu-labelled test, the benchmark table (`swiftkv bench gpu`, with its ceilings) and the Hugging
# Face transformers comparison (tools/hf/bench_hf.py); well under 10 minutes. Logs go to $OUT
# (the device tool's output folder) or build-gpu-check/logs; a summary to stdout.
#
# What the GPU machine lacks travels in $SWIFTKV_GPU_DATA (default .gpu-data, git-ignored; name it
# in the device tool's `carry`): stories260K.bin (or a converted stories260K/ directory),
# tok512.bin and expected_greedy_bos_256.json for the tests (this script copies them from
# ../shared when that is there), and deps/ for the build: the PCRE2 and cpp-httplib headers the machine has no -dev
# packages for (with the openssl, zlib and brotli headers httplib.h includes), libcpp-httplib and
# a pkg-config file for it. Fill deps/ on a Debian/Ubuntu machine that has the -dev packages:
#   d=.gpu-data/deps; mkdir -p $d/include $d/lib $d/pkgconfig
#   cp /usr/include/{httplib,zlib,zconf,pcre2}.h $d/include; cp -r /usr/include/{brotli,openssl} \
#     $d/include; cp /usr/include/x86_64-linux-gnu/openssl/*.h $d/include/openssl
#   cp -L /usr/lib/x86_64-linux-gnu/libcpp-httplib.so.0.11 $d/lib; cp $d/lib/*.so.0.11 \
#     $d/lib/libcpp-httplib.so   # and write $d/pkgconfig/cpp-httplib.pc (prefix=${pcfiledir}/..)
#
# Usage: scripts/gpu-check.sh [--skip-hf] [--skip-bench] [--build-only]
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${SWIFTKV_GPU_BUILD_DIR:-$root/build-gpu-check}
logs=${OUT:-$build/logs}
data=${SWIFTKV_GPU_DATA:-$root/.gpu-data}
export SWIFTKV_GPU_DATA=$data
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PATH=/usr/local/cuda/bin:$PATH
export PYTHONUNBUFFERED=1
run_hf=1
run_bench=1
build_only=0
for arg in "$@"; do
  case $arg in
    --skip-hf) run_hf=0 ;;
    --skip-bench) run_bench=0 ;;
    --build-only) build_only=1 ;;
    *) echo "unknown argument $arg"; exit 2 ;;
  esac
done
mkdir -p "$logs" "$data"
start=$SECONDS
stamp() { echo "[$((SECONDS - start)) s] $*"; }

shared=$root/../shared
if [ -d "$shared/models/stories260K" ]; then
  [ -f "$data/stories260K.bin" ] || cp "$shared/models/stories260K/stories260K.bin" "$data/"
  [ -f "$data/tok512.bin" ] || cp "$shared/models/stories260K/tok512.bin" "$data/"
  [ -f "$data/expected_greedy_bos_256.json" ] ||
    cp "$shared/models/stories260K/expected_greedy_bos_256.json" "$data/"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
  --format=csv,noheader | tee "$logs/gpu.txt"

stamp "configure + build"
# Warnings are errors in CI (scripts/test.sh); here a newer compiler's new warnings must not
# stop the GPU check, so they stay warnings (build.log keeps them).
cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_CUDA_ARCHITECTURES=90a -DSWIFTKV_SHARED_DIR="$shared" -DSWIFTKV_WERROR=OFF)
if ! pkg-config --exists libpcre2-8 2> /dev/null && [ -f "$data/deps/include/pcre2.h" ]; then
  cmake_args+=(-DPCRE2_INCLUDE_DIR="$data/deps/include")
fi
if ! pkg-config --exists cpp-httplib 2> /dev/null && [ -d "$data/deps/pkgconfig" ]; then
  export PKG_CONFIG_PATH=$data/deps/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$data/deps/lib
fi
if ! cmake "${cmake_args[@]}" > "$logs/configure.log" 2>&1; then
  tail -30 "$logs/configure.log"; exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" \
    --target swiftkv cuda_ops_test model_cuda_test engine_cuda_test tensor_parallel_cuda_test > "$logs/build.log" 2>&1; then
  grep -E "error|FAILED" -A5 "$logs/build.log" | head -60; exit 1
fi

if [ $build_only = 1 ]; then
  stamp "built"
  exit 0
fi

stamp "gpu tests (ctest -L gpu)"
(cd "$build" && timeout 300 ctest -L gpu --output-on-failure) > "$logs/tests.log" 2>&1
tests_rc=$?
grep -E "tests passed|tests failed|Passed|Failed|\*\*\*|stories260K on GPU|GPU vs CPU|GEMV" \
  "$logs/tests.log" | head -40

bench_rc=0
if [ $run_bench = 1 ]; then
  stamp "swiftkv bench gpu"
  # 30 timed steps per workload: with 10, the batch-1 row read 0.1-0.3% of copy below the same
  # binary's 30-step run in the same call in three of four comparisons (sessions 9 and 10).
  bench=(bench gpu --model random:llama-3.1-8b --swiftkv-layers 16 --swiftkv off,on
    --prefill-seqs 4 --prompt-len 2048 --decode-batches 1,16,64,256 --context 2048 --iters 30)
  echo "command: swiftkv ${bench[*]}" > "$logs/bench.log"
  timeout 240 "$build/src/cli/swiftkv" "${bench[@]}" >> "$logs/bench.log" 2>&1
  bench_rc=$?
  grep -vE "^\[|^$" "$logs/bench.log" | grep -vE "^(INFO|info)" | tail -20
fi

hf_rc=0
if [ $run_hf = 1 ]; then
  stamp "Hugging Face transformers baseline"
  hf=(--layers 32 --prefill-seqs 4 --prompt-len 2048 --decode-batches 1,64 --context 2048)
  echo "command: python3 tools/hf/bench_hf.py ${hf[*]}" > "$logs/hf.log"
  timeout 240 python3 tools/hf/bench_hf.py "${hf[@]}" >> "$logs/hf.log" 2>&1
  hf_rc=$?
  tail -8 "$logs/hf.log"
fi
stamp "done: tests rc=$tests_rc bench rc=$bench_rc hf rc=$hf_rc"
[ $tests_rc = 0 ] && [ $bench_rc = 0 ] && [ $hf_rc = 0 ]
