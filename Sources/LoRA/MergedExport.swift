import Foundation
import ModelIO
import Models
import Tensors

/// Writes a (merged) model as a Hugging Face folder transformers loads: config.json,
/// model.safetensors, generation_config.json and, when the base was an HF folder, its tokenizer files.
public enum MergedExport {
    /// Tokenizer and template files copied from an HF base folder.
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                                 "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja", "chat_template.json"]

    /// transformers' class name per `model_type`.
    static let architectures = ["llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                                "qwen2": "Qwen2ForCausalLM", "phi3": "Phi3ForCausalLM"]

    /// transformers' name of a dtype ("float32", "float16", "bfloat16").
    public static func dtypeName(_ d: DType) -> String {
        switch d {
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        default: return "float32"
        }
    }

    /// Writes `model` to `folder` with weights in `dtype` (float32, float16 or bfloat16). `source` is the
    /// base model's path: an HF folder (its config.json, generation_config.json and tokenizer files are
    /// carried over) or a GGUF file (config.json is written from the model config, LlamaConfig keys).
    public static func write(_ model: CausalLM, to folder: String, dtype: DType = .float32, source: String? = nil) throws {
        guard [.float32, .float16, .bfloat16].contains(dtype) else {
            throw LoRAError.unsupported("merged weights can be written as float32, float16 or bfloat16, not \(dtype)")
        }
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw LoRAError.invalidAdapter(file: folder, "cannot create the output folder: \(error.localizedDescription)")
        }
        var isDir: ObjCBool = false
        let srcFolder = source.flatMap { fm.fileExists(atPath: $0, isDirectory: &isDir) && isDir.boolValue ? $0 : nil }

        // Weights: every parameter under its HF name (a tied head is not stored, as transformers saves it).
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for (name, p) in model.namedParameters() {
            let t = p.value.detach().to(dtype).contiguous()
            let bytes = UnsafeRawBufferPointer(start: t.storage.base + t.offset * t.dtype.byteSize, count: t.count * t.dtype.byteSize)
            try writer.add(name, dtype: t.dtype, shape: t.shape, bytes: [UInt8](bytes))
        }
        try writer.write(to: folder + "/model.safetensors")

        // config.json.
        var config: [String: Any]
        if let srcFolder, let data = fm.contents(atPath: srcFolder + "/config.json"),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            config = obj
        } else {
            config = try JSONSerialization.jsonObject(with: JSONEncoder().encode(model.config)) as? [String: Any] ?? [:]
            config["architectures"] = [architectures[model.config.modelType] ?? "LlamaForCausalLM"]
            if model.config.eosTokenIds.count == 1 { config["eos_token_id"] = model.config.eosTokenIds[0] }
            config["hidden_act"] = model.config.hiddenAct
            config["attention_bias"] = model.config.attentionBias
            config["mlp_bias"] = model.config.mlpBias
            config["tie_word_embeddings"] = model.config.tieWordEmbeddings
            config["use_cache"] = true
        }
        config["torch_dtype"] = nil
        config["dtype"] = dtypeName(dtype)
        try writeJSON(config, to: folder + "/config.json")

        // generation_config.json: carried over, or the model-config defaults transformers derives.
        if let srcFolder, let data = fm.contents(atPath: srcFolder + "/generation_config.json") {
            try atomicWrite(data, to: folder + "/generation_config.json")
        } else {
            var g: [String: Any] = ["_from_model_config": true]
            if let b = model.config.bosTokenId { g["bos_token_id"] = b }
            if model.config.eosTokenIds.count == 1 { g["eos_token_id"] = model.config.eosTokenIds[0] }
            else if !model.config.eosTokenIds.isEmpty { g["eos_token_id"] = model.config.eosTokenIds }
            if let p = model.config.padTokenId { g["pad_token_id"] = p }
            try writeJSON(g, to: folder + "/generation_config.json")
        }
        if let srcFolder {
            for f in tokenizerFiles {
                if let data = fm.contents(atPath: srcFolder + "/" + f) { try atomicWrite(data, to: folder + "/" + f) }
            }
        }
    }

    static func writeJSON(_ obj: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try atomicWrite(data, to: path)
    }

    static func atomicWrite(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw LoRAError.invalidAdapter(file: path, "cannot write: \(error.localizedDescription)")
        }
    }
}
