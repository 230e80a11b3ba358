#!/usr/bin/env python3
"""Write Tests/TokenizersTests/Fixtures/variants.json: reference encodings for pipeline variants that the
development tokenizers do not exercise (ByteLevel add_prefix_space/trim_offsets, Roberta/Bert processing,
Digits, Punctuation, regexes handled by the generic engine, Metaspace schemes, unk without byte fallback,
NFKC/NFD/Lowercase/Strip/StripAccents/Replace-regex normalizers, Whitespace splitting).

Each variant is a patch of top-level keys (and `model` fields) applied to one of the shared tokenizers;
the Swift test applies the same patch and compares ids, offsets and decode output.

Usage: /work/venv/bin/python scripts/gen_tokenizer_variants.py [SHARED_DIR]
"""
import json
import os
import sys

from tokenizers import Tokenizer
import tokenizers

GPT4O = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
BL_NOREGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


def split(pattern, behavior="Isolated", invert=False):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": behavior, "invert": invert}


VARIANTS = [
    ("roberta_like", "gpt2", {
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 50256], "cls": ["<|endoftext|>", 50256],
                           "trim_offsets": True, "add_prefix_space": True}}),
    ("neox_trim_offsets", "gpt2", {
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}}),
    ("falcon_like", "gpt2", {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Punctuation", "behavior": "Contiguous"},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            {"type": "Digits", "individual_digits": False},
            split("[0-9][0-9][0-9]")]}}),
    ("gpt4o_regex", "gpt2", {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(GPT4O), BL_NOREGEX]}}),
    ("deepseek_like", "gpt2", {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        split(r"[\r\n]"), split(r"\s?\p{L}+"), split(r"\s?\p{P}+"),
        split(r"\s?[!-/:-~！-／：-～‘-‟　-。]+"), split(r"\s+$"), split(r"[一-龥ࠀ-一가-퟿]+"), split(r"\p{N}+"),
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}}),
    ("normalizers_nfkc_lower_strip", "gpt2", {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "}]}}),
    ("metaspace_always_split", "llama2", {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}}),
    ("metaspace_never_unk_no_fallback", "llama2", {
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False}]},
        "model": {"byte_fallback": False},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False}}),
    ("nfd_strip_accents_whitespace", "llama2", {
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Whitespace"},
        "model": {"byte_fallback": False, "fuse_unk": False},
        "post_processor": {"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1]},
        "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}}),
]


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    shared = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "shared")
    base = os.path.join(shared, "testdata", "tokenizers")
    with open(os.path.join(base, "corpus.json"), encoding="utf-8") as f:
        corpus = [c for c in json.load(f)["cases"] if c["category"] != "paragraph"]
    corpus = corpus[::2]  # every other short string keeps the fixture small
    out = {"reference": {"library": "tokenizers", "version": tokenizers.__version__}, "variants": []}
    for name, source, patch in VARIANTS:
        with open(os.path.join(base, source, "tokenizer.json"), encoding="utf-8") as f:
            doc = json.load(f)
        for k, v in patch.items():
            if k == "model":
                doc["model"].update(v)
            else:
                doc[k] = v
        tok = Tokenizer.from_str(json.dumps(doc))
        cases = []
        for c in corpus:
            s = tok.encode(c["text"], add_special_tokens=True)
            cases.append({"id": c["id"], "text": c["text"], "ids": s.ids, "offsets": [list(o) for o in s.offsets],
                          "decoded": tok.decode(s.ids, skip_special_tokens=False)})
        out["variants"].append({"name": name, "source": source, "patch": patch, "cases": cases})
        print(name, len(cases))
    path = os.path.join(here, "..", "Tests", "TokenizersTests", "Fixtures", "variants.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
