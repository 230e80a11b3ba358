/// Python `str` methods over Unicode code points (not Swift grapheme clusters), byte-exact with CPython.
enum PyString {
    /// First index of `needle` in `hay` at or after `from` (byte search; UTF-8 makes this code-point exact).
    static func find(_ hay: [UInt8], _ needle: [UInt8], from: Int, to: Int? = nil) -> Int? {
        let end = min(to ?? hay.count, hay.count)
        if needle.isEmpty { return from <= end ? from : nil }
        guard end - from >= needle.count else { return nil }
        let first = needle[0]
        var i = from
        let last = end - needle.count
        while i <= last {
            if hay[i] == first {
                var k = 1
                while k < needle.count && hay[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func rfind(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        if needle.isEmpty { return hay.count }
        guard hay.count >= needle.count else { return nil }
        var i = hay.count - needle.count
        while i >= 0 {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i -= 1
        }
        return nil
    }

    static func str(_ b: ArraySlice<UInt8>) -> String { String(decoding: b, as: UTF8.self) }

    static func split(_ s: String, sep: String?, maxsplit: Int = -1) throws -> [String] {
        guard let sep = sep else { return splitWhitespace(s, maxsplit: maxsplit) }
        if sep.isEmpty { throw TemplateError.runtime("empty separator") }
        let h = Array(s.utf8), n = Array(sep.utf8)
        var out: [String] = []
        var start = 0
        while maxsplit < 0 || out.count < maxsplit, let i = find(h, n, from: start) {
            out.append(str(h[start..<i])); start = i + n.count
        }
        out.append(str(h[start...]))
        return out
    }

    static func rsplit(_ s: String, sep: String?, maxsplit: Int = -1) throws -> [String] {
        if maxsplit < 0 { return try split(s, sep: sep, maxsplit: -1) }
        guard let sep = sep else {
            // Whitespace rsplit: split from the right.
            let rev = String(String.UnicodeScalarView(s.unicodeScalars.reversed()))
            return splitWhitespace(rev, maxsplit: maxsplit).map { String(String.UnicodeScalarView($0.unicodeScalars.reversed())) }.reversed()
        }
        if sep.isEmpty { throw TemplateError.runtime("empty separator") }
        var h = Array(s.utf8)[...]
        let n = Array(sep.utf8)
        var out: [String] = []
        while out.count < maxsplit, let i = rfind(Array(h), n) {
            out.append(str(h[(h.startIndex + i + n.count)...])); h = h[h.startIndex..<(h.startIndex + i)]
        }
        out.append(str(h))
        return out.reversed()
    }

    static func splitWhitespace(_ s: String, maxsplit: Int) -> [String] {
        var out: [String] = []
        let u = Array(s.unicodeScalars)
        var i = 0
        while i < u.count {
            while i < u.count && isPyWhitespace(u[i]) { i += 1 }
            if i >= u.count { break }
            if maxsplit >= 0 && out.count >= maxsplit {
                var e = u.count
                while e > i && isPyWhitespace(u[e - 1]) { e -= 1 }
                out.append(String(String.UnicodeScalarView(u[i..<e]))); return out
            }
            let st = i
            while i < u.count && !isPyWhitespace(u[i]) { i += 1 }
            out.append(String(String.UnicodeScalarView(u[st..<i])))
        }
        return out
    }

    static func strip(_ s: String, _ chars: String?, left: Bool, right: Bool) -> String {
        let u = Array(s.unicodeScalars)
        let set: Set<UInt32>? = chars.map { Set($0.unicodeScalars.map { $0.value }) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c.value) } ?? isPyWhitespace(c) }
        var a = 0, b = u.count
        if left { while a < b && strippable(u[a]) { a += 1 } }
        if right { while b > a && strippable(u[b - 1]) { b -= 1 } }
        if a == 0 && b == u.count { return s }
        return String(String.UnicodeScalarView(u[a..<b]))
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1, limit: Int) throws -> String {
        let h = Array(s.utf8), o = Array(old.utf8), n = Array(new.utf8)
        var out: [UInt8] = []
        var start = 0, done = 0
        if o.isEmpty {
            // Python inserts `new` between every code point (and at both ends).
            let u = Array(s.unicodeScalars)
            var r = ""
            for (i, c) in u.enumerated() {
                if count < 0 || i < count { r += new }
                r.unicodeScalars.append(c)
                if r.utf8.count > limit { throw TemplateError(.limit, "string larger than \(limit) bytes") }
            }
            if count < 0 || u.count < count { r += new }
            return r
        }
        while count < 0 || done < count, let i = find(h, o, from: start) {
            out.append(contentsOf: h[start..<i]); out.append(contentsOf: n)
            start = i + o.count; done += 1
            if out.count > limit { throw TemplateError(.limit, "string larger than \(limit) bytes") }
        }
        out.append(contentsOf: h[start...])
        return String(decoding: out, as: UTF8.self)
    }

    static func isCased(_ c: Unicode.Scalar) -> Bool { c.properties.isCased }
    static func upper(_ c: Unicode.Scalar) -> String { c.properties.uppercaseMapping }
    static func lower(_ c: Unicode.Scalar) -> String { c.properties.lowercaseMapping }
    static func titleCase(_ c: Unicode.Scalar) -> String { c.properties.titlecaseMapping }

    static func upper(_ s: String) -> String { var r = ""; for c in s.unicodeScalars { r += upper(c) }; return r }
    static func lower(_ s: String) -> String { var r = ""; for c in s.unicodeScalars { r += lower(c) }; return r }

    /// Python `str.title()`.
    static func title(_ s: String) -> String {
        var r = ""
        var prevCased = false
        for c in s.unicodeScalars {
            if prevCased { r += lower(c) } else { r += titleCase(c) }
            prevCased = isCased(c)
        }
        return r
    }

    /// Python `str.capitalize()`: first character title-cased, the rest lower-cased.
    static func capitalize(_ s: String) -> String {
        var r = ""
        for (i, c) in s.unicodeScalars.enumerated() { r += i == 0 ? titleCase(c) : lower(c) }
        return r
    }

    static func swapcase(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            if c.properties.isUppercase { r += lower(c) } else if c.properties.isLowercase { r += upper(c) } else { r.unicodeScalars.append(c) }
        }
        return r
    }

    static func splitlines(_ s: String, keepends: Bool) -> [String] {
        let u = Array(s.unicodeScalars)
        var out: [String] = []
        var st = 0, i = 0
        func isBreak(_ c: Unicode.Scalar) -> Bool {
            switch c.value { case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: return true; default: return false }
        }
        while i < u.count {
            if isBreak(u[i]) {
                var e = i + 1
                if u[i] == "\r" && e < u.count && u[e] == "\n" { e += 1 }
                out.append(String(String.UnicodeScalarView(u[st..<(keepends ? e : i)])))
                st = e; i = e
            } else { i += 1 }
        }
        if st < u.count { out.append(String(String.UnicodeScalarView(u[st...]))) }
        return out
    }

    static func pad(_ s: String, width: Int, fill: String, align: Character, limit: Int) throws -> String {
        let n = s.unicodeScalars.count
        guard width > n else { return s }
        if width > limit { throw TemplateError(.limit, "padding width \(width) too large") }
        let total = width - n
        let f = fill.isEmpty ? " " : fill
        switch align {
        case "<": return s + String(repeating: f, count: total)
        case ">": return String(repeating: f, count: total) + s
        default:
            // CPython centre: left = total/2 + (total & width & 1)
            let left = total / 2 + (total & width & 1)
            return String(repeating: f, count: left) + s + String(repeating: f, count: total - left)
        }
    }
}
