import CBLAS
import Foundation

extension Kernels {
    /// Attention backward, FlashAttention-2 style: probabilities are recomputed tile by tile from the saved
    /// lse, with Di = rowsum(dOut ∘ out) precomputed. Work items are (batch, kv head, key tile): each owns its
    /// dK/dV tile (accumulated over the query heads of its group and all visible query tiles), so those need no
    /// synchronisation; dQ is accumulated per worker and summed at the end.
    /// dq, dk, dv are overwritten. Layouts as in `attentionForward`.
    public static func attentionBackward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        shape: AttentionShape, scale: Float, causal: Bool,
        segmentIds: UnsafePointer<Int32>?, keyMask: UnsafePointer<UInt8>?
    ) {
        attentionBackward(q: q, k: k, v: v, out: out, lse: lse, dOut: dOut, dq: dq, dk: dk, dv: dv,
                          shape: shape, scale: scale, causal: causal, segmentIds: segmentIds, keyMask: keyMask,
                          tiles: .defaults(headDim: shape.headDim))
    }

    static func attentionBackward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        shape: AttentionShape, scale: Float, causal: Bool,
        segmentIds: UnsafePointer<Int32>?, keyMask: UnsafePointer<UInt8>?, tiles: AttentionTiles
    ) {
        let B = shape.batch, T = shape.seqLen, TK = shape.keyLen, Hq = shape.qHeads, Hkv = shape.kvHeads, D = shape.headDim
        if shape.problem != nil {
            if B > 0, T > 0, Hq > 0, D > 0 { dq.update(repeating: .nan, count: B * T * Hq * D) }
            if B > 0, TK > 0, Hkv > 0, D > 0 {
                dk.update(repeating: .nan, count: B * TK * Hkv * D); dv.update(repeating: .nan, count: B * TK * Hkv * D)
            }
            return
        }
        if shape.isEmpty { return }
        let group = Hq / Hkv
        let BQ = tiles.queryBlock, BK = tiles.keyBlock
        let nQB = (T + BQ - 1) / BQ, nKB = (TK + BK - 1) / BK
        let ldq = Hq * D, ldk = Hkv * D
        let mask = AttentionMask(shape: shape, causal: causal, segmentIds: segmentIds, keyMask: keyMask)
        let qCount = B * T * Hq * D

        // Di[b, h, i] = dOut[b, i, h, :] · out[b, i, h, :], laid out like lse.
        let di = UnsafeMutablePointer<Float>.allocate(capacity: B * Hq * T)
        defer { di.deallocate() }
        Parallel.forRanges(B * T, grain: rowGrain(ldq)) { r in
            for bt in r {
                let b = bt / T, t = bt % T
                for h in 0..<Hq {
                    let off = bt * ldq + h * D
                    di[(b * Hq + h) * T + t] = dot(dOut + off, out + off, D)
                }
            }
        }

        var kinds = [AttentionMask.BlockKind](repeating: .skip, count: B * nKB * nQB)
        var costs = [Int](repeating: 0, count: B * Hkv * nKB)
        for b in 0..<B {
            for kb in 0..<nKB {
                let k0 = kb * BK, kn = min(BK, TK - k0)
                var c = 1
                for qb in 0..<nQB {
                    let q0 = qb * BQ, qn = min(BQ, T - q0)
                    let kind = mask.classify(b, q0: q0, qn: qn, k0: k0, kn: kn)
                    kinds[(b * nKB + kb) * nQB + qb] = kind
                    if kind != .skip { c += 8 * group }
                }
                for g in 0..<Hkv { costs[(b * Hkv + g) * nKB + kb] = c }
            }
        }
        let workers = min(Parallel.workers, costs.count)
        let lists = balance(costs: costs, workers: workers)
        // Worker 0 accumulates dQ straight into dq; the others into private buffers, summed afterwards.
        dq.update(repeating: 0, count: qCount)
        let extra = workers > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: (workers - 1) * qCount) : nil
        defer { extra?.deallocate() }
        extra?.update(repeating: 0, count: (workers - 1) * qCount)

        withSingleThreadedBLAS { kinds.withUnsafeBufferPointer { kindsBuf in
            let kinds = kindsBuf.baseAddress!
            Parallel.forEach(workers) { w in
                let dqw = w == 0 ? dq : extra! + (w - 1) * qCount
                let p = UnsafeMutablePointer<Float>.allocate(capacity: BQ * BK)
                let ds = UnsafeMutablePointer<Float>.allocate(capacity: BQ * BK)
                let dkAcc = UnsafeMutablePointer<Float>.allocate(capacity: BK * D)
                let dvAcc = UnsafeMutablePointer<Float>.allocate(capacity: BK * D)
                defer { p.deallocate(); ds.deallocate(); dkAcc.deallocate(); dvAcc.deallocate() }
                for item in lists[w] {
                    let kb = item % nKB, g = (item / nKB) % Hkv, b = item / (nKB * Hkv)
                    let k0 = kb * BK, knFull = min(BK, TK - k0)
                    let kp = k + (b * TK + k0) * ldk + g * D
                    let vp = v + (b * TK + k0) * ldk + g * D
                    dkAcc.update(repeating: 0, count: knFull * D)
                    dvAcc.update(repeating: 0, count: knFull * D)
                    for qb in 0..<nQB {
                        let kind = kinds[(b * nKB + kb) * nQB + qb]
                        if kind == .skip { continue }
                        let q0Block = qb * BQ, qnBlock = min(BQ, T - q0Block)
                        // Tiles cut by the causal diagonal go in row groups, each with only the keys it can see.
                        let rowStep = mask.rowStep(qn: qnBlock, kind: kind)
                        var r0 = 0
                        while r0 < qnBlock {
                            let q0 = q0Block + r0, qn = min(rowStep, qnBlock - r0)
                            r0 += qn
                            let kn = mask.usefulKeys(q0: q0, qn: qn, k0: k0, kn: knFull, kind: kind)
                            if kn <= 0 { continue }
                            for h in (g * group)..<((g + 1) * group) {
                                let off = (b * T + q0) * ldq + h * D
                                let qp = q + off, dop = dOut + off
                                let lp = lse + (b * Hq + h) * T + q0
                                let dip = di + (b * Hq + h) * T + q0
                                // P = exp(scale·QKᵀ - lse), masked entries and empty rows 0.
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qn), Int32(kn), Int32(D),
                                            scale, qp, Int32(ldq), kp, Int32(ldk), 0, p, Int32(BK))
                                mask.apply(p, ld: BK, b, q0: q0, qn: qn, k0: k0, kn: kn, kind: kind)
                                for i in 0..<qn {
                                    let row = p + i * BK
                                    if lp[i] == -.infinity { row.update(repeating: 0, count: kn); continue }
                                    let len = mask.rowEnd(q0 + i, k0: k0, kn: kn, kind: kind)
                                    if len < kn { (row + len).update(repeating: 0, count: kn - len) }
                                    _ = expShiftSum(row, len, lp[i])
                                }
                                // dV += Pᵀ dO
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(kn), Int32(D), Int32(qn),
                                            1, p, Int32(BK), dop, Int32(ldq), 1, dvAcc, Int32(D))
                                // dP = dO Vᵀ, then dS = P ∘ (dP - Di)
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qn), Int32(kn), Int32(D),
                                            1, dop, Int32(ldq), vp, Int32(ldk), 0, ds, Int32(BK))
                                for i in 0..<qn {
                                    let pr = p + i * BK, dr = ds + i * BK
                                    let dI = V16(repeating: dip[i])
                                    var j = 0
                                    while j + 16 <= kn { store(load(pr + j) * (load(dr + j) - dI), dr + j); j += 16 }
                                    while j < kn { dr[j] = pr[j] * (dr[j] - dip[i]); j += 1 }
                                }
                                // dK += scale · dSᵀ Q ; dQ += scale · dS K
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(kn), Int32(D), Int32(qn),
                                            scale, ds, Int32(BK), qp, Int32(ldq), 1, dkAcc, Int32(D))
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(qn), Int32(D), Int32(kn),
                                            scale, ds, Int32(BK), kp, Int32(ldk), 1, dqw + off, Int32(ldq))
                            }
                        }
                    }
                    for j in 0..<knFull {
                        let dst = (b * TK + k0 + j) * ldk + g * D
                        (dk + dst).update(from: dkAcc + j * D, count: D)
                        (dv + dst).update(from: dvAcc + j * D, count: D)
                    }
                }
            }
        } }
        if let extra {
            Parallel.forRanges(qCount, grain: 16384) { r in
                for w in 0..<(workers - 1) {
                    let src = extra + w * qCount
                    var i = r.lowerBound
                    while i + 16 <= r.upperBound { store(load(dq + i) + load(src + i), dq + i); i += 16 }
                    while i < r.upperBound { dq[i] += src[i]; i += 1 }
                }
            }
        }
    }
}
