#!/usr/bin/env python3
"""Writes the TRL parity fixtures of Tests/DatasetsTests/Fixtures/.

Reference stack: TRL 1.16 / transformers 5.24 (/work/venv). For every mode the fixture holds the dataset as
SFTTrainer prepares it (input_ids + labels per example, after truncation / packing) and the batches its default
collator (trl DataCollatorForLanguageModeling) builds from consecutive examples, plus transformers'
DataCollatorWithFlattening on the unpacked examples.

Run:  /work/venv/bin/python scripts/gen_dataset_fixtures.py  [--shared /work/shared]
"""
import argparse, json, os, sys, tempfile

import torch
from datasets import Dataset
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.data.data_collator import DataCollatorWithFlattening
from trl import SFTConfig, SFTTrainer

N_EXAMPLES = 32
BATCH = 8

# A generation-marked copy of SmolLM2's ChatML template (TRL needs the markers for assistant_only_loss); it
# renders exactly the same text as the tokenizer's own template.
SMOL_TEMPLATE_WITH_GENERATION = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ message['content'] + '<|im_end|>' + '\n' }}{% endgeneration %}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A template that shows the row's tools (function schemas) to the model, to check they reach the template.
TOOLS_TEMPLATE = (
    "{% if tools %}{{ '<|im_start|>system\nTools: ' + (tools | tojson) + '<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TOOLS_ROWS = [
    {"messages": [{"role": "user", "content": "Weather in Dagobah?"},
                  {"role": "assistant", "content": "Foggy, it is."}],
     "tools": json.dumps([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a planet",
                                                             "parameters": {"type": "object", "properties": {"planet": {"type": "string"}}}}}])},
    {"messages": [{"role": "user", "content": "Time?"}, {"role": "assistant", "content": "Now, it is."}],
     "tools": json.dumps([{"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}}])},
]

MULTITURN = [
    {"messages": [
        {"role": "user", "content": "Hello there!"},
        {"role": "assistant", "content": "Hello, young one. Help you, I can."},
        {"role": "user", "content": "What is the Force?"},
        {"role": "assistant", "content": "An energy field created by all living things, it is."}]},
    {"messages": [
        {"role": "system", "content": "You speak like Yoda."},
        {"role": "user", "content": "Should I train today?"},
        {"role": "assistant", "content": "Train today, you must. Hmm."}]},
    {"messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And times 3?"},
        {"role": "assistant", "content": "12"},
        {"role": "user", "content": "Thanks."},
        {"role": "assistant", "content": "Welcome, you are."}]},
    {"messages": [
        {"role": "user", "content": "Translate: The cat sleeps on the mat."},
        {"role": "assistant", "content": "On the mat, the cat sleeps."}]},
    {"messages": [
        {"role": "user", "content": "Multi\nline\ninput with \"quotes\" and unicode: café, 日本."},
        {"role": "assistant", "content": "Unicode, handle it I do: naïve ☃."}]},
    {"messages": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Dagobah?"},
        {"role": "assistant", "content": "Checking, I am."},
        {"role": "tool", "content": "{\"temp\": 31, \"sky\": \"swamp fog\"}"},
        {"role": "assistant", "content": "Warm and foggy, it is."}]},
    {"messages": [
        {"role": "user", "content": "Short?"},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": "Longer now, please tell me more about the many wonders of the galaxy far away."},
        {"role": "assistant", "content": "Many wonders, the galaxy has. Stars, planets, and the Force that binds them all together."}]},
]


def tiny_model(vocab):
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048)
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg)


def to_list(x):
    return x.tolist() if hasattr(x, "tolist") else x


def run_mode(name, tok_dir, dataset, sft_kwargs, formatting_func=None, chat_template=None):
    tok = AutoTokenizer.from_pretrained(tok_dir)
    if chat_template is not None:
        tok.chat_template = chat_template
    model = tiny_model(len(tok))
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(output_dir=out, report_to="none", per_device_train_batch_size=BATCH, use_cpu=True, bf16=False,
                         dataset_num_proc=None, **sft_kwargs)
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tok,
                             formatting_func=formatting_func)
    ds = trainer.train_dataset
    examples = []
    for ex in ds:
        e = {"input_ids": to_list(ex["input_ids"]), "labels": to_list(ex["labels"])}
        if "seq_lengths" in ex:
            e["seq_lengths"] = to_list(ex["seq_lengths"])
        examples.append(e)
    collator = trainer.data_collator
    batches = []
    for start in range(0, len(examples), BATCH):
        chunk = [dict(e) for e in examples[start:start + BATCH]]
        out = collator(chunk)
        b = {k: to_list(out[k]) for k in ("input_ids", "labels", "attention_mask", "position_ids") if k in out}
        batches.append(b)
    return {"name": name, "sft_config": sft_kwargs, "pad_token_id": tok.pad_token_id,
            "examples": examples, "batches": batches}


def flattening_mode(base):
    coll = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    batches = []
    exs = base["examples"]
    for start in range(0, len(exs), BATCH):
        chunk = [{"input_ids": e["input_ids"]} for e in exs[start:start + BATCH]]
        out = coll(chunk, return_tensors="pt")
        batches.append({k: to_list(out[k]) for k in ("input_ids", "labels", "position_ids") if k in out})
    return {"name": "flattening", "sft_config": {"collator": "DataCollatorWithFlattening"},
            "examples": exs, "batches": batches}


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("SWIFTTUNE_SHARED", "/work/shared"))
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fixdir = os.path.join(root, "Tests", "DatasetsTests", "Fixtures")
    os.makedirs(fixdir, exist_ok=True)
    tok_dir = os.path.join(a.shared, "testdata", "tokenizers", "smollm2-135m")

    rows = []
    with open(os.path.join(a.shared, "datasets", "yoda", "train.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) == N_EXAMPLES:
                break
    # The yoda subset the Swift tests load (raw columns, as in the shared file).
    write_json(os.path.join(fixdir, "yoda32.json"), rows)
    with open(os.path.join(fixdir, "multiturn.jsonl.tmp"), "w", encoding="utf-8") as f:
        for r in MULTITURN:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(os.path.join(fixdir, "multiturn.jsonl.tmp"), os.path.join(fixdir, "multiturn.jsonl"))

    conv_pc = Dataset.from_list([{"prompt": [{"role": "user", "content": r["sentence"]}],
                                  "completion": [{"role": "assistant", "content": r["translation_extra"]}]}
                                 for r in rows])
    text_pc = Dataset.from_list([{"prompt": r["sentence"], "completion": " " + r["translation_extra"]} for r in rows])
    raw = Dataset.from_list(rows)
    multi = Dataset.from_list(MULTITURN)
    pad = "<|endoftext|>"  # SmolLM2's PAD is its EOS; SwiftTune's fix (and this fixture) pads with UNK instead.

    modes = []
    modes.append(run_mode("conv_completion_only", tok_dir, conv_pc, dict(max_length=56, pad_token=pad)))
    modes.append(run_mode("conv_full_loss_pad8", tok_dir, conv_pc,
                          dict(max_length=64, pad_token=pad, completion_only_loss=False, pad_to_multiple_of=8)))
    modes.append(run_mode("conv_padding_free", tok_dir, conv_pc, dict(max_length=None, pad_token=pad, padding_free=True)))
    modes.append(run_mode("conv_packing_bfd", tok_dir, conv_pc,
                          dict(max_length=128, pad_token=pad, packing=True, packing_strategy="bfd")))
    modes.append(run_mode("conv_packing_bfd48", tok_dir, conv_pc,
                          dict(max_length=48, pad_token=pad, packing=True, packing_strategy="bfd")))
    modes.append(run_mode("conv_packing_bfd_split48", tok_dir, conv_pc,
                          dict(max_length=48, pad_token=pad, packing=True, packing_strategy="bfd_split")))
    modes.append(run_mode("conv_packing_wrapped", tok_dir, conv_pc,
                          dict(max_length=128, pad_token=pad, packing=True, packing_strategy="wrapped")))
    modes.append(run_mode("conv_keep_end", tok_dir, conv_pc,
                          dict(max_length=40, pad_token=pad, truncation_mode="keep_end")))
    modes.append(run_mode("conv_padding_free_pad16", tok_dir, conv_pc,
                          dict(max_length=None, pad_token=pad, padding_free=True, pad_to_multiple_of=16)))
    modes.append(run_mode("text_prompt_completion", tok_dir, text_pc, dict(max_length=64, pad_token=pad)))
    modes.append(run_mode("formatting_func_lm", tok_dir, raw, dict(max_length=64, pad_token=pad),
                          formatting_func=lambda ex: f"### Question: {ex['sentence']}\n### Answer: {ex['translation']}"))
    modes.append(run_mode("multiturn_assistant_only", tok_dir, multi,
                          dict(max_length=96, pad_token=pad, assistant_only_loss=True),
                          chat_template=SMOL_TEMPLATE_WITH_GENERATION))
    modes.append(run_mode("multiturn_full_loss", tok_dir, multi, dict(max_length=None, pad_token=pad)))
    modes.append(run_mode("tools_full_loss", tok_dir, Dataset.from_list(TOOLS_ROWS), dict(max_length=None, pad_token=pad),
                          chat_template=TOOLS_TEMPLATE))
    with open(os.path.join(fixdir, "tools.jsonl.tmp"), "w", encoding="utf-8") as f:
        for r in TOOLS_ROWS:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(os.path.join(fixdir, "tools.jsonl.tmp"), os.path.join(fixdir, "tools.jsonl"))
    write_json(os.path.join(fixdir, "tools_template.json"), {"template": TOOLS_TEMPLATE})
    flat_base = run_mode("conv_full_loss_nomax", tok_dir, conv_pc,
                         dict(max_length=None, pad_token=pad, completion_only_loss=False))
    modes.append(flattening_mode(flat_base))
    for m in modes:
        write_json(os.path.join(fixdir, f"trl_{m['name']}.json"), m)
        print(m["name"], len(m["examples"]), "examples", len(m["batches"]), "batches", file=sys.stderr)


if __name__ == "__main__":
    main()
