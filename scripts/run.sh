#!/usr/bin/env bash
# The main job on a fresh Debian machine: install dependencies, build, turn the stories260K
# model from ../shared into a SwiftKV checkpoint, and serve it behind the OpenAI-compatible API
# on http://127.0.0.1:8000 (Ctrl-C or SIGTERM stops it, draining in-flight requests).
#   scripts/run.sh [serve flags]            e.g. --port 8080 --api-key KEY
#   scripts/run.sh generate [generate flags] e.g. --prompt "Lily and Ben" --temperature 0.8
set -euo pipefail
cd "$(dirname "$0")/.."
shared=$(cd ../shared && pwd)

scripts/setup.sh
scripts/build.sh
swiftkv=build/src/cli/swiftkv
model=models/stories260K-swiftkv

if [ ! -f models/stories260K/config.json ]; then
  "$swiftkv" convert --llama2c "$shared/models/stories260K/stories260K.bin" \
    --tokenizer "$shared/models/stories260K/tok512.bin" --output models/stories260K
fi
if [ ! -f $model/config.json ]; then
  "$swiftkv" convert --to-swiftkv --input models/stories260K --output $model --num-kv-layers 3
fi

if [ "${1:-}" = generate ]; then
  shift
  [ $# -gt 0 ] || set -- --prompt "Once upon a time" --max-tokens 200
  exec "$swiftkv" generate --model $model "$@"
fi
cat >&2 <<'HINT'
Serving stories260K-swiftkv. Try, from another shell:
  curl -s http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \
    -d '{"model": "stories260K-swiftkv", "prompt": "Once upon a time", "max_tokens": 64}'
HINT
exec "$swiftkv" serve --model $model --served-model-name stories260K-swiftkv "$@"
