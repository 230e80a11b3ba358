/// An expression node.
final class Expr {
    enum BinOp: String { case add = "+", sub = "-", mul = "*", div = "/", floordiv = "//", mod = "%", pow = "**", concat = "~" }
    enum CmpOp: String { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", `in` = "in", notin = "not in" }
    enum Kind {
        case const(Value)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case getattr(Expr, String)
        case getitem(Expr, Expr)
        case slice(Expr, Expr?, Expr?, Expr?)
        case call(Expr, [Expr], [(String, Expr)])
        /// `x | name(args)`; the input is nil inside `{% filter %}` blocks.
        case filter(Expr?, String, [Expr], [(String, Expr)])
        case test(Expr, String, [Expr], [(String, Expr)], negated: Bool)
        case not(Expr)
        case neg(Expr)
        case pos(Expr)
        case binary(BinOp, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case compare(Expr, [(CmpOp, Expr)])
        case cond(Expr, Expr, Expr?)
    }
    let kind: Kind
    let pos: SourcePos
    /// Height of this expression tree (1 for a leaf); the parser bounds it so evaluation and deallocation
    /// never recurse deeply.
    let height: Int
    init(_ kind: Kind, _ pos: SourcePos) {
        self.kind = kind; self.pos = pos
        func h(_ e: Expr?) -> Int { e?.height ?? 0 }
        func hs(_ es: [Expr]) -> Int { es.reduce(0) { max($0, $1.height) } }
        func hk(_ kw: [(String, Expr)]) -> Int { kw.reduce(0) { max($0, $1.1.height) } }
        let c: Int
        switch kind {
        case .const, .name: c = 0
        case .list(let a), .tuple(let a): c = hs(a)
        case .dict(let p): c = p.reduce(0) { max($0, $1.0.height, $1.1.height) }
        case .getattr(let o, _): c = o.height
        case .getitem(let o, let k): c = max(o.height, k.height)
        case .slice(let o, let a, let b, let s): c = max(o.height, h(a), h(b), h(s))
        case .call(let f, let a, let k): c = max(f.height, hs(a), hk(k))
        case .filter(let i, _, let a, let k): c = max(h(i), hs(a), hk(k))
        case .test(let i, _, let a, let k, _): c = max(i.height, hs(a), hk(k))
        case .not(let x), .neg(let x), .pos(let x): c = x.height
        case .binary(_, let l, let r), .and(let l, let r), .or(let l, let r): c = max(l.height, r.height)
        case .compare(let f, let ops): c = ops.reduce(f.height) { max($0, $1.1.height) }
        case .cond(let a, let b, let d): c = max(a.height, b.height, h(d))
        }
        height = c + 1
    }
}

/// What `for` and `set` assign to.
indirect enum Target {
    case name(String)
    case tuple([Target])
    /// `ns.attr` (only in `set`).
    case attr(Expr, String)
}

/// A statement / template node.
final class Node {
    struct MacroParam { let name: String; let defaultValue: Expr? }
    enum Kind {
        case text(String)
        case output(Expr)
        case ifs([(Expr, [Node])], [Node])
        case forLoop(target: Target, iter: Expr, cond: Expr?, body: [Node], orElse: [Node], recursive: Bool)
        case set(Target, Expr)
        case setBlock(Target, filters: [Expr], body: [Node])
        case macro(name: String, params: [MacroParam], body: [Node])
        case callBlock(call: Expr, params: [MacroParam], body: [Node])
        case filterBlock(filters: [Expr], body: [Node])
        case with([(Target, Expr)], [Node])
        case generation([Node])
        case breakLoop
        case continueLoop
    }
    let kind: Kind
    let pos: SourcePos
    init(_ kind: Kind, _ pos: SourcePos) { self.kind = kind; self.pos = pos }
}
