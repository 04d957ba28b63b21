#!/usr/bin/env bash
# One device-machine call: the CUDA op tests, the micro-benchmarks, then compute-sanitizer
# memcheck on the tests. Expects the test binary in .gpu-carry/ (built here, carried there).
# Full logs go to $OUT; a short summary to stdout.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH
B=.gpu-carry/cuda_ops_test
OUT=${OUT:-/tmp}
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
timeout "${TEST_TIMEOUT:-120}" $B > "$OUT/test.log" 2>&1
echo "tests rc=$?"
grep -E '^\[  (PASSED|FAILED) |^\[  FAILED|Failure|Expected|Which is|error|       OK ' "$OUT/test.log" | head -60
timeout "${BENCH_TIMEOUT:-100}" $B --gtest_also_run_disabled_tests --gtest_filter='CudaBench.*' \
  > "$OUT/bench.log" 2>&1
echo "bench rc=$?"
grep -E 'BENCH|Failure|error' "$OUT/bench.log"
timeout "${MEMCHECK_TIMEOUT:-110}" compute-sanitizer --tool memcheck $B \
  --gtest_filter='-*LongPrompts*:*EmpiricalDistribution*' > "$OUT/memcheck.log" 2>&1
echo "memcheck rc=$?"
grep -E 'ERROR SUMMARY|Invalid|PASSED|FAILED' "$OUT/memcheck.log" | head -20
# Instruction mix of the attention kernels (SASS), to see where issue slots go.
if command -v cuobjdump > /dev/null; then
  cuobjdump -sass $B > "$OUT/sass.txt" 2>/dev/null
  awk '/Function :/ {name=$3} name ~ /attention_kernel/ && /\/\*[0-9a-f]+\*\// {
         n[name]++; if ($0 ~ /HMMA/) h[name]++; if ($0 ~ /LDSM/) l[name]++;
         if ($0 ~ /MUFU/) m[name]++; if ($0 ~ /LDGSTS/) g[name]++; if ($0 ~ /SHFL/) s[name]++ }
       END { for (k in n) printf "SASS %s: %d instr, HMMA %d, LDSM %d, MUFU %d, LDGSTS %d, SHFL %d\n",
             k, n[k], h[k], l[k], m[k], g[k], s[k] }' "$OUT/sass.txt"
fi
# Shared-memory races in the attention and sampling kernels (small cases only: racecheck is slow).
timeout "${RACECHECK_TIMEOUT:-120}" compute-sanitizer --tool racecheck $B \
  --gtest_filter='CudaPrefillAttention.MatchesCpuReference:CudaDecodeAttention.MatchesCpuReferenceOnCommonCases:CudaSampling.NeverPicks*:CudaFusedAddRmsNorm.*' \
  > "$OUT/racecheck.log" 2>&1
echo "racecheck rc=$?"
grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|hazard|PASSED|FAILED' "$OUT/racecheck.log" | head -20
