#!/usr/bin/env python3
"""Times torch (CPU, 2 threads) on the shapes of Tests/TensorsTests/KernelsBenchTests.swift.

Prints one JSON line per measurement: {"kernel": name, "ms": min over runs}. Pair with
  SWIFTTUNE_KERNEL_BENCH=1 OPENBLAS_CORETYPE=SKYLAKEX swift test -c release -Xswiftc -enable-testing \
      --filter KernelsBenchTests
Run: /work/venv/bin/python scripts/bench_kernels.py [--compare swift.jsonl]
With --compare, also prints a table against the Swift harness's JSON lines (ratio = torch / swift,
above 1 means Swift is faster).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


class Timing:
    """Fastest wall and process-CPU milliseconds over the runs (CPU time, all threads, is much less
    disturbed by other processes on a shared machine)."""
    def __init__(self, wall, cpu):
        self.wall, self.cpu = wall, cpu

    def __sub__(self, o):
        return Timing(self.wall - o.wall, self.cpu - o.cpu)


def best(fn, runs=15):
    fn(); fn()
    ws, cs = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cs.append((time.process_time() - c) * 1e3)
        ws.append((time.perf_counter() - t) * 1e3)
    return Timing(min(ws), min(cs))


RESULTS = {}


def report(name, t):
    RESULTS[name] = t
    print(json.dumps({"kernel": name, "ms": round(t.wall, 3), "cpu_ms": round(t.cpu, 3)}), flush=True)


def compare(path):
    swift = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{") and '"kernel"' in line:
                r = json.loads(line)
                prev = swift.get(r["kernel"])  # several runs concatenated: keep the fastest
                if prev:
                    r = {"kernel": r["kernel"], "ms": min(r["ms"], prev["ms"]), "cpu_ms": min(r["cpu_ms"], prev["cpu_ms"])}
                swift[r["kernel"]] = r
    print(f"| kernel | swift ms (cpu) | torch ms (cpu) | torch/swift wall | torch/swift cpu |")
    print(f"|---|---|---|---|---|")
    for name, t in RESULTS.items():
        if name not in swift:
            continue
        s = swift[name]
        print(f"| {name} | {s['ms']:.3f} ({s['cpu_ms']:.3f}) | {t.wall:.3f} ({t.cpu:.3f}) | "
              f"{t.wall / s['ms']:.2f} | {t.cpu / s['cpu_ms']:.2f} |")


def attention():
    for B, T in ((8, 64), (1, 512)):
        Hq, Hkv, D = 9, 3, 64
        q = torch.randn(B, Hq, T, D, requires_grad=True)
        k = torch.randn(B, Hkv, T, D, requires_grad=True)
        v = torch.randn(B, Hkv, T, D, requires_grad=True)
        do = torch.randn(B, Hq, T, D)
        variants = {}

        def gqa():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

        def repeated():  # HF's repeat_kv path
            return F.scaled_dot_product_attention(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1), is_causal=True)

        for name, f in (("enable_gqa", gqa), ("repeat_kv", repeated)):
            with torch.no_grad():
                fwd = best(f)
            def fb():
                q.grad = k.grad = v.grad = None
                f().backward(do)
            variants[name] = (fwd, best(fb))
        name, (fwd, fb) = min(variants.items(), key=lambda kv: kv[1][1].cpu)
        report(f"attention_fwd_b{B}_t{T}", fwd)
        report(f"attention_bwd_b{B}_t{T}", fb - fwd)
        report(f"attention_fwdbwd_b{B}_t{T}", fb)


def cross_entropy():
    rows, vocab = 512, 49152
    x = (torch.randn(rows, vocab) * 3).requires_grad_()
    t = torch.randint(0, vocab, (rows,))
    t[::4] = -100
    with torch.no_grad():
        f = best(lambda: F.cross_entropy(x, t, ignore_index=-100), 9)
    def fb():
        x.grad = None
        F.cross_entropy(x, t, ignore_index=-100).backward()
    b = best(fb, 9)
    report("cross_entropy_fwd_512x49152", f)
    report("cross_entropy_bwd_512x49152", b - f)
    report("cross_entropy_fwdbwd_512x49152", b)


def fwdbwd(name, make, runs=15):
    def fb():
        out, grad, leaves = make()
        out.backward(grad)
    report(name, best(fb, runs))


def norms():
    rows, dim = 512, 576
    x = torch.randn(rows, dim, requires_grad=True)
    w = torch.randn(dim, requires_grad=True)
    b = torch.randn(dim, requires_grad=True)
    dy = torch.randn(rows, dim)
    def rms():  # LlamaRMSNorm.forward in f32
        var = x.pow(2).mean(-1, keepdim=True)
        return w * (x * torch.rsqrt(var + 1e-5)), dy, None
    fwdbwd("rmsnorm_fwdbwd_512x576", rms)
    if hasattr(F, "rms_norm"):
        fwdbwd("rmsnorm_fused_fwdbwd_512x576", lambda: (F.rms_norm(x, (dim,), w, 1e-5), dy, None))
    fwdbwd("layernorm_fwdbwd_512x576", lambda: (F.layer_norm(x, (dim,), w, b, 1e-5), dy, None))


def rope():
    tokens, heads, D = 512, 9, 64
    pos = (torch.arange(tokens) % 64)[None]
    inv = 1.0 / (100000.0 ** (torch.arange(0, D, 2).float() / D))
    def tables():
        freqs = (inv[None, :, None] @ pos[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), -1)
        return emb.cos(), emb.sin()
    report("rope_tables_512x64", best(tables))
    cos, sin = tables()
    cos, sin = cos[0][:, None, :], sin[0][:, None, :]
    x = torch.randn(tokens, heads, D, requires_grad=True)
    dy = torch.randn(tokens, heads, D)
    def rot(t):
        return torch.cat((-t[..., D // 2:], t[..., : D // 2]), -1)
    fwdbwd("rope_fwdbwd_512x9x64", lambda: (x * cos + rot(x) * sin, dy, None))


def softmax():
    x = (torch.randn(4608, 512) * 2).requires_grad_()
    dy = torch.randn(4608, 512)
    fwdbwd("softmax_fwdbwd_4608x512", lambda: (F.softmax(x, -1), dy, None))
    fwdbwd("log_softmax_fwdbwd_4608x512", lambda: (F.log_softmax(x, -1), dy, None))


def silu():
    n = 512 * 1536
    g = (torch.randn(n) * 2).requires_grad_()
    u = torch.randn(n, requires_grad=True)
    d = torch.randn(n)
    fwdbwd("silu_mul_fwdbwd_512x1536", lambda: (F.silu(g) * u, d, None))


def convert():
    n = 1 << 22
    x = torch.randn(n)
    h = x.to(torch.bfloat16)
    hh = x.to(torch.float16)
    report("to_bf16_4M", best(lambda: x.to(torch.bfloat16), 7))
    report("from_bf16_4M", best(lambda: h.to(torch.float32), 7))
    report("to_f16_4M", best(lambda: x.to(torch.float16), 7))
    report("from_f16_4M", best(lambda: hh.to(torch.float32), 7))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", help="JSON lines printed by KernelsBenchTests")
    args = ap.parse_args()
    attention()
    cross_entropy()
    norms()
    rope()
    softmax()
    silu()
    convert()
    if args.compare:
        compare(args.compare)
