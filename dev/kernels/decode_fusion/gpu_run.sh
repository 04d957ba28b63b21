#!/usr/bin/env bash
# One device call for the batch-1 decode fusions (dev/kernels/NOTES.md, "Batch-1 decode
# fusion"): the GPU tests of the carried binaries, then decode batch 1 A/B in one run:
#   before = .gpu-data/bin/swiftkv (the tree before this work, SWIFTKV_CUDA_GEMV=0 = cuBLASLt),
#   after  = .gpu-data/bin-decode/swiftkv with SWIFTKV_CUDA_DECODE_FUSION=0 (off) and on,
# and the experiment knobs of that build (SWIFTKV_DECODE_GEMV_PAIRS, SWIFTKV_DECODE_O_PROJ_GEMV,
# SWIFTKV_DECODE_PDL, SWIFTKV_DECODE_GEMV_ROLLING). Logs under $OUT, a short table last.
# The binaries were built off-device from HEAD plus this folder's files (see NOTES.md).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$PWD/.gpu-data/deps/lib:${LD_LIBRARY_PATH:-}
export SWIFTKV_GPU_DATA=$PWD/.gpu-data
OUT=${OUT:-/tmp}; B=.gpu-data/bin-decode; OLD=.gpu-data/bin; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
timeout 90 $B/cuda_ops_test > "$OUT/ops.log" 2>&1; echo "ops rc=$? $((SECONDS-t0))s"
grep -E "^\[  FAILED|PASSED|Failure|Expected|Which is|error" "$OUT/ops.log" | head -12
timeout 90 $B/model_cuda_test > "$OUT/model.log" 2>&1; echo "model rc=$? $((SECONDS-t0))s"
grep -E "^\[  FAILED|PASSED|Failure|Expected|Which is|what" "$OUT/model.log" | head -12
SWIFTKV_DECODE_PDL=0 SWIFTKV_DECODE_GEMV_ROLLING=0 timeout 60 $B/model_cuda_test > "$OUT/model_nopdl.log" 2>&1; echo "model (no PDL, no rolling) rc=$?"
d1=(bench gpu --model random:llama-3.1-8b --swiftkv off --prefill-seqs 0 --decode-batches 1 --context 2048 --iters 30 --no-ceilings)
run() { local name=$1; shift; echo "== $name: $*" >> "$OUT/bench.log"; timeout 60 env "$@" >> "$OUT/bench.log" 2>&1; echo "$name rc=$? $((SECONDS-t0))s"; }
run before SWIFTKV_CUDA_GEMV=0 $OLD/swiftkv "${d1[@]}"
run after_off SWIFTKV_CUDA_DECODE_FUSION=0 $B/swiftkv "${d1[@]}"
run after_on $B/swiftkv "${d1[@]}"
run after_cublas_o SWIFTKV_DECODE_O_PROJ_GEMV=0 $B/swiftkv "${d1[@]}"
run after_no_pdl SWIFTKV_DECODE_PDL=0 $B/swiftkv "${d1[@]}"
run after_norolling SWIFTKV_DECODE_GEMV_ROLLING=0 $B/swiftkv "${d1[@]}"
run before2 SWIFTKV_CUDA_GEMV=0 $OLD/swiftkv "${d1[@]}"
run after_on2 $B/swiftkv "${d1[@]}"
all=(bench gpu --model random:llama-3.1-8b --swiftkv off --prefill-seqs 4 --prompt-len 2048 --decode-batches 1,16,64,256 --context 2048 --iters 10)
run after_all $B/swiftkv "${all[@]}"
run before_all SWIFTKV_CUDA_GEMV=0 $OLD/swiftkv "${all[@]}" --no-ceilings
grep -E "^==|^\| random|ceilings|copy|GEMM" "$OUT/bench.log"
echo "total $((SECONDS-t0))s"
