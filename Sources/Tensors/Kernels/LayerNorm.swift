import Foundation

extension Kernels {
    /// LayerNorm over the last dim (torch semantics, biased variance): y = (x - mean) · rstd · weight + bias,
    /// rstd = 1 / sqrt(var + eps). weight and bias are optional. mean, rstd: [rows] saved for backward.
    public static func layerNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                        bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                                        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                        rows: Int, dim: Int, eps: Float) {
        guard rows > 0, dim > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(dim)) { r in
            for row in r {
                let xr = x + row * dim, yr = y + row * dim
                // Two passes (mean, then centred squares): stable for rows with a large offset.
                let mu = rowSum(xr, dim) / Float(dim)
                let m16 = V16(repeating: mu)
                var acc = V16()
                var j = 0
                while j + 16 <= dim { let d = load(xr + j) - m16; acc += d * d; j += 16 }
                var tail: Float = 0
                while j < dim { let d = xr[j] - mu; tail += d * d; j += 1 }
                let rs = 1 / ((acc.sum() + tail) / Float(dim) + eps).squareRoot()
                mean[row] = mu; rstd[row] = rs
                j = 0
                while j + 16 <= dim {
                    var v = (load(xr + j) - m16) * rs
                    if let weight { v *= load(weight + j) }
                    if let bias { v += load(bias + j) }
                    store(v, yr + j); j += 16
                }
                while j < dim {
                    var v = (xr[j] - mu) * rs
                    if let weight { v *= weight[j] }
                    if let bias { v += bias[j] }
                    yr[j] = v; j += 1
                }
            }
        }
    }

    /// LayerNorm backward. With x̂ = (x - mean)·rstd and g = dy·weight (or dy):
    /// dx = rstd · (g - mean(g) - x̂ · mean(g·x̂)); dWeight += Σ dy·x̂; dBias += Σ dy (both accumulate, optional).
    public static func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                         dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                         rows: Int, dim: Int) {
        guard rows > 0, dim > 0 else { return }
        let params = UnsafeMutablePointer<Float>.allocate(capacity: 2 * dim)
        defer { params.deallocate() }
        params.update(repeating: 0, count: 2 * dim)
        perWorkerSum(rows: rows, dim: dim, into: params, count: 2) { r, acc in
            let dW = acc, dB = acc + dim
            for row in r {
                let xr = x + row * dim, gr = dy + row * dim, dxr = dx + row * dim
                let mu = V16(repeating: mean[row]), rs = rstd[row]
                var sg = V16(), sgx = V16()
                var j = 0
                while j + 16 <= dim {
                    let dyv = load(gr + j)
                    let xh = (load(xr + j) - mu) * rs
                    let g = weight.map { dyv * load($0 + j) } ?? dyv
                    sg += g; sgx += g * xh
                    store(load(dW + j) + dyv * xh, dW + j)
                    store(load(dB + j) + dyv, dB + j)
                    j += 16
                }
                var tg: Float = 0, tgx: Float = 0
                while j < dim {
                    let xh = (xr[j] - mean[row]) * rs
                    let g = weight.map { gr[j] * $0[j] } ?? gr[j]
                    tg += g; tgx += g * xh
                    dW[j] += gr[j] * xh; dB[j] += gr[j]
                    j += 1
                }
                let mg = (sg.sum() + tg) / Float(dim), mgx = (sgx.sum() + tgx) / Float(dim)
                j = 0
                while j + 16 <= dim {
                    let dyv = load(gr + j)
                    let xh = (load(xr + j) - mu) * rs
                    let g = weight.map { dyv * load($0 + j) } ?? dyv
                    store((g - mg - xh * mgx) * rs, dxr + j); j += 16
                }
                while j < dim {
                    let xh = (xr[j] - mean[row]) * rs
                    let g = weight.map { gr[j] * $0[j] } ?? gr[j]
                    dxr[j] = (g - mg - xh * mgx) * rs; j += 1
                }
            }
        }
        if let dWeight { for i in 0..<dim { dWeight[i] += params[i] } }
        if let dBias { for i in 0..<dim { dBias[i] += params[dim + i] } }
    }
}
