import CBLAS
import Foundation
import Quantization
import Tensors

/// Inference on weights kept in their GGUF block formats (`LoadOptions.keepQuantized`).
///
/// A `Linear` or `Embedding` with a `quantizedWeight` reads it instead of `weight.value`, which then
/// holds a zero-byte NaN placeholder of the right shape (parameter counts and names stay as
/// transformers reports them; any code that used it by mistake would produce NaN, never a silent
/// wrong number). Such layers are frozen.
///
/// - A few rows (decode steps): `QuantizedMatrix.gemv`, f32 activations straight against the blocks.
/// - Many rows (prefill): panels of the weight dequantised into a reused float32 scratch and
///   multiplied through OpenBLAS; the float32 model never exists as a whole.
/// - With autograd recording and an input that needs a gradient, the weight is dequantised for that
///   call and the ordinary `linear` runs (the gradient reaches the input; the weight stays frozen).
enum QuantizedOps {
    /// Up to this many rows take the GEMV kernel; beyond, dequantised panels and sgemm win.
    static let gemvRows = 8
    /// Bytes per dequantised panel: one per worker, small enough to stay in L2 while sgemm reads it.
    static let panelBytes = 256 << 10

    static func placeholder(_ shape: [Int]) -> Tensor {
        Tensor.full(Array(repeating: 1, count: shape.count), .nan).expand(shape)
    }

    /// Whether `t` is such a placeholder (one NaN broadcast to every element).
    static func isPlaceholder(_ t: Tensor) -> Bool {
        t.count > 1 && t.strides.allSatisfy { $0 == 0 } && t.dtype == .float32
            && t.storage.base.load(fromByteOffset: t.offset * 4, as: Float.self).isNaN
    }

    /// Builds modules whose `Linear`/`Embedding` weights start as placeholders instead of zeroed
    /// float32 (for a loader that then sets every one of them, or throws): loading a quantised
    /// model never holds the float32 model, not even zeroed. Per thread.
    static func constructingWithPlaceholders<R>(_ body: () throws -> R) rethrows -> R {
        let key = "SwiftTune.Models.placeholderWeights"
        Thread.current.threadDictionary[key] = true
        defer { Thread.current.threadDictionary.removeObject(forKey: key) }
        return try body()
    }

    /// A new weight: zeros, or a placeholder inside `constructingWithPlaceholders`.
    static func initialWeight(_ shape: [Int]) -> Tensor {
        Thread.current.threadDictionary["SwiftTune.Models.placeholderWeights"] != nil ? placeholder(shape) : Tensor.zeros(shape)
    }

    /// `x · Wᵀ + b` for x [..., cols] with W quantised [rows, cols] → [..., rows].
    static func linear(_ x: Tensor, _ w: QuantizedMatrix, bias: Tensor?) -> Tensor {
        let inF = w.cols, outF = w.rows
        let m = x.count / inF
        if isGradEnabled && x.requiresGrad {
            let dense = Tensor(w.dequantized(), shape: [outF, inF])
            return Tensors.linear(x, weight: dense, bias: bias)
        }
        let out = Tensor.zeros(Array(x.shape.dropLast()) + [outF])
        let y = out.storage.base.assumingMemoryBound(to: Float.self)
        x.withContiguousFloats { xp in
            if m <= gemvRows {
                if let bias {
                    bias.withContiguousFloats { bp in w.gemv(x: xp, xRows: m, y: y, bias: bp) }
                } else {
                    w.gemv(x: xp, xRows: m, y: y)
                }
            } else {
                panelMatmul(xp, m: m, w, y: y)
                if let bias {
                    bias.withContiguousFloats { bp in
                        for r in 0..<m { for j in 0..<outF { y[r * outF + j] += bp[j] } }
                    }
                }
            }
        }
        return out
    }

    /// y [m, rows] = x [m, cols] · Wᵀ, a panel of W rows at a time. Each worker dequantises its own
    /// panels into a private L2-sized buffer and multiplies them with a single-threaded sgemm: the
    /// panel is still in cache when sgemm reads it, and OpenBLAS's own threads never sit spinning
    /// while the workers dequantise (they would compete for the same two cores).
    static func panelMatmul(_ x: UnsafePointer<Float>, m: Int, _ w: QuantizedMatrix, y: UnsafeMutablePointer<Float>) {
        let k = w.cols, n = w.rows
        // ~256 KiB per panel, and a panel count that is a multiple of the workers so both cores get
        // equal shares (k/v projections have only 192 rows); rows rounded to 16 for sgemm's kernels.
        let workers = Parallel.workers
        let target = Swift.max(16, panelBytes / 4 / Swift.max(k, 1))
        let panelCount = ((n + target - 1) / target + workers - 1) / workers * workers
        let panelRows = Swift.max(16, ((n + panelCount - 1) / panelCount + 15) / 16 * 16)
        let panels = (n + panelRows - 1) / panelRows
        Kernels.withSingleThreadedBLAS { Parallel.forRanges(panels, grain: 1) { range in
            let panel = UnsafeMutablePointer<Float>.allocate(capacity: panelRows * k)
            defer { panel.deallocate() }
            for pi in range {
                let n0 = pi * panelRows, p = Swift.min(panelRows, n - n0)
                w.dequantizeRows(n0..<(n0 + p), into: panel)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(p), Int32(k), 1,
                            x, Int32(k), panel, Int32(k), 0, y + n0, Int32(n))
            }
        } }
    }

    /// Rows of a quantised embedding table for integer `ids` of any shape → [ids.shape..., cols].
    static func embedding(_ ids: Tensor, _ w: QuantizedMatrix) throws -> Tensor {
        let list = ids.toIntArray()
        for (i, id) in list.enumerated() where id < 0 || id >= w.rows {
            throw ModelError.invalidInput("embedding: token id \(id) at position \(i) is outside the vocabulary 0..<\(w.rows)")
        }
        let d = w.cols
        let out = Tensor.zeros(ids.shape + [d])
        let o = out.storage.base.assumingMemoryBound(to: Float.self)
        for (i, id) in list.enumerated() { w.dequantizeRows(id..<(id + 1), into: o + i * d) }
        return out
    }
}

extension Linear {
    /// Several quantised projections of the same few rows (q/k/v, gate/up) in one parallel region:
    /// one dispatch and one set of block sums instead of one per layer (a decode step is a chain of
    /// small products whose fixed costs add up). Nil when it does not apply: some layer is not
    /// quantised or has adapters, the input has many rows, or autograd records this input.
    static func fusedQuantizedForward(_ layers: [Linear], _ x: Tensor) -> [Tensor]? {
        var mats: [QuantizedMatrix] = []
        for l in layers {
            guard let q = l.quantizedWeight, l.adapters.isEmpty, l.bias == nil else { return nil }
            mats.append(q)
        }
        guard let cols = mats.first?.cols, mats.allSatisfy({ $0.cols == cols }), x.shape.last == cols,
              !(isGradEnabled && x.requiresGrad) else { return nil }
        let m = x.count / cols
        guard m >= 1, m <= QuantizedOps.gemvRows else { return nil }
        let outs = mats.map { Tensor.zeros(Array(x.shape.dropLast()) + [$0.rows]) }
        let ys = outs.map { $0.storage.base.assumingMemoryBound(to: Float.self) }
        var starts = [0]
        for q in mats { starts.append(starts.last! + q.rows) }
        let total = starts.last!
        x.withContiguousFloats { xp in
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: m * (cols / 32))
            defer { sums.deallocate() }
            for r in 0..<m { QuantizedMatrix.blockSums(xp + r * cols, cols, into: sums + r * (cols / 32)) }
            Parallel.forRanges(total, grain: Swift.max(8, 65536 / cols)) { range in
                for (i, q) in mats.enumerated() {
                    let lo = Swift.max(range.lowerBound, starts[i]) - starts[i]
                    let hi = Swift.min(range.upperBound, starts[i + 1]) - starts[i]
                    if lo < hi { q.gemvRows(lo..<hi, x: xp, xRows: m, sums: sums, y: ys[i], bias: nil) }
                }
            }
        }
        return outs
    }
}
