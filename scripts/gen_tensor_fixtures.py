#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for Tests/TensorsTests (run with /work/venv/bin/python).

Outputs (Tests/TensorsTests/Fixtures/tensors/):
  ops.json            forward outputs and input gradients (torch float32 autograd) for each op case;
                      every case stores its inputs, an upstream gradient `gy`, the output `y` and `d<input>`.
  f16_to_f32.bin      torch float16 -> float32 for all 65,536 bit patterns (little-endian uint32).
  f32_to_f16.bin      torch float32 -> float16 for the first 262,144 of the seeded float32 patterns (uint16 LE).
  f32_to_bf16.bin     the same for bfloat16.
  conversions.json    FNV-1a-64 of torch's f16 and bf16 outputs (uint16 LE bytes, NaNs canonicalised) over all 1,048,576 patterns,
                      so the Swift test checks every value while committing only a quarter of them raw.
The float32 patterns come from `patterns()` below, which the Swift test reimplements bit for bit.
"""
import json, os, struct
import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TensorsTests", "Fixtures", "tensors")
MASK = (1 << 64) - 1
N_PATTERNS = 1 << 20
N_RAW = 1 << 18

SPECIALS = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF,
            0x7FFFFFFF, 0x477FE000, 0x477FEFFF, 0x477FF000, 0xC77FF000, 0x33800000, 0x33000000, 0x33000001,
            0xB3000000, 0x387FC000, 0x38800000, 0x7F7FFFFF, 0x00000001, 0x807FFFFF, 0x3F808000, 0x3F818000,
            0x7F7F8000, 0x7F7FFFFF, 0x3F800001, 0x3F7FFFFF]


def patterns():
    """Seeded float32 bit patterns: xorshift64* (high 32 bits); odd indices are steered to exponents
    100..150, where float16/bfloat16 overflow, underflow and subnormal rounding happen."""
    x = 0x9E3779B97F4A7C15
    out = np.empty(N_PATTERNS, dtype=np.uint32)
    for i in range(N_PATTERNS):
        x ^= x >> 12
        x = (x ^ (x << 25)) & MASK
        x ^= x >> 27
        r = ((x * 0x2545F4914F6CDD1D) & MASK) >> 32
        if i % 2 == 1:
            r = (r & 0x807FFFFF) | ((100 + (r >> 23) % 51) << 23)
        out[i] = r
    out[:len(SPECIALS)] = SPECIALS
    return out


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return "%016x" % h


def conversions():
    allh = np.arange(65536, dtype=np.uint16)
    f32 = torch.from_numpy(allh.view(np.int16).copy()).view(torch.float16).to(torch.float32)
    f32.numpy().view(np.uint32).astype("<u4").tofile(os.path.join(OUT, "f16_to_f32.bin"))
    p = patterns()
    src = torch.from_numpy(p.view(np.float32).copy())
    h = src.to(torch.float16).view(torch.int16).numpy().view(np.uint16).astype("<u2")
    b = src.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16).astype("<u2")
    h[:N_RAW].tofile(os.path.join(OUT, "f32_to_f16.bin"))
    b[:N_RAW].tofile(os.path.join(OUT, "f32_to_bf16.bin"))
    # torch's NaN encodings depend on its code path (c10 scalar: 0x7FC0; AVX-512 vector: 0xFFFF), so the
    # hashes cover NaN-canonicalised outputs (every NaN input -> 0x7E00 / 0x7FC0); the raw files keep the
    # real bits and the test checks NaN-ness there.
    nan = np.isnan(p.view(np.float32))
    hc, bc = h.copy(), b.copy()
    hc[nan] = 0x7E00
    bc[nan] = 0x7FC0
    meta = {"count": N_PATTERNS, "raw_count": N_RAW,
            "patterns_fnv1a64": fnv1a64(p.astype("<u4").tobytes()),
            "nan_inputs": int(nan.sum()),
            "f16_fnv1a64": fnv1a64(hc.tobytes()), "bf16_fnv1a64": fnv1a64(bc.tobytes())}
    with open(os.path.join(OUT, "conversions.json"), "w") as f:
        json.dump(meta, f, indent=1)


def t2j(t):
    t = t.detach()
    if t.dtype.is_floating_point:
        return {"shape": list(t.shape), "dtype": "float32", "data": [float(v) for v in t.to(torch.float32).reshape(-1).tolist()]}
    return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.reshape(-1).tolist()]}


def case(fn, inputs, extra=None):
    """Runs fn(**inputs) in float32 with autograd; records inputs, y, gy and d<name> for float inputs."""
    ins = {k: (v.clone().requires_grad_(True) if v.dtype.is_floating_point else v) for k, v in inputs.items()}
    y = fn(**ins)
    gy = torch.randn(y.shape, dtype=torch.float32)
    diff = [k for k, v in ins.items() if v.dtype.is_floating_point]
    grads = torch.autograd.grad(y, [ins[k] for k in diff], gy, allow_unused=True)
    rec = {k: t2j(v) for k, v in inputs.items()}
    rec["y"] = t2j(y)
    rec["gy"] = t2j(gy)
    for k, g in zip(diff, grads):
        rec["d" + k] = t2j(g if g is not None else torch.zeros_like(ins[k]))
    if extra:
        rec.update(extra)
    return rec


def rope_ref(x, pos, theta=10000.0):
    # HF LlamaRotaryEmbedding + apply_rotary_pos_emb, x in [B, T, H, D] layout.
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).to(torch.float32) / d))
    freqs = pos[..., None].to(torch.float32) * inv          # [B, T, D/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, :, None, :], emb.sin()[:, :, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def attn_ref(q, k, v, causal=True, pos=None, mask=None):
    # Explicit math over [B, T, H, D]: allowed(i, j) = causal & same segment & key not padding.
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    kk = k.repeat_interleave(Hq // Hkv, dim=2)
    vv = v.repeat_interleave(Hq // Hkv, dim=2)
    s = torch.einsum("bihd,bjhd->bhij", q, kk) / (D ** 0.5)
    allowed = torch.ones(B, 1, T, T, dtype=torch.bool)
    if causal:
        allowed &= torch.tril(torch.ones(T, T, dtype=torch.bool))
    if pos is not None:
        seg = torch.cumsum((pos == 0).to(torch.int64), dim=1)
        allowed &= (seg[:, None, :, None] == seg[:, None, None, :])
    if mask is not None:
        allowed &= mask[:, None, None, :].to(torch.bool)
    s = s.masked_fill(~allowed, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return torch.einsum("bhij,bjhd->bihd", p, vv)


def ops():
    torch.manual_seed(1234)
    r = lambda *s: torch.randn(*s, dtype=torch.float32)
    cases = {}
    cases["matmul"] = case(lambda a, b: a @ b, {"a": r(3, 5, 7), "b": r(7, 4)})
    cases["bmm"] = case(lambda a, b: a @ b, {"a": r(2, 3, 5), "b": r(2, 5, 4)})
    cases["bmm_broadcast"] = case(lambda a, b: a @ b, {"a": r(3, 5), "b": r(2, 5, 4)})
    cases["linear"] = case(lambda x, w, bias: torch.nn.functional.linear(x, w, bias), {"x": r(2, 6, 8), "w": r(5, 8), "bias": r(5)})
    cases["softmax"] = case(lambda x: torch.softmax(x, dim=-1), {"x": r(4, 7, 33) * 3})
    cases["softmax_dim1"] = case(lambda x: torch.softmax(x, dim=1), {"x": r(4, 7, 5) * 3})
    cases["log_softmax"] = case(lambda x: torch.log_softmax(x, dim=-1), {"x": r(4, 7, 33) * 3})
    logits = r(4, 5, 37) * 2
    tgt = torch.randint(0, 37, (4, 5))
    tgt[0, 1] = -100; tgt[2, 0] = -100; tgt[3, 4] = -100
    ce = torch.nn.functional.cross_entropy
    cases["cross_entropy_mean"] = case(lambda logits, targets: ce(logits.reshape(-1, 37), targets.reshape(-1), ignore_index=-100),
                                       {"logits": logits, "targets": tgt})
    cases["cross_entropy_sum"] = case(lambda logits, targets: ce(logits.reshape(-1, 37), targets.reshape(-1), ignore_index=-100, reduction="sum"),
                                      {"logits": logits, "targets": tgt})

    def rms(x, w, eps=1e-6):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
    cases["rmsnorm"] = case(rms, {"x": r(3, 5, 64), "w": 1 + 0.1 * r(64)})
    cases["layernorm"] = case(lambda x, w, b: torch.nn.functional.layer_norm(x, (48,), w, b, 1e-5),
                              {"x": r(3, 5, 48) * 2 + 0.5, "w": 1 + 0.1 * r(48), "b": 0.1 * r(48)})
    cases["silu_mul"] = case(lambda gate, up: torch.nn.functional.silu(gate) * up, {"gate": r(4, 40) * 2, "up": r(4, 40)})
    pos = torch.tensor([[0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 1, 2]])
    cases["rope"] = case(lambda x, position_ids: rope_ref(x, position_ids), {"x": r(2, 6, 3, 16), "position_ids": pos})
    q, k, v = r(2, 7, 4, 8), r(2, 7, 4, 8), r(2, 7, 4, 8)
    cases["attention_causal"] = case(lambda q, k, v: attn_ref(q, k, v), {"q": q, "k": k, "v": v})
    cases["attention_noncausal"] = case(lambda q, k, v: attn_ref(q, k, v, causal=False), {"q": q, "k": k, "v": v})
    cases["attention_gqa"] = case(lambda q, k, v: attn_ref(q, k, v), {"q": q, "k": r(2, 7, 2, 8), "v": r(2, 7, 2, 8)})
    am = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    cases["attention_padding"] = case(lambda q, k, v, attention_mask: attn_ref(q, k, v, mask=attention_mask),
                                      {"q": q, "k": k, "v": v, "attention_mask": am})
    pp = torch.tensor([[0, 1, 2, 0, 1, 2, 3], [0, 1, 2, 3, 4, 0, 1]])
    cases["attention_packed"] = case(lambda q, k, v, position_ids: attn_ref(q, k, v, pos=position_ids),
                                     {"q": q, "k": k, "v": v,
                                      "position_ids": pp})
    ids = torch.tensor([[1, 3, 3, 10, 0], [7, 1, 1, 1, 2]])
    cases["embedding"] = case(lambda weight, ids: torch.nn.functional.embedding(ids, weight), {"weight": r(11, 6), "ids": ids})
    # Elementwise and reduction ops that are not fused kernels.
    x = r(3, 4, 5)
    cases["gelu"] = case(lambda x: torch.nn.functional.gelu(x), {"x": x * 2})
    cases["gelu_tanh"] = case(lambda x: torch.nn.functional.gelu(x, approximate="tanh"), {"x": x * 2})
    cases["broadcast_arith"] = case(lambda a, b, c: (a * b - c) / (b.abs() + 1) + a.sigmoid() * c.tanh(),
                                    {"a": r(3, 1, 5), "b": r(4, 5), "c": r(5)})
    cases["reductions"] = case(lambda x: x.sum(1).mean() + x.var(2).sum() + x.amax(0).sum() + x.exp().log().mean(),
                               {"x": x})
    cases["sqrt_rsqrt_pow"] = case(lambda x: x.sqrt() + x.rsqrt() * 0.5 + x.pow(1.5), {"x": x.abs() + 0.5})
    with open(os.path.join(OUT, "ops.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    ops()
    conversions()
    print("wrote", OUT)
