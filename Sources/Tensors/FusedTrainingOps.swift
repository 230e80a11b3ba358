import CBLAS
import Foundation

// Fused ops for LoRA fine-tuning (called by LoRA and Models). Each replaces a chain of generic ops by one
// recorded node: no intermediate tensors, no separate elementwise passes, and a backward that runs only
// the GEMMs the trainable tensors need.

/// Row-major sgemm on raw pointers: C[m×n] = alpha·op(A)·op(B) + beta·C, split over the engine's
/// workers like every other product (see `GEMMSplit`).
@inline(__always)
private func sgemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                   _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                   _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    guard m > 0, n > 0 else { return }
    Tensors.sgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m: m, n: n, k: k, alpha: alpha,
                  a, lda, b, ldb, beta: beta, c, ldc)
}

/// A reusable float buffer for the transient products inside fused ops. A fresh activation-sized buffer
/// allocated and freed per layer fragments the heap: with LoRA dropout, 220 MB more stayed resident after
/// a forward of SmolLM2 at 8 × 64. Taken by one caller at a time; a second concurrent caller gets its own.
final class FusedScratch: @unchecked Sendable {
    static let shared = FusedScratch()
    private let lock = NSLock()
    private var buffer: UnsafeMutablePointer<Float>?
    private var capacity = 0, busy = false

    func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        lock.lock()
        if busy {
            lock.unlock()
            let own = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
            defer { own.deallocate() }
            return body(own)
        }
        busy = true
        if capacity < count { buffer?.deallocate(); buffer = .allocate(capacity: count); capacity = count }
        let p = buffer!
        lock.unlock()
        defer { lock.lock(); busy = false; lock.unlock() }
        return body(p)
    }
}

private func isPlainF32(_ t: Tensor) -> Bool { t.dtype == .float32 && t.isContiguous }

/// LoRA on a frozen linear layer in one node (PEFT `lora.Linear` with one active adapter):
/// `base + scaling · ((x ⊙ dropoutMask) · Aᵀ) · Bᵀ`, where `base = x · Wᵀ` was computed by the caller.
/// The adapter term is accumulated into `base`'s memory (the caller must own it: a fresh layer output
/// read by nothing else), and `base`'s own graph is bypassed: the backward computes
/// `dx = g·W + mask ⊙ (scaling·(g·B)·A)` itself, plus `dA`, `dB`. So W must be frozen (no gradient is
/// produced for it, nor for a bias added into `base`).
/// Returns nil (nothing done) when a precondition fails: float32 contiguous W [out, in], A [r, in],
/// B [out, r], base [..., out] and mask like x; W not requiring grad. The dropout comes as a float mask
/// (`dropoutMask`) or, cheaper, as bytes (`dropoutKeep`, what `LoRALinear` passes): not both.
public func loraLinear(x: Tensor, base: Tensor, weight: Tensor, a: Tensor, b: Tensor, scaling: Float,
                       dropoutMask: Tensor? = nil, dropoutKeep: DropoutKeep? = nil) -> Tensor? {
    guard weight.rank == 2, a.rank == 2, b.rank == 2, x.rank >= 1, x.dtype.isFloatingPoint else { return nil }
    let outF = weight.shape[0], inF = weight.shape[1], r = a.shape[0]
    guard a.shape[1] == inF, b.shape == [outF, r], x.shape.last == inF, inF > 0, outF > 0, r > 0,
          base.shape == Array(x.shape.dropLast()) + [outF],
          isPlainF32(weight), isPlainF32(a), isPlainF32(b), isPlainF32(base), !weight._requiresGrad else { return nil }
    if let m = dropoutMask, m.shape != x.shape || !isPlainF32(m) { return nil }
    if let k = dropoutKeep, k.bytes.count != x.count || dropoutMask != nil { return nil }
    let rows = x.count / inF, count = rows * inF
    let xc = x.contiguousF32()
    // The adapter input x ⊙ mask. A float mask: materialised, and kept with the mask for the backward. A byte
    // mask (what LoRALinear passes): formed only in the reusable scratch, here and again for dA, so the
    // backward holds one byte per element beside x (which the base product keeps anyway) instead of two
    // float copies, and no activation-sized buffer is allocated per layer.
    var xd = xc
    if let m = dropoutMask {
        let out = Tensor(uninitialized: [rows, inF])
        let po = out.floatPointer, px = xc.floatPointer, pm = m.floatPointer
        Parallel.forRanges(count, grain: 1 << 15) { rg in for i in rg { po[i] = px[i] * pm[i] } }
        xd = out
    }
    let xa = Tensor(uninitialized: [rows, r])
    if let dk = dropoutKeep {
        FusedScratch.shared.withFloats(count) { po in
            dk.apply(to: xc.floatPointer, into: po)
            sgemm(false, true, rows, r, inF, 1, po, inF, a.floatPointer, inF, 0, xa.floatPointer, r)
        }
    } else {
        sgemm(false, true, rows, r, inF, 1, xd.floatPointer, inF, a.floatPointer, inF, 0, xa.floatPointer, r)
    }
    sgemm(false, true, rows, outF, r, scaling, xa.floatPointer, r, b.floatPointer, r, 1, base.floatPointer, outF)
    let out = base.detach()
    let needX = x._requiresGrad, needA = a._requiresGrad, needB = b._requiresGrad
    let xShape = x.shape
    return Tensor.record("lora_linear", out, [x, a, b]) { g in
        let gc = g.contiguousF32()
        let gb = Tensor(uninitialized: [rows, r])                        // g · B
        sgemm(false, false, rows, r, outF, 1, gc.floatPointer, outF, b.floatPointer, r, 0, gb.floatPointer, r)
        var dx: Tensor? = nil
        if needX {
            let d = Tensor(uninitialized: [rows, inF])
            sgemm(false, false, rows, inF, outF, 1, gc.floatPointer, outF, weight.floatPointer, inF, 0, d.floatPointer, inF)
            if dropoutKeep != nil || dropoutMask != nil { FusedScratch.shared.withFloats(count) { pt in
                sgemm(false, false, rows, inF, r, scaling, gb.floatPointer, r, a.floatPointer, inF, 0, pt, inF)
                let pd = d.floatPointer
                if let dk = dropoutKeep {
                    dk.bytes.withUnsafeBufferPointer { kb in
                        let pk = kb.baseAddress!, s = dk.scale
                        Parallel.forRanges(count, grain: 1 << 15) { rg in for i in rg { pd[i] += pt[i] * (pk[i] != 0 ? s : 0) } }
                    }
                } else if let m = dropoutMask {
                    let pm = m.floatPointer
                    Parallel.forRanges(count, grain: 1 << 15) { rg in for i in rg { pd[i] += pt[i] * pm[i] } }
                }
            } } else {
                sgemm(false, false, rows, inF, r, scaling, gb.floatPointer, r, a.floatPointer, inF, 1, d.floatPointer, inF)
            }
            dx = d.reshape(xShape)
        }
        var da: Tensor? = nil, db: Tensor? = nil
        if needA {
            let t = Tensor(uninitialized: [r, inF])                      // s · (g·B)ᵀ · xd
            if let dk = dropoutKeep {
                FusedScratch.shared.withFloats(count) { po in
                    dk.apply(to: xc.floatPointer, into: po)
                    sgemm(true, false, r, inF, rows, scaling, gb.floatPointer, r, po, inF, 0, t.floatPointer, inF)
                }
            } else {
                sgemm(true, false, r, inF, rows, scaling, gb.floatPointer, r, xd.floatPointer, inF, 0, t.floatPointer, inF)
            }
            da = t
        }
        if needB {
            let t = Tensor(uninitialized: [outF, r])                     // s · gᵀ · (xd·Aᵀ)
            sgemm(true, false, outF, r, rows, scaling, gc.floatPointer, outF, xa.floatPointer, r, 0, t.floatPointer, r)
            db = t
        }
        return [dx, da, db]
    }
}

/// The summed cross-entropy of `hidden · weightᵀ` (an output head, weight [vocab, H]) against `targets`
/// (one per row of `hidden` [..., H]; `ignoreIndex` rows skipped), without materialising the logits:
/// only rows with a target are projected, a block of rows at a time, and while a block's logits are at
/// hand their gradient (softmax − onehot) is pushed through the head right away, so the backward only
/// scales the stored d(hidden) (and dW when the head trains). Returns the sum and the counted rows, or
/// nil when the weight is not float32 (the caller takes the generic path). Targets must be valid
/// (`ignoreIndex` or in 0..<vocab); callers check them first. `blockRows` (default: as many as fit in
/// 128 MiB of logits) trades memory against repacking the head weight once per block.
public func linearCrossEntropySum(hidden: Tensor, weight: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                                  blockRows: Int? = nil) -> (sum: Tensor, count: Int)? {
    guard weight.rank == 2, weight.dtype == .float32, hidden.dtype == .float32, let hDim = hidden.shape.last,
          hDim == weight.shape[1], hDim > 0 else { return nil }
    let vocab = weight.shape[0]
    let n = hidden.count / hDim
    guard targets.count == n else { return nil }
    let w = weight.contiguousF32(), h = hidden.contiguousF32()
    let selected = (0..<n).filter { targets[$0] != ignoreIndex }
    let count = selected.count
    let wantH = GradMode.isEnabled && hidden._requiresGrad, wantW = GradMode.isEnabled && weight._requiresGrad
    let hs = Tensor(uninitialized: [max(count, 1), hDim])
    let ph = h.floatPointer, phs = hs.floatPointer
    for (i, row) in selected.enumerated() { (phs + i * hDim).update(from: ph + row * hDim, count: hDim) }
    let dhs = wantH ? Tensor(uninitialized: [max(count, 1), hDim]) : nil
    let dw = wantW ? Tensor(zeros: [vocab, hDim]) : nil
    let block = max(1, min(blockRows ?? (1 << 25) / max(1, vocab), count))
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: block * vocab)
    defer { logits.deallocate() }
    var losses = [Float](repeating: 0, count: block), lse = [Float](repeating: 0, count: block)
    var total = 0.0
    var r0 = 0
    while r0 < count {
        let m = min(block, count - r0)
        let tg = selected[r0..<(r0 + m)].map { targets[$0] }
        sgemm(false, true, m, vocab, hDim, 1, phs + r0 * hDim, hDim, w.floatPointer, hDim, 0, logits, vocab)
        tg.withUnsafeBufferPointer { tp in
            losses.withUnsafeMutableBufferPointer { lp in
                lse.withUnsafeMutableBufferPointer { sp in
                    total += Kernels.crossEntropyForward(logits: logits, targets: tp.baseAddress!, losses: lp.baseAddress!,
                                                         lse: sp.baseAddress!, rows: m, vocab: vocab, ignoreIndex: ignoreIndex).sum
                    if wantH || wantW {
                        // In place: each element is read once, then overwritten by its gradient.
                        Kernels.crossEntropyBackward(logits: logits, targets: tp.baseAddress!, lse: sp.baseAddress!, gradScale: 1,
                                                     dLogits: logits, rows: m, vocab: vocab, ignoreIndex: ignoreIndex)
                    }
                }
            }
        }
        if let dhs { sgemm(false, false, m, hDim, vocab, 1, logits, vocab, w.floatPointer, hDim, 0, dhs.floatPointer + r0 * hDim, hDim) }
        if let dw { sgemm(true, false, vocab, hDim, m, 1, logits, vocab, phs + r0 * hDim, hDim, 1, dw.floatPointer, hDim) }
        r0 += m
    }
    let out = Tensor(scalar: Float(total))
    let hShape = hidden.shape
    let sum = Tensor.record("linear_cross_entropy", out, [hidden, weight]) { g in
        let s = g.item()
        var gh: Tensor? = nil, gw: Tensor? = nil
        if let dhs {
            let d = Tensor(zeros: [n, hDim])
            let pd = d.floatPointer, ps = dhs.floatPointer
            for (i, row) in selected.enumerated() {
                let dst = pd + row * hDim, src = ps + i * hDim
                for j in 0..<hDim { dst[j] = src[j] * s }
            }
            gh = d.reshape(hShape)
        }
        if let dw {
            let c = Tensor(uninitialized: dw.shape)
            let pd = dw.floatPointer, pc = c.floatPointer
            Parallel.forRanges(dw.count, grain: 1 << 16) { rg in for i in rg { pc[i] = pd[i] * s } }
            gw = c
        }
        return [gh, gw]
    }
    return (sum, count)
}
