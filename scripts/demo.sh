#!/usr/bin/env bash
# The main job: installs dependencies and the default model (SmolLM2-135M-Instruct), builds optimised,
# then fine-tunes a LoRA adapter on the yoda data and compares the base and fine-tuned answers on the
# test set (Examples/yoda/train.yaml; about 12 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "model: $(bash scripts/fetch-model.sh)"
swift build -c release --product swifttune
.build/release/swifttune train Examples/yoda/train.yaml "$@"
