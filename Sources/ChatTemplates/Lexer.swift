/// Python `str.isspace()` (also what `\s` matches in Python's `re` on str).
@inline(__always)
func isPyWhitespace(_ u: Unicode.Scalar) -> Bool {
    let v = u.value
    if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) || (v >= 0x1C && v <= 0x1F) }
    switch v {
    case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
}

enum Tok: Equatable {
    case data(String)
    case varBegin, varEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case int(Int)
    case float(Double)
    case op(String)
    case eof
}

struct Token {
    var tok: Tok
    var pos: SourcePos
}

/// Splits template source into text and tag tokens exactly as jinja2's lexer does with
/// `trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False`.
struct Lexer {
    let src: [UInt8]
    var lineStarts: [Int] = [0]
    var tokens: [Token] = []

    init(_ source: String) {
        // jinja2 normalises \r\n and \r to \n, then drops one trailing newline.
        var b = [UInt8](); b.reserveCapacity(source.utf8.count)
        var it = source.utf8.makeIterator()
        var pending: UInt8? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if c == 13 {
                b.append(10)
                if let n = it.next(), n != 10 { pending = n }
            } else { b.append(c) }
        }
        if b.last == 10 { b.removeLast() }
        src = b
        for (i, c) in src.enumerated() where c == 10 { lineStarts.append(i + 1) }
    }

    // Tokens are produced left to right: resume the column count from the previous position.
    var cacheOffset = 0, cacheLine = 1, cacheCol = 1

    mutating func position(_ offset: Int) -> SourcePos {
        if offset >= cacheOffset && offset <= src.count {
            var i = cacheOffset, line = cacheLine, col = cacheCol
            while i < offset {
                if src[i] == 10 { line += 1; col = 1 } else if src[i] & 0xC0 != 0x80 { col += 1 }
                i += 1
            }
            cacheOffset = offset; cacheLine = line; cacheCol = col
            return SourcePos(line: line, column: col)
        }
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi { let mid = (lo + hi + 1) / 2; if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 } }
        var col = 1
        var i = lineStarts[lo]
        while i < min(offset, src.count) { if src[i] & 0xC0 != 0x80 { col += 1 }; i += 1 }
        return SourcePos(line: lo + 1, column: col)
    }

    mutating func fail(_ msg: String, _ offset: Int) -> TemplateError { .syntax(msg, position(offset)) }

    @inline(__always) func at(_ i: Int, _ c: Character) -> Bool { i < src.count && src[i] == c.asciiValue! }

    func scalar(at i: Int) -> (Unicode.Scalar, Int) {
        let c = src[i]
        if c < 0x80 { return (Unicode.Scalar(c), 1) }
        var n = 1
        if c >= 0xF0 { n = 4 } else if c >= 0xE0 { n = 3 } else if c >= 0xC0 { n = 2 }
        n = min(n, src.count - i)
        var v: UInt32 = c >= 0xF0 ? UInt32(c & 0x07) : c >= 0xE0 ? UInt32(c & 0x0F) : UInt32(c & 0x1F)
        for k in 1..<max(n, 1) { v = (v << 6) | UInt32(src[i + k] & 0x3F) }
        return (Unicode.Scalar(v) ?? "\u{FFFD}", n)
    }

    func skipWS(_ i: Int) -> Int {
        var p = i
        while p < src.count { let (u, n) = scalar(at: p); if isPyWhitespace(u) { p += n } else { break } }
        return p
    }

    func text(_ a: Int, _ b: Int) -> String { String(decoding: src[a..<b], as: UTF8.self) }

    /// Apply the whitespace control of the tag that follows `text` (`-` strips, else lstrip_blocks).
    func controlled(textStart: Int, textEnd: Int, sign: UInt8?, isVariable: Bool, lineStarting: Bool) -> Int {
        if sign == UInt8(ascii: "-") {
            var e = textEnd
            while e > textStart {
                var s = e - 1
                while s > textStart && src[s] & 0xC0 == 0x80 { s -= 1 }
                if isPyWhitespace(scalar(at: s).0) { e = s } else { break }
            }
            return e
        }
        if sign != UInt8(ascii: "+") && !isVariable {
            var lpos = textStart
            var i = textEnd
            while i > textStart { if src[i - 1] == 10 { lpos = i; break }; i -= 1 }
            if lpos > textStart || lineStarting {
                if lpos < textEnd && skipWS(lpos) == textEnd { return lpos }
            }
        }
        return textEnd
    }

    mutating func emitData(_ a: Int, _ b: Int) {
        if b > a { tokens.append(Token(tok: .data(text(a, b)), pos: position(a))) }
    }

    /// Tokenise the whole source.
    mutating func run() throws -> [Token] {
        var pos = 0
        var lineStarting = true
        let n = src.count
        while pos < n {
            // Find the next tag start.
            var t = pos
            var kind: UInt8 = 0
            while t + 1 < n {
                if src[t] == UInt8(ascii: "{") {
                    let c = src[t + 1]
                    if c == UInt8(ascii: "%") || c == UInt8(ascii: "{") || c == UInt8(ascii: "#") { kind = c; break }
                }
                t += 1
            }
            if kind == 0 { emitData(pos, n); break }
            var p = t + 2
            var sign: UInt8? = nil
            if p < n, src[p] == UInt8(ascii: "-") || src[p] == UInt8(ascii: "+") { sign = src[p]; p += 1 }
            // Raw block?
            if kind == UInt8(ascii: "%") {
                let q = skipWS(p)
                if q + 3 <= n, text(q, q + 3) == "raw" {
                    let r = skipWS(q + 3)
                    var bodyStart = -1
                    if at(r, "-") && at(r + 1, "%") && at(r + 2, "}") { bodyStart = skipWS(r + 3) }
                    else if at(r, "%") && at(r + 1, "}") { bodyStart = r + 2 }
                    if bodyStart >= 0 {
                        let e = controlled(textStart: pos, textEnd: t, sign: sign, isVariable: false, lineStarting: lineStarting)
                        emitData(pos, e)
                        lineStarting = src[bodyStart - 1] == 10
                        pos = try lexRaw(from: bodyStart, lineStarting: lineStarting, startOffset: t)
                        lineStarting = pos > 0 && src[pos - 1] == 10
                        continue
                    }
                }
            }
            let e = controlled(textStart: pos, textEnd: t, sign: sign, isVariable: kind == UInt8(ascii: "{"), lineStarting: lineStarting)
            emitData(pos, e)
            switch kind {
            case UInt8(ascii: "#"):
                // Comment: find -#}, +#} or #}.
                var i = p
                var end = -1
                while i + 1 < n {
                    if src[i] == UInt8(ascii: "+") || src[i] == UInt8(ascii: "-"), i + 2 < n, src[i + 1] == UInt8(ascii: "#"), src[i + 2] == UInt8(ascii: "}") {
                        end = src[i] == UInt8(ascii: "-") ? skipWS(i + 3) : i + 3
                        break
                    }
                    if src[i] == UInt8(ascii: "#") && src[i + 1] == UInt8(ascii: "}") {
                        end = i + 2
                        if end < n && src[end] == 10 { end += 1 }
                        break
                    }
                    i += 1
                }
                if end < 0 { throw fail("Missing end of comment tag", t) }
                pos = end
            default:
                let isVar = kind == UInt8(ascii: "{")
                tokens.append(Token(tok: isVar ? .varBegin : .blockBegin, pos: position(t)))
                pos = try lexTag(from: p, isVariable: isVar, tagStart: t)
            }
            lineStarting = pos > 0 && src[pos - 1] == 10
        }
        tokens.append(Token(tok: .eof, pos: position(n)))
        return tokens
    }

    mutating func lexRaw(from start: Int, lineStarting: Bool, startOffset: Int) throws -> Int {
        var i = start
        let n = src.count
        while i + 1 < n {
            if src[i] == UInt8(ascii: "{") && src[i + 1] == UInt8(ascii: "%") {
                var p = i + 2
                var sign: UInt8? = nil
                if p < n, src[p] == UInt8(ascii: "-") || src[p] == UInt8(ascii: "+") { sign = src[p]; p += 1 }
                let q = skipWS(p)
                if q + 6 <= n, text(q, q + 6) == "endraw" {
                    let r = skipWS(q + 6)
                    var end = -1
                    if at(r, "+") && at(r + 1, "%") && at(r + 2, "}") { end = r + 3 }
                    else if at(r, "-") && at(r + 1, "%") && at(r + 2, "}") { end = skipWS(r + 3) }
                    else if at(r, "%") && at(r + 1, "}") { end = r + 2; if end < n && src[end] == 10 { end += 1 } }
                    if end >= 0 {
                        let e = controlled(textStart: start, textEnd: i, sign: sign, isVariable: false, lineStarting: lineStarting)
                        emitData(start, e)
                        return end
                    }
                }
            }
            i += 1
        }
        throw fail("Missing end of raw directive", startOffset)
    }

    static let ops3: [String] = []
    static let ops2: Set<String> = ["//", "**", "==", "!=", ">=", "<="]
    static let ops1: Set<UInt8> = Set("+-/*%~[](){}><=.:|,;".utf8)

    static func isOp2(_ a: UInt8, _ b: UInt8) -> Bool {
        switch (a, b) {
        case (47, 47), (42, 42), (61, 61), (33, 61), (62, 61), (60, 61): return true  // // ** == != >= <=
        default: return false
        }
    }

    func isDigit(_ i: Int) -> Bool { i < src.count && src[i] >= 48 && src[i] <= 57 }

    /// Digits with single underscores between them (`1_000`); returns the end, or `i` if none.
    func digitRun(_ i: Int) -> Int {
        var p = i
        guard isDigit(p) else { return i }
        while true {
            while isDigit(p) { p += 1 }
            if p + 1 < src.count && src[p] == UInt8(ascii: "_") && isDigit(p + 1) { p += 1; continue }
            return p
        }
    }

    mutating func lexTag(from start: Int, isVariable: Bool, tagStart: Int) throws -> Int {
        var i = start
        let n = src.count
        var balance: [UInt8] = []
        while true {
            guard i < n else { throw fail(isVariable ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", tagStart) }
            // End of tag (only when brackets balance).
            if balance.isEmpty {
                let close = isVariable ? UInt8(ascii: "}") : UInt8(ascii: "%")
                if src[i] == close && at(i + 1, "}") {
                    var end = i + 2
                    if !isVariable && end < n && src[end] == 10 { end += 1 }  // trim_blocks
                    tokens.append(Token(tok: isVariable ? .varEnd : .blockEnd, pos: position(i)))
                    return end
                }
                if (src[i] == UInt8(ascii: "-") || (!isVariable && src[i] == UInt8(ascii: "+"))) && i + 2 < n && src[i + 1] == close && src[i + 2] == UInt8(ascii: "}") {
                    let end = src[i] == UInt8(ascii: "-") ? skipWS(i + 3) : i + 3
                    tokens.append(Token(tok: isVariable ? .varEnd : .blockEnd, pos: position(i)))
                    return end
                }
            }
            let (u, len) = scalar(at: i)
            if isPyWhitespace(u) { i += len; continue }
            let pos = position(i)
            let c = src[i]
            // Float: digits ( .digits )? e[+-]digits | digits .digits ; not right after a '.'
            if isDigit(i) {
                let afterDot = i > 0 && src[i - 1] == UInt8(ascii: ".")
                let d1 = digitRun(i)
                if !afterDot {
                    var p = d1
                    var isFloat = false
                    if at(p, ".") && isDigit(p + 1) { p = digitRun(p + 1); isFloat = true }
                    if p < n && (src[p] == UInt8(ascii: "e") || src[p] == UInt8(ascii: "E")) {
                        var q = p + 1
                        if q < n && (src[q] == UInt8(ascii: "+") || src[q] == UInt8(ascii: "-")) { q += 1 }
                        if isDigit(q) { p = digitRun(q); isFloat = true }
                        else if isFloat { /* 1.5e without digits: float ends before e */ }
                    }
                    if isFloat {
                        let t = String(decoding: src[i..<p].filter { $0 != 95 }, as: UTF8.self)
                        guard let d = Double(t) else { throw fail("invalid float literal \(t)", i) }
                        tokens.append(Token(tok: .float(d), pos: pos)); i = p; continue
                    }
                }
                // Integer (with 0b/0o/0x prefixes).
                if c == UInt8(ascii: "0"), i + 1 < n, let radix = ["b": 2, "o": 8, "x": 16][Character(Unicode.Scalar(src[i + 1] | 0x20))] {
                    var p = i + 2
                    var digits = ""
                    while p < n {
                        let ch = Character(Unicode.Scalar(src[p]))
                        if ch == "_" { p += 1; continue }
                        if ch.hexDigitValue.map({ $0 < radix }) == true { digits.append(ch); p += 1 } else { break }
                    }
                    if !digits.isEmpty {
                        guard let v = Int(digits, radix: radix) else { throw fail("integer literal too large", i) }
                        tokens.append(Token(tok: .int(v), pos: pos)); i = p; continue
                    }
                }
                let t = String(decoding: src[i..<d1].filter { $0 != 95 }, as: UTF8.self)
                guard let v = Int(t) else { throw fail("integer literal too large: \(t)", i) }
                tokens.append(Token(tok: .int(v), pos: pos)); i = d1; continue
            }
            // Name (ASCII fast path).
            if u == "_" || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 0x80 && u.properties.isXIDStart) {
                var p = i + len
                while p < n {
                    let b = src[p]
                    if b == 95 || (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) { p += 1; continue }
                    if b < 0x80 { break }
                    let (w, l) = scalar(at: p); if w.properties.isXIDContinue { p += l } else { break }
                }
                tokens.append(Token(tok: .name(text(i, p)), pos: pos)); i = p; continue
            }
            // String.
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                var p = i + 1
                while p < n && src[p] != c { if src[p] == UInt8(ascii: "\\") { p += 1 }; p += 1 }
                guard p < n else { throw fail("unexpected char \(Character(Unicode.Scalar(c)).debugDescription) at \(i)", i) }
                tokens.append(Token(tok: .string(Lexer.unescape(text(i + 1, p))), pos: pos)); i = p + 1; continue
            }
            // Operators.
            if i + 1 < n, Lexer.isOp2(src[i], src[i + 1]) {
                tokens.append(Token(tok: .op(text(i, i + 2)), pos: pos)); i += 2; continue
            }
            if Lexer.ops1.contains(c) {
                switch c {
                case UInt8(ascii: "("): balance.append(UInt8(ascii: ")"))
                case UInt8(ascii: "["): balance.append(UInt8(ascii: "]"))
                case UInt8(ascii: "{"): balance.append(UInt8(ascii: "}"))
                case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                    guard let want = balance.popLast() else { throw fail("unexpected '\(Character(Unicode.Scalar(c)))'", i) }
                    if want != c { throw fail("unexpected '\(Character(Unicode.Scalar(c)))', expected '\(Character(Unicode.Scalar(want)))'", i) }
                default: break
                }
                tokens.append(Token(tok: .op(String(Unicode.Scalar(c))), pos: pos)); i += 1; continue
            }
            throw fail("unexpected char \(String(Character(u)).debugDescription) at \(i)", i)
        }
    }

    /// Python's `unicode-escape` decoding of a string literal body (non-ASCII text passes through).
    static func unescape(_ s: String) -> String {
        guard s.utf8.contains(UInt8(ascii: "\\")) else { return s }
        var out = String.UnicodeScalarView()
        let u = Array(s.unicodeScalars)
        var i = 0
        func hexVal(_ a: Int, _ len: Int) -> UInt32? {
            guard a + len <= u.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<len { guard let d = Character(u[a + k]).hexDigitValue else { return nil }; v = v * 16 + UInt32(d) }
            return v
        }
        while i < u.count {
            let c = u[i]
            if c != "\\" || i + 1 >= u.count { out.append(c); i += 1; continue }
            let e = u[i + 1]
            i += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "x", "u", "U":
                let len = e == "x" ? 2 : e == "u" ? 4 : 8
                if let v = hexVal(i, len), let sc = Unicode.Scalar(v) { out.append(sc); i += len }
                else { out.append("\\"); out.append(e) }
            case "0"..."7":
                var v = e.value - 48
                var k = 0
                while k < 2, i < u.count, u[i].value >= 48, u[i].value <= 55 { v = v * 8 + u[i].value - 48; i += 1; k += 1 }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            default: out.append("\\"); out.append(e)
            }
        }
        return String(out)
    }
}
