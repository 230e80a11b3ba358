import Foundation

/// torch.nn.utils.clip_grad_norm_: scales every parameter's `grad` in place so that their joint L2 norm is
/// at most `maxNorm` (coefficient `maxNorm / (norm + 1e-6)`, applied only when below 1). Returns the norm
/// before clipping (NaN/inf if a gradient holds one; then nothing is scaled). Parameters without a grad
/// are skipped.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        g.withContiguousFloats { ptr in
            var s = 0.0
            for i in 0..<g.count { let v = Double(ptr[i]); s += v * v }
            total += s
        }
    }
    let norm = Float(total.squareRoot())
    guard norm.isFinite else { return norm }
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        withNoGrad { for p in parameters { p.grad?.scaleInPlace(coef) } }
    }
    return norm
}

extension Tensor {
    /// Size of the viewed elements in bytes (`count × dtype.byteSize`).
    public var byteCount: Int { count * dtype.byteSize }
}
