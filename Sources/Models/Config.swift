import Foundation

/// RoPE frequency scaling (`rope_scaling` in transformers 4.x config.json, `rope_parameters` in 5.x).
public struct RopeScaling: Codable, Equatable, Sendable {
    /// "default", "linear", "dynamic" or "llama3".
    public var ropeType: String
    public var factor: Float?
    public var lowFreqFactor: Float?
    public var highFreqFactor: Float?
    public var originalMaxPositionEmbeddings: Int?

    public init(ropeType: String = "default", factor: Float? = nil, lowFreqFactor: Float? = nil,
                highFreqFactor: Float? = nil, originalMaxPositionEmbeddings: Int? = nil) {
        self.ropeType = ropeType; self.factor = factor; self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor; self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", legacyType = "type", factor, lowFreqFactor = "low_freq_factor"
        case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType)
            ?? c.decodeIfPresent(String.self, forKey: .legacyType) ?? "default"
        factor = try c.decodeIfPresent(Float.self, forKey: .factor)
        lowFreqFactor = try c.decodeIfPresent(Float.self, forKey: .lowFreqFactor)
        highFreqFactor = try c.decodeIfPresent(Float.self, forKey: .highFreqFactor)
        originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ropeType, forKey: .ropeType)
        try c.encodeIfPresent(factor, forKey: .factor)
        try c.encodeIfPresent(lowFreqFactor, forKey: .lowFreqFactor)
        try c.encodeIfPresent(highFreqFactor, forKey: .highFreqFactor)
        try c.encodeIfPresent(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
    }
}

/// A Llama-family decoder config, read from a Hugging Face `config.json` (model_type llama, mistral,
/// qwen2, phi3) or built from GGUF metadata. Property names mirror the config.json keys.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling?
    public var tieWordEmbeddings: Bool
    /// Bias on q/k/v/o projections (llama `attention_bias`); qwen2 always has q/k/v bias, no o bias.
    public var attentionBias: Bool
    public var mlpBias: Bool
    public var hiddenAct: String
    public var bosTokenId: Int?
    /// `eos_token_id`, which config.json gives as one id or a list.
    public var eosTokenIds: [Int]
    public var padTokenId: Int?
    /// `torch_dtype` / `dtype`: the stored weights' dtype, informational.
    public var dtype: String?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling", tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias"
        case mlpBias = "mlp_bias", hiddenAct = "hidden_act", bosTokenId = "bos_token_id", eosTokenIds = "eos_token_id"
        case padTokenId = "pad_token_id", dtype = "torch_dtype"
    }
    /// Keys read but not stored (5.x spellings and checks).
    enum ExtraKeys: String, CodingKey {
        case ropeParameters = "rope_parameters", dtype, partialRotaryFactor = "partial_rotary_factor"
    }
    enum ThetaKey: String, CodingKey { case ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor" }

    /// The architectures `CausalLM` implements.
    public static let supportedModelTypes = ["llama", "mistral", "qwen2", "phi3"]

    public init(modelType: String = "llama", vocabSize: Int, hiddenSize: Int, intermediateSize: Int,
                numHiddenLayers: Int, numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil,
                maxPositionEmbeddings: Int = 2048, rmsNormEps: Float = 1e-6, ropeTheta: Float = 10000,
                ropeScaling: RopeScaling? = nil, tieWordEmbeddings: Bool = false, attentionBias: Bool = false,
                mlpBias: Bool = false, bosTokenId: Int? = nil, eosTokenIds: [Int] = [], padTokenId: Int? = nil) throws {
        self.modelType = modelType; self.vocabSize = vocabSize; self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling; self.tieWordEmbeddings = tieWordEmbeddings; self.attentionBias = attentionBias
        self.mlpBias = mlpBias; self.hiddenAct = "silu"; self.bosTokenId = bosTokenId; self.eosTokenIds = eosTokenIds
        self.padTokenId = padTokenId; self.dtype = nil
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let x = try decoder.container(keyedBy: ExtraKeys.self)
        func need<T: Decodable>(_ k: CodingKeys, _ t: T.Type) throws -> T {
            guard let v = try c.decodeIfPresent(T.self, forKey: k) else {
                throw ModelError.invalidConfig(field: k.rawValue, "missing (required for a \(T.self == Int.self ? "size" : "value"))")
            }
            return v
        }
        modelType = try need(.modelType, String.self)
        guard ModelConfig.supportedModelTypes.contains(modelType) else {
            throw ModelError.unsupportedArchitecture("model_type '\(modelType)'; supported: \(ModelConfig.supportedModelTypes.joined(separator: ", "))")
        }
        vocabSize = try need(.vocabSize, Int.self)
        hiddenSize = try need(.hiddenSize, Int.self)
        intermediateSize = try need(.intermediateSize, Int.self)
        numHiddenLayers = try need(.numHiddenLayers, Int.self)
        numAttentionHeads = try need(.numAttentionHeads, Int.self)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6
        // transformers 5 moved rope_theta and rope_scaling into `rope_parameters`.
        let params = try x.decodeIfPresent(RopeScaling.self, forKey: .ropeParameters)
        let nested = try? x.nestedContainer(keyedBy: ThetaKey.self, forKey: .ropeParameters)
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta)
            ?? nested?.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10000
        let scaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling) ?? params
        ropeScaling = scaling?.ropeType == "default" ? nil : scaling
        let partial = try x.decodeIfPresent(Float.self, forKey: .partialRotaryFactor)
            ?? nested?.decodeIfPresent(Float.self, forKey: .partialRotaryFactor) ?? 1
        guard partial == 1 else {
            throw ModelError.invalidConfig(field: "partial_rotary_factor", "\(partial) is not supported (only 1.0: RoPE on the whole head)")
        }
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? (modelType == "llama" ? false : false)
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        if let one = try? c.decodeIfPresent(Int.self, forKey: .eosTokenIds) { eosTokenIds = [one] }
        else { eosTokenIds = try c.decodeIfPresent([Int].self, forKey: .eosTokenIds) ?? [] }
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype) ?? x.decodeIfPresent(String.self, forKey: .dtype)
        try validate()
    }

    /// Reads and validates a config.json.
    public static func load(contentsOf url: URL) throws -> ModelConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.invalidFile(file: url.path, "cannot read: \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(ModelConfig.self, from: data) } catch let e as ModelError {
            throw e
        } catch DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx) {
            let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw ModelError.invalidConfig(field: field.isEmpty ? url.lastPathComponent : field, ctx.debugDescription)
        } catch {
            throw ModelError.invalidFile(file: url.path, "not a valid config.json: \(error)")
        }
    }

    /// Checks sizes and supported options; errors name the config field.
    public func validate() throws {
        func positive(_ v: Int, _ f: CodingKeys) throws {
            guard v > 0 else { throw ModelError.invalidConfig(field: f.rawValue, "must be positive, got \(v)") }
        }
        try positive(vocabSize, .vocabSize); try positive(hiddenSize, .hiddenSize)
        try positive(intermediateSize, .intermediateSize); try positive(numHiddenLayers, .numHiddenLayers)
        try positive(numAttentionHeads, .numAttentionHeads); try positive(numKeyValueHeads, .numKeyValueHeads)
        try positive(headDim, .headDim); try positive(maxPositionEmbeddings, .maxPositionEmbeddings)
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw ModelError.invalidConfig(field: "num_key_value_heads", "\(numKeyValueHeads) must divide num_attention_heads \(numAttentionHeads)")
        }
        guard headDim % 2 == 0 else { throw ModelError.invalidConfig(field: "head_dim", "must be even for RoPE, got \(headDim)") }
        guard rmsNormEps > 0 else { throw ModelError.invalidConfig(field: "rms_norm_eps", "must be positive, got \(rmsNormEps)") }
        guard ropeTheta > 0 else { throw ModelError.invalidConfig(field: "rope_theta", "must be positive, got \(ropeTheta)") }
        guard hiddenAct == "silu" else {
            throw ModelError.invalidConfig(field: "hidden_act", "'\(hiddenAct)' is not supported (Llama-family models use silu)")
        }
        if let s = ropeScaling {
            switch s.ropeType {
            case "default": break
            case "linear", "dynamic":
                guard let f = s.factor, f >= 1 else { throw ModelError.invalidConfig(field: "rope_scaling.factor", "\(s.ropeType) scaling needs factor >= 1, got \(s.factor.map { "\($0)" } ?? "none")") }
            case "llama3":
                guard let f = s.factor, f > 0, let lo = s.lowFreqFactor, let hi = s.highFreqFactor, hi > lo,
                      let o = s.originalMaxPositionEmbeddings, o > 0 else {
                    throw ModelError.invalidConfig(field: "rope_scaling", "llama3 scaling needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings")
                }
                _ = f
            default:
                throw ModelError.invalidConfig(field: "rope_scaling.rope_type", "'\(s.ropeType)' is not supported (default, linear, dynamic, llama3)")
            }
        }
    }

    /// Whether q/k/v projections carry a bias.
    public var qkvBias: Bool { modelType == "qwen2" || attentionBias }
    /// Whether the output projection carries a bias.
    public var outputBias: Bool { attentionBias }
    /// Phi-3 stores q/k/v as one `qkv_proj` and gate/up as one `gate_up_proj`.
    public var fusedProjections: Bool { modelType == "phi3" }
}
