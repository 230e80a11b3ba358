import Foundation

/// The original-text span (in Unicode scalars, `[start, end)`) a normalized scalar came from.
struct Span: Equatable {
    var start: Int32
    var end: Int32
}

/// Text under transformation, one Unicode scalar at a time, each carrying the span of the original
/// text it came from. This plays the role of `NormalizedString` in Hugging Face `tokenizers`:
/// offsets of the final tokens are read back from `spans`.
struct NormalizedString {
    var scalars: [UInt32]
    var spans: [Span]

    init() {
        scalars = []
        spans = []
    }

    init(scalars: [UInt32], spans: [Span]) {
        self.scalars = scalars
        self.spans = spans
    }

    /// Scalars `text[range]` with spans starting at `base` (their index in the original text).
    init<C: Collection>(_ text: C, base: Int) where C.Element == UInt32 {
        scalars = Array(text)
        spans = []
        spans.reserveCapacity(scalars.count)
        var p = Int32(base)
        for _ in 0..<scalars.count {
            spans.append(Span(start: p, end: p + 1))
            p += 1
        }
    }

    var count: Int { scalars.count }
    var isEmpty: Bool { scalars.isEmpty }

    mutating func reserve(_ n: Int) {
        scalars.reserveCapacity(n)
        spans.reserveCapacity(n)
    }

    @inline(__always) mutating func append(_ s: UInt32, _ span: Span) {
        scalars.append(s)
        spans.append(span)
    }

    var string: String { scalarsToString(scalars[...]) }

    /// Original span covering normalized `[lo, hi)`; `(x, x)` for an empty range.
    func originalSpan(_ lo: Int, _ hi: Int) -> Span {
        if hi <= lo {
            if lo < spans.count { return Span(start: spans[lo].start, end: spans[lo].start) }
            if let l = spans.last { return Span(start: l.end, end: l.end) }
            return Span(start: 0, end: 0)
        }
        return Span(start: spans[lo].start, end: spans[hi - 1].end)
    }
}

func scalarsToString<C: Collection>(_ s: C) -> String where C.Element == UInt32 {
    var out = String.UnicodeScalarView()
    for v in s {
        out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
    }
    return String(out)
}

func stringToScalars(_ s: String) -> [UInt32] {
    var a: [UInt32] = []
    a.reserveCapacity(s.utf8.count)
    for u in s.unicodeScalars { a.append(u.value) }
    return a
}

/// A list of pieces over one `NormalizedString`: the pre-tokenizer's output. Splitting only changes
/// `pieces`; transformations (byte-level mapping, Metaspace) rebuild `text`.
struct PieceList {
    var text: NormalizedString
    /// `[lo, hi)` ranges into `text`, in order, non-empty.
    var pieces: [(lo: Int, hi: Int)]

    init(_ text: NormalizedString) {
        self.text = text
        pieces = text.isEmpty ? [] : [(0, text.count)]
    }
}

/// Unicode classes the pre-tokenizer regexes use, looked up from a table for the BMP.
enum CharClass {
    static let letter: UInt8 = 1      // \p{L}
    static let number: UInt8 = 2      // \p{N}
    static let space: UInt8 = 4       // \s (White_Space)
    static let mark: UInt8 = 8        // \p{M}
    static let punct: UInt8 = 16      // \p{P}
    static let pc: UInt8 = 32         // connector punctuation (part of \w)
    static let alpha: UInt8 = 64      // Alphabetic property (part of \w)
    static let nd: UInt8 = 128        // decimal digit

    /// Scalars below this have their class in `bmp` (the BMP and plane 1, where emoji live).
    static let tableLimit: UInt32 = 0x20000

    /// Class bits for planes 0 and 1, computed once from the Swift runtime's Unicode tables.
    static let bmp: [UInt8] = {
        var t = [UInt8](repeating: 0, count: Int(tableLimit))
        for v in 0..<Int(tableLimit) {
            if let s = Unicode.Scalar(UInt32(v)) { t[v] = compute(s) }
        }
        return t
    }()

    /// The Unicode version of Oniguruma's tables in `tokenizers` (checked by UnicodeTablesTests):
    /// characters assigned later are unassigned there, so they are given no class here either.
    static let onigurumaUnicodeVersion = (major: 16, minor: 0)

    static func compute(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        if let age = p.age, (age.major, age.minor) > onigurumaUnicodeVersion { return 0 }
        var c: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: c |= letter
        case .decimalNumber: c |= number | nd
        case .letterNumber, .otherNumber: c |= number
        case .nonspacingMark, .spacingMark, .enclosingMark: c |= mark
        case .connectorPunctuation: c |= punct | pc
        case .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation:
            c |= punct
        default: break
        }
        if p.isWhitespace { c |= space }
        if p.isAlphabetic { c |= alpha }
        return c
    }

    @inline(__always) static func of(_ v: UInt32) -> UInt8 {
        if v < tableLimit { return bmp.withUnsafeBufferPointer { $0[Int(v)] } }
        guard let s = Unicode.Scalar(v) else { return 0 }
        return compute(s)
    }
}

/// A dictionary key comparing strings by their exact UTF-8 bytes. Swift's `String` equality uses
/// canonical equivalence, which would merge vocabulary entries such as "Å" (U+00C5) and "Å"
/// (U+212B ANGSTROM SIGN) that tokenizers keep apart.
struct TokenKey: Hashable, Sendable {
    let string: String

    init(_ s: String) {
        var s = s
        s.makeContiguousUTF8()
        string = s
    }

    static func == (a: TokenKey, b: TokenKey) -> Bool {
        a.string.utf8.elementsEqual(b.string.utf8)
    }

    func hash(into h: inout Hasher) {
        var s = string
        s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
