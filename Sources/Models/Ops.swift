import Tensors

/// The numerical building blocks the models use, in one place: the engine's fused kernels
/// (float32, with their own backward passes).
enum Ops {
    /// `weight * x * rsqrt(mean(x²) + eps)` over the last dim (HF LlamaRMSNorm).
    static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor { Tensors.rmsNorm(x, weight: weight, eps: eps) }

    /// `x · Wᵀ + b`. When nothing is recorded for autograd and x holds a few rows (a decode step),
    /// `DecodeKernels.gemv` reads the weight once instead of sgemm packing it first.
    static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let outF = weight.shape[0], inF = weight.shape[1]
        let rows = inF == 0 ? 0 : x.count / inF
        guard !isGradEnabled, rows > 0, rows <= 4, x.shape.last == inF, weight.dtype == .float32, weight.isContiguous,
              bias.map({ $0.dtype == .float32 && $0.isContiguous }) ?? true else {
            return Tensors.linear(x, weight: weight, bias: bias)
        }
        let out = Tensor.zeros(Array(x.shape.dropLast()) + [outF])
        let y = out.storage.base.assumingMemoryBound(to: Float.self)
        weight.withContiguousFloats { w in
            x.withContiguousFloats { xp in
                if let bias {
                    bias.withContiguousFloats { bp in DecodeKernels.gemv(w: w, x: xp, bias: bp, y: y, rows: rows, outF: outF, inF: inF) }
                } else {
                    DecodeKernels.gemv(w: w, x: xp, bias: nil, y: y, rows: rows, outF: outF, inF: inF)
                }
            }
        }
        return out
    }

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
