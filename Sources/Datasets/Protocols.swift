import Foundation
import JSONCore

/// The tokenizer as the data pipeline needs it. `Tokenizers.Tokenizer` conforms through an adapter; tests use fakes.
public protocol TextEncoding {
    /// Token ids of `text`; `addSpecialTokens` adds what the tokenizer's post-processor adds (BOS/EOS), like HF's
    /// `tokenizer(text)` vs `tokenizer(text, add_special_tokens=False)`.
    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32]
    /// Text of `ids` (special tokens kept unless `skipSpecialTokens`).
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    /// Id of a token string in the vocabulary (added tokens included), nil when absent.
    func tokenToId(_ token: String) -> Int32?

    var eosToken: String? { get }
    var bosToken: String? { get }
    var padToken: String? { get }
    var unkToken: String? { get }
    /// `tokenizer.model_max_length` when the tokenizer config has a sane one.
    var modelMaxLength: Int? { get }
}

public extension TextEncoding {
    var eosTokenId: Int32? { eosToken.flatMap(tokenToId) }
    var bosTokenId: Int32? { bosToken.flatMap(tokenToId) }
    var padTokenId: Int32? { padToken.flatMap(tokenToId) }
    var unkTokenId: Int32? { unkToken.flatMap(tokenToId) }
    var modelMaxLength: Int? { nil }
}

/// One chat message. `extra` keeps any other fields of the record (`tool_calls`, `name`, ...) for the template.
public struct ChatMessage: Hashable, Sendable {
    public var role: String
    public var content: String
    public var extra: JSONObject

    public init(role: String, content: String, extra: JSONObject = JSONObject()) {
        self.role = role; self.content = content; self.extra = extra
    }

    /// The message as the template sees it: `{"role": ..., "content": ..., ...extra}`.
    public var jsonObject: JSONObject {
        var o = JSONObject()
        o["role"] = .string(role)
        // A message whose content was null (tool calls only) keeps null; the template adapter drops it as transformers does.
        o["content"] = extra["content"] == .null ? .null : .string(content)
        for (k, v) in extra where k != "role" && k != "content" { o[k] = v }
        return o
    }
}

/// The model's chat template as the data pipeline needs it (`apply_chat_template(tokenize=False)`).
/// `ChatTemplates` conforms through an adapter; tests use fakes.
public protocol ChatRendering {
    func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String
    /// With a row's `tools` (function schemas), passed to the template as transformers does.
    func render(messages: [ChatMessage], tools: [JSONValue]?, addGenerationPrompt: Bool) throws -> String
}

public extension ChatRendering {
    /// Renderers that know nothing of tools render without them.
    func render(messages: [ChatMessage], tools: [JSONValue]?, addGenerationPrompt: Bool) throws -> String {
        try render(messages: messages, addGenerationPrompt: addGenerationPrompt)
    }
}

/// A tokenizer that also reports each token's `[start, end)` in Unicode scalars of the input (HF offsets);
/// needed to turn `{% generation %}` character ranges into token masks.
public protocol OffsetEncoding: TextEncoding {
    func encodeWithOffsets(_ text: String, addSpecialTokens: Bool) throws -> (ids: [Int32], offsets: [Range<Int>])
}

/// A chat template that marks assistant output with `{% generation %}` … `{% endgeneration %}`.
public protocol GenerationMarkedRendering: ChatRendering {
    /// Whether the template has generation markers at all.
    var hasGenerationMarkers: Bool { get }
    /// The rendering and the Unicode-scalar ranges produced inside generation blocks.
    func renderWithGenerationRanges(messages: [ChatMessage], tools: [JSONValue]?, addGenerationPrompt: Bool) throws -> (text: String, ranges: [Range<Int>])
}

/// An encoder whose EOS token is replaced (TRL `SFTConfig.eos_token`: e.g. a base model trained with a chat
/// template whose turns end in `<|im_end|>`).
public struct EOSOverrideEncoder: TextEncoding {
    public let base: TextEncoding
    public let eosToken: String?

    public init(base: TextEncoding, eosToken: String) throws {
        guard base.tokenToId(eosToken) != nil else {
            throw DatasetError.invalidConfig("eos_token '\(eosToken)' is not in the tokenizer's vocabulary; name an existing token")
        }
        self.base = base; self.eosToken = eosToken
    }

    public func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] { try base.encode(text, addSpecialTokens: addSpecialTokens) }
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String { base.decode(ids, skipSpecialTokens: skipSpecialTokens) }
    public func tokenToId(_ token: String) -> Int32? { base.tokenToId(token) }
    public var bosToken: String? { base.bosToken }
    public var padToken: String? { base.padToken }
    public var unkToken: String? { base.unkToken }
    public var modelMaxLength: Int? { base.modelMaxLength }
}
