import Foundation

/// Safety bounds for rendering untrusted templates.
public struct TemplateLimits: Sendable {
    /// Most bytes of text a render may produce (all output, including captured blocks and macro calls).
    public var maxOutputBytes: Int = 64 << 20
    /// Most loop iterations and macro calls (all together) per render.
    public var maxLoopIterations: Int = 2_000_000
    /// Most elements in a list built by the template (`range`, `*`, ...), and characters in one string.
    public var maxCollectionSize: Int = 4_000_000
    /// Deepest nesting of macro calls.
    public var maxCallDepth: Int = 48
    /// Deepest syntactic nesting (blocks inside blocks, parentheses, brackets...).
    public var maxNestingDepth: Int = 100
    /// Most stack the renderer may use, in bytes. It also always leaves `stackReserveBytes` of the
    /// thread's actual stack free, so small-stack threads get an error instead of a crash.
    public var maxStackBytes: Int = 4 << 20
    /// Stack kept free below the renderer (for the caller, error handling and runtime calls).
    public var stackReserveBytes: Int = 64 << 10
    public init() {}
}

/// Variables of one scope. Scopes are small (a loop variable, a few `set`s): a linear scan over
/// short strings beats hashing; large ones (a big context) get a hash index.
struct VarTable {
    private var names: [String] = []
    private var values: [Value] = []
    private var index: [String: Int]? = nil

    subscript(name: String) -> Value? {
        get {
            if let idx = index { return idx[name].map { values[$0] } }
            for i in 0..<names.count where names[i] == name { return values[i] }
            return nil
        }
        set {
            let existing: Int?
            if let idx = index { existing = idx[name] } else { existing = names.firstIndex(of: name) }
            if let i = existing {
                if let v = newValue { values[i] = v }
                else {
                    names.remove(at: i); values.remove(at: i)
                    if index != nil { index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) }) }
                }
                return
            }
            guard let v = newValue else { return }
            names.append(name); values.append(v)
            if index != nil { index![name] = names.count - 1 }
            else if names.count > 16 { index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) }) }
        }
    }
}

final class Scope {
    var vars = VarTable()
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }
    func lookup(_ name: String) -> Value? {
        var s: Scope? = self
        while let c = s { if let v = c.vars[name] { return v }; s = c.parent }
        return nil
    }
}

final class LoopObject: PyObject {
    let items: [Value]
    var index0 = 0
    let depth0: Int
    var lastChanged: [Value]? = nil
    init(items: [Value], depth0: Int) { self.items = items; self.depth0 = depth0 }
    var typeName: String { "LoopContext" }
    var pyStr: String { "<LoopContext \(index0 + 1)/\(items.count)>" }
    func getAttr(_ name: String) -> Value? {
        let n = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(n - index0)
        case "revindex0": return .int(n - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == n - 1)
        case "length": return .int(n)
        case "depth": return .int(depth0 + 1)
        case "depth0": return .int(depth0)
        case "previtem": return index0 > 0 ? items[index0 - 1] : .undefined(Undefined(name: "previtem", hint: "there is no previous item"))
        case "nextitem": return index0 + 1 < n ? items[index0 + 1] : .undefined(Undefined(name: "nextitem", hint: "there is no next item"))
        case "cycle":
            return .callable(Callable(name: "cycle") { [self] args, _, _ in
                guard !args.isEmpty else { throw TemplateError.runtime("no items for cycling given") }
                return args[self.index0 % args.count]
            })
        case "changed":
            return .callable(Callable(name: "changed") { [self] args, _, _ in
                if let l = self.lastChanged, l.count == args.count, zip(l, args).allSatisfy({ pyEquals($0, $1) }) { return .bool(false) }
                self.lastChanged = args
                return .bool(true)
            })
        default: return nil
        }
    }
}

enum Flow { case normal, breakLoop, continueLoop }

/// Renders a parsed template. One per render call; not shared between threads.
public final class Interpreter {
    let limits: TemplateLimits
    let now: NaiveDateTime
    var buffers: [String] = [""]
    var emitted = 0
    var iterations = 0
    var callDepth = 0
    var stackBase: UInt = 0
    /// Lowest stack address the renderer may reach.
    var stackLimit: UInt = 0
    /// (byte offset in the root output where the block starts, its text)
    var generationMarks: [(Int, String)] = []

    init(limits: TemplateLimits, now: NaiveDateTime) {
        self.limits = limits
        self.now = now
    }

    func checkStack() throws {
        var marker: UInt8 = 0
        let here = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        if here < stackLimit { throw TemplateError(.limit, "template recursion too deep (stack budget \(limits.maxStackBytes) bytes)") }
    }

    // MARK: output

    @inline(__always)
    func write(_ s: String) throws {
        emitted += s.utf8.count
        if emitted > limits.maxOutputBytes { throw TemplateError(.limit, "output larger than \(limits.maxOutputBytes) bytes") }
        buffers[buffers.count - 1] += s
    }

    func capture(_ body: [Node], scope: Scope) throws -> String {
        buffers.append("")
        defer { _ = buffers.popLast() }
        let flow = try exec(body, scope)
        if flow != .normal { throw TemplateError.runtime("'break' / 'continue' outside of a loop") }
        return buffers[buffers.count - 1]
    }

    func checkSize(_ n: Int, _ what: String) throws {
        if n > limits.maxCollectionSize { throw TemplateError(.limit, "\(what) larger than \(limits.maxCollectionSize) elements") }
    }

    // MARK: statements

    func run(_ nodes: [Node], context: [String: Value]) throws -> String {
        var marker: UInt8 = 0
        stackBase = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        let budget = UInt(max(0, limits.maxStackBytes))
        stackLimit = stackBase > budget ? stackBase - budget : 0
        if let low = StackBounds.lowAddress() {
            let floor = low + UInt(max(0, limits.stackReserveBytes))
            if floor > stackLimit { stackLimit = floor }
        }
        let root = Scope(parent: nil)
        for (k, v) in context { root.vars[k] = v }
        let flow = try exec(nodes, root)
        if flow != .normal { throw TemplateError(.syntax, "'break' / 'continue' outside of a loop") }
        return buffers[0]
    }

    func exec(_ nodes: [Node], _ scope: Scope) throws -> Flow {
        for n in nodes {
            let f: Flow
            do { f = try execOne(n, scope) } catch let e as TemplateError { throw e.at(n.pos) }
            if f != .normal { return f }
        }
        return .normal
    }

    func execOne(_ node: Node, _ scope: Scope) throws -> Flow {
        switch node.kind {
        case .text(let s): try write(s)
        case .output(let e):
            let v = try eval(e, scope)
            switch v {
            case .string(let s), .markup(let s): try write(s)
            case .undefined: break
            default: try write(PyFormat.str(v))
            }
        case .ifs(let branches, let orElse):
            for (cond, body) in branches where try eval(cond, scope).truthy { return try exec(body, scope) }
            return try exec(orElse, scope)
        case .forLoop(let target, let iterExpr, let cond, let body, let orElse, let recursive):
            if recursive { throw TemplateError.runtime("recursive for loops are not supported") }
            let seq = try iterate(try eval(iterExpr, scope))
            var items = seq
            if let c = cond {
                items = []
                for it in seq {
                    try tick()
                    let s = Scope(parent: scope)
                    try assign(target, it, s)
                    if try eval(c, s).truthy { items.append(it) }
                }
            }
            if items.isEmpty { return try exec(orElse, scope) }
            let loop = LoopObject(items: items, depth0: 0)
            let loopValue = Value.object(loop)
            for (i, it) in items.enumerated() {
                try tick()
                loop.index0 = i
                let s = Scope(parent: scope)
                try assign(target, it, s)
                s.vars["loop"] = loopValue
                if try exec(body, s) == .breakLoop { break }
            }
        case .set(let target, let e):
            try assign(target, try eval(e, scope), scope)
        case .setBlock(let target, let filters, let body):
            var v = Value.string(try capture(body, scope: scope))
            for f in filters { v = try applyFilterExpr(f, v, scope) }
            try assign(target, v, scope)
        case .macro(let name, let params, let body):
            scope.vars[name] = .callable(makeMacro(name: name, params: params, body: body, scope: scope))
        case .callBlock(let call, let params, let body):
            guard case .call(let fnExpr, let args, let kwargs) = call.kind else { throw TemplateError.runtime("call block needs a call") }
            let caller = makeMacro(name: "caller", params: params, body: body, scope: scope)
            let fn = try eval(fnExpr, scope)
            let a = try args.map { try eval($0, scope) }
            var k = try kwargs.map { ($0.0, try eval($0.1, scope)) }
            k.append(("caller", .callable(caller)))
            let v = try callValue(fn, a, k)
            try write(PyFormat.str(v))
        case .filterBlock(let filters, let body):
            var v = Value.string(try capture(body, scope: scope))
            for f in filters { v = try applyFilterExpr(f, v, scope) }
            try write(PyFormat.str(v))
        case .with(let assigns, let body):
            let s = Scope(parent: scope)
            for (t, e) in assigns { try assign(t, try eval(e, scope), s) }
            return try exec(body, s)
        case .generation(let body):
            let text = try capture(body, scope: scope)
            generationMarks.append((buffers[0].utf8.count, text))
            try write(text)
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        }
        return .normal
    }

    @inline(__always) func tick() throws {
        iterations += 1
        if iterations > limits.maxLoopIterations { throw TemplateError(.limit, "more than \(limits.maxLoopIterations) loop iterations") }
    }

    func makeMacro(name: String, params: [Node.MacroParam], body: [Node], scope defScope: Scope) -> Callable {
        Callable(name: name, isMacro: true) { args, kwargs, interp in
            interp.callDepth += 1
            defer { interp.callDepth -= 1 }
            if interp.callDepth > interp.limits.maxCallDepth { throw TemplateError(.limit, "macro calls nested deeper than \(interp.limits.maxCallDepth)") }
            // Macro calls count as loop iterations: a macro calling itself twice per level must not run for ever.
            try interp.tick()
            try interp.checkStack()
            let s = Scope(parent: defScope)
            var extraKw = PyDict()
            for (k, v) in kwargs {
                if params.contains(where: { $0.name == k }) || k == "caller" { continue }
                extraKw[k] = v
            }
            for (i, p) in params.enumerated() {
                if i < args.count { s.vars[p.name] = args[i] }
                else if let kv = kwargs.first(where: { $0.0 == p.name }) { s.vars[p.name] = kv.1 }
                else if let d = p.defaultValue { s.vars[p.name] = try interp.eval(d, s) }
                else { s.vars[p.name] = .undefined(Undefined(name: p.name, hint: "parameter '\(p.name)' was not provided")) }
            }
            s.vars["varargs"] = .tuple(args.count > params.count ? Array(args[params.count...]) : [])
            s.vars["kwargs"] = .dict(extraKw)
            if let c = kwargs.first(where: { $0.0 == "caller" }) { s.vars["caller"] = c.1 }
            return .string(try interp.capture(body, scope: s))
        }
    }

    func assign(_ target: Target, _ v: Value, _ scope: Scope) throws {
        switch target {
        case .name(let n): scope.vars[n] = v
        case .tuple(let ts):
            let items = try iterate(v)
            guard items.count == ts.count else {
                throw TemplateError.runtime(items.count < ts.count
                    ? "not enough values to unpack (expected \(ts.count), got \(items.count))"
                    : "too many values to unpack (expected \(ts.count))")
            }
            for (t, x) in zip(ts, items) { try assign(t, x, scope) }
        case .attr(let e, let attr):
            guard case .object(let o) = try eval(e, scope), let ns = o as? Namespace else {
                throw TemplateError.runtime("cannot assign attribute on non-namespace object")
            }
            if attr.hasPrefix("_") {
                throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attr)'. Please rename the attribute.")
            }
            ns.attrs[attr] = v
        }
    }

    /// Python iteration as Jinja sees it (undefined iterates as empty).
    func iterate(_ v: Value) throws -> [Value] {
        switch v {
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.keys
        case .string(let s), .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .object(let o as SeqObject): return o.items
        case .object(let o) where o is Namespace: throw TemplateError.runtime("'Namespace' object is not iterable")
        default: throw TemplateError.runtime("'\(v.typeName)' object is not iterable")
        }
    }

    // MARK: expressions

    func eval(_ e: Expr, _ scope: Scope) throws -> Value {
        try checkStack()
        do { return try evalInner(e, scope) } catch let err as TemplateError { throw err.at(e.pos) }
    }

    func lookup(_ name: String, _ scope: Scope) -> Value {
        if let v = scope.lookup(name) { return v }
        if let g = Builtins.globals[name] { return g }
        return .undefined(Undefined(name: name))
    }

    func evalInner(_ e: Expr, _ scope: Scope) throws -> Value {
        switch e.kind {
        case .const(let v): return v
        case .name(let n): return lookup(n, scope)
        case .list(let items): return .list(try items.map { try eval($0, scope) })
        case .tuple(let items): return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var d = PyDict()
            for (k, v) in pairs {
                let kv = try eval(k, scope)
                guard PyDict.isHashable(kv) else { throw TemplateError.runtime("unhashable type: '\(kv.typeName)'") }
                d[kv] = try eval(v, scope)
            }
            return .dict(d)
        case .getattr(let obj, let name): return try getAttr(try eval(obj, scope), name)
        case .getitem(let obj, let key): return try getItem(try eval(obj, scope), try eval(key, scope))
        case .slice(let obj, let a, let b, let c):
            let o = try eval(obj, scope)
            return try slice(o, try a.map { try eval($0, scope) }, try b.map { try eval($0, scope) }, try c.map { try eval($0, scope) })
        case .call(let fnExpr, let argExprs, let kwExprs):
            let args = try argExprs.map { try eval($0, scope) }
            let kwargs = try kwExprs.map { ($0.0, try eval($0.1, scope)) }
            if case .getattr(let objExpr, let name) = fnExpr.kind {
                let obj = try eval(objExpr, scope)
                if let r = try Methods.call(obj, name, args, kwargs, self) { return r }
                return try callValue(try getAttr(obj, name), args, kwargs)
            }
            return try callValue(try eval(fnExpr, scope), args, kwargs)
        case .filter:
            return try applyFilterExpr(e, nil, scope)
        case .test(let subj, let name, let argExprs, let kwExprs, let negated):
            let v = try eval(subj, scope)
            let args = try argExprs.map { try eval($0, scope).asPlain }
            let kwargs = try kwExprs.map { ($0.0, try eval($0.1, scope).asPlain) }
            if name == "escaped" { return .bool(v.isMarkup != negated) }
            let r = try Tests.run(name, v.asPlain, args, kwargs, self)
            return .bool(negated ? !r : r)
        case .not(let x): return .bool(!(try eval(x, scope).truthy))
        case .neg(let x):
            let v = try eval(x, scope)
            switch v {
            case .int(let i): return .int(0 &- i)
            case .bool(let b): return .int(b ? -1 : 0)
            case .float(let f): return .float(-f)
            case .undefined(let u): throw TemplateError(.undefined, u.message)
            default: throw TemplateError.runtime("bad operand type for unary -: '\(v.typeName)'")
            }
        case .pos(let x):
            let v = try eval(x, scope)
            switch v {
            case .int, .float: return v
            case .bool(let b): return .int(b ? 1 : 0)
            case .undefined(let u): throw TemplateError(.undefined, u.message)
            default: throw TemplateError.runtime("bad operand type for unary +: '\(v.typeName)'")
            }
        case .binary(let op, let l, let r):
            return try Ops.binary(op, try eval(l, scope), try eval(r, scope), self)
        case .and(let l, let r):
            let a = try eval(l, scope)
            return a.truthy ? try eval(r, scope) : a
        case .or(let l, let r):
            let a = try eval(l, scope)
            return a.truthy ? a : try eval(r, scope)
        case .compare(let first, let ops):
            var left = try eval(first, scope)
            for (op, rexpr) in ops {
                let right = try eval(rexpr, scope)
                if !(try Ops.compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .cond(let test, let then, let orElse):
            if try eval(test, scope).truthy { return try eval(then, scope) }
            if let o = orElse { return try eval(o, scope) }
            return .undefined(Undefined(name: nil, hint: "the inline if-expression on line \(e.pos.line) evaluated to false and no else section was defined."))
        }
    }

    func applyFilterExpr(_ e: Expr, _ input: Value?, _ scope: Scope) throws -> Value {
        guard case .filter(let inner, let name, let argExprs, let kwExprs) = e.kind else { return try eval(e, scope) }
        let v: Value
        if let i = inner { v = try eval(i, scope) } else { v = input ?? .missing }
        let args = try argExprs.map { try eval($0, scope).asPlain }
        let kwargs = try kwExprs.map { ($0.0, try eval($0.1, scope).asPlain) }
        do { return try Filters.apply(name, v, args, kwargs, self) } catch let err as TemplateError { throw err.at(e.pos) }
    }

    func callValue(_ fn: Value, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        switch fn {
        case .callable(let c):
            if !c.isMacro, kwargs.contains(where: { $0.0 == "caller" }) {
                throw TemplateError.runtime("'\(c.name)' does not take a caller")
            }
            try checkStack()
            return try c.fn(args, kwargs, self)
        case .undefined(let u): throw TemplateError(.undefined, u.message)
        default: throw TemplateError.runtime("'\(fn.typeName)' object is not callable")
        }
    }

    static func objectTypeRepr(_ v: Value) -> String {
        switch v {
        case .none: return "None"
        default: return "\(v.typeName) object"
        }
    }

    func undefinedAttr(_ obj: Value, _ name: String) -> Value {
        let repr = Interpreter.objectTypeRepr(obj)
        return .undefined(Undefined(name: name, hint: obj.isNone ? "'None' has no attribute '\(name)'" : "'\(repr)' has no attribute '\(name)'"))
    }

    /// `obj.name`: Python attribute first, then item (jinja's `getattr`).
    func getAttr(_ obj: Value, _ name: String) throws -> Value {
        switch obj {
        case .markup: return Methods.bound(obj, name) ?? undefinedAttr(obj, name)
        case .undefined(let u): throw TemplateError(.undefined, u.message)
        case .dict(let d):
            if let m = Methods.bound(obj, name) { return m }
            return d[.string(name)] ?? undefinedAttr(obj, name)
        case .object(let o): return o.getAttr(name) ?? undefinedAttr(obj, name)
        default:
            if let m = Methods.bound(obj, name) { return m }
            return undefinedAttr(obj, name)
        }
    }

    /// `obj[key]`: item first, then attribute for string keys (jinja's `getitem`).
    func getItem(_ obj: Value, _ key: Value) throws -> Value {
        switch obj {
        case .undefined(let u): throw TemplateError(.undefined, u.message)
        case .dict(let d):
            if let v = d[key] { return v }
        case .list(let a), .tuple(let a):
            if let i = Builtins.intIndex(key) {
                let j = i < 0 ? i + a.count : i
                if j >= 0 && j < a.count { return a[j] }
            }
        case .string(let s), .markup(let s):
            if let i = Builtins.intIndex(key) {
                let u = Array(s.unicodeScalars)
                let j = i < 0 ? i + u.count : i
                if j >= 0 && j < u.count { return obj.isMarkup ? .markup(String(u[j])) : .string(String(u[j])) }
            }
        case .object(let o):
            if let s = o as? SeqObject {
                guard s.isRange else { throw TemplateError.runtime("'\(s.typeName)' object is not subscriptable") }
                if let i = Builtins.intIndex(key) {
                    let j = i < 0 ? i + s.items.count : i
                    if j >= 0 && j < s.items.count { return s.items[j] }
                }
            }
            if case .string(let n) = key, let v = o.getAttr(n) { return v }
        default: break
        }
        if case .string(let n) = key {
            if let m = Methods.bound(obj, n) { return m }
            return undefinedAttr(obj, n)
        }
        return .undefined(Undefined(name: PyFormat.repr(key), hint: "\(Interpreter.objectTypeRepr(obj)) has no element \(PyFormat.repr(key))"))
    }

    func slice(_ obj: Value, _ a: Value?, _ b: Value?, _ c: Value?) throws -> Value {
        func idx(_ v: Value?) throws -> Int? {
            guard let v = v else { return nil }
            switch v {
            case .none: return nil
            case .int(let i): return i
            case .bool(let b): return b ? 1 : 0
            case .undefined(let u): throw TemplateError(.undefined, u.message)
            default: throw TemplateError.runtime("slice indices must be integers or None")
            }
        }
        let step = try idx(c) ?? 1
        if step == 0 { throw TemplateError.runtime("slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            var start = try idx(a), stop = try idx(b)
            if step > 0 {
                var s = start ?? 0; if s < 0 { s = max(0, s + n) }; s = min(s, n)
                var e = stop ?? n; if e < 0 { e = max(0, e + n) }; e = min(e, n)
                return s < e ? Array(stride(from: s, to: e, by: step)) : []
            } else {
                var s = start ?? (n - 1); if s < 0 { s += n; if s < 0 { s = -1 } } else if s >= n { s = n - 1 }
                var e: Int
                if let st = stop { e = st; if e < 0 { e += n; if e < 0 { e = -1 } } else if e >= n { e = n - 1 } } else { e = -1 }
                start = s; stop = e
                return s > e ? Array(stride(from: s, to: e, by: step)) : []
            }
        }
        switch obj {
        case .list(let arr): return .list(try indices(arr.count).map { arr[$0] })
        case .tuple(let arr): return .tuple(try indices(arr.count).map { arr[$0] })
        case .string(let s), .markup(let s):
            let u = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(u.count) { out.append(u[i]) }
            return obj.isMarkup ? .markup(String(out)) : .string(String(out))
        case .undefined(let u): throw TemplateError(.undefined, u.message)
        case .none: return .undefined(Undefined(name: nil, hint: "'NoneType' object is not subscriptable"))
        default: throw TemplateError.runtime("'\(obj.typeName)' object is not subscriptable")
        }
    }
}
