import Foundation
import ModelIO

extension GGUFTokenizerMetadata {
    /// Reads the `tokenizer.ggml.*` keys (and `general.architecture`, `tokenizer.chat_template`) of a GGUF file.
    public init(file: GGUFFile) throws {
        func optional<T>(_ key: String, _ read: (String) throws -> T) throws -> T? {
            file.contains(key) ? try read(key) : nil
        }
        guard file.contains("tokenizer.ggml.model") else {
            throw TokenizerError.unreadableFile(
                path: file.name,
                reason: "the GGUF file has no tokenizer (no tokenizer.ggml.model key); load the tokenizer from the original model's tokenizer.json")
        }
        self.init(
            model: try file.string("tokenizer.ggml.model"),
            pre: try optional("tokenizer.ggml.pre", file.string),
            architecture: try optional("general.architecture", file.string),
            tokens: try file.strings("tokenizer.ggml.tokens"),
            scores: try optional("tokenizer.ggml.scores", file.floats),
            tokenTypes: try optional("tokenizer.ggml.token_type", file.ints).map { $0.map { Int32(truncatingIfNeeded: $0) } },
            merges: try optional("tokenizer.ggml.merges", file.strings),
            bosTokenId: try optional("tokenizer.ggml.bos_token_id", file.int),
            eosTokenId: try optional("tokenizer.ggml.eos_token_id", file.int),
            unknownTokenId: try optional("tokenizer.ggml.unknown_token_id", file.int),
            paddingTokenId: try optional("tokenizer.ggml.padding_token_id", file.int),
            sepTokenId: try optional("tokenizer.ggml.seperator_token_id", file.int),
            addBosToken: try optional("tokenizer.ggml.add_bos_token", file.bool),
            addEosToken: try optional("tokenizer.ggml.add_eos_token", file.bool),
            addSpacePrefix: try optional("tokenizer.ggml.add_space_prefix", file.bool),
            chatTemplate: try optional("tokenizer.chat_template", file.string))
    }
}

extension Tokenizer {
    /// The tokenizer embedded in a GGUF file, built as transformers' GGUF conversion builds it.
    public convenience init(ggufPath path: String, flavor: GGUFTokenizerFlavor = .transformers) throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch {
            throw TokenizerError.unreadableFile(path: path, reason: "\(error)")
        }
        try self.init(gguf: try GGUFTokenizerMetadata(file: file), flavor: flavor)
    }
}
