import Foundation
import Tensors

/// The logits processors and the token choice, in transformers' order: repetition penalty, then
/// (when sampling) temperature, top-k, top-p, min-p, and a draw from the softmax.
/// Removed tokens get −∞.
public enum Sampling {
    /// transformers' `RepetitionPenaltyLogitsProcessor`: each id seen so far has its logit divided by
    /// `penalty` if positive, multiplied if negative.
    public static func applyRepetitionPenalty(_ logits: inout [Float], seen: Set<Int>, penalty: Float) {
        guard penalty != 1 else { return }
        for id in seen where id >= 0 && id < logits.count {
            logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty
        }
    }

    /// Keeps the `k` largest logits (ties with the k-th kept, as transformers' threshold does).
    public static func applyTopK(_ logits: inout [Float], k: Int) {
        guard k > 0, k < logits.count else { return }
        let threshold = logits.sorted(by: >)[k - 1]
        for i in logits.indices where logits[i] < threshold { logits[i] = -.infinity }
    }

    /// transformers' `TopPLogitsWarper`: sorted ascending, drops the tokens whose cumulative
    /// probability is <= 1 − p (always keeping the most likely).
    public static func applyTopP(_ logits: inout [Float], p: Float) {
        guard p < 1 else { return }
        let probs = softmax(logits)
        let order = logits.indices.sorted { probs[$0] < probs[$1] }
        var cum: Float = 0
        for (rank, i) in order.enumerated() {
            cum += probs[i]
            if cum <= 1 - p && rank < order.count - 1 { logits[i] = -.infinity }
        }
    }

    /// transformers' `MinPLogitsWarper`: drops tokens with probability below `minP` × the top probability.
    public static func applyMinP(_ logits: inout [Float], minP: Float) {
        guard minP > 0 else { return }
        let probs = softmax(logits)
        let threshold = minP * (probs.max() ?? 0)
        for i in logits.indices where probs[i] < threshold { logits[i] = -.infinity }
    }

    /// Stable softmax over an array (−∞ entries get 0).
    public static func softmax(_ logits: [Float]) -> [Float] {
        let m = logits.max() ?? 0
        var e = logits.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        for i in e.indices { e[i] /= s }
        return e
    }

    /// Index of the largest logit (the first one among ties, like torch.argmax).
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best
    }

    /// The next token for one row: greedy, or a draw from the processed distribution.
    public static func choose(_ raw: [Float], seen: Set<Int>, config: GenerationConfig, rng: RandomGenerator) -> Int {
        var logits = raw
        applyRepetitionPenalty(&logits, seen: seen, penalty: config.repetitionPenalty)
        guard config.doSample else { return argmax(logits) }
        if config.temperature != 1 { for i in logits.indices { logits[i] /= config.temperature } }
        applyTopK(&logits, k: config.topK)
        applyTopP(&logits, p: config.topP)
        applyMinP(&logits, minP: config.minP)
        let probs = softmax(logits)
        let u = rng.nextUniform()
        var cum: Float = 0
        var last = 0
        for (i, p) in probs.enumerated() where p > 0 {
            cum += p
            last = i
            if u < cum { return i }
        }
        return last   // rounding left u above the total mass
    }
}
