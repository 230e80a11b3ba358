/// Decoding settings, named like transformers' `GenerationConfig`.
public struct GenerationConfig: Sendable, Equatable {
    /// Tokens to generate at most (beyond the prompt).
    public var maxNewTokens: Int = 128
    /// Sample from the (processed) distribution; false = greedy (argmax), as in transformers.
    public var doSample: Bool = false
    /// Divides the logits before sampling (> 0).
    public var temperature: Float = 1
    /// Keep only the `topK` most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability mass reaches `topP` (1 = off).
    public var topP: Float = 1
    /// Drop tokens less likely than `minP` × the most likely one's probability (0 = off).
    public var minP: Float = 0
    /// > 1 discourages tokens already in the prompt or output (CTRL-style, as transformers).
    public var repetitionPenalty: Float = 1
    /// Seed of the sampling generator; same seed, same model, same prompt → same output.
    public var seed: UInt64 = 0
    /// Stop after any of these ids (nil: the model config's `eos_token_id`; [] never stops early).
    public var eosTokenIds: [Int]? = nil
    /// Stop once the decoded output contains one of these (needs the generator's `detokenize`).
    public var stopStrings: [String] = []
    /// Id used to left-pad batched prompts (nil: the config's pad id, else the first EOS id, else 0).
    public var padTokenId: Int? = nil

    public init(maxNewTokens: Int = 128, doSample: Bool = false, temperature: Float = 1, topK: Int = 0, topP: Float = 1,
                minP: Float = 0, repetitionPenalty: Float = 1, seed: UInt64 = 0, eosTokenIds: [Int]? = nil,
                stopStrings: [String] = [], padTokenId: Int? = nil) {
        self.maxNewTokens = maxNewTokens; self.doSample = doSample; self.temperature = temperature; self.topK = topK
        self.topP = topP; self.minP = minP; self.repetitionPenalty = repetitionPenalty; self.seed = seed
        self.eosTokenIds = eosTokenIds; self.stopStrings = stopStrings; self.padTokenId = padTokenId
    }

    /// Greedy decoding for `maxNewTokens` tokens.
    public static func greedy(maxNewTokens: Int = 128) -> GenerationConfig { GenerationConfig(maxNewTokens: maxNewTokens) }

    /// Checks value ranges; errors name the field.
    public func validate() throws {
        func bad(_ f: String, _ m: String) -> GenerationError { .invalidConfig(field: f, m) }
        guard maxNewTokens >= 0 else { throw bad("max_new_tokens", "must be >= 0, got \(maxNewTokens)") }
        guard temperature > 0, temperature.isFinite else { throw bad("temperature", "must be > 0 (use do_sample = false for greedy), got \(temperature)") }
        guard topK >= 0 else { throw bad("top_k", "must be >= 0, got \(topK)") }
        guard topP > 0 && topP <= 1 else { throw bad("top_p", "must be in (0, 1], got \(topP)") }
        guard minP >= 0 && minP <= 1 else { throw bad("min_p", "must be in [0, 1], got \(minP)") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else { throw bad("repetition_penalty", "must be > 0, got \(repetitionPenalty)") }
    }
}

/// Why a sequence stopped.
public enum FinishReason: Equatable, Sendable {
    /// Produced an end-of-sequence id (included in `tokens`).
    case eos
    /// The decoded output contains this stop string.
    case stopString(String)
    /// Reached `maxNewTokens`.
    case length
}

/// One sequence's output.
public struct GenerationResult: Equatable, Sendable {
    /// The new token ids (the prompt excluded).
    public var tokens: [Int]
    public var finishReason: FinishReason
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(field: String, String)
    case invalidPrompt(String)

    public var description: String {
        switch self {
        case .invalidConfig(let f, let m): return "invalid generation config: \(f): \(m)"
        case .invalidPrompt(let m): return "invalid prompt: \(m)"
        }
    }
}
