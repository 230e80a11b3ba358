import JSONCore

/// JSON in and out the way Python's `json` module does it (key order kept, `1` an int and `1.0` a float,
/// NaN/Infinity accepted), on top of JSONCore: template contexts in, `tojson` out.
public enum JSON {
    /// A JSON syntax error with its position (line, column, JSON path).
    public typealias ParseError = JSONParseError

    /// Parse JSON text into a `Value` (objects become ordered dicts), as `json.loads` would.
    public static func parse(_ text: String, maxDepth: Int = 512) throws -> Value {
        var o = JSONParseOptions.python
        o.maxDepth = maxDepth
        return value(try JSONParser.parse(text, options: o))
    }

    /// A parsed JSON value as a template value.
    public static func value(_ j: JSONValue) -> Value {
        switch j {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .float(d)
        case .bigInt(let t): return .float(Double(t) ?? .nan)   // the engine's ints are Int
        case .string(let s): return .string(s)
        case .array(let a): return .list(a.map(value))
        case .object(let o):
            var d = PyDict()
            for m in o { d[.string(m.key)] = value(m.value) }
            return .dict(d)
        }
    }

    /// Python `json.dumps(x, ensure_ascii=, indent=, separators=, sort_keys=)`.
    static func dumps(_ v: Value, ensureASCII: Bool = false, indent: String? = nil,
                      separators: (String, String)? = nil, sortKeys: Bool = false) throws -> String {
        var o = JSONWriteOptions.python(ensureASCII: ensureASCII, sortKeys: sortKeys,
                                        separators: separators ?? (indent == nil ? (", ", ": ") : (",", ": ")))
        o.indent = indent
        return JSONWriter.string(try json(v, depth: 0), options: o)
    }

    /// Serialise a value as JSON text (ensure_ascii false, `", "`/`": "` separators), as Python would.
    public static func encode(_ v: Value) throws -> String { try dumps(v) }

    /// A template value as JSON, with `json.dumps`'s rules: tuples are arrays, dict keys that are numbers, bools or
    /// None become strings, anything else is an error.
    static func json(_ v: Value, depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw TemplateError.runtime("tojson: value nested too deeply") }
        switch v {
        case .none: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let f): return .double(f)
        case .string(let s), .markup(let s): return .string(s)
        case .list(let a), .tuple(let a): return .array(try a.map { try json($0, depth: depth + 1) })
        case .dict(let d):
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(d.count)
            for (k, val) in zip(d.keys, d.values) {
                let ks: String
                switch k {
                case .string(let s), .markup(let s): ks = s
                case .int(let i): ks = String(i)
                case .float(let f): ks = f.isNaN ? "NaN" : f.isInfinite ? (f < 0 ? "-Infinity" : "Infinity") : f.pythonRepr
                case .bool(let b): ks = b ? "true" : "false"
                case .none: ks = "null"
                default: throw TemplateError.runtime("tojson: keys must be str, int, float, bool or None, not \(k.typeName)")
                }
                members.append((ks, try json(val, depth: depth + 1)))
            }
            return .object(JSONObject(members))
        default:
            throw TemplateError.runtime("tojson: Object of type \(v.typeName) is not JSON serializable")
        }
    }
}
