/// Any failure to parse or render a template. Carries the template line and column where known.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The template text is not valid Jinja.
        case syntax
        /// An operation failed while rendering (bad types, missing values...).
        case runtime
        /// An undefined value was used in a way Jinja forbids.
        case undefined
        /// The sandbox refused an operation (e.g. mutating a list).
        case security
        /// The template called `raise_exception(message)`.
        case raised
        /// A safety bound (output size, loop iterations, recursion depth) was exceeded.
        case limit
    }
    public var kind: Kind
    public var message: String
    /// 1-based line in the template, if known.
    public var line: Int?
    /// 1-based column (in characters) in the template, if known.
    public var column: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind; self.message = message; self.line = line; self.column = column
    }

    static func runtime(_ m: String) -> TemplateError { TemplateError(.runtime, m) }
    static func syntax(_ m: String, _ pos: SourcePos) -> TemplateError { TemplateError(.syntax, m, line: Int(pos.line), column: pos.column) }

    public var description: String {
        let what: String
        switch kind {
        case .raised: what = "template raised an exception"
        case .syntax: what = "template syntax error"
        case .limit: what = "template limit exceeded"
        case .security: what = "template security error"
        case .undefined: what = "template undefined error"
        case .runtime: what = "template error"
        }
        if let l = line { return "\(what) at line \(l), column \(column ?? 0): \(message)" }
        return "\(what): \(message)"
    }
}

/// A position in the template source (1-based).
struct SourcePos {
    var line: Int32
    var col: Int32
    init(line: Int, column: Int) { self.line = Int32(truncatingIfNeeded: line); self.col = Int32(truncatingIfNeeded: column) }
    var line_: Int { Int(line) }
    var column: Int { Int(col) }
}

extension TemplateError {
    func at(_ p: SourcePos) -> TemplateError {
        if line != nil { return self }
        var e = self; e.line = Int(p.line); e.column = Int(p.col); return e
    }
}
