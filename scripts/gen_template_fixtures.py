#!/usr/bin/env python3
"""Generate extra chat-template fixtures: jinja2 behaviours beyond the reference corpus.

Each case is rendered with transformers' own chat-template environment
(`transformers.utils.chat_template_utils._compile_jinja_template`), clock pinned to 2024-07-26T00:00:00.
Output: Tests/ChatTemplatesTests/Fixtures/jinja_cases.json, same schema as the corpus
(`expected`, or `expected_error`: "" means "any error", otherwise a substring of the message).
Run with /work/venv/bin/python.
"""
import datetime as _dt
import json, os
from transformers.utils import chat_template_utils as ctu

class FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 7, 26, 0, 0, 0)

ctu.datetime = FixedDatetime

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]
BASE = {"messages": MSGS, "add_generation_prompt": True, "bos_token": "<s>", "eos_token": "</s>", "tools": None, "documents": None}

T = []  # (id, template, extra context or None)
def case(id, template, ctx=None):
    T.append((id, template, ctx))

# --- statements, loops
case("loop-attrs", "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}")
case("loop-prev-next", "{% for m in messages %}[{{ loop.previtem.role if not loop.first }}|{{ loop.nextitem.role if not loop.last }}]{% endfor %}")
case("loop-cycle", "{% for m in messages %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}")
case("loop-filter-if", "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }} {% endfor %}")
case("loop-else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in none_list|default([]) %}{% else %}E{% endfor %}")
case("loop-break-continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 5 %}{% break %}{% endif %}{{ i }}{% endfor %}")
case("loop-tuple-unpack", "{% for k, v in {'a': 1, 'b': [2, 3]}.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}")
case("loop-scope", "{% set x = 1 %}{% for i in [1, 2, 3] %}{{ x }}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}")
case("loop-nested", "{% for i in range(3) %}{% for j in range(i) %}{{ loop.index }}{{ i }}{% endfor %};{% endfor %}")
case("loop-over-string", "{% for c in 'héllo' %}[{{ c }}]{% endfor %}")
case("loop-over-dict", "{% for k in {'z': 1, 'a': 2, 'm': 3} %}{{ k }}{% endfor %}")
case("loop-changed", "{% for x in [1, 1, 2, 2, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}")
case("if-elif-else", "{% for n in [1, 2, 3, 4] %}{% if n == 1 %}one{% elif n == 2 %}two{% elif n == 3 %}three{% else %}many{% endif %} {% endfor %}")
case("set-block", "{% set greeting %}Hello {{ messages[1].content }}!{% endset %}[{{ greeting }}]")
case("set-block-filter", "{% set g | upper %}hello {{ 'world' }}{% endset %}{{ g }}")
case("set-tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = [3, 4] %}{{ c * d }}")
case("namespace", "{% set ns = namespace(count=0, last=none) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.last = m.role %}{% endfor %}{{ ns.count }} {{ ns.last }}")
case("namespace-dict-arg", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}")
case("namespace-underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}{{ ns._x }}", None)
case("macro-defaults", "{% macro f(a, b='B', c=none) %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{{ f(1) }}|{{ f(1, 2) }}|{{ f(1, c=3) }}")
case("macro-varargs-kwargs", "{% macro f(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, 3, x=4) }}")
case("macro-recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}")
case("macro-call-block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ messages[1].content }}{% endcall %}")
case("macro-call-block-args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2, 3]) %}<{{ x }}>{% endcall %}")
case("macro-sees-globals", "{% macro f() %}{{ bos_token }}{{ messages|length }}{% endmacro %}{{ f() }}")
case("filter-block", "{% filter upper %}hello {{ messages[1].content }}{% endfilter %}")
case("raw-block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}!")
case("comments", "a{# comment #}b{#- stripped -#}   c\n{# line comment #}\nd")
case("with-block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}")
case("generation-block", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}")
# --- whitespace control
case("ws-trim-blocks", "{% if true %}\nyes\n{% endif %}\nafter\n")
case("ws-lstrip-blocks", "  {% if true %}\n    x\n  {% endif %}\nend")
case("ws-minus", "a   {{- ' b ' -}}   c\n  {%- if true -%}  d  {%- endif -%}\n e")
case("ws-plus", "  {%+ if true %}x{% endif +%}\nnext")
case("ws-variable-not-lstripped", "  {{ 'v' }}\n  {% if true %}b{% endif %}")
case("ws-trailing-newline", "line\n")
case("ws-two-trailing-newlines", "line\n\n")
case("ws-crlf-template", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc")
case("ws-comment-lstrip", "x\n   {# c #}\ny")
case("ws-raw-lstrip", "x\n  {% raw %}  r  {% endraw %}\ny")
# --- expressions
case("literals", "{{ 'a\\tb\\n\\'q\\'\\u00e9\\x41\\\\' }}|{{ \"d\\\"q\" }}|{{ 42 }}|{{ 1_000 }}|{{ 0x1F }}|{{ 3.5 }}|{{ 1e3 }}|{{ true }}{{ False }}{{ none }}|{{ [1, 'a', none] }}|{{ (1,) }}|{{ () }}|{{ {'k': 'v', 2: [1]} }}")
case("string-concat-adjacent", "{{ 'a' 'b' \"c\" }}")
case("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 7.5 // 2 }} {{ 7.5 % 2 }} {{ -3 }} {{ +3 }} {{ 10 / 4 * 2 }}")
case("float-printing", "{{ 0.1 + 0.2 }} {{ 1.0 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 2.5e-7 }} {{ 123456789.123 }} {{ 1/3 }} {{ -0.0 }} {{ 3.0 * 2 }} {{ 1e300 * 1e10 }}")
case("concat-tilde", "{{ 1 ~ 'a' ~ none ~ true ~ [1] ~ undefined_var }}")
case("plus-lists", "{{ [1, 2] + [3] }} {{ 'ab' * 3 }} {{ [0] * 3 }} {{ (1, 2) + (3,) }}")
case("compare-chain", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ none == none }} {{ 2 >= 2 > 1 }}")
case("in-not-in", "{{ 'ell' in 'hello' }} {{ 3 in [1, 2] }} {{ 'a' in {'a': 1} }} {{ 'x' not in 'abc' }} {{ not 'a' in 'abc' }}")
case("and-or-not", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' and 'z' }} {{ none or [] }} {{ not none }} {{ not 1 }}|{{ (0 or '') ~ '.' }}")
case("inline-if", "{{ 'a' if true else 'b' }}{{ 'c' if false else 'd' }}[{{ 'e' if false }}]{{ 1 if 0 else 2 if 0 else 3 }}")
case("subscript-slice", "{{ messages[-1].content }} {{ messages[1:3]|length }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[1:-1] }} {{ 'abcdef'[::2] }} {{ [1, 2, 3, 4, 5][-2:] }} {{ [1, 2, 3, 4, 5][5:1:-2] }} {{ 'abc'[10:] }} {{ 'héllo'[1] }}")
case("attr-vs-item", "{{ messages[0]['role'] }} {{ messages[0].role }} {{ {'items': 1}['items'] }} {{ messages.0.role }}")
case("dict-methods", "{% set d = {'b': 1, 'a': 2} %}{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d['b'] }}")
case("dict-global", "{{ dict(a=1, b='x') }} {{ dict([('k', 'v')]) }} {{ dict({'x': 1}, y=2) }}")
case("range", "{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}")
# --- undefined semantics
case("undefined-print", "[{{ missing }}][{{ missing|default('d') }}][{{ missing|length }}][{% for x in missing %}x{% endfor %}][{{ missing is defined }}][{{ missing is undefined }}][{{ missing == missing }}][{{ missing|string }}][{{ missing|list }}]")
case("undefined-attr-of-defined", "[{{ messages[0].nope }}][{{ messages[0].nope is defined }}][{{ messages[99] is defined }}][{{ 'abc'.nope }}]")
case("undefined-attr-of-undefined", "{{ missing.attr }}", None)
case("undefined-arith", "{{ missing + 1 }}", None)
case("undefined-call", "{{ missing() }}", None)
case("undefined-in", "{{ 'a' in missing }}|{{ missing in ['a'] }}|{{ missing ~ 'x' }}|{{ missing|trim }}|{{ missing|upper }}")
case("none-behaviour", "{{ none }} {{ none is none }} {{ none|string }} {{ none ~ '' }} {{ [none]|length }}")
case("none-iterate", "{% for x in none %}{% endfor %}", None)
case("default-boolean", "{{ ''|default('d') }}|{{ ''|default('d', true) }}|{{ none|default('n') }}|{{ false|default('f', boolean=true) }}")
# --- tests
case("tests-types", "{% for v in [1, 1.5, 'a', true, none, [1], {'a': 1}, (1, 2)] %}{{ v is number }}{{ v is integer }}{{ v is float }}{{ v is string }}{{ v is boolean }}{{ v is none }}{{ v is sequence }}{{ v is iterable }}{{ v is mapping }}{{ v is defined }};{% endfor %}")
case("tests-values", "{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ 'a' is eq 'a' }}{{ 1 is equalto 2 }}{{ 2 is ne 3 }}{{ 1 is lt 2 }}{{ 3 is gt 2 }}{{ 2 is le 2 }}{{ 2 is ge 3 }}{{ 'a' is in 'abc' }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ none is sameas none }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ range is callable }}")
case("tests-negated", "{{ 1 is not string }} {{ not 1 is string }} {{ missing is not defined }} {{ messages is not mapping }}")
# --- filters
case("filters-string", "{{ '  Hi There  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'Hi'|upper }}{{ 'Hi'|lower }}|{{ 'a-b c(d'|title }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|center(9) }}|{{ 'a<b>&\"c\\''|e }}|{{ 'one two  three'|wordcount }}|{{ 'hello'|reverse }}")
case("filters-list", "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ [1, 2, 3]|sum }} {{ [1, 5, 3]|max }} {{ [4, 2, 8]|min }} {{ [1, 2, 2, 1, 3]|unique|list }} {{ [1, 2, 3]|reverse|list }} {{ [1, 2, 3]|join('-') }} {{ [1, 'a', none]|join }} {{ range(7)|batch(3)|list }} {{ range(7)|slice(3)|list }}")
case("filters-attr", "{{ messages|map(attribute='role')|list }} {{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join(',') }} {{ messages|rejectattr('role', 'eq', 'user')|list|length }} {{ [1, 0, 2, none]|select|list }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('even')|list }} {{ messages|sort(attribute='role')|map(attribute='content')|join('/') }} {{ ['1', '2']|map('int')|sum }} {{ messages|selectattr('missing')|list }}")
case("filters-dict", "{{ {'b': 1, 'a': 2}|items|list }} {{ {'b': 1, 'A': 2, 'a': 0}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }} {{ {'a': 1}|length }} {{ {'x': 1, 'y': 2}|list }}")
case("filters-numbers", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.1|round(method='ceil') }} {{ 2.9|round(0, 'floor') }} {{ '%d items, %s, %.2f'|format(3, 'x', 1.5) }} {{ '%s-%s' % ('a', 'b') }} {{ '%05d' % 42 }}")
case("filters-indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('> ') }}")
case("filters-truncate", "{{ 'The quick brown fox jumps over the lazy dog'|truncate(20) }}|{{ 'The quick brown fox jumps over the lazy dog'|truncate(20, true) }}|{{ 'short'|truncate(20) }}|{{ 'The quick brown fox'|truncate(10, end='>') }}")
case("filters-string-list", "{{ 'abc'|list }} {{ 'abc'|length }} {{ 'héllo wörld'|length }} {{ 42|string }} {{ [1, 'a']|string }} {{ none|string }} {{ 'abc'|first }} {{ 'abc'|last }}")
# --- tojson
case("tojson-basic", "{{ messages|tojson }}|{{ 'é\"\\n\\t<>&\\''|tojson }}|{{ [1, 1.5, true, none, 'x']|tojson }}|{{ {}|tojson }}|{{ []|tojson }}|{{ 1e20|tojson }}|{{ 3.0|tojson }}")
case("tojson-indent", "{{ messages[:2]|tojson(indent=2) }}|{{ {'a': [], 'b': {}, 'c': [1, {'d': 2}]}|tojson(indent=4) }}|{{ [1]|tojson(indent=0) }}")
case("tojson-options", "{{ {'b': 1, 'a': [2, 3]}|tojson(sort_keys=true) }}|{{ {'b': 1, 'a': [2, 3]}|tojson(separators=(',', ':')) }}|{{ 'é😀'|tojson(ensure_ascii=true) }}|{{ {'a': 1}|tojson(indent='\\t') }}|{{ {1: 'x', true: 'y', none: 'z'}|tojson }}")
case("tojson-undefined", "{{ missing|tojson }}", None)
case("tojson-unicode-context", "{{ messages|tojson }}", {"messages": [{"role": "user", "content": "naïve 😀 \u00a0 \u200d \u2028 \x07 \x1f \x7f"}]})
# --- python printing
case("print-python", "{{ [1, 'a', \"it's\", 'q\"', none, true, 1.5, [2], {'k': (1,)}] }}|{{ ('a', 1) }}|{{ {'a': none} }}|{{ ['\\n', '\\t', '\\\\', '\\x00', 'é', '\\u00a0', '\\u200d', '😀'] }}")
case("print-context-values", "{{ messages[1] }}|{{ tools }}|{{ add_generation_prompt }}|{{ nums }}|{{ flt }}|{{ big }}", {"nums": [1, 2.0, -3, 1e100], "flt": 2.0, "big": 12345678901234567})
case("print-dict-items", "{{ {'a': 1}.items() }}")
# --- python string methods
case("str-methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b \\n c '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'aXbX'.replace('X', '-') }}|{{ 'hello world-foo'.title() }}|{{ 'they\\'re 1st'.title() }}|{{ 'abc'.upper() }}|{{ 'ABC'.lower() }}|{{ 'abc'.find('c') }}|{{ 'abc'.find('z') }}|{{ 'abca'.count('a') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ '42'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ ' '.isspace() }}|{{ 'abc'.capitalize() }}|{{ 'ab'.center(6, '*') }}|{{ '7'.zfill(3) }}|{{ 'a=b=c'.partition('=') }}|{{ '{} and {x}'.format(1, x=2) }}|{{ 'Hi'.ljust(4) }}|{{ 'Hi'.rjust(4, '.') }}")
case("str-unicode", "{{ 'straße'.upper() }}|{{ 'ÉCOLE'.lower() }}|{{ 'e\u0301'|length }}|{{ '👨‍👩‍👧'|length }}|{{ '👨‍👩‍👧'[0] }}|{{ 'é'.startswith('e') }}|{{ '\u00a0x\u00a0'.strip() }}|{{ 'a\u200bb'.split() }}")
case("list-methods", "{{ [1, 2, 1].count(1) }} {{ ['a', 'b'].index('b') }}")
case("list-append-unsafe", "{% set l = [1] %}{{ l.append(2) }}", None)
case("dict-update-unsafe", "{% set d = {} %}{{ d.update({'a': 1}) }}", None)
# --- globals
case("strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %j %U %W %w %y %I %p %a') }}|{{ strftime_now('%-d %-m') }}|{{ strftime_now('%e|%%|%c|%x|%X|%D|%F|%T|%u|%V|%G') }}")
case("raise-exception", "{{ raise_exception('Custom failure: ' ~ messages|length) }}", None)
case("cycler-joiner", "{% set c = cycler('x', 'y') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}|{% set j = joiner(', ') %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %}")
# --- markup
case("markup-concat", "{{ '<a>'|safe + '<b>' }}|{{ '<b>' + '<a>'|safe }}|{{ '<a>'|safe ~ '<b>' }}|{{ ('%s'|safe) % '<x>' }}|{{ ('<a>'|safe).strip() + '&' }}|{{ '<p>'|e }}|{{ ('<p>'|e)|e }}|{{ ('x'|safe) is string }}|{{ '<a>'|safe|length }}")
# --- scoping
case("scope-macro-late-binding", "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}")
case("scope-macro-later-global", "{% macro m() %}{{ y }}{% endmacro %}{% set y = 5 %}{{ m() }}")
case("scope-macro-in-loop", "{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}")
case("scope-macro-mutates-namespace", "{% set ns = namespace(a=1) %}{% macro m() %}{% set ns.a = ns.a + 1 %}{% endmacro %}{{ m() }}{{ m() }}{{ ns.a }}")
case("scope-if-set-leaks", "{% if true %}{% set z = 3 %}{% endif %}{{ z }}")
case("scope-for-set-stays", "{% for a in [1] %}{% set q = 1 %}{% endfor %}[{{ q }}]")
case("scope-loop-var-stays", "{% for a in [1, 2] %}{% endfor %}[{{ a }}]")
case("scope-defined-before-set", "{{ x is defined }}{% set x = 1 %}{{ x is defined }}")
case("loop-depth", "{% for x in [1] %}{{ loop.depth }}{% for y in [2] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}{% endfor %}")
case("err-break-outside-loop", "{% break %}", None)
case("err-loop-outside-loop", "{{ loop.index }}", None)
# --- generators, range objects, dict views (jinja's streaming filters return generators)
case("gen-truthy", "{% if [] | select %}T{% else %}F{% endif %}{% if []|list %}T{% else %}F{% endif %}{% if messages|selectattr('role', 'equalto', 'nobody') %}T{% endif %}{{ [3, 1]|map('string')|join(',') }}{{ [1, 2]|select('odd')|first }}{{ [1, 2]|reject('odd')|list }}")
case("gen-length-error", "{{ [1]|select|length }}", None)
case("gen-tojson-error", "{{ [1]|map('string')|tojson }}", None)
case("gen-last-error", "{{ [1]|select|last }}", None)
case("range-values", "{{ range(3) }}|{{ range(1, 5, 2) }}|{{ range(4)[-1] }}|{{ range(3)|length }}|{{ range(0) is sequence }}{% if range(0) %}T{% else %}F{% endif %}|{{ range(3)|list }}|{{ 2 in range(3) }}|{{ range(5)|reverse|list }}")
case("dict-views", "{% if {}.items() %}T{% else %}F{% endif %}{{ {'a': 1}.keys() }}{{ {'a': 1}.values() }}{{ {'a': 1}.items()|length }}{{ 'a' in {'a': 1}.keys() }}")
case("unknown-filter-soft", "{% if false %}{{ x|nosuch }}{{ x is nosuch }}{% endif %}{{ 1 if true else x|nosuch }}ok")
case("err-unknown-filter-in-for", "{% for i in [] %}{{ x|nosuch }}{% endfor %}", None)
case("err-unknown-filter-in-macro", "{% macro m() %}{{ x|nosuch }}{% endmacro %}", None)
case("err-unknown-filter-soft-called", "{% if true %}{{ x|nosuch }}{% endif %}", None)
# --- errors
case("err-unknown-filter", "{{ 1|nosuchfilter }}", None)
case("err-unknown-test", "{{ 1 is nosuchtest }}", None)
case("err-div-zero", "{{ 1 / 0 }}", None)
case("err-add-str-int", "{{ 'a' + 1 }}", None)
case("err-compare", "{{ 'a' < 1 }}", None)
case("err-not-callable", "{{ messages() }}", None)
case("err-unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", None)
case("err-ns-assign", "{% set x = 1 %}{% set x.y = 2 %}", None)
case("err-items-non-mapping", "{{ [1]|items|list }}", None)

cases = []
for id, template, ctx in T:
    context = dict(BASE)
    if ctx:
        context.update(ctx)
    entry = {"id": id, "template": template, "context": context}
    try:
        compiled = ctu._compile_jinja_template(template)
        if "{% generation" in template:
            text, ranges = ctu._render_with_assistant_indices(compiled, context["messages"], context["tools"], context["documents"], context["add_generation_prompt"], **{k: v for k, v in context.items() if k not in ("messages", "tools", "documents", "add_generation_prompt")})
            entry["generation_ranges"] = [list(r) for r in ranges]
        else:
            text = compiled.render(**context)
        entry["expected"] = text
    except Exception as e:
        msg = str(e)
        entry["expected_error"] = msg if template.startswith("{{ raise_exception") else ""
        entry["python_error"] = f"{type(e).__name__}: {msg}"
    cases.append(entry)

out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests/ChatTemplatesTests/Fixtures/jinja_cases.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump(cases, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases to {out}")
for c in cases:
    if "python_error" in c and "error" not in c["id"] and not c["id"].startswith(("err-", "raise")) and c["id"] not in ("namespace-underscore", "undefined-attr-of-undefined", "undefined-arith", "undefined-call", "none-iterate", "tojson-undefined", "list-append-unsafe", "dict-update-unsafe"):
        print("UNEXPECTED ERROR", c["id"], c["python_error"])

# --- apply_chat_template-level cases: message normalisation, reasoning aliases, continue_final_message
APPLY_TEMPLATE = (
    "{% for m in messages %}<{{ m.role }}>{% for k, v in m.items() %}{{ k }}={{ v }};{% endfor %}"
    "{% if m.thinking is defined %}[T:{{ m.thinking }}]{% endif %}{{ m.content }}</{{ m.role }}>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}{% if tools %}TOOLS={{ tools|tojson }}{% endif %}{{ extra_flag }}"
)
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
apply_inputs = [
    ("none-keys-dropped", APPLY_TEMPLATE, [{"role": "user", "content": "hi", "name": None}, {"role": "assistant", "content": "yo", "tool_calls": None}], None, True, False, {}),
    ("reasoning-aliases", APPLY_TEMPLATE, [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning_content": "because"}, {"role": "assistant", "content": "b", "reasoning": "r2"}, {"role": "assistant", "content": "c", "thinking": "t3", "reasoning_content": "rc3"}], None, False, False, {}),
    ("tools-and-extra", APPLY_TEMPLATE, [{"role": "user", "content": "weather?"}], [{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}}], True, False, {"extra_flag": "X"}),
    ("continue-final", CHATML, [{"role": "user", "content": "Write a poem"}, {"role": "assistant", "content": "Roses are red,"}], None, False, True, {}),
]
apply_cases = []
for id, template, msgs, tools, agp, cont, extra in apply_inputs:
    normalized = ctu._normalize_chat_messages(msgs)
    rendered, _ = ctu.render_jinja_template(conversations=[normalized], tools=tools, chat_template=template,
                                            add_generation_prompt=agp, continue_final_message=cont, **extra)
    apply_cases.append({"id": id, "template": template, "messages": msgs, "tools": tools, "add_generation_prompt": agp,
                        "continue_final_message": cont, "extra": extra, "expected": rendered[0]})
out2 = os.path.join(os.path.dirname(out), "apply_cases.json")
with open(out2, "w", encoding="utf-8") as f:
    json.dump(apply_cases, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"wrote {len(apply_cases)} cases to {out2}")
