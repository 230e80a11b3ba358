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
    init(_ kind: Kind, _ pos: SourcePos) { self.kind = kind; self.pos = pos }
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
