"""Twin of `swifttune-bench generate`: transformers (float32, dequantised from the same GGUF through
`gguf_file=`) on 2 threads. Same prompts and the same measurements, one JSON line each:
prefill of the 512-token prompt (best of REPEATS, logits of the last position only), time to first
token on the chat prompt, decode speed over 128 greedy tokens after the first (KV cache, no EOS
stop), peak RSS (ru_maxrss, the model load included).

usage: python scripts/bench_generate_hf.py [MODEL.gguf] [NEW_TOKENS]
"""
import json, os, resource, sys, time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

path = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf")
new_tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 128
repeats = int(os.environ.get("SWIFTTUNE_BENCH_REPEATS", "3"))
threads = int(os.environ.get("SWIFTTUNE_THREADS", "2"))
torch.set_num_threads(threads)
CHAT = "<|im_start|>user\nWrite a long story about a robot who learns to paint.<|im_end|>\n<|im_start|>assistant\n"
LONG = " The quick brown fox jumps over the lazy dog." * 60


def emit(**fields):
    fields.update(impl="transformers", threads=threads, weights="f32")
    print(json.dumps(fields, sort_keys=True), flush=True)


t0 = time.perf_counter()
folder, name = os.path.split(path)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
emit(bench="load", seconds=time.perf_counter() - t0)

long_ids = tok(LONG, add_special_tokens=False)["input_ids"][:512]
chat_ids = tok(CHAT, add_special_tokens=False)["input_ids"]

with torch.inference_mode():
    best = float("inf")
    for _ in range(repeats):
        ids = torch.tensor([long_ids])
        s = time.perf_counter()
        model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1)
        best = min(best, time.perf_counter() - s)
    emit(bench="prefill", tokens=len(long_ids), seconds=best, tokens_per_s=len(long_ids) / best)

    best_ttft, best_decode, text = float("inf"), 0.0, ""
    for _ in range(repeats):
        ids = torch.tensor([chat_ids])
        s = time.perf_counter()
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1)
        nxt = int(out.logits[0, -1].argmax())
        first = time.perf_counter()
        tokens, past, mask = [nxt], out.past_key_values, torch.ones(1, len(chat_ids) + 1, dtype=torch.long)
        for _ in range(new_tokens):
            out = model(input_ids=torch.tensor([[nxt]]), attention_mask=mask, past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = int(out.logits[0, -1].argmax())
            tokens.append(nxt)
            mask = torch.cat([mask, torch.ones(1, 1, dtype=torch.long)], dim=1)
        last = time.perf_counter()
        best_ttft = min(best_ttft, first - s)
        best_decode = max(best_decode, new_tokens / (last - first))
        text = tok.decode(tokens[:40])
    emit(bench="ttft", prompt_tokens=len(chat_ids), seconds=best_ttft)
    emit(bench="decode", tokens=new_tokens, tokens_per_s=best_decode, text=text)
emit(bench="peak_rss", mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
