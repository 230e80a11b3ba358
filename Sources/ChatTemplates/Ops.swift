import Foundation

/// Python arithmetic and comparison on template values.
enum Ops {
    static func typeError(_ op: String, _ a: Value, _ b: Value) -> TemplateError {
        .runtime("unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
    }

    static func checkUndefined(_ a: Value, _ b: Value) throws {
        if case .undefined(let u) = a { throw TemplateError(.undefined, u.message) }
        if case .undefined(let u) = b { throw TemplateError(.undefined, u.message) }
    }

    static func intResult(_ r: (partialValue: Int, overflow: Bool)) throws -> Value {
        if r.overflow { throw TemplateError(.limit, "integer overflow (values beyond 64 bits are not supported)") }
        return .int(r.partialValue)
    }

    static func binary(_ op: Expr.BinOp, _ a: Value, _ b: Value, _ interp: Interpreter) throws -> Value {
        if op == .concat {
            let s = PyFormat.str(a) + PyFormat.str(b)
            try interp.checkSize(s.utf8.count, "string")
            return .string(s)
        }
        try checkUndefined(a, b)
        if a.isMarkup || b.isMarkup { return try markupBinary(op, a, b, interp) }
        switch op {
        case .add:
            switch (a, b) {
            case (.string(let x), .string(let y)):
                try interp.checkSize(x.utf8.count + y.utf8.count, "string")
                return .string(x + y)
            case (.list(let x), .list(let y)): try interp.checkSize(x.count + y.count, "list"); return .list(x + y)
            case (.tuple(let x), .tuple(let y)): try interp.checkSize(x.count + y.count, "tuple"); return .tuple(x + y)
            default: return try arith(op, a, b)
            }
        case .mul:
            func repeatCount(_ v: Value) -> Int? { if case .int(let n) = v { return n }; if case .bool(let t) = v { return t ? 1 : 0 }; return nil }
            switch (a, b) {
            case (.string(let s), _) where repeatCount(b) != nil, (_, .string(let s)) where repeatCount(a) != nil:
                let n = max(0, repeatCount(b) ?? repeatCount(a)!)
                let (total, o) = s.utf8.count.multipliedReportingOverflow(by: n)
                if o { throw TemplateError(.limit, "string repetition too large") }
                try interp.checkSize(total, "string")
                return .string(String(repeating: s, count: n))
            case (.list(let l), _) where repeatCount(b) != nil, (_, .list(let l)) where repeatCount(a) != nil:
                let n = max(0, repeatCount(b) ?? repeatCount(a)!)
                let (total, o) = l.count.multipliedReportingOverflow(by: n)
                if o { throw TemplateError(.limit, "list repetition too large") }
                try interp.checkSize(total, "list")
                var out: [Value] = []; out.reserveCapacity(total)
                for _ in 0..<n { out += l }
                return .list(out)
            default: return try arith(op, a, b)
            }
        case .mod:
            if case .string(let fmt) = a { return .string(try PercentFormat.format(fmt, b)) }
            return try arith(op, a, b)
        default:
            return try arith(op, a, b)
        }
    }

    /// jinja's Markup operators: the plain operand is HTML-escaped, the result is Markup.
    static func markupBinary(_ op: Expr.BinOp, _ a: Value, _ b: Value, _ interp: Interpreter) throws -> Value {
        func esc(_ v: Value) -> String { v.isMarkup ? PyFormat.str(v) : Filters.htmlEscape(PyFormat.str(v)) }
        switch op {
        case .add:
            guard a.stringValue != nil, b.stringValue != nil else { throw typeError("+", a, b) }
            let s = esc(a) + esc(b)
            try interp.checkSize(s.utf8.count, "string")
            return .markup(s)
        case .mul:
            let r = try binary(.mul, a.asPlain, b.asPlain, interp)
            if case .string(let s) = r { return .markup(s) }
            return r
        case .mod:
            guard case .markup(let fmt) = a else { return try binary(.mod, a.asPlain, b, interp) }
            let escArg: (Value) -> Value = { v in
                switch v { case .string(let s): return .string(Filters.htmlEscape(s)); default: return v }
            }
            let arg: Value
            switch b {
            case .tuple(let t): arg = .tuple(t.map(escArg))
            default: arg = escArg(b)
            }
            return .markup(try PercentFormat.format(fmt, arg))
        default:
            return try binary(op, a.asPlain, b.asPlain, interp)
        }
    }

    static func arith(_ op: Expr.BinOp, _ a: Value, _ b: Value) throws -> Value {
        guard let x = numeric(a), let y = numeric(b) else { throw typeError(op.rawValue, a, b) }
        if case .i(let p) = x, case .i(let q) = y {
            switch op {
            case .add: return try intResult(p.addingReportingOverflow(q))
            case .sub: return try intResult(p.subtractingReportingOverflow(q))
            case .mul: return try intResult(p.multipliedReportingOverflow(by: q))
            case .div:
                if q == 0 { throw TemplateError.runtime("division by zero") }
                return .float(Double(p) / Double(q))
            case .floordiv:
                if q == 0 { throw TemplateError.runtime("integer division or modulo by zero") }
                if p == Int.min && q == -1 { throw TemplateError(.limit, "integer overflow") }
                var d = p / q
                if (p % q != 0) && ((p < 0) != (q < 0)) { d -= 1 }
                return .int(d)
            case .mod:
                if q == 0 { throw TemplateError.runtime("integer division or modulo by zero") }
                if q == -1 { return .int(0) }
                var m = p % q
                if m != 0 && ((m < 0) != (q < 0)) { m += q }
                return .int(m)
            case .pow:
                if q < 0 { return .float(pow(Double(p), Double(q))) }
                var result = 1, base = p, e = q
                while e > 0 {
                    if e & 1 == 1 { let r = result.multipliedReportingOverflow(by: base); if r.overflow { throw TemplateError(.limit, "integer overflow in **") }; result = r.partialValue }
                    e >>= 1
                    if e > 0 { let r = base.multipliedReportingOverflow(by: base); if r.overflow { throw TemplateError(.limit, "integer overflow in **") }; base = r.partialValue }
                }
                return .int(result)
            case .concat: break
            }
        }
        let p = x.double, q = y.double
        switch op {
        case .add: return .float(p + q)
        case .sub: return .float(p - q)
        case .mul: return .float(p * q)
        case .div:
            if q == 0 { throw TemplateError.runtime("float division by zero") }
            return .float(p / q)
        case .floordiv:
            if q == 0 { throw TemplateError.runtime("float floor division by zero") }
            return .float((p / q).rounded(.down))
        case .mod:
            if q == 0 { throw TemplateError.runtime("float modulo") }
            var m = p.truncatingRemainder(dividingBy: q)
            if m != 0 && ((m < 0) != (q < 0)) { m += q }
            return .float(m)
        case .pow: return .float(pow(p, q))
        case .concat: return .none
        }
    }

    /// Python ordering (`<`): numbers, strings by code point, lists/tuples element-wise.
    static func less(_ a: Value, _ b: Value, _ op: String = "<") throws -> Bool {
        try checkUndefined(a, b)
        if a.isMarkup || b.isMarkup { return try less(a.asPlain, b.asPlain, op) }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !pyEquals(p, q) { return try less(p, q, op) }
            return x.count < y.count
        default:
            guard let x = numeric(a), let y = numeric(b) else {
                throw TemplateError.runtime("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
            if case .i(let p) = x, case .i(let q) = y { return p < q }
            return x.double < y.double
        }
    }

    static func contains(_ container: Value, _ itemIn: Value) throws -> Bool {
        let item = itemIn.asPlain
        switch container.asPlain {
        case .string(let s):
            guard case .string(let sub) = item else {
                if case .undefined(let u) = item { throw TemplateError(.undefined, u.message) }
                throw TemplateError.runtime("'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return PyString.find(Array(s.utf8), Array(sub.utf8), from: 0) != nil
        case .list(let a), .tuple(let a): return a.contains { pyEquals($0, item) }
        case .dict(let d): return d[item] != nil
        case .undefined: return false
        case .object(let o as SeqObject): return o.items.contains { pyEquals($0, item) }
        case .object(let o):
            if let ns = o as? Namespace, case .string(let k) = item { return ns.attrs[k] != nil }
            throw TemplateError.runtime("argument of type '\(container.typeName)' is not iterable")
        default: throw TemplateError.runtime("argument of type '\(container.typeName)' is not iterable")
        }
    }

    static func compare(_ op: Expr.CmpOp, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case .eq: return pyEquals(a, b)
        case .ne: return !pyEquals(a, b)
        case .lt: return try less(a, b, "<")
        case .gt: return try less(b, a, ">")
        case .le: return try !less(b, a, "<=")
        case .ge: return try !less(a, b, ">=")
        case .in: return try contains(b, a)
        case .notin: return try !contains(b, a)
        }
    }
}

/// Python's `%` string formatting, for the conversions templates use.
enum PercentFormat {
    static func format(_ fmt: String, _ arg: Value) throws -> String {
        var args: [Value]
        var mapping: PyDict? = nil
        switch arg {
        case .tuple(let a): args = a
        case .dict(let d): args = [arg]; mapping = d
        default: args = [arg]
        }
        var out = ""
        var idx = 0
        let u = Array(fmt.unicodeScalars)
        var i = 0
        while i < u.count {
            let c = u[i]
            if c != "%" { out.unicodeScalars.append(c); i += 1; continue }
            i += 1
            guard i < u.count else { throw TemplateError.runtime("incomplete format") }
            var key: String? = nil
            if u[i] == "(" {
                var j = i + 1
                while j < u.count && u[j] != ")" { j += 1 }
                key = String(String.UnicodeScalarView(u[(i + 1)..<min(j, u.count)]))
                i = j + 1
            }
            var flags = ""
            while i < u.count, "-+ #0".unicodeScalars.contains(u[i]) { flags.unicodeScalars.append(u[i]); i += 1 }
            var width = ""
            while i < u.count, u[i].properties.numericType != nil, u[i].value < 128 { width.unicodeScalars.append(u[i]); i += 1 }
            var precision: Int? = nil
            if i < u.count, u[i] == "." {
                i += 1
                var p = ""
                while i < u.count, u[i].value >= 48, u[i].value <= 57 { p.unicodeScalars.append(u[i]); i += 1 }
                precision = min(Int(p) ?? 0, 1000)
            }
            guard i < u.count else { throw TemplateError.runtime("incomplete format") }
            let conv = u[i]; i += 1
            if conv == "%" { out += "%"; continue }
            let v: Value
            if let k = key {
                guard let m = mapping, let x = m[k] else { throw TemplateError.runtime("format requires a mapping with key '\(k)'") }
                v = x
            } else {
                guard idx < args.count else { throw TemplateError.runtime("not enough arguments for format string") }
                v = args[idx]; idx += 1
            }
            var s: String
            switch conv {
            case "s": s = PyFormat.str(v)
            case "r": s = PyFormat.repr(v)
            case "d", "i":
                guard let n = numeric(v) else { throw TemplateError.runtime("%d format: a real number is required, not \(v.typeName)") }
                switch n { case .i(let x): s = String(x); case .f(let x):
                    guard x.isFinite, abs(x) < 9.2e18 else { throw TemplateError.runtime("%d format: number out of range") }
                    s = String(Int(x.rounded(.towardZero)))
                }
                if flags.contains("+") && !s.hasPrefix("-") { s = "+" + s }
            case "f", "F", "e", "g":
                guard let n = numeric(v) else { throw TemplateError.runtime("%f format: a real number is required, not \(v.typeName)") }
                s = String(format: "%.\(precision ?? 6)\(Character(conv))", n.double)
                if flags.contains("+") && !s.hasPrefix("-") { s = "+" + s }
            case "x": guard case .i(let x)? = numeric(v) else { throw TemplateError.runtime("%x format: an integer is required") }; s = String(x, radix: 16)
            default: throw TemplateError.runtime("unsupported format character '\(conv)'")
            }
            if let w = Int(width), w > 1 << 20 { throw TemplateError(.limit, "format width \(w) too large") }
            if let w = Int(width), w > s.unicodeScalars.count {
                let pad = w - s.unicodeScalars.count
                if flags.contains("-") { s += String(repeating: " ", count: pad) }
                else if flags.contains("0") && "dif".unicodeScalars.contains(conv) { s = String(repeating: "0", count: pad) + s }
                else { s = String(repeating: " ", count: pad) + s }
            }
            out += s
        }
        if mapping == nil && idx < args.count { throw TemplateError.runtime("not all arguments converted during string formatting") }
        return out
    }
}
