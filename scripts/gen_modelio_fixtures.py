#!/usr/bin/env python3
"""Writes the ModelIO fixtures of Tests/ModelIOTests/Fixtures/ with the Python reference libraries.

safetensors/ : files written by `safetensors.torch.save_file` / `safetensors.numpy.save_file` (0.8) plus
               `expected.json` (every tensor's values as float64 text), a sharded folder with its index.
               multi_meta.safetensors changes on every run: the reference writes several metadata keys in
               hash-map order (the tests compare it as a map).
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
    # float64 holds every value of every dtype used here exactly (int64 ones are below 2^53).
    return t.to(torch.float64).flatten().tolist()


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


# ---------------------------------------------------------------------------------------------------
# GGUF

def gguf_fixtures() -> None:
    import gguf
    from gguf import GGMLQuantizationType as T, GGUFValueType as V
    from gguf.quants import quantize, dequantize

    d = OUT / "gguf"
    d.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(99)

    def write(path: Path, alignment: int | None) -> dict:
        w = gguf.GGUFWriter(str(path), "llama")
        if alignment is not None:
            w.add_custom_alignment(alignment)
        w.add_uint8("t.u8", 200)
        w.add_int8("t.i8", -100)
        w.add_uint16("t.u16", 65000)
        w.add_int16("t.i16", -32000)
        w.add_uint32("t.u32", 4000000000)
        w.add_int32("t.i32", -2000000000)
        w.add_uint64("t.u64", 2 ** 63 + 5)
        w.add_int64("t.i64", -(2 ** 62))
        w.add_float32("t.f32", 0.1)
        w.add_float64("t.f64", 1e-300)
        w.add_bool("t.bool", True)
        w.add_bool("t.false", False)
        w.add_string("t.str", "héllo\nwörld \u2603")
        w.add_array("t.strings", ["a", "", "ü", "<0x0A>"])
        w.add_array("t.floats", [0.5, -1.25, 3.0e-3])
        w.add_array("t.ints", [1, -2, 3])
        w.add_key_value("t.u64s", [1, 2 ** 40], V.ARRAY, sub_type=V.UINT64)
        w.add_key_value("t.bools", [True, False, True], V.ARRAY, sub_type=V.BOOL)
        w.add_array("t.nested", [[1, 2], [3, 4, 5]])
        w.add_array("t.nested_str", [["x", "y"], ["z"]])
        w.add_uint32("llama.block_count", 2)
        w.add_uint32("llama.embedding_length", 64)
        w.add_string("tokenizer.ggml.model", "gpt2")
        w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b"])
        w.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.0, -3.0])
        w.add_array("tokenizer.ggml.token_type", [3, 3, 1, 1])
        w.add_array("tokenizer.ggml.merges", ["a b", "ab c"])
        w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")

        tensors = {}
        f32 = r.standard_normal((3, 5)).astype(np.float32)
        w.add_tensor("f32.weight", f32)
        tensors["f32.weight"] = ("F32", [3, 5], f32)
        f16 = r.standard_normal((2, 7)).astype(np.float16)
        w.add_tensor("f16.weight", f16)
        tensors["f16.weight"] = ("F16", [2, 7], f16.astype(np.float32))
        base = r.standard_normal((4, 64)).astype(np.float32)
        for qt in (T.Q8_0, T.Q4_1, T.Q4_0, T.BF16):
            q = quantize(base, qt)
            w.add_tensor(f"{qt.name.lower()}.weight", q, raw_dtype=qt)
            tensors[f"{qt.name.lower()}.weight"] = (qt.name, [4, 64], dequantize(q, qt))
        k = r.integers(0, 256, size=(2, 210), dtype=np.uint8)
        k[:, 208:210] = np.array([0x00, 0x2C], dtype=np.uint8)  # a finite f16 scale
        w.add_tensor("q6_k.weight", k, raw_dtype=T.Q6_K)
        tensors["q6_k.weight"] = ("Q6_K", [2, 256], dequantize(k, T.Q6_K))
        one = np.array([7.0], dtype=np.float32)
        w.add_tensor("scalar1d", one)
        tensors["scalar1d"] = ("F32", [1], one)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return {name: {"type": t, "shape": s, "values": np.asarray(v, np.float32).astype(np.float64).flatten().tolist()}
                for name, (t, s, v) in tensors.items()}

    expected_tensors = write(d / "writer_basic.gguf", None)
    write(d / "writer_align64.gguf", 64)
    reader = gguf.GGUFReader(str(d / "writer_basic.gguf"))
    meta = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        meta[name] = {"types": [t.name for t in field.types], "value": field.contents()}
    expected = {"metadata": meta, "keys": [k for k in reader.fields if not k.startswith("GGUF.")],
                "tensors": expected_tensors, "tensor_order": [t.name for t in reader.tensors],
                "offsets": {t.name: int(t.data_offset) for t in reader.tensors}, "data_offset": int(reader.data_offset)}
    (d / "gguf_expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False))


def smollm2_fixtures() -> None:
    from gguf import GGUFReader
    from gguf.quants import dequantize
    cache = Path(os.environ.get("SWIFTTUNE_CACHE", Path.home() / ".cache" / "swifttune"))
    model = cache / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not model.exists():
        print(f"skipping SmolLM2 references: {model} is missing (run scripts/fetch-model.sh)")
        return
    r = GGUFReader(str(model))
    d = OUT / "smollm2"
    d.mkdir(parents=True, exist_ok=True)
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    scalars = {}
    for k, f in fields.items():
        if f.types[0].name != "ARRAY":
            scalars[k] = {"type": f.types[0].name, "value": f.contents()}
    arrays = {k: {"type": f.types[-1].name, "count": len(f.data), "first": f.contents()[:5], "last": f.contents()[-3:]}
              for k, f in fields.items() if f.types[0].name == "ARRAY"}
    tensors = [{"name": t.name, "shape": [int(x) for x in reversed(t.shape.tolist())], "type": t.tensor_type.name,
                "offset": int(t.data_offset - r.data_offset), "n_bytes": int(t.n_bytes)} for t in r.tensors]
    samples = {}
    for name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight", "output_norm.weight"):
        t = next(t for t in r.tensors if t.name == name)
        values = dequantize(t.data, t.tensor_type).astype(np.float32).flatten()
        n = values.size
        idx = sorted(set(list(range(64)) + [(i * 9973) % n for i in range(256)] + list(range(n - 32, n))))
        samples[name] = {"count": n, "indices": idx, "values": values[idx].astype(np.float64).tolist(),
                         "sum": float(values.astype(np.float64).sum()), "abs_sum": float(np.abs(values.astype(np.float64)).sum())}
    ref = {"file_size": model.stat().st_size, "version": int(r.fields["GGUF.version"].contents()), "kv_count": len(fields),
           "tensor_count": len(r.tensors), "alignment": int(r.alignment), "data_offset": int(r.data_offset),
           "keys": list(fields.keys()), "scalars": scalars, "arrays": arrays, "tensors": tensors, "samples": samples}
    (d / "reference.json").write_text(json.dumps(ref, ensure_ascii=False))


if __name__ == "__main__":
    safetensors_fixtures()
    gguf_fixtures()
    smollm2_fixtures()
    print(f"wrote fixtures under {OUT}")
