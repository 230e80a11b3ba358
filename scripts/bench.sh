#!/usr/bin/env bash
# Runs SwiftTune's engine benchmarks and their PyTorch twin in the same session and prints both with
# their ratio. Needs a Python with torch and transformers: PYTHON=/path/to/venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
PYTHON=${PYTHON:-python3}
# NO_BUILD=1 BENCH=path/to/swifttune-bench: use a binary built elsewhere.
BENCH=${BENCH:-.build/release/swifttune-bench}
if [ -z "${NO_BUILD:-}" ]; then swift build -c release --product swifttune-bench >/dev/null; fi
# ROUNDS=N runs both N times, interleaved; the table then gives each side's median over the rounds
# (and the range), since this 2-vCPU VM's timings wander by tens of percent between minutes.
ROUNDS=${ROUNDS:-1}
out=$(mktemp)
for round in $(seq "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && echo "round $round/$ROUNDS" >&2
    "$BENCH" "$@" | tee -a "$out"
    "$PYTHON" scripts/bench_torch.py "$@" | tee -a "$out"
done
"$PYTHON" scripts/bench_compare.py < "$out"
