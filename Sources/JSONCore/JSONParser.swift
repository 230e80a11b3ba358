/// What the parser accepts beyond strict RFC 8259, and its limits for hostile input.
public struct JSONParseOptions: Sendable {
    /// Deepest nesting of arrays/objects accepted (checked before recursing, so no stack overflow).
    public var maxDepth: Int = 512
    /// Largest input accepted, in bytes (the parsed tree is O(input), so this bounds what parsing allocates).
    public var maxInputBytes: Int = 1 << 31
    /// `NaN`, `Infinity` and `-Infinity` as doubles (Python's `json.loads` reads and writes them).
    public var allowNonFinite: Bool = false
    /// A `\uD800`-`\uDFFF` escape without its partner: U+FFFD (what Python's lone surrogate becomes in a Swift
    /// `String`) when true, an error when false.
    public var replaceLoneSurrogates: Bool = true
    /// Skip a UTF-8 byte-order mark before the value (files saved by some editors start with one).
    public var skipByteOrderMark: Bool = true
    /// A key repeated in one object: false keeps the last value (Python, serde), true is an error.
    public var rejectDuplicateKeys: Bool = false

    public init() {}

    /// Python's `json.loads`: NaN/Infinity, lone surrogates, last duplicate wins; also skips a BOM.
    public static let python: JSONParseOptions = {
        var o = JSONParseOptions()
        o.allowNonFinite = true
        return o
    }()

    /// RFC 8259 only, for formats written by strict writers (safetensors headers): no NaN, no lone surrogates,
    /// no BOM, no repeated keys.
    public static let strict: JSONParseOptions = {
        var o = JSONParseOptions()
        o.replaceLoneSurrogates = false
        o.skipByteOrderMark = false
        o.rejectDuplicateKeys = true
        return o
    }()
}

/// A parse failure: what was wrong, where (1-based line and column in characters, byte offset) and in which
/// member (a JSON path such as `model.vocab["a b"]` or `[3].messages[0]`; empty at the top level).
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var line: Int
    public var column: Int
    public var offset: Int
    public var path: String

    public var description: String {
        "\(message) at line \(line), column \(column)" + (path.isEmpty ? "" : " (in `\(path)`)")
    }
}

/// Parses JSON text into `JSONValue`s.
public struct JSONParser {
    public static let maxDepth = JSONParseOptions().maxDepth

    public static func parse(_ text: String, options: JSONParseOptions = JSONParseOptions()) throws -> JSONValue {
        var t = text
        return try t.withUTF8 { try parse(UnsafeRawBufferPointer($0), options: options) }
    }

    public static func parse(bytes: [UInt8], options: JSONParseOptions = JSONParseOptions()) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0, options: options) }
    }

    public static func parse(_ buffer: UnsafeRawBufferPointer, options: JSONParseOptions = JSONParseOptions()) throws -> JSONValue {
        var p = Reader(b: buffer, options: options, wantRecords: false)
        return try p.document()
    }

    /// Parses a whole document and also returns, for the top-level array (key "") or for each array that is a
    /// member of the top-level object (key = that member's key), the 1-based line where each element starts,
    /// so that loaders can name the line of a bad record.
    public static func parseWithRecordLines(bytes: [UInt8], options: JSONParseOptions = JSONParseOptions()) throws
        -> (JSONValue, [String: [Int]]) {
        try bytes.withUnsafeBytes { raw in
            var p = Reader(b: raw, options: options, wantRecords: true)
            let v = try p.document()
            var lines: [String: [Int]] = [:]
            // Offsets grow within one array: one forward scan per array.
            for (k, offs) in p.elementOffsets {
                var line = 1, pos = 0
                var out: [Int] = []
                out.reserveCapacity(offs.count)
                for o in offs {
                    while pos < o && pos < raw.count { if raw[pos] == 0x0A { line += 1 }; pos += 1 }
                    out.append(line)
                }
                lines[k] = out
            }
            return (v, lines)
        }
    }
}

/// A member name or an array index, collected while an error unwinds.
private enum PathComponent {
    case key(String), index(Int)
}

private struct PathedError: Error {
    var message: String
    var offset: Int
    var path: [PathComponent]   // innermost first
}

private struct Reader {
    let b: UnsafeRawBufferPointer
    let options: JSONParseOptions
    var i = 0
    /// Record the element offsets of the top-level array, or of the arrays under the top-level object's keys.
    let wantRecords: Bool
    var topKey: String? = nil
    var elementOffsets: [String: [Int]] = [:]

    init(b: UnsafeRawBufferPointer, options: JSONParseOptions, wantRecords: Bool) {
        self.b = b
        self.options = options
        self.wantRecords = wantRecords
    }

    mutating func document() throws -> JSONValue {
        do {
            guard b.count <= options.maxInputBytes else {
                throw PathedError(message: "input of \(b.count) bytes exceeds the limit of \(options.maxInputBytes)", offset: 0, path: [])
            }
            if options.skipByteOrderMark, b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
            skipWS()
            let v = try value(depth: 0)
            skipWS()
            if i < b.count { throw fail("unexpected data after the JSON value") }
            return v
        } catch let e as PathedError {
            throw makeError(e)
        }
    }

    func makeError(_ e: PathedError) -> JSONParseError {
        var line = 1, col = 1
        var k = 0
        let end = min(e.offset, b.count)
        while k < end {
            let c = b[k]
            if c == 0x0A { line += 1; col = 1 } else if c & 0xC0 != 0x80 { col += 1 }
            k += 1
        }
        var path = ""
        // Outermost first; a path through hostile nesting keeps its first and last few steps.
        var components = Array(e.path.reversed())
        if components.count > 12 { components = Array(components[0..<5]) + [.key("…")] + Array(components.suffix(5)) }
        for c in components {
            switch c {
            case .index(let n): path += "[\(n)]"
            case .key(let s):
                let plain = s == "…" || !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F }
                if plain { path += path.isEmpty ? s : "." + s } else { path += "[" + JSONWriter.string(.string(s)) + "]" }
            }
        }
        return JSONParseError(message: e.message, line: line, column: col, offset: e.offset, path: path)
    }

    func fail(_ message: String) -> PathedError { PathedError(message: message, offset: i, path: []) }

    @inline(__always) mutating func skipWS() {
        while i < b.count {
            let c = b[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of file, expected a value") }
        switch b[i] {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N") where options.allowNonFinite: try literal("NaN"); return .double(.nan)
        case UInt8(ascii: "I") where options.allowNonFinite: try literal("Infinity"); return .double(.infinity)
        default:
            throw fail("unexpected character \(describe(b[i])), expected a value")
        }
    }

    func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: n)
        guard i + n <= b.count, (0..<n).allSatisfy({ b[i + $0] == w[$0] }) else {
            throw fail("invalid literal, expected '\(word)'")
        }
        i += n
    }

    mutating func object(depth: Int) throws -> JSONValue {
        guard depth <= options.maxDepth else { throw fail("nesting too deep: nested deeper than \(options.maxDepth) levels") }
        i += 1
        var obj = JSONObject()
        skipWS()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        // Repeats are looked for per insert while the object is small or must be rejected where they occur;
        // a large object (a vocabulary) is indexed once at its end.
        let checkEach = options.rejectDuplicateKeys
        while true {
            skipWS()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key in an object") }
            let keyStart = i
            let key = try string()
            skipWS()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':' after the key") }
            i += 1
            skipWS()
            if depth == 1, wantRecords { topKey = key }
            let v: JSONValue
            do { v = try value(depth: depth) } catch var e as PathedError { e.path.append(.key(key)); throw e }
            if checkEach || obj.count < JSONObject.indexThreshold {
                if !obj.set(key, v), checkEach {
                    throw PathedError(message: "key \(JSONWriter.string(.string(key))) appears twice in an object", offset: keyStart, path: [])
                }
            } else {
                obj.appendUnchecked(key, v)
            }
            skipWS()
            guard i < b.count else { throw fail("unexpected end of file inside an object") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; obj.finishParsing(); return .object(obj) }
            throw fail("expected ',' or '}' in an object")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        guard depth <= options.maxDepth else { throw fail("nesting too deep: nested deeper than \(options.maxDepth) levels") }
        i += 1
        var arr: [JSONValue] = []
        skipWS()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
        let record: String? = !wantRecords ? nil : (depth == 1 ? "" : (depth == 2 ? topKey : nil))
        while true {
            skipWS()
            if let k = record { elementOffsets[k, default: []].append(i) }
            do { arr.append(try value(depth: depth)) } catch var e as PathedError { e.path.append(.index(arr.count)); throw e }
            skipWS()
            guard i < b.count else { throw fail("unexpected end of file inside an array") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
            throw fail("expected ',' or ']' in an array")
        }
    }

    mutating func number() throws -> JSONValue {
        let start = i
        var negative = false
        if b[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
            if options.allowNonFinite, i < b.count, b[i] == UInt8(ascii: "I") { try literal("Infinity"); return .double(-.infinity) }
        }
        guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw fail("invalid number: expected a digit") }
        // Integer part, accumulated negatively so that Int.min fits.
        var acc = 0
        var overflow = false
        if b[i] == 0x30 {
            i += 1
            if i < b.count, b[i] >= 0x30, b[i] <= 0x39 { throw fail("invalid number: leading zero") }
        } else {
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                let (m, o1) = acc.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.subtractingReportingOverflow(Int(b[i] &- 0x30))
                overflow = overflow || o1 || o2
                acc = s
                i += 1
            }
        }
        var isInt = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1; isInt = false
            guard digits() > 0 else { throw fail("invalid number: expected digits after '.'") }
        }
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1; isInt = false
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("invalid number: expected digits in the exponent") }
        }
        if isInt {
            if !overflow {
                if negative { return .int(acc) }
                if acc != Int.min { return .int(-acc) }
            }
            return .bigInt(text(start))
        }
        guard let d = Double(text(start)) else { throw PathedError(message: "invalid number", offset: start, path: []) }
        return .double(d)
    }

    @inline(__always) mutating func digits() -> Int {
        let s = i
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        return i - s
    }

    func text(_ start: Int) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self) }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Reads a string starting at its opening quote. Invalid UTF-8 is repaired (U+FFFD), as `String(decoding:)` does.
    mutating func string() throws -> String {
        i += 1
        let start = i
        // Fast path: a run without escapes becomes the String directly.
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            i += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: b[start..<i]))
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("unescaped control character (byte 0x\(String(c, radix: 16))) in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw fail("unterminated escape") }
            let e = b[i]
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
                if cp >= 0xD800 && cp < 0xDC00 {
                    let save = i
                    var paired = false
                    if i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); paired = true } else { i = save }
                    }
                    if !paired {
                        guard options.replaceLoneSurrogates else { throw fail("lone high surrogate in a \\u escape") }
                        cp = 0xFFFD
                    }
                } else if cp >= 0xDC00 && cp < 0xE000 {
                    guard options.replaceLoneSurrogates else { throw fail("lone low surrogate in a \\u escape") }
                    cp = 0xFFFD
                }
                appendUTF8(cp, to: &out)
            default:
                throw fail("invalid escape \\\(describe(e))")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
        switch cp {
        case 0..<0x80: out.append(UInt8(cp))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (cp >> 6))); out.append(UInt8(0x80 | (cp & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (cp >> 12))); out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (cp >> 18))); out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }
}
