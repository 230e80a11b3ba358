import JSONCore
import Foundation

/// A `post_processor` of tokenizer.json: adds special tokens around one or two sequences
/// when `add_special_tokens` is true (and may adjust offsets).
protocol PostProcessor: Sendable {
    /// Processes the sequences (one, or two for a pair) like `process_encodings` in `tokenizers`:
    /// processors that add special tokens return one merged encoding, ByteLevel returns its inputs
    /// with trimmed offsets, so a `Sequence` can chain them.
    func processEncodings(_ encs: [Encoding], addSpecialTokens: Bool) -> [Encoding]
    /// How many tokens processing adds (for truncation).
    func addedTokens(isPair: Bool) -> Int
}

extension PostProcessor {
    func process(_ a: Encoding, _ b: Encoding?, addSpecialTokens: Bool) -> Encoding {
        var inputs = [a]
        if var b {
            b.setTypeIds(1)
            inputs.append(b)
        }
        let outs = processEncodings(inputs, addSpecialTokens: addSpecialTokens)
        var e = outs.first ?? Encoding()
        for o in outs.dropFirst() { e.append(contentsOf: o) }
        return e
    }
}

/// Default when there is no post-processor: concatenate, second sequence gets type id 1.
struct ConcatPostProcessor: PostProcessor {
    func processEncodings(_ encs: [Encoding], addSpecialTokens: Bool) -> [Encoding] { encs }
    func addedTokens(isPair: Bool) -> Int { 0 }
}

/// `TemplateProcessing`: `single` and `pair` templates of `$A`/`$B` sequences and special tokens.
struct TemplatePostProcessor: PostProcessor {
    enum Piece: Sendable {
        case sequence(isB: Bool, typeId: Int)
        case special(ids: [Int], tokens: [String], typeId: Int)
    }
    let single: [Piece]
    let pair: [Piece]

    func processEncodings(_ encs: [Encoding], addSpecialTokens: Bool) -> [Encoding] {
        guard let a = encs.first else { return encs }
        let b: Encoding? = encs.count > 1 ? encs[1] : nil
        let template = b == nil ? single : pair
        var out = Encoding()
        for p in template {
            switch p {
            case let .sequence(isB, typeId):
                if isB { if let b { out.append(contentsOf: b, typeId: typeId) } } else { out.append(contentsOf: a, typeId: typeId) }
            case let .special(ids, tokens, typeId):
                if addSpecialTokens {
                    for (i, t) in zip(ids, tokens) { out.append(id: i, token: t, offset: TokenOffset(0, 0), typeId: typeId, special: true) }
                }
            }
        }
        return [out]
    }

    func addedTokens(isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { n, p in
            if case let .special(ids, _, _) = p { return n + ids.count }
            return n
        }
    }

    /// Parses a template given as a list of pieces or as a string such as `"[CLS] $A [SEP]"`.
    static func parseTemplate(_ value: JSONValue?, field: String, specials: [String: ([Int], [String])], file: String) throws -> [Piece] {
        var out: [Piece] = []
        if let s = value?.stringValue {
            for word in s.split(separator: " ") {
                var w = String(word)
                var typeId = 0
                if let colon = w.lastIndex(of: ":"), let t = Int(w[w.index(after: colon)...]) {
                    typeId = t
                    w = String(w[..<colon])
                }
                if w == "$A" || w == "$" || w == "$0" { out.append(.sequence(isB: false, typeId: typeId)); continue }
                if w == "$B" || w == "$1" { out.append(.sequence(isB: true, typeId: typeId)); continue }
                if w.hasPrefix("$"), let t = Int(w.dropFirst()) { out.append(.sequence(isB: false, typeId: t)); continue }
                guard let sp = specials[w] else { throw TokenizerError.unknownToken(file: file, field: field, token: w) }
                out.append(.special(ids: sp.0, tokens: sp.1, typeId: typeId))
            }
            return out
        }
        guard let arr = value?.arrayValue else {
            throw TokenizerError.invalidField(file: file, field: field, expected: "a template (list of pieces or a string)")
        }
        for (k, item) in arr.enumerated() {
            let o = try JSONFields(item, path: "\(field)[\(k)]", file: file)
            if o.has("Sequence") {
                let s = try o.object("Sequence")
                let id = try s.string("id")
                guard id == "A" || id == "B" else {
                    throw TokenizerError.invalidField(file: file, field: s.sub("id"), expected: "\"A\" or \"B\"")
                }
                out.append(.sequence(isB: id == "B", typeId: try s.optionalInt("type_id") ?? 0))
            } else if o.has("SpecialToken") {
                let s = try o.object("SpecialToken")
                let id = try s.string("id")
                guard let sp = specials[id] else { throw TokenizerError.unknownToken(file: file, field: s.sub("id"), token: id) }
                out.append(.special(ids: sp.0, tokens: sp.1, typeId: try s.optionalInt("type_id") ?? 0))
            } else {
                throw TokenizerError.invalidField(file: file, field: o.path, expected: "{\"Sequence\": ...} or {\"SpecialToken\": ...}")
            }
        }
        return out
    }
}

/// `ByteLevel` post-processor: with `trim_offsets`, offsets exclude the leading/trailing spaces of each token.
struct ByteLevelPostProcessor: PostProcessor {
    let trimOffsets: Bool
    let addPrefixSpace: Bool

    func processEncodings(_ encs: [Encoding], addSpecialTokens: Bool) -> [Encoding] {
        guard trimOffsets else { return encs }
        return encs.map { e in
            var e = e
            ByteLevelPostProcessor.trim(&e, addPrefixSpace: addPrefixSpace)
            return e
        }
    }

    func addedTokens(isPair: Bool) -> Int { 0 }

    static func trim(_ e: inout Encoding, addPrefixSpace: Bool) {
        let isSpace: (Unicode.Scalar) -> Bool = { $0.value == 0x120 || $0.properties.isWhitespace }
        for i in 0..<e.count {
            let scalars = e.tokens[i].unicodeScalars
            var leading = 0
            for u in scalars { if isSpace(u) { leading += 1 } else { break } }
            var trailing = 0
            for u in scalars.reversed() { if isSpace(u) { trailing += 1 } else { break } }
            var o = e.offsets[i]
            if leading > 0 {
                let isFirst = i == 0 || o.start == 0
                if isFirst && addPrefixSpace && leading == 1 { leading = 0 }
                o.start = min(o.start + leading, o.end)
            }
            if trailing > 0 && o.end >= trailing { o.end = max(o.end - trailing, o.start) }
            e.offsets[i] = o
        }
    }
}

/// `BertProcessing` (`[CLS] A [SEP] B [SEP]`) and `RobertaProcessing` (`<s> A </s></s> B </s>`).
struct BertLikePostProcessor: PostProcessor {
    let cls: (id: Int, token: String)
    let sep: (id: Int, token: String)
    let roberta: Bool
    let trimOffsets: Bool
    let addPrefixSpace: Bool

    func processEncodings(_ encs: [Encoding], addSpecialTokens: Bool) -> [Encoding] {
        guard var a = encs.first else { return encs }
        var b: Encoding? = encs.count > 1 ? encs[1] : nil
        if roberta && trimOffsets {
            ByteLevelPostProcessor.trim(&a, addPrefixSpace: addPrefixSpace)
            if b != nil { ByteLevelPostProcessor.trim(&b!, addPrefixSpace: addPrefixSpace) }
        }
        guard addSpecialTokens else {
            // Without special tokens the sequences are concatenated; Roberta gives the pair type id 0.
            if roberta, b != nil { b!.setTypeIds(0) }
            return b.map { [a, $0] } ?? [a]
        }
        var out = Encoding()
        out.append(id: cls.id, token: cls.token, offset: TokenOffset(0, 0), typeId: 0, special: true)
        out.append(contentsOf: a, typeId: 0)
        out.append(id: sep.id, token: sep.token, offset: TokenOffset(0, 0), typeId: 0, special: true)
        if let b {
            let t = roberta ? 0 : 1
            if roberta { out.append(id: sep.id, token: sep.token, offset: TokenOffset(0, 0), typeId: t, special: true) }
            out.append(contentsOf: b, typeId: t)
            out.append(id: sep.id, token: sep.token, offset: TokenOffset(0, 0), typeId: t, special: true)
        }
        return [out]
    }

    func addedTokens(isPair: Bool) -> Int { isPair ? (roberta ? 4 : 3) : 2 }
}

struct SequencePostProcessor: PostProcessor {
    let processors: [PostProcessor]
    func processEncodings(_ encs: [Encoding], addSpecialTokens: Bool) -> [Encoding] {
        var e = encs
        for p in processors { e = p.processEncodings(e, addSpecialTokens: addSpecialTokens) }
        return e
    }
    func addedTokens(isPair: Bool) -> Int { processors.reduce(0) { $0 + $1.addedTokens(isPair: isPair) } }
}

func makePostProcessor(_ o: JSONFields) throws -> PostProcessor {
    let type = try o.string("type")
    switch type {
    case "TemplateProcessing":
        var specials: [String: ([Int], [String])] = [:]
        if o.has("special_tokens") {
            let st = try o.object("special_tokens")
            for key in st.dict.keys {
                let t = try st.object(key)
                let ids = try t.array("ids").enumerated().map { (k, v) -> Int in
                    guard let i = v.intValue else {
                        throw TokenizerError.invalidField(file: o.file, field: t.sub("ids[\(k)]"), expected: "an integer")
                    }
                    return i
                }
                let toks = try t.array("tokens").enumerated().map { (k, v) -> String in
                    guard let s = v.stringValue else {
                        throw TokenizerError.invalidField(file: o.file, field: t.sub("tokens[\(k)]"), expected: "a string")
                    }
                    return s
                }
                guard ids.count == toks.count else {
                    throw TokenizerError.invalidField(file: o.file, field: t.path, expected: "as many ids as tokens")
                }
                specials[try t.optionalString("id") ?? key] = (ids, toks)
            }
        }
        let single = try TemplatePostProcessor.parseTemplate(o.dict["single"], field: o.sub("single"), specials: specials, file: o.file)
        let pair = o.has("pair")
            ? try TemplatePostProcessor.parseTemplate(o.dict["pair"], field: o.sub("pair"), specials: specials, file: o.file)
            : single + [.sequence(isB: true, typeId: 1)]
        return TemplatePostProcessor(single: single, pair: pair)
    case "ByteLevel":
        return ByteLevelPostProcessor(trimOffsets: try o.bool("trim_offsets", default: true),
                                      addPrefixSpace: try o.bool("add_prefix_space", default: true))
    case "BertProcessing", "RobertaProcessing":
        func pair(_ key: String) throws -> (Int, String) {
            guard let a = o.dict[key]?.arrayValue, a.count == 2, let s = a[0].stringValue, let i = a[1].intValue else {
                throw TokenizerError.invalidField(file: o.file, field: o.sub(key), expected: "[\"token\", id]")
            }
            return (i, s)
        }
        let roberta = type == "RobertaProcessing"
        return BertLikePostProcessor(cls: try pair("cls"), sep: try pair("sep"), roberta: roberta,
                                     trimOffsets: roberta ? try o.bool("trim_offsets", default: true) : false,
                                     addPrefixSpace: try o.bool("add_prefix_space", default: true))
    case "Sequence":
        return SequencePostProcessor(processors: try o.objects("processors").map(makePostProcessor))
    default:
        throw TokenizerError.unsupported(file: o.file, field: o.sub("type"), type: type)
    }
}
