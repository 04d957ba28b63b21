#!/usr/bin/env bash
# The main job on a fresh Debian machine: install dependencies, build, turn the stories260K
# model from ../shared into a SwiftKV checkpoint, and generate text with it.
# Extra arguments are passed to `swiftkv generate` (e.g. --prompt "Once upon a time").
set -euo pipefail
cd "$(dirname "$0")/.."
shared=$(cd ../shared && pwd)

scripts/setup.sh
scripts/build.sh
swiftkv=build/src/cli/swiftkv

if [ ! -f models/stories260K/config.json ]; then
  "$swiftkv" convert --llama2c "$shared/models/stories260K/stories260K.bin" \
    --tokenizer "$shared/models/stories260K/tok512.bin" --output models/stories260K
fi
if [ ! -f models/stories260K-swiftkv/config.json ]; then
  "$swiftkv" convert --to-swiftkv --input models/stories260K --output models/stories260K-swiftkv \
    --num-kv-layers 3
fi
if [ $# -eq 0 ]; then
  set -- --prompt "Once upon a time" --max-tokens 200
fi
exec "$swiftkv" generate --model models/stories260K-swiftkv "$@"
