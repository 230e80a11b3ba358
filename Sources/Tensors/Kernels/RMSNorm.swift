import Foundation

extension Kernels {
    /// RMSNorm over the last dim (Hugging Face LlamaRMSNorm, in f32): y = weight * (x * rsqrt(mean(x²) + eps)).
    /// x, y: [rows, dim]; weight: [dim]; rstd: [rows] (saved for backward). One read of x per row pass.
    public static func rmsNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                      y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                      rows: Int, dim: Int, eps: Float) {
        guard rows > 0, dim > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(dim)) { r in
            for row in r {
                let xr = x + row * dim, yr = y + row * dim
                let rs = 1 / (dot(xr, xr, dim) / Float(dim) + eps).squareRoot()
                rstd[row] = rs
                var j = 0
                while j + 16 <= dim { store(load(weight + j) * (load(xr + j) * rs), yr + j); j += 16 }
                while j < dim { yr[j] = weight[j] * (xr[j] * rs); j += 1 }
            }
        }
    }

    /// RMSNorm backward. With x̂ = x·rstd and g = dy·weight: dx = rstd · (g - x̂ · mean(g·x̂)),
    /// dWeight += Σ_rows dy·x̂ (accumulates).
    public static func rmsNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                       rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                       dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                                       rows: Int, dim: Int) {
        guard rows > 0, dim > 0 else { return }
        perWorkerSum(rows: rows, dim: dim, into: dWeight, count: 1) { r, dW in
            for row in r {
                let xr = x + row * dim, gr = dy + row * dim, dxr = dx + row * dim
                let rs = rstd[row]
                // mean(g·x̂) = rstd · mean(dy·w·x) / dim
                var acc = V16()
                var j = 0
                while j + 16 <= dim {
                    let xv = load(xr + j), dyv = load(gr + j)
                    acc += dyv * load(weight + j) * xv
                    store(load(dW + j) + dyv * (xv * rs), dW + j)
                    j += 16
                }
                var tail: Float = 0
                while j < dim { tail += gr[j] * weight[j] * xr[j]; dW[j] += gr[j] * (xr[j] * rs); j += 1 }
                let c = (acc.sum() + tail) * rs * rs / Float(dim)
                j = 0
                while j + 16 <= dim {
                    let v = (load(gr + j) * load(weight + j) - load(xr + j) * c) * rs
                    store(v, dxr + j); j += 16
                }
                while j < dim { dxr[j] = (gr[j] * weight[j] - xr[j] * c) * rs; j += 1 }
            }
        }
    }

    /// Runs `body` over row ranges in parallel; each worker gets a zeroed private buffer of `count` vectors of
    /// `dim` floats, and the buffers are added into `dst` (accumulating) at the end. `dst` may hold several
    /// consecutive vectors (e.g. dWeight then dBias).
    static func perWorkerSum(rows: Int, dim: Int, into dst: UnsafeMutablePointer<Float>, count: Int,
                             _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let n = dim * count
        let chunks = max(1, min(Parallel.workers, rows / max(1, rowGrain(dim))))
        let step = (rows + chunks - 1) / chunks
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * n)
        defer { partial.deallocate() }
        partial.update(repeating: 0, count: chunks * n)
        Parallel.forEach(chunks) { c in
            let lo = c * step, hi = min(rows, lo + step)
            if lo < hi { body(lo..<hi, partial + c * n) }
        }
        for c in 0..<chunks {
            let src = partial + c * n
            for i in 0..<n { dst[i] += src[i] }
        }
    }
}
