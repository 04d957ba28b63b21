#!/usr/bin/env bash
# The distillation demo of docs/distillation.md, end to end on CPU:
#   stories260K (5 layers) as teacher; SwiftKV students l = 1, 2, 3 (G = 1) and l = 1, 3 (G = 2)
#   distilled on the first 80% of the TinyStories excerpt plus teacher-written stories, then
#   evaluated (perplexity, KL and top-1 agreement vs the teacher) on the last 20%, for the
#   teacher, the undistilled students (the §6 initialisation) and the distilled students.
# Usage: scripts/distill-demo.sh [work_dir]   (default: demo-distill/; build: build-train/)
# Env: SWIFTKV_BUILD_DIR (default build-train), EPOCHS (1), LR (3e-3), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-demo-distill}
build=${SWIFTKV_BUILD_DIR:-build-train}
epochs=${EPOCHS:-1}
lr=${LR:-3e-3}
threads=${THREADS:-1}  # libtorch OpenMP spins badly on shared CPUs; 1 is fastest there
shared=${SWIFTKV_SHARED_DIR:-$root/../shared}
start=$(date +%s)

if [ ! -x "$build/src/cli/swiftkv" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWIFTKV_TRAIN=ON >/dev/null
  cmake --build "$build" --target swiftkv
fi
swiftkv=$(realpath "$build/src/cli/swiftkv")
mkdir -p "$work"
cd "$work"

echo "== teacher: stories260K imported from llama2.c"
[ -f teacher/config.json ] || "$swiftkv" convert --llama2c "$shared/models/stories260K/stories260K.bin" \
  --tokenizer "$shared/models/stories260K/tok512.bin" --output teacher --overwrite

echo "== data: first 80% of the stories for training, the last 20% held out"
# Paragraphs are blank-line separated; the held-out part starts at the first paragraph opening
# with "Once upon a time" after 80% of the paragraphs, so no story is cut in two.
awk -v RS= -v ORS='\n\n' 'NR==FNR { n++; next }
  FNR == 1 { cut = int(n * 0.8) }
  FNR > cut && !split_done && /^Once upon a time/ { split_done = 1 }
  { print > (split_done ? "heldout.txt" : "train.txt") }' \
  "$shared/data/tinystories-valid/tinystories_val_head.txt" \
  "$shared/data/tinystories-valid/tinystories_val_head.txt"
# Prompt-only documents whose stories the teacher writes (--generate-responses).
openers=("Once upon a time" "Once upon a time, there was a little girl named" "One day," \
  "Once upon a time, there was a big" "Tom and Sue" "The sun was shining and")
: > prompts.jsonl
for i in $(seq 0 149); do
  printf '{"prompt": "%s"}\n' "${openers[$((i % ${#openers[@]}))]}" >> prompts.jsonl
done
echo "train: $(grep -c '' train.txt) lines, held out: $(grep -c '' heldout.txt) lines"

configs=("2 1" "1 1" "3 1" "1 2" "3 2")
for cfg in "${configs[@]}"; do
  read -r l g <<<"$cfg"
  name="l${l}-g${g}"
  echo "== student $name: undistilled (initialised as DESIGN.md §6) and distilled"
  "$swiftkv" convert --to-swiftkv --input teacher --output "init-$name" \
    --num-kv-layers "$l" --group-size "$g" --overwrite >/dev/null
  data=(train.txt responses.jsonl)
  extra=()
  if [ ! -f responses.jsonl ]; then  # the first run has the teacher write its stories
    data=(train.txt prompts.jsonl)
    extra=(--generate-responses --responses-output responses.jsonl --response-temperature 1.0 \
      --response-top-p 0.9)
  fi
  rm -rf "distilled-$name"
  "$swiftkv" distill --model teacher --output "distilled-$name" --data "${data[@]}" \
    --eval-data heldout.txt --num-kv-layers "$l" --group-size "$g" --max-length 256 \
    --batch-size 8 --epochs "$epochs" --lr "$lr" --threads "$threads" --eval-every 50 \
    --save-every 100 --seed 1 "${extra[@]}" | tee "distill-$name.json"
done

echo "== evaluation on the held-out 20% (engine forward, CPU f32)"
"$swiftkv" eval --model teacher --data heldout.txt --threads "$threads" --output eval-teacher.json
for cfg in "${configs[@]}"; do
  read -r l g <<<"$cfg"
  for kind in init distilled; do
    "$swiftkv" eval --model "$kind-l${l}-g${g}" --data heldout.txt --threads "$threads" \
      --output "eval-$kind-l${l}-g${g}.json"
  done
done

python3 - "${configs[@]}" <<'PY' | tee results.md
import json, sys
t = json.load(open("eval-teacher.json"))
print("| model | l | G | perplexity | KL vs teacher | top-1 agreement | greedy token match | gap closed |")
print("|---|---|---|---|---|---|---|---|")
print(f"| teacher (stories260K) | 5 | - | {t['perplexity']:.3f} | 0 | 1 | 1 | |")
for cfg in sys.argv[1:]:
    l, g = cfg.split()
    i = json.load(open(f"eval-init-l{l}-g{g}.json"))
    d = json.load(open(f"eval-distilled-l{l}-g{g}.json"))
    closed = (i["perplexity"] - d["perplexity"]) / max(i["perplexity"] - t["perplexity"], 1e-9)
    for label, r, c in (("undistilled", i, ""), ("distilled", d, f"{100 * closed:.1f}%")):
        print(f"| {label} | {l} | {g} | {r['perplexity']:.3f} | {r['kl']:.4f} | "
              f"{r['top1_agreement']:.3f} | {r['greedy_token_match']:.3f} | {c} |")
PY

echo "== generate with the distilled l=2 student (prompt tokens skip layers 2..4)"
"$swiftkv" generate --model distilled-l2-g1 --prompt "Once upon a time" --max-tokens 120 \
  --temperature 0 --threads "$threads"
echo "== done in $(( $(date +%s) - start )) s; results in $work/results.md"
