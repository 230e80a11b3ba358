import CBLAS
import Foundation

extension Kernels {
    /// Memory-efficient attention forward (flash-style): for each (batch, query head, query tile) the key
    /// tiles are visited with an online softmax, so only a queryBlock×keyBlock score tile exists at a time.
    /// Tile products run through cblas_sgemm directly on the strided [B, T, H, D] layout.
    ///
    /// Layout: q, out [B, T, Hq, D]; k, v [B, T, Hkv, D]; lse [B, Hq, T]. Query head h reads kv head
    /// h / (Hq / Hkv). Query i may attend to key j iff (!causal || j <= i) && same segment id && keyMask[j] != 0.
    /// A query with no allowed key gets out = 0 and lse = -inf.
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
        let B = shape.batch, T = shape.seqLen, Hq = shape.qHeads, Hkv = shape.kvHeads, D = shape.headDim
        guard B > 0, T > 0, Hq > 0, D > 0, Hkv > 0, Hq % Hkv == 0 else { return }
        let group = Hq / Hkv
        let BQ = tiles.queryBlock, BK = tiles.keyBlock
        let nQB = (T + BQ - 1) / BQ, nKB = (T + BK - 1) / BK
        let ldq = Hq * D, ldk = Hkv * D
        let mask = AttentionMask(seqLen: T, causal: causal, segmentIds: segmentIds, keyMask: keyMask)

        // Items (b, qb) × heads; tile visibility depends only on (b, qb, kb), so classify once per (b, qb).
        var kinds = [AttentionMask.BlockKind](repeating: .skip, count: B * nQB * nKB)
        var costs = [Int](repeating: 0, count: B * Hq * nQB)
        for b in 0..<B {
            for qb in 0..<nQB {
                let q0 = qb * BQ, qn = min(BQ, T - q0)
                var c = 1
                for kb in 0..<nKB {
                    let k0 = kb * BK, kn = min(BK, T - k0)
                    let kind = mask.classify(b, q0: q0, qn: qn, k0: k0, kn: kn)
                    kinds[(b * nQB + qb) * nKB + kb] = kind
                    if kind != .skip { c += 8 }
                }
                for h in 0..<Hq { costs[(b * Hq + h) * nQB + qb] = c }
            }
        }
        let lists = balance(costs: costs, workers: min(Parallel.workers, costs.count))

        kinds.withUnsafeBufferPointer { kindsBuf in
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
                        let k0 = kb * BK, kn = min(BK, T - k0)
                        let kp = k + (b * T + k0) * ldk + g * D
                        let vp = v + (b * T + k0) * ldk + g * D
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qn), Int32(kn), Int32(D),
                                    scale, qp, Int32(ldq), kp, Int32(ldk), 0, s, Int32(BK))
                        if kind == .partial { mask.apply(s, ld: BK, b, q0: q0, qn: qn, k0: k0, kn: kn) }
                        for i in 0..<qn {
                            let row = s + i * BK
                            let mNew = max(m[i], rowMax(row, kn))
                            if mNew == -.infinity {
                                row.update(repeating: 0, count: kn)
                                continue
                            }
                            let rs = expShiftSum(row, kn, mNew)
                            if m[i] != mNew {
                                let alpha = sexp(m[i] - mNew)
                                l[i] *= alpha
                                scaleRow(acc + i * D, D, alpha)
                                m[i] = mNew
                            }
                            l[i] += rs
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(qn), Int32(D), Int32(kn),
                                    1, s, Int32(BK), vp, Int32(ldk), 1, acc, Int32(D))
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
        }
    }
}
