#!/usr/bin/env bash
# Issue 6's benchmarks on a machine with several GPUs (nvidia-h200-x4 or larger), one device call
# each (under 10 minutes); scripts/gpu-serve-bench.sh does the serving and the tables:
#   70b      random llama-3.1-70b with 40 of 80 layers SwiftKV, `--tensor-parallel-size 4`,
#            --swiftkv off vs on in the same call: A (2000 in / 256 out, $SWIFTKV_BENCH_A_PROMPTS
#            prompts, default 500, rate inf) and C (8000 in / 256 out); B is skipped.
#   scaling  random llama-3.1-8b with 16 SwiftKV layers, --swiftkv on, workload A with 500 prompts
#            at --tensor-parallel-size 1, 2 and 4 (those the machine has).
# Usage: scripts/gpu-tp-bench.sh 70b|scaling [SWIFTKV_BIN]   (default build-gpu-check/src/cli/swiftkv)
# Results: $OUT (default build-gpu-check/tp-bench)/<run>/, summary tables printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: scripts/gpu-tp-bench.sh 70b|scaling [SWIFTKV_BIN]}
bin=${2:-build-gpu-check/src/cli/swiftkv}
out=${OUT:-build-gpu-check/tp-bench}
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}  # the machine notes: NVLink multicast stays off
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l)
echo "$gpus GPU(s)"

case "$what" in
  70b)
    [ "$gpus" -ge 4 ] || { echo "70b needs 4 GPUs, this machine has $gpus"; exit 2; }
    OUT=$out/70b SWIFTKV_SHAPE=llama-3.1-70b SWIFTKV_SWIFTKV_LAYERS=40 SWIFTKV_TP=4 \
      SWIFTKV_BENCH_SKIP_B=1 SWIFTKV_BENCH_A_PROMPTS=${SWIFTKV_BENCH_A_PROMPTS:-500} \
      SWIFTKV_BENCH_A_TIMEOUT=240 scripts/gpu-serve-bench.sh "$bin"
    ;;
  scaling)
    for tp in 1 2 4; do
      [ "$tp" -le "$gpus" ] || continue
      echo "== llama-3.1-8b, --tensor-parallel-size $tp"
      OUT=$out/scaling-tp$tp SWIFTKV_TP=$tp SWIFTKV_BENCH_MODES=on SWIFTKV_BENCH_ONLY_A=1 \
        SWIFTKV_BENCH_A_PROMPTS=500 scripts/gpu-serve-bench.sh "$bin" | tail -8
    done
    ;;
  *)
    echo "unknown run '$what' (70b or scaling)"
    exit 2
    ;;
esac
