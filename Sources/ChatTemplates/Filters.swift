import Foundation

/// Jinja's builtin filters (and transformers' `tojson`), with Python semantics.
enum Filters {
    static let names: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
        "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice",
        "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
        "pprint", "urlencode",
        // jinja builtins this engine does not implement: accepted when parsing, an error if used.
        "groupby", "filesizeformat", "wordwrap", "xmlattr", "urlize", "random",
    ]

    static func undefinedCheck(_ v: Value) throws {
        if case .undefined(let u) = v { throw TemplateError(.undefined, u.message) }
    }

    static func len(_ v: Value) throws -> Int {
        switch v {
        case .string(let s), .markup(let s): return s.unicodeScalars.count
        case .list(let a), .tuple(let a): return a.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .object(let o as Namespace): return o.attrs.count
        case .object(let o as SeqObject):
            guard o.hasLen else { throw TemplateError.runtime("object of type '\(o.typeName)' has no len()") }
            return o.items.count
        default: throw TemplateError.runtime("object of type '\(v.typeName)' has no len()")
        }
    }

    /// Attribute getter for `attribute=` arguments: dotted path, integer parts index, via jinja's getitem.
    static func attrGetter(_ interp: Interpreter, _ attr: Value, default def: Value? = nil) -> (Value) throws -> Value {
        let parts: [Value]
        switch attr {
        case .string(let s): parts = s.split(separator: ".", omittingEmptySubsequences: false).map { p in Int(p).map { .int($0) } ?? .string(String(p)) }
        default: parts = [attr]
        }
        return { item in
            var v = item
            for p in parts {
                v = try interp.getItem(v, p)
                if v.isUndefined, let d = def { return d }
            }
            return v
        }
    }

    static func sortKey(_ v: Value, caseSensitive: Bool) -> Value {
        if !caseSensitive, case .string(let s) = v { return .string(PyString.lower(s)) }
        return v
    }

    static func stableSort(_ items: [Value], key: (Value) throws -> Value, reverse: Bool) throws -> [Value] {
        let keyed = try items.enumerated().map { ($0.offset, try key($0.element), $0.element) }
        var err: Error? = nil
        let sorted = keyed.sorted { a, b in
            do {
                if reverse { if try Ops.less(b.1, a.1) { return true }; if try Ops.less(a.1, b.1) { return false } }
                else { if try Ops.less(a.1, b.1) { return true }; if try Ops.less(b.1, a.1) { return false } }
            } catch { err = error }
            return a.0 < b.0
        }
        if let e = err { throw e }
        return sorted.map { $0.2 }
    }

    static func selectOrReject(_ name: String, _ v: Value, _ args: [Value], _ kw: [(String, Value)], _ interp: Interpreter) throws -> Value {
        // jinja: `if value:` guards the loop, so None / empty yields nothing.
        if !v.truthy { return .list([]) }
        let byAttr = name.hasSuffix("attr")
        let reject = name.hasPrefix("reject")
        var rest = args
        var getter: (Value) throws -> Value = { $0 }
        if byAttr {
            guard !rest.isEmpty else { throw TemplateError.runtime("Missing parameter for attribute name") }
            getter = attrGetter(interp, rest.removeFirst())
        }
        var testName: String? = nil
        if !rest.isEmpty {
            guard case .string(let t) = rest.removeFirst() else { throw TemplateError.runtime("test name must be a string") }
            testName = t
        }
        var out: [Value] = []
        for item in try interp.iterate(v) {
            let x = try getter(item)
            let ok: Bool
            if let t = testName { ok = try Tests.run(t, x, rest, kw, interp) } else { ok = x.truthy }
            if ok != reject { out.append(item) }
        }
        return .list(out)
    }

    static func htmlEscape(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": r += "&amp;"
            case "<": r += "&lt;"
            case ">": r += "&gt;"
            case "\"": r += "&#34;"
            case "'": r += "&#39;"
            default: r.unicodeScalars.append(c)
            }
        }
        return r
    }

    /// Filters that return a Python generator in jinja 3.1.
    static let generatorFilters: Set<String> = ["map", "select", "reject", "selectattr", "rejectattr", "batch", "slice", "unique", "items"]

    /// Filters that keep a Markup input Markup (they go through `soft_str`, which keeps Markup).
    static let markupPreserving: Set<String> = ["string", "trim", "upper", "lower", "capitalize", "center", "indent", "format"]

    /// Apply filter `name`, with jinja's Markup handling around the plain implementation.
    static func apply(_ name: String, _ v: Value, _ args: [Value], _ kw: [(String, Value)], _ interp: Interpreter) throws -> Value {
        switch name {
        case "safe": return v.isMarkup ? v : .markup(PyFormat.str(v))
        case "e", "escape": return v.isMarkup ? v : .markup(htmlEscape(PyFormat.str(v)))
        case "forceescape": return .markup(htmlEscape(PyFormat.str(v)))
        default: break
        }
        var r = try run(name, v.asPlain, args, kw, interp)
        // jinja's streaming filters return generators (always truthy, no len(), not JSON serialisable).
        if Filters.generatorFilters.contains(name), case .list(let items) = r {
            r = .object(SeqObject(.generator("do_\(name)"), items))
        }
        if name == "reverse", case .list(let items) = r {
            if case .list = v { r = .object(SeqObject(.reverseIterator, items)) }
            else if case .object(let o as SeqObject) = v, o.isRange { r = .object(SeqObject(.generator("reversed"), items)) }
        }
        if v.isMarkup, markupPreserving.contains(name), case .string(let s) = r { return .markup(s) }
        return r
    }

    static func run(_ name: String, _ v: Value, _ args: [Value], _ kw: [(String, Value)], _ interp: Interpreter) throws -> Value {
        let limit = interp.limits.maxCollectionSize
        switch name {
        case "default", "d":
            let a = try Args(name, args, kw, ["default_value", "boolean"])
            let def = a.get("default_value") ?? .string("")
            if v.isUndefined || (a.bool("boolean", false) && !v.truthy) { return def }
            return v
        case "length", "count": return .int(try len(v))
        case "string": return .string(PyFormat.str(v))
        case "safe": return .string(PyFormat.str(v))
        case "trim":
            let a = try Args(name, args, kw, ["chars"])
            return .string(PyString.strip(PyFormat.str(v), try a.string("chars"), left: true, right: true))
        case "upper": return .string(PyString.upper(PyFormat.str(v)))
        case "lower": return .string(PyString.lower(PyFormat.str(v)))
        case "capitalize": return .string(PyString.capitalize(PyFormat.str(v)))
        case "title":
            // jinja: capitalise each word; words begin after '-', whitespace, or an opening bracket.
            var r = "", startOfWord = true
            for c in PyFormat.str(v).unicodeScalars {
                let sep = c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || isPyWhitespace(c)
                if sep { r.unicodeScalars.append(c); startOfWord = true }
                else { r += startOfWord ? PyString.upper(c) : PyString.lower(c); startOfWord = false }
            }
            return .string(r)
        case "replace":
            let a = try Args(name, args, kw, ["old", "new", "count"])
            let s = PyFormat.str(v)
            return .string(try PyString.replace(s, PyFormat.str(a.get("old") ?? .string("")), PyFormat.str(a.get("new") ?? .string("")), count: try a.int("count") ?? -1, limit: limit))
        case "join":
            let a = try Args(name, args, kw, ["d", "attribute"])
            var items = try interp.iterate(v)
            if let at = a.get("attribute"), !at.isNone { let g = attrGetter(interp, at); items = try items.map(g) }
            let r = items.map { PyFormat.str($0) }.joined(separator: PyFormat.str(a.get("d") ?? .string("")))
            try interp.checkSize(r.utf8.count, "string")
            return .string(r)
        case "list": return .list(try interp.iterate(v))
        case "items":
            switch v {
            case .dict(let d): return .list(zip(d.keys, d.values).map { .tuple([$0, $1]) })
            case .undefined: return .list([])
            default: throw TemplateError.runtime("Can only get item pairs from a mapping.")
            }
        case "dictsort":
            let a = try Args(name, args, kw, ["case_sensitive", "by", "reverse"])
            guard case .dict(let d) = v else { throw TemplateError.runtime("dictsort needs a mapping") }
            let byValue = (try a.string("by") ?? "key") == "value"
            let cs = a.bool("case_sensitive", false)
            let pairs = zip(d.keys, d.values).map { Value.tuple([$0, $1]) }
            return .list(try stableSort(pairs, key: { p in
                guard case .tuple(let kv) = p else { return p }
                return sortKey(kv[byValue ? 1 : 0], caseSensitive: cs)
            }, reverse: a.bool("reverse", false)))
        case "tojson":
            let a = try Args(name, args, kw, ["ensure_ascii", "indent", "separators", "sort_keys"])
            var indent: String? = nil
            switch a.get("indent") ?? Value.none {
            case .none: break
            case .int(let n): indent = String(repeating: " ", count: max(0, min(n, 1000)))
            case .string(let s): indent = s
            case let x: throw TemplateError.runtime("tojson: indent must be an int or a string, not \(x.typeName)")
            }
            var seps: (String, String)? = nil
            if let s = a.get("separators"), !s.isNone {
                let parts = try interp.iterate(s)
                guard parts.count == 2, case .string(let p) = parts[0], case .string(let q) = parts[1] else { throw TemplateError.runtime("tojson: separators must be a pair of strings") }
                seps = (p, q)
            }
            if case .undefined(let u) = v { throw TemplateError.runtime("Object of type Undefined is not JSON serializable (\(u.message))") }
            return .string(try JSON.dumps(v, ensureASCII: a.bool("ensure_ascii", false), indent: indent, separators: seps, sortKeys: a.bool("sort_keys", false)))
        case "selectattr", "rejectattr", "select", "reject":
            return try selectOrReject(name, v, args, kw, interp)
        case "map":
            let items = try interp.iterate(v)
            if let at = kw.first(where: { $0.0 == "attribute" })?.1 {
                let g = attrGetter(interp, at, default: kw.first(where: { $0.0 == "default" })?.1)
                return .list(try items.map(g))
            }
            guard let f = args.first, case .string(let fname) = f else { throw TemplateError.runtime("map requires a filter name or attribute=") }
            let rest = Array(args.dropFirst())
            return .list(try items.map { try run(fname, $0, rest, kw, interp) })
        case "first":
            switch v {
            case .string(let s): return s.unicodeScalars.first.map { .string(String($0)) } ?? .undefined(Undefined(name: nil, hint: "No first item, sequence was empty."))
            default: return try interp.iterate(v).first ?? .undefined(Undefined(name: nil, hint: "No first item, sequence was empty."))
            }
        case "last":
            if case .object(let o as SeqObject) = v, case .generator = o.kind { throw TemplateError.runtime("'generator' object is not reversible") }
            return try interp.iterate(v).last ?? .undefined(Undefined(name: nil, hint: "No last item, sequence was empty."))
        case "reverse":
            switch v {
            case .string(let s): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
            default: return .list(try interp.iterate(v).reversed())
            }
        case "sort":
            let a = try Args(name, args, kw, ["reverse", "case_sensitive", "attribute"])
            let cs = a.bool("case_sensitive", false)
            let g: (Value) throws -> Value = a.get("attribute").flatMap { $0.isNone ? nil : attrGetter(interp, $0) } ?? { $0 }
            return .list(try stableSort(try interp.iterate(v), key: { sortKey(try g($0), caseSensitive: cs) }, reverse: a.bool("reverse", false)))
        case "unique":
            let a = try Args(name, args, kw, ["case_sensitive", "attribute"])
            let cs = a.bool("case_sensitive", false)
            let g: (Value) throws -> Value = a.get("attribute").flatMap { $0.isNone ? nil : attrGetter(interp, $0) } ?? { $0 }
            var seen: [Value] = [], out: [Value] = []
            for it in try interp.iterate(v) {
                let k = sortKey(try g(it), caseSensitive: cs)
                if !seen.contains(where: { pyEquals($0, k) }) { seen.append(k); out.append(it) }
            }
            return .list(out)
        case "min", "max":
            let a = try Args(name, args, kw, ["case_sensitive", "attribute"])
            let cs = a.bool("case_sensitive", false)
            let g: (Value) throws -> Value = a.get("attribute").flatMap { $0.isNone ? nil : attrGetter(interp, $0) } ?? { $0 }
            let items = try interp.iterate(v)
            guard var best = items.first else { return .undefined(Undefined(name: nil, hint: "No aggregated item, sequence was empty.")) }
            for it in items.dropFirst() {
                let x = sortKey(try g(it), caseSensitive: cs), b = sortKey(try g(best), caseSensitive: cs)
                if name == "min" ? try Ops.less(x, b) : try Ops.less(b, x) { best = it }
            }
            return best
        case "sum":
            let a = try Args(name, args, kw, ["attribute", "start"])
            var total = a.get("start") ?? .int(0)
            let g: (Value) throws -> Value = a.get("attribute").flatMap { $0.isNone ? nil : attrGetter(interp, $0) } ?? { $0 }
            for it in try interp.iterate(v) { total = try Ops.binary(.add, total, try g(it), interp) }
            return total
        case "abs":
            switch v {
            case .int(let i): if i == Int.min { throw TemplateError(.limit, "integer overflow") }; return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .float(let f): return .float(abs(f))
            default: try undefinedCheck(v); throw TemplateError.runtime("bad operand type for abs(): '\(v.typeName)'")
            }
        case "int":
            let a = try Args(name, args, kw, ["default", "base"])
            let def = a.get("default") ?? .int(0)
            switch v {
            case .int: return v
            case .bool(let b): return .int(b ? 1 : 0)
            case .float(let f): return f.isFinite && abs(f) < 9.2e18 ? .int(Int(f)) : def
            case .string(let s):
                let t = PyString.strip(s, nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
                if let i = Int(t, radix: try a.int("base") ?? 10) { return .int(i) }
                if let f = Double(t), f.isFinite, abs(f) < 9.2e18 { return .int(Int(f)) }
                return def
            default: return def
            }
        case "float":
            let a = try Args(name, args, kw, ["default"])
            let def = a.get("default") ?? .float(0)
            switch v {
            case .float: return v
            case .int(let i): return .float(Double(i))
            case .bool(let b): return .float(b ? 1 : 0)
            case .string(let s):
                let t = PyString.strip(s, nil, left: true, right: true).lowercased()
                if ["inf", "+inf", "infinity"].contains(t) { return .float(.infinity) }
                if ["-inf", "-infinity"].contains(t) { return .float(-.infinity) }
                if t == "nan" { return .float(.nan) }
                return Double(t).map { .float($0) } ?? def
            default: return def
            }
        case "round":
            let a = try Args(name, args, kw, ["precision", "method"])
            let p = try a.int("precision") ?? 0
            let method = try a.string("method") ?? "common"
            guard let n = numeric(v) else { try undefinedCheck(v); throw TemplateError.runtime("round needs a number") }
            let scale = pow(10.0, Double(p))
            let x = n.double * scale
            let r: Double
            switch method {
            case "common": r = x.rounded(.toNearestOrEven)
            case "ceil": r = x.rounded(.up)
            case "floor": r = x.rounded(.down)
            default: throw TemplateError.runtime("method must be 'common', 'ceil' or 'floor'")
            }
            return .float(r / scale)
        case "indent":
            let a = try Args(name, args, kw, ["width", "first", "blank"])
            var ind = "    "
            switch a.get("width") ?? .int(4) {
            case .string(let s): ind = s
            case .int(let n): try interp.checkSize(n, "indent width"); ind = String(repeating: " ", count: max(0, n))
            default: break
            }
            let s = PyFormat.str(v) + "\n"
            let lines = PyString.splitlines(s, keepends: false)
            var rv: String
            if a.bool("blank", false) { rv = lines.joined(separator: "\n" + ind) }
            else {
                rv = lines.first ?? ""
                if lines.count > 1 { rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : ind + $0 }.joined(separator: "\n") }
            }
            if a.bool("first", false) { rv = ind + rv }
            return .string(rv)
        case "center":
            let a = try Args(name, args, kw, ["width"])
            return .string(try PyString.pad(PyFormat.str(v), width: try a.int("width") ?? 80, fill: " ", align: "^", limit: limit))
        case "e", "escape", "forceescape":
            var r = ""
            for c in PyFormat.str(v).unicodeScalars {
                switch c {
                case "&": r += "&amp;"
                case "<": r += "&lt;"
                case ">": r += "&gt;"
                case "\"": r += "&#34;"
                case "'": r += "&#39;"
                default: r.unicodeScalars.append(c)
                }
            }
            return .string(r)
        case "striptags":
            var r = "", inTag = false
            for c in PyFormat.str(v).unicodeScalars {
                if c == "<" { inTag = true } else if c == ">" && inTag { inTag = false } else if !inTag { r.unicodeScalars.append(c) }
            }
            return .string(PyString.splitWhitespace(r, maxsplit: -1).joined(separator: " "))
        case "wordcount":
            var count = 0, inWord = false
            for c in PyFormat.str(v).unicodeScalars {
                let w = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if w && !inWord { count += 1 }
                inWord = w
            }
            return .int(count)
        case "truncate":
            let a = try Args(name, args, kw, ["length", "killwords", "end", "leeway"])
            let s = PyFormat.str(v)
            let length = try a.int("length") ?? 255, leeway = try a.int("leeway") ?? 5
            let end = try a.string("end") ?? "..."
            let u = Array(s.unicodeScalars)
            if u.count <= length &+ max(0, leeway) || length > limit { return .string(s) }
            let keep = max(0, length - end.unicodeScalars.count)
            var head = String(String.UnicodeScalarView(u[0..<min(keep, u.count)]))
            if !a.bool("killwords", false) {
                if let r = head.unicodeScalars.lastIndex(of: " ") { head = String(head.unicodeScalars[..<r]) }
            }
            return .string(head + end)
        case "batch":
            let a = try Args(name, args, kw, ["linecount", "fill_with"])
            let n = try a.int("linecount") ?? 1
            guard n > 0 else { throw TemplateError.runtime("batch size must be positive") }
            try interp.checkSize(n, "batch size")
            var out: [Value] = [], cur: [Value] = []
            for it in try interp.iterate(v) { cur.append(it); if cur.count == n { out.append(.list(cur)); cur = [] } }
            if !cur.isEmpty {
                if let f = a.get("fill_with"), !f.isNone { while cur.count < n { cur.append(f) } }
                out.append(.list(cur))
            }
            return .list(out)
        case "slice":
            let a = try Args(name, args, kw, ["slices", "fill_with"])
            let n = try a.int("slices") ?? 1
            guard n > 0 else { throw TemplateError.runtime("slices must be positive") }
            try interp.checkSize(n, "slice count")
            let seq = try interp.iterate(v)
            let per = seq.count / n, extra = seq.count % n
            var out: [Value] = [], offset = 0
            for i in 0..<n {
                let start = offset + i * per
                if i < extra { offset += 1 }
                let end = offset + (i + 1) * per
                var part = Array(seq[min(start, seq.count)..<min(end, seq.count)])
                if let f = a.get("fill_with"), !f.isNone, i >= extra { part.append(f) }
                out.append(.list(part))
            }
            return .list(out)
        case "format":
            let s = PyFormat.str(v)
            if !kw.isEmpty { var d = PyDict(); for (k, x) in kw { d[k] = x }; return .string(try PercentFormat.format(s, .dict(d))) }
            return .string(try PercentFormat.format(s, .tuple(args)))
        case "attr":
            guard case .string(let n) = args.first ?? Value.none else { throw TemplateError.runtime("attr needs a name") }
            if case .object(let o) = v { return o.getAttr(n) ?? .missing }
            return Methods.bound(v, n) ?? interp.undefinedAttr(v, n)
        case "pprint": return .string(PyFormat.repr(v))
        case "urlencode":
            let s = PyFormat.str(v)
            var r = ""
            for b in s.utf8 {
                let c = Character(Unicode.Scalar(b))
                if c.isASCII && (c.isLetter || c.isNumber || "_.-~/".contains(c)) { r.append(c) } else { r += String(format: "%%%02X", b) }
            }
            return .string(r)
        default:
            throw TemplateError.runtime("No filter named '\(name)'.")
        }
    }
}
