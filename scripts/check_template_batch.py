#!/usr/bin/env python3
"""End-to-end check of `swifttune template --batch` on the chat-template corpus.

Writes every case of shared/testdata/chat-templates/cases.json as a batch line, runs the built binary once,
and compares each output line with `expected` / `expected_error`.
Usage: scripts/check_template_batch.py [path/to/swifttune] (default .build/debug/swifttune)
"""
import json, os, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.environ.get("SWIFTTUNE_SHARED", os.path.join(os.path.dirname(root), "shared"))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build/debug/swifttune")
cases = json.load(open(os.path.join(shared, "testdata/chat-templates/cases.json"), encoding="utf-8"))
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps({"template": c["template"], "context": c["context"], "now": "2024-07-26T00:00:00"}, ensure_ascii=False) + "\n")
    path = f.name
out = subprocess.run([binary, "template", "--batch", path], capture_output=True, check=True).stdout.decode("utf-8")
lines = out.split("\n")
assert lines[-1] == "", "output must end with a newline after the last record"
lines = lines[:-1]
assert len(lines) == len(cases), f"{len(lines)} output lines for {len(cases)} inputs"
ok = 0
for c, line in zip(cases, lines):
    r = json.loads(line)
    if "expected" in c and r.get("text") == c["expected"]:
        ok += 1
    elif "expected_error" in c and c["expected_error"] in r.get("error", ""):
        ok += 1
    else:
        print("MISMATCH", c["id"], line[:300])
os.unlink(path)
print(f"batch: {ok}/{len(cases)} cases match")
sys.exit(0 if ok == len(cases) else 1)
