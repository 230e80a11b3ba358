"""Writes Tests/JSONCoreTests/Fixtures/python_cases.json: JSON documents as Python's json module reads and
re-writes them under several json.dumps options (the reference for JSONCore's parser and writer)."""
import json, os

docs = [
    '{"b": 1, "a": [1.5, "x"], "c": {"z": null, "y": true, "x": false}}',
    '[0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, 123456789012345678901234567890]',
    '[0.1, 1e-05, 0.0001, 1e16, 1e15, 123456789.123, -0.0, 1e300, 5e-324, 2.5e-7, 1E3, 1.0, 100.0, 3.141592653589793]',
    '[NaN, Infinity, -Infinity]',
    '"caf\\u00e9 \\ud83d\\ude00 \\u0001\\u001f\\b\\f\\n\\r\\t \\"q\\" \\\\ / \\u007f \\u2028 \\u00c5\\u212b"',
    '{"a": 1, "b": 2, "a": 3}',
    '{"\\u00c5": 1, "\\u212b": 2, "\\u00e9t\\u00e9": [], "": {}, "z": [[]], "B": "x"}',
    '{"messages": [{"role": "user", "content": "Hi \\ud83d\\udc4b"}, {"role": "assistant", "content": "\\u4f60\\u597d"}], "n": 3}',
    '[]', '{}', '[1, [2, [3, {"k": [4.25]}]]]',
]
options = [
    {},
    {"ensure_ascii": False},
    {"indent": 2},
    {"indent": 0, "ensure_ascii": False},
    {"separators": [",", ":"], "ensure_ascii": False},
    {"sort_keys": True, "indent": 2, "ensure_ascii": False},
    {"sort_keys": True},
]
cases = []
for d in docs:
    v = json.loads(d)
    outs = []
    for o in options:
        kw = dict(o)
        if "separators" in kw:
            kw["separators"] = tuple(kw["separators"])
        outs.append({"options": o, "expected": json.dumps(v, **kw)})
    cases.append({"input": d, "dumps": outs})
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "JSONCoreTests", "Fixtures", "python_cases.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump({"cases": cases}, f, ensure_ascii=True, indent=1)
    f.write("\n")
