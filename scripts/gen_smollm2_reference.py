#!/usr/bin/env python3
"""Reference outputs of transformers on the real SmolLM2-135M-Instruct Q4_1 GGUF (transformers
dequantises it to f32 when loading), for the models issue's real-model parity tests.

Writes Tests/ModelsTests/Fixtures/smollm2/:
  logits.safetensors   p<i>.input_ids, p<i>.last_logits (full vocabulary at the last position),
                       p<i>.sampled_logits ([positions, 256] at the fixed vocabulary ids `vocab_ids`),
                       p<i>.argmax (per position), vocab_ids
  greedy.json          10 chat prompts: the templated prompt ids and 64 greedy new tokens (no EOS stop)
Usage: python scripts/gen_smollm2_reference.py [GGUF] (default ~/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf)
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelsTests", "Fixtures", "smollm2")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
folder, name = os.path.split(gguf)
tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()

RAW = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village,",
       "1, 2, 3, 5, 8, 13,", "Translate to French: I love cheese."]
CHAT = ["What is the capital of France?", "Give me three tips for staying healthy.", "Write a haiku about the sea.",
        "Explain what a neural network is in one sentence.", "What is 12 times 7?", "Name three primary colors.",
        "How do I reverse a list in Python?", "Translate 'good morning' into Spanish.",
        "What is the boiling point of water?", "Tell me a fun fact about octopuses."]

vocab_ids = torch.randperm(model.config.vocab_size, generator=torch.Generator().manual_seed(7))[:256].sort().values
tensors = {"vocab_ids": vocab_ids.to(torch.int64)}
with torch.no_grad():
    for i, p in enumerate(RAW):
        ids = torch.tensor([tok.encode(p, add_special_tokens=False)])
        logits = model(input_ids=ids).logits[0]
        tensors[f"p{i}.input_ids"] = ids[0].to(torch.int64)
        tensors[f"p{i}.last_logits"] = logits[-1].contiguous()
        tensors[f"p{i}.sampled_logits"] = logits[:, vocab_ids].contiguous()
        tensors[f"p{i}.argmax"] = logits.argmax(-1).to(torch.int64)
save_file(tensors, os.path.join(OUT, "logits.safetensors"))

greedy = []
with torch.no_grad():
    for q in CHAT:
        text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
        # An explicit all-ones mask: without it transformers infers one from pad_token_id (ids != eos) and
        # would treat every <|im_end|> of the prompt as padding.
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=64, do_sample=False,
                             eos_token_id=None, pad_token_id=tok.eos_token_id)
        new = out[0, ids.shape[1]:].tolist()
        greedy.append({"question": q, "prompt": text, "prompt_ids": ids[0].tolist(), "new_ids": new,
                       "text": tok.decode(new)})
        print(q, "->", repr(tok.decode(new)[:80]))
json.dump({"model": name, "transformers_load": "gguf_file, dtype float32", "max_new_tokens": 64,
           "cases": greedy}, open(os.path.join(OUT, "greedy.json"), "w"), indent=1, ensure_ascii=False)
