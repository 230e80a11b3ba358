import Models
import Tensors

/// Autoregressive decoding with a KV cache: one forward pass over the prompt (prefill), then one
/// token per pass (decode), each attending to the cached keys/values of everything before it.
/// Runs without recording gradients. Batched prompts are left-padded.
public final class Generator {
    public let model: CausalLM
    /// Turns token ids into text; needed for `stopStrings`.
    public var detokenize: (([Int]) -> String)?

    public init(model: CausalLM, detokenize: (([Int]) -> String)? = nil) {
        self.model = model
        self.detokenize = detokenize
    }

    /// Generates a continuation of `promptIds`. `onToken` sees each new token as it is chosen.
    /// `attentionMask` (1 = attend, 0 = ignore; default all ones) is transformers' `attention_mask`
    /// argument of `generate`: masked prompt tokens are never attended to and take no position.
    public func generate(promptIds: [Int], attentionMask: [Int]? = nil, config: GenerationConfig,
                         onToken: ((Int) -> Void)? = nil) throws -> GenerationResult {
        try generate(batch: [promptIds], attentionMasks: attentionMask.map { [$0] }, config: config,
                     onToken: onToken.map { f in { _, t in f(t) } })[0]
    }

    /// Generates for several prompts at once (left padding; each row stops on its own).
    /// `onToken(row, token)` streams every row's tokens.
    public func generate(batch prompts: [[Int]], attentionMasks: [[Int]]? = nil, config: GenerationConfig,
                         onToken: ((Int, Int) -> Void)? = nil) throws -> [GenerationResult] {
        try config.validate()
        let c = model.config
        guard !prompts.isEmpty else { return [] }
        for (i, p) in prompts.enumerated() {
            guard !p.isEmpty else { throw GenerationError.invalidPrompt("prompt \(i) is empty") }
            if let bad = p.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
                throw GenerationError.invalidPrompt("prompt \(i) holds token id \(bad), outside the vocabulary 0..<\(c.vocabSize)")
            }
        }
        if let m = attentionMasks {
            guard m.count == prompts.count, zip(m, prompts).allSatisfy({ $0.count == $1.count }) else {
                throw GenerationError.invalidPrompt("attention masks must match the prompts one for one, token for token")
            }
        }
        if !config.stopStrings.isEmpty && detokenize == nil {
            throw GenerationError.invalidConfig(field: "stop_strings", "need a detokenize closure on the Generator")
        }
        let eos = Set(config.eosTokenIds ?? c.eosTokenIds)
        let pad = config.padTokenId ?? c.padTokenId ?? c.eosTokenIds.first ?? 0
        let b = prompts.count, longest = prompts.map(\.count).max()!
        var results = prompts.map { _ in GenerationResult(tokens: [], finishReason: .length) }
        guard config.maxNewTokens > 0 else { return results }

        // Left-pad; positions count real tokens only, so a padded row matches its unpadded run.
        // Positions as transformers derives them from the mask: cumsum(mask) − 1, 0 where masked.
        var ids = [Int](), pos = [Int](), rowMask = [[Int]](), nextPos = [Int]()
        for (i, p) in prompts.enumerated() {
            let n = longest - p.count
            let m = attentionMasks?[i].map { $0 != 0 ? 1 : 0 } ?? Array(repeating: 1, count: p.count)
            ids += Array(repeating: pad, count: n) + p
            rowMask.append(Array(repeating: 0, count: n) + m)
            var seen = 0
            pos += Array(repeating: 0, count: n) + m.map { k in seen += k; return k == 0 ? 0 : seen - 1 }
            nextPos.append(pos.last! + 1)
        }
        func maskTensor() -> Tensor { Tensor(rowMask.flatMap { $0 }, shape: [b, rowMask[0].count]) }
        var seen = prompts.map { Set($0) }
        let cache = KVCache(config: c, batch: b, capacity: longest + config.maxNewTokens)
        let rng = RandomGenerator(seed: config.seed)
        var done = [Bool](repeating: false, count: b)
        let padded = rowMask.contains { $0.contains(0) }

        try withNoGrad {
            var logits = try model.forward(inputIds: Tensor(ids, shape: [b, longest]),
                                           attentionMask: padded ? maskTensor() : nil,
                                           positionIds: Tensor(pos, shape: [b, longest]), cache: cache, lastOnly: true)
            for _ in 0..<config.maxNewTokens {
                let all = logits.toFloatArray(), v = c.vocabSize
                var step = [Int](repeating: pad, count: b)
                for r in 0..<b where !done[r] {
                    let row = Array(all[(r * v)..<((r + 1) * v)])
                    let token = Sampling.choose(row, seen: seen[r], config: config, rng: rng)
                    step[r] = token
                    results[r].tokens.append(token)
                    seen[r].insert(token)
                    onToken?(r, token)
                    if eos.contains(token) {
                        done[r] = true; results[r].finishReason = .eos
                    } else if !config.stopStrings.isEmpty, let text = detokenize?(results[r].tokens),
                              let hit = config.stopStrings.first(where: { text.contains($0) }) {
                        done[r] = true; results[r].finishReason = .stopString(hit)
                    }
                }
                if done.allSatisfy({ $0 }) || results.allSatisfy({ $0.tokens.count >= config.maxNewTokens }) { break }
                // Finished rows keep feeding padding (masked out) so the batch stays rectangular.
                for r in 0..<b { rowMask[r].append(done[r] ? 0 : 1) }
                let stepPos = nextPos
                for r in 0..<b { nextPos[r] += 1 }
                logits = try model.forward(inputIds: Tensor(step, shape: [b, 1]),
                                           attentionMask: padded || done.contains(true) ? maskTensor() : nil,
                                           positionIds: Tensor(stepPos, shape: [b, 1]), cache: cache, lastOnly: true)
            }
        }
        return results
    }
}
