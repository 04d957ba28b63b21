#!/usr/bin/env bash
# Issue 5's GPU training throughput on the GPU machine (H200): builds swiftkv with
# -DSWIFTKV_TRAIN=ON against the CUDA libtorch that ships with PyTorch and runs
#   swiftkv bench distill --model random:llama-3.1-8b --swiftkv-layers 16 --seq-len 4096
# (random bf16 weights drawn on the GPU, random tokens, the `swiftkv distill` step: f32 SwiftKV
# parameters, gradient checkpointing of layers >= l, AdamW), reporting the median training
# tokens/s against the published 680M tokens in 3 h on 8 H100 (~7,870 tokens/s per GPU) and
# the peak GPU memory (the caching allocator's peak allocated / reserved bytes).
# Dependencies the machine lacks (PCRE2 and cpp-httplib headers) come from .gpu-data/deps as in
# scripts/gpu-check.sh (its header says how to fill it); carry .gpu-data with the device tool.
# Output: a one-line summary and the JSON result on stdout, logs and bench-distill.json in $OUT
# (or build-gpu-train/logs).
# Usage: scripts/gpu-distill-bench.sh [--build-only] [extra `bench distill` flags, e.g. --steps 5]
# Env: NPROC (data-parallel ranks = GPUs, default 1; --batch-size is NPROC, one sequence per GPU),
# SWIFTKV_GPU_TRAIN_BUILD_DIR (default build-gpu-train), SWIFTKV_GPU_DATA (.gpu-data).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${SWIFTKV_GPU_TRAIN_BUILD_DIR:-$root/build-gpu-train}
logs=${OUT:-$build/logs}
data=${SWIFTKV_GPU_DATA:-$root/.gpu-data}
nproc_ranks=${NPROC:-1}
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}  # NVLink multicast stays off on shared hosts
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PATH=/usr/local/cuda/bin:$PATH
build_only=0
if [ "${1:-}" = --build-only ]; then
  build_only=1
  shift
fi
mkdir -p "$logs"
start=$SECONDS
stamp() { echo "[$((SECONDS - start)) s] $*"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$logs/gpu.txt"

torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || {
  echo "PyTorch (with its libtorch) is not importable by python3"; exit 1; }
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' |
  tee "$logs/torch.txt"
# libtorch's own shared libraries (libc10_cuda, libtorch_cuda, ...) at run time.
export LD_LIBRARY_PATH=$torch_prefix/../../lib:$LD_LIBRARY_PATH

stamp "configure + build (swiftkv only)"
cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWIFTKV_TRAIN=ON
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DCMAKE_CUDA_ARCHITECTURES=90a -DSWIFTKV_WERROR=OFF)
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
if ! cmake --build "$build" -j "$(nproc)" --target swiftkv > "$logs/build.log" 2>&1; then
  grep -E "error|FAILED" -A5 "$logs/build.log" | head -60; exit 1
fi
if [ $build_only = 1 ]; then
  stamp "built"
  exit 0
fi

stamp "swiftkv bench distill"
bench=(bench distill --model random:llama-3.1-8b --swiftkv-layers 16 --seq-len 4096
  --batch-size "$nproc_ranks" --nproc "$nproc_ranks" --steps 8 --warmup 2 --device cuda
  --output "$logs/bench-distill.json" "$@")
echo "command: swiftkv ${bench[*]}" | tee "$logs/bench-distill.log"
timeout 480 "$build/src/cli/swiftkv" "${bench[@]}" 2>&1 | tee -a "$logs/bench-distill.log"
rc=${PIPESTATUS[0]}
stamp "done: rc=$rc"
exit "$rc"
