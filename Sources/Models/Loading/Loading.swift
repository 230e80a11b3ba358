import Foundation
import ModelIO
import Quantization
import Tensors

/// How `CausalLM.load` stores weights.
public struct LoadOptions: Sendable {
    /// nil: keep each tensor's stored dtype (float32 weights are copied into trainable memory;
    /// float16/bfloat16 ones stay in the mapped file, frozen, converted tile by tile by matmul).
    /// `.float32`: convert everything to float32 on load. `.float16`/`.bfloat16`: store that way.
    public var dtype: DType?
    /// The attention computation of the loaded model (default: the fused kernel, as transformers
    /// defaults to "sdpa").
    public var attentionImplementation: AttentionImplementation
    /// GGUF only: keep the linear weights and the token embedding (the tied output head) in their
    /// block formats where a kernel exists (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; other types are
    /// dequantised to float32 as before). For inference (`generate`, `chat`): about 4–8× less memory
    /// and faster decoding; those layers are frozen (an input's gradient still flows through them).
    public var keepQuantized: Bool

    public init(dtype: DType? = nil, attentionImplementation: AttentionImplementation = .sdpa, keepQuantized: Bool = false) {
        self.dtype = dtype
        self.attentionImplementation = attentionImplementation
        self.keepQuantized = keepQuantized
    }
}

extension CausalLM {
    /// Loads a model from a Hugging Face folder (config.json + model.safetensors or sharded
    /// safetensors) or a `.gguf` file (architecture llama; weights dequantised to float32, Q/K rows
    /// un-permuted as transformers does, so the model equals the one transformers builds from it).
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws -> CausalLM {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError.invalidFile(file: path, "no such file or folder")
        }
        let model = isDir.boolValue ? try loadFolder(URL(fileURLWithPath: path), options)
                                    : try loadGGUF(path, options)
        model.attentionImplementation = options.attentionImplementation
        return model
    }

    static func loadFolder(_ folder: URL, _ options: LoadOptions) throws -> CausalLM {
        let config = try ModelConfig.load(contentsOf: folder.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsFolder(path: folder.path)
        let model = CausalLM(config: config)
        for (name, p) in model.namedParameters() {
            guard let st = ckpt.tensor(named: name) else { throw ModelError.missingTensor(name: name, file: folder.path) }
            guard let base = st.bytes.baseAddress else {
                throw ModelError.invalidFile(file: st.file, "tensor '\(name)' is empty (shape \(st.shape))")
            }
            // Borrows the mapped bytes; `place` copies float32 into owned memory.
            let t = try Tensor(borrowing: base, byteCount: st.byteCount, dtype: st.dtype, shape: st.shape, owner: st.storage)
            guard t.shape == p.value.shape else {
                throw ModelError.shapeMismatch(name: name, expected: p.value.shape, found: t.shape, file: folder.path)
            }
            p.value = place(t, options.dtype)
        }
        return model
    }

    /// An owned float32 copy (trainable), or the stored/converted half-precision tensor (frozen).
    static func place(_ t: Tensor, _ dtype: DType?) -> Tensor {
        let target = dtype ?? t.dtype
        if target == .float32 {
            let owned = Tensor.zeros(t.shape)
            owned.copy(from: t)
            return owned.requiringGrad()
        }
        return target == t.dtype ? t : t.to(target)
    }

    static func loadGGUF(_ path: String, _ options: LoadOptions) throws -> CausalLM {
        let gguf = try GGUFFile(path: path)
        let config = try ModelConfig(gguf: gguf)
        // Every weight is set below (or loading throws), so none is allocated up front.
        let model = QuantizedOps.constructingWithPlaceholders { CausalLM(config: config) }
        var byHF: [String: GGUFTensorInfo] = [:]
        for info in gguf.tensors { if let hf = hfName(gguf: info.name) { byHF[hf] = info } }
        // Weights that may stay quantised: every Linear's and the embedding's, by parameter name.
        var quantizable: [String: Module] = [:]
        for (name, module) in model.namedModules() where module is Linear || module is Embedding {
            quantizable[name + ".weight"] = module
        }
        for (name, p) in model.namedParameters() {
            guard let info = byHF[name] else {
                throw ModelError.missingTensor(name: "\(name) (GGUF '\(ggufName(hf: name))')", file: path)
            }
            let shape = info.shape
            guard shape == p.value.shape else {
                throw ModelError.shapeMismatch(name: "\(name) (GGUF '\(info.name)')", expected: p.value.shape, found: shape, file: path)
            }
            if options.keepQuantized, let module = quantizable[name], QuantizedMatrix.hasKernel(info.type), shape.count == 2 {
                var order: [Int]? = nil
                if name.hasSuffix("self_attn.q_proj.weight") {
                    order = unpermutedRowOrder(rows: shape[0], heads: config.numAttentionHeads)
                } else if name.hasSuffix("self_attn.k_proj.weight") {
                    order = unpermutedRowOrder(rows: shape[0], heads: config.numKeyValueHeads)
                }
                let q: QuantizedMatrix
                do {
                    q = try QuantizedMatrix(type: info.type, rows: shape[0], cols: shape[1], bytes: gguf.bytes(of: info), rowOrder: order)
                } catch {
                    throw ModelError.invalidFile(file: path, "tensor '\(info.name)': \(error)")
                }
                if let linear = module as? Linear { try linear.setQuantizedWeight(q) }
                else if let embedding = module as? Embedding { try embedding.setQuantizedWeight(q) }
                // Copied (and repacked): the file's pages need not stay resident beside the copies.
                gguf.releasePages(of: info)
                continue
            }
            var values = try gguf.dequantize(info.name)
            gguf.releasePages(of: info)
            if name.hasSuffix("self_attn.q_proj.weight") {
                values = unpermuteRows(values, shape: shape, heads: config.numAttentionHeads)
            } else if name.hasSuffix("self_attn.k_proj.weight") {
                values = unpermuteRows(values, shape: shape, heads: config.numKeyValueHeads)
            }
            let t = Tensor(values, shape: shape)
            p.value = options.dtype.map { $0 == .float32 ? t : t.to($0) } ?? t
            if p.value.dtype == .float32 { p.value.requiresGrad = true }
        }
        return model
    }

    /// Undoes llama.cpp's Q/K row permutation (transformers' `reverse_permute_weights`):
    /// `w.reshape(heads, dim, 2, cols).swapaxes(1, 2).reshape(rows, cols)` with dim = rows / heads / 2.
    static func unpermuteRows(_ w: [Float], shape: [Int], heads: Int) -> [Float] {
        let rows = shape[0], cols = shape.count > 1 ? shape[1] : 1
        let dim = rows / heads / 2
        var out = [Float](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0..<heads { for i in 0..<dim { for j in 0..<2 {
                    let from = (h * dim * 2 + i * 2 + j) * cols, to = (h * 2 * dim + j * dim + i) * cols
                    for c in 0..<cols { dst[to + c] = src[from + c] }
                } } }
            }
        }
        return out
    }

    /// The source row of each output row of `unpermuteRows` (the same permutation, as indices).
    static func unpermutedRowOrder(rows: Int, heads: Int) -> [Int] {
        let dim = rows / heads / 2
        var order = [Int](repeating: 0, count: rows)
        for h in 0..<heads { for i in 0..<dim { for j in 0..<2 { order[h * 2 * dim + j * dim + i] = h * dim * 2 + i * 2 + j } } }
        return order
    }

    /// GGUF (llama.cpp) tensor name → Hugging Face parameter name; nil for tensors the model does not use.
    static func hfName(gguf name: String) -> String? {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]) else { return nil }
        let map = ["attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                   "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                   "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"]
        guard let hf = map[String(parts[2])] else { return nil }
        return "model.layers.\(layer).\(hf).\(parts[3])"
    }

    /// The GGUF name expected for a Hugging Face parameter (for error messages).
    static func ggufName(hf name: String) -> String {
        var n = name.replacingOccurrences(of: "model.layers.", with: "blk.")
        for (a, b) in [("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
                       ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
                       ("mlp.down_proj", "ffn_down"), ("post_attention_layernorm", "ffn_norm"), ("input_layernorm", "attn_norm"),
                       ("model.embed_tokens", "token_embd"), ("model.norm", "output_norm"), ("lm_head", "output")] {
            n = n.replacingOccurrences(of: a, with: b)
        }
        return n
    }
}

extension ModelConfig {
    /// A config from GGUF metadata (architecture llama: `llama.block_count`, `embedding_length`, …).
    init(gguf: GGUFFile) throws {
        let path = gguf.name
        guard case .string(let arch)? = gguf.value("general.architecture") else {
            throw ModelError.invalidConfig(field: "general.architecture", "missing in \(path)")
        }
        guard arch == "llama" else {
            throw ModelError.unsupportedArchitecture("GGUF general.architecture '\(arch)' in \(path); supported: llama")
        }
        func int(_ key: String) throws -> Int {
            guard let v = gguf.value("llama." + key)?.intValue else {
                throw ModelError.invalidConfig(field: "llama." + key, "missing or not an integer in \(path)")
            }
            return v
        }
        func opt(_ key: String) -> GGUFValue? { gguf.value("llama." + key) }
        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        var tokenCount: Int? = nil
        if case .array(let a)? = gguf.value("tokenizer.ggml.tokens") { tokenCount = a.count }
        let vocab = opt("vocab_size")?.intValue ?? gguf.tensor(named: "token_embd.weight")?.shape.first ?? tokenCount
        guard let vocab else { throw ModelError.invalidConfig(field: "llama.vocab_size", "missing, and no token_embd.weight to infer it from") }
        let headDim = opt("attention.key_length")?.intValue ?? (heads > 0 ? hidden / heads : 0)
        if let rd = opt("rope.dimension_count")?.intValue, rd != headDim {
            throw ModelError.invalidConfig(field: "llama.rope.dimension_count", "\(rd) differs from the head size \(headDim): partial rotary embeddings are not supported")
        }
        var scaling: RopeScaling? = nil
        if case .string(let type)? = opt("rope.scaling.type"), type != "none" {
            guard type == "linear", let f = opt("rope.scaling.factor")?.doubleValue else {
                throw ModelError.invalidConfig(field: "llama.rope.scaling.type", "'\(type)' is not supported for GGUF (none, linear)")
            }
            scaling = RopeScaling(ropeType: "linear", factor: Float(f))
        }
        let eos = gguf.value("tokenizer.ggml.eos_token_id")?.intValue
        try self.init(modelType: "llama", vocabSize: vocab, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
                      numHiddenLayers: try int("block_count"), numAttentionHeads: heads,
                      numKeyValueHeads: opt("attention.head_count_kv")?.intValue ?? heads, headDim: headDim,
                      maxPositionEmbeddings: opt("context_length")?.intValue ?? 2048,
                      rmsNormEps: Float(opt("attention.layer_norm_rms_epsilon")?.doubleValue ?? 1e-5),
                      ropeTheta: Float(opt("rope.freq_base")?.doubleValue ?? 10000), ropeScaling: scaling,
                      tieWordEmbeddings: gguf.tensor(named: "output.weight") == nil,
                      bosTokenId: gguf.value("tokenizer.ggml.bos_token_id")?.intValue,
                      eosTokenIds: eos.map { [$0] } ?? [],
                      padTokenId: gguf.value("tokenizer.ggml.padding_token_id")?.intValue)
    }
}
