#!/usr/bin/env python3
"""Write Tests/TokenizersTests/Fixtures/oniguruma_classes.json: the code points that Oniguruma (inside HF
`tokenizers`) puts in \\p{L}, \\p{N}, \\s and \\p{M}, as [first, last] ranges, so the Swift tables used by the
hand-coded pre-tokenizer splitters can be compared with them over all of Unicode.

Usage: /work/venv/bin/python scripts/gen_unicode_classes.py
"""
import json
import os
import sys

import tokenizers
from tokenizers import Regex, pre_tokenizers


def ranges(cls):
    # With behavior "removed" the pieces are the text between matches: a code point is in the class
    # exactly when no piece covers it.
    split = pre_tokenizers.Split(Regex(cls), behavior="removed")
    out = []
    chunk = 0x10000
    for base in range(0, 0x110000, chunk):
        cps = [c for c in range(base, base + chunk) if not (0xD800 <= c <= 0xDFFF)]
        text = "".join(chr(c) for c in cps)
        kept = set()
        for _, (s, e) in split.pre_tokenize_str(text):
            kept.update(range(s, e))
        for i, c in enumerate(cps):
            if i not in kept:
                if out and out[-1][1] == c - 1:
                    out[-1][1] = c
                else:
                    out.append([c, c])
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    doc = {"reference": {"library": "tokenizers", "version": tokenizers.__version__},
           "classes": {name: ranges(cls) for name, cls in [("L", r"\p{L}"), ("N", r"\p{N}"), ("s", r"\s"), ("M", r"\p{M}")]}}
    path = os.path.join(here, "..", "Tests", "TokenizersTests", "Fixtures", "oniguruma_classes.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
    print({k: len(v) for k, v in doc["classes"].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
