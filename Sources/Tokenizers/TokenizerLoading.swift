import Foundation
import JSONCore

extension Tokenizer {
    /// Loads a tokenizer from a Hugging Face model folder (holding tokenizer.json), a tokenizer.json
    /// file or a GGUF file (its embedded `tokenizer.ggml.*` vocabulary); tokenizer_config.json, special_tokens_map.json and chat_template.jinja
    /// next to it are read when present.
    public convenience init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TokenizerError.unreadableFile(path: path, reason: "no such file or folder")
        }
        let jsonPath: String
        let dir: String
        if isDir.boolValue {
            dir = path
            jsonPath = (path as NSString).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: jsonPath) else {
                throw TokenizerError.unreadableFile(path: jsonPath, reason: "the folder has no tokenizer.json (only tokenizer.json models are supported, not tokenizer.model / vocab.txt alone)")
            }
        } else {
            if path.lowercased().hasSuffix(".gguf") {
                try self.init(ggufPath: path)
                return
            }
            jsonPath = path
            dir = (path as NSString).deletingLastPathComponent
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: jsonPath)) } catch {
            throw TokenizerError.unreadableFile(path: jsonPath, reason: error.localizedDescription)
        }
        func optionalJSON(_ name: String) throws -> JSONFields? {
            let p = (dir as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: p) else { return nil }
            return try JSONFields(try readJSONFile(p), path: "", file: p)
        }
        let config = try optionalJSON("tokenizer_config.json")
        let specialMap = try optionalJSON("special_tokens_map.json")
        var template: String? = nil
        let jinja = (dir as NSString).appendingPathComponent("chat_template.jinja")
        if FileManager.default.fileExists(atPath: jinja) { template = try? String(contentsOfFile: jinja, encoding: .utf8) }
        try self.init(tokenizerJSON: data, name: jsonPath, config: config, specialTokensMap: specialMap, chatTemplate: template)
    }

    /// Loads from the bytes of a tokenizer.json (`name` is used in error messages).
    public convenience init(tokenizerJSON data: Data, name: String = "tokenizer.json") throws {
        try self.init(tokenizerJSON: data, name: name, config: nil, specialTokensMap: nil, chatTemplate: nil)
    }

    convenience init(tokenizerJSON data: Data, name: String, config: JSONFields?, specialTokensMap: JSONFields?, chatTemplate: String?) throws {
        try self.init(parsedRoot: try parseJSON(data, name: name), name: name, config: config, specialTokensMap: specialTokensMap,
                      chatTemplate: chatTemplate)
    }

    /// From an already parsed tokenizer.json (`JSONParser` output).
    convenience init(parsedRoot: JSONValue, name: String, config: JSONFields? = nil, specialTokensMap: JSONFields? = nil,
                     chatTemplate: String? = nil) throws {
        let root = try JSONFields(parsedRoot, path: "", file: name)
        // Added tokens.
        var addedTokens: [AddedToken] = []
        if root.has("added_tokens") {
            for t in try root.objects("added_tokens") {
                addedTokens.append(AddedToken(id: try t.int("id"), content: try t.string("content"),
                                              singleWord: try t.bool("single_word", default: false),
                                              lstrip: try t.bool("lstrip", default: false), rstrip: try t.bool("rstrip", default: false),
                                              normalized: try t.bool("normalized", default: !(try t.bool("special", default: false))),
                                              special: try t.bool("special", default: false)))
            }
        }
        // tokenizer_config.json's `added_tokens_decoder` is deliberately not merged in: `tokenizers`
        // (the reference) encodes with tokenizer.json's `added_tokens` alone.
        let normalizer = try root.optionalObject("normalizer").map(makeNormalizer)
        let preTokenizer = try root.optionalObject("pre_tokenizer").map(makePreTokenizer)
        let model = try makeModel(try root.object("model"))
        let post = try root.optionalObject("post_processor").map(makePostProcessor)
        let decoder = try root.optionalObject("decoder").map(makeDecoder)
        // Added token ids must not collide with different model tokens... they may legitimately
        // repeat a vocabulary entry (Llama's <s>), so only the range is checked.
        for (k, t) in addedTokens.enumerated() where t.id < 0 || t.id > 10_000_000 {
            throw TokenizerError.invalidField(file: name, field: "added_tokens[\(k)].id", expected: "a non-negative id")
        }
        var truncation: TruncationParams? = nil
        if let t = try root.optionalObject("truncation") {
            let dir = (try t.optionalString("direction") ?? "Right").lowercased()
            truncation = TruncationParams(maxLength: try t.int("max_length"), stride: try t.optionalInt("stride") ?? 0,
                                          direction: dir == "left" ? .left : .right)
        }
        // Special tokens: tokenizer_config.json, then special_tokens_map.json.
        func specialName(_ key: String) throws -> String? {
            for src in [config, specialTokensMap] {
                guard let src, src.has(key) else { continue }
                let v = src.dict[key]
                if let s = v?.stringValue { return s }
                if let s = v?["content"]?.stringValue { return s }
                throw TokenizerError.invalidField(file: src.file, field: key, expected: "a token string or {\"content\": ...}")
            }
            return nil
        }
        let bos = try specialName("bos_token"), eos = try specialName("eos_token")
        let pad = try specialName("pad_token"), unk = try specialName("unk_token")
        let addBos = config?.has("add_bos_token") == true ? try config!.bool("add_bos_token", default: false) : nil
        let addEos = config?.has("add_eos_token") == true ? try config!.bool("add_eos_token", default: false) : nil
        var side = Side.right
        if let s = try config?.optionalString("padding_side") {
            guard let sd = Side(rawValue: s) else {
                throw TokenizerError.invalidField(file: config!.file, field: "padding_side", expected: "\"left\" or \"right\"")
            }
            side = sd
        }
        var padding: PaddingParams? = nil
        if let p = try root.optionalObject("padding") {
            var length: Int? = nil
            if let n = p.dict["strategy"]?["Fixed"]?.intValue { length = n }
            let dir = (try p.optionalString("direction") ?? "Right").lowercased()
            padding = PaddingParams(length: length, padToMultipleOf: try p.optionalInt("pad_to_multiple_of"),
                                    padId: try p.optionalInt("pad_id") ?? 0, padTypeId: try p.optionalInt("pad_type_id") ?? 0,
                                    padToken: try p.optionalString("pad_token") ?? "[PAD]", direction: dir == "left" ? .left : .right)
        }
        var template = chatTemplate
        if template == nil, let cfg = config {
            if let t = cfg.dict["chat_template"]?.stringValue {
                template = t
            } else if let list = cfg.dict["chat_template"]?.arrayValue {
                // A list of {"name", "template"}: the one named "default", else the first.
                let named = list.compactMap(\.objectValue).map { ($0["name"]?.stringValue, $0["template"]?.stringValue) }
                template = (named.first { $0.0 == "default" } ?? named.first)?.1
            }
        }
        var maxLen: Int? = nil
        if let cfg = config, let n = cfg.dict["model_max_length"]?.intValue, n < 1 << 50 { maxLen = n }
        self.init(normalizer: normalizer, preTokenizer: preTokenizer, model: model, postProcessor: post, decoder: decoder,
                  addedTokens: addedTokens, truncation: truncation, padding: padding, bosToken: bos, eosToken: eos,
                  padToken: pad, unkToken: unk, addBosToken: addBos, addEosToken: addEos, paddingSide: side,
                  chatTemplate: template, modelMaxLength: maxLen)
    }
}

/// Parses `model.vocab` as a token → id object.
private func parseVocabDict(_ m: JSONFields) throws -> [TokenKey: UInt32] {
    guard let d = m.dict["vocab"]?.objectValue else {
        throw TokenizerError.invalidField(file: m.file, field: m.sub("vocab"), expected: "an object of token → id")
    }
    var vocab: [TokenKey: UInt32] = [:]
    vocab.reserveCapacity(d.count)
    for (k, v) in d {
        guard let i = v.intValue, i >= 0, i < Int(UInt32.max) else {
            throw TokenizerError.invalidField(file: m.file, field: "\(m.sub("vocab")).\(k)", expected: "a non-negative integer id")
        }
        vocab[TokenKey(k)] = UInt32(i)
    }
    return vocab
}

func makeModel(_ m: JSONFields) throws -> TokenizerModel {
    var type = try m.optionalString("type")
    if type == nil {
        // Legacy files omit the type; infer it from the fields.
        if m.has("merges") { type = "BPE" } else if m.has("unk_id") || m.dict["vocab"]?.arrayValue != nil { type = "Unigram" }
        else if m.has("max_input_chars_per_word") { type = "WordPiece" }
    }
    switch type {
    case "BPE":
        let vocab = try parseVocabDict(m)
        var merges: [(String, String)] = []
        let raw = m.has("merges") ? try m.array("merges") : []
        merges.reserveCapacity(raw.count)
        for (k, item) in raw.enumerated() {
            if let s = item.stringValue {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidField(file: m.file, field: "\(m.sub("merges"))[\(k)]",
                                                      expected: "\"left right\" (two tokens separated by one space), got \"\(s)\"")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let a = item.arrayValue, a.count == 2, let l = a[0].stringValue, let r = a[1].stringValue {
                merges.append((l, r))
            } else {
                throw TokenizerError.invalidField(file: m.file, field: "\(m.sub("merges"))[\(k)]",
                                                  expected: "a \"left right\" string or a [\"left\", \"right\"] pair")
            }
        }
        return try BPEModel(vocab: vocab, merges: merges, unkToken: try m.optionalString("unk_token"),
                            fuseUnk: try m.bool("fuse_unk", default: false), byteFallback: try m.bool("byte_fallback", default: false),
                            ignoreMerges: try m.bool("ignore_merges", default: false),
                            continuingSubwordPrefix: try m.optionalString("continuing_subword_prefix"),
                            endOfWordSuffix: try m.optionalString("end_of_word_suffix"), file: m.file)
    case "WordPiece":
        return try WordPieceModel(vocab: try parseVocabDict(m), unkToken: try m.optionalString("unk_token") ?? "[UNK]",
                                  prefix: try m.optionalString("continuing_subword_prefix") ?? "##",
                                  maxInputCharsPerWord: try m.optionalInt("max_input_chars_per_word") ?? 100, file: m.file)
    case "Unigram":
        return try UnigramModel(m)
    case nil:
        throw TokenizerError.invalidField(file: m.file, field: m.sub("type"), expected: "\"BPE\", \"WordPiece\" or \"Unigram\"")
    case let t?:
        throw TokenizerError.unsupported(file: m.file, field: m.sub("type"), type: t)
    }
}
