import Foundation
import Tokenizers
import ChatTemplates

/// `Tokenizers.Tokenizer` as the data pipeline's `TextEncoding` (with offsets, for generation masks).
public struct TokenizerEncoder: OffsetEncoding, @unchecked Sendable {
    public let tokenizer: Tokenizer

    public init(_ tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// Loads `tokenizer.json` (+ `tokenizer_config.json`, `chat_template.jinja`) from a model folder.
    public init(path: String) throws { tokenizer = try Tokenizer(path: path) }

    public func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] {
        try Self.narrow(tokenizer.encodeIds(text, addSpecialTokens: addSpecialTokens))
    }

    public func encodeWithOffsets(_ text: String, addSpecialTokens: Bool) throws -> (ids: [Int32], offsets: [Range<Int>]) {
        let e = tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
        return (try Self.narrow(e.ids), e.offsets.map { $0.start..<max($0.start, $0.end) })
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        tokenizer.decode(ids.map(Int.init), skipSpecialTokens: skipSpecialTokens)
    }

    public func tokenToId(_ token: String) -> Int32? { tokenizer.tokenToId(token).flatMap { Int32(exactly: $0) } }
    public var eosToken: String? { tokenizer.eosToken }
    public var bosToken: String? { tokenizer.bosToken }
    public var padToken: String? { tokenizer.padToken }
    public var unkToken: String? { tokenizer.unkToken }
    public var modelMaxLength: Int? { tokenizer.modelMaxLength }

    static func narrow(_ ids: [Int]) throws -> [Int32] {
        var out = [Int32](repeating: 0, count: ids.count)
        for (i, id) in ids.enumerated() {
            guard let v = Int32(exactly: id) else { throw DatasetError.invalidArgument("token id \(id) does not fit in Int32") }
            out[i] = v
        }
        return out
    }
}

/// A `ChatTemplates.ChatTemplate` as the pipeline's renderer, called as transformers' `apply_chat_template`
/// calls it: `messages`, `add_generation_prompt`, `tools`/`documents` = None, and the special tokens
/// (`bos_token`, `eos_token`, `unk_token`, `pad_token`).
public struct TemplateRenderer: GenerationMarkedRendering, @unchecked Sendable {
    public let template: ChatTemplate
    public let specialTokens: [String: String]
    public let hasGenerationMarkers: Bool

    public init(source: String, specialTokens: [String: String]) throws {
        template = try ChatTemplate.cached(source)
        self.specialTokens = specialTokens
        hasGenerationMarkers = source.range(of: #"\{%-?\s*generation\s*-?%\}"#, options: .regularExpression) != nil
    }

    /// The tokenizer's own chat template (nil when it has none), with its special tokens.
    public init?(tokenizer: Tokenizer) throws {
        guard let src = tokenizer.chatTemplate else { return nil }
        var special: [String: String] = [:]
        if let t = tokenizer.bosToken { special["bos_token"] = t }
        if let t = tokenizer.eosToken { special["eos_token"] = t }
        if let t = tokenizer.unkToken { special["unk_token"] = t }
        if let t = tokenizer.padToken { special["pad_token"] = t }
        try self.init(source: src, specialTokens: special)
    }

    /// `apply_chat_template(messages, add_generation_prompt=..., tokenize=False)` with the special tokens,
    /// including transformers' message normalisation (None-valued keys dropped, reasoning aliases).
    func apply(_ messages: [ChatMessage], _ tools: [JSONValue]?, _ addGenerationPrompt: Bool) throws -> RenderResult {
        var extra: [String: Value] = [:]
        for (k, v) in specialTokens { extra[k] = .string(v) }
        return try template.apply(messages: messages.map { Self.value(.object($0.jsonObject)) }, tools: tools?.map(Self.value),
                                  addGenerationPrompt: addGenerationPrompt, extra: extra)
    }

    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try apply(messages, nil, addGenerationPrompt).text
    }

    public func render(messages: [ChatMessage], tools: [JSONValue]?, addGenerationPrompt: Bool) throws -> String {
        try apply(messages, tools, addGenerationPrompt).text
    }

    public func renderWithGenerationRanges(messages: [ChatMessage], tools: [JSONValue]?, addGenerationPrompt: Bool) throws -> (text: String, ranges: [Range<Int>]) {
        let r = try apply(messages, tools, addGenerationPrompt)
        return (r.text, r.generationRanges)
    }

    static func value(_ v: JSONValue) -> Value {
        switch v {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .float(d)
        case .bigInt(let t): return .float(Double(t) ?? .nan)   // the template engine's ints are Int
        case .string(let s): return .string(s)
        case .array(let a): return .list(a.map(value))
        case .object(let o): return .dict(o.map { ($0.key, value($0.value)) })
        }
    }
}

public extension DataPipeline {
    /// A pipeline over a Hugging Face model folder's tokenizer and chat template.
    /// `chatTemplate` overrides the folder's template (e.g. a ChatML template for a base model).
    convenience init(config: DatasetConfig, tokenizerPath: String, chatTemplate: String? = nil, baseDirectory: String? = nil,
                     maxPositionEmbeddings: Int? = nil) throws {
        let tok = try Tokenizer(path: tokenizerPath)
        var renderer: TemplateRenderer? = try TemplateRenderer(tokenizer: tok)
        var special = renderer?.specialTokens ?? [:]
        if let e = config.eosToken { special["eos_token"] = e }   // the template sees the overriding EOS, as in TRL
        if let src = chatTemplate ?? tok.chatTemplate {
            renderer = try TemplateRenderer(source: src, specialTokens: special)
        }
        try self.init(config: config, encoder: TokenizerEncoder(tok), renderer: renderer, baseDirectory: baseDirectory,
                      maxPositionEmbeddings: maxPositionEmbeddings)
    }
}
