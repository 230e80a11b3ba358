import Foundation

/// A Hugging Face tokenizer loaded from `tokenizer.json` (plus `tokenizer_config.json` and
/// `special_tokens_map.json` when present), running the same pipeline as the `tokenizers` library:
/// added tokens → normalizer → pre-tokenizer → model → post-processor, and the decoder back.
///
/// Immutable after loading, so one instance can serve concurrent `encode` calls.
public final class Tokenizer: @unchecked Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: TokenizerModel
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let added: AddedVocabulary
    /// Added special tokens that `decode(skipSpecialTokens: true)` drops.
    let skippableIds: Set<Int>
    /// The string `decode` uses for each added token: its content, normalized when the token has
    /// `normalized: true` (as `tokenizers` 0.23 does: Llama 2's `<s>` decodes through "▁<s>").
    let addedDecodeStrings: [Int: String]

    /// `truncation` from tokenizer.json; applied by `encode` when set.
    public let truncation: TruncationParams?
    /// `padding` from tokenizer.json (or tokenizer_config's `padding_side` / pad token); `encode` pads
    /// only when it has a fixed length.
    public let padding: PaddingParams?
    /// Special tokens named by tokenizer_config.json / special_tokens_map.json.
    public let bosToken: String?
    public let eosToken: String?
    public let padToken: String?
    public let unkToken: String?
    /// `add_bos_token` / `add_eos_token` from tokenizer_config.json (informational: the post-processor decides).
    public let addBosToken: Bool?
    public let addEosToken: Bool?
    /// `padding_side` from tokenizer_config.json ("right" when absent).
    public let paddingSide: Side
    /// `chat_template` from tokenizer_config.json or chat_template.jinja.
    public let chatTemplate: String?
    /// `model_max_length` from tokenizer_config.json.
    public let modelMaxLength: Int?

    /// Builds a tokenizer from its parts (the GGUF path uses this).
    init(normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: TokenizerModel, postProcessor: PostProcessor?,
         decoder: Decoder?, addedTokens: [AddedToken], truncation: TruncationParams?, padding: PaddingParams?,
         bosToken: String?, eosToken: String?, padToken: String?, unkToken: String?, addBosToken: Bool?, addEosToken: Bool?,
         paddingSide: Side, chatTemplate: String?, modelMaxLength: Int?) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.added = AddedVocabulary(tokens: addedTokens, normalizer: normalizer)
        var decodeStrings: [Int: String] = [:]
        for t in addedTokens {
            var s = t.content
            if t.normalized, let n = normalizer {
                var ns = NormalizedString(stringToScalars(t.content)[...], base: 0)
                n.normalize(&ns)
                s = ns.string
            }
            decodeStrings[t.id] = s
        }
        // skip_special_tokens drops a token whose decode string is a special token's content; so,
        // as in `tokenizers` 0.23, Llama 2's normalized `<s>` ("▁<s>") is kept.
        let specialContents = Set(addedTokens.filter(\.special).map { TokenKey($0.content) })
        skippableIds = Set(addedTokens.filter { t in decodeStrings[t.id].map { specialContents.contains(TokenKey($0)) } ?? false }.map(\.id))
        addedDecodeStrings = decodeStrings
        self.truncation = truncation
        self.padding = padding
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.padToken = padToken
        self.unkToken = unkToken
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.paddingSide = paddingSide
        self.chatTemplate = chatTemplate
        self.modelMaxLength = modelMaxLength
    }

    // MARK: Vocabulary

    /// Number of ids, added tokens included.
    public var vocabSize: Int {
        max(model.vocabSize, (added.tokens.map(\.id).max() ?? -1) + 1)
    }

    /// The id of a token string (added tokens first, then the model's vocabulary).
    public func tokenToId(_ token: String) -> Int? {
        added.byContent[TokenKey(token)] ?? model.tokenToId(token)
    }

    /// The token string of an id.
    public func idToToken(_ id: Int) -> String? {
        added.byId[id]?.content ?? model.idToToken(id)
    }

    /// Token string → id for the whole vocabulary, added tokens included (`get_vocab(with_added_tokens=True)`).
    public var vocabulary: [String: Int] {
        var v = model.vocabulary
        for t in added.tokens { v[t.content] = t.id }
        return v
    }

    /// Ids of the added special tokens.
    public var specialTokenIds: Set<Int> { Set(added.tokens.filter(\.special).map(\.id)) }

    /// The added tokens (`added_tokens` of tokenizer.json).
    public var addedTokens: [AddedToken] { added.tokens }

    /// Whether `id` is an added special token.
    public func isSpecial(_ id: Int) -> Bool { added.byId[id]?.special ?? false }

    public var bosTokenId: Int? { bosToken.flatMap(tokenToId) }
    public var eosTokenId: Int? { eosToken.flatMap(tokenToId) }
    public var padTokenId: Int? { padToken.flatMap(tokenToId) }
    public var unkTokenId: Int? { unkToken.flatMap(tokenToId) }

    // MARK: Encoding

    /// Encodes `text` (and optionally a second sequence `pair`), like `Tokenizer.encode` in `tokenizers`.
    /// Offsets are in Unicode scalars of the input. Truncation and fixed-length padding from
    /// tokenizer.json are applied.
    public func encode(_ text: String, pair: String? = nil, addSpecialTokens: Bool = true) -> Encoding {
        var a = encodeSequence(text)
        var b = pair.map { encodeSequence($0) }
        if let t = truncation {
            let budget = max(0, t.maxLength - (addSpecialTokens ? (postProcessor?.addedTokens(isPair: b != nil) ?? 0) : 0))
            if var bb = b {
                // Longest first: trim the longer sequence one token at a time.
                while a.count + bb.count > budget {
                    if a.count >= bb.count { a.truncate(maxLength: a.count - 1, direction: t.direction) }
                    else { bb.truncate(maxLength: bb.count - 1, direction: t.direction) }
                }
                b = bb
            } else {
                a.truncate(maxLength: budget, stride: t.stride, direction: t.direction)
            }
        }
        let post = postProcessor ?? ConcatPostProcessor()
        var e = post.process(a, b, addSpecialTokens: addSpecialTokens)
        // Each overflowing window is post-processed too (it gets its own BOS etc.), as in `tokenizers`.
        e.overflowing = a.overflowing.map { post.process($0, nil, addSpecialTokens: addSpecialTokens) }
        if let p = padding, let len = p.length {
            var target = len
            if let m = p.padToMultipleOf, m > 0, target % m != 0 { target += m - target % m }
            e.pad(to: target, padId: p.padId, padTypeId: p.padTypeId, padToken: p.padToken, direction: p.direction)
        }
        return e
    }

    /// Just the ids of `encode`.
    public func encodeIds(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        encode(text, addSpecialTokens: addSpecialTokens).ids
    }

    /// Encodes several texts (concurrently) and pads them to a common length when `padding` is set
    /// (`length` nil = longest in the batch).
    public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = true, padding: PaddingParams? = nil) -> [Encoding] {
        var out = [Encoding](repeating: Encoding(), count: texts.count)
        out.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: texts.count) { i in
                (base + i).pointee = self.encode(texts[i], addSpecialTokens: addSpecialTokens)
            }
        }
        if let p = padding ?? self.padding {
            var target = p.length ?? (out.map(\.count).max() ?? 0)
            if let m = p.padToMultipleOf, m > 0, target % m != 0 { target += m - target % m }
            for i in out.indices { out[i].pad(to: target, padId: p.padId, padTypeId: p.padTypeId, padToken: p.padToken, direction: p.direction) }
        }
        return out
    }

    /// One sequence through added tokens, normalizer, pre-tokenizer and model (no post-processing).
    func encodeSequence(_ text: String) -> Encoding {
        let scalars = stringToScalars(text)
        var out = Encoding()
        out.ids.reserveCapacity(scalars.count / 3)
        var scratch = ModelScratch()
        var sink = TokenSink()
        scalars.withUnsafeBufferPointer { buf in
            for seg in added.split(buf, normalizedPass: false, splitSpecialTokens: false) {
                switch seg {
                case let .token(id, lo, hi):
                    out.append(id: id, token: scalarsToString(buf[lo..<hi]), offset: TokenOffset(lo, hi), typeId: 0, special: false)
                case let .text(lo, hi):
                    var ns = NormalizedString(buf[lo..<hi], base: lo)
                    normalizer?.normalize(&ns)
                    if added.normalizedTrie.isEmpty {
                        runModel(ns, &out, &scratch, &sink)
                        continue
                    }
                    let nsegs = ns.scalars.withUnsafeBufferPointer { added.split($0, normalizedPass: true, splitSpecialTokens: false) }
                    for nseg in nsegs {
                        switch nseg {
                        case let .token(id, nlo, nhi):
                            let sp = ns.originalSpan(nlo, nhi)
                            out.append(id: id, token: scalarsToString(ns.scalars[nlo..<nhi]),
                                       offset: TokenOffset(Int(sp.start), Int(sp.end)), typeId: 0, special: false)
                        case let .text(nlo, nhi):
                            let sub = NormalizedString(scalars: Array(ns.scalars[nlo..<nhi]), spans: Array(ns.spans[nlo..<nhi]))
                            runModel(sub, &out, &scratch, &sink)
                        }
                    }
                }
            }
        }
        return out
    }

    private func runModel(_ ns: NormalizedString, _ out: inout Encoding, _ scratch: inout ModelScratch, _ sink: inout TokenSink) {
        if ns.isEmpty { return }
        var pl = PieceList(ns)
        preTokenizer?.preTokenize(&pl)
        pl.text.scalars.withUnsafeBufferPointer { all in
            pl.text.spans.withUnsafeBufferPointer { spans in
                for piece in pl.pieces {
                    sink.ids.removeAll(keepingCapacity: true)
                    sink.los.removeAll(keepingCapacity: true)
                    sink.his.removeAll(keepingCapacity: true)
                    if !sink.strings.isEmpty { sink.strings.removeAll() }
                    model.tokenize(UnsafeBufferPointer(rebasing: all[piece.lo..<piece.hi]), into: &sink, scratch: &scratch)
                    for k in 0..<sink.ids.count {
                        let id = Int(sink.ids[k])
                        let lo = piece.lo + Int(sink.los[k])
                        let hi = piece.lo + Int(sink.his[k])
                        let start = hi > lo ? Int(spans[lo].start) : Int(spans[min(lo, spans.count - 1)].start)
                        let end = hi > lo ? Int(spans[hi - 1].end) : start
                        let token = sink.strings.isEmpty ? model.idToToken(id) : (sink.strings[k] ?? model.idToToken(id))
                        out.append(id: id, token: token ?? "", offset: TokenOffset(start, end), typeId: 0, special: false)
                    }
                }
            }
        }
    }

    // MARK: Decoding

    /// Token strings for `ids` as `decode` sees them (unknown ids are dropped, as in `tokenizers`).
    func decodeTokens(_ ids: [Int], skipSpecialTokens: Bool) -> [String] {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let a = addedDecodeStrings[id] {
                if skipSpecialTokens && skippableIds.contains(id) { continue }
                tokens.append(a)
            } else if let t = model.idToToken(id) {
                tokens.append(t)
            }
        }
        return tokens
    }

    /// Decodes ids back to text with the tokenizer's decoder (`Tokenizer.decode` in `tokenizers`).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        let tokens = decodeTokens(ids, skipSpecialTokens: skipSpecialTokens)
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }
}
