#!/usr/bin/env python3
"""Tokenizer throughput of Hugging Face `tokenizers` (the reference for SwiftTune's Tokenizers module).

Encodes the 20 long paragraphs of shared/testdata/tokenizers/corpus.json one after another on one
thread (`Tokenizer.encode(text, add_special_tokens=False)`, not encode_batch), for each core tokenizer,
and prints one JSON line per tokenizer with MB/s (UTF-8 bytes of input per second). Same method as
Benchmarks/swifttune-bench/TokenizerBench.swift.

Usage: /work/venv/bin/python scripts/bench_tokenizers.py [SHARED_DIR] [MIN_SECONDS]
"""
import os
import sys

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import json  # noqa: E402
import time  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402

NAMES = ["gpt2", "smollm2-135m", "qwen2", "llama3", "llama2", "mistral-7b-v0.3"]


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    shared = argv[1] if len(argv) > 1 else os.environ.get("SWIFTTUNE_SHARED", os.path.join(here, "..", "..", "shared"))
    min_seconds = float(argv[2]) if len(argv) > 2 else 1.0
    base = os.path.join(shared, "testdata", "tokenizers")
    with open(os.path.join(base, "corpus.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    paragraphs = [c["text"] for c in cases if c["category"] == "paragraph"]
    nbytes = sum(len(p.encode("utf-8")) for p in paragraphs)
    for name in NAMES:
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(base, name, "tokenizer.json"))
        load = time.perf_counter() - t0
        tokens = sum(len(tok.encode(p, add_special_tokens=False).ids) for p in paragraphs)  # warm-up
        passes = 0
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < min_seconds or passes < 3:
            for p in paragraphs:
                tok.encode(p, add_special_tokens=False)
            passes += 1
            elapsed = time.perf_counter() - start
        mbps = nbytes * passes / elapsed / 1e6
        print(json.dumps({"bench": "tokenizers-hf", "tokenizer": name, "bytes": nbytes, "passes": passes,
                          "seconds": round(elapsed, 4), "mb_per_s": round(mbps, 2), "tokens": tokens,
                          "load_seconds": round(load, 3)}, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
