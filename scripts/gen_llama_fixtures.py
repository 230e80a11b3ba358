#!/usr/bin/env python3
"""Reference fixtures for the Llama-family models (issue: models), written by transformers.

Tiny random models (2 layers) of model_type llama, qwen2 (q/k/v bias) and phi3 (fused qkv_proj and
gate_up_proj) are saved as Hugging Face folders (config.json + model.safetensors), with reference
outputs in `reference.safetensors`:
  <case>.input_ids / .labels / .attention_mask / .position_ids   the inputs
  <case>.logits                                                   f32 logits
  <case>.loss                                                     scalar (HF mean over non-ignored labels)
  <case>.grad.<parameter name>                                    every parameter's gradient
Cases: `plain` (batch 2, no padding), `padded` (left padding with an attention mask, labels -100 on
pads), `packed` (one row holding three sequences, position_ids restarting at 0; the reference is each
sequence run on its own, concatenated, with the first label of each sequence set to -100, as
DataCollatorWithFlattening does).

Usage: /path/to/venv/bin/python scripts/gen_llama_fixtures.py [OUT_DIR]
(default Tests/ModelsTests/Fixtures). Deterministic: seeded.
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Phi3Config, Phi3ForCausalLM

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelsTests", "Fixtures")
COMMON = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, attn_implementation="eager",
              bos_token_id=1, eos_token_id=2, pad_token_id=0)


def models():
    yield "tiny-llama", LlamaForCausalLM(LlamaConfig(**COMMON, rope_theta=10000.0, tie_word_embeddings=False))
    yield "tiny-llama-tied", LlamaForCausalLM(LlamaConfig(**COMMON, rope_theta=100000.0, tie_word_embeddings=True))
    yield "tiny-qwen2", Qwen2ForCausalLM(Qwen2Config(**COMMON, rope_theta=1000000.0, tie_word_embeddings=False))
    yield "tiny-phi3", Phi3ForCausalLM(Phi3Config(**{**COMMON, "pad_token_id": 0}, rope_theta=10000.0, tie_word_embeddings=False))


def run(model, input_ids, labels, attention_mask=None, position_ids=None):
    model.zero_grad()
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, labels=labels)
    out.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach(), out.loss.detach(), grads


def main():
    torch.manual_seed(1234)
    for name, model in models():
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        # Non-trivial weights: HF initialises norms to 1 and biases to 0; perturb them so they are tested.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n.endswith("norm.weight"):
                    p.add_(0.1 * torch.randn_like(p))
                elif n.endswith(".bias"):
                    p.copy_(0.05 * torch.randn_like(p))
        model.save_pretrained(folder, safe_serialization=True)
        model.train()  # dropout is 0 in these configs; train mode matches a fine-tuning forward
        ref = {}
        V = model.config.vocab_size
        # plain
        ids = torch.randint(3, V, (2, 12))
        logits, loss, grads = run(model, ids, ids.clone())
        put(ref, "plain", ids, ids.clone(), torch.ones_like(ids), torch.arange(12).expand(2, 12), logits, loss, grads)
        # padded (left padding, row 0 has 4 pads)
        ids = torch.randint(3, V, (2, 12)); mask = torch.ones_like(ids); mask[0, :4] = 0; ids[0, :4] = 0
        labels = ids.clone(); labels[mask == 0] = -100
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits, loss, grads = run(model, ids, labels, attention_mask=mask, position_ids=pos)
        put(ref, "padded", ids, labels, mask, pos, logits, loss, grads)
        # packed: three sequences in one row; reference runs each alone (no cross-attention).
        lens = [5, 7, 4]
        seqs = [torch.randint(3, V, (1, n)) for n in lens]
        model.zero_grad()
        parts = [model(input_ids=s).logits for s in seqs]
        cat_logits = torch.cat(parts, dim=1)
        ids = torch.cat(seqs, dim=1)
        labels = ids.clone(); start = 0
        for n in lens:
            labels[0, start] = -100; start += n
        pos = torch.cat([torch.arange(n) for n in lens]).unsqueeze(0)
        # HF's causal-LM loss: shift inside; labels already hold -100 at each sequence start, so the
        # shift never predicts across a boundary.
        shift_logits = cat_logits[:, :-1].reshape(-1, V); shift_labels = labels[:, 1:].reshape(-1)
        loss = torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        put(ref, "packed", ids, labels, torch.ones_like(ids), pos, cat_logits.detach(), loss.detach(), grads)
        save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(folder, "reference.safetensors"))
        print(name, "params", sum(p.numel() for p in model.parameters()), "loss plain", float(ref["plain.loss"]))


def put(ref, case, ids, labels, mask, pos, logits, loss, grads):
    ref[f"{case}.input_ids"] = ids.to(torch.int64)
    ref[f"{case}.labels"] = labels.to(torch.int64)
    ref[f"{case}.attention_mask"] = mask.to(torch.int64)
    ref[f"{case}.position_ids"] = pos.to(torch.int64).expand_as(ids).contiguous()
    ref[f"{case}.logits"] = logits.float()
    ref[f"{case}.loss"] = loss.float().reshape(1)
    for n, g in grads.items():
        ref[f"{case}.grad.{n}"] = g.float()


if __name__ == "__main__":
    main()
