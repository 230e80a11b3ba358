/// Builds the AST from tokens, following jinja2's parser (precedence, tuple rules, `is` tests, slices).
struct Parser {
    var toks: [Token]
    var i = 0
    var depth = 0
    let maxDepth: Int
    /// Open block tags, innermost last (for error messages).
    var openTags: [String] = []
    /// jinja rejects unknown filters and tests when compiling, except where the template guards them
    /// with `is filter` / `is test`; we then leave the check to render time.
    var checkNames = true
    /// How many `for` bodies enclose the current position (macro bodies start again at 0).
    var loopDepth = 0

    var stackLimit: UInt = 0

    init(tokens: [Token], maxDepth: Int) {
        toks = tokens; self.maxDepth = maxDepth
        var marker: UInt8 = 0
        let here = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        let budget: UInt = 4 << 20
        stackLimit = here > budget ? here - budget : 0
        if let low = StackBounds.lowAddress(), low + (64 << 10) > stackLimit { stackLimit = low + (64 << 10) }
    }

    var cur: Token { toks[i] }
    var curTok: Tok { toks[i].tok }
    func look(_ k: Int = 1) -> Tok { i + k < toks.count ? toks[i + k].tok : .eof }
    mutating func advance() { if i < toks.count - 1 { i += 1 } }

    func describe(_ t: Tok) -> String {
        switch t {
        case .data: return "template data"
        case .varBegin: return "begin of print statement"
        case .varEnd: return "end of print statement"
        case .blockBegin: return "begin of statement block"
        case .blockEnd: return "end of statement block"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string '\(s)'"
        case .int(let v): return "integer \(v)"
        case .float(let v): return "float \(v)"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    func fail(_ msg: String) -> TemplateError { .syntax(msg, cur.pos) }

    /// Most levels an expression tree may have.
    var maxHeight: Int { maxDepth * 4 }

    /// Make an expression node, refusing trees deeper than `maxHeight` (e.g. `a|f|f|f...` or `1+1+1...`).
    func mk(_ kind: Expr.Kind, _ pos: SourcePos) throws -> Expr {
        let e = Expr(kind, pos)
        if e.height > maxHeight {
            throw TemplateError(.limit, "expression nested deeper than \(maxHeight) levels", line: Int(pos.line), column: pos.column)
        }
        return e
    }

    func isOp(_ o: String) -> Bool { if case .op(let x) = curTok { return x == o }; return false }
    func isName(_ n: String) -> Bool { if case .name(let x) = curTok { return x == n }; return false }
    mutating func skipOp(_ o: String) -> Bool { if isOp(o) { advance(); return true }; return false }
    mutating func skipName(_ n: String) -> Bool { if isName(n) { advance(); return true }; return false }
    mutating func expectOp(_ o: String) throws {
        guard skipOp(o) else { throw fail("expected token '\(o)', got \(describe(curTok))") }
    }
    mutating func expectName() throws -> String {
        guard case .name(let n) = curTok else { throw fail("expected a name, got \(describe(curTok))") }
        advance(); return n
    }
    mutating func expectBlockEnd() throws {
        guard curTok == .blockEnd else { throw fail("expected end of statement block, got \(describe(curTok))") }
        advance()
    }
    mutating func enter() throws {
        depth += 1
        var marker: UInt8 = 0
        let here = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        if here < stackLimit {
            throw TemplateError(.limit, "template nesting too deep for the thread's stack", line: Int(cur.pos.line), column: cur.pos.column)
        }
        if depth > maxDepth { throw TemplateError(.limit, "template nesting deeper than \(maxDepth) levels", line: Int(cur.pos.line), column: cur.pos.column) }
    }

    // MARK: statements

    mutating func parseTemplate() throws -> [Node] {
        let body = try subparse(end: [])
        if curTok != .eof { throw fail("unexpected \(describe(curTok))") }
        try NameCheck.nodes(body, soft: false)
        return body
    }

    /// Parse nodes until `{% <one of end> ... %}`; leaves the parser at that name.
    mutating func subparse(end: Set<String>) throws -> [Node] {
        var body: [Node] = []
        while true {
            let t = cur
            switch t.tok {
            case .data(let s): body.append(Node(.text(s), t.pos)); advance()
            case .varBegin:
                advance()
                let e = try parseTuple()
                guard curTok == .varEnd else { throw fail("expected end of print statement, got \(describe(curTok))") }
                advance()
                body.append(Node(.output(e), t.pos))
            case .blockBegin:
                advance()
                if case .name(let n) = curTok, end.contains(n) { return body }
                body.append(try parseStatement())
                try expectBlockEnd()
            case .eof:
                if !end.isEmpty {
                    let want = end.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    var msg = "Unexpected end of template. Jinja was looking for the following tags: \(want)."
                    if let inner = openTags.last { msg += " The innermost block that needs to be closed is '\(inner)'." }
                    throw fail(msg)
                }
                return body
            default:
                throw fail("unexpected \(describe(t.tok))")
            }
        }
    }

    mutating func parseStatements(_ end: Set<String>, drop: Bool = false) throws -> [Node] {
        _ = skipOp(":")
        try expectBlockEnd()
        let body = try subparse(end: end)
        if drop { advance() }
        return body
    }

    mutating func parseStatement() throws -> Node {
        try enter(); defer { depth -= 1 }
        let pos = cur.pos
        guard case .name(let tag) = curTok else { throw fail("tag name expected") }
        openTags.append(tag); defer { openTags.removeLast() }
        advance()
        switch tag {
        case "if":
            var branches: [(Expr, [Node])] = []
            var cond = try parseTuple(withCondexpr: false)
            var orElse: [Node] = []
            while true {
                let body = try parseStatements(["elif", "else", "endif"])
                branches.append((cond, body))
                let which = try expectName()
                if which == "elif" { cond = try parseTuple(withCondexpr: false); continue }
                if which == "else" { orElse = try parseStatements(["endif"], drop: true) }
                break
            }
            return Node(.ifs(branches, orElse), pos)
        case "for":
            let target = try parseAssignTarget(extraEnd: ["in"])
            guard skipName("in") else { throw fail("expected 'in', got \(describe(curTok))") }
            let iter = try parseTuple(withCondexpr: false, extraEnd: ["recursive"])
            var cond: Expr? = nil
            if skipName("if") { cond = try parseExpression() }
            let recursive = skipName("recursive")
            loopDepth += 1
            let body = try parseStatements(["endfor", "else"])
            loopDepth -= 1
            var orElse: [Node] = []
            if try expectName() == "else" { orElse = try parseStatements(["endfor"], drop: true) }
            return Node(.forLoop(target: target, iter: iter, cond: cond, body: body, orElse: orElse, recursive: recursive), pos)
        case "set":
            let target = try parseAssignTarget(withNamespace: true)
            if skipOp("=") { return Node(.set(target, try parseTuple()), pos) }
            var filters: [Expr] = []
            if isOp("|") {
                if let f = try parseFilter(nil) { filters = [f] }
            }
            let body = try parseStatements(["endset"], drop: true)
            return Node(.setBlock(target, filters: filters, body: body), pos)
        case "macro":
            let name = try expectName()
            let params = try parseSignature()
            let savedLoops = loopDepth
            loopDepth = 0
            let body = try parseStatements(["endmacro"], drop: true)
            loopDepth = savedLoops
            return Node(.macro(name: name, params: params, body: body), pos)
        case "call":
            let params = isOp("(") ? try parseSignature() : []
            let call = try parseExpression()
            guard case .call = call.kind else { throw fail("expected call") }
            let savedLoops = loopDepth
            loopDepth = 0
            let body = try parseStatements(["endcall"], drop: true)
            loopDepth = savedLoops
            return Node(.callBlock(call: call, params: params, body: body), pos)
        case "filter":
            guard let f = try parseFilter(nil, startInline: true) else { throw fail("expected a filter") }
            let body = try parseStatements(["endfilter"], drop: true)
            return Node(.filterBlock(filters: [f], body: body), pos)
        case "with":
            var assigns: [(Target, Expr)] = []
            while curTok != .blockEnd {
                if !assigns.isEmpty { try expectOp(",") }
                let t = try parseAssignTarget()
                try expectOp("=")
                assigns.append((t, try parseExpression()))
            }
            let body = try parseStatements(["endwith"], drop: true)
            return Node(.with(assigns, body), pos)
        case "generation":
            let body = try parseStatements(["endgeneration"], drop: true)
            return Node(.generation(body), pos)
        case "break", "continue":
            if loopDepth == 0 { throw TemplateError.syntax("'\(tag)' outside loop", pos) }
            return Node(tag == "break" ? .breakLoop : .continueLoop, pos)
        case "block", "extends", "include", "import", "from", "autoescape":
            throw TemplateError.syntax("tag '\(tag)' is not supported in chat templates", pos)
        default:
            throw TemplateError.syntax("Encountered unknown tag '\(tag)'.", pos)
        }
    }

    mutating func parseSignature() throws -> [Node.MacroParam] {
        try expectOp("(")
        var params: [Node.MacroParam] = []
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectName()
            var def: Expr? = nil
            if skipOp("=") { def = try parseExpression() }
            params.append(.init(name: name, defaultValue: def))
        }
        try expectOp(")")
        return params
    }

    mutating func parseAssignTarget(extraEnd: Set<String> = [], withNamespace: Bool = false) throws -> Target {
        if withNamespace, case .name(let ns) = curTok, look() == .op(".") {
            let pos = cur.pos
            advance(); advance()
            let attr = try expectName()
            return .attr(try mk(.name(ns), pos), attr)
        }
        let e = try parseTuple(simplified: true, extraEnd: extraEnd)
        return try toTarget(e)
    }

    func toTarget(_ e: Expr) throws -> Target {
        switch e.kind {
        case .name(let n):
            if ["true", "false", "none", "True", "False", "None"].contains(n) { throw TemplateError.syntax("can't assign to '\(n)'", e.pos) }
            return .name(n)
        case .tuple(let items): return .tuple(try items.map(toTarget))
        default: throw TemplateError.syntax("can't assign to this expression", e.pos)
        }
    }

    // MARK: expressions

    func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch curTok {
        case .varEnd, .blockEnd: return true
        case .op(")"): return true
        case .name(let n): return extraEnd.contains(n)
        default: return false
        }
    }

    mutating func parseTuple(simplified: Bool = false, withCondexpr: Bool = true, extraEnd: Set<String> = [], explicitParens: Bool = false) throws -> Expr {
        let pos = cur.pos
        var args: [Expr] = []
        var isTuple = false
        while true {
            if !args.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEnd) { break }
            if simplified { args.append(try parsePrimary()) }
            else { args.append(try parseExpression(withCondexpr: withCondexpr)) }
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let a = args.first { return a }
            if !explicitParens { throw fail("Expected an expression, got \(describe(curTok))") }
        }
        return try mk(.tuple(args), pos)
    }

    mutating func parseExpression(withCondexpr: Bool = true) throws -> Expr {
        try enter(); defer { depth -= 1 }
        return withCondexpr ? try parseCondexpr() : try parseOr()
    }

    mutating func parseCondexpr() throws -> Expr {
        var e1 = try parseOr()
        while isName("if") {
            let pos = cur.pos
            advance()
            let e2 = try parseOr()
            var e3: Expr? = nil
            if skipName("else") { e3 = try parseCondexpr() }
            e1 = try mk(.cond(e2, e1, e3), pos)
        }
        return e1
    }

    mutating func parseOr() throws -> Expr {
        var l = try parseAnd()
        while isName("or") { let p = cur.pos; advance(); l = try mk(.or(l, try parseAnd()), p) }
        return l
    }

    mutating func parseAnd() throws -> Expr {
        var l = try parseNot()
        while isName("and") { let p = cur.pos; advance(); l = try mk(.and(l, try parseNot()), p) }
        return l
    }

    mutating func parseNot() throws -> Expr {
        if isName("not") {
            let p = cur.pos; advance()
            try enter(); defer { depth -= 1 }
            return try mk(.not(try parseNot()), p)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let pos = cur.pos
        let e = try parseMath1()
        var ops: [(Expr.CmpOp, Expr)] = []
        while true {
            if case .op(let o) = curTok, let op = Expr.CmpOp(rawValue: o), op != .in, op != .notin {
                advance(); ops.append((op, try parseMath1()))
            } else if isName("in") {
                advance(); ops.append((.in, try parseMath1()))
            } else if isName("not"), look() == .name("in") {
                advance(); advance(); ops.append((.notin, try parseMath1()))
            } else { break }
        }
        return ops.isEmpty ? e : try mk(.compare(e, ops), pos)
    }

    mutating func parseMath1() throws -> Expr {
        var l = try parseConcat()
        while case .op(let o) = curTok, o == "+" || o == "-" {
            let p = cur.pos; advance()
            l = try mk(.binary(o == "+" ? .add : .sub, l, try parseConcat()), p)
        }
        return l
    }

    mutating func parseConcat() throws -> Expr {
        var l = try parseMath2()
        while isOp("~") { let p = cur.pos; advance(); l = try mk(.binary(.concat, l, try parseMath2()), p) }
        return l
    }

    static let mulOps: [String: Expr.BinOp] = ["*": .mul, "/": .div, "//": .floordiv, "%": .mod]

    mutating func parseMath2() throws -> Expr {
        var l = try parsePow()
        while case .op(let o) = curTok, let op = Parser.mulOps[o] {
            let p = cur.pos; advance()
            l = try mk(.binary(op, l, try parsePow()), p)
        }
        return l
    }

    mutating func parsePow() throws -> Expr {
        var l = try parseUnary()
        while isOp("**") { let p = cur.pos; advance(); l = try mk(.binary(.pow, l, try parseUnary()), p) }
        return l
    }

    mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        let pos = cur.pos
        var node: Expr
        if isOp("-") || isOp("+") {
            let neg = isOp("-")
            advance()
            try enter(); defer { depth -= 1 }
            let inner = try parseUnary(withFilter: false)
            node = try mk(neg ? .neg(inner) : .pos(inner), pos)
        }
        else { node = try parsePrimary() }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    mutating func parsePrimary() throws -> Expr {
        let t = cur
        switch t.tok {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return try mk(.const(.bool(true)), t.pos)
            case "false", "False": return try mk(.const(.bool(false)), t.pos)
            case "none", "None": return try mk(.const(.none), t.pos)
            default: return try mk(.name(n), t.pos)
            }
        case .string(let s):
            advance()
            var buf = s
            while case .string(let more) = curTok { buf += more; advance() }
            return try mk(.const(.string(buf)), t.pos)
        case .int(let v): advance(); return try mk(.const(.int(v)), t.pos)
        case .float(let v): advance(); return try mk(.const(.float(v)), t.pos)
        case .op("("):
            advance()
            let e = try parseTuple(explicitParens: true)
            try expectOp(")")
            return e
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return try mk(.list(items), t.pos)
        case .op("{"):
            advance()
            var items: [(Expr, Expr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let k = try parseExpression()
                try expectOp(":")
                items.append((k, try parseExpression()))
            }
            try expectOp("}")
            return try mk(.dict(items), t.pos)
        default:
            throw fail("unexpected \(describe(t.tok))")
        }
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp(".") || isOp("[") { node = try parseSubscript(node) }
            else if isOp("(") { node = try parseCall(node) }
            else { return node }
        }
    }

    mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") { node = try parseFilter(node)! }
            else if isName("is") { node = try parseTest(node) }
            else if isOp("(") { node = try parseCall(node) }
            else { return node }
        }
    }

    mutating func parseSubscript(_ node: Expr) throws -> Expr {
        let pos = cur.pos
        if skipOp(".") {
            switch curTok {
            case .name(let n): advance(); return try mk(.getattr(node, n), pos)
            case .int(let v): advance(); return try mk(.getitem(node, try mk(.const(.int(v)), pos)), pos)
            default: throw fail("expected name or number")
            }
        }
        try expectOp("[")
        var args: [Expr] = []
        while !isOp("]") {
            if !args.isEmpty { try expectOp(",") }
            args.append(try parseSubscribed())
        }
        try expectOp("]")
        guard !args.isEmpty else { throw fail("expected subscript expression") }
        let arg = args.count == 1 ? args[0] : try mk(.tuple(args), pos)
        if case .slice(_, let a, let b, let c) = arg.kind { return try mk(.slice(node, a, b, c), pos) }
        return try mk(.getitem(node, arg), pos)
    }

    mutating func parseSubscribed() throws -> Expr {
        let pos = cur.pos
        var args: [Expr?] = []
        if isOp(":") { advance(); args = [nil] }
        else {
            let e = try parseExpression()
            if !isOp(":") { return e }
            advance(); args = [e]
        }
        if isOp(":") { args.append(nil) }
        else if !isOp("]") && !isOp(",") { args.append(try parseExpression()) }
        else { args.append(nil) }
        if isOp(":") {
            advance()
            if !isOp("]") && !isOp(",") { args.append(try parseExpression()) } else { args.append(nil) }
        } else { args.append(nil) }
        let dummy = try mk(.const(.none), pos)
        return try mk(.slice(dummy, args[0], args[1], args[2]), pos)
    }

    mutating func parseCallArgs() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        var needComma = false
        while !isOp(")") {
            if needComma { try expectOp(","); if isOp(")") { break } }
            if isOp("*") || isOp("**") { throw fail("*args / **kwargs in calls are not supported") }
            if case .name(let key) = curTok, look() == .op("=") {
                advance(); advance()
                kwargs.append((key, try parseExpression()))
            } else {
                if !kwargs.isEmpty { throw fail("Invalid argument syntax: positional argument after keyword argument") }
                args.append(try parseExpression())
            }
            needComma = true
        }
        try expectOp(")")
        return (args, kwargs)
    }

    mutating func parseCall(_ node: Expr) throws -> Expr {
        let pos = cur.pos
        let (a, k) = try parseCallArgs()
        return try mk(.call(node, a, k), pos)
    }

    mutating func parseFilter(_ start: Expr?, startInline: Bool = false) throws -> Expr? {
        var node = start
        var inline = startInline
        while isOp("|") || inline {
            if !inline { advance() }
            inline = false
            let pos = cur.pos
            var name = try expectName()
            while isOp(".") { advance(); name += "." + (try expectName()) }
            var args: [Expr] = [], kwargs: [(String, Expr)] = []
            if isOp("(") { (args, kwargs) = try parseCallArgs() }
            node = try mk(.filter(node, name, args, kwargs), pos)
        }
        return node
    }

    mutating func parseTest(_ node: Expr) throws -> Expr {
        let pos = cur.pos
        advance()  // 'is'
        let negated = skipName("not")
        var name = try expectName()
        while isOp(".") { advance(); name += "." + (try expectName()) }
        var args: [Expr] = [], kwargs: [(String, Expr)] = []
        if isOp("(") { (args, kwargs) = try parseCallArgs() }
        else {
            var takesArg = false
            switch curTok {
            case .name(let n): takesArg = !["else", "or", "and"].contains(n)
            case .string, .int, .float, .op("("), .op("["), .op("{"): takesArg = true
            default: break
            }
            if takesArg {
                if isName("is") { throw fail("You cannot chain multiple tests with is") }
                var a = try parsePrimary()
                a = try parsePostfix(a)
                args = [a]
            }
        }
        return try mk(.test(node, name, args, kwargs, negated: negated), pos)
    }
}

/// jinja2 rejects unknown filters and tests when compiling, except inside an `if` (test and branches) or an
/// inline if-expression of the same frame ("soft" frames), where they fail only if actually called.
/// Loop bodies, macros, call/filter/set blocks start a new, non-soft frame.
enum NameCheck {
    static func nodes(_ ns: [Node], soft: Bool) throws {
        for n in ns { try node(n, soft: soft) }
    }

    static func node(_ n: Node, soft: Bool) throws {
        switch n.kind {
        case .text, .breakLoop, .continueLoop: break
        case .output(let e): try expr(e, soft: soft)
        case .ifs(let branches, let orElse):
            for (c, b) in branches { try expr(c, soft: true); try nodes(b, soft: true) }
            try nodes(orElse, soft: true)
        case .forLoop(let target, let iter, let cond, let body, let orElse, _):
            try targetExprs(target, soft: soft)
            try expr(iter, soft: soft)
            if let c = cond { try expr(c, soft: false) }
            try nodes(body, soft: false)
            try nodes(orElse, soft: soft)
        case .set(let t, let e): try targetExprs(t, soft: soft); try expr(e, soft: soft)
        case .setBlock(let t, let filters, let body):
            try targetExprs(t, soft: soft)
            for f in filters { try expr(f, soft: soft) }
            try nodes(body, soft: false)
        case .macro(_, let params, let body):
            for p in params { if let d = p.defaultValue { try expr(d, soft: false) } }
            try nodes(body, soft: false)
        case .callBlock(let call, let params, let body):
            try expr(call, soft: soft)
            for p in params { if let d = p.defaultValue { try expr(d, soft: false) } }
            try nodes(body, soft: false)
        case .filterBlock(let filters, let body):
            for f in filters { try expr(f, soft: false) }
            try nodes(body, soft: false)
        case .with(let assigns, let body):
            for (t, e) in assigns { try targetExprs(t, soft: soft); try expr(e, soft: soft) }
            try nodes(body, soft: false)
        case .generation(let body): try nodes(body, soft: false)
        }
    }

    static func targetExprs(_ t: Target, soft: Bool) throws {
        switch t {
        case .name: break
        case .tuple(let ts): for x in ts { try targetExprs(x, soft: soft) }
        case .attr(let e, _): try expr(e, soft: soft)
        }
    }

    static func expr(_ e: Expr, soft: Bool) throws {
        switch e.kind {
        case .const, .name: break
        case .list(let a), .tuple(let a): for x in a { try expr(x, soft: soft) }
        case .dict(let p): for (k, v) in p { try expr(k, soft: soft); try expr(v, soft: soft) }
        case .getattr(let o, _): try expr(o, soft: soft)
        case .getitem(let o, let k): try expr(o, soft: soft); try expr(k, soft: soft)
        case .slice(let o, let a, let b, let c):
            try expr(o, soft: soft)
            for x in [a, b, c] { if let x = x { try expr(x, soft: soft) } }
        case .call(let f, let a, let k):
            try expr(f, soft: soft)
            for x in a { try expr(x, soft: soft) }
            for (_, x) in k { try expr(x, soft: soft) }
        case .filter(let i, let name, let a, let k):
            if !soft && !Filters.names.contains(name) { throw TemplateError.syntax("No filter named '\(name)'.", e.pos) }
            if let i = i { try expr(i, soft: soft) }
            for x in a { try expr(x, soft: soft) }
            for (_, x) in k { try expr(x, soft: soft) }
        case .test(let i, let name, let a, let k, _):
            if !soft && !Tests.names.contains(name) { throw TemplateError.syntax("No test named '\(name)'.", e.pos) }
            try expr(i, soft: soft)
            for x in a { try expr(x, soft: soft) }
            for (_, x) in k { try expr(x, soft: soft) }
        case .not(let x), .neg(let x), .pos(let x): try expr(x, soft: soft)
        case .binary(_, let l, let r), .and(let l, let r), .or(let l, let r): try expr(l, soft: soft); try expr(r, soft: soft)
        case .compare(let f, let ops): try expr(f, soft: soft); for (_, x) in ops { try expr(x, soft: soft) }
        case .cond(let t, let a, let b):
            try expr(t, soft: true); try expr(a, soft: true)
            if let b = b { try expr(b, soft: true) }
        }
    }
}
