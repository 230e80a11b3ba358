import Foundation

/// A dataset cell: the JSON data model (what JSONL/JSON records hold; CSV and text cells are strings).
///
/// Integers are kept apart from doubles so that ids and counts round-trip exactly; objects keep their key order
/// because column order is what users see in previews and dumps.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }

    /// Name of the JSON type, for error messages ("expected a string, found an array").
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Text a formatting template shows for this value: strings as is, everything else as compact JSON.
    public var displayText: String {
        switch self {
        case .string(let s): return s
        case .null: return ""
        default: return JSONWriter.string(self)
        }
    }

    public subscript(key: String) -> JSONValue? { objectValue?[key] }
}

/// An insertion-ordered JSON object.
public struct JSONObject: Hashable, Sendable, Sequence {
    public private(set) var keys: [String] = []
    private var storage: [String: JSONValue] = [:]

    public init() {}
    public init(_ pairs: [(String, JSONValue)]) { for (k, v) in pairs { self[k] = v } }

    public subscript(key: String) -> JSONValue? {
        get { storage[key] }
        set {
            if let v = newValue {
                if storage.updateValue(v, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var count: Int { keys.count }
    public func makeIterator() -> AnyIterator<(key: String, value: JSONValue)> {
        var i = 0
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], storage[keys[i]]!)
        }
    }
}

/// A parse failure with its position (1-based line and column inside the parsed text).
public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var line: Int
    public var column: Int
    public var description: String { "\(message) at line \(line), column \(column)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes with positions in its errors; nesting is capped so hostile input
/// cannot exhaust the stack.
public struct JSONParser {
    public static let maxDepth = 512

    private let bytes: [UInt8]
    private var i = 0
    /// Byte offsets of the elements of the top-level array (key "") or of arrays that are values of the top-level
    /// object (key = that key): lets loaders name the line of each record.
    private var elementOffsets: [String: [Int]] = [:]
    private var topKey: String? = nil

    /// Parses a whole document and also returns, for the top-level array (key "") or each array under a top-level
    /// key, the 1-based line where each element starts.
    public static func parseWithRecordLines(bytes: [UInt8]) throws -> (JSONValue, [String: [Int]]) {
        var p = JSONParser(bytes: bytes)
        let v = try p.parseDocument()
        var lines: [String: [Int]] = [:]
        // Offsets grow within one array; convert each list with one forward scan.
        for (k, offs) in p.elementOffsets {
            var line = 1, pos = 0
            var out: [Int] = []
            out.reserveCapacity(offs.count)
            for o in offs {
                while pos < o && pos < bytes.count { if bytes[pos] == 0x0A { line += 1 }; pos += 1 }
                out.append(line)
            }
            lines[k] = out
        }
        return (v, lines)
    }

    public static func parse(_ text: String) throws -> JSONValue {
        var p = JSONParser(bytes: Array(text.utf8))
        return try p.parseDocument()
    }

    public static func parse(bytes: [UInt8]) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        return try p.parseDocument()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func parseDocument() throws -> JSONValue {
        // Skip a UTF-8 byte-order mark.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        skipWS()
        let v = try parseValue(depth: 0)
        skipWS()
        if i < bytes.count { throw error("unexpected characters after the JSON value") }
        return v
    }

    private func error(_ message: String) -> JSONParseError {
        var line = 1, col = 1
        var k = 0
        while k < min(i, bytes.count) {
            if bytes[k] == 0x0A { line += 1; col = 1 } else if bytes[k] & 0xC0 != 0x80 { col += 1 }
            k += 1
        }
        return JSONParseError(message: message, line: line, column: col)
    }

    private mutating func skipWS() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth) levels") }
        guard i < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[i])))', expected a value")
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("invalid literal, expected '\(word)'") }
        i += w.count
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        i += 1
        var obj = JSONObject()
        skipWS()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a quoted key in object") }
            let key = try parseString()
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
            i += 1
            skipWS()
            if depth == 0 { topKey = key }
            obj[key] = try parseValue(depth: depth + 1)
            skipWS()
            guard i < bytes.count else { throw error("unexpected end of input inside an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            throw error("expected ',' or '}' in object")
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        i += 1
        var arr: [JSONValue] = []
        skipWS()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
        let recordKey: String? = depth == 0 ? "" : (depth == 1 ? topKey : nil)
        while true {
            skipWS()
            if let k = recordKey { elementOffsets[k, default: []].append(i) }
            arr.append(try parseValue(depth: depth + 1))
            skipWS()
            guard i < bytes.count else { throw error("unexpected end of input inside an array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
            throw error("expected ',' or ']' in array")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    private mutating func parseString() throws -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("unescaped control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw error("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var cp = try hex4()
                if (0xD800..<0xDC00).contains(cp) {
                    // A high surrogate must be followed by a low one; a lone surrogate becomes U+FFFD like Python's replace.
                    if i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let lo = try hex4()
                        if (0xDC00..<0xE000).contains(lo) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) } else { i = save; cp = 0xFFFD }
                    } else { cp = 0xFFFD }
                } else if (0xDC00..<0xE000).contains(cp) { cp = 0xFFFD }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(cp) ?? "\u{FFFD}")).utf8))
            default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        var isInt = true
        func digits() -> Int { var n = 0; while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1; n += 1 }; return n }
        guard digits() > 0 else { throw error("invalid number") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") { i += 1; isInt = false; guard digits() > 0 else { throw error("invalid number: digits expected after '.'") } }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1; isInt = false
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw error("invalid number: digits expected in exponent") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInt, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw error("invalid number '\(text)'") }
        return .double(d)
    }
}

/// Compact JSON serialisation (used for dumps and for showing non-string cells).
public enum JSONWriter {
    public static func string(_ v: JSONValue) -> String {
        var s = ""
        write(v, into: &s)
        return s
    }

    public static func write(_ v: JSONValue, into s: inout String) {
        switch v {
        case .null: s += "null"
        case .bool(let b): s += b ? "true" : "false"
        case .int(let n): s += String(n)
        case .double(let d): s += d.isFinite ? (d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) + ".0" : String(d)) : "null"
        case .string(let str): writeString(str, into: &s)
        case .array(let a):
            s += "["
            for (k, e) in a.enumerated() { if k > 0 { s += "," }; write(e, into: &s) }
            s += "]"
        case .object(let o):
            s += "{"
            var first = true
            for (k, e) in o { if !first { s += "," }; first = false; writeString(k, into: &s); s += ":"; write(e, into: &s) }
            s += "}"
        }
    }

    public static func writeString(_ str: String, into s: inout String) {
        s += "\""
        for u in str.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if u.value < 0x20 { s += String(format: "\\u%04x", u.value) } else { s.unicodeScalars.append(u) }
            }
        }
        s += "\""
    }

    /// `[1,2,3]` for an id array, without building `JSONValue`s (dumps are mostly this).
    public static func intArray<S: Sequence>(_ a: S) -> String where S.Element: BinaryInteger {
        var s = "["
        var first = true
        for x in a { if !first { s += "," }; first = false; s += String(x) }
        return s + "]"
    }
}
