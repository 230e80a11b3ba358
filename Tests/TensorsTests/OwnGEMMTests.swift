import CBLAS
import CGEMM
import XCTest
@testable import Tensors

/// Our AVX-512 sgemm (CGEMM) against a float64 reference and OpenBLAS: every transpose combination,
/// alpha and beta, leading dimensions wider than the matrices, and shapes that leave partial micro-tiles
/// (m not a multiple of 8, n not of 48), several k blocks (k > 320) and several column blocks (n > 768).
final class OwnGEMMTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(stg_sgemm_available() != 0, "this CPU has no AVX-512: products go to OpenBLAS")
    }

    /// C = alpha·op(A)·op(B) + beta·C0 in float64, with |A|·|B| for a scale-aware bound.
    private func reference(ta: Bool, tb: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
                           b: [Float], ldb: Int, beta: Float, c0: [Float], ldc: Int) -> (value: [Double], scale: [Double]) {
        var out = [Double](repeating: 0, count: m * n), scale = out
        for i in 0..<m { for j in 0..<n {
            var s = 0.0, t = 0.0
            for p in 0..<k {
                let x = Double(ta ? a[p * lda + i] : a[i * lda + p]), y = Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                s += x * y; t += abs(x * y)
            }
            let prior = beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j])
            out[i * n + j] = Double(alpha) * s + prior
            scale[i * n + j] = abs(Double(alpha)) * t + abs(prior)
        } }
        return (out, scale)
    }

    func testMatchesFloat64ReferenceForEveryLayout() {
        var rng = TestRNG(21)
        let shapes = [(8, 48, 16), (37, 101, 77), (13, 50, 9), (64, 800, 700), (520, 96, 333), (9, 47, 5), (100, 300, 321)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1.5, 1), (-0.5, 0.25)] {
                    // Leading dimensions 3 wider than needed: the kernel must honour them.
                    let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 3, ldc = n + 3
                    let a = rng.normals((ta ? k : m) * lda), b = rng.normals((tb ? n : k) * ldb)
                    var c = rng.normals(m * ldc)
                    let c0 = c
                    let (want, scale) = reference(ta: ta, tb: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                                  b: b, ldb: ldb, beta: beta, c0: c0, ldc: ldc)
                    let rc = stg_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, lda, b, ldb, beta, &c, ldc)
                    XCTAssertEqual(rc, 0)
                    var worst = 0.0
                    for i in 0..<m { for j in 0..<n {
                        worst = max(worst, abs(Double(c[i * ldc + j]) - want[i * n + j]) / max(scale[i * n + j], 1e-30))
                    } }
                    XCTAssertLessThan(worst, 1e-6, "\(ta ? "T" : "N")\(tb ? "T" : "N") \(m)x\(n)x\(k) alpha \(alpha) beta \(beta)")
                    // The padding columns of C (ldc > n) are never written.
                    for i in 0..<m { for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j]) } }
                }
            }
        }
    }

    func testBetaZeroDoesNotReadC() {
        var rng = TestRNG(22)
        let m = 19, n = 100, k = 40
        let a = rng.normals(m * k), b = rng.normals(k * n)
        var c = [Float](repeating: .nan, count: m * n)
        XCTAssertEqual(stg_sgemm(0, 0, Int32(m), Int32(n), Int32(k), 1, a, k, b, n, 0, &c, n), 0)
        XCTAssertTrue(c.allSatisfy { $0.isFinite }, "beta = 0 must overwrite C, as BLAS does")
    }

    func testAgreesWithOpenBLAS() {
        // The decoder block's shapes: Linear forward (B = Wᵀ), dX (B = W), dW (A = Gᵀ).
        var rng = TestRNG(23)
        for (ta, tb, m, n, k) in [(false, true, 512, 576, 576), (false, false, 512, 288, 1536), (true, false, 192, 576, 512)] {
            let lda = ta ? m : k, ldb = tb ? k : n
            let a = rng.normals((ta ? k : m) * lda), b = rng.normals((tb ? n : k) * ldb)
            var ours = [Float](repeating: 0, count: m * n), blas = ours
            XCTAssertEqual(stg_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, lda, b, ldb, 0, &ours, n), 0)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        1, a, Int32(lda), b, Int32(ldb), 0, &blas, Int32(n))
            // Both round differently (other summation orders): bound the gap by the output's magnitude.
            let big = blas.map(abs).max()!
            var worst: Float = 0
            for (x, y) in zip(ours, blas) { worst = max(worst, abs(x - y) / big) }
            XCTAssertLessThan(worst, 1e-6, "\(m)x\(n)x\(k)")
        }
    }

    func testDeclinesWhatItCannotDo() {
        var c: [Float] = [7]
        // k = 0 is left to the BLAS (which scales C by beta).
        XCTAssertEqual(stg_sgemm(0, 0, 1, 1, 0, 1, [], 1, [], 1, 0, &c, 1), -1)
        XCTAssertEqual(c, [7])
    }

    func testTensorProductsMatchWithEitherKernel() {
        // The same Linear forward and backward through our kernel and through OpenBLAS.
        var rng = TestRNG(24)
        let x = rng.normals(130 * 200), w = rng.normals(150 * 200), g = rng.normals(130 * 150)
        func run() -> [[Float]] {
            let xt = Tensor(x, shape: [130, 200]).requiringGrad(), wt = Tensor(w, shape: [150, 200]).requiringGrad()
            let y = linear(xt, weight: wt)
            y.backward(gradient: Tensor(g, shape: [130, 150]))
            return [y.toFloatArray(), xt.grad!.toFloatArray(), wt.grad!.toFloatArray()]
        }
        let saved = OwnGEMM.enabled
        defer { OwnGEMM.enabled = saved }
        OwnGEMM.enabled = true
        let ours = run()
        OwnGEMM.enabled = false
        let blas = run()
        for (name, (p, q)) in zip(["y", "dx", "dW"], zip(ours, blas)) {
            var worst: Float = 0
            for (u, v) in zip(p, q) { worst = max(worst, abs(u - v) / max(1, abs(v))) }
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }
}
