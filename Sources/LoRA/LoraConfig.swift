import Foundation
import JSONCore

/// Which modules get LoRA layers (PEFT `target_modules`).
public enum TargetModules: Equatable, Sendable {
    /// A list: a module matches when its qualified name equals an entry or ends with `"." + entry`.
    case list([String])
    /// A string: a regular expression that must match the whole qualified name.
    case regex(String)
    /// `"all-linear"`: every linear layer except the output head.
    case allLinear
}

/// How fresh adapter weights are initialised (PEFT `init_lora_weights`).
public enum InitLoraWeights: Equatable, Sendable {
    /// `true`: A Kaiming-uniform (a = √5), B zeros (a fresh adapter is a no-op); embeddings A zeros, B normal.
    case `default`
    /// `"gaussian"`: A normal with std 1/r, B zeros.
    case gaussian
    /// `false`: random A and B (nn.Linear's default init), so the adapter changes the output; for tests.
    case random
}

/// PEFT's `LoraConfig`, with its names and defaults, read from and written to `adapter_config.json`.
public struct LoraConfig: Equatable, Sendable, Codable {
    public var r: Int = 8
    public var loraAlpha: Double = 8
    public var loraDropout: Double = 0
    /// nil: the architecture's default (PEFT's mapping), resolved by `LoRA.apply`.
    public var targetModules: TargetModules? = nil
    /// "none", "all" or "lora_only".
    public var bias: String = "none"
    /// Modules (plain name-suffix match) replaced by trainable, saved copies.
    public var modulesToSave: [String]? = nil
    public var useRslora: Bool = false
    public var useDora: Bool = false
    public var initLoraWeights: InitLoraWeights = .default
    public var rankPattern: [String: Int] = [:]
    public var alphaPattern: [String: Double] = [:]
    public var layersToTransform: [Int]? = nil
    public var layersPattern: [String]? = nil
    public var taskType: String? = "CAUSAL_LM"
    public var baseModelNameOrPath: String? = nil
    public var revision: String? = nil
    public var inferenceMode: Bool = false
    public var fanInFanOut: Bool = false
    /// `exclude_modules`: like `target_modules` (list suffix match or full regex), never adapted.
    public var excludeModules: TargetModules? = nil

    public init(r: Int = 8, loraAlpha: Double = 8, loraDropout: Double = 0, targetModules: TargetModules? = nil,
                bias: String = "none", modulesToSave: [String]? = nil, useRslora: Bool = false, useDora: Bool = false,
                initLoraWeights: InitLoraWeights = .default, rankPattern: [String: Int] = [:],
                alphaPattern: [String: Double] = [:], layersToTransform: [Int]? = nil, taskType: String? = "CAUSAL_LM") {
        self.r = r; self.loraAlpha = loraAlpha; self.loraDropout = loraDropout; self.targetModules = targetModules
        self.bias = bias; self.modulesToSave = modulesToSave; self.useRslora = useRslora; self.useDora = useDora
        self.initLoraWeights = initLoraWeights; self.rankPattern = rankPattern; self.alphaPattern = alphaPattern
        self.layersToTransform = layersToTransform; self.taskType = taskType
    }

    /// Checks values PEFT would reject; the error names the adapter_config.json field.
    public func validate() throws {
        guard r > 0 else { throw LoRAError.invalidConfig(field: "r", "must be a positive integer, got \(r)") }
        guard ["none", "all", "lora_only"].contains(bias) else {
            throw LoRAError.invalidConfig(field: "bias", "must be \"none\", \"all\" or \"lora_only\", got \"\(bias)\"")
        }
        guard loraDropout >= 0 && loraDropout < 1 else {
            throw LoRAError.invalidConfig(field: "lora_dropout", "must be in [0, 1), got \(loraDropout)")
        }
        guard !fanInFanOut else {
            throw LoRAError.invalidConfig(field: "fan_in_fan_out", "true is for GPT-2 style Conv1D weights; Llama-family Linear layers need false")
        }
        for (k, v) in rankPattern where v <= 0 {
            throw LoRAError.invalidConfig(field: "rank_pattern.\(k)", "rank must be positive, got \(v)")
        }
        if case .regex(let p)? = targetModules { _ = try LoRARegex(p, field: "target_modules") }
        if layersPattern != nil && layersToTransform == nil {
            throw LoRAError.invalidConfig(field: "layers_pattern", "only valid together with layers_to_transform")
        }
    }

    /// Scaling of an adapter with rank `r` and alpha `alpha`: alpha/r, or alpha/√r with rsLoRA.
    public func scaling(r: Int, alpha: Double) -> Float {
        Float(useRslora ? alpha / Double(r).squareRoot() : alpha / Double(r))
    }

    // MARK: adapter_config.json

    enum Keys: String, CodingKey, CaseIterable {
        case r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout", targetModules = "target_modules", bias
        case modulesToSave = "modules_to_save", useRslora = "use_rslora", useDora = "use_dora"
        case initLoraWeights = "init_lora_weights", rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
        case layersToTransform = "layers_to_transform", layersPattern = "layers_pattern", taskType = "task_type"
        case baseModelNameOrPath = "base_model_name_or_path", revision, inferenceMode = "inference_mode"
        case fanInFanOut = "fan_in_fan_out", excludeModules = "exclude_modules", peftType = "peft_type"
        case peftVersion = "peft_version", loraBias = "lora_bias", layerReplication = "layer_replication"
        case targetParameters = "target_parameters", trainableTokenIndices = "trainable_token_indices"
        case useQalora = "use_qalora"
    }

    /// Keys PEFT 0.21 writes that SwiftTune does not model; written with PEFT's default values.
    static let passiveKeys: [(String, Any)] = [
        ("alora_invocation_tokens", NSNull()), ("arrow_config", NSNull()), ("auto_mapping", NSNull()),
        ("corda_config", NSNull()), ("ensure_weight_tying", false), ("eva_config", NSNull()),
        ("kasa_config", NSNull()), ("layer_replication", NSNull()), ("loftq_config", [String: Any]()),
        ("lora_bias", false), ("lora_ga_config", NSNull()), ("megatron_config", NSNull()),
        ("megatron_core", "megatron.core"), ("monteclora_config", NSNull()), ("qalora_group_size", 16),
        ("target_parameters", NSNull()), ("trainable_token_indices", NSNull()), ("use_bdlora", NSNull()),
        ("use_qalora", false), ("velora_config", NSNull()),
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        func path(_ k: Keys) -> String { k.rawValue }
        if let t = try c.decodeIfPresent(String.self, forKey: .peftType), t != "LORA" {
            throw LoRAError.invalidConfig(field: "peft_type", "\"\(t)\" is not a LoRA adapter (expected \"LORA\")")
        }
        r = try c.decodeIfPresent(Int.self, forKey: .r) ?? 8
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha) ?? 8
        loraDropout = try c.decodeIfPresent(Double.self, forKey: .loraDropout) ?? 0
        if let s = try? c.decodeIfPresent(String.self, forKey: .targetModules) {
            targetModules = s.lowercased() == "all-linear" ? .allLinear : .regex(s)
        } else if let l = try c.decodeIfPresent([String].self, forKey: .targetModules) {
            targetModules = .list(l)
        }
        if let s = try? c.decodeIfPresent(String.self, forKey: .excludeModules) { excludeModules = .regex(s) }
        else if let l = try c.decodeIfPresent([String].self, forKey: .excludeModules) { excludeModules = .list(l) }
        bias = try c.decodeIfPresent(String.self, forKey: .bias) ?? "none"
        modulesToSave = try c.decodeIfPresent([String].self, forKey: .modulesToSave)
        useRslora = try c.decodeIfPresent(Bool.self, forKey: .useRslora) ?? false
        useDora = try c.decodeIfPresent(Bool.self, forKey: .useDora) ?? false
        if let b = try? c.decodeIfPresent(Bool.self, forKey: .initLoraWeights) {
            initLoraWeights = b ? .default : .random
        } else if let s = try c.decodeIfPresent(String.self, forKey: .initLoraWeights) {
            // Data-driven inits (pissa, olora, loftq, eva, …) only matter when creating an adapter; a saved
            // adapter carries its weights, so they load like any other.
            initLoraWeights = s == "gaussian" ? .gaussian : .default
        }
        rankPattern = try c.decodeIfPresent([String: Int].self, forKey: .rankPattern) ?? [:]
        alphaPattern = try c.decodeIfPresent([String: Double].self, forKey: .alphaPattern) ?? [:]
        if let one = try? c.decodeIfPresent(Int.self, forKey: .layersToTransform) { layersToTransform = [one] }
        else { layersToTransform = try c.decodeIfPresent([Int].self, forKey: .layersToTransform) }
        if let one = try? c.decodeIfPresent(String.self, forKey: .layersPattern) { layersPattern = [one] }
        else { layersPattern = try c.decodeIfPresent([String].self, forKey: .layersPattern) }
        taskType = try c.decodeIfPresent(String.self, forKey: .taskType)
        baseModelNameOrPath = try c.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
        revision = try c.decodeIfPresent(String.self, forKey: .revision)
        inferenceMode = try c.decodeIfPresent(Bool.self, forKey: .inferenceMode) ?? false
        fanInFanOut = try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut) ?? false
        if try c.decodeIfPresent(Bool.self, forKey: .loraBias) == true {
            throw LoRAError.invalidConfig(field: "lora_bias", "true (a bias on lora_B) is not supported")
        }
        if (try? c.decodeNil(forKey: .layerReplication)) == false, c.contains(.layerReplication) {
            throw LoRAError.invalidConfig(field: "layer_replication", "layer replication is not supported")
        }
        if (try? c.decodeNil(forKey: .targetParameters)) == false, c.contains(.targetParameters) {
            throw LoRAError.invalidConfig(field: "target_parameters", "LoRA on raw parameters is not supported")
        }
    }

    public func encode(to encoder: Encoder) throws {
        // Only the modelled keys; `jsonObject()` adds PEFT's other keys for adapter_config.json.
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(r, forKey: .r)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(loraDropout, forKey: .loraDropout)
        switch targetModules {
        case .list(let l)?: try c.encode(l, forKey: .targetModules)
        case .regex(let s)?: try c.encode(s, forKey: .targetModules)
        case .allLinear?: try c.encode("all-linear", forKey: .targetModules)
        case nil: try c.encodeNil(forKey: .targetModules)
        }
        try c.encode(bias, forKey: .bias)
        try c.encode(modulesToSave, forKey: .modulesToSave)
        try c.encode(useRslora, forKey: .useRslora)
        try c.encode(useDora, forKey: .useDora)
        switch initLoraWeights {
        case .default: try c.encode(true, forKey: .initLoraWeights)
        case .random: try c.encode(false, forKey: .initLoraWeights)
        case .gaussian: try c.encode("gaussian", forKey: .initLoraWeights)
        }
        try c.encode(rankPattern, forKey: .rankPattern)
        try c.encode(alphaPattern, forKey: .alphaPattern)
        try c.encode(layersToTransform, forKey: .layersToTransform)
        try c.encode(layersPattern, forKey: .layersPattern)
        try c.encode(taskType, forKey: .taskType)
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath)
        try c.encode(revision, forKey: .revision)
        try c.encode(inferenceMode, forKey: .inferenceMode)
        try c.encode(fanInFanOut, forKey: .fanInFanOut)
        switch excludeModules {
        case .list(let l)?: try c.encode(l, forKey: .excludeModules)
        case .regex(let s)?: try c.encode(s, forKey: .excludeModules)
        case .allLinear?: try c.encode("all-linear", forKey: .excludeModules)
        case nil: try c.encodeNil(forKey: .excludeModules)
        }
        try c.encode("LORA", forKey: .peftType)
    }

    /// The full adapter_config.json PEFT 0.21 writes, byte for byte as its `json.dumps(indent=2,
    /// sort_keys=True)`: every key it writes, SwiftTune's values for the modelled ones and PEFT's
    /// defaults for the rest.
    public func jsonData() throws -> Data {
        guard case .object(var obj) = try JSONParser.parse(String(decoding: JSONEncoder().encode(self), as: UTF8.self)) else {
            throw LoRAError.invalidConfig(field: "adapter_config", "did not encode as a JSON object")
        }
        for (k, v) in LoraConfig.passiveKeys where obj[k] == nil { obj[k] = LoraConfig.jsonValue(v) }
        obj["peft_version"] = .string("0.21.2")
        // Whole-number floats as PEFT writes them (lora_alpha 16 stays an int in Python when given as int).
        func number(_ d: Double) -> JSONValue { d == d.rounded() && abs(d) < 1e15 ? .int(Int(d)) : .double(d) }
        obj["lora_alpha"] = number(loraAlpha)
        obj["lora_dropout"] = .double(loraDropout)  // a Python float, 0.0 included
        obj["alpha_pattern"] = .object(JSONObject(alphaPattern.sorted { $0.key < $1.key }.map { ($0.key, number($0.value)) }))
        for k in ["target_modules", "modules_to_save", "layers_to_transform", "layers_pattern", "task_type",
                  "base_model_name_or_path", "revision", "exclude_modules"] where obj[k] == nil { obj[k] = .null }
        return Data(JSONWriter.string(.object(obj), options: .python(indent: 2, sortKeys: true)).utf8)
    }

    /// The passive defaults (Foundation values) as JSON.
    static func jsonValue(_ v: Any) -> JSONValue {
        switch v {
        case is NSNull: return .null
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(i)
        case let s as String: return .string(s)
        case let d as [String: Any]: return .object(JSONObject(d.sorted { $0.key < $1.key }.map { ($0.key, jsonValue($0.value)) }))
        default: return .null
        }
    }

    /// Reads an adapter_config.json.
    public static func load(contentsOf url: URL) throws -> LoraConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LoRAError.invalidAdapter(file: url.path, "cannot read adapter_config.json: \(error.localizedDescription)")
        }
        do {
            let c = try JSONDecoder().decode(LoraConfig.self, from: data)
            try c.validate()
            return c
        } catch let e as LoRAError {
            throw e
        } catch DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx) {
            let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw LoRAError.invalidConfig(field: field.isEmpty ? url.lastPathComponent : field, ctx.debugDescription)
        } catch {
            throw LoRAError.invalidAdapter(file: url.path, "not a valid adapter_config.json: \(error)")
        }
    }
}
