import Foundation
import Tensors

/// Inference-only kernels for decode steps (one new token per row, nothing recorded for autograd).
/// A decode step is a chain of matrix-vector products and a one-query attention: each is small, so
/// the fixed costs of BLAS (packing the weight, waking and synchronising its threads) dominate.
/// These loops read the weights once, split over `Parallel` workers, with no BLAS calls.
enum DecodeKernels {
    /// y[r, j] = Σ_k x[r, k] · w[j, k] (+ bias[j]) for `rows` rows of x; w is [outF, inF] row-major.
    static func gemv(w: UnsafePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                     y: UnsafeMutablePointer<Float>, rows: Int, outF: Int, inF: Int) {
        Parallel.forRanges(outF, grain: Swift.max(16, 65536 / Swift.max(inF, 1))) { range in
            for r in 0..<rows {
                let xr = x + r * inF, yr = y + r * outF
                for j in range {
                    yr[j] = dot(w + j * inF, xr, inF) + (bias?[j] ?? 0)
                }
            }
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD16<Float>(repeating: 0), acc1 = SIMD16<Float>(repeating: 0)
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 32 <= n {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            i += 32
        }
        while i + 16 <= n {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var s = (acc0 + acc1).sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// One query per row against cached keys/values: q [B, 1, Hq, D] contiguous, k and v the cache
    /// buffers [B, capacity, Hkv, D] of which the first `s` slots are used, `mask` the additive mask
    /// [B, 1, 1, 1, s]. Returns [B, 1, Hq, D].
    static func attention(q: Tensor, cacheK: Tensor, cacheV: Tensor, s: Int, mask: Tensor,
                          heads: Int, kvHeads: Int, headDim d: Int) -> Tensor {
        let b = q.shape[0], g = heads / kvHeads, cap = cacheK.shape[1]
        let out = Tensor.zeros([b, 1, heads, d])
        let o = out.storage.base.assumingMemoryBound(to: Float.self)
        let kp = UnsafePointer(cacheK.storage.base.assumingMemoryBound(to: Float.self))
        let vp = UnsafePointer(cacheV.storage.base.assumingMemoryBound(to: Float.self))
        let scale = 1 / Float(d).squareRoot()
        q.withContiguousFloats { qp in
            mask.withContiguousFloats { mp in
                Parallel.forRanges(b * heads, grain: 1) { range in
                    var scores = [Float](repeating: 0, count: s)
                    for bh in range {
                        let bi = bh / heads, h = bh % heads, kvh = h / g
                        let qv = qp + bh * d
                        var m = -Float.infinity
                        for j in 0..<s {
                            let kv = kp + ((bi * cap + j) * kvHeads + kvh) * d
                            let sc = dot(qv, kv, d) * scale + mp[bi * s + j]
                            scores[j] = sc
                            m = Swift.max(m, sc)
                        }
                        var sum: Float = 0
                        for j in 0..<s { let e = expf(scores[j] - m); scores[j] = e; sum += e }
                        let inv = 1 / sum
                        let dst = o + bh * d
                        for j in 0..<s {
                            let p = scores[j] * inv
                            let vv = vp + ((bi * cap + j) * kvHeads + kvh) * d
                            for c in 0..<d { dst[c] += p * vv[c] }
                        }
                    }
                }
            }
        }
        return out
    }
}
