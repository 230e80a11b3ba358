"""PyTorch side of scripts/bench_train.sh: runs the reference LoRA training-step benchmark
(/work/shared/bench/torch_lora_step.py, unchanged) on the same model SwiftTune trains, and prints its
result as one JSON line like `swifttune-bench train-step`.

The reference loads a Hugging Face folder; SwiftTune's default model is a GGUF file. transformers reads
the GGUF directly (`from_pretrained(dir, gguf_file=...)`, dequantised to float32: the same weights
SwiftTune computes with), and the folder is saved once under the cache so later runs load it quickly.

usage: bench_train_torch.py GGUF [BATCH SEQ]   (env SWIFTTUNE_SHARED: the shared folder; default ../shared)
"""
import json, os, re, subprocess, sys

def hf_folder(gguf):
    cache = os.path.join(os.environ.get("SWIFTTUNE_CACHE", os.path.expanduser("~/.cache/swifttune")), "hf")
    out = os.path.join(cache, os.path.basename(gguf).rsplit(".gguf", 1)[0] + "-f32")
    if os.path.exists(os.path.join(out, "config.json")):
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d, f = os.path.split(os.path.abspath(gguf))
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    # The GGUF loader marks the model as quantised (not serialisable) though its weights are plain float32.
    m.hf_quantizer = None
    if hasattr(m.config, "quantization_config"):
        del m.config.quantization_config
    tmp = out + ".tmp-%d" % os.getpid()
    m.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(d, gguf_file=f).save_pretrained(tmp)
    os.makedirs(cache, exist_ok=True)
    os.replace(tmp, out)   # atomic: a half-written folder never sits at `out`
    return out

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    gguf, rest = sys.argv[1], sys.argv[2:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shared = os.environ.get("SWIFTTUNE_SHARED", os.path.join(os.path.dirname(root), "shared"))
    ref = os.path.join(shared, "bench", "torch_lora_step.py")
    if not os.path.exists(ref):
        sys.exit(f"bench_train_torch: {ref} is missing (set SWIFTTUNE_SHARED to the shared folder)")
    folder = hf_folder(gguf)
    p = subprocess.run([sys.executable, ref, folder] + rest, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_train_torch: the reference failed:\n{p.stdout}\n{p.stderr}")
    m = re.search(r"LoRA train: ([\d.]+) tokens/s\s+\(B=(\d+) T=(\d+), loss ([\d.]+), peak RSS (\d+) MiB\)", p.stdout)
    if not m:
        sys.exit(f"bench_train_torch: unexpected output from the reference:\n{p.stdout}")
    tps, b, t, loss, rss = float(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4)), float(m.group(5))
    print(json.dumps({"impl": "torch", "bench": "lora_train_step", "shape": f"b{b}_t{t}", "tokens_per_s": tps,
                      "step_ms": round(b * t / tps * 1e3, 1), "loss": loss, "peak_rss_mib": rss}), flush=True)

if __name__ == "__main__":
    main()
