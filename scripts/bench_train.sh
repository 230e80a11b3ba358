#!/usr/bin/env bash
# LoRA training throughput, SwiftTune against PyTorch + PEFT on the same model and machine:
# `swifttune-bench train-step` and its twin /work/shared/bench/torch_lora_step.py (through
# scripts/bench_train_torch.py, which gives it an HF folder made from the same GGUF), run interleaved
# (ours, theirs, ours, theirs, ...) so that load from other processes hits both alike; prints each run's
# JSON line, then the best tokens/s of each side and their ratio.
#   ROUNDS=3 PYTHON=/work/venv/bin/python bash scripts/bench_train.sh [--batch 8 --seq 64]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
PYTHON=${PYTHON:-/work/venv/bin/python}
ROUNDS=${ROUNDS:-3}
MODEL=${MODEL:-$(bash scripts/fetch-model.sh)}
BATCH=8; SEQ=64
while [ $# -gt 0 ]; do
    case "$1" in
        --batch) BATCH=$2; shift 2 ;;
        --seq) SEQ=$2; shift 2 ;;
        *) echo "bench_train.sh: unknown option $1 (--batch N --seq N)" >&2; exit 2 ;;
    esac
done
BENCH=${BENCH:-.build/release/swifttune-bench}
if [ -z "${NO_BUILD:-}" ]; then swift build -c release --product swifttune-bench >/dev/null; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq 1 "$ROUNDS"); do
    "$BENCH" train-step --model "$MODEL" --batch "$BATCH" --seq "$SEQ" | tee -a "$out"
    "$PYTHON" scripts/bench_train_torch.py "$MODEL" "$BATCH" "$SEQ" | tee -a "$out"
done
"$PYTHON" - "$out" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"): continue
    r = json.loads(line)
    if r.get("bench") != "lora_train_step": continue
    if r["impl"] not in best or r["tokens_per_s"] > best[r["impl"]]["tokens_per_s"]: best[r["impl"]] = r
s, t = best.get("swifttune"), best.get("torch")
if not s or not t: sys.exit("bench_train: missing results")
print(f"LoRA train step {s['shape']}, best of runs: SwiftTune {s['tokens_per_s']:.1f} tokens/s (peak RSS {s['peak_rss_mib']:.0f} MiB), "
      f"PyTorch {t['tokens_per_s']:.1f} tokens/s (peak RSS {t['peak_rss_mib']:.0f} MiB): {s['tokens_per_s'] / t['tokens_per_s']:.2f}x")
PY
