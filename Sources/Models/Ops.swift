import Tensors

/// The few numerical building blocks the models need, in one place so the choice between the
/// engine's fused kernels and compositions of its basic ops is made once.
/// These compose differentiable engine ops (float32 throughout), so autograd comes for free.
enum Ops {
    /// `weight * x * rsqrt(mean(x²) + eps)` over the last dim (HF LlamaRMSNorm).
    static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
        let variance = (x * x).mean(dim: -1, keepDim: true)
        return weight * (x * (variance + eps).rsqrt())
    }

    /// Numerically stable softmax over the last dim. The row maximum is a constant shift (it cancels
    /// in the ratio), so it is detached.
    static func softmax(_ x: Tensor) -> Tensor {
        let m = withNoGrad { x.max(dim: -1, keepDim: true).values }
        let e = (x - m).exp()
        return e / e.sum(dim: -1, keepDim: true)
    }

    /// SwiGLU's `silu(gate) * up`.
    static func siluMul(_ gate: Tensor, _ up: Tensor) -> Tensor { gate.silu() * up }

    /// HF `apply_rotary_pos_emb` on x [B, T, H, D] with cos/sin [B, T, D] (half-rotation layout):
    /// `x·cos + rotate_half(x)·sin`, `rotate_half(x) = cat(-x2, x1)`.
    static func rope(_ x: Tensor, cos: Tensor, sin: Tensor) -> Tensor {
        let d = x.shape[3], half = d / 2
        let x1 = x.narrow(3, start: 0, length: half), x2 = x.narrow(3, start: half, length: half)
        let rotated = Tensor.concat([-x2, x1], dim: 3)
        return x * cos.unsqueeze(2) + rotated * sin.unsqueeze(2)
    }

    /// Summed cross-entropy of logits [N, V] against targets [N] (−100 = ignored) and the number of
    /// counted targets. Throws on a target outside the vocabulary.
    static func crossEntropySum(logits: Tensor, targets: [Int], ignoreIndex: Int = -100) throws -> (sum: Tensor, count: Int) {
        let n = logits.shape[0], v = logits.shape[1]
        var safe = [Int](repeating: 0, count: n), keep = [Float](repeating: 0, count: n)
        var count = 0
        for (i, t) in targets.enumerated() where t != ignoreIndex {
            guard t >= 0 && t < v else {
                throw ModelError.invalidInput("label \(t) at position \(i) is outside the vocabulary 0..<\(v) and is not \(ignoreIndex) (ignored)")
            }
            safe[i] = t; keep[i] = 1; count += 1
        }
        let m = withNoGrad { logits.max(dim: -1, keepDim: true).values }
        let lse = (logits - m).exp().sum(dim: -1, keepDim: true).log() + m          // [N, 1]
        let picked = try logits.gather(dim: 1, index: Tensor(safe, shape: [n, 1]))   // [N, 1]
        let perToken = (lse - picked).reshape([n]) * Tensor(keep)
        return (perToken.sum(), count)
    }
}
