import Foundation
import XCTest
@testable import Tensors

/// Large products are cut into blocks of rows or columns of C, one single-threaded sgemm each
/// (`GEMMSplit`); every transpose combination and a ragged last block must match a float64 reference.
/// Autograd's gradient hand-off (a fresh, unshared gradient becomes the leaf's `grad` without a copy; a
/// shared one is copied) must never let two leaves alias one buffer.
final class GEMMSplitTests: XCTestCase {
    func reference(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
            c[i * n + j] = Float(s)
        } }
        return c
    }

    func assertClose(_ x: [Float], _ y: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(x.count, y.count, what, file: file, line: line)
        var worst: Float = 0
        for (p, q) in zip(x, y) { worst = max(worst, abs(p - q) / max(1, abs(q))) }
        XCTAssertLessThan(worst, 1e-5, "\(what): max relative error \(worst)", file: file, line: line)
    }

    func testSplitProductsMatchReferenceForEveryLayout() {
        var rng = TestRNG(11)
        // m·n·k above the split threshold (2^21); 520 and 130 are not multiples of the 64-wide blocks.
        for (m, k, n) in [(520, 70, 130), (130, 70, 520), (200, 96, 200)] {
            XCTAssertGreaterThanOrEqual(m * n * k, 1 << 21)
            let a = rng.normals(m * k, scale: 1), b = rng.normals(k * n, scale: 1)
            let want = reference(a, b, m: m, k: k, n: n)
            let at = Tensor(a, shape: [m, k]), bt = Tensor(b, shape: [k, n])
            // Same values through transposed storage: A stored [K, M], B stored [N, K].
            let aT = at.transpose(0, 1).contiguous().transpose(0, 1)
            let bT = bt.transpose(0, 1).contiguous().transpose(0, 1)
            for (name, x, y) in [("NN", at, bt), ("TN", aT, bt), ("NT", at, bT), ("TT", aT, bT)] {
                assertClose(x.matmul(y).toFloatArray(), want, "\(name) \(m)x\(k)x\(n)")
            }
            // Batched rows folded into one GEMM.
            let a3 = at.reshape([2, m / 2, k])
            assertClose(a3.matmul(bT).toFloatArray(), want, "batched \(m)x\(k)x\(n)")
        }
    }

    func testAdoptedGradientsAreNotShared() {
        // y = x·W1ᵀ + x·W2ᵀ: the add node hands the same gradient object to both products; each leaf must
        // still own its grad, so accumulating into one cannot change the other.
        var rng = TestRNG(12)
        let x = Tensor(rng.normals(6 * 4, scale: 1), shape: [6, 4]).requiringGrad()
        let w1 = Tensor(rng.normals(5 * 4, scale: 1), shape: [5, 4]).requiringGrad()
        let w2 = Tensor(rng.normals(5 * 4, scale: 1), shape: [5, 4]).requiringGrad()
        let seed = Tensor(rng.normals(6 * 5, scale: 1), shape: [6, 5])
        let seedBefore = seed.toFloatArray()
        (linear(x, weight: w1) + linear(x, weight: w2)).backward(gradient: seed)
        let g1 = w1.grad!.toFloatArray(), g2 = w2.grad!.toFloatArray()
        XCTAssertFalse(w1.grad!.storage === w2.grad!.storage)
        XCTAssertFalse(w1.grad!.storage === seed.storage)
        // dW = seedᵀ·x for both.
        let want = reference(seed.transpose(0, 1).contiguous().toFloatArray(), x.toFloatArray(), m: 5, k: 6, n: 4)
        assertClose(g1, want, "dW1"); assertClose(g2, want, "dW2")
        // A second backward accumulates in place into each leaf's own buffer.
        (linear(x, weight: w1) * 2).backward(gradient: seed)
        assertClose(w1.grad!.toFloatArray(), want.map { $0 * 3 }, "dW1 after two passes")
        assertClose(w2.grad!.toFloatArray(), want, "dW2 unchanged")
        XCTAssertEqual(seed.toFloatArray(), seedBefore, "the caller's gradient must not be written to")
        // Seeding a leaf directly copies the caller's tensor.
        let leaf = Tensor([1, 2, 3] as [Float], shape: [3]).requiringGrad()
        let s = Tensor([4, 5, 6] as [Float], shape: [3])
        leaf.backward(gradient: s)
        XCTAssertFalse(leaf.grad!.storage === s.storage)
        leaf.backward(gradient: s)
        XCTAssertEqual(s.toFloatArray(), [4, 5, 6])
        XCTAssertEqual(leaf.grad!.toFloatArray(), [8, 10, 12])
    }
}
