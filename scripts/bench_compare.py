#!/usr/bin/env python3
"""Joins the JSON lines of `swifttune-bench` and `bench_torch.py` (same run, same machine) into one
table with the speed ratio (reference time / SwiftTune time: above 1 means SwiftTune is faster).
With several rounds (scripts/bench.sh ROUNDS=N) each side's figure is its median over the rounds, the
range follows in brackets, and the ratio is that of the medians; the per-round ratios are listed too."""
import json, statistics, sys

rows = {}
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if "shape" not in r or "ms" not in r:
        continue  # e.g. the tokenizer lines (MB/s), compared by scripts/bench_tokenizers.py
    rows.setdefault((r["bench"], r["shape"]), {}).setdefault(r["impl"], []).append(r)


def cell(rs):
    if not rs:
        return "-", None
    ms = [r["ms"] for r in rs]
    med = statistics.median(ms)
    return (f"{med:.2f}" if len(ms) == 1 else f"{med:.2f} [{min(ms):.1f}–{max(ms):.1f}]"), med


print("| benchmark | shape | swifttune ms | torch ms | ratio (torch/swifttune) | per-round ratios | swifttune GFLOP/s |")
print("|---|---|---|---|---|---|---|")
for (bench, shape), impls in rows.items():
    s, t = impls.get("swifttune", []), impls.get("torch", [])
    (sc, sm), (tc, tm) = cell(s), cell(t)
    ratio = f"{tm / sm:.2f}×" if sm and tm else "-"
    rounds = ", ".join(f"{b['ms'] / a['ms']:.2f}" for a, b in zip(s, t)) if len(s) > 1 and len(t) > 1 else "-"
    gf = statistics.median([r["gflops"] for r in s if "gflops" in r]) if any("gflops" in r for r in s) else "-"
    print(f"| {bench} | {shape} | {sc} | {tc} | {ratio} | {rounds} | {gf} |")
