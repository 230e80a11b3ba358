import Foundation

/// A `decoder` of tokenizer.json: turns token strings back into text (`decode_chain` in `tokenizers`).
protocol Decoder: Sendable {
    func decodeChain(_ tokens: [String]) -> [String]
}

/// `ByteLevel`: maps the printable byte characters back to bytes and decodes UTF-8 (invalid
/// sequences become U+FFFD). A token with a character outside the table keeps its own UTF-8 bytes.
struct ByteLevelDecoder: Decoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        [String(decoding: ByteLevelDecoder.bytes(of: tokens), as: UTF8.self)]
    }

    static func bytes(of tokens: [String]) -> [UInt8] {
        var out: [UInt8] = []
        ByteLevelTable.charToByte.withUnsafeBufferPointer { map in
            for t in tokens {
                let start = out.count
                var ok = true
                for u in t.unicodeScalars {
                    let v = Int(u.value)
                    if v < map.count, map[v] >= 0 { out.append(UInt8(map[v])) } else { ok = false; break }
                }
                if !ok {
                    out.removeSubrange(start...)
                    out.append(contentsOf: Array(t.utf8))
                }
            }
        }
        return out
    }
}

/// `ByteFallback`: runs of `<0xAB>` tokens become the UTF-8 text they spell, or one U+FFFD per byte
/// when the run is not valid UTF-8.
struct ByteFallbackDecoder: Decoder {
    static func parseByte(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var bytes: [UInt8] = []
        func flush() {
            guard !bytes.isEmpty else { return }
            if let s = String(validating: bytes, as: UTF8.self) {
                out.append(s)
            } else {
                for _ in bytes { out.append("\u{FFFD}") }
            }
            bytes.removeAll()
        }
        for t in tokens {
            if let b = ByteFallbackDecoder.parseByte(t) {
                bytes.append(b)
            } else {
                flush()
                out.append(t)
            }
        }
        flush()
        return out
    }
}

/// `Fuse`: joins all tokens into one.
struct FuseDecoder: Decoder {
    func decodeChain(_ tokens: [String]) -> [String] { [tokens.joined()] }
}

/// `Strip`: removes up to `start` leading and `stop` trailing `content` characters from each token.
struct StripDecoder: Decoder {
    let content: Unicode.Scalar
    let start: Int
    let stop: Int

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { t in
            let chars = Array(t.unicodeScalars)
            var lo = 0
            while lo < min(start, chars.count), chars[lo] == content { lo += 1 }
            var hi = chars.count
            var cut = 0
            while cut < stop, hi > lo, chars[hi - 1] == content { hi -= 1; cut += 1 }
            var out = String.UnicodeScalarView()
            out.append(contentsOf: chars[lo..<hi])
            return String(out)
        }
    }
}

/// `Replace`: replaces a literal pattern in every token.
struct ReplaceDecoder: Decoder {
    let matcher: ScalarMatcher
    let content: [UInt32]

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { t in
            var ns = NormalizedString(stringToScalars(t)[...], base: 0)
            ReplaceNormalizer(matcher: matcher, content: content).normalize(&ns)
            return ns.string
        }
    }
}

/// `Metaspace`: the replacement becomes a space; the first token loses its leading space unless
/// `prepend_scheme` is `never`.
struct MetaspaceDecoder: Decoder {
    let replacement: Unicode.Scalar
    let prepend: Bool

    func decodeChain(_ tokens: [String]) -> [String] {
        // As in `tokenizers`: in the first token every replacement is dropped (unless `never`),
        // elsewhere it becomes a space.
        tokens.enumerated().map { i, t in
            var out = String.UnicodeScalarView()
            for u in t.unicodeScalars {
                if u == replacement {
                    if !(i == 0 && prepend) { out.append(" ") }
                } else {
                    out.append(u)
                }
            }
            return String(out)
        }
    }
}

/// `WordPiece`: strips the `##` prefix (otherwise adds a space) and optionally cleans up spaces before punctuation.
struct WordPieceDecoder: Decoder {
    let prefix: String
    let cleanup: Bool

    static func cleanupSpaces(_ s: String) -> String {
        var s = s
        for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                       (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            s = s.replacingOccurrences(of: a, with: b)
        }
        return s
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, t in
            var s = t
            if i != 0 {
                if s.hasPrefix(prefix) { s = String(s.dropFirst(prefix.count)) } else { s = " " + s }
            }
            return cleanup ? WordPieceDecoder.cleanupSpaces(s) : s
        }
    }
}

/// `BPEDecoder`: the end-of-word suffix (e.g. CLIP's `</w>`) becomes a space, except on the last token.
struct BPESuffixDecoder: Decoder {
    let suffix: String
    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, t in
            t.replacingOccurrences(of: suffix, with: i == tokens.count - 1 ? "" : " ")
        }
    }
}

struct SequenceDecoder: Decoder {
    let decoders: [Decoder]
    func decodeChain(_ tokens: [String]) -> [String] {
        var t = tokens
        for d in decoders { t = d.decodeChain(t) }
        return t
    }
}

func makeDecoder(_ o: JSONFields) throws -> Decoder {
    let type = try o.string("type")
    switch type {
    case "ByteLevel": return ByteLevelDecoder()
    case "ByteFallback": return ByteFallbackDecoder()
    case "Fuse": return FuseDecoder()
    case "Strip":
        let c = try o.string("content")
        guard c.unicodeScalars.count == 1, let ch = c.unicodeScalars.first else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("content"), expected: "a single character")
        }
        return StripDecoder(content: ch, start: try o.int("start"), stop: try o.int("stop"))
    case "Replace":
        return ReplaceDecoder(matcher: try makePatternMatcher(o, key: "pattern"), content: stringToScalars(try o.string("content")))
    case "Metaspace":
        let rep = try o.optionalString("replacement") ?? "▁"
        guard rep.unicodeScalars.count == 1, let ch = rep.unicodeScalars.first else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("replacement"), expected: "a single character")
        }
        var prepend = true
        if let s = try o.optionalString("prepend_scheme") { prepend = s != "never" }
        else if o.has("add_prefix_space") { prepend = try o.bool("add_prefix_space", default: true) }
        return MetaspaceDecoder(replacement: ch, prepend: prepend)
    case "WordPiece":
        return WordPieceDecoder(prefix: try o.optionalString("prefix") ?? "##", cleanup: try o.bool("cleanup", default: true))
    case "BPEDecoder":
        return BPESuffixDecoder(suffix: try o.optionalString("suffix") ?? "</w>")
    case "Sequence":
        return SequenceDecoder(decoders: try o.objects("decoders").map(makeDecoder))
    default:
        throw TokenizerError.unsupported(file: o.file, field: o.sub("type"), type: type)
    }
}
