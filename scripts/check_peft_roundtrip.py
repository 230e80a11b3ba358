#!/usr/bin/env python3
"""PEFT/transformers accept what SwiftTune writes.

1. Adapters made and saved by SwiftTune (written by the LoRATests export test) load in PEFT and give
   SwiftTune's logits.
2. `swifttune merge` of each adapter gives an HF folder that transformers loads, with the logits of
   PEFT's base+adapter.

Usage:
  SWIFTTUNE_LORA_EXPORT=/tmp/st-lora swift test --filter ExportForPythonTests
  swift build --product swifttune
  /work/venv/bin/python scripts/check_peft_roundtrip.py /tmp/st-lora [--swifttune .build/debug/swifttune]
Exit status 1 if any difference exceeds the tolerance (1e-5 relative to the largest logit).
"""
import argparse, json, os, subprocess, sys, tempfile
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel

TOL = 1e-5


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export_dir")
    ap.add_argument("--swifttune", default=os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "swifttune"))
    ap.add_argument("--dtype", default="f32")
    args = ap.parse_args()
    ok = True
    for name in sorted(os.listdir(args.export_dir)):
        folder = os.path.join(args.export_dir, name)
        if not os.path.isfile(os.path.join(folder, "adapter_config.json")):
            continue
        base_path = json.load(open(os.path.join(folder, "adapter_config.json")))["base_model_name_or_path"]
        ref = load_file(os.path.join(folder, "swifttune_logits.safetensors"))
        ids = ref["input_ids"].long()
        gguf = base_path.endswith(".gguf")
        if gguf:  # transformers dequantises the GGUF to float32, as SwiftTune does
            base = AutoModelForCausalLM.from_pretrained(os.path.dirname(base_path), gguf_file=os.path.basename(base_path),
                                                        dtype=torch.float32)
        else:
            base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        peft_model = PeftModel.from_pretrained(base, folder)
        peft_model.eval()
        with torch.no_grad():
            peft_logits = peft_model(input_ids=ids).logits
        d1 = rel(ref["logits"], peft_logits)
        line = f"{name:22s} PEFT loads SwiftTune adapter: rel diff {d1:.2e}"
        # A GGUF base: SwiftTune's and transformers' float32 forward passes of the 30-layer model differ by
        # ~1e-4 (the Models parity tests allow 1e-3); tiny models agree to 1e-6.
        ok &= d1 <= (1e-3 if gguf else TOL)
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run([args.swifttune, "merge", "--model", base_path, "--adapter", folder, "--out", out,
                                "--dtype", args.dtype], capture_output=True, text=True)
            if r.returncode != 0:
                print(line, "| swifttune merge FAILED:", r.stderr.strip() or r.stdout.strip())
                ok = False
                continue
            merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
            merged.eval()
            with torch.no_grad():
                merged_logits = merged(input_ids=ids).logits
            d2 = rel(merged_logits, peft_logits)
            tol2 = TOL if args.dtype == "f32" else 2e-2
            ok &= d2 <= tol2
            line += f" | transformers loads `swifttune merge` folder: rel diff vs PEFT {d2:.2e}"
        print(line)
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
