#!/usr/bin/env bash
# Inference speed on a GGUF model, three implementations in one session, interleaved round by round
# (ours, transformers, llama.cpp; ROUNDS times, default 2), best of all rounds, with ratios:
#   swifttune-bench generate          (SwiftTune, GGUF blocks kept; SWIFTTUNE_BENCH_F32=1 for float32)
#   scripts/bench_generate_hf.py      (transformers, float32 from the same GGUF)
#   shared/bench/llamacpp_decode.py   (llama-cpp-python on the same GGUF; its decode figure includes the prompt)
# usage: PYTHON=/work/venv/bin/python bash scripts/bench_generate.sh [MODEL.gguf]
#   (NO_BUILD=1 BENCH=path/to/swifttune-bench to use a binary built elsewhere)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
PYTHON=${PYTHON:-/work/venv/bin/python}
MODEL=${1:-$HOME/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf}
ROUNDS=${ROUNDS:-2}
SHARED=${SWIFTTUNE_SHARED:-$(cd .. && pwd)/shared}
export SWIFTTUNE_THREADS=${SWIFTTUNE_THREADS:-2}
BENCH=${BENCH:-.build/release/swifttune-bench}
if [ -z "${NO_BUILD:-}" ]; then swift build -c release --product swifttune-bench >/dev/null || exit 1; fi
out=$(mktemp)
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    "$BENCH" generate "$MODEL" | tee -a "$out"
    "$PYTHON" scripts/bench_generate_hf.py "$MODEL" 128 2>/dev/null | tee -a "$out"
    # llama.cpp's OpenMP threads spin while waiting, which costs it dearly on a busy machine; it runs
    # with the default policy and with OMP_WAIT_POLICY=PASSIVE, and the table keeps its better figure.
    for policy in default PASSIVE; do
        if lc=$(if [ "$policy" = PASSIVE ]; then export OMP_WAIT_POLICY=PASSIVE; fi
                "$PYTHON" "$SHARED/bench/llamacpp_decode.py" "$MODEL" 128 2>&1); then
            echo "$(echo "$lc" | head -1) [OMP wait policy $policy]" | tee -a "$out"
        else
            echo "llama.cpp failed (exit $?, OMP wait policy $policy): $(echo "$lc" | tail -1)" | tee -a "$out"
        fi
    done
done
"$PYTHON" scripts/bench_generate_table.py < "$out"
