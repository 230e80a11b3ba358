import Tensors

/// The numerical building blocks the models use, in one place: the engine's fused kernels
/// (float32, with their own backward passes).
enum Ops {
    /// `weight * x * rsqrt(mean(x²) + eps)` over the last dim (HF LlamaRMSNorm).
    static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor { Tensors.rmsNorm(x, weight: weight, eps: eps) }

    /// Softmax over the last dim.
    static func softmax(_ x: Tensor) -> Tensor { Tensors.softmax(x, dim: -1) }

    /// SwiGLU's `silu(gate) * up`.
    static func siluMul(_ gate: Tensor, _ up: Tensor) -> Tensor { Tensors.siluMul(gate, up) }

    /// Summed cross-entropy of logits [N, V] against targets [N] (−100 = ignored) and the number of
    /// counted targets. Throws on a target outside the vocabulary.
    static func crossEntropySum(logits: Tensor, targets: [Int], ignoreIndex: Int = -100) throws -> (sum: Tensor, count: Int) {
        let count = targets.filter { $0 != ignoreIndex }.count
        do {
            let sum = try crossEntropy(logits: logits, targets: Tensor(targets), ignoreIndex: ignoreIndex, reduction: .sum)
            return (sum, count)
        } catch let e as TensorError {
            throw ModelError.invalidInput("labels: \(e)")
        }
    }
}
