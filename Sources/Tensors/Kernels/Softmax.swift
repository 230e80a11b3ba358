import Foundation

extension Kernels {
    /// Softmax over the last dim of [rows, dim]: y = exp(x - max) / Σ exp(x - max).
    public static func softmaxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        guard rows > 0, dim > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(dim)) { r in
            for row in r {
                let xr = x + row * dim, yr = y + row * dim
                let m = rowMax(xr, dim)
                if m == -.infinity { yr.update(repeating: .nan, count: dim); continue } // torch: all -inf → NaN
                if xr != UnsafePointer(yr) { yr.update(from: xr, count: dim) }
                let s = expShiftSum(yr, dim, m)
                scaleRow(yr, dim, 1 / s)
            }
        }
    }

    /// Softmax backward: dx = y ∘ (dy - Σ dy·y).
    public static func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                       rows: Int, dim: Int) {
        guard rows > 0, dim > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(dim)) { r in
            for row in r {
                let yr = y + row * dim, gr = dy + row * dim, dr = dx + row * dim
                let c = dot(yr, gr, dim)
                let cv = V16(repeating: c)
                var j = 0
                while j + 16 <= dim { store(load(yr + j) * (load(gr + j) - cv), dr + j); j += 16 }
                while j < dim { dr[j] = yr[j] * (gr[j] - c); j += 1 }
            }
        }
    }

    /// Log-softmax over the last dim: y = x - max - log Σ exp(x - max).
    public static func logSoftmaxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        guard rows > 0, dim > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(dim)) { r in
            for row in r {
                let xr = x + row * dim, yr = y + row * dim
                let lse = logSumExp(xr, dim)
                let lv = V16(repeating: lse)
                var j = 0
                while j + 16 <= dim { store(load(xr + j) - lv, yr + j); j += 16 }
                while j < dim { yr[j] = xr[j] - lse; j += 1 }
            }
        }
    }

    /// Log-softmax backward: dx = dy - exp(y) · Σ dy.
    public static func logSoftmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                          rows: Int, dim: Int) {
        guard rows > 0, dim > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(dim)) { r in
            for row in r {
                let yr = y + row * dim, gr = dy + row * dim, dr = dx + row * dim
                let s = rowSum(gr, dim)
                let sv = V16(repeating: s)
                var j = 0
                while j + 16 <= dim { store(load(gr + j) - vexpNonPositive(load(yr + j)) * sv, dr + j); j += 16 }
                while j < dim { dr[j] = gr[j] - sexp(yr[j]) * s; j += 1 }
            }
        }
    }

    /// log Σ exp(p[0..<n]) in one pass over memory: blocks of 256 (L1-resident) are reduced to a max, the running
    /// sum is rescaled only when the max grows, then the block's exponentials are added. One exp per element.
    @_transparent static func logSumExp(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = -.infinity
        var sum = V16()
        var j0 = 0
        while j0 < n {
            let bn = min(256, n - j0)
            let bp = p + j0
            let bm = rowMax(bp, bn)
            if bm > m {
                if m != -.infinity { sum *= sexp(m - bm) }
                m = bm
            }
            if m != -.infinity {
                let mv = V16(repeating: m)
                var j = 0
                while j + 16 <= bn { sum += vexpNonPositive(load(bp + j) - mv); j += 16 }
                if j < bn { sum += vexpNonPositive(loadPartial(bp + j, bn - j, fill: -.infinity) - mv) }
            }
            j0 += bn
        }
        if m == -.infinity || m == .infinity || m.isNaN { return m }
        return m + log(sum.sum())
    }
}
