#!/usr/bin/env python3
"""Differential check: render every *.jinja in a folder with transformers (jinja2) and with
`swifttune template --batch`, over the contexts of the chat-template corpus, and report mismatches.

Usage: diff_templates.py TEMPLATE_DIR [path/to/swifttune]   (run with /work/venv/bin/python)
A case matches if both outputs are identical, or both sides fail (and a raise_exception message agrees).
"""
import datetime as _dt
import glob, json, os, subprocess, sys, tempfile
from transformers.utils import chat_template_utils as ctu

class FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 7, 26, 0, 0, 0)
ctu.datetime = FixedDatetime

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.environ.get("SWIFTTUNE_SHARED", os.path.join(os.path.dirname(root), "shared"))
tdir = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, ".build/debug/swifttune")
corpus = json.load(open(os.path.join(shared, "testdata/chat-templates/cases.json"), encoding="utf-8"))
contexts, seen = [], set()
for c in corpus:
    key = json.dumps(c["context"], sort_keys=True)
    if key not in seen:
        seen.add(key)
        contexts.append((c["id"].split("--")[1], c["context"]))

jobs = []
for path in sorted(glob.glob(os.path.join(tdir, "*.jinja"))):
    template = open(path, encoding="utf-8").read()
    for scen, ctx in contexts:
        try:
            ref = ("text", ctu._compile_jinja_template(template).render(**ctx))
        except Exception as e:
            ref = ("error", f"{type(e).__name__}: {e}")
        jobs.append((os.path.basename(path), scen, template, ctx, ref))

with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
    for _, _, template, ctx, _ in jobs:
        f.write(json.dumps({"template": template, "context": ctx, "now": "2024-07-26T00:00:00"}, ensure_ascii=False) + "\n")
    batch = f.name
out = subprocess.run([binary, "template", "--batch", batch], capture_output=True, check=True).stdout.decode("utf-8").split("\n")[:-1]
os.unlink(batch)
ok = 0
bad = {}
for (name, scen, _, _, ref), line in zip(jobs, out):
    got = json.loads(line)
    if ref[0] == "text" and got.get("text") == ref[1]:
        ok += 1
    elif ref[0] == "error" and "error" in got and (not ref[1].startswith("TemplateError") or ref[1].split(": ", 1)[1] in got["error"]):
        ok += 1
    else:
        bad.setdefault(name, []).append((scen, ref, got))
print(f"{ok}/{len(jobs)} renders match over {len(set(j[0] for j in jobs))} templates")
for name, items in bad.items():
    scen, ref, got = items[0]
    print(f"--- {name}: {len(items)} mismatches, e.g. {scen}")
    print("   ref:", repr(ref)[:400])
    print("   got:", repr(got)[:400])
