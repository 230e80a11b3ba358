#!/usr/bin/env python3
"""RoPE inverse frequencies from transformers 5.24's ROPE_INIT_FUNCTIONS for the scaling types the
models issue supports (default, linear, dynamic at two sequence lengths, llama3), written to
Tests/ModelsTests/Fixtures/rope.json. Usage: /work/venv/bin/python scripts/gen_rope_fixtures.py"""
import json, os
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelsTests", "Fixtures", "rope.json")
BASE = dict(vocab_size=32, hidden_size=256, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
            num_hidden_layers=1)
CASES = [
    ("default", dict(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, max_position_embeddings=64), None),
    ("linear", dict(rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}, max_position_embeddings=64), None),
    ("dynamic-short", dict(rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}, max_position_embeddings=64), 40),
    ("dynamic-long", dict(rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}, max_position_embeddings=64), 200),
    ("llama3", dict(rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                    max_position_embeddings=131072), None),
]
out = []
for name, kw, seq_len in CASES:
    cfg = LlamaConfig(**BASE, **kw)
    rt = cfg.rope_parameters["rope_type"]
    if rt == "default":
        import torch
        d = cfg.hidden_size // cfg.num_attention_heads
        inv = 1.0 / (cfg.rope_parameters["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    else:
        inv, _ = ROPE_INIT_FUNCTIONS[rt](cfg, None, seq_len)
    out.append({"name": name, "config": {**BASE, **kw, "model_type": "llama"}, "seq_len": seq_len,
                "inv_freq": [float(x) for x in inv.tolist()]})
json.dump(out, open(OUT, "w"), indent=1)
print("wrote", OUT)
