import Foundation

/// Finds the non-overlapping matches of a pre-tokenizer pattern in a run of scalars, leftmost first,
/// as `[lo, hi)` index pairs (the semantics of `find_iter` in the Oniguruma engine `tokenizers` uses).
protocol ScalarMatcher: Sendable {
    func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)])
}

/// Well-known pre-tokenizer regexes, recognised by their exact pattern text and run by hand-coded matchers.
enum KnownPatterns {
    static let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Same as `gpt2` with `(?:...)` spelt differently in some files; both are accepted.
    static let gpt2Alt = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// A matcher for `pattern`: hand-coded for the known patterns, NSRegularExpression otherwise.
    static func matcher(for pattern: String, field: String) throws -> ScalarMatcher {
        switch pattern {
        case gpt2, gpt2Alt: return GPT2Matcher()
        case llama3: return Llama3Matcher(maxDigits: 3)
        case qwen2: return Llama3Matcher(maxDigits: 1)
        default: return try FoundationRegexMatcher(pattern: pattern, field: field)
        }
    }
}

private let apostrophe: UInt32 = 0x27
private let spaceChar: UInt32 = 0x20
private let cr: UInt32 = 0x0D
private let lf: UInt32 = 0x0A

@inline(__always) private func cls(_ t: UnsafePointer<UInt8>, _ v: UInt32) -> UInt8 {
    v < CharClass.tableLimit ? t[Int(v)] : CharClass.of(v)
}

/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2, also used by
/// the `ByteLevel` pre-tokenizer with `use_regex: true`).
struct GPT2Matcher: ScalarMatcher {
    func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)]) {
        CharClass.bmp.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            let n = s.count
            var i = 0
            while i < n {
                let end = GPT2Matcher.matchAt(s, i, n, t)
                out.append((i, end))
                i = end
            }
        }
    }

    @inline(__always)
    static func matchAt(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, _ n: Int, _ t: UnsafePointer<UInt8>) -> Int {
        let c = s[i]
        if c == apostrophe, i + 1 < n {
            let c1 = s[i + 1]
            if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i + 2 } // s t m d
            if i + 2 < n {
                let c2 = s[i + 2]
                if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return i + 3 }
            }
        }
        let j = (c == spaceChar && i + 1 < n) ? i + 1 : i
        let cj = cls(t, s[j])
        let isSpaceAtJ = cj & CharClass.space != 0
        if !(j == i && isSpaceAtJ) {
            // One of the three ` ?class+` alternatives, decided by the class of the character after the optional space.
            var k = j + 1
            if cj & CharClass.letter != 0 {
                while k < n, cls(t, s[k]) & CharClass.letter != 0 { k += 1 }
                return k
            } else if cj & CharClass.number != 0 {
                while k < n, cls(t, s[k]) & CharClass.number != 0 { k += 1 }
                return k
            } else if !isSpaceAtJ {
                while k < n, cls(t, s[k]) & (CharClass.letter | CharClass.number | CharClass.space) == 0 { k += 1 }
                return k
            }
            // A space followed by another whitespace: fall through to the whitespace alternatives.
        }
        return whitespaceRun(s, i, n, t)
    }

    /// `\s+(?!\S)|\s+` at `i`, where `s[i]` is whitespace.
    @inline(__always)
    static func whitespaceRun(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, _ n: Int, _ t: UnsafePointer<UInt8>) -> Int {
        var k = i + 1
        while k < n, cls(t, s[k]) & CharClass.space != 0 { k += 1 }
        if k == n { return k }
        if k - 1 > i { return k - 1 }
        return k
    }
}

/// The Llama-3 pattern (`maxDigits` 3) and the Qwen2 one (`maxDigits` 1):
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
struct Llama3Matcher: ScalarMatcher {
    let maxDigits: Int

    func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)]) {
        CharClass.bmp.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            let n = s.count
            var i = 0
            while i < n {
                let end = matchAt(s, i, n, t)
                out.append((i, end))
                i = end
            }
        }
    }

    /// ASCII case folding plus U+017F LATIN SMALL LETTER LONG S, which Oniguruma folds to `s`.
    @inline(__always) private static func fold(_ c: UInt32) -> UInt32 {
        if c >= 0x41 && c <= 0x5A { return c + 0x20 }
        if c == 0x17F { return 0x73 }
        return c
    }

    @inline(__always)
    func matchAt(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, _ n: Int, _ t: UnsafePointer<UInt8>) -> Int {
        let c = s[i]
        if c == apostrophe, i + 1 < n {
            let c1 = Llama3Matcher.fold(s[i + 1])
            if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i + 2 }
            if i + 2 < n {
                let c2 = Llama3Matcher.fold(s[i + 2])
                if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return i + 3 }
            }
        }
        let cc = cls(t, c)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cc & CharClass.letter != 0 {
            var k = i + 1
            while k < n, cls(t, s[k]) & CharClass.letter != 0 { k += 1 }
            return k
        }
        if cc & CharClass.number == 0, c != cr, c != lf, i + 1 < n, cls(t, s[i + 1]) & CharClass.letter != 0 {
            var k = i + 2
            while k < n, cls(t, s[k]) & CharClass.letter != 0 { k += 1 }
            return k
        }
        // \p{N}{1,maxDigits}
        if cc & CharClass.number != 0 {
            var k = i + 1
            while k < n, k - i < maxDigits, cls(t, s[k]) & CharClass.number != 0 { k += 1 }
            return k
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        let j = (c == spaceChar && i + 1 < n) ? i + 1 : i
        if cls(t, s[j]) & (CharClass.letter | CharClass.number | CharClass.space) == 0 {
            var k = j + 1
            while k < n, cls(t, s[k]) & (CharClass.letter | CharClass.number | CharClass.space) == 0 { k += 1 }
            while k < n, s[k] == cr || s[k] == lf { k += 1 }
            return k
        }
        // Only whitespace is left at i.
        var k = i + 1
        while k < n, cls(t, s[k]) & CharClass.space != 0 { k += 1 }
        // \s*[\r\n]+ : up to the last line break of the whitespace run.
        var p = k - 1
        while p >= i {
            if s[p] == cr || s[p] == lf { return p + 1 }
            p -= 1
        }
        // \s+(?!\S)|\s+
        if k == n { return k }
        if k - 1 > i { return k - 1 }
        return k
    }
}

/// Any other pattern, run by NSRegularExpression (ICU). Slower, and ICU's Unicode tables may differ
/// from Oniguruma's in rare corners.
struct FoundationRegexMatcher: ScalarMatcher, @unchecked Sendable {
    let regex: NSRegularExpression

    init(pattern: String, field: String) throws {
        do {
            regex = try NSRegularExpression(pattern: pattern, options: [])
        } catch {
            throw TokenizerError.invalidRegex(field: field, pattern: pattern, reason: "\(error)")
        }
    }

    func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)]) {
        // Build the string and a UTF-16 → scalar index map.
        var str = String.UnicodeScalarView()
        var u16ToScalar: [Int] = []
        u16ToScalar.reserveCapacity(s.count + 1)
        for (idx, v) in s.enumerated() {
            let u = Unicode.Scalar(v) ?? "\u{FFFD}"
            str.append(u)
            u16ToScalar.append(idx)
            if u.value > 0xFFFF { u16ToScalar.append(idx) }
        }
        u16ToScalar.append(s.count)
        let ns = String(str)
        let len = (ns as NSString).length
        for m in regex.matches(in: ns, options: [], range: NSRange(location: 0, length: len)) {
            let r = m.range
            if r.length == 0 { continue }
            let lo = u16ToScalar[r.location]
            let hi = u16ToScalar[r.location + r.length]
            if hi > lo { out.append((lo, hi)) }
        }
    }
}

/// A literal string pattern (Split with `{"String": ...}`, Metaspace's split on the replacement).
struct LiteralMatcher: ScalarMatcher {
    let needle: [UInt32]

    func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)]) {
        let m = needle.count
        guard m > 0, s.count >= m else { return }
        var i = 0
        let first = needle[0]
        while i + m <= s.count {
            if s[i] == first {
                var ok = true
                var k = 1
                while k < m { if s[i + k] != needle[k] { ok = false; break }; k += 1 }
                if ok { out.append((i, i + m)); i += m; continue }
            }
            i += 1
        }
    }
}

/// A per-character predicate: every character that satisfies it is a one-character match.
struct PredicateMatcher: ScalarMatcher {
    let predicate: @Sendable (UInt32) -> Bool

    func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)]) {
        for i in 0..<s.count where predicate(s[i]) { out.append((i, i + 1)) }
    }
}
