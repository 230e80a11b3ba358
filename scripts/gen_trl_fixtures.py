#!/usr/bin/env python3
"""Reference fixtures for the Training module: TRL SFTTrainer + PEFT LoRA on the tiny random Llama.

Drives trl.SFTTrainer itself (trl 1.16, peft 0.21, transformers 5.24) on a *pre-tokenized* dataset
(`input_ids` + `completion_mask` columns, so no tokenizer is involved: TRL builds the labels from the
completion mask, -100 elsewhere) in a fixed order (SequentialSampler instead of the seeded
RandomSampler, whose torch permutation the Swift trainer does not reproduce), with LoRA dropout 0 and
gradient accumulation 2, and records per optimizer step: loss (HF's logged loss, the sum over the
micro-batches of sum-of-token-losses / num_items_in_batch), grad_norm (before clipping) and learning
rate, plus the initial and final adapter weights.

Writes Tests/TrainingTests/Fixtures/trl_parity/:
  data.json            examples (input_ids, completion_mask) and the settings used
  initial_adapter/     PEFT adapter before training (the Swift test loads it, so both start equal)
  expected.json        per-step loss / grad_norm / learning_rate
  final_adapter.safetensors  adapter weights after training

Usage: /work/venv/bin/python scripts/gen_trl_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "Tests/ModelsTests/Fixtures/tiny-llama")
OUT = os.path.join(ROOT, "Tests/TrainingTests/Fixtures/trl_parity")

SETTINGS = dict(
    n_examples=48, batch=2, grad_accum=2, max_steps=20, lr=5e-3, scheduler="linear", warmup_steps=3,
    weight_decay=0.01, max_grad_norm=0.3, r=4, alpha=8, pad_id=0, seed=42,
)


def main():
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer, models
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    from trl import SFTConfig, SFTTrainer
    import transformers

    s = SETTINGS
    torch.manual_seed(s["seed"])
    rng = np.random.default_rng(1234)
    rows = []
    for _ in range(s["n_examples"]):
        n = int(rng.integers(6, 21))
        prompt = int(rng.integers(2, n - 2))
        ids = [int(x) for x in rng.integers(3, 128, size=n)]
        rows.append({"input_ids": ids, "completion_mask": [0] * prompt + [1] * (n - prompt)})

    # A word-level tokenizer over the 128 ids: TRL wants a processing class for the pad token only.
    vocab = {f"t{i}": i for i in range(128)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t1"))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="t0", eos_token="t2", unk_token="t1")

    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32)
    lcfg = LoraConfig(r=s["r"], lora_alpha=s["alpha"], lora_dropout=0.0, target_modules="all-linear",
                      init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(model, lcfg)
    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(os.path.join(OUT, "initial_adapter"))

    class SeqSFT(SFTTrainer):
        def _get_train_sampler(self, train_dataset=None):
            return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)

    cfg = SFTConfig(
        output_dir="/tmp/trl_parity_out", per_device_train_batch_size=s["batch"],
        gradient_accumulation_steps=s["grad_accum"], max_steps=s["max_steps"], learning_rate=s["lr"],
        lr_scheduler_type=s["scheduler"], warmup_steps=s["warmup_steps"], weight_decay=s["weight_decay"],
        max_grad_norm=s["max_grad_norm"], logging_steps=1, save_strategy="no", report_to="none",
        seed=s["seed"], bf16=False, fp16=False, use_cpu=True, completion_only_loss=True, max_length=1024,
        dataloader_drop_last=False, pad_token="t0",
    )
    trainer = SeqSFT(model=model, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok)
    trainer.train()
    steps = [h for h in trainer.state.log_history if "loss" in h and "grad_norm" in h]
    if len(steps) != s["max_steps"]:
        sys.exit(f"expected {s['max_steps']} logged steps, got {len(steps)}")
    expected = {
        "loss": [float(h["loss"]) for h in steps],
        "grad_norm": [float(h["grad_norm"]) for h in steps],
        "learning_rate": [float(h["learning_rate"]) for h in steps],
        "versions": {"trl": __import__("trl").__version__, "peft": __import__("peft").__version__,
                     "transformers": transformers.__version__, "torch": torch.__version__},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    with open(os.path.join(OUT, "data.json"), "w") as f:
        json.dump({"settings": s, "examples": rows}, f)
    from safetensors.torch import save_file
    from peft import get_peft_model_state_dict
    sd = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(sd, os.path.join(OUT, "final_adapter.safetensors"))
    print("loss", [round(x, 5) for x in expected["loss"]])
    print("grad_norm", [round(x, 5) for x in expected["grad_norm"]])


if __name__ == "__main__":
    main()
