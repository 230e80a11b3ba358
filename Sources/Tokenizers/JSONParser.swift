import Foundation

/// A small strict JSON parser producing `JSONDict`, `[Any]`, `String`, `Int`, `Double`, `Bool`
/// and `NSNull`. Used instead of JSONSerialization, which on Linux drops a U+FEFF at the start of
/// a string (a real vocabulary entry in some tokenizers), and to report errors with line and column.
struct JSONParser {
    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0
    private let name: String
    private var depth = 0

    static func parse(_ data: Data, name: String) throws -> Any {
        try data.withUnsafeBytes { raw in
            var p = JSONParser(b: raw.bindMemory(to: UInt8.self), name: name)
            // Skip a UTF-8 byte-order mark at the very start of the file.
            if p.b.count >= 3, p.b[0] == 0xEF, p.b[1] == 0xBB, p.b[2] == 0xBF { p.i = 3 }
            p.skipWS()
            let v = try p.value()
            p.skipWS()
            if p.i != p.b.count { throw p.error("unexpected data after the JSON value") }
            return v
        }
    }

    private init(b: UnsafeBufferPointer<UInt8>, name: String) {
        self.b = b
        self.name = name
    }

    private func error(_ msg: String) -> TokenizerError {
        var line = 1, col = 1
        for k in 0..<min(i, b.count) { if b[k] == 0x0A { line += 1; col = 1 } else { col += 1 } }
        return .unreadableFile(path: name, reason: "not valid JSON: \(msg) at line \(line), column \(col)")
    }

    private mutating func skipWS() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private mutating func value() throws -> Any {
        guard i < b.count else { throw error("unexpected end of file") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        case UInt8(ascii: "n"): try literal("null"); return NSNull()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        case UInt8(ascii: "N"): try literal("NaN"); return Double.nan
        default: throw error("unexpected character '\(Character(Unicode.Scalar(b[i])))'")
        }
    }

    private mutating func literal(_ s: String) throws {
        for u in s.utf8 {
            guard i < b.count, b[i] == u else { throw error("invalid literal (expected \(s))") }
            i += 1
        }
    }

    private mutating func object() throws -> JSONDict {
        depth += 1
        if depth > 512 { throw error("nesting too deep") }
        defer { depth -= 1 }
        i += 1
        var d = JSONDict()
        skipWS()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; d.finish(); return d }
        while true {
            skipWS()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let k = try string()
            skipWS()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWS()
            d.append(k, try value())
            skipWS()
            guard i < b.count else { throw error("unexpected end of file in an object") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; d.finish(); return d }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array() throws -> [Any] {
        depth += 1
        if depth > 512 { throw error("nesting too deep") }
        defer { depth -= 1 }
        i += 1
        var a: [Any] = []
        skipWS()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return a }
        while true {
            skipWS()
            a.append(try value())
            skipWS()
            guard i < b.count else { throw error("unexpected end of file in an array") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return a }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func string() throws -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\") { i += 1 }
        guard i < b.count else { throw error("unterminated string") }
        if b[i] == UInt8(ascii: "\"") {
            let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        var bytes = Array(b[start..<i])
        while true {
            guard i < b.count else { throw error("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw error("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800 && v < 0xDC00, i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let lo = try hex4()
                    if lo >= 0xDC00 && lo < 0xE000 { v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00) } else { i = save }
                }
                let u = Unicode.Scalar(v) ?? "\u{FFFD}"
                bytes.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("invalid escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func number() throws -> Any {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        if i < b.count, b[i] == UInt8(ascii: "I") { try literal("Infinity"); return b[start] == UInt8(ascii: "-") ? -Double.infinity : Double.infinity }
        var isInt = true
        while i < b.count {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 { i += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                isInt = false; i += 1; continue
            }
            break
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if isInt, let v = Int(text) { return v }
        guard let d = Double(text) else { throw error("invalid number \(text)") }
        return d
    }
}

/// A JSON object that keeps every key exactly (Swift `String` keys would merge canonically
/// equivalent ones, e.g. two vocabulary entries "Å" U+00C5 and U+212B) in file order.
/// Used while loading only (not thread-safe: the key index of a big object is built on first lookup).
struct JSONDict {
    private(set) var pairs: [(key: String, value: Any)] = []
    private var box = IndexBox()

    private final class IndexBox {
        var index: [TokenKey: Int]? = nil
    }

    mutating func append(_ k: String, _ v: Any) { pairs.append((k, v)) }

    func finish() {}

    var count: Int { pairs.count }

    /// Replaces (or adds) a key's value.
    mutating func set(_ key: String, _ value: Any) {
        if let i = pairs.lastIndex(where: { $0.key.utf8.elementsEqual(key.utf8) }) {
            pairs[i].value = value
        } else {
            pairs.append((key, value))
        }
        box = IndexBox()
    }

    /// The value of `key` (the last one when a key repeats, as serde does).
    subscript(key: String) -> Any? {
        if pairs.count <= 16 {
            for p in pairs.reversed() where p.key.utf8.elementsEqual(key.utf8) { return p.value }
            return nil
        }
        if box.index == nil {
            var idx: [TokenKey: Int] = [:]
            idx.reserveCapacity(pairs.count)
            for (n, p) in pairs.enumerated() { idx[TokenKey(p.key)] = n }
            box.index = idx
        }
        return box.index![TokenKey(key)].map { pairs[$0].value }
    }
}
