import Foundation

/// A `pre_tokenizer` stage of tokenizer.json: splits the text into pieces (and may rewrite it).
protocol PreTokenizer: Sendable {
    func preTokenize(_ p: inout PieceList)
}

/// How a `Split` treats the matched delimiters (`SplitDelimiterBehavior` in `tokenizers`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// Splits every piece of `p` on the matches of `matcher`, with the given delimiter behavior.
func splitPieces(_ p: inout PieceList, matcher: ScalarMatcher, behavior: SplitBehavior, invert: Bool = false) {
    var newPieces: [(lo: Int, hi: Int)] = []
    newPieces.reserveCapacity(p.pieces.count * 4)
    var matches: [(Int, Int)] = []
    var marked: [(lo: Int, hi: Int, isMatch: Bool)] = []
    p.text.scalars.withUnsafeBufferPointer { all in
        for piece in p.pieces {
            matches.removeAll(keepingCapacity: true)
            let sub = UnsafeBufferPointer(rebasing: all[piece.lo..<piece.hi])
            matcher.findMatches(sub, into: &matches)
            // Fast path: the matches tile the piece and every match is kept on its own.
            if behavior == .isolated, !invert {
                var prev = 0
                for (lo, hi) in matches {
                    if lo > prev { newPieces.append((piece.lo + prev, piece.lo + lo)) }
                    newPieces.append((piece.lo + lo, piece.lo + hi))
                    prev = hi
                }
                if prev < sub.count { newPieces.append((piece.lo + prev, piece.hi)) }
                continue
            }
            marked.removeAll(keepingCapacity: true)
            var prev = 0
            for (lo, hi) in matches {
                if lo > prev { marked.append((prev, lo, invert)) }
                marked.append((lo, hi, !invert))
                prev = hi
            }
            if prev < sub.count { marked.append((prev, sub.count, invert)) }
            var result: [(lo: Int, hi: Int)] = []
            switch behavior {
            case .removed:
                for m in marked where !m.isMatch { result.append((m.lo, m.hi)) }
            case .isolated:
                for m in marked { result.append((m.lo, m.hi)) }
            case .mergedWithPrevious:
                var previousMatch = false
                for m in marked {
                    if m.isMatch && !previousMatch, !result.isEmpty {
                        result[result.count - 1].hi = m.hi
                    } else {
                        result.append((m.lo, m.hi))
                    }
                    previousMatch = m.isMatch
                }
            case .mergedWithNext:
                var previousMatch = false
                for m in marked.reversed() {
                    if m.isMatch && !previousMatch, !result.isEmpty {
                        result[result.count - 1].lo = m.lo
                    } else {
                        result.append((m.lo, m.hi))
                    }
                    previousMatch = m.isMatch
                }
                result.reverse()
            case .contiguous:
                var previousMatch = false
                for m in marked {
                    if m.isMatch == previousMatch, !result.isEmpty {
                        result[result.count - 1].hi = m.hi
                    } else {
                        result.append((m.lo, m.hi))
                    }
                    previousMatch = m.isMatch
                }
            }
            for r in result where r.hi > r.lo { newPieces.append((piece.lo + r.lo, piece.lo + r.hi)) }
        }
    }
    p.pieces = newPieces
}

/// GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to U+0100 onwards.
enum ByteLevelTable {
    static let byteToChar: [UInt32] = {
        var bs: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var t = [UInt32](repeating: 0, count: 256)
        for (b, c) in zip(bs, cs) { t[b] = UInt32(c) }
        return t
    }()

    /// Inverse of `byteToChar`, indexed by scalar value (< 0x144); -1 where no byte maps.
    static let charToByte: [Int16] = {
        var t = [Int16](repeating: -1, count: 0x144)
        for (b, c) in byteToChar.enumerated() { t[Int(c)] = Int16(b) }
        return t
    }()
}

/// `ByteLevel`: optional prefix space, optional GPT-2 regex split, then every UTF-8 byte becomes one
/// printable character. All bytes of a character keep that character's span.
struct ByteLevelPreTokenizer: PreTokenizer {
    let addPrefixSpace: Bool
    let useRegex: Bool

    func preTokenize(_ p: inout PieceList) {
        if addPrefixSpace {
            // Each piece that does not start with a space gets one (spanning its first character).
            var t = NormalizedString()
            t.reserve(p.text.count + p.pieces.count)
            var pieces: [(lo: Int, hi: Int)] = []
            for piece in p.pieces {
                let lo = t.count
                if p.text.scalars[piece.lo] != 0x20 { t.append(0x20, p.text.spans[piece.lo]) }
                t.scalars.append(contentsOf: p.text.scalars[piece.lo..<piece.hi])
                t.spans.append(contentsOf: p.text.spans[piece.lo..<piece.hi])
                pieces.append((lo, t.count))
            }
            p.text = t
            p.pieces = pieces
        }
        if useRegex { splitPieces(&p, matcher: GPT2Matcher(), behavior: .isolated) }
        ByteLevelPreTokenizer.mapBytes(&p)
    }

    static func mapBytes(_ p: inout PieceList) {
        let src = p.text
        var t = NormalizedString()
        t.reserve(src.count + src.count / 4)
        var pieces: [(lo: Int, hi: Int)] = []
        pieces.reserveCapacity(p.pieces.count)
        ByteLevelTable.byteToChar.withUnsafeBufferPointer { map in
            for piece in p.pieces {
                let lo = t.count
                for k in piece.lo..<piece.hi {
                    let v = src.scalars[k]
                    let sp = src.spans[k]
                    if v < 0x80 {
                        t.append(map[Int(v)], sp)
                    } else if v < 0x800 {
                        t.append(map[Int(0xC0 | (v >> 6))], sp)
                        t.append(map[Int(0x80 | (v & 0x3F))], sp)
                    } else if v < 0x10000 {
                        t.append(map[Int(0xE0 | (v >> 12))], sp)
                        t.append(map[Int(0x80 | ((v >> 6) & 0x3F))], sp)
                        t.append(map[Int(0x80 | (v & 0x3F))], sp)
                    } else {
                        t.append(map[Int(0xF0 | (v >> 18))], sp)
                        t.append(map[Int(0x80 | ((v >> 12) & 0x3F))], sp)
                        t.append(map[Int(0x80 | ((v >> 6) & 0x3F))], sp)
                        t.append(map[Int(0x80 | (v & 0x3F))], sp)
                    }
                }
                pieces.append((lo, t.count))
            }
        }
        p.text = t
        p.pieces = pieces
    }
}

/// `Split`: a literal or regex pattern with a delimiter behavior, optionally inverted.
struct SplitPreTokenizer: PreTokenizer {
    let matcher: ScalarMatcher
    let behavior: SplitBehavior
    let invert: Bool

    func preTokenize(_ p: inout PieceList) {
        splitPieces(&p, matcher: matcher, behavior: behavior, invert: invert)
    }
}

/// `Metaspace`: spaces become the replacement (`▁`), a prefix is added per `prepend_scheme`, and
/// pieces are optionally split before each replacement.
struct MetaspacePreTokenizer: PreTokenizer {
    enum PrependScheme: String, Sendable { case always, never, first }
    let replacement: UInt32
    let prependScheme: PrependScheme
    let split: Bool

    func preTokenize(_ p: inout PieceList) {
        let src = p.text
        var t = NormalizedString()
        t.reserve(src.count + p.pieces.count)
        var pieces: [(lo: Int, hi: Int)] = []
        for piece in p.pieces {
            let lo = t.count
            let first = src.scalars[piece.lo]
            let startsWithReplacement = first == 0x20 || first == replacement
            let prepend: Bool
            switch prependScheme {
            case .always: prepend = !startsWithReplacement
            case .first: prepend = !startsWithReplacement && src.spans[piece.lo].start == 0
            case .never: prepend = false
            }
            if prepend { t.append(replacement, src.spans[piece.lo]) }
            for k in piece.lo..<piece.hi {
                let v = src.scalars[k]
                t.append(v == 0x20 ? replacement : v, src.spans[k])
            }
            pieces.append((lo, t.count))
        }
        p.text = t
        p.pieces = pieces
        if split { splitPieces(&p, matcher: LiteralMatcher(needle: [replacement]), behavior: .mergedWithNext) }
    }
}

/// `WhitespaceSplit`: splits on whitespace, dropping it.
struct WhitespaceSplitPreTokenizer: PreTokenizer {
    func preTokenize(_ p: inout PieceList) {
        splitPieces(&p, matcher: PredicateMatcher { CharClass.of($0) & CharClass.space != 0 }, behavior: .removed)
    }
}

/// `Whitespace`: the regex `\w+|[^\w\s]+`; whitespace is dropped.
struct WhitespacePreTokenizer: PreTokenizer {
    struct Matcher: ScalarMatcher {
        static func isWord(_ v: UInt32) -> Bool {
            let c = CharClass.of(v)
            return c & (CharClass.alpha | CharClass.mark | CharClass.nd | CharClass.pc) != 0 || v == 0x200C || v == 0x200D
        }
        func findMatches(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int)]) {
            var i = 0
            let n = s.count
            while i < n {
                let v = s[i]
                if Matcher.isWord(v) {
                    var k = i + 1
                    while k < n, Matcher.isWord(s[k]) { k += 1 }
                    out.append((i, k)); i = k
                } else if CharClass.of(v) & CharClass.space == 0 {
                    var k = i + 1
                    while k < n, !Matcher.isWord(s[k]), CharClass.of(s[k]) & CharClass.space == 0 { k += 1 }
                    out.append((i, k)); i = k
                } else {
                    i += 1
                }
            }
        }
    }

    func preTokenize(_ p: inout PieceList) {
        splitPieces(&p, matcher: Matcher(), behavior: .removed, invert: true)
    }
}

/// `Punctuation`: each punctuation character is a delimiter (ASCII punctuation or Unicode P*).
struct PunctuationPreTokenizer: PreTokenizer {
    let behavior: SplitBehavior
    static func isPunctuation(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
        }
        return CharClass.of(v) & CharClass.punct != 0
    }
    func preTokenize(_ p: inout PieceList) {
        splitPieces(&p, matcher: PredicateMatcher { PunctuationPreTokenizer.isPunctuation($0) }, behavior: behavior)
    }
}

/// `Digits`: numeric characters split off, one by one or in runs.
struct DigitsPreTokenizer: PreTokenizer {
    let individualDigits: Bool
    func preTokenize(_ p: inout PieceList) {
        splitPieces(&p, matcher: PredicateMatcher { CharClass.of($0) & CharClass.number != 0 },
                    behavior: individualDigits ? .isolated : .contiguous)
    }
}

/// `BertPreTokenizer`: whitespace split, then each punctuation character isolated.
struct BertPreTokenizer: PreTokenizer {
    func preTokenize(_ p: inout PieceList) {
        WhitespaceSplitPreTokenizer().preTokenize(&p)
        PunctuationPreTokenizer(behavior: .isolated).preTokenize(&p)
    }
}

struct SequencePreTokenizer: PreTokenizer {
    let steps: [PreTokenizer]
    func preTokenize(_ p: inout PieceList) {
        for s in steps { s.preTokenize(&p) }
    }
}

/// Builds a pre-tokenizer from its tokenizer.json object.
func makePreTokenizer(_ o: JSONFields) throws -> PreTokenizer {
    let type = try o.string("type")
    switch type {
    case "ByteLevel":
        return ByteLevelPreTokenizer(addPrefixSpace: try o.bool("add_prefix_space", default: true),
                                     useRegex: try o.bool("use_regex", default: true))
    case "Split":
        let b = try o.string("behavior")
        guard let behavior = SplitBehavior(rawValue: b) else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("behavior"),
                                              expected: "one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous (got \"\(b)\")")
        }
        return SplitPreTokenizer(matcher: try makePatternMatcher(o, key: "pattern"), behavior: behavior,
                                 invert: try o.bool("invert", default: false))
    case "Metaspace":
        let rep = stringToScalars(try o.optionalString("replacement") ?? "▁")
        guard rep.count == 1 else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("replacement"), expected: "a single character")
        }
        var scheme = MetaspacePreTokenizer.PrependScheme.always
        if let s = try o.optionalString("prepend_scheme") {
            guard let ps = MetaspacePreTokenizer.PrependScheme(rawValue: s) else {
                throw TokenizerError.invalidField(file: o.file, field: o.sub("prepend_scheme"), expected: "always, never or first")
            }
            scheme = ps
        } else if o.has("add_prefix_space") {
            scheme = try o.bool("add_prefix_space", default: true) ? .always : .never
        }
        return MetaspacePreTokenizer(replacement: rep[0], prependScheme: scheme, split: try o.bool("split", default: true))
    case "WhitespaceSplit": return WhitespaceSplitPreTokenizer()
    case "Whitespace": return WhitespacePreTokenizer()
    case "BertPreTokenizer": return BertPreTokenizer()
    case "Punctuation":
        let b = try o.optionalString("behavior") ?? "Isolated"
        guard let behavior = SplitBehavior(rawValue: b) else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("behavior"), expected: "a split behavior")
        }
        return PunctuationPreTokenizer(behavior: behavior)
    case "Digits": return DigitsPreTokenizer(individualDigits: try o.bool("individual_digits", default: false))
    case "Sequence": return SequencePreTokenizer(steps: try o.objects("pretokenizers").map(makePreTokenizer))
    default:
        throw TokenizerError.unsupported(file: o.file, field: o.sub("type"), type: type)
    }
}
