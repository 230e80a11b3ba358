import CBLAS
import Foundation

extension Kernels {
    /// Memory-efficient attention forward (flash-style): for each (batch, query head, query tile) the key
    /// tiles are visited with an online softmax, so only a queryBlock×keyBlock score tile exists at a time.
    /// Tile products run through cblas_sgemm directly on the strided [B, T, H, D] layout.
    ///
    /// Layout: q, out [B, T, Hq, D]; k, v [B, TK, Hkv, D]; lse [B, Hq, T]; segmentIds [B, TK] Int32 and
    /// keyMask [B, TK] UInt8 (T = seqLen, TK = keyLen, equal unless shape.keyLen says otherwise). Query head h
    /// reads kv head h / (Hq / Hkv). Query i (at key position p = i + TK - T) may attend to key j iff
    /// (!causal || j <= p) && seg[p] == seg[j] && keyMask[j] != 0. A query with no allowed key gets
    /// out = 0 and lse = -inf.
    public static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape: AttentionShape, scale: Float, causal: Bool,
        segmentIds: UnsafePointer<Int32>?, keyMask: UnsafePointer<UInt8>?
    ) {
        attentionForward(q: q, k: k, v: v, out: out, lse: lse, shape: shape, scale: scale, causal: causal,
                         segmentIds: segmentIds, keyMask: keyMask, tiles: .defaults(headDim: shape.headDim))
    }

    static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape: AttentionShape, scale: Float, causal: Bool,
        segmentIds: UnsafePointer<Int32>?, keyMask: UnsafePointer<UInt8>?, tiles: AttentionTiles
    ) {
        let B = shape.batch, T = shape.seqLen, TK = shape.keyLen, Hq = shape.qHeads, Hkv = shape.kvHeads, D = shape.headDim
        if shape.problem != nil {
            if B > 0, T > 0, Hq > 0, D > 0 {
                out.update(repeating: .nan, count: B * T * Hq * D); lse.update(repeating: .nan, count: B * Hq * T)
            }
            return
        }
        if shape.isEmpty { return }
        let group = Hq / Hkv
        let BQ = tiles.queryBlock, BK = tiles.keyBlock
        let nQB = (T + BQ - 1) / BQ, nKB = (TK + BK - 1) / BK
        let ldq = Hq * D, ldk = Hkv * D
        let mask = AttentionMask(shape: shape, causal: causal, segmentIds: segmentIds, keyMask: keyMask)

        // Items (b, qb) × heads; tile visibility depends only on (b, qb, kb), so classify once per (b, qb).
        var kinds = [AttentionMask.BlockKind](repeating: .skip, count: B * nQB * nKB)
        var costs = [Int](repeating: 0, count: B * Hq * nQB)
        for b in 0..<B {
            for qb in 0..<nQB {
                let q0 = qb * BQ, qn = min(BQ, T - q0)
                var c = 1
                for kb in 0..<nKB {
                    let k0 = kb * BK, kn = min(BK, TK - k0)
                    let kind = mask.classify(b, q0: q0, qn: qn, k0: k0, kn: kn)
                    kinds[(b * nQB + qb) * nKB + kb] = kind
                    if kind != .skip { c += 8 }
                }
                for h in 0..<Hq { costs[(b * Hq + h) * nQB + qb] = c }
            }
        }
        let lists = balance(costs: costs, workers: min(Parallel.workers, costs.count))

        withSingleThreadedBLAS { kinds.withUnsafeBufferPointer { kindsBuf in
            let kinds = kindsBuf.baseAddress!
            Parallel.forEach(lists.count) { w in
                let s = UnsafeMutablePointer<Float>.allocate(capacity: BQ * BK)
                let acc = UnsafeMutablePointer<Float>.allocate(capacity: BQ * D)
                let m = UnsafeMutablePointer<Float>.allocate(capacity: BQ)
                let l = UnsafeMutablePointer<Float>.allocate(capacity: BQ)
                defer { s.deallocate(); acc.deallocate(); m.deallocate(); l.deallocate() }
                for item in lists[w] {
                    let qb = item % nQB, h = (item / nQB) % Hq, b = item / (nQB * Hq)
                    let g = h / group
                    let q0 = qb * BQ, qn = min(BQ, T - q0)
                    let qp = q + (b * T + q0) * ldq + h * D
                    m.update(repeating: -.infinity, count: qn)
                    l.update(repeating: 0, count: qn)
                    acc.update(repeating: 0, count: qn * D)
                    for kb in 0..<nKB {
                        let kind = kinds[(b * nQB + qb) * nKB + kb]
                        if kind == .skip { continue }
                        let k0 = kb * BK
                        let knTile = mask.usefulKeys(q0: q0, qn: qn, k0: k0, kn: min(BK, TK - k0), kind: kind)
                        let kp = k + (b * TK + k0) * ldk + g * D
                        let vp = v + (b * TK + k0) * ldk + g * D
                        // Tiles cut by the causal diagonal go in row groups, each with only the keys it can see.
                        let rowStep = mask.rowStep(qn: qn, kind: kind)
                        var r0 = 0
                        while r0 < qn {
                            let rn = min(rowStep, qn - r0)
                            let kn = mask.usefulKeys(q0: q0 + r0, qn: rn, k0: k0, kn: knTile, kind: kind)
                            defer { r0 += rn }
                            if kn <= 0 { continue }
                            let sr = s + r0 * BK
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rn), Int32(kn), Int32(D),
                                        scale, qp + r0 * ldq, Int32(ldq), kp, Int32(ldk), 0, sr, Int32(BK))
                            mask.apply(sr, ld: BK, b, q0: q0 + r0, qn: rn, k0: k0, kn: kn, kind: kind)
                            for i in r0..<(r0 + rn) {
                                let row = s + i * BK
                                let len = mask.rowEnd(q0 + i, k0: k0, kn: kn, kind: kind)
                                let mNew = max(m[i], rowMax(row, len))
                                if mNew == -.infinity {
                                    row.update(repeating: 0, count: kn)
                                    continue
                                }
                                if len < kn { (row + len).update(repeating: 0, count: kn - len) }
                                let rs = expShiftSum(row, len, mNew)
                                if m[i] == -.infinity {
                                    m[i] = mNew  // first visible keys: l and the accumulator row are still 0
                                } else if m[i] != mNew {
                                    let alpha = Foundation.exp(m[i] - mNew)
                                    l[i] *= alpha
                                    scaleRow(acc + i * D, D, alpha)
                                    m[i] = mNew
                                }
                                l[i] += rs
                            }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rn), Int32(D), Int32(kn),
                                        1, sr, Int32(BK), vp, Int32(ldk), 1, acc + r0 * D, Int32(D))
                        }
                    }
                    let op = out + (b * T + q0) * ldq + h * D
                    let lp = lse + (b * Hq + h) * T + q0
                    for i in 0..<qn {
                        let dst = op + i * ldq
                        if l[i] > 0 {
                            let inv = 1 / l[i]
                            let src = acc + i * D
                            for d in 0..<D { dst[d] = src[d] * inv }
                            lp[i] = m[i] + log(l[i])
                        } else {
                            dst.update(repeating: 0, count: D)
                            lp[i] = -.infinity
                        }
                    }
                }
            }
        } }
    }
}
