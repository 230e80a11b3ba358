import Foundation
import XCTest
@testable import Tensors

/// Storage, views, broadcasting, reductions, matmul paths, indexing, errors, autograd mechanics and RNG.
final class TensorCoreTests: XCTestCase {
    func testCreationAndViewsShareStorage() {
        let x = Tensor((0..<24).map { Float($0) }, shape: [2, 3, 4])
        XCTAssertEqual(Tensor.zeros([2, 2]).toFloatArray(), [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3]).toFloatArray(), [1, 1, 1])
        XCTAssertEqual(Tensor.full([2], 7, dtype: .bfloat16).toFloatArray(), [7, 7])
        XCTAssertEqual(Tensor.arange(2, 11, step: 3).toIntArray(), [2, 5, 8])
        XCTAssertEqual(Tensor.arange(5, 0, step: -2).toIntArray(), [5, 3, 1])

        let t = x.transpose(0, 2)                   // [4, 3, 2]
        XCTAssertTrue(t.storage === x.storage)
        XCTAssertEqual(t.shape, [4, 3, 2])
        XCTAssertFalse(t.isContiguous)
        XCTAssertEqual(t.contiguous().toFloatArray().prefix(6), [0, 12, 4, 16, 8, 20])
        let n = x.narrow(2, start: 1, length: 2)
        XCTAssertEqual(n.toFloatArray(), [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        XCTAssertEqual(x.slice(2, 0, nil, step: 3).toFloatArray(), [0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23])
        XCTAssertEqual(x.slice(1, -1).toFloatArray(), [8, 9, 10, 11, 20, 21, 22, 23])
        let r = x.reshape([6, -1])
        XCTAssertTrue(r.storage === x.storage)
        XCTAssertEqual(r.shape, [6, 4])
        XCTAssertFalse(t.reshape([-1]).storage === x.storage)   // non-contiguous reshape copies
        XCTAssertEqual(x.unsqueeze(1).shape, [2, 1, 3, 4])
        XCTAssertEqual(x.unsqueeze(-1).shape, [2, 3, 4, 1])
        XCTAssertEqual(x.unsqueeze(1).squeeze(1).shape, [2, 3, 4])
        XCTAssertEqual(Tensor([5], shape: [1, 1]).squeeze().shape, [])
        let e = Tensor([1, 2, 3] as [Float], shape: [3, 1]).expand([2, 3, 4])
        XCTAssertEqual(e.strides, [0, 1, 0])
        XCTAssertEqual(e.sum().item(), 48)
        XCTAssertEqual(x.flatten(from: 1).shape, [2, 12])
        XCTAssertEqual(x.permute([1, 2, 0]).shape, [3, 4, 2])
        XCTAssertEqual(x.permute([1, 2, 0]).contiguous().toFloatArray().prefix(4), [0, 12, 1, 13])
    }

    func testTransposedCopiesUseBlockedPathCorrectly() {
        let (p, r, c) = (3, 50, 70)
        let x = Tensor((0..<(p * r * c)).map { Float($0) }, shape: [p, r, c])
        for dt in [DType.float32, .bfloat16, .int32] {
            let y = x.to(dt).transpose(1, 2).contiguous()      // [p, c, r]
            XCTAssertEqual(y.dtype, dt)
            let v = y.toFloatArray(), src = x.to(dt).toFloatArray()   // bf16 rounds large integers
            var bad = 0
            for a in 0..<p { for j in 0..<c { for i in 0..<r where v[(a * c + j) * r + i] != src[(a * r + i) * c + j] { bad += 1 } } }
            XCTAssertEqual(bad, 0, "\(dt) transposed copy")
        }
        // Linear weight gradient comes back contiguous in the weight's own layout.
        let w = Tensor.randn([5, 7], generator: RandomGenerator(seed: 4)).requiringGrad()
        let xin = Tensor.randn([3, 7], generator: RandomGenerator(seed: 5))
        linear(xin, weight: w).sum().backward()
        XCTAssertTrue(w.grad!.isContiguous)
        let expect = Tensor.ones([3, 5]).mT.matmul(xin).toFloatArray()
        assertTorchClose(w.grad!.toFloatArray(), expect, "linear weight grad")
    }

    func testBroadcastingArithmetic() {
        let a = Tensor([1, 2, 3] as [Float], shape: [3, 1])
        let b = Tensor([10, 20] as [Float])
        XCTAssertEqual((a + b).toFloatArray(), [11, 21, 12, 22, 13, 23])
        XCTAssertEqual((a * b).shape, [3, 2])
        XCTAssertEqual((b - 1).toFloatArray(), [9, 19])
        XCTAssertEqual((1 / b).toFloatArray(), [0.1, 0.05])
        XCTAssertEqual((2 * a.mT).toFloatArray(), [2, 4, 6])
        // Operands in half precision and strided views compute in float32.
        let h = Tensor([1.5, -2] as [Float]).to(.bfloat16)
        XCTAssertEqual((h * h).toFloatArray(), [2.25, 4])
        XCTAssertEqual((h * h).dtype, .float32)
        // Large enough to split over the cores.
        let big = Tensor.uniform([1 << 20], generator: RandomGenerator(seed: 1))
        let s = (big + big).toFloatArray(), v = big.toFloatArray()
        XCTAssertTrue(zip(s, v).allSatisfy { $0 == 2 * $1 })
        // A few long rows are cut into pieces across the cores (offsets shifted per operand, incl. stride 0).
        let rowsT = Tensor.uniform([3, 100_003], generator: RandomGenerator(seed: 2))
        let col = Tensor([1, 2, 3] as [Float], shape: [3, 1])
        let vec = Tensor.uniform([100_003], generator: RandomGenerator(seed: 3))
        let sum3 = (rowsT * col + vec).toFloatArray(), rv = rowsT.toFloatArray(), vv = vec.toFloatArray()
        var badPieces = 0
        for r in 0..<3 { for j in 0..<100_003 where sum3[r * 100_003 + j] != rv[r * 100_003 + j] * Float(r + 1) + vv[j] { badPieces += 1 } }
        XCTAssertEqual(badPieces, 0)
        let masked = Tensor.where(rowsT.gt(0.5), rowsT, Tensor(scalar: -1)).toFloatArray()
        XCTAssertTrue(zip(masked, rv).allSatisfy { $1 > 0.5 ? $0 == $1 : $0 == -1 })
        let acc = Tensor.zeros([3, 100_003])
        acc.addInPlace(vec, alpha: 2)
        XCTAssertEqual(acc.toFloatArray()[2 * 100_003 + 99_999], 2 * vv[99_999])
        // where/maskedFill are NaN/inf safe.
        let m = x2(Tensor([1, 2, 3, 4] as [Float])).maskedFill(Tensor([true, false, false, true]), -.infinity)
        XCTAssertEqual(m.toFloatArray(), [-.infinity, 4, 6, -.infinity])
        XCTAssertEqual(softmax(Tensor([0, -.infinity] as [Float])).toFloatArray(), [1, 0])
    }
    private func x2(_ t: Tensor) -> Tensor { t * 2 }

    func testVectorisedActivationsMatchScalarFormulas() {
        var v = (0..<1007).map { Float($0) / 25 - 20 }    // -20 ..< 20.3, 62 full SIMD blocks + a tail
        v[500] = .nan
        let x = Tensor(v)
        let s = x.sigmoid().toFloatArray(), si = x.silu().toFloatArray()
        let sT = x.transpose(0, 0).expand([2, 1007]).mT.contiguous().mT.narrow(0, start: 0, length: 1).squeeze(0).silu().toFloatArray()
        for i in 0..<v.count where i != 500 {
            let sig = 1 / (1 + Foundation.exp(-Double(v[i])))
            XCTAssertEqual(Double(s[i]), sig, accuracy: 2e-7 * Swift.max(1, sig), "sigmoid(\(v[i]))")
            XCTAssertEqual(Double(si[i]), Double(v[i]) * sig, accuracy: 1e-6 * Swift.max(1, Swift.abs(Double(v[i]))), "silu(\(v[i]))")
            XCTAssertEqual(sT[i], si[i], "strided silu")
        }
        XCTAssertTrue(s[500].isNaN && si[500].isNaN, "NaN propagates")
    }

    func testComparisonsAndClamp() {
        let t = Tensor([1, -100, 3, -100])
        XCTAssertEqual(t.ne(-100).dtype, .bool)
        XCTAssertEqual(t.ne(-100).toIntArray(), [1, 0, 1, 0])
        XCTAssertEqual(t.eq(Tensor([1, 1, 3, 3])).toIntArray(), [1, 0, 1, 0])
        let f = Tensor([-2, 0.5, 3] as [Float])
        XCTAssertEqual(f.lt(0.5).toIntArray(), [1, 0, 0])
        XCTAssertEqual(f.le(0.5).toIntArray(), [1, 1, 0])
        XCTAssertEqual(f.gt(0.5).toIntArray(), [0, 0, 1])
        XCTAssertEqual(f.ge(0.5).toIntArray(), [0, 1, 1])
        XCTAssertEqual(t.ne(-100).to(.float32).sum().item(), 2)   // count of non-ignored targets
        let c = Tensor([-2, 0.5, 3] as [Float]).requiringGrad()
        let y = c.clamp(min: -1, max: 1)
        XCTAssertEqual(y.toFloatArray(), [-1, 0.5, 1])
        y.sum().backward()
        XCTAssertEqual(c.grad!.toFloatArray(), [0, 1, 0])
    }

    func testReductionValues() {
        let x = Tensor([1, 5, 3, 4, 2, 6] as [Float], shape: [2, 3])
        XCTAssertEqual(x.sum(dim: 0).toFloatArray(), [5, 7, 9])
        XCTAssertEqual(x.sum(dim: 1, keepDim: true).shape, [2, 1])
        XCTAssertEqual(x.sum(dim: -1).toFloatArray(), [9, 12])
        XCTAssertEqual(x.mean().item(), 3.5)
        XCTAssertEqual(x.variance(dim: 1).toFloatArray(), [4, 4])
        XCTAssertEqual(x.variance(dim: 1, correction: 0).toFloatArray()[0], 8.0 / 3, accuracy: 1e-6)
        let (v, i) = x.max(dim: 1)
        XCTAssertEqual(v.toFloatArray(), [5, 6])
        XCTAssertEqual(i.toIntArray(), [1, 2])
        XCTAssertEqual(x.argmax(dim: 0).toIntArray(), [1, 0, 1])
        XCTAssertEqual(Tensor([1, 3, 3] as [Float]).argmax(dim: 0).item(), 1)   // first among ties
        XCTAssertTrue(Tensor([1, .nan, 3] as [Float]).max().item().isNaN)       // NaN propagates like torch
        XCTAssertEqual(x.max().item(), 6)
        // Long row: 8-lane accumulation stays accurate.
        let ones = Tensor.ones([1_000_003])
        XCTAssertEqual(ones.sum().item(), 1_000_003)
    }

    func testMatmulPathsIncludingHalfWeights() {
        let gen = RandomGenerator(seed: 3)
        let x = Tensor.randn([5, 1000], generator: gen)
        // 1100 output features × 1000 inputs: the tiled conversion (tileFloats = 2^20 per tile) needs 2 tiles
        // whichever direction it tiles.
        XCTAssertLessThan(tileFloats, 1100 * 1000)
        let w = Tensor.randn([1100, 1000], generator: gen)
        let ref = x.matmul(w.mT).toFloatArray()
        for dt in [DType.bfloat16, .float16] {
            let wh = w.to(dt)
            let wf = wh.to(.float32)
            let expect = x.matmul(wf.mT).toFloatArray()
            // Tiling changes sgemm's summation order over K = 1000 terms of size ~1 (sum of |terms| ~800),
            // so results may differ by ~1e-4 absolute; anything structural (wrong tile, wrong row) is O(1).
            assertTorchClose(linear(x, weight: wh).toFloatArray(), expect, tol: 2e-4, "linear with \(dt) weight")
            assertTorchClose(x.matmul(wf.mT.contiguous().to(dt)).toFloatArray(), expect, tol: 2e-4, "matmul with \(dt) [K,N] operand")
            assertTorchClose(x.to(dt).to(.float32).matmul(wf.mT).toFloatArray(),
                             x.to(dt).matmul(wf.mT).toFloatArray(), tol: 2e-4, "\(dt) left operand")
            _ = ref
        }
        // Half-precision left operand with more rows than one tile holds (row tiles of A).
        let small = Tensor.randn([1000, 3], generator: gen)
        assertTorchClose(wb16(w).matmul(small).toFloatArray(), wb16(w).to(.float32).matmul(small).toFloatArray(),
                         tol: 2e-4, "bf16 [1100, 1000] left operand")
        // Frozen half weight: the gradient reaches x only.
        let xg = Tensor.randn([3, 1000], generator: gen).requiringGrad()
        let wb = w.to(.bfloat16)
        linear(xg, weight: wb).sum().backward()
        let expectGx = Tensor.ones([3, 1100]).matmul(wb.to(.float32)).toFloatArray()
        assertTorchClose(xg.grad!.toFloatArray(), expectGx, tol: 2e-4, "grad through bf16 weight")
        XCTAssertNil(wb.grad)
        // Strided (non-BLAS-layout) float32 operand goes through the tile path too.
        let a = Tensor.randn([4, 6, 2], generator: gen)
        let aS = a.slice(1, 0, nil, step: 2).reshape([4, 3, 2])
        let bmat = Tensor.randn([3, 5], generator: gen)
        assertTorchClose(a.slice(2, 0, 1).squeeze(2).matmul(Tensor.randn([6, 2], generator: RandomGenerator(seed: 9))).toFloatArray(),
                         a.slice(2, 0, 1).squeeze(2).contiguous().matmul(Tensor.randn([6, 2], generator: RandomGenerator(seed: 9))).toFloatArray(),
                         "strided left operand")
        XCTAssertEqual(aS.mT.matmul(bmat.mT.mT).shape, [4, 2, 5])
    }

    private func wb16(_ t: Tensor) -> Tensor { t.to(.bfloat16) }

    func testIndexingAndJoining() throws {
        let w = Tensor((0..<12).map { Float($0) }, shape: [4, 3])
        XCTAssertEqual(try embedding(Tensor([3, 0], shape: [1, 2]), weight: w).toFloatArray(), [9, 10, 11, 0, 1, 2])
        XCTAssertEqual(try embedding(Tensor([2], dtype: .int32), weight: w.to(.bfloat16)).toFloatArray(), [6, 7, 8])
        XCTAssertEqual(try w.indexSelect(dim: 1, index: Tensor([2, 0])).toFloatArray(), [2, 0, 5, 3, 8, 6, 11, 9])
        XCTAssertEqual(try w.gather(dim: 1, index: Tensor([2, 1, 0, 0], shape: [4, 1])).toFloatArray(), [2, 4, 6, 9])
        let c = Tensor.concat([Tensor([1, 2], dtype: .int32), Tensor([3], dtype: .int32)])
        XCTAssertEqual(c.dtype, .int32)
        XCTAssertEqual(c.toIntArray(), [1, 2, 3])
        XCTAssertEqual(Tensor.concat([w, w], dim: 1).shape, [4, 6])
        XCTAssertEqual(Tensor.concat([w.narrow(1, start: 0, length: 1), w.narrow(1, start: 2, length: 1)], dim: 1).toFloatArray(),
                       [0, 2, 3, 5, 6, 8, 9, 11])
        XCTAssertEqual(Tensor.stack([w, w]).shape, [2, 4, 3])
        let parts = w.split(size: 3, dim: 0)
        XCTAssertEqual(parts.map { $0.shape }, [[3, 3], [1, 3]])
        XCTAssertEqual(w.chunk(2, dim: 1).map { $0.shape[1] }, [2, 1])
        XCTAssertEqual(Tensor.where(Tensor([1, 0, 1], dtype: .uint8), Tensor([1, 2, 3] as [Float]), Tensor(scalar: -1)).toFloatArray(), [1, -1, 3])
    }

    func testBadDataThrowsClearErrors() {
        let w = Tensor.zeros([4, 3])
        XCTAssertThrowsError(try embedding(Tensor([4]), weight: w)) { e in
            XCTAssertTrue("\(e)".contains("index 4"), "\(e)")
        }
        XCTAssertThrowsError(try embedding(Tensor([-1]), weight: w))
        XCTAssertThrowsError(try w.indexSelect(dim: 0, index: Tensor([9])))
        XCTAssertThrowsError(try w.gather(dim: 1, index: Tensor([3], shape: [1, 1])))
        XCTAssertThrowsError(try crossEntropy(logits: w, targets: Tensor([0, 1, 3, 2]))) { e in
            XCTAssertTrue("\(e)".contains("target 3"), "\(e)")
        }
        XCTAssertNoThrow(try crossEntropy(logits: w, targets: Tensor([0, -100, 2, 1])))
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 64)
        defer { buf.deallocate() }
        let owner = NSObject()
        XCTAssertThrowsError(try Tensor(borrowing: buf, byteCount: 16, dtype: .float32, shape: [5], owner: owner))
        XCTAssertThrowsError(try Tensor(borrowing: buf, byteCount: 16, dtype: .float32, shape: [-1, 2], owner: owner))
        XCTAssertThrowsError(try Tensor(borrowing: buf, byteCount: 16, dtype: .int64, shape: [Int.max / 2, 4], owner: owner))
    }

    func testBorrowedStorageIsZeroCopyAndKeepsOwnerAlive() throws {
        final class Region { let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 16); deinit { p.deallocate() } }
        weak var weakRegion: Region?
        var t: Tensor?
        do {
            let region = Region()
            weakRegion = region
            let halves = region.p.assumingMemoryBound(to: UInt16.self)
            halves[0] = BFloat16(1.5).bitPattern; halves[1] = BFloat16(-2).bitPattern
            halves[2] = BFloat16(4).bitPattern; halves[3] = BFloat16(0.25).bitPattern
            t = try Tensor(borrowing: region.p, byteCount: 8, dtype: .bfloat16, shape: [2, 2], owner: region)
            halves[3] = BFloat16(8).bitPattern   // visible through the tensor: no copy was made
        }
        XCTAssertNotNil(weakRegion, "owner must live as long as the tensor")
        XCTAssertEqual(t!.toFloatArray(), [1.5, -2, 4, 8])
        let view = t!.mT
        t = nil
        XCTAssertNotNil(weakRegion, "views keep the owner alive")
        XCTAssertEqual(view.toFloatArray(), [1.5, 4, -2, 8])
        XCTAssertNotNil(view.storage.owner)
        // Misaligned float32 data is copied (aligned) rather than read through a misaligned pointer.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 12, alignment: 16)
        defer { raw.deallocate() }
        (raw + 1).storeBytes(of: Float(2.5).bitPattern, as: UInt32.self)
        (raw + 5).storeBytes(of: Float(-1).bitPattern, as: UInt32.self)
        let mis = try Tensor(borrowing: raw + 1, byteCount: 8, dtype: .float32, shape: [2], owner: NSObject())
        XCTAssertNil(mis.storage.owner)
        XCTAssertEqual(mis.toFloatArray(), [2.5, -1])
    }

    func testAutogradMechanics() {
        let w = Tensor([1, 2, 3] as [Float]).requiringGrad()
        XCTAssertTrue(w.isLeaf)
        let y = (w * w).sum()
        XCTAssertFalse(y.isLeaf)
        y.backward()
        XCTAssertEqual(w.grad!.toFloatArray(), [2, 4, 6])
        (w * 3).sum().backward()                      // accumulates
        XCTAssertEqual(w.grad!.toFloatArray(), [5, 7, 9])
        w.zeroGrad()
        XCTAssertNil(w.grad)
        // retainGraph allows a second pass over the same graph.
        let z = (w.exp() * w).sum()
        z.backward(retainGraph: true)
        let g1 = w.grad!.toFloatArray()
        z.backward()
        XCTAssertEqual(w.grad!.toFloatArray(), g1.map { 2 * $0 })
        // No recording under withNoGrad; detach cuts the graph.
        let n = withNoGrad { w * 2 }
        XCTAssertFalse(n.requiresGrad)
        XCTAssertFalse(w.detach().requiresGrad)
        XCTAssertTrue(w.detach().storage === w.storage)
        XCTAssertFalse(isGradEnabled == false)
        // A shared subexpression gets the sum of both gradients; a diamond graph runs each node once.
        w.zeroGrad()
        let h = w * 2
        ((h + h) * h).sum().backward()                // d/dw 2h² = 4h·2 = 16w
        XCTAssertEqual(w.grad!.toFloatArray(), [16, 32, 48])
        // Optimizer step in place.
        withNoGrad { w.addInPlace(w.grad!, alpha: -0.5) }
        XCTAssertEqual(w.toFloatArray(), [-7, -14, -21])
    }

    func testKVCacheAttentionMatchesFusedPath() {
        // Queries = the last 3 of 7 positions, GQA 4:2, right padding in batch 1: the KV-cache call must equal
        // the full-length output rows for those positions and the unfused reference; gradients are checked too.
        let q = randT([2, 7, 4, 8], seed: 70), k = randT([2, 7, 2, 8], seed: 71), v = randT([2, 7, 2, 8], seed: 72)
        let mask = Tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], shape: [2, 7])
        let full = scaledDotProductAttention(q: q, k: k, v: v, causal: true, attentionMask: mask).narrow(1, start: 4, length: 3)
        let cached = scaledDotProductAttention(q: q.narrow(1, start: 4, length: 3), k: k, v: v, causal: true, attentionMask: mask)
        XCTAssertEqual(cached.shape, [2, 3, 4, 8])
        assertTorchClose(cached.toFloatArray(), full.toFloatArray(), "cache path vs fused")
        let cachedRef = cachedAttention(q: q.narrow(1, start: 4, length: 3), k: k, v: v, causal: true, attentionMask: mask, scale: nil)
        assertTorchClose(cached.toFloatArray(), cachedRef.toFloatArray(), "fused cache path vs unfused reference")
        // The composite reference equals the fused path for equal lengths too.
        let ref = cachedAttention(q: q, k: k, v: v, causal: true, attentionMask: mask, scale: nil)
        assertTorchClose(ref.toFloatArray(), scaledDotProductAttention(q: q, k: k, v: v, attentionMask: mask).toFloatArray(),
                         "composite vs fused")
        gradCheck("cached attention", [randT([1, 2, 2, 4], seed: 73), randT([1, 5, 1, 4], seed: 74), randT([1, 5, 1, 4], seed: 75)]) {
            scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], causal: true)
        }
        gradCheck("unfused reference attention", [randT([1, 2, 2, 4], seed: 73), randT([1, 5, 1, 4], seed: 74), randT([1, 5, 1, 4], seed: 75)]) {
            cachedAttention(q: $0[0], k: $0[1], v: $0[2], causal: true, attentionMask: nil, scale: nil)
        }
        // A fully masked query row (left padding) yields zeros on both paths.
        let lp = Tensor([0, 0, 1, 1, 1, 1, 1], shape: [1, 7])
        let z = cachedAttention(q: q.narrow(0, start: 0, length: 1), k: k.narrow(0, start: 0, length: 1),
                                v: v.narrow(0, start: 0, length: 1), causal: true, attentionMask: lp, scale: nil)
        XCTAssertEqual(Array(z.toFloatArray().prefix(64)), [Float](repeating: 0, count: 64))
        let q1 = randT([1, 2, 2, 4], seed: 76).requiringGrad(), k1 = randT([1, 4, 2, 4], seed: 77).requiringGrad()
        scaledDotProductAttention(q: q1, k: k1, v: k1, causal: true, attentionMask: Tensor([0, 0, 0, 1], shape: [1, 4])).sum().backward()
        let gq = q1.grad!.toFloatArray()
        XCTAssertTrue(gq.allSatisfy { $0.isFinite }, "no NaN gradients from fully masked rows")
        XCTAssertEqual(Array(gq.prefix(8)), [Float](repeating: 0, count: 8), "fully masked query row gets zero gradient")
    }

    func testRawBytesRoundTrip() throws {
        let x = Tensor([1.5, -2, 3, 0.25] as [Float], shape: [2, 2]).to(.bfloat16)
        let bytes = x.mT.withUnsafeRawBytes { Array($0) }               // transposed view: copied contiguous
        XCTAssertEqual(bytes.count, 8)
        let y = try bytes.withUnsafeBytes { try Tensor(copying: $0, dtype: .bfloat16, shape: [2, 2]) }
        XCTAssertEqual(y.toFloatArray(), [1.5, 3, -2, 0.25])
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try Tensor(copying: $0, dtype: .float32, shape: [2, 2]) })
    }

    func testClipGradNorm() {
        let a = Tensor([1, 2] as [Float]).requiringGrad(), b = Tensor([3] as [Float]).requiringGrad()
        (a * Tensor([3, 4] as [Float])).sum().backward()          // grad a = [3, 4]
        (b * 12).sum().backward()                                  // grad b = [12]; joint norm 13
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 1), 13, accuracy: 1e-5)
        XCTAssertEqual(a.grad!.toFloatArray()[0], 3 / 13, accuracy: 1e-6)
        XCTAssertEqual(b.grad!.toFloatArray()[0], 12 / 13, accuracy: 1e-6)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)   // already small: unchanged
        XCTAssertEqual(b.grad!.toFloatArray()[0], 12 / 13, accuracy: 1e-6)
        XCTAssertEqual(a.byteCount, 8)
    }

    func testSavedActivationsAreFreedDuringBackward() {
        let x = Tensor.randn([64, 64], generator: RandomGenerator(seed: 5)).requiringGrad()
        weak var saved: TensorStorage?
        let loss: Tensor = {
            let h = x.tanh()                 // saved by tanh's and mul's backward closures
            saved = h.storage
            return (h * h).sum()
        }()
        XCTAssertNotNil(saved, "the graph holds the activation before backward")
        loss.backward()
        XCTAssertNil(saved, "backward() must release saved activations")
        XCTAssertNotNil(x.grad)
    }

    func testGraphWithoutBackwardIsFreed() {
        // Ops whose backward needs their own output (exp, tanh, sigmoid, sqrt, rsqrt, div, softmax,
        // log_softmax, attention) must not form output → node → closure → output cycles.
        let x = Tensor.randn([2, 3, 2, 4], generator: RandomGenerator(seed: 8)).requiringGrad()
        weak var w1: Tensor?, w2: Tensor?, w3: Tensor?, w4: Tensor?
        do {
            let a = x.exp(); w1 = a
            let b = softmax(a / x.tanh().sigmoid().sqrt().rsqrt()); w2 = b
            let c = logSoftmax(b); w3 = c
            let d = scaledDotProductAttention(q: c, k: x, v: x); w4 = d
            XCTAssertTrue(d.requiresGrad)
        }
        XCTAssertNil(w1); XCTAssertNil(w2); XCTAssertNil(w3); XCTAssertNil(w4)
    }

    func testDeepGraphDoesNotOverflowTheStack() {
        let x = Tensor([1] as [Float]).requiringGrad()
        var y = x
        for _ in 0..<20_000 { y = y * 1.0001 }
        y.sum().backward()
        XCTAssertEqual(x.grad!.item(), Foundation.pow(Float(1.0001), 20_000), accuracy: 1e-2)
    }

    func testRandomIsSeededAndDistributedRight() {
        let a = Tensor.randn([10_000], generator: RandomGenerator(seed: 42)).toFloatArray()
        let b = Tensor.randn([10_000], generator: RandomGenerator(seed: 42)).toFloatArray()
        XCTAssertEqual(a, b)
        let mean = a.reduce(0, +) / Float(a.count)
        let std = (a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(a.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.04)
        XCTAssertEqual(std, 1, accuracy: 0.03)
        let u = Tensor.uniform([10_000], low: -2, high: 3, generator: RandomGenerator(seed: 1)).toFloatArray()
        XCTAssertTrue(u.allSatisfy { $0 >= -2 && $0 < 3 })
        let k = Tensor.kaimingUniform([64, 100], generator: RandomGenerator(seed: 2)).toFloatArray()
        XCTAssertTrue(k.allSatisfy { Swift.abs($0) <= 0.1 })        // 1/√fan_in, torch nn.Linear default
        XCTAssertGreaterThan(k.map { Swift.abs($0) }.max()!, 0.09)
        let m = Tensor.dropoutMask([100_000], p: 0.25, generator: RandomGenerator(seed: 3)).toFloatArray()
        let dropped = Float(m.filter { $0 == 0 }.count) / Float(m.count)
        XCTAssertEqual(dropped, 0.25, accuracy: 0.01)
        XCTAssertTrue(m.allSatisfy { $0 == 0 || $0 == Float(1) / 0.75 })
        let x = Tensor.ones([10])
        XCTAssertTrue(dropout(x, p: 0.5, training: false, generator: RandomGenerator(seed: 1)) === x)
        // The byte mask keeps the same elements as the float mask and leaves the generator in the same
        // state (odd lengths take the tail draw).
        for n in [1, 2, 7, 1000, 1001] {
            let g1 = RandomGenerator(seed: 9), g2 = RandomGenerator(seed: 9)
            let floats = Tensor.dropoutMask([n], p: 0.3, generator: g1)
            let bytes = DropoutKeep(count: n, p: 0.3, generator: g2)
            XCTAssertEqual(bytes.floatMask([n]).toFloatArray().map(\.bitPattern), floats.toFloatArray().map(\.bitPattern), "n \(n)")
            XCTAssertEqual(g1.next(), g2.next(), "n \(n)")
        }
    }

    /// The training step shown in the report compiles and learns.
    func testTinyTrainingLoopLearns() throws {
        let gen = RandomGenerator(seed: 0)
        let vocab = 8, dim = 16
        let emb = Tensor.normal([vocab, dim], std: 0.1, generator: gen).requiringGrad()
        let w1 = Tensor.kaimingUniform([32, dim], generator: gen).requiringGrad()
        let w2 = Tensor.kaimingUniform([vocab, 16], generator: gen).requiringGrad()
        let norm = Tensor.ones([dim]).requiringGrad()
        let params = [emb, w1, w2, norm]
        // Bigram task: next token = (token + 1) % vocab; -100 masks the last position.
        let tokens = Tensor((0..<32).map { $0 % vocab }, shape: [2, 16])
        let targets = Tensor((0..<32).map { $0 % 16 == 15 ? -100 : ($0 + 1) % vocab }, shape: [2, 16])
        var first: Float = 0, last: Float = 0
        for step in 0..<60 {
            let x = rmsNorm(try embedding(tokens, weight: emb), weight: norm)       // [2, 16, dim]
            let h = linear(x, weight: w1)                                           // [2, 16, 32]
            let logits = linear(siluMul(h.narrow(-1, start: 0, length: 16), h.narrow(-1, start: 16, length: 16)),
                                weight: w2)                                         // [2, 16, vocab]
            let loss = try crossEntropy(logits: logits, targets: targets)           // mean over non-ignored
            loss.backward()
            withNoGrad { for p in params { p.addInPlace(p.grad!, alpha: -0.5); p.zeroGrad() } }
            if step == 0 { first = loss.item() }
            last = loss.item()
        }
        XCTAssertLessThan(last, first * 0.2, "loss \(first) → \(last)")
    }
}
