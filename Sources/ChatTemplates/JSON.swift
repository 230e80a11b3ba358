/// JSON in and out, the way Python's `json` module does it: key order kept, `1` an int and `1.0` a float.
public enum JSON {
    /// A JSON syntax error with its position.
    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public let line: Int
        public let column: Int
        public var description: String { "JSON error at line \(line), column \(column): \(message)" }
    }

    /// Parse JSON text into a `Value` (objects become ordered dicts).
    public static func parse(_ text: String, maxDepth: Int = 512) throws -> Value {
        var p = Parser(bytes: Array(text.utf8), maxDepth: maxDepth)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        if p.pos < p.bytes.count { throw p.error("extra data after the JSON value") }
        return v
    }

    struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var pos = 0

        func error(_ msg: String) -> ParseError {
            var line = 1, col = 1
            for b in bytes[0..<min(pos, bytes.count)] { if b == 10 { line += 1; col = 1 } else if b & 0xC0 != 0x80 { col += 1 } }
            return ParseError(message: msg, line: line, column: col)
        }

        mutating func skipWS() {
            while pos < bytes.count, bytes[pos] == 32 || bytes[pos] == 9 || bytes[pos] == 10 || bytes[pos] == 13 { pos += 1 }
        }

        mutating func literal(_ word: String, _ v: Value) throws -> Value {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else { throw error("invalid literal") }
            pos += w.count
            return v
        }

        mutating func value(depth: Int) throws -> Value {
            guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth)") }
            guard pos < bytes.count else { throw error("unexpected end of input, expected a value") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var d = PyDict()
                skipWS()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .dict(d) }
                while true {
                    skipWS()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                    let k = try string()
                    skipWS()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    pos += 1
                    skipWS()
                    d[.string(k)] = try value(depth: depth + 1)
                    skipWS()
                    guard pos < bytes.count else { throw error("unterminated object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .dict(d) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                pos += 1
                var a: [Value] = []
                skipWS()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .list(a) }
                while true {
                    skipWS()
                    a.append(try value(depth: depth + 1))
                    skipWS()
                    guard pos < bytes.count else { throw error("unterminated array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .list(a) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .none)
            case UInt8(ascii: "N"): return try literal("NaN", .float(.nan))
            case UInt8(ascii: "I"): return try literal("Infinity", .float(.infinity))
            default: return try number()
            }
        }

        mutating func number() throws -> Value {
            let start = pos
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") {
                pos += 1
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "I") { _ = try literal("Infinity", .none); return .float(-.infinity) }
            }
            var isFloat = false
            func digits(_ p: inout Int) -> Int { let s = p; while p < bytes.count, bytes[p] >= 48, bytes[p] <= 57 { p += 1 }; return p - s }
            guard digits(&pos) > 0 else { pos = start; throw error("expected a value") }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
                pos += 1; isFloat = true
                guard digits(&pos) > 0 else { throw error("expected digits after '.'") }
            }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
                pos += 1; isFloat = true
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
                guard digits(&pos) > 0 else { throw error("expected exponent digits") }
            }
            let text = String(decoding: bytes[start..<pos], as: UTF8.self)
            if !isFloat, let i = Int(text) { return .int(i) }
            guard let d = Double(text) else { throw error("invalid number \(text)") }
            return .float(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]; pos += 1
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw error("invalid \\u escape")
                }
                v = v * 16 + d
            }
            return v
        }

        mutating func string() throws -> String {
            pos += 1  // opening quote
            var out = [UInt8]()
            while true {
                guard pos < bytes.count else { throw error("unterminated string") }
                let c = bytes[pos]
                if c == UInt8(ascii: "\"") { pos += 1; break }
                if c < 0x20 { throw error("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
                pos += 1
                guard pos < bytes.count else { throw error("unterminated escape") }
                let e = bytes[pos]; pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(34)
                case UInt8(ascii: "\\"): out.append(92)
                case UInt8(ascii: "/"): out.append(47)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00, pos + 6 <= bytes.count, bytes[pos] == 92, bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) } else { pos = save }
                    }
                    // Lone surrogates cannot live in a Swift String: U+FFFD stands in.
                    let scalar = Unicode.Scalar(cp) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Python `json.dumps(x, ensure_ascii=, indent=, separators=, sort_keys=)`.
    static func dumps(_ v: Value, ensureASCII: Bool = false, indent: String? = nil,
                      separators: (String, String)? = nil, sortKeys: Bool = false) throws -> String {
        let seps = separators ?? (indent == nil ? (", ", ": ") : (",", ": "))
        var out = ""
        try write(v, into: &out, level: 0, ensureASCII: ensureASCII, indent: indent, seps: seps, sortKeys: sortKeys, depth: 0)
        return out
    }

    /// Serialise a value as JSON text (ensure_ascii false, compact `", "`/`": "` separators), as Python would.
    public static func encode(_ v: Value) throws -> String { try dumps(v) }

    static func writeString(_ s: String, into out: inout String, ensureASCII: Bool) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 { out += "\\u" + PyFormat.hex(u.value, 4) }
                else if ensureASCII && u.value > 0x7E {
                    if u.value >= 0x10000 {
                        let v = u.value - 0x10000
                        out += "\\u" + PyFormat.hex(0xD800 + (v >> 10), 4) + "\\u" + PyFormat.hex(0xDC00 + (v & 0x3FF), 4)
                    } else { out += "\\u" + PyFormat.hex(u.value, 4) }
                } else { out.unicodeScalars.append(u) }
            }
        }
        out += "\""
    }

    static func floatText(_ f: Double) -> String {
        if f.isNaN { return "NaN" }
        if f.isInfinite { return f < 0 ? "-Infinity" : "Infinity" }
        return PyFormat.floatRepr(f)
    }

    static func write(_ v: Value, into out: inout String, level: Int, ensureASCII: Bool, indent: String?,
                      seps: (String, String), sortKeys: Bool, depth: Int) throws {
        guard depth < 512 else { throw TemplateError.runtime("tojson: value nested too deeply") }
        func newline(_ lvl: Int) {
            if let ind = indent { out += "\n"; for _ in 0..<lvl { out += ind } }
        }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let f): out += floatText(f)
        case .string(let s), .markup(let s): writeString(s, into: &out, ensureASCII: ensureASCII)
        case .list(let a), .tuple(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            newline(level + 1)
            for (i, e) in a.enumerated() {
                if i > 0 { out += seps.0; newline(level + 1) }
                try write(e, into: &out, level: level + 1, ensureASCII: ensureASCII, indent: indent, seps: seps, sortKeys: sortKeys, depth: depth + 1)
            }
            newline(level)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            var items: [(String, Value)] = []
            for (k, val) in zip(d.keys, d.values) {
                let ks: String
                switch k {
                case .string(let s), .markup(let s): ks = s
                case .int(let i): ks = String(i)
                case .float(let f): ks = floatText(f)
                case .bool(let b): ks = b ? "true" : "false"
                case .none: ks = "null"
                default: throw TemplateError.runtime("tojson: keys must be str, int, float, bool or None, not \(k.typeName)")
                }
                items.append((ks, val))
            }
            if sortKeys { items.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } }
            out += "{"
            newline(level + 1)
            for (i, (k, val)) in items.enumerated() {
                if i > 0 { out += seps.0; newline(level + 1) }
                writeString(k, into: &out, ensureASCII: ensureASCII)
                out += seps.1
                try write(val, into: &out, level: level + 1, ensureASCII: ensureASCII, indent: indent, seps: seps, sortKeys: sortKeys, depth: depth + 1)
            }
            newline(level)
            out += "}"
        default:
            throw TemplateError.runtime("tojson: Object of type \(v.typeName) is not JSON serializable")
        }
    }
}
