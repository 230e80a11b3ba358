/// Argument binding for builtins: positional or keyword, by parameter name.
struct Args {
    let fn: String
    let pos: [Value]
    let kw: [(String, Value)]
    let names: [String]
    init(_ fn: String, _ pos: [Value], _ kw: [(String, Value)], _ names: [String]) throws {
        self.fn = fn; self.pos = pos; self.kw = kw; self.names = names
        if pos.count > names.count { throw TemplateError.runtime("\(fn)() takes at most \(names.count) argument(s) (\(pos.count) given)") }
        for (k, _) in kw where !names.contains(k) { throw TemplateError.runtime("\(fn)() got an unexpected keyword argument '\(k)'") }
    }
    func get(_ name: String) -> Value? {
        if let i = names.firstIndex(of: name), i < pos.count { return pos[i] }
        return kw.first { $0.0 == name }?.1
    }
    func string(_ name: String) throws -> String? {
        guard let v = get(name) else { return nil }
        switch v {
        case .string(let s): return s
        case .none: return nil
        default: throw TemplateError.runtime("\(fn)(): argument '\(name)' must be str, not \(v.typeName)")
        }
    }
    func int(_ name: String) throws -> Int? {
        guard let v = get(name) else { return nil }
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .none: return nil
        default: throw TemplateError.runtime("\(fn)(): argument '\(name)' must be an integer, not \(v.typeName)")
        }
    }
    func bool(_ name: String, _ def: Bool) -> Bool { get(name)?.truthy ?? def }
}

/// Python methods on str, dict and list that templates call (`.strip()`, `.items()`, `.get()`...).
enum Methods {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "title",
        "upper", "lower", "capitalize", "swapcase", "casefold", "find", "rfind", "index", "rindex", "count", "join",
        "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric", "isdecimal", "istitle",
        "center", "ljust", "rjust", "zfill", "partition", "rpartition", "format", "removeprefix", "removesuffix", "expandtabs",
    ]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy"]
    static let listMethods: Set<String> = ["index", "count", "copy"]
    static let unsafeList: Set<String> = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"]
    static let unsafeDict: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]

    static func unsafe(_ obj: Value, _ name: String) -> Bool {
        switch obj {
        case .list: return unsafeList.contains(name)
        case .dict: return unsafeDict.contains(name)
        default: return false
        }
    }

    static func has(_ obj: Value, _ name: String) -> Bool {
        switch obj {
        case .string, .markup: return stringMethods.contains(name)
        case .dict: return dictMethods.contains(name)
        case .list, .tuple: return listMethods.contains(name) && !(name == "copy" && { if case .tuple = obj { return true }; return false }())
        default: return false
        }
    }

    /// `obj.name` without a call: a bound method value, or nil if `obj` has no such method.
    static func bound(_ obj: Value, _ name: String) -> Value? {
        if unsafe(obj, name) {
            return .undefined(Undefined(name: name, hint: "access to attribute '\(name)' of '\(obj.typeName)' object is unsafe."))
        }
        guard has(obj, name) else { return nil }
        return .callable(Callable(name: name) { args, kwargs, interp in
            try call(obj, name, args, kwargs, interp) ?? Value.none
        })
    }

    /// Call `obj.name(args)`; nil if `obj` has no such method (the caller falls back to attributes).
    static func call(_ obj: Value, _ name: String, _ pos: [Value], _ kw: [(String, Value)], _ interp: Interpreter) throws -> Value? {
        if unsafe(obj, name) {
            throw TemplateError(.security, "access to attribute '\(name)' of '\(obj.typeName)' object is unsafe.")
        }
        switch obj {
        case .string(let s): return try stringMethod(s, name, pos.map { $0.asPlain }, kw.map { ($0.0, $0.1.asPlain) }, interp)
        case .markup(let s):
            // Markup's methods return Markup.
            let r = try stringMethod(s, name, pos.map { $0.asPlain }, kw.map { ($0.0, $0.1.asPlain) }, interp)
            switch r {
            case .string(let x)?: return .markup(x)
            case .list(let xs)?: return .list(xs.map { if case .string(let x) = $0 { return .markup(x) }; return $0 })
            case .tuple(let xs)?: return .tuple(xs.map { if case .string(let x) = $0 { return .markup(x) }; return $0 })
            default: return r
            }
        case .dict(let d):
            switch name {
            case "items":
                _ = try Args(name, pos, kw, [])
                return .object(SeqObject(.dictView("dict_items"), zip(d.keys, d.values).map { .tuple([$0, $1]) }))
            case "keys": _ = try Args(name, pos, kw, []); return .object(SeqObject(.dictView("dict_keys"), d.keys))
            case "values": _ = try Args(name, pos, kw, []); return .object(SeqObject(.dictView("dict_values"), d.values))
            case "copy": return obj
            case "get":
                let a = try Args(name, pos, kw, ["key", "default"])
                guard let k = a.get("key") else { throw TemplateError.runtime("get expected at least 1 argument, got 0") }
                return d[k] ?? (a.get("default") ?? Value.none)
            default: return nil
            }
        case .list(let l), .tuple(let l):
            switch name {
            case "count":
                let a = try Args(name, pos, kw, ["x"])
                return .int(l.filter { pyEquals($0, a.get("x") ?? Value.none) }.count)
            case "index":
                let a = try Args(name, pos, kw, ["x"])
                guard let i = l.firstIndex(where: { pyEquals($0, a.get("x") ?? Value.none) }) else { throw TemplateError.runtime("\(PyFormat.repr(a.get("x") ?? Value.none)) is not in list") }
                return .int(i)
            case "copy": if case .list = obj { return obj }; return nil
            default: return nil
            }
        default: return nil
        }
    }

    static func stringMethod(_ s: String, _ name: String, _ pos: [Value], _ kw: [(String, Value)], _ interp: Interpreter) throws -> Value? {
        let limit = interp.limits.maxCollectionSize
        func strList(_ a: [String]) -> Value { .list(a.map { .string($0) }) }
        switch name {
        case "strip", "lstrip", "rstrip":
            let a = try Args(name, pos, kw, ["chars"])
            return .string(PyString.strip(s, try a.string("chars"), left: name != "rstrip", right: name != "lstrip"))
        case "split", "rsplit":
            let a = try Args(name, pos, kw, ["sep", "maxsplit"])
            let sep = try a.string("sep"), m = try a.int("maxsplit") ?? -1
            return strList(name == "split" ? try PyString.split(s, sep: sep, maxsplit: m) : try PyString.rsplit(s, sep: sep, maxsplit: m))
        case "splitlines":
            let a = try Args(name, pos, kw, ["keepends"])
            return strList(PyString.splitlines(s, keepends: a.bool("keepends", false)))
        case "startswith", "endswith":
            let a = try Args(name, pos, kw, ["prefix", "start", "end"])
            var u = Array(s.unicodeScalars)
            if a.get("start") != nil || a.get("end") != nil {
                let n = u.count
                func norm(_ x: Int?, _ d: Int) -> Int { guard var v = x else { return d }; if v < 0 { v = max(0, v + n) }; return min(v, n) }
                let st = norm(try a.int("start"), 0), en = norm(try a.int("end"), n)
                u = st <= en ? Array(u[st..<en]) : []
                if st > n { return .bool(false) }
            }
            let target = Array(String(String.UnicodeScalarView(u)).utf8)
            var cands: [String] = []
            switch a.get("prefix") ?? Value.none {
            case .string(let p): cands = [p]
            case .tuple(let t):
                for x in t { guard case .string(let p) = x else { throw TemplateError.runtime("tuple for \(name) must only contain str, not \(x.typeName)") }; cands.append(p) }
            case let v: throw TemplateError.runtime("\(name) first arg must be str or a tuple of str, not \(v.typeName)")
            }
            for c in cands {
                let cb = Array(c.utf8)
                if cb.count <= target.count {
                    if name == "startswith" ? target[0..<cb.count].elementsEqual(cb) : target[(target.count - cb.count)...].elementsEqual(cb) { return .bool(true) }
                }
            }
            return .bool(false)
        case "replace":
            let a = try Args(name, pos, kw, ["old", "new", "count"])
            guard let o = try a.string("old"), let n = try a.string("new") else { throw TemplateError.runtime("replace() takes at least 2 arguments") }
            return .string(try PyString.replace(s, o, n, count: try a.int("count") ?? -1, limit: limit))
        case "title": return .string(PyString.title(s))
        case "upper": return .string(PyString.upper(s))
        case "lower", "casefold": return .string(PyString.lower(s))
        case "capitalize": return .string(PyString.capitalize(s))
        case "swapcase": return .string(PyString.swapcase(s))
        case "find", "rfind", "index", "rindex", "count":
            let a = try Args(name, pos, kw, ["sub", "start", "end"])
            guard let sub = try a.string("sub") else { throw TemplateError.runtime("\(name)() takes at least 1 argument") }
            let u = Array(s.unicodeScalars)
            let n = u.count
            func norm(_ x: Int?, _ d: Int) -> Int { guard var v = x else { return d }; if v < 0 { v = max(0, v + n) }; return min(v, n) }
            let st = norm(try a.int("start"), 0), en = norm(try a.int("end"), n)
            let hayU = st <= en ? Array(u[st..<en]) : []
            let hay = Array(String(String.UnicodeScalarView(hayU)).utf8), nd = Array(sub.utf8)
            func scalarOffset(_ byte: Int) -> Int { String(decoding: hay[0..<byte], as: UTF8.self).unicodeScalars.count }
            if name == "count" {
                if nd.isEmpty { return .int(hayU.count + 1) }
                var c = 0, from = 0
                while let i = PyString.find(hay, nd, from: from) { c += 1; from = i + nd.count }
                return .int(c)
            }
            let r = (name == "find" || name == "index") ? PyString.find(hay, nd, from: 0) : PyString.rfind(hay, nd)
            if let r = r { return .int(st + scalarOffset(r)) }
            if name == "index" || name == "rindex" { throw TemplateError.runtime("substring not found") }
            return .int(-1)
        case "join":
            let a = try Args(name, pos, kw, ["iterable"])
            let items = try interp.iterate(a.get("iterable") ?? .missing)
            var parts: [String] = []
            for it in items {
                guard case .string(let p) = it else { throw TemplateError.runtime("sequence item \(parts.count): expected str instance, \(it.typeName) found") }
                parts.append(p)
            }
            let r = parts.joined(separator: s)
            try interp.checkSize(r.utf8.count, "string")
            return .string(r)
        case "isdigit", "isnumeric", "isdecimal":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil && (name != "isdecimal" || $0.properties.numericType == .decimal) })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPyWhitespace))
        case "isupper", "islower":
            let cased = s.unicodeScalars.filter { $0.properties.isCased }
            if cased.isEmpty { return .bool(false) }
            return .bool(name == "isupper" ? !s.unicodeScalars.contains { $0.properties.isLowercase } : !s.unicodeScalars.contains { $0.properties.isUppercase })
        case "istitle": return .bool(!s.isEmpty && PyString.title(s).utf8.elementsEqual(s.utf8) && s.unicodeScalars.contains { $0.properties.isCased })
        case "center", "ljust", "rjust":
            let a = try Args(name, pos, kw, ["width", "fillchar"])
            let w = try a.int("width") ?? 0
            return .string(try PyString.pad(s, width: w, fill: try a.string("fillchar") ?? " ", align: name == "center" ? "^" : name == "ljust" ? "<" : ">", limit: limit))
        case "zfill":
            let a = try Args(name, pos, kw, ["width"])
            let w = try a.int("width") ?? 0
            var u = Array(s.unicodeScalars)
            guard w > u.count else { return .string(s) }
            if w > limit { throw TemplateError(.limit, "zfill width too large") }
            let signed = u.first == "+" || u.first == "-"
            let zeros = Array(repeating: Unicode.Scalar("0"), count: w - u.count)
            u.insert(contentsOf: zeros, at: signed ? 1 : 0)
            return .string(String(String.UnicodeScalarView(u)))
        case "partition", "rpartition":
            let a = try Args(name, pos, kw, ["sep"])
            guard let sep = try a.string("sep"), !sep.isEmpty else { throw TemplateError.runtime("empty separator") }
            let h = Array(s.utf8), n = Array(sep.utf8)
            let i = name == "partition" ? PyString.find(h, n, from: 0) : PyString.rfind(h, n)
            guard let i = i else { return name == "partition" ? .tuple([.string(s), .string(""), .string("")]) : .tuple([.string(""), .string(""), .string(s)]) }
            return .tuple([.string(PyString.str(h[0..<i])), .string(sep), .string(PyString.str(h[(i + n.count)...]))])
        case "removeprefix", "removesuffix":
            let a = try Args(name, pos, kw, ["fix"])
            guard let f = try a.string("fix") else { return .string(s) }
            let h = Array(s.utf8), fb = Array(f.utf8)
            if fb.count <= h.count {
                if name == "removeprefix", h[0..<fb.count].elementsEqual(fb) { return .string(PyString.str(h[fb.count...])) }
                if name == "removesuffix", !fb.isEmpty, h[(h.count - fb.count)...].elementsEqual(fb) { return .string(PyString.str(h[0..<(h.count - fb.count)])) }
            }
            return .string(s)
        case "expandtabs":
            let a = try Args(name, pos, kw, ["tabsize"])
            let t = max(0, try a.int("tabsize") ?? 8)
            if t > 1 << 16 { throw TemplateError(.limit, "tabsize \(t) too large") }
            var r = "", col = 0
            for c in s.unicodeScalars {
                if c == "\t" { if t > 0 { let n = t - col % t; r += String(repeating: " ", count: n); col += n } }
                else { r.unicodeScalars.append(c); col = (c == "\n" || c == "\r") ? 0 : col + 1 }
            }
            return .string(r)
        case "format":
            return .string(try StrFormat.format(s, pos, kw))
        default: return nil
        }
    }
}

/// Python `str.format` for the simple `{}` / `{0}` / `{name}` fields templates use.
enum StrFormat {
    static func format(_ s: String, _ pos: [Value], _ kw: [(String, Value)]) throws -> String {
        var out = ""
        let u = Array(s.unicodeScalars)
        var i = 0, auto = 0
        while i < u.count {
            let c = u[i]
            if c == "{" {
                if i + 1 < u.count && u[i + 1] == "{" { out += "{"; i += 2; continue }
                var j = i + 1
                while j < u.count && u[j] != "}" { j += 1 }
                guard j < u.count else { throw TemplateError.runtime("Single '{' encountered in format string") }
                let field = String(String.UnicodeScalarView(u[(i + 1)..<j]))
                if field.contains(":") || field.contains("!") { throw TemplateError.runtime("format specs in str.format are not supported") }
                let v: Value
                if field.isEmpty {
                    guard auto < pos.count else { throw TemplateError.runtime("Replacement index \(auto) out of range for positional args tuple") }
                    v = pos[auto]; auto += 1
                } else if let n = Int(field) {
                    guard n < pos.count else { throw TemplateError.runtime("Replacement index \(n) out of range for positional args tuple") }
                    v = pos[n]
                } else {
                    guard let x = kw.first(where: { $0.0 == field })?.1 else { throw TemplateError.runtime("KeyError: '\(field)'") }
                    v = x
                }
                out += PyFormat.str(v)
                i = j + 1
            } else if c == "}" {
                if i + 1 < u.count && u[i + 1] == "}" { out += "}"; i += 2; continue }
                throw TemplateError.runtime("Single '}' encountered in format string")
            } else { out.unicodeScalars.append(c); i += 1 }
        }
        return out
    }
}
