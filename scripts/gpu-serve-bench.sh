#!/usr/bin/env bash
# The serving acceptance on one H200 (issue 4, docs/benchmarks.md "Serving on GPU"): random
# llama-3.1-8b (bf16) with 16 SwiftKV layers, `swiftkv serve --device cuda` with --swiftkv on vs
# --swiftkv off (the same weights, the original wiring), driven by `swiftkv bench serve`:
#   A. 1000 prompts of 2000 tokens, 256 output tokens, all at once: total token throughput;
#   B. Poisson arrivals at half the SwiftKV-off request throughput of A: mean TTFT;
#   C. 8000-token prompts, 256 output tokens, all at once (fewer prompts).
# B's and C's prompt counts are sized from A's measured off throughput so that the whole script
# takes ~5.5 minutes: B's arrivals span $SWIFTKV_BENCH_B_SECONDS (35), C is ~$SWIFTKV_BENCH_C_SECONDS
# (25) of off-mode work; $SWIFTKV_BENCH_A_PROMPTS (1000) shrinks A for a smoke test. Greedy
# sampling (bench serve's default, on the GPU), ignore_eos. $SWIFTKV_GROUP_SIZE (1) sets the
# AcrossKV group size of the SwiftKV layers; $SWIFTKV_KV_CACHE_DTYPE (auto) is both servers'
# --kv-cache-dtype (auto|bf16|fp8); SWIFTKV_BENCH_ONLY_A=1 runs workload A only,
# SWIFTKV_BENCH_SKIP_B=1 skips B. Several GPUs (scripts/gpu-tp-bench.sh): $SWIFTKV_SHAPE
# (llama-3.1-8b), $SWIFTKV_SWIFTKV_LAYERS (16), $SWIFTKV_TP (--tensor-parallel-size, 1),
# $SWIFTKV_BENCH_MODES ("off on"), $SWIFTKV_BENCH_A_TIMEOUT (200 s); $SWIFTKV_MAX_NUM_SEQS (256) is
# both servers' --max-num-seqs; SWIFTKV_NO_PIPELINED_STEPS=1 gives both --no-pipelined-steps.
#
# Usage: scripts/gpu-serve-bench.sh [SWIFTKV_BIN]   (default build-gpu-check/src/cli/swiftkv)
# The server needs a tokenizer for random: models: $SWIFTKV_TOKENIZER (default
# ../shared/tokenizers/llama3, else $SWIFTKV_GPU_DATA/tokenizer-llama3). Logs and JSON results go to
# $OUT (default build-gpu-check/serve-bench); the summary table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build-gpu-check/src/cli/swiftkv}
out=${OUT:-build-gpu-check/serve-bench}
data=${SWIFTKV_GPU_DATA:-.gpu-data}
tokenizer=${SWIFTKV_TOKENIZER:-../shared/tokenizers/llama3}
[ -f "$tokenizer/tokenizer.json" ] || tokenizer=$data/tokenizer-llama3
# A prebuilt binary finds cuBLASLt and the carried libcpp-httplib (scripts/gpu-check.sh, deps/).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$data/deps/lib:${LD_LIBRARY_PATH:-}
port=${SWIFTKV_PORT:-8123}
url=http://127.0.0.1:$port
mkdir -p "$out"
t0=$SECONDS
stamp() { echo "[$((SECONDS - t0)) s] $*"; }

model=(--model "random:${SWIFTKV_SHAPE:-llama-3.1-8b}" --swiftkv-layers "${SWIFTKV_SWIFTKV_LAYERS:-16}"
  --group-size "${SWIFTKV_GROUP_SIZE:-1}" --tokenizer "$tokenizer")
kv_cache_dtype=${SWIFTKV_KV_CACHE_DTYPE:-auto}
serve_flags=(--device cuda --kv-cache-dtype "$kv_cache_dtype" --gpu-memory-utilization 0.9
  --max-model-len 8448 --max-num-batched-tokens 8192 --max-num-seqs "${SWIFTKV_MAX_NUM_SEQS:-256}"
  --max-queued-requests 2048
  --port "$port" --tensor-parallel-size "${SWIFTKV_TP:-1}")
if [ "${SWIFTKV_NO_PIPELINED_STEPS:-0}" = 1 ]; then serve_flags+=(--no-pipelined-steps); fi

healthy() {
  if command -v curl > /dev/null; then
    curl -sf "$url/health" > /dev/null 2>&1
  else
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "$url/health" > /dev/null 2>&1
  fi
}
server_pid=
start_server() {  # $1: on|off
  stamp "serve --swiftkv $1"
  echo "command: $bin serve ${model[*]} --swiftkv $1 ${serve_flags[*]}" > "$out/serve-$1.log"
  "$bin" serve "${model[@]}" --swiftkv "$1" "${serve_flags[@]}" >> "$out/serve-$1.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 240); do
    if healthy; then
      grep -E "KV cache|in use after" "$out/serve-$1.log" | sed 's/^/  /'
      return 0
    fi
    if ! kill -0 "$server_pid" 2> /dev/null; then
      echo "server exited:"; tail -20 "$out/serve-$1.log"; return 1
    fi
    sleep 0.5
  done
  echo "server not healthy after 120 s"; tail -20 "$out/serve-$1.log"; return 1
}
stop_server() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2> /dev/null && wait "$server_pid"
  server_pid=
}
trap stop_server EXIT

bench() {  # $1: name, $2: timeout seconds, then bench serve flags
  local name=$1 limit=$2
  shift 2
  echo "command: $bin bench serve --base-url $url $*" > "$out/$name.log"
  timeout "$limit" "$bin" bench serve --base-url "$url" --result-file "$out/$name.json" "$@" \
    >> "$out/$name.log" 2>&1
  local rc=$?
  stamp "$name rc=$rc: $(grep -E "Total token throughput" "$out/$name.log" | tr -s ' ')"
  # Where the server's engine thread spent its time so far (cumulative over this server's runs).
  python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" \
    "$url/metrics" 2> /dev/null | grep -E "^swiftkv:engine_step" | sed 's/^/  /' | tee -a "$out/$name.log"
}
field() {  # $1: json file, $2: key
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2" \
    2> /dev/null || echo 0
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
a=(--input-len 2000 --output-len 256 --num-prompts "${SWIFTKV_BENCH_A_PROMPTS:-1000}"
  --request-rate inf --seed 1)
b_seconds=${SWIFTKV_BENCH_B_SECONDS:-35}
c_seconds=${SWIFTKV_BENCH_C_SECONDS:-25}
read -r -a modes <<< "${SWIFTKV_BENCH_MODES:-off on}"
num_b=20 rate=1.0 num_c=16
for mode in "${modes[@]}"; do
  start_server "$mode" || exit 1
  bench "A-$mode" "${SWIFTKV_BENCH_A_TIMEOUT:-200}" "${a[@]}"
  if [ "$mode" = off ]; then
    capacity=$(field "$out/A-off.json" request_throughput)
    tok_s=$(field "$out/A-off.json" total_token_throughput)
    # A failed: fall back to 1 req/s and 20k tokens/s so that B and C still run briefly.
    rate=$(python3 -c "c = $capacity; print(round(c / 2, 3) if c > 0 else 1.0)")
    num_b=$(python3 -c "print(max(20, min(1000, round($rate * $b_seconds))))")
    num_c=$(python3 -c "t = $tok_s or 20000; print(max(16, min(200, round(t * $c_seconds / 8256))))")
    stamp "off capacity $capacity req/s -> Poisson rate $rate req/s, $num_b prompts; 8k: $num_c prompts"
  fi
  if [ "${SWIFTKV_BENCH_ONLY_A:-0}" = 1 ]; then
    stop_server
    continue
  fi
  if [ "${SWIFTKV_BENCH_SKIP_B:-0}" != 1 ]; then
    bench "B-$mode" 100 --input-len 2000 --output-len 256 --num-prompts "$num_b" \
      --request-rate "$rate" --seed 2
  fi
  bench "C-$mode" 100 --input-len 8000 --output-len 256 --num-prompts "$num_c" \
    --request-rate inf --seed 3
  stop_server
done

python3 - "$out" "$kv_cache_dtype" "${SWIFTKV_GROUP_SIZE:-1}" << 'PY'
import json, os, sys
out = sys.argv[1]
print(f"\nKV cache dtype: {sys.argv[2]} (--kv-cache-dtype, both servers); AcrossKV group size "
      f"{sys.argv[3]}")
def load(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except Exception:
        return None
rows = [("A", "2000 in / 256 out, rate inf"),
        ("B", "2000 in / 256 out, Poisson at half the off capacity"),
        ("C", "8000 in / 256 out, rate inf")]
print("\n| workload | swiftkv | prompts | req/s | total tok/s | output tok/s | mean TTFT ms "
      "| median TTFT ms | mean TPOT ms | failed |")
print("|---|---|---|---|---|---|---|---|---|---|")
for key, label in rows:
    for mode in ("off", "on"):
        r = load(f"{key}-{mode}")
        if r is None:
            print(f"| {label} | {mode} | (no result) |||||||| ")
            continue
        rate = r["request_rate"]
        print(f"| {label}{'' if rate == 'inf' else f' ({rate} req/s)'} | {mode} | "
              f"{r['num_prompts']} | {r['request_throughput']:.2f} | "
              f"{r['total_token_throughput']:.0f} | {r['output_throughput']:.0f} | "
              f"{r['mean_ttft_ms']:.0f} | {r['median_ttft_ms']:.0f} | {r['mean_tpot_ms']:.1f} | "
              f"{r['failed']} |")
def ratio(key, field, better):
    off, on = load(f"{key}-off"), load(f"{key}-on")
    if off is None or on is None or not off[field] or not on[field]:
        return "n/a"
    # Three decimals: a ratio just under a target must not print as the target.
    return f"{on[field] / off[field]:.3f}x" if better == "ratio" else \
        f"{100 * (1 - on[field] / off[field]):.1f}% lower"
print(f"\nA: SwiftKV total token throughput {ratio('A', 'total_token_throughput', 'ratio')} "
      "the off figure (target >= 1.6x)")
print(f"B: SwiftKV mean TTFT {ratio('B', 'mean_ttft_ms', 'lower')} (target >= 40% lower)")
print(f"C: SwiftKV total token throughput {ratio('C', 'total_token_throughput', 'ratio')} "
      "the off figure")
PY
