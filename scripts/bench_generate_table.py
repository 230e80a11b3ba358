"""Reads the output of scripts/bench_generate.sh (JSON lines of swifttune-bench generate and
bench_generate_hf.py, the text line of llamacpp_decode.py) and prints the best figure of each
implementation with SwiftTune's ratio to the others (> 1 means SwiftTune is better)."""
import json, re, sys

best = {}  # (impl, metric) -> value
higher = {"prefill tok/s": True, "decode tok/s": True, "ttft s": False, "peak RSS MB": False}


def put(impl, metric, value):
    k = (impl, metric)
    if k not in best or (value > best[k] if higher[metric] else value < best[k]):
        best[k] = value


notes = []
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        impl = r["impl"]
        if r["bench"] == "prefill": put(impl, "prefill tok/s", r["tokens_per_s"])
        elif r["bench"] == "decode": put(impl, "decode tok/s", r["tokens_per_s"])
        elif r["bench"] == "ttft": put(impl, "ttft s", r["seconds"])
        elif r["bench"] == "peak_rss": put(impl, "peak RSS MB", r["mb"])
    elif m := re.match(r"llama\.cpp prefill ([\d.]+) tok/s.*decode ([\d.]+) tok/s", line):
        put("llama.cpp", "prefill tok/s", float(m.group(1)))
        put("llama.cpp", "decode tok/s", float(m.group(2)))
    elif line.startswith("llama.cpp failed"):
        notes.append(line)

impls = ["swifttune", "transformers", "llama.cpp"]
print(f"| metric | {' | '.join(impls)} | vs transformers | vs llama.cpp |")
print("|---|" + "---|" * (len(impls) + 2))
for metric, hi in higher.items():
    vals = [best.get((i, metric)) for i in impls]
    cells = ["—" if v is None else (f"{v:.3f}" if metric == "ttft s" else f"{v:.1f}") for v in vals]
    ratios = []
    for other in vals[1:]:
        if vals[0] is None or other is None or vals[0] == 0 or other == 0: ratios.append("—")
        else: ratios.append(f"{(vals[0] / other if hi else other / vals[0]):.2f}×")
    print(f"| {metric} | {' | '.join(cells)} | {' | '.join(ratios)} |")
for n in notes: print(n)
