#!/usr/bin/env bash
# The distillation demo of docs/distillation.md, end to end on CPU:
#   stories260K (5 layers) as teacher; SwiftKV students (l, G) = (2, 1), (3, 1), (3, 2), (1, 1),
#   (1, 2), in that order (the 70% target concerns l = 2 and 3), distilled on the first 80% of
#   the TinyStories excerpt plus teacher-written stories, then evaluated (perplexity, KL and
#   top-1 agreement vs the teacher) on the last 20%, for the teacher, the undistilled students
#   (the §6 initialisation) and the distilled students. Each student is evaluated right after its
#   training, so an interrupted run still leaves complete rows; results.md lists the rows run.
# Usage: scripts/distill-demo.sh [work_dir]   (default: demo-distill/; build: build-train/)
# Env: SWIFTKV_BUILD_DIR (default build-train), EPOCHS (1), LR (1e-2), BATCH (4),
#   TEMPERATURE (2), HIDDEN_WEIGHT (1), THREADS (1), EVAL_DOCS (held-out paragraphs scored by
#   `swiftkv eval`, 0 = all), CONFIGS ("2 1,3 1,3 2,1 1,1 2"), NUM_PROMPTS (150: stories the
#   teacher writes, on the first run in a work dir), REPORT_ONLY (1: no training or evaluation,
#   only results.md and the generation from what an earlier run left).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-demo-distill}
build=${SWIFTKV_BUILD_DIR:-build-train}
epochs=${EPOCHS:-1}
lr=${LR:-1e-2}
batch=${BATCH:-4}
temperature=${TEMPERATURE:-2}
hidden_weight=${HIDDEN_WEIGHT:-1}
threads=${THREADS:-1}  # libtorch OpenMP spins badly on shared CPUs; 1 is fastest there
eval_docs=${EVAL_DOCS:-0}
num_prompts=${NUM_PROMPTS:-150}
report_only=${REPORT_ONLY:-0}
IFS=, read -r -a configs <<<"${CONFIGS:-2 1,3 1,3 2,1 1,1 2}"
shared=${SWIFTKV_SHARED_DIR:-$root/../shared}
# libtorch and the engine use OpenBLAS, which picks its slow 'Prescott' kernels on some virtual
# CPUs that do have AVX2/AVX-512 (2.5x slower training steps here); name the right core.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
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
for i in $(seq 0 $((num_prompts - 1))); do
  printf '{"prompt": "%s"}\n' "${openers[$((i % ${#openers[@]}))]}" >> prompts.jsonl
done
echo "train: $(grep -c '' train.txt) lines, held out: $(grep -c '' heldout.txt) lines"

# The trainer's own held-out curve (metrics.jsonl) uses the first 150 held-out paragraphs, to
# keep its periodic evaluations cheap; the table below scores the held-out set with the engine.
awk -v RS= -v ORS='\n\n' 'NR <= 150' heldout.txt > heldout-monitor.txt

echo "== evaluation of the teacher on the held-out 20% (engine forward, CPU f32)"
[ "$report_only" = 1 ] || "$swiftkv" eval --model teacher --data heldout.txt --max-documents "$eval_docs" \
  --threads "$threads" --output eval-teacher.json >/dev/null

# results.md: the table of every student evaluated so far (rewritten after each student).
report() {
  python3 - "$epochs" "$lr" "$batch" "$temperature" "$hidden_weight" "$eval_docs" \
    "${configs[@]}" > results.md <<'PY'
import json, os, sys
epochs, lr, batch, temperature, hidden_weight, eval_docs, *configs = sys.argv[1:]
t = json.load(open("eval-teacher.json"))
subset = "all" if eval_docs == "0" else f"the first {t['num_documents']}"
print(f"Held-out: {subset} of the 859 held-out paragraphs, {t['num_tokens']} scored tokens. "
      f"Distillation: {epochs} epoch(s), lr {lr}, batch {batch} x 256 tokens, T = {temperature}, "
      f"hidden-MSE weight {hidden_weight}.\n")
print("| model | l | G | perplexity | KL vs teacher | top-1 agreement | greedy token match "
      "| gap closed | training time |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| teacher (stories260K) | 5 | - | {t['perplexity']:.3f} | 0 | 1 | 1 | | |")
for cfg in configs:
    l, g = cfg.split()
    files = [f"eval-{k}-l{l}-g{g}.json" for k in ("init", "distilled")]
    if not all(os.path.exists(f) for f in files):
        print(f"| (not run) | {l} | {g} | | | | | | |")
        continue
    i, d = (json.load(open(f)) for f in files)
    secs = json.load(open(f"time-l{l}-g{g}.json"))["train_seconds"]
    closed = (i["perplexity"] - d["perplexity"]) / max(i["perplexity"] - t["perplexity"], 1e-9)
    for label, r, c, s in (("undistilled", i, "", ""),
                           ("distilled", d, f"{100 * closed:.1f}%", f"{secs} s")):
        print(f"| {label} | {l} | {g} | {r['perplexity']:.3f} | {r['kl']:.4f} | "
              f"{r['top1_agreement']:.3f} | {r['greedy_token_match']:.3f} | {c} | {s} |")
PY
}

for cfg in "${configs[@]}"; do
  read -r l g <<<"$cfg"
  name="l${l}-g${g}"
  [ "$report_only" = 1 ] && continue
  echo "== student $name: undistilled (initialised as DESIGN.md §6) and distilled"
  t0=$(date +%s)
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
    --eval-data heldout-monitor.txt --num-kv-layers "$l" --group-size "$g" --max-length 256 \
    --batch-size "$batch" --epochs "$epochs" --lr "$lr" --temperature "$temperature" \
    --hidden-weight "$hidden_weight" --threads "$threads" --eval-every 100 --save-every 0 \
    --seed 1 --no-progress "${extra[@]}" | tee "distill-$name.json"
  t1=$(date +%s)
  for kind in init distilled; do
    "$swiftkv" eval --model "$kind-$name" --data heldout.txt --max-documents "$eval_docs" \
      --threads "$threads" --output "eval-$kind-$name.json" >/dev/null
  done
  echo "{\"train_seconds\": $((t1 - t0)), \"eval_seconds\": $(( $(date +%s) - t1 ))}" \
    > "time-$name.json"
  echo "student $name: $((t1 - t0)) s training, $(( $(date +%s) - t1 )) s evaluation"
  report
done
report
cat results.md

echo "== generate with the distilled l=2 student (prompt tokens skip layers 2..4)"
if [ -d distilled-l2-g1 ]; then
  "$swiftkv" generate --model distilled-l2-g1 --prompt "Once upon a time" --max-tokens 120 \
    --temperature 0 --threads "$threads" | tee generate-l2-g1.txt
fi
echo "== done in $(( $(date +%s) - start )) s; results in $work/results.md"
