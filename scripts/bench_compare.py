#!/usr/bin/env python3
"""Joins the JSON lines of `swifttune-bench` and `bench_torch.py` (same run, same machine) into one
table with the speed ratio (reference time / SwiftTune time: above 1 means SwiftTune is faster)."""
import json, sys

rows = {}
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    rows.setdefault((r["bench"], r["shape"]), {})[r["impl"]] = r

print(f"| benchmark | shape | swifttune ms | torch ms | ratio (torch/swifttune) | swifttune GFLOP/s |")
print(f"|---|---|---|---|---|---|")
for (bench, shape), impls in rows.items():
    s, t = impls.get("swifttune"), impls.get("torch")
    ratio = f"{t['ms'] / s['ms']:.2f}×" if s and t else "-"
    print(f"| {bench} | {shape} | {s['ms'] if s else '-'} | {t['ms'] if t else '-'} | {ratio} | {s.get('gflops', '-') if s else '-'} |")
