/// Jinja's `is` tests.
enum Tests {
    static let names: Set<String> = [
        "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "<",
        "lessthan", "le", "<=", "gt", ">", "greaterthan", "ge", ">=", "in", "sameas", "lower", "upper", "escaped",
        "filter", "test",
    ]

    static func arg(_ name: String, _ args: [Value], _ kw: [(String, Value)]) throws -> Value {
        if let a = args.first { return a }
        if let k = kw.first { return k.1 }
        throw TemplateError.runtime("test '\(name)' needs an argument")
    }

    static func int(_ name: String, _ v: Value) throws -> Int {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .undefined(let u): throw TemplateError(.undefined, u.message)
        case .float(let f) where f == f.rounded() && abs(f) < 1e18: return Int(f)
        default: throw TemplateError.runtime("test '\(name)': expected a number, got \(v.typeName)")
        }
    }

    static func run(_ name: String, _ v: Value, _ args: [Value], _ kw: [(String, Value)], _ interp: Interpreter) throws -> Bool {
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v.isNone
        case "boolean": if case .bool = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "integer": if case .int = v { return true }; return false
        case "float": if case .float = v { return true }; return false
        case "number": return numeric(v) != nil
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "iterable":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            case .object(let o): return o is SeqObject
            default: return false
            }
        case "sequence":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            case .object(let o as SeqObject): return o.isRange
            default: return false
            }
        case "callable":
            switch v {
            case .callable: return true
            case .object(let o): return o is Builtins.Cycler ? false : false
            default: return false
            }
        case "odd": return try int(name, v) % 2 != 0
        case "even": return try int(name, v) % 2 == 0
        case "divisibleby":
            let d = try int(name, try arg(name, args, kw))
            if d == 0 { throw TemplateError.runtime("integer division or modulo by zero") }
            return try int(name, v) % d == 0
        case "eq", "equalto", "==": return pyEquals(v, try arg(name, args, kw))
        case "ne", "!=": return !pyEquals(v, try arg(name, args, kw))
        case "lt", "<", "lessthan": return try Ops.less(v, try arg(name, args, kw))
        case "gt", ">", "greaterthan": return try Ops.less(try arg(name, args, kw), v, ">")
        case "le", "<=": return try !Ops.less(try arg(name, args, kw), v, "<=")
        case "ge", ">=": return try !Ops.less(v, try arg(name, args, kw), ">=")
        case "in": return try Ops.contains(try arg(name, args, kw), v)
        case "sameas":
            let o = try arg(name, args, kw)
            switch (v, o) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.object(let a), .object(let b)): return a === b
            case (.int(let a), .int(let b)): return a == b && a >= -5 && a <= 256
            default: return false
            }
        case "lower":
            guard case .string(let s) = PyFormat.str(v).isEmpty ? Value.string("") : .string(PyFormat.str(v)) else { return false }
            return try Methods.stringMethod(s, "islower", [], [], interp)?.truthy ?? false
        case "upper":
            return try Methods.stringMethod(PyFormat.str(v), "isupper", [], [], interp)?.truthy ?? false
        case "escaped": return false
        case "filter":
            guard case .string(let s) = v else { return false }
            return Filters.names.contains(s)
        case "test":
            guard case .string(let s) = v else { return false }
            return names.contains(s)
        default:
            throw TemplateError.runtime("No test named '\(name)'.")
        }
    }
}
