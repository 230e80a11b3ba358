#!/usr/bin/env python3
"""Shows that the yoda data's trailing interjection (translation_extra minus translation) is a function of
sha256(sentence) mod 6, so no model can predict it for an unseen sentence: exact match on test.jsonl is
about (correct translations) / 6, give or take binomial luck. Usage: python3 scripts/check_yoda_interjection.py"""
import collections, hashlib, json, math, pathlib, zlib

root = pathlib.Path(__file__).resolve().parent.parent / "Examples" / "yoda"
rows = [json.loads(l) for f in ("train.jsonl", "test.jsonl") for l in open(root / f) if l.strip()]


def interjection(r):
    return r["translation_extra"][len(r["translation"]):].strip()


def purity(key):
    groups = collections.defaultdict(collections.Counter)
    for r in rows:
        groups[key(r) % 6][interjection(r)] += 1
    return sum(max(c.values()) for c in groups.values()) / len(rows)


hashes = {
    "sha256": lambda s: int(hashlib.sha256(s.encode()).hexdigest(), 16),
    "md5": lambda s: int(hashlib.md5(s.encode()).hexdigest(), 16),
    "crc32": lambda s: zlib.crc32(s.encode()),
    "length": len,
    "words": lambda s: len(s.split()),
}
print(f"{len(rows)} rows; share of rows whose interjection is the majority one of their class (mod 6):")
for name, h in hashes.items():
    print(f"  {name:7s}(sentence) mod 6: {purity(lambda r: h(r['sentence'])):.3f}")
table = {}
for r in rows:
    table[hashes["sha256"](r["sentence"]) % 6] = interjection(r)
print("interjection = ", [table[i] for i in range(6)], "[sha256(sentence) mod 6]")
for n in (34, 36):
    p = sum(math.comb(n, k) * (1 / 6) ** k * (5 / 6) ** (n - k) for k in range(10, n + 1))
    print(f"P(exact >= 10 | {n} correct translations, interjection a 1-in-6 guess) = {p:.3f}")
