import Foundation
import ModelIO
import Models
import Tensors
import Tokenizers
import Datasets

/// Model + tokenizer + chat template from a Hugging Face folder or a GGUF file.
public struct LoadedModel {
    public let model: CausalLM
    public let tokenizer: Tokenizer
    /// The chat template source in effect (config override, else the model's own), if any.
    public let chatTemplate: String?
}

public enum ModelLoader {
    /// Loads `section.path` with its tokenizer (tokenizer.json in the folder, or the GGUF's
    /// `tokenizer.ggml.*` metadata read as transformers reads it).
    public static func load(_ section: ModelSection) throws -> LoadedModel {
        let dtype: DType? = section.dtype == "float32" ? .float32 : section.dtype == "bfloat16" ? .bfloat16
            : section.dtype == "float16" ? .float16 : nil
        let options = LoadOptions(dtype: dtype, attentionImplementation: section.attnImplementation == "eager" ? .eager : .sdpa)
        let model = try CausalLM.load(path: section.path, options: options)
        let tokenizer: Tokenizer
        if section.path.lowercased().hasSuffix(".gguf") {
            tokenizer = try Tokenizer(gguf: ggufTokenizerMetadata(try GGUFFile(path: section.path)))
        } else {
            tokenizer = try Tokenizer(path: section.path)
        }
        return LoadedModel(model: model, tokenizer: tokenizer, chatTemplate: section.chatTemplate ?? tokenizer.chatTemplate)
    }

    /// The GGUF's tokenizer keys as `GGUFTokenizerMetadata`.
    public static func ggufTokenizerMetadata(_ f: GGUFFile) throws -> GGUFTokenizerMetadata {
        func optInt(_ k: String) -> Int? { f.contains(k) ? try? f.int(k) : nil }
        func optBool(_ k: String) -> Bool? { f.contains(k) ? try? f.bool(k) : nil }
        guard f.contains("tokenizer.ggml.model") else {
            throw ConfigError("\(f.name): the GGUF file has no tokenizer (tokenizer.ggml.model); use a Hugging Face folder with tokenizer.json")
        }
        return GGUFTokenizerMetadata(
            model: try f.string("tokenizer.ggml.model"),
            pre: f.contains("tokenizer.ggml.pre") ? try f.string("tokenizer.ggml.pre") : nil,
            architecture: f.contains("general.architecture") ? try f.string("general.architecture") : nil,
            tokens: try f.strings("tokenizer.ggml.tokens"),
            scores: f.contains("tokenizer.ggml.scores") ? try f.floats("tokenizer.ggml.scores") : nil,
            tokenTypes: f.contains("tokenizer.ggml.token_type") ? try f.ints("tokenizer.ggml.token_type").map { Int32(truncatingIfNeeded: $0) } : nil,
            merges: f.contains("tokenizer.ggml.merges") ? try f.strings("tokenizer.ggml.merges") : nil,
            bosTokenId: optInt("tokenizer.ggml.bos_token_id"), eosTokenId: optInt("tokenizer.ggml.eos_token_id"),
            unknownTokenId: optInt("tokenizer.ggml.unknown_token_id"), paddingTokenId: optInt("tokenizer.ggml.padding_token_id"),
            sepTokenId: optInt("tokenizer.ggml.seperator_token_id"),
            addBosToken: optBool("tokenizer.ggml.add_bos_token"), addEosToken: optBool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: optBool("tokenizer.ggml.add_space_prefix"),
            chatTemplate: f.contains("tokenizer.chat_template") ? try f.string("tokenizer.chat_template") : nil)
    }
}
