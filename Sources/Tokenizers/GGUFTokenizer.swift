import Foundation

/// The tokenizer metadata a GGUF file carries (llama.cpp's `tokenizer.ggml.*` keys), as a plain
/// struct so that any GGUF reader can fill it.
public struct GGUFTokenizerMetadata: Sendable, Equatable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE).
    public var model: String
    /// `tokenizer.ggml.pre`: llama.cpp's pre-tokenizer name ("default", "llama-bpe", "qwen2", "smollm", "gpt-2", ...).
    public var pre: String?
    /// `general.architecture` (decides a few SentencePiece variants, e.g. "phi3").
    public var architecture: String?
    /// `tokenizer.ggml.tokens`, indexed by id.
    public var tokens: [String]
    /// `tokenizer.ggml.scores` (SentencePiece piece scores).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges` as "left right" strings.
    public var merges: [String]?
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var unknownTokenId: Int?
    public var paddingTokenId: Int?
    public var sepTokenId: Int?
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token`.
    public var addBosToken: Bool?
    public var addEosToken: Bool?
    /// `tokenizer.ggml.add_space_prefix`.
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?

    public init(model: String, pre: String? = nil, architecture: String? = nil, tokens: [String], scores: [Float]? = nil,
                tokenTypes: [Int32]? = nil, merges: [String]? = nil, bosTokenId: Int? = nil, eosTokenId: Int? = nil,
                unknownTokenId: Int? = nil, paddingTokenId: Int? = nil, sepTokenId: Int? = nil, addBosToken: Bool? = nil,
                addEosToken: Bool? = nil, addSpacePrefix: Bool? = nil, chatTemplate: String? = nil) {
        self.model = model
        self.pre = pre
        self.architecture = architecture
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.unknownTokenId = unknownTokenId
        self.paddingTokenId = paddingTokenId
        self.sepTokenId = sepTokenId
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }
}

/// Whose reading of a GGUF tokenizer to reproduce. They differ on a few `tokenizer.ggml.pre` names:
/// for "smollm" (and "starcoder", "refact", "command-r", ...) llama.cpp splits digits one by one before
/// the GPT-2 regex, while transformers uses the plain GPT-2 `ByteLevel` split.
public enum GGUFTokenizerFlavor: Sendable {
    /// `AutoTokenizer.from_pretrained(..., gguf_file=...)` in transformers (the default: parity with
    /// the Python reference stack).
    case transformers
    /// llama.cpp's `llama-vocab.cpp`.
    case llamaCpp
}

extension Tokenizer {
    /// Builds a tokenizer from GGUF metadata the way transformers' GGUF conversion does (or llama.cpp,
    /// with `flavor: .llamaCpp`): byte-level BPE for "gpt2", SentencePiece-style BPE with byte fallback
    /// for "llama"; control tokens (type 3) become special added tokens, user-defined ones (type 4)
    /// plain added tokens.
    public convenience init(gguf m: GGUFTokenizerMetadata, flavor: GGUFTokenizerFlavor = .transformers) throws {
        guard !m.tokens.isEmpty else { throw TokenizerError.invalidGGUF(field: "tokenizer.ggml.tokens", reason: "empty vocabulary") }
        if let s = m.scores, s.count != m.tokens.count {
            throw TokenizerError.invalidGGUF(field: "tokenizer.ggml.scores", reason: "\(s.count) scores for \(m.tokens.count) tokens")
        }
        if let t = m.tokenTypes, t.count != m.tokens.count {
            throw TokenizerError.invalidGGUF(field: "tokenizer.ggml.token_type", reason: "\(t.count) types for \(m.tokens.count) tokens")
        }
        for (key, id) in [("bos_token_id", m.bosTokenId), ("eos_token_id", m.eosTokenId), ("unknown_token_id", m.unknownTokenId),
                          ("padding_token_id", m.paddingTokenId), ("seperator_token_id", m.sepTokenId)] {
            if let id, id < 0 || id >= m.tokens.count {
                throw TokenizerError.invalidGGUF(field: "tokenizer.ggml.\(key)", reason: "id \(id) outside the vocabulary of \(m.tokens.count)")
            }
        }
        func name(_ id: Int?) -> String? { id.map { m.tokens[$0] } }
        let file = "GGUF tokenizer metadata"
        let byteLevel: Bool
        switch m.model {
        case "gpt2": byteLevel = true
        case "llama": byteLevel = false
        default:
            throw TokenizerError.invalidGGUF(field: "tokenizer.ggml.model",
                                             reason: "\"\(m.model)\" is not supported (supported: \"gpt2\" byte-level BPE, \"llama\" SentencePiece BPE)")
        }
        // Vocabulary, respelled into the byte alphabet where a byte-level token is not (as transformers does).
        var tokens = m.tokens
        if byteLevel {
            let alphabet = Set(ByteLevelTable.byteToChar)
            for i in tokens.indices where !tokens[i].unicodeScalars.allSatisfy({ alphabet.contains($0.value) }) {
                tokens[i] = scalarsToString(tokens[i].utf8.map { ByteLevelTable.byteToChar[Int($0)] })
            }
        }
        var vocab: [TokenKey: UInt32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { vocab[TokenKey(t)] = UInt32(i) }
        // Merges from the file, or derived from the vocabulary (by score for SentencePiece).
        var merges: [(String, String)] = []
        if let ms = m.merges, !ms.isEmpty {
            merges.reserveCapacity(ms.count)
            for (k, s) in ms.enumerated() {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidGGUF(field: "tokenizer.ggml.merges[\(k)]", reason: "expected \"left right\", got \"\(s)\"")
                }
                merges.append((String(parts[0]), String(parts[1])))
            }
        } else {
            merges = generateMerges(tokens: tokens, vocab: vocab, scores: byteLevel ? nil : m.scores)
        }
        let types = m.tokenTypes ?? []
        var added: [AddedToken] = []
        let alphabet = Set(ByteLevelTable.byteToChar)
        for (i, t) in m.tokens.enumerated() where i < types.count && types[i] == 3 {
            if byteLevel && !t.unicodeScalars.allSatisfy({ alphabet.contains($0.value) }) { continue }
            added.append(AddedToken(id: i, content: t, normalized: false, special: true))
        }
        for (i, t) in m.tokens.enumerated() where i < types.count && types[i] == 4 && vocab[TokenKey(t)] != nil {
            added.append(AddedToken(id: Int(vocab[TokenKey(t)]!), content: t, normalized: false, special: false))
        }
        // The named special tokens (bos/eos/unk/pad) are special added tokens too, as transformers registers them.
        for id in [m.bosTokenId, m.eosTokenId, m.unknownTokenId, m.paddingTokenId].compactMap({ $0 })
        where !added.contains(where: { $0.id == id }) {
            added.append(AddedToken(id: id, content: m.tokens[id], normalized: false, special: true))
        }
        let bos = name(m.bosTokenId), eos = name(m.eosTokenId)
        var normalizer: Normalizer? = nil
        let preTokenizer: PreTokenizer?
        let decoder: Decoder
        let model: BPEModel
        let addBos: Bool
        if byteLevel {
            model = try BPEModel(vocab: vocab, merges: merges, unkToken: nil, fuseUnk: false, byteFallback: false, ignoreMerges: false,
                                 continuingSubwordPrefix: nil, endOfWordSuffix: nil, file: file)
            preTokenizer = try ggufByteLevelPreTokenizer(pre: m.pre, flavor: flavor)
            decoder = ByteLevelDecoder()
            addBos = m.addBosToken ?? false
        } else {
            model = try BPEModel(vocab: vocab, merges: merges, unkToken: nil, fuseUnk: true, byteFallback: true, ignoreMerges: false,
                                 continuingSubwordPrefix: nil, endOfWordSuffix: nil, file: file)
            let meta: UInt32 = 0x2581
            if m.architecture == "phi3" {
                normalizer = SequenceNormalizer(normalizers: [PrependNormalizer(prefix: [meta]),
                                                              ReplaceNormalizer(matcher: LiteralMatcher(needle: [0x20]), content: [meta])])
                preTokenizer = nil
            } else {
                let scheme: MetaspacePreTokenizer.PrependScheme = (flavor == .llamaCpp && m.addSpacePrefix == false) ? .never : .first
                preTokenizer = MetaspacePreTokenizer(replacement: meta, prependScheme: scheme, split: false)
            }
            decoder = SequenceDecoder(decoders: [ReplaceDecoder(matcher: LiteralMatcher(needle: [meta]), content: [0x20]),
                                                 ByteFallbackDecoder(), FuseDecoder(), StripDecoder(content: " ", start: 1, stop: 0)])
            addBos = m.addBosToken ?? true
        }
        // Post-processor: BOS/EOS per add_bos_token / add_eos_token.
        var single: [TemplatePostProcessor.Piece] = []
        var pair: [TemplatePostProcessor.Piece] = []
        if addBos, let b = m.bosTokenId {
            single.append(.special(ids: [b], tokens: [m.tokens[b]], typeId: 0))
            pair.append(.special(ids: [b], tokens: [m.tokens[b]], typeId: 0))
        }
        single.append(.sequence(isB: false, typeId: 0))
        pair.append(.sequence(isB: false, typeId: 0))
        if m.addEosToken == true, let e = m.eosTokenId {
            single.append(.special(ids: [e], tokens: [m.tokens[e]], typeId: 0))
            pair.append(.special(ids: [e], tokens: [m.tokens[e]], typeId: 0))
        }
        if addBos, let b = m.bosTokenId { pair.append(.special(ids: [b], tokens: [m.tokens[b]], typeId: 1)) }
        pair.append(.sequence(isB: true, typeId: 1))
        if m.addEosToken == true, let e = m.eosTokenId { pair.append(.special(ids: [e], tokens: [m.tokens[e]], typeId: 1)) }
        self.init(normalizer: normalizer, preTokenizer: preTokenizer, model: model,
                  postProcessor: TemplatePostProcessor(single: single, pair: pair), decoder: decoder, addedTokens: added,
                  truncation: nil, padding: nil, bosToken: bos, eosToken: eos, padToken: name(m.paddingTokenId),
                  unkToken: name(m.unknownTokenId), addBosToken: addBos, addEosToken: m.addEosToken ?? false,
                  paddingSide: .right, chatTemplate: m.chatTemplate, modelMaxLength: nil)
    }
}

/// The byte-level pre-tokenizer for a `tokenizer.ggml.pre` name.
func ggufByteLevelPreTokenizer(pre: String?, flavor: GGUFTokenizerFlavor) throws -> PreTokenizer {
    let llama3: Set<String> = ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                               "jina-v5-nano", "dbrx", "smaug-bpe"]
    let qwen2: Set<String> = ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"]
    let splitThenBytes: (ScalarMatcher) -> PreTokenizer = { m in
        SequencePreTokenizer(steps: [SplitPreTokenizer(matcher: m, behavior: .isolated, invert: false),
                                     ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: false)])
    }
    if let p = pre, llama3.contains(p) { return splitThenBytes(Llama3Matcher(maxDigits: 3)) }
    if let p = pre, qwen2.contains(p) { return splitThenBytes(Llama3Matcher(maxDigits: 1)) }
    if flavor == .llamaCpp, let p = pre, ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"].contains(p) {
        // llama.cpp: `\p{N}` first (digits one by one), then the GPT-2 regex.
        return SequencePreTokenizer(steps: [DigitsPreTokenizer(individualDigits: true),
                                            ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true)])
    }
    return ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true)
}

/// Merges implied by a vocabulary with no merge list (`generate_merges` in transformers): every
/// split of a token into two vocabulary tokens, ordered by the token's score (highest first) or, with
/// no scores, by token id (lowest first); ties by longer left part, then longer right part.
func generateMerges(tokens: [String], vocab: [TokenKey: UInt32], scores: [Float]?) -> [(String, String)] {
    var out: [(l: String, r: String, score: Double, ll: Int, rl: Int, order: Int)] = []
    var order = 0
    for (i, t) in tokens.enumerated() {
        let sc = Array(t.unicodeScalars)
        guard sc.count >= 2 else { continue }
        let score = scores.map { Double($0[i]) } ?? Double(vocab[TokenKey(t)] ?? UInt32(i))
        var local: [(String, String, UInt32, UInt32, Int)] = []
        for k in 1..<sc.count {
            let l = String(String.UnicodeScalarView(sc[..<k])), r = String(String.UnicodeScalarView(sc[k...]))
            if let il = vocab[TokenKey(l)], let ir = vocab[TokenKey(r)] { local.append((l, r, il, ir, k)) }
        }
        local.sort { ($0.2, $0.3) < ($1.2, $1.3) }
        for (l, r, _, _, k) in local {
            out.append((l, r, score, k, sc.count - k, order))
            order += 1
        }
    }
    let descending = scores != nil
    out.sort { a, b in
        if a.score != b.score { return descending ? a.score > b.score : a.score < b.score }
        if a.ll != b.ll { return descending ? a.ll > b.ll : a.ll < b.ll }
        if a.rl != b.rl { return descending ? a.rl > b.rl : a.rl < b.rl }
        return a.order < b.order
    }
    return out.map { ($0.l, $0.r) }
}
