/// Globals of transformers' chat-template environment: jinja's defaults plus HF's additions.
enum Builtins {
    static func intIndex(_ v: Value) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    final class Cycler: PyObject {
        let items: [Value]
        var pos = 0
        init(_ items: [Value]) { self.items = items }
        var typeName: String { "Cycler" }
        var pyStr: String { "<Cycler>" }
        func getAttr(_ name: String) -> Value? {
            switch name {
            case "current": return items.isEmpty ? .none : items[pos]
            case "next":
                return .callable(Callable(name: "next") { [self] _, _, _ in
                    guard !self.items.isEmpty else { return .none }
                    let v = self.items[self.pos]; self.pos = (self.pos + 1) % self.items.count; return v
                })
            case "reset": return .callable(Callable(name: "reset") { [self] _, _, _ in self.pos = 0; return .none })
            default: return nil
            }
        }
    }

    /// Shared by all renders: nothing here holds per-render state (`strftime_now` reads the render's clock).
    static let globals: [String: Value] = makeGlobals()

    static func makeGlobals() -> [String: Value] {
        var g: [String: Value] = [:]
        g["raise_exception"] = .callable(Callable(name: "raise_exception") { args, kw, _ in
            let a = try Args("raise_exception", args, kw, ["message"])
            throw TemplateError(.raised, PyFormat.str(a.get("message") ?? Value.none))
        })
        g["strftime_now"] = .callable(Callable(name: "strftime_now") { args, kw, interp in
            let a = try Args("strftime_now", args, kw, ["format"])
            guard let f = try a.string("format") else { throw TemplateError.runtime("strftime_now() needs a format string") }
            return .string(interp.now.strftime(f))
        })
        g["range"] = .callable(Callable(name: "range") { args, kw, interp in
            guard kw.isEmpty else { throw TemplateError.runtime("range() takes no keyword arguments") }
            let ints = try args.map { v -> Int in
                guard let i = intIndex(v) else { throw TemplateError.runtime("'\(v.typeName)' object cannot be interpreted as an integer") }
                return i
            }
            var start = 0, stop = 0, step = 1
            switch ints.count {
            case 1: stop = ints[0]
            case 2: start = ints[0]; stop = ints[1]
            case 3: start = ints[0]; stop = ints[1]; step = ints[2]
            default: throw TemplateError.runtime("range expected 1 to 3 arguments, got \(ints.count)")
            }
            if step == 0 { throw TemplateError.runtime("range() arg 3 must not be zero") }
            // Count with overflow-safe arithmetic: range(-2**63 + 1, 2**63 - 1) must be an error, not a trap.
            let span = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
            if span.overflow { throw TemplateError(.limit, "range() larger than \(interp.limits.maxCollectionSize) elements") }
            let stepMag = step == Int.min ? Int.max : abs(step)
            let count = span.partialValue > 0 ? (span.partialValue - 1) / stepMag + 1 : 0
            try interp.checkSize(count, "range()")
            return .object(SeqObject(.range(start, stop, step), (0..<count).map { .int(start + $0 * step) }))
        })
        g["dict"] = .callable(Callable(name: "dict") { args, kw, interp in
            var d = PyDict()
            if args.count > 1 { throw TemplateError.runtime("dict expected at most 1 argument, got \(args.count)") }
            if let a = args.first {
                if case .dict(let src) = a { d = src }
                else {
                    for item in try interp.iterate(a) {
                        let kv = try interp.iterate(item)
                        guard kv.count == 2 else { throw TemplateError.runtime("dictionary update sequence element has length \(kv.count); 2 is required") }
                        guard PyDict.isHashable(kv[0]) else { throw TemplateError.runtime("unhashable type: '\(kv[0].typeName)'") }
                        d[kv[0]] = kv[1]
                    }
                }
            }
            for (k, v) in kw { d[k] = v }
            return .dict(d)
        })
        g["namespace"] = .callable(Callable(name: "namespace") { args, kw, _ in
            let ns = Namespace()
            if args.count > 1 { throw TemplateError.runtime("namespace expected at most 1 argument") }
            if let a = args.first {
                guard case .dict(let d) = a else { throw TemplateError.runtime("namespace() argument must be a mapping") }
                for (k, v) in zip(d.keys, d.values) {
                    if case .string(let s) = k, s.hasPrefix("_") {
                        throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(s)'. Please rename the attribute.")
                    }
                    ns.attrs[k] = v
                }
            }
            for (k, v) in kw {
                if k.hasPrefix("_") {
                    throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(k)'. Please rename the attribute.")
                }
                ns.attrs[k] = v
            }
            return .object(ns)
        })
        g["cycler"] = .callable(Callable(name: "cycler") { args, _, _ in .object(Cycler(args)) })
        g["joiner"] = .callable(Callable(name: "joiner") { args, kw, _ in
            let a = try Args("joiner", args, kw, ["sep"])
            let sep = try a.string("sep") ?? ", "
            var used = false
            return .callable(Callable(name: "joiner") { _, _, _ in
                if !used { used = true; return .string("") }
                return .string(sep)
            })
        })
        return g
    }
}
