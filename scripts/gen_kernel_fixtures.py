#!/usr/bin/env python3
"""Writes the reference fixtures for the Swift kernel tests (Tests/TensorsTests/Fixtures/kernels/).

Each case is a set of raw little-endian arrays (<case>.<tensor>.bin) described in manifest.json
(name, kind, params, tensors: {name: {file, dtype, shape}}). References come from torch 2.x CPU:
attention from an eager float64 implementation with explicit masks (checked against
F.scaled_dot_product_attention where sdpa can express the mask), LlamaRMSNorm, F.layer_norm,
HF apply_rotary_pos_emb with LlamaRotaryEmbedding-style tables, F.softmax / F.log_softmax,
F.cross_entropy(ignore_index=-100), F.silu(g) * u, and .to(float16 / bfloat16). Gradients come
from torch autograd with loss = sum(output * upstream) for a random upstream gradient.

Run: /work/venv/bin/python scripts/gen_kernel_fixtures.py
"""
import json
import math
import os
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import LlamaRMSNorm, apply_rotary_pos_emb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TensorsTests", "Fixtures", "kernels")
DTYPES = {torch.float32: "f32", torch.int32: "i32", torch.uint8: "u8", torch.int16: "u16"}

manifest = {"cases": []}


def add_case(name, kind, params, tensors):
    entry = {"name": name, "kind": kind, "params": params, "tensors": {}}
    for tname, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.float64:
            t = t.float()
        dt = DTYPES[t.dtype]
        fname = f"{name}.{tname}.bin"
        arr = t.numpy()
        if dt == "u16":
            arr = arr.view(np.uint16)
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        entry["tensors"][tname] = {"file": fname, "dtype": dt, "shape": list(t.shape)}
    manifest["cases"].append(entry)


# ---------------------------------------------------------------- attention
def segments_from_positions(pos):
    """New segment wherever position_ids == 0 (or t == 0): the rule the tensors helper uses."""
    B, T = pos.shape
    seg = torch.zeros(B, T, dtype=torch.int32)
    for b in range(B):
        s = 0
        for t in range(T):
            if t > 0 and pos[b, t] == 0:
                s += 1
            seg[b, t] = s
    return seg


def allowed_matrix(B, T, causal, seg, key_mask, TK=None):
    """[B, T, TK]; with a KV cache (TK > T) query i sits at key position i + TK - T (HF's cache_position)."""
    TK = TK or T
    qpos = torch.arange(T) + (TK - T)
    allowed = torch.ones(B, T, TK, dtype=torch.bool)
    if causal:
        allowed &= torch.arange(TK)[None, None, :] <= qpos[None, :, None]
    if seg is not None:
        allowed &= seg[:, qpos, None] == seg[:, None, :]
    if key_mask is not None:
        allowed &= (key_mask != 0)[:, None, :]
    return allowed


def eager_attention(q, k, v, scale, allowed):
    """q [B,T,Hq,D], k/v [B,T,Hkv,D] float64; returns out [B,T,Hq,D], lse [B,Hq,T]."""
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    group = Hq // Hkv
    qh = q.transpose(1, 2)
    kh = k.transpose(1, 2).repeat_interleave(group, dim=1)
    vh = v.transpose(1, 2).repeat_interleave(group, dim=1)
    s = (qh @ kh.transpose(-1, -2)) * scale
    a = allowed[:, None, :, :]
    s = s.masked_fill(~a, float("-inf"))
    row_any = a.any(-1, keepdim=True)
    s = torch.where(row_any, s, torch.zeros_like(s))
    p = torch.softmax(s, dim=-1) * row_any
    out = (p @ vh).transpose(1, 2)
    lse = torch.logsumexp(s, dim=-1)
    lse = torch.where(row_any[..., 0], lse, torch.full_like(lse, float("-inf")))
    return out, lse


def attention_case(name, B, T, Hq, Hkv, D, causal, pos=None, key_mask=None, scale=None, check_sdpa=False, TK=None):
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    TK = TK or T
    q = torch.randn(B, T, Hq, D, generator=g)
    k = torch.randn(B, TK, Hkv, D, generator=g)
    v = torch.randn(B, TK, Hkv, D, generator=g)
    dout = torch.randn(B, T, Hq, D, generator=g)
    scale = scale if scale is not None else 1.0 / math.sqrt(D)
    seg = segments_from_positions(pos) if pos is not None else None
    allowed = allowed_matrix(B, T, causal, seg, key_mask, TK)
    q64, k64, v64 = (t.double().requires_grad_() for t in (q, k, v))
    out, lse = eager_attention(q64, k64, v64, scale, allowed)
    (out * dout.double()).sum().backward()
    if check_sdpa:
        qs, ks, vs = (t.clone().requires_grad_() for t in (q, k, v))
        o2 = F.scaled_dot_product_attention(qs.transpose(1, 2), ks.transpose(1, 2), vs.transpose(1, 2),
                                            is_causal=causal, scale=scale, enable_gqa=True).transpose(1, 2)
        (o2 * dout).sum().backward()
        for a, b in ((o2, out), (qs.grad, q64.grad), (ks.grad, k64.grad), (vs.grad, v64.grad)):
            assert torch.allclose(a.double(), b, atol=1e-5, rtol=1e-4), name
    tensors = {"q": q, "k": k, "v": v, "dout": dout, "out": out, "lse": lse,
               "dq": q64.grad, "dk": k64.grad, "dv": v64.grad}
    if seg is not None:
        tensors["segment_ids"] = seg
    if key_mask is not None:
        tensors["key_mask"] = key_mask.to(torch.uint8)
    params = {"batch": B, "seqLen": T, "qHeads": Hq, "kvHeads": Hkv, "headDim": D, "causal": causal,
              "scale": scale, "keyLen": TK}
    add_case(name, "attention", params, tensors)


def attention_cases():
    attention_case("attn_causal", 2, 19, 6, 2, 8, True, check_sdpa=True)
    attention_case("attn_noncausal", 2, 19, 6, 2, 8, False, check_sdpa=True)
    attention_case("attn_gqa9x3", 1, 21, 9, 3, 16, True, check_sdpa=True)
    left = torch.ones(2, 17, dtype=torch.uint8)
    left[1, :5] = 0   # left padding: the first query rows of batch 1 see no key at all (fully masked)
    attention_case("attn_leftpad", 2, 17, 6, 2, 8, True, key_mask=left)
    right = torch.ones(2, 17, dtype=torch.uint8)
    right[0, 12:] = 0
    attention_case("attn_rightpad", 2, 17, 6, 2, 8, True, key_mask=right, scale=0.3)
    pos = torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 0, 1, 2],
                        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 0, 0]])
    pad = torch.ones(2, 22, dtype=torch.uint8)
    pad[1, 20:] = 0
    attention_case("attn_packed", 2, 22, 6, 2, 8, True, pos=pos, key_mask=pad)
    allpad = torch.ones(2, 13, dtype=torch.uint8)
    allpad[1, :] = 0  # every query row of batch 1 is fully masked
    attention_case("attn_noncausal_masked", 2, 13, 9, 3, 8, False, key_mask=allpad)
    # KV cache: 5 new queries over 19 cached + new keys, left padding in batch 1, packed segments in batch 0
    cache_pad = torch.ones(2, 19, dtype=torch.uint8)
    cache_pad[1, :4] = 0
    cache_pos = torch.tensor([list(range(9)) + list(range(10)), list(range(19))])
    attention_case("attn_kvcache", 2, 5, 6, 2, 8, True, pos=cache_pos, key_mask=cache_pad, TK=19)


# ---------------------------------------------------------------- norms
def norm_cases():
    g = torch.Generator().manual_seed(1)
    for name, rows, dim in (("rmsnorm_small", 7, 40), ("rmsnorm_576", 5, 576)):
        x = torch.randn(rows, dim, generator=g) * 3 + 0.5
        w = torch.randn(dim, generator=g)
        dy = torch.randn(rows, dim, generator=g)
        m = LlamaRMSNorm(dim, eps=1e-5)
        with torch.no_grad():
            m.weight.copy_(w)
        xr = x.clone().requires_grad_()
        y = m(xr)
        (y * dy).sum().backward()
        rstd = torch.rsqrt(x.pow(2).mean(-1) + 1e-5)
        add_case(name, "rmsnorm", {"rows": rows, "dim": dim, "eps": 1e-5},
                 {"x": x, "weight": w, "dy": dy, "y": y, "rstd": rstd, "dx": xr.grad, "dweight": m.weight.grad})
    for name, rows, dim, affine in (("layernorm_affine", 6, 50, True), ("layernorm_plain", 4, 33, False)):
        x = torch.randn(rows, dim, generator=g) * 2 + 4
        w = torch.randn(dim, generator=g).requires_grad_()
        b = torch.randn(dim, generator=g).requires_grad_()
        dy = torch.randn(rows, dim, generator=g)
        xr = x.clone().requires_grad_()
        y = F.layer_norm(xr, (dim,), w if affine else None, b if affine else None, eps=1e-5)
        (y * dy).sum().backward()
        mean = x.mean(-1)
        rstd = torch.rsqrt(x.var(-1, unbiased=False) + 1e-5)
        t = {"x": x, "dy": dy, "y": y, "mean": mean, "rstd": rstd, "dx": xr.grad}
        if affine:
            t.update({"weight": w, "bias": b, "dweight": w.grad, "dbias": b.grad})
        add_case(name, "layernorm", {"rows": rows, "dim": dim, "eps": 1e-5, "affine": affine}, t)


# ---------------------------------------------------------------- rope
def rope_cases():
    g = torch.Generator().manual_seed(2)
    for name, B, T, H, D, theta in (("rope_packed", 2, 11, 3, 16, 10000.0), ("rope_d64", 1, 9, 2, 64, 100000.0)):
        inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
        pos = torch.tensor([list(range(T)), [0, 1, 2, 3, 0, 1, 2, 300, 301, 302, 1000][:T]][:B], dtype=torch.int64)
        # LlamaRotaryEmbedding.forward: freqs = inv_freq @ position_ids (f32), emb = cat(freqs, freqs).
        inv = inv_freq[None, :, None].float().expand(pos.shape[0], -1, 1)
        freqs = (inv @ pos[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = torch.randn(B, T, H, D, generator=g).requires_grad_()
        dy = torch.randn(B, T, H, D, generator=g)
        y, _ = apply_rotary_pos_emb(x, x, cos, sin, unsqueeze_dim=2)
        (y * dy).sum().backward()
        add_case(name, "rope", {"tokens": B * T, "heads": H, "headDim": D},
                 {"position_ids": pos.to(torch.int32), "inv_freq": inv_freq, "cos": cos, "sin": sin,
                  "x": x, "dy": dy, "y": y, "dx": x.grad})


# ---------------------------------------------------------------- softmax, cross-entropy, silu
def softmax_cases():
    g = torch.Generator().manual_seed(3)
    for name, rows, dim in (("softmax_37", 5, 37), ("softmax_300", 4, 300)):
        x = torch.randn(rows, dim, generator=g) * 4
        x[1] += 80.0   # large offset
        x[2, ::3] = float("-inf")  # masked entries
        dy = torch.randn(rows, dim, generator=g)
        xs = x.clone().requires_grad_()
        y = F.softmax(xs, -1)
        (y * dy).sum().backward()
        xl = x.clone().requires_grad_()
        yl = F.log_softmax(xl, -1)
        dyl = torch.where(torch.isinf(yl), torch.zeros_like(dy), dy)
        (torch.where(torch.isinf(yl), torch.zeros_like(yl), yl) * dyl).sum().backward()
        add_case(name, "softmax", {"rows": rows, "dim": dim},
                 {"x": x, "dy": dy, "y": y, "dx": xs.grad, "dy_log": dyl, "y_log": yl, "dx_log": xl.grad})


def cross_entropy_cases():
    g = torch.Generator().manual_seed(4)
    for name, rows, vocab in (("ce_300", 6, 300), ("ce_4099", 3, 4099)):
        x = torch.randn(rows, vocab, generator=g) * 3
        x[0] += 50.0
        t = torch.randint(0, vocab, (rows,), generator=g)
        t[1] = -100
        if rows > 4:
            t[4] = -100
        xr = x.clone().requires_grad_()
        loss = F.cross_entropy(xr, t, ignore_index=-100)  # mean over non-ignored rows
        loss.backward()
        per_row = F.cross_entropy(x, t, ignore_index=-100, reduction="none")
        add_case(name, "cross_entropy", {"rows": rows, "vocab": vocab, "ignoreIndex": -100},
                 {"logits": x, "targets": t.to(torch.int32), "losses": per_row,
                  "mean_loss": loss.reshape(1), "dlogits": xr.grad})


def silu_cases():
    g = torch.Generator().manual_seed(5)
    n = 1037
    gate = torch.randn(n, generator=g) * 4
    gate[:4] = torch.tensor([-100.0, 100.0, 0.0, -20.0])
    up = torch.randn(n, generator=g)
    dout = torch.randn(n, generator=g)
    gr, ur = gate.clone().requires_grad_(), up.clone().requires_grad_()
    out = F.silu(gr) * ur
    (out * dout).sum().backward()
    add_case("silu_mul", "silu_mul", {"count": n},
             {"gate": gate, "up": up, "dout": dout, "out": out, "dgate": gr.grad, "dup": ur.grad})


def convert_cases():
    g = torch.Generator().manual_seed(6)
    vals = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 70000.0, -1e6, float("inf"), float("-inf"),
            float("nan"), -float("nan"), 1e-8, -3e-8, 2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -14, 6.1e-5, 1e-40,
            3.4e38, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8]
    rnd = torch.cat([torch.randn(1000, generator=g) * 10, torch.randn(500, generator=g) * 1e-5,
                     (torch.rand(500, generator=g) - 0.5) * 2e5])
    # random float bit patterns too (cover every exponent), NaNs dropped (payloads are not preserved)
    bits = torch.randint(-2**31, 2**31 - 1, (1500,), generator=g, dtype=torch.int64).to(torch.int32)
    rb = bits.view(torch.float32)
    rb = rb[~torch.isnan(rb)]
    x = torch.cat([torch.tensor(vals), rnd, rb]).float()
    half = x.to(torch.float16)
    bf = x.to(torch.bfloat16)
    hb = torch.randint(0, 65536, (4000,), generator=g, dtype=torch.int32)
    hb = torch.cat([hb, torch.tensor([0, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00])])
    hb = hb[~(((hb & 0x7C00) == 0x7C00) & ((hb & 0x3FF) != 0))]  # NaN patterns: checked in Swift instead
    hb16 = hb.to(torch.int16)  # wraps into int16 bits
    hf = hb16.view(torch.float16).to(torch.float32)
    bb16 = hb16.view(torch.bfloat16).to(torch.float32)
    add_case("convert", "convert", {},
             {"x": x, "x_f16": half.view(torch.int16), "x_bf16": bf.view(torch.int16),
              "h_bits": hb16, "h_f32": hf, "b_f32": bb16})


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    torch.manual_seed(0)
    attention_cases()
    norm_cases()
    rope_cases()
    softmax_cases()
    cross_entropy_cases()
    silu_cases()
    convert_cases()
    tmp = os.path.join(OUT, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(OUT, "manifest.json"))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(manifest['cases'])} cases, {total / 1024:.0f} KiB to {OUT}")


if __name__ == "__main__":
    main()
