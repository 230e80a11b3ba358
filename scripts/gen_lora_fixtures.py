#!/usr/bin/env python3
"""Reference fixtures for the LoRA issue, written by PEFT on the tiny models of gen_llama_fixtures.py.

For each configuration, Tests/LoRATests/Fixtures/<case>/ holds:
  adapter_config.json, adapter_model.safetensors   PEFT's own save (B made non-zero first, so the
                                                   adapter changes the output)
  reference.safetensors   input_ids, logits (adapter active), loss, grad.<PEFT parameter name> for every
                          trainable parameter, merged.<base parameter name> for every weight that
                          merge_and_unload changes
  counts.json             trainable / all parameter counts and PEFT's print_trainable_parameters line
Usage: python scripts/gen_lora_fixtures.py  (run gen_llama_fixtures.py first)
"""
import io, json, os, contextlib
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests")
BASES = os.path.join(ROOT, "ModelsTests", "Fixtures")
OUT = os.path.join(ROOT, "LoRATests", "Fixtures")

CASES = {
    "list-qv": ("tiny-llama", dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])),
    "regex": ("tiny-llama", dict(r=4, lora_alpha=16, target_modules=r".*layers\.1\.(self_attn\.(k|o)_proj|mlp\.up_proj)")),
    "all-linear": ("tiny-llama", dict(r=8, lora_alpha=16, target_modules="all-linear")),
    "all-linear-tied": ("tiny-llama-tied", dict(r=8, lora_alpha=16, target_modules="all-linear")),
    "default-targets": ("tiny-qwen2", dict(r=4, lora_alpha=4)),
    "modules-to-save": ("tiny-llama", dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head", "norm"])),
    "embedding": ("tiny-llama", dict(r=4, lora_alpha=8, target_modules=["embed_tokens", "q_proj"])),
    "rslora": ("tiny-llama", dict(r=16, lora_alpha=8, use_rslora=True, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])),
    "dora": ("tiny-llama", dict(r=4, lora_alpha=8, use_dora=True, target_modules=["q_proj", "v_proj", "down_proj"])),
    "patterns": ("tiny-llama", dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], rank_pattern={"layers.1.self_attn.q_proj": 2}, alpha_pattern={"v_proj": 32}, layers_to_transform=[1])),
    "phi3-fused": ("tiny-phi3", dict(r=4, lora_alpha=8, target_modules=["qkv_proj", "gate_up_proj", "o_proj", "down_proj"])),
}


def main():
    for case, (base, kw) in CASES.items():
        torch.manual_seed(42)
        model = AutoModelForCausalLM.from_pretrained(os.path.join(BASES, base), dtype=torch.float32)
        cfg = LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, **kw)
        peft_model = get_peft_model(model, cfg)
        with torch.no_grad():  # non-zero B (and embedding A) so the adapter matters
            for n, p in peft_model.named_parameters():
                if "lora_B" in n or "lora_embedding_A" in n:
                    p.copy_(0.1 * torch.randn_like(p))
        folder = os.path.join(OUT, case)
        os.makedirs(folder, exist_ok=True)
        peft_model.save_pretrained(folder)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            peft_model.print_trainable_parameters()
        trainable, total = peft_model.get_nb_trainable_parameters()
        json.dump({"trainable": trainable, "all": total, "line": buf.getvalue().strip(),
                   "trainable_names": [n for n, p in peft_model.named_parameters() if p.requires_grad]},
                  open(os.path.join(folder, "counts.json"), "w"), indent=1)
        ids = torch.randint(3, model.config.vocab_size, (2, 10), generator=torch.Generator().manual_seed(5))
        peft_model.train()
        out = peft_model(input_ids=ids, labels=ids)
        out.loss.backward()
        ref = {"input_ids": ids, "logits": out.logits.detach().contiguous(), "loss": out.loss.detach().reshape(1)}
        for n, p in peft_model.named_parameters():
            if p.requires_grad and p.grad is not None:
                ref["grad." + n] = p.grad.detach().contiguous()
        before = {n: p.detach().clone() for n, p in peft_model.get_base_model().named_parameters()}
        merged = peft_model.merge_and_unload()
        for n, p in merged.named_parameters():
            key = n
            if key not in before or not torch.equal(before[key], p):
                ref["merged." + n] = p.detach().contiguous()
        with torch.no_grad():
            ref["merged_logits"] = merged(input_ids=ids).logits.contiguous()
        save_file(ref, os.path.join(folder, "reference.safetensors"))
        print(case, buf.getvalue().strip())


if __name__ == "__main__":
    main()
