#!/usr/bin/env bash
# Runs SwiftTune's engine benchmarks and their PyTorch twin in the same session and prints both with
# their ratio. Needs a Python with torch and transformers: PYTHON=/path/to/venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
PYTHON=${PYTHON:-python3}
swift build -c release --product swifttune-bench >/dev/null
out=$(mktemp)
.build/release/swifttune-bench "$@" | tee -a "$out"
"$PYTHON" scripts/bench_torch.py "$@" | tee -a "$out"
"$PYTHON" scripts/bench_compare.py < "$out"
