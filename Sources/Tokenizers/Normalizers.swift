import Foundation

/// A `normalizer` stage of tokenizer.json. It rewrites the text, keeping each scalar's original span.
protocol Normalizer: Sendable {
    func normalize(_ s: inout NormalizedString)
}

/// Unicode normalization forms (`NFC`, `NFD`, `NFKC`, `NFKD`).
struct UnicodeNormalizer: Normalizer {
    enum Form: Sendable { case nfc, nfd, nfkc, nfkd }
    let form: Form

    private func apply(_ s: String) -> String {
        switch form {
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        }
    }

    func normalize(_ s: inout NormalizedString) {
        // Fast path: below U+00A0 nothing changes in any form, and below U+0300 nothing changes in NFC.
        let limit: UInt32 = form == .nfc ? 0x300 : 0xA0
        if !s.scalars.contains(where: { $0 >= limit }) { return }
        let whole = s.string
        let normalizedWhole = apply(whole)
        if normalizedWhole.unicodeScalars.elementsEqual(whole.unicodeScalars) { return }
        // Normalization stays inside grapheme clusters: align cluster by cluster, the way
        // `unicode-normalization-alignments` does in `tokenizers` (a decomposition's scalars map to
        // the scalar they came from; a composed scalar maps to the first scalar it absorbed).
        var out = NormalizedString()
        out.reserve(s.count + 8)
        var pos = 0
        for ch in whole {
            let n = ch.unicodeScalars.count
            let inScalars = Array(s.scalars[pos..<pos + n])
            let inSpans = Array(s.spans[pos..<pos + n])
            pos += n
            let outScalars = stringToScalars(apply(String(ch)))
            if outScalars == inScalars {
                for k in 0..<n { out.append(inScalars[k], inSpans[k]) }
                continue
            }
            // Same length (canonical reordering, one-to-one mappings): positional, as `transform` does.
            if outScalars.count == n {
                for k in 0..<n { out.append(outScalars[k], inSpans[k]) }
                continue
            }
            // Scalar by scalar, when that gives the same result (decompositions, compatibility mappings).
            var perScalar: [UInt32] = []
            var perSpans: [Span] = []
            for k in 0..<n {
                let piece = stringToScalars(apply(String(Unicode.Scalar(inScalars[k]).map(Character.init) ?? "\u{FFFD}")))
                for v in piece { perScalar.append(v); perSpans.append(inSpans[k]) }
            }
            if perScalar == outScalars {
                for k in 0..<perScalar.count { out.append(perScalar[k], perSpans[k]) }
                continue
            }
            // Composition: unchanged scalars keep their span, a new scalar takes the next unconsumed one.
            var p = 0
            for v in outScalars {
                if let q = inScalars[min(p, n)...].firstIndex(of: v) {
                    out.append(v, inSpans[q]); p = q + 1
                } else if p < n {
                    out.append(v, inSpans[p]); p += 1
                } else {
                    out.append(v, inSpans[n - 1])
                }
            }
        }
        s = out
    }
}

/// `Lowercase`: full Unicode lowercase mapping (one scalar may become several).
struct LowercaseNormalizer: Normalizer {
    func normalize(_ s: inout NormalizedString) {
        if !s.scalars.contains(where: { ($0 >= 0x41 && $0 <= 0x5A) || $0 >= 0x80 }) { return }
        var out = NormalizedString()
        out.reserve(s.count)
        for (k, v) in s.scalars.enumerated() {
            if v < 0x80 {
                out.append((v >= 0x41 && v <= 0x5A) ? v + 0x20 : v, s.spans[k])
            } else if let u = Unicode.Scalar(v) {
                let m = u.properties.lowercaseMapping
                for w in m.unicodeScalars { out.append(w.value, s.spans[k]) }
            } else {
                out.append(v, s.spans[k])
            }
        }
        s = out
    }
}

/// `Strip`: removes leading and/or trailing whitespace.
struct StripNormalizer: Normalizer {
    let left: Bool
    let right: Bool

    func normalize(_ s: inout NormalizedString) {
        var lo = 0
        var hi = s.count
        if left { while lo < hi, CharClass.of(s.scalars[lo]) & CharClass.space != 0 { lo += 1 } }
        if right { while hi > lo, CharClass.of(s.scalars[hi - 1]) & CharClass.space != 0 { hi -= 1 } }
        if lo == 0 && hi == s.count { return }
        s = NormalizedString(scalars: Array(s.scalars[lo..<hi]), spans: Array(s.spans[lo..<hi]))
    }
}

/// `StripAccents`: removes combining marks (categories Mn, Mc, Me; meant to follow NFD/NFKD).
struct StripAccentsNormalizer: Normalizer {
    func normalize(_ s: inout NormalizedString) {
        var out = NormalizedString()
        out.reserve(s.count)
        for (k, v) in s.scalars.enumerated() where CharClass.of(v) & CharClass.mark == 0 {
            out.append(v, s.spans[k])
        }
        s = out
    }
}

/// `Replace`: every match of a literal or regex pattern becomes `content`. Inserted scalars take the
/// span of the last scalar of the match (as `NormalizedString::replace` does).
struct ReplaceNormalizer: Normalizer {
    let matcher: ScalarMatcher
    let content: [UInt32]

    func normalize(_ s: inout NormalizedString) {
        var matches: [(Int, Int)] = []
        s.scalars.withUnsafeBufferPointer { matcher.findMatches($0, into: &matches) }
        if matches.isEmpty { return }
        s = ReplaceNormalizer.replace(s, matches, content)
    }

    static func replace(_ s: NormalizedString, _ matches: [(Int, Int)], _ content: [UInt32]) -> NormalizedString {
        var out = NormalizedString()
        out.reserve(s.count + matches.count * max(0, content.count - 1))
        var last = 0
        for (lo, hi) in matches {
            for k in last..<lo { out.append(s.scalars[k], s.spans[k]) }
            // A one-for-one replacement keeps each scalar's own span.
            if hi - lo == content.count {
                for k in 0..<content.count { out.append(content[k], s.spans[lo + k]) }
            } else {
                let span = s.spans[hi - 1]
                for v in content { out.append(v, span) }
            }
            last = hi
        }
        for k in last..<s.count { out.append(s.scalars[k], s.spans[k]) }
        return out
    }
}

/// `Prepend`: adds a prefix to non-empty text; the prefix takes the span of the first scalar.
struct PrependNormalizer: Normalizer {
    let prefix: [UInt32]

    func normalize(_ s: inout NormalizedString) {
        guard let first = s.spans.first else { return }
        var out = NormalizedString()
        out.reserve(s.count + prefix.count)
        for v in prefix { out.append(v, first) }
        out.scalars.append(contentsOf: s.scalars)
        out.spans.append(contentsOf: s.spans)
        s = out
    }
}

/// `BertNormalizer`: clean_text, handle_chinese_chars, strip_accents, lowercase.
struct BertNormalizer: Normalizer {
    let cleanText: Bool
    let handleChineseChars: Bool
    let stripAccents: Bool
    let lowercase: Bool

    static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    func normalize(_ s: inout NormalizedString) {
        if cleanText {
            var out = NormalizedString()
            out.reserve(s.count)
            for (k, v) in s.scalars.enumerated() {
                let u = Unicode.Scalar(v)
                let gc = u?.properties.generalCategory
                let isControl = v != 0x09 && v != 0x0A && v != 0x0D && (gc == .control || gc == .format || gc == .privateUse || gc == .surrogate || gc == .unassigned)
                if v == 0 || v == 0xFFFD || isControl { continue }
                let isWS = v == 0x09 || v == 0x0A || v == 0x0D || v == 0x20 || gc == .spaceSeparator
                out.append(isWS ? 0x20 : v, s.spans[k])
            }
            s = out
        }
        if handleChineseChars {
            var out = NormalizedString()
            out.reserve(s.count)
            for (k, v) in s.scalars.enumerated() {
                if BertNormalizer.isChinese(v) {
                    out.append(0x20, s.spans[k]); out.append(v, s.spans[k]); out.append(0x20, s.spans[k])
                } else {
                    out.append(v, s.spans[k])
                }
            }
            s = out
        }
        if stripAccents {
            UnicodeNormalizer(form: .nfd).normalize(&s)
            StripAccentsNormalizer().normalize(&s)
        }
        if lowercase { LowercaseNormalizer().normalize(&s) }
    }
}

struct SequenceNormalizer: Normalizer {
    let normalizers: [Normalizer]
    func normalize(_ s: inout NormalizedString) {
        for n in normalizers { n.normalize(&s) }
    }
}

/// Builds a normalizer from its tokenizer.json object.
func makeNormalizer(_ o: JSONFields) throws -> Normalizer {
    let type = try o.string("type")
    switch type {
    case "NFC": return UnicodeNormalizer(form: .nfc)
    case "NFD": return UnicodeNormalizer(form: .nfd)
    case "NFKC": return UnicodeNormalizer(form: .nfkc)
    case "NFKD": return UnicodeNormalizer(form: .nfkd)
    case "Lowercase": return LowercaseNormalizer()
    case "Strip": return StripNormalizer(left: try o.bool("strip_left", default: true), right: try o.bool("strip_right", default: true))
    case "StripAccents": return StripAccentsNormalizer()
    case "Replace":
        return ReplaceNormalizer(matcher: try makePatternMatcher(o, key: "pattern"), content: stringToScalars(try o.string("content")))
    case "Prepend": return PrependNormalizer(prefix: stringToScalars(try o.string("prepend")))
    case "BertNormalizer":
        let lc = try o.bool("lowercase", default: true)
        let sa: Bool
        if o.has("strip_accents") { sa = try o.bool("strip_accents", default: lc) } else { sa = lc }
        return BertNormalizer(cleanText: try o.bool("clean_text", default: true),
                              handleChineseChars: try o.bool("handle_chinese_chars", default: true),
                              stripAccents: sa, lowercase: lc)
    case "Sequence":
        return SequenceNormalizer(normalizers: try o.objects("normalizers").map(makeNormalizer))
    case "Precompiled":
        return try PrecompiledNormalizer(o)
    default:
        throw TokenizerError.unsupported(file: o.file, field: o.sub("type"), type: type)
    }
}

/// `{"String": "..."}` or `{"Regex": "..."}` under `key`.
func makePatternMatcher(_ o: JSONFields, key: String) throws -> ScalarMatcher {
    let p = try o.object(key)
    if let s = try p.optionalString("String") {
        return LiteralMatcher(needle: stringToScalars(s))
    }
    if let r = try p.optionalString("Regex") {
        return try KnownPatterns.matcher(for: r, field: p.sub("Regex"))
    }
    throw TokenizerError.invalidField(file: o.file, field: o.sub(key), expected: "{\"String\": ...} or {\"Regex\": ...}")
}
