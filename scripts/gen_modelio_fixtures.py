#!/usr/bin/env python3
"""Writes the ModelIO fixtures of Tests/ModelIOTests/Fixtures/ with the Python reference libraries.

safetensors/ : files written by `safetensors.torch.save_file` / `safetensors.numpy.save_file` (0.8) plus
               `expected.json` (every tensor's values as float64 text), a sharded folder with its index.
gguf/        : files written by `gguf.GGUFWriter` (gguf-py 0.19), with `gguf_expected.json` describing them.
smollm2/     : reference values for the real model test: metadata, tensor infos and a few dequantised values
               of SmolLM2-135M-Instruct.Q4_1.gguf (needs scripts/fetch-model.sh to have been run).
Run: /work/venv/bin/python scripts/gen_modelio_fixtures.py
"""
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import save_file as torch_save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "ModelIOTests" / "Fixtures"
rng = np.random.default_rng(1234)


def values(t: torch.Tensor) -> list:
    return t.to(torch.float64).flatten().tolist() if t.dtype != torch.bool else t.to(torch.float64).flatten().tolist()


def safetensors_fixtures() -> None:
    d = OUT / "safetensors"
    (d / "sharded").mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    tensors = {
        "model.embed_tokens.weight": torch.randn(5, 4, generator=g),
        "layers.0.f16": (torch.randn(3, 2, generator=g) * 100).to(torch.float16),
        "layers.0.bf16": (torch.randn(7, generator=g) * 1e-3).to(torch.bfloat16),
        "ints.i8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        "ints.u8": torch.tensor([[0, 1, 2], [253, 254, 255]], dtype=torch.uint8),
        "ints.i32": torch.tensor([-2147483648, -5, 0, 2147483647], dtype=torch.int32),
        "ints.i64": torch.tensor([[-(2 ** 40), 3], [7, 2 ** 50]], dtype=torch.int64),
        "mask": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }
    torch_save_file(tensors, d / "all_dtypes.safetensors", metadata={"format": "pt"})
    expected = {name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": values(t)} for name, t in tensors.items()}
    (d / "expected.json").write_text(json.dumps(expected, indent=1))

    # No metadata, names whose UTF-8 and Unicode orders differ, escapes in names, same-dtype ties.
    tricky = {
        "b": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a": np.array([1, 2], dtype=np.float32),
        "é": np.array([1.5], dtype=np.float16),
        "z\uff21": np.array([2.5], dtype=np.float16),
        "z\U0001F600": np.array([3.5], dtype=np.float16),
        'quote"back\\slash\ttab\x01': np.array([7], dtype=np.int64),
        "u": np.array([9], dtype=np.uint8),
        "i": np.array([-9], dtype=np.int8),
        "flag": np.array([True]),
    }
    np_save_file(tricky, d / "numpy_tricky.safetensors")
    # One metadata key with characters that need escaping.
    np_save_file({"w": np.ones((2, 2), np.float32)}, d / "numpy_meta.safetensors", metadata={"note": 'a "q" \\ \n \u00e9 /'})
    # Several metadata keys: the reference writes them in hash order; compared as a map.
    torch_save_file({"x": torch.ones(3)}, d / "multi_meta.safetensors", metadata={"format": "pt", "k1": "v1", "k2": "v2", "k3": "v3"})
    # BF16 and F16 ordering.
    torch_save_file({"h": torch.ones(2, dtype=torch.float16), "g": torch.ones(2, dtype=torch.bfloat16),
                     "f": torch.ones(1, dtype=torch.float32), "e": torch.ones(1, dtype=torch.int32)},
                    d / "torch_order.safetensors", metadata={"format": "pt"})

    # A sharded folder laid out as transformers' save_pretrained does.
    shard1 = {"model.layers.0.weight": torch.randn(4, 4, generator=g), "model.embed.weight": torch.randn(6, 4, generator=g)}
    shard2 = {"model.layers.1.weight": torch.randn(4, 4, generator=g).to(torch.bfloat16), "lm_head.weight": torch.randn(6, 4, generator=g)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    total = 0
    for shard, fname in zip((shard1, shard2), names):
        torch_save_file(shard, d / "sharded" / fname, metadata={"format": "pt"})
        for k, t in shard.items():
            weight_map[k] = fname
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (d / "sharded" / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    sharded_expected = {k: values(t) for k, t in {**shard1, **shard2}.items()}
    (d / "sharded_expected.json").write_text(json.dumps(sharded_expected))


if __name__ == "__main__":
    safetensors_fixtures()

