/// How `JSONWriter` lays text out: Python's `json.dumps` options.
public struct JSONWriteOptions: Sendable {
    /// Python's `indent`: nil writes one line; a string puts each member on its own line, indented by it per level.
    public var indent: String? = nil
    /// Python's `separators` (item, key).
    public var itemSeparator: String = ","
    public var keySeparator: String = ":"
    /// Python's `ensure_ascii`: escape everything outside printable ASCII as `\uXXXX` (surrogate pairs above U+FFFF).
    public var ensureASCII: Bool = false
    /// Python's `sort_keys` (by code point, as Python compares `str`).
    public var sortKeys: Bool = false
    /// Write NaN and ±Infinity as Python does (`NaN`, `Infinity`; not valid JSON) instead of `null`.
    public var writeNonFiniteAsLiterals: Bool = false

    public init() {}

    /// Compact, UTF-8 as is: `serde_json::to_string` (what safetensors writes) and JSONL dumps. Non-finite → null.
    public static let compact = JSONWriteOptions()

    /// `json.dumps(value, ensure_ascii=, indent=, separators=, sort_keys=)` with Python's defaults: separators
    /// `(", ", ": ")`, or `(",", ": ")` when indenting; NaN/Infinity written as Python writes them.
    public static func python(indent: Int? = nil, ensureASCII: Bool = true, sortKeys: Bool = false,
                              separators: (String, String)? = nil) -> JSONWriteOptions {
        var o = JSONWriteOptions()
        o.indent = indent.map { String(repeating: " ", count: max(0, $0)) }
        let seps = separators ?? (indent == nil ? (", ", ": ") : (",", ": "))
        o.itemSeparator = seps.0
        o.keySeparator = seps.1
        o.ensureASCII = ensureASCII
        o.sortKeys = sortKeys
        o.writeNonFiniteAsLiterals = true
        return o
    }
}

/// Writes `JSONValue`s as JSON text, byte for byte as Python's `json.dumps` (or serde_json for `.compact`).
public enum JSONWriter {
    /// The value as compact JSON (`{"a":1,"b":[true,null]}`).
    public static func string(_ v: JSONValue) -> String { string(v, options: .compact) }

    public static func string(_ v: JSONValue, options: JSONWriteOptions) -> String {
        var out: [UInt8] = []
        append(v, to: &out, options: options)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends compact JSON to a String (dumps build lines this way).
    public static func write(_ v: JSONValue, into s: inout String) { s += string(v) }

    /// Appends a quoted, escaped string to a String.
    public static func writeString(_ str: String, into s: inout String) { s += string(.string(str)) }

    /// `[1,2,3]` for an id array, without building `JSONValue`s (dumps are mostly this).
    public static func intArray<S: Sequence>(_ a: S) -> String where S.Element: BinaryInteger {
        var s = "["
        var first = true
        for x in a { if !first { s += "," }; first = false; s += String(x) }
        return s + "]"
    }

    public static func append(_ v: JSONValue, to out: inout [UInt8], options: JSONWriteOptions = .compact) {
        var w = Writer(o: options)
        w.value(v, level: 0, into: &out)
    }

    public static func appendString(_ s: String, to out: inout [UInt8], options: JSONWriteOptions = .compact) {
        Writer(o: options).string(s, into: &out)
    }
}

private struct Writer {
    let o: JSONWriteOptions
    let item: [UInt8]
    let key: [UInt8]
    let indent: [UInt8]?

    init(o: JSONWriteOptions) {
        self.o = o
        item = Array(o.itemSeparator.utf8)
        key = Array(o.keySeparator.utf8)
        indent = o.indent.map { Array($0.utf8) }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    func newline(_ level: Int, into out: inout [UInt8]) {
        guard let indent else { return }
        out.append(0x0A)
        for _ in 0..<level { out.append(contentsOf: indent) }
    }

    mutating func value(_ v: JSONValue, level: Int, into out: inout [UInt8]) {
        switch v {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .bigInt(let t): out.append(contentsOf: t.utf8)
        case .double(let d):
            if d.isFinite { out.append(contentsOf: d.pythonRepr.utf8) }
            else if o.writeNonFiniteAsLiterals { out.append(contentsOf: (d.isNaN ? "NaN" : d < 0 ? "-Infinity" : "Infinity").utf8) }
            else { out.append(contentsOf: "null".utf8) }
        case .string(let s): string(s, into: &out)
        case .array(let a):
            if a.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            newline(level + 1, into: &out)
            for (n, e) in a.enumerated() {
                if n > 0 { out.append(contentsOf: item); newline(level + 1, into: &out) }
                value(e, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let obj):
            if obj.isEmpty { out.append(contentsOf: "{}".utf8); return }
            var members = obj.members
            if o.sortKeys { members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } }
            out.append(UInt8(ascii: "{"))
            newline(level + 1, into: &out)
            for (n, m) in members.enumerated() {
                if n > 0 { out.append(contentsOf: item); newline(level + 1, into: &out) }
                string(m.key, into: &out)
                out.append(contentsOf: key)
                value(m.value, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    func escape4(_ v: UInt32, into out: inout [UInt8]) {
        out.append(0x5C); out.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) { out.append(Writer.hex[Int((v >> UInt32(shift)) & 0xF)]) }
    }

    func string(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        if o.ensureASCII {
            for u in s.unicodeScalars {
                let c = u.value
                if c >= 0x20 && c < 0x7F {
                    if c == 0x22 || c == 0x5C { out.append(0x5C) }
                    out.append(UInt8(c))
                } else if c < 0x20 {
                    control(UInt8(c), into: &out)
                } else if c >= 0x10000 {
                    let v = c - 0x10000
                    escape4(0xD800 + (v >> 10), into: &out); escape4(0xDC00 + (v & 0x3FF), into: &out)
                } else {
                    escape4(c, into: &out)
                }
            }
        } else {
            for c in s.utf8 {
                if c == 0x22 || c == 0x5C { out.append(0x5C); out.append(c) }
                else if c < 0x20 { control(c, into: &out) }
                else { out.append(c) }
            }
        }
        out.append(0x22)
    }

    func control(_ c: UInt8, into out: inout [UInt8]) {
        switch c {
        case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        default: escape4(UInt32(c), into: &out)
        }
    }
}
