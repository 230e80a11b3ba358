import Foundation
import XCTest
@testable import Tensors

/// Inputs of one attention call, with Swift-side helpers to run the kernels.
struct AttentionProblem {
    var shape: AttentionShape
    var scale: Float
    var causal: Bool
    var q: [Float], k: [Float], v: [Float], dOut: [Float]
    var seg: [Int32]?
    var keyMask: [UInt8]?

    var qCount: Int { shape.batch * shape.seqLen * shape.qHeads * shape.headDim }
    var kvCount: Int { shape.batch * shape.keyLen * shape.kvHeads * shape.headDim }
    var lseCount: Int { shape.batch * shape.qHeads * shape.seqLen }

    private func withMasks<R>(_ body: (UnsafePointer<Int32>?, UnsafePointer<UInt8>?) -> R) -> R {
        func withSeg(_ f: (UnsafePointer<Int32>?) -> R) -> R {
            if let seg { return seg.withUnsafeBufferPointer { f($0.baseAddress) } }
            return f(nil)
        }
        return withSeg { s in
            if let keyMask { return keyMask.withUnsafeBufferPointer { body(s, $0.baseAddress) } }
            return body(s, nil)
        }
    }

    func forward(tiles: AttentionTiles? = nil) -> (out: [Float], lse: [Float]) {
        var out = [Float](repeating: 7, count: qCount), lse = [Float](repeating: 7, count: lseCount)
        withMasks { s, m in
            if let tiles {
                Kernels.attentionForward(q: q, k: k, v: v, out: &out, lse: &lse, shape: shape, scale: scale,
                                         causal: causal, segmentIds: s, keyMask: m, tiles: tiles)
            } else {
                Kernels.attentionForward(q: q, k: k, v: v, out: &out, lse: &lse, shape: shape, scale: scale,
                                         causal: causal, segmentIds: s, keyMask: m)
            }
        }
        return (out, lse)
    }

    func backward(out: [Float], lse: [Float], tiles: AttentionTiles? = nil) -> (dq: [Float], dk: [Float], dv: [Float]) {
        var dq = [Float](repeating: 7, count: qCount)
        var dk = [Float](repeating: 7, count: kvCount), dv = [Float](repeating: 7, count: kvCount)
        withMasks { s, m in
            if let tiles {
                Kernels.attentionBackward(q: q, k: k, v: v, out: out, lse: lse, dOut: dOut, dq: &dq, dk: &dk, dv: &dv,
                                          shape: shape, scale: scale, causal: causal, segmentIds: s, keyMask: m,
                                          tiles: tiles)
            } else {
                Kernels.attentionBackward(q: q, k: k, v: v, out: out, lse: lse, dOut: dOut, dq: &dq, dk: &dk, dv: &dv,
                                          shape: shape, scale: scale, causal: causal, segmentIds: s, keyMask: m)
            }
        }
        return (dq, dk, dv)
    }

    /// Query i sits at key position i + keyLen - seqLen.
    func allowed(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        let TK = shape.keyLen, p = i + shape.keyLen - shape.seqLen
        if causal && j > p { return false }
        if let seg, seg[b * TK + p] != seg[b * TK + j] { return false }
        if let keyMask, keyMask[b * TK + j] == 0 { return false }
        return true
    }

    /// Direct O(T²) reference in Double (materialises the probabilities), forward and backward.
    func reference() -> (out: [Float], lse: [Float], dq: [Float], dk: [Float], dv: [Float]) {
        let B = shape.batch, T = shape.seqLen, TK = shape.keyLen, Hq = shape.qHeads, Hkv = shape.kvHeads
        let D = shape.headDim, group = Hq / Hkv
        var out = [Float](repeating: 0, count: qCount), lse = [Float](repeating: 0, count: lseCount)
        var dq = [Double](repeating: 0, count: qCount)
        var dk = [Double](repeating: 0, count: kvCount), dv = [Double](repeating: 0, count: kvCount)
        func qi(_ b: Int, _ t: Int, _ h: Int) -> Int { ((b * T + t) * Hq + h) * D }
        func ki(_ b: Int, _ t: Int, _ g: Int) -> Int { ((b * TK + t) * Hkv + g) * D }
        var p = [Double](repeating: 0, count: TK), dp = [Double](repeating: 0, count: TK)
        for b in 0..<B {
            for h in 0..<Hq {
                let g = h / group
                for i in 0..<T {
                    var m = -Double.infinity
                    for j in 0..<TK {
                        if !allowed(b, i, j) { p[j] = -.infinity; continue }
                        var s = 0.0
                        for d in 0..<D { s += Double(q[qi(b, i, h) + d]) * Double(k[ki(b, j, g) + d]) }
                        p[j] = s * Double(scale); m = max(m, p[j])
                    }
                    if m == -.infinity { lse[(b * Hq + h) * T + i] = -.infinity; continue }
                    var sum = 0.0
                    for j in 0..<TK { p[j] = p[j] == -.infinity ? 0 : exp(p[j] - m); sum += p[j] }
                    lse[(b * Hq + h) * T + i] = Float(m + log(sum))
                    for j in 0..<TK { p[j] /= sum }
                    var o = [Double](repeating: 0, count: D)
                    for j in 0..<TK where p[j] != 0 { for d in 0..<D { o[d] += p[j] * Double(v[ki(b, j, g) + d]) } }
                    var di = 0.0
                    for d in 0..<D { out[qi(b, i, h) + d] = Float(o[d]); di += o[d] * Double(dOut[qi(b, i, h) + d]) }
                    for j in 0..<TK {
                        var s = 0.0
                        for d in 0..<D { s += Double(dOut[qi(b, i, h) + d]) * Double(v[ki(b, j, g) + d]) }
                        dp[j] = p[j] * (s - di) * Double(scale)
                        for d in 0..<D {
                            dv[ki(b, j, g) + d] += p[j] * Double(dOut[qi(b, i, h) + d])
                            dk[ki(b, j, g) + d] += dp[j] * Double(q[qi(b, i, h) + d])
                            dq[qi(b, i, h) + d] += dp[j] * Double(k[ki(b, j, g) + d])
                        }
                    }
                }
            }
        }
        return (out, lse, dq.map(Float.init), dk.map(Float.init), dv.map(Float.init))
    }

    static func random(_ shape: AttentionShape, causal: Bool, seed: UInt64, segmented: Bool, padded: Bool) -> AttentionProblem {
        var rng = TestRNG(seed)
        let B = shape.batch, T = shape.keyLen  // masks and segments are per key position
        let qc = B * shape.seqLen * shape.qHeads * shape.headDim, kc = B * T * shape.kvHeads * shape.headDim
        var seg: [Int32]? = nil, mask: [UInt8]? = nil
        if segmented {
            // segment boundaries where position_ids restart at 0
            var s = [Int32](repeating: 0, count: B * T)
            for b in 0..<B {
                var cur: Int32 = 0
                for t in 1..<T where rng.uniform() < 0.03 || t == T / 3 { cur += 1; s[b * T + t] = cur; continue }
                for t in 1..<T { s[b * T + t] = max(s[b * T + t], s[b * T + t - 1]) }
            }
            seg = s
        }
        if padded {
            var m = [UInt8](repeating: 1, count: B * T)
            for t in 0..<(T / 4) { m[t] = 0 }                       // left padding in batch 0
            if B > 1 { for t in (T - T / 5)..<T { m[T + t] = 0 } }  // right padding in batch 1
            mask = m
        }
        return AttentionProblem(shape: shape, scale: 1 / Float(shape.headDim).squareRoot(), causal: causal,
                                q: rng.normals(qc), k: rng.normals(kc), v: rng.normals(kc), dOut: rng.normals(qc),
                                seg: seg, keyMask: mask)
    }
}

final class KernelsAttentionTests: XCTestCase {
    static let fixtureCases = ["attn_causal", "attn_noncausal", "attn_gqa9x3", "attn_leftpad", "attn_rightpad",
                               "attn_packed", "attn_noncausal_masked", "attn_kvcache"]
    /// nil = the production defaults; the small ones force many (ragged) tiles on the tiny fixtures.
    static let tileConfigs: [AttentionTiles?] = [nil, AttentionTiles(queryBlock: 4, keyBlock: 4),
                                                 AttentionTiles(queryBlock: 8, keyBlock: 16),
                                                 AttentionTiles(queryBlock: 5, keyBlock: 3),
                                                 AttentionTiles(queryBlock: 16, keyBlock: 7)]

    func problem(_ f: KernelFixture) throws -> AttentionProblem {
        let shape = AttentionShape(batch: f.int("batch"), seqLen: f.int("seqLen"), qHeads: f.int("qHeads"),
                                   kvHeads: f.int("kvHeads"), headDim: f.int("headDim"), keyLen: f.int("keyLen"))
        return AttentionProblem(shape: shape, scale: f.float("scale"), causal: f.bool("causal"),
                                q: try f.f32("q"), k: try f.f32("k"), v: try f.f32("v"), dOut: try f.f32("dout"),
                                seg: f.has("segment_ids") ? try f.i32("segment_ids") : nil,
                                keyMask: f.has("key_mask") ? try f.u8("key_mask") : nil)
    }

    /// Forward and backward against torch (float64 eager reference with explicit masks, cross-checked against
    /// F.scaled_dot_product_attention in the generator), for every tiling. Tolerance: 1e-5 scaled (assertClose).
    func testMatchesTorchFixtures() throws {
        var worst: Float = 0
        for name in Self.fixtureCases {
            let f = try KernelFixture.load(name)
            let p = try problem(f)
            let (eOut, eLse) = (try f.f32("out"), try f.f32("lse"))
            let (eDq, eDk, eDv) = (try f.f32("dq"), try f.f32("dk"), try f.f32("dv"))
            for tiles in Self.tileConfigs {
                let tag = "\(name) tiles \(tiles.map { "\($0.queryBlock)x\($0.keyBlock)" } ?? "default")"
                let (out, lse) = p.forward(tiles: tiles)
                worst = max(worst, assertClose(out, eOut, "\(tag) out"))
                worst = max(worst, assertClose(lse, eLse, "\(tag) lse"))
                let g = p.backward(out: out, lse: lse, tiles: tiles)
                worst = max(worst, assertClose(g.dq, eDq, "\(tag) dq"))
                worst = max(worst, assertClose(g.dk, eDk, "\(tag) dk"))
                worst = max(worst, assertClose(g.dv, eDv, "\(tag) dv"))
            }
        }
        print("attention vs torch: worst scaled error \(worst) over \(Self.fixtureCases.count) cases × \(Self.tileConfigs.count) tilings")
    }

    func testFullyMaskedRowsGiveZerosAndMinusInfinity() throws {
        let f = try KernelFixture.load("attn_leftpad")
        let p = try problem(f)
        let (out, lse) = p.forward()
        let g = p.backward(out: out, lse: lse)
        let T = p.shape.seqLen, Hq = p.shape.qHeads, D = p.shape.headDim
        // batch 1, query 0 is padding with causal masking: no key is visible
        for h in 0..<Hq {
            XCTAssertEqual(lse[(1 * Hq + h) * T + 0], -.infinity)
            for d in 0..<D {
                XCTAssertEqual(out[((1 * T + 0) * Hq + h) * D + d], 0)
                XCTAssertEqual(g.dq[((1 * T + 0) * Hq + h) * D + d], 0)
            }
        }
    }

    func testInvalidShapeIsReportedAndPoisonsOutputs() {
        let bad = AttentionShape(batch: 1, seqLen: 3, qHeads: 6, kvHeads: 4, headDim: 2)
        XCTAssertNotNil(bad.problem)
        XCTAssertNotNil(AttentionShape(batch: 1, seqLen: 5, qHeads: 2, kvHeads: 2, headDim: 2, keyLen: 4).problem)
        XCTAssertTrue(bad.problem?.contains("multiple of kvHeads") ?? false)
        XCTAssertNil(AttentionShape(batch: 1, seqLen: 3, qHeads: 9, kvHeads: 3, headDim: 64).problem)
        let p = AttentionProblem(shape: bad, scale: 1, causal: true, q: .init(repeating: 1, count: 36),
                                 k: .init(repeating: 1, count: 24), v: .init(repeating: 1, count: 24),
                                 dOut: .init(repeating: 1, count: 36), seg: nil, keyMask: nil)
        let (out, lse) = p.forward()
        XCTAssertTrue(out.allSatisfy(\.isNaN) && lse.allSatisfy(\.isNaN))
        let g = p.backward(out: out, lse: lse)
        XCTAssertTrue(g.dq.allSatisfy(\.isNaN) && g.dk.allSatisfy(\.isNaN) && g.dv.allSatisfy(\.isNaN))
    }

    /// Production tile sizes on shapes spanning several tiles (SmolLM2 head layout: 9 query heads, 3 KV heads,
    /// head_dim 64), against the direct Double reference. Same tolerance as the fixtures.
    func testDefaultTilesAgainstDirectReference() {
        let configs: [(AttentionShape, Bool, Bool, Bool)] = [
            (AttentionShape(batch: 2, seqLen: 150, qHeads: 9, kvHeads: 3, headDim: 64), true, true, true),
            (AttentionShape(batch: 2, seqLen: 150, qHeads: 9, kvHeads: 3, headDim: 64), false, false, true),
            (AttentionShape(batch: 1, seqLen: 200, qHeads: 6, kvHeads: 2, headDim: 64), true, false, false),
            (AttentionShape(batch: 1, seqLen: 70, qHeads: 4, kvHeads: 4, headDim: 48), false, true, false),
            // KV cache: the queries are the last seqLen of keyLen positions
            (AttentionShape(batch: 2, seqLen: 37, qHeads: 9, kvHeads: 3, headDim: 64, keyLen: 150), true, true, true),
            (AttentionShape(batch: 2, seqLen: 1, qHeads: 6, kvHeads: 2, headDim: 32, keyLen: 70), true, false, true),
        ]
        for (n, (shape, causal, segmented, padded)) in configs.enumerated() {
            let p = AttentionProblem.random(shape, causal: causal, seed: UInt64(n + 1), segmented: segmented, padded: padded)
            let r = p.reference()
            // also a ragged tiling whose causal tiles split into row groups of 32 + 16
            for tiles in [nil, AttentionTiles(queryBlock: 48, keyBlock: 40)] {
                let (out, lse) = p.forward(tiles: tiles)
                let g = p.backward(out: out, lse: lse, tiles: tiles)
                let tag = "config \(n) tiles \(tiles.map { "\($0.queryBlock)x\($0.keyBlock)" } ?? "default")"
                assertClose(out, r.out, "\(tag) out"); assertClose(lse, r.lse, "\(tag) lse")
                assertClose(g.dq, r.dq, "\(tag) dq"); assertClose(g.dk, r.dk, "\(tag) dk")
                assertClose(g.dv, r.dv, "\(tag) dv")
            }
        }
    }

    /// Central finite differences of L = Σ out ∘ dOut against the backward kernel, on every q/k/v element of a
    /// small masked GQA problem (f32 forward, eps 1e-2: tolerance 2e-3 absolute + 1e-2 relative).
    func testBackwardMatchesFiniteDifferences() {
        let shape = AttentionShape(batch: 2, seqLen: 9, qHeads: 4, kvHeads: 2, headDim: 4)
        let p = AttentionProblem.random(shape, causal: true, seed: 42, segmented: true, padded: true)
        let tiles = AttentionTiles(queryBlock: 4, keyBlock: 3)
        let (out, lse) = p.forward(tiles: tiles)
        let g = p.backward(out: out, lse: lse, tiles: tiles)
        func loss(_ p: AttentionProblem) -> Double {
            let o = p.forward(tiles: tiles).out
            return zip(o, p.dOut).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let eps: Float = 1e-2
        for (which, grad) in [(0, g.dq), (1, g.dk), (2, g.dv)] {
            for i in 0..<grad.count {
                func bumped(_ delta: Float) -> Double {
                    var c = p
                    switch which { case 0: c.q[i] += delta; case 1: c.k[i] += delta; default: c.v[i] += delta }
                    return loss(c)
                }
                let fd = (bumped(eps) - bumped(-eps)) / Double(2 * eps)
                XCTAssertEqual(Double(grad[i]), fd, accuracy: 2e-3 + 1e-2 * abs(fd), "tensor \(which) [\(i)]")
            }
        }
    }
}
