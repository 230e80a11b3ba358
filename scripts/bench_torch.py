#!/usr/bin/env python3
"""PyTorch twin of `swifttune-bench`: the same engine benchmarks on the same shapes (SmolLM2-135M's),
printed as the same JSON lines, so `scripts/bench.sh` can put the two side by side.

Shapes: hidden 576, 9 query / 3 KV heads, head_dim 64, intermediate 1536, vocab 49,152, at
(batch 8, seq 64) and (batch 1, seq 512). Two threads (BENCH_THREADS), float32.
"""
import json, os, sys, time
import torch
import torch.nn.functional as F

# BENCH_THREADS (default 2); BENCH_CLOCK=cpu reports the fastest call's process CPU time instead of the
# mean wall time (with one thread: the work itself, steadier on a loaded machine), BENCH_CLOCK=median the
# median wall time per call, as swifttune-bench does.
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
CPU_CLOCK = os.environ.get("BENCH_CLOCK") == "cpu"
MEDIAN_CLOCK = os.environ.get("BENCH_CLOCK") == "median"   # median wall time per call
torch.manual_seed(0)
HIDDEN, HEADS, KV, HD, INTER, VOCAB = 576, 9, 3, 64, 1536, 49152
SHAPES = [(8, 64), (1, 512)]


def timeit(fn, min_time=1.0, warmup=2):
    for _ in range(warmup):
        fn()
    n, t0, fastest, calls = 0, time.perf_counter(), float("inf"), []
    while True:
        c0, w0 = time.process_time(), time.perf_counter()
        fn(); n += 1
        fastest = min(fastest, time.process_time() - c0)
        calls.append(time.perf_counter() - w0)
        dt = time.perf_counter() - t0
        if dt >= min_time and n >= 3:
            if MEDIAN_CLOCK:
                return sorted(calls)[len(calls) // 2]
            return fastest if CPU_CLOCK else dt / n


def emit(name, shape, seconds, flops=None, **extra):
    rec = {"impl": "torch", "bench": name, "shape": shape, "ms": round(seconds * 1e3, 4)}
    if flops:
        rec["gflops"] = round(flops / seconds / 1e9, 2)
    rec.update(extra)
    print(json.dumps(rec), flush=True)


def bench_matmul():
    # The block's GEMMs at B*T = 512 tokens, weight stored [out, in] as in nn.Linear (x @ W^T).
    for (m, k, n) in [(512, 576, 576), (512, 576, 192), (512, 576, 1536), (512, 1536, 576), (512, 576, VOCAB), (2048, 2048, 2048)]:
        a = torch.randn(m, k); w = torch.randn(n, k)
        s = timeit(lambda: a @ w.t())
        emit("matmul", f"{m}x{k}x{n}", s, 2.0 * m * n * k)


def bench_attention():
    for (b, t) in SHAPES:
        q = torch.randn(b, HEADS, t, HD, requires_grad=True)
        k = torch.randn(b, KV, t, HD, requires_grad=True)
        v = torch.randn(b, KV, t, HD, requires_grad=True)
        g = torch.randn(b, HEADS, t, HD)
        def fwd_bwd():
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            o.backward(g)
        s = timeit(fwd_bwd)
        emit("attention_fwd_bwd", f"b{b}_t{t}", s)


def bench_cross_entropy():
    for (b, t) in SHAPES:
        logits = torch.randn(b * t, VOCAB, requires_grad=True)
        target = torch.randint(0, VOCAB, (b * t,))
        def fwd_bwd():
            F.cross_entropy(logits, target, ignore_index=-100).backward()
        s = timeit(fwd_bwd)
        emit("cross_entropy_fwd_bwd", f"b{b}_t{t}", s)


def bench_block():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding
    cfg = LlamaConfig(hidden_size=HIDDEN, intermediate_size=INTER, num_attention_heads=HEADS,
                      num_key_value_heads=KV, head_dim=HD, rms_norm_eps=1e-5, rope_theta=100000.0,
                      max_position_embeddings=8192, attn_implementation="sdpa")
    layer = LlamaDecoderLayer(cfg, layer_idx=0)
    rope = LlamaRotaryEmbedding(cfg)
    for (b, t) in SHAPES:
        x = torch.randn(b, t, HIDDEN, requires_grad=True)
        pos = torch.arange(t).unsqueeze(0).expand(b, t)
        g = torch.randn(b, t, HIDDEN)
        def fwd_bwd():
            pe = rope(x, pos)
            out = layer(x, attention_mask=None, position_ids=pos, position_embeddings=pe)
            out = out[0] if isinstance(out, tuple) else out
            out.backward(g)
        s = timeit(fwd_bwd)
        emit("decoder_block_fwd_bwd", f"b{b}_t{t}", s)


if __name__ == "__main__":
    which = sys.argv[1:] or ["matmul", "attention", "cross_entropy", "block"]
    for w in which:
        globals()["bench_" + w]()
