import Foundation

// Reductions over axes. Computed in float32 with 8-lane partial sums (error grows like n/8·ε rather
// than n·ε), parallel over independent output rows.

extension Tensor {
    /// Views a contiguous float32 copy as [outer, n, inner] around axis `a`.
    private func reductionLayout(_ a: Int) -> (Tensor, outer: Int, n: Int, inner: Int) {
        let x = contiguousF32()
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        return (x, outer, shape[a], inner)
    }

    private func reducedShape(_ a: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim { s[a] = 1 } else { s.remove(at: a) }
        return s
    }

    /// Sum over one dimension.
    public func sum(dim d: Int, keepDim: Bool = false) -> Tensor {
        if rank == 0 { return self * 1 }
        let a = dim(d, "sum")
        let (x, outer, n, inner) = reductionLayout(a)
        let out = Tensor(zeros: reducedShape(a, keepDim: keepDim))
        let px = x.floatPointer, po = out.floatPointer
        withExtendedLifetime(x) {
            if inner == 1 {
                Parallel.forRanges(outer, grain: Swift.max(1, 16384 / Swift.max(n, 1))) { r in
                    for o in r { po[o] = sumRow(px + o * n, n) }
                }
            } else {
                Parallel.forRanges(outer * inner, grain: Swift.max(1, 16384 / Swift.max(n, 1))) { r in
                    // r covers flat (o, i) output positions; process per o for contiguous inner runs.
                    var j = r.lowerBound
                    while j < r.upperBound {
                        let o = j / inner, i0 = j % inner
                        let i1 = min(inner, i0 + (r.upperBound - j))
                        let dst = po + o * inner
                        for k in 0..<n {
                            let src = px + (o * n + k) * inner
                            for i in i0..<i1 { dst[i] += src[i] }
                        }
                        j += i1 - i0
                    }
                }
            }
        }
        let orig = shape
        return Tensor.record("sum", out, [self]) { g in
            [(keepDim ? g : g.unsqueeze(a)).expand(orig)]
        }
    }

    /// Sum over several dims (all dims when `dims` is nil).
    public func sum(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        let ds = (dims ?? Array(0..<rank)).map { dim($0, "sum") }.sorted(by: >)
        if ds.isEmpty { return self * 1 }
        var t = self
        for d in ds { t = t.sum(dim: d, keepDim: true) }
        if keepDim { return t }
        var s = shape
        for d in ds { s.remove(at: d) }
        return t.reshape(s)
    }

    /// Mean over one dimension.
    public func mean(dim d: Int, keepDim: Bool = false) -> Tensor {
        let a = dim(d, "mean")
        return sum(dim: a, keepDim: keepDim) / Float(shape[a])
    }

    /// Mean over several dims (all when nil).
    public func mean(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        let ds = (dims ?? Array(0..<rank)).map { dim($0, "mean") }
        let n = ds.reduce(1) { $0 * shape[$1] }
        return sum(dims: ds, keepDim: keepDim) / Float(n)
    }

    /// Variance over one dimension; `correction` 1 is torch's default (unbiased), 0 the population variance.
    public func variance(dim d: Int, correction: Int = 1, keepDim: Bool = false) -> Tensor {
        let a = dim(d, "variance")
        let m = mean(dim: a, keepDim: true)
        let c = self - m
        return (c * c).sum(dim: a, keepDim: keepDim) / Float(Swift.max(shape[a] - correction, 0))
    }

    /// Maximum and its index along `dim` (first index among ties, like torch). The gradient flows to
    /// the selected element.
    public func max(dim d: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        let a = dim(d, "max")
        precondition(shape[a] > 0, "max(dim: \(d)): empty dimension in shape \(shape)")
        let (x, outer, n, inner) = reductionLayout(a)
        let rs = reducedShape(a, keepDim: keepDim)
        let vals = Tensor(uninitialized: rs), idx = Tensor(uninitialized: rs, dtype: .int64)
        let px = x.floatPointer, pv = vals.floatPointer
        let pi = idx.storage.base.assumingMemoryBound(to: Int64.self)
        withExtendedLifetime(x) {
            Parallel.forRanges(outer * inner, grain: Swift.max(1, 16384 / Swift.max(n, 1))) { r in
                for j in r {
                    let o = j / inner, i = j % inner
                    var best = px[o * n * inner + i], bi = 0
                    if !best.isNaN {
                        for k in 1..<Swift.max(n, 1) {
                            let v = px[(o * n + k) * inner + i]
                            if v > best || v.isNaN { best = v; bi = k; if v.isNaN { break } }
                        }
                    }
                    pv[j] = best; pi[j] = Int64(bi)
                }
            }
        }
        let orig = shape
        let out = Tensor.record("max", vals, [self]) { g in
            let gx = Tensor(zeros: orig)
            let pg = gx.floatPointer
            let gg = g.contiguousF32()
            let pgg = gg.floatPointer
            for j in 0..<(outer * inner) {
                let o = j / inner, i = j % inner
                pg[(o * n + Int(pi[j])) * inner + i] += pgg[j]
            }
            return [withExtendedLifetime((gg, idx)) { gx }]
        }
        return (out, idx)
    }

    /// Maximum over all elements.
    public func max() -> Tensor { reshape([-1]).max(dim: 0).values }

    /// Index of the maximum along `dim` (int64).
    public func argmax(dim d: Int, keepDim: Bool = false) -> Tensor {
        withNoGrad { max(dim: d, keepDim: keepDim).indices }
    }
}

/// Sum of `n` floats with 8 independent accumulators.
@inline(__always)
func sumRow(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}
