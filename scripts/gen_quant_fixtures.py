#!/usr/bin/env python3
"""Writes the GGML (de)quantisation fixtures of Tests/QuantizationTests/Fixtures/ggml/.

For each type: `<TYPE>.blocks` random block bytes (f16 scale fields sanitised to finite values, so
results compare bit for bit) and `<TYPE>.f32`, what `gguf.quants.dequantize` makes of them (little-endian
float32). For the quantisers: `quant_input.f32` (floats) and `<TYPE>.quantized` (`gguf.quants.quantize`).
Run with the project venv: /work/venv/bin/python scripts/gen_quant_fixtures.py
"""
from pathlib import Path
import numpy as np
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

OUT = Path(__file__).resolve().parent.parent / "Tests" / "QuantizationTests" / "Fixtures" / "ggml"
rng = np.random.default_rng(20261129)

# Byte offsets of the f16 scale fields within a block.
HALF_FIELDS = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
BLOCKS = {T.F32: 96, T.F16: 96, T.BF16: 96}


def finite_half(bits: np.ndarray) -> np.ndarray:
    # Exponent 0x1F is inf/NaN: clear its top exponent bit so the value stays finite.
    bad = (bits & 0x7C00) == 0x7C00
    return np.where(bad, bits & ~np.uint16(0x4000), bits).astype(np.uint16)


def make(qtype: T) -> None:
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = BLOCKS.get(qtype, 24 if block == 256 else 48)
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if qtype == T.F16:
        raw = finite_half(raw.view(np.uint16)).view(np.uint8).reshape(n_blocks, size)
    elif qtype == T.BF16:
        h = raw.view(np.uint16)
        h = np.where((h & 0x7F80) == 0x7F80, h & ~np.uint16(0x4000), h).astype(np.uint16)
        raw = h.view(np.uint8).reshape(n_blocks, size)
    elif qtype == T.F32:
        raw = rng.standard_normal(n_blocks).astype(np.float32).view(np.uint8).reshape(n_blocks, size)
    else:
        for off in HALF_FIELDS[qtype]:
            field = raw[:, off:off + 2].copy().view(np.uint16)
            raw[:, off:off + 2] = finite_half(field).view(np.uint8)
        # A few edge scales: zero, a subnormal, negative.
        raw[0, HALF_FIELDS[qtype][0]:HALF_FIELDS[qtype][0] + 2] = [0, 0]
        raw[1, HALF_FIELDS[qtype][0]:HALF_FIELDS[qtype][0] + 2] = [0x01, 0x00]
        raw[2, HALF_FIELDS[qtype][0]:HALF_FIELDS[qtype][0] + 2] = [0x00, 0xBC]
    # Dequantise as 2 rows, as a tensor would be stored.
    rows = raw.reshape(2, -1)
    values = dequantize(rows, qtype).astype("<f4")
    assert values.size == n_blocks * block
    (OUT / f"{qtype.name}.blocks").write_bytes(raw.tobytes())
    (OUT / f"{qtype.name}.f32").write_bytes(values.tobytes())


def make_quantized() -> None:
    blocks = []
    blocks.append(rng.standard_normal((40, 32)).astype(np.float32) * np.float32(0.05))
    blocks.append(rng.standard_normal((8, 32)).astype(np.float32) * np.float32(30))
    blocks.append(np.zeros((1, 32), np.float32))
    blocks.append(np.full((1, 32), 0.7, np.float32))
    blocks.append(np.full((1, 32), -2.5, np.float32))
    # Exact halves after scaling exercise the round-half-away rule.
    blocks.append((np.arange(32, dtype=np.float32) - 15.5).reshape(1, 32))
    blocks.append(np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 32))
    x = np.concatenate(blocks, axis=0)
    (OUT / "quant_input.f32").write_bytes(x.astype("<f4").tobytes())
    for qtype in (T.Q8_0, T.Q4_1):
        (OUT / f"{qtype.name}.quantized").write_bytes(quantize(x, qtype).tobytes())


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for q in (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        make(q)
    make_quantized()
    print(f"wrote fixtures to {OUT}")
