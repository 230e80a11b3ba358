import Foundation
import XCTest
@testable import Tensors

/// Folder with this target's committed fixtures (copied as a resource bundle).
func tensorFixturesURL() -> URL {
    if let u = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
        return u.appendingPathComponent("tensors")
    }
    // Fallback: the source tree next to this file.
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tensors")
}

/// Parity tolerance used against PyTorch float32 results: |a − b| <= 1e-5 · max(1, |b|), i.e. 1e-5 relative
/// for values above 1 and 1e-5 absolute below (torch.allclose(rtol=1e-5, atol=1e-5) is within 2× of this).
/// Float32 ε is 1.19e-7, so this leaves ~80 ulps for the different summation orders of BLAS and fused kernels.
func assertTorchClose(_ a: [Float], _ b: [Float], tol: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): element count", file: file, line: line)
    guard a.count == b.count else { return }
    var worst = 0, worstErr: Float = 0
    var bad = 0
    for i in 0..<a.count {
        let limit = tol * Swift.max(1, Swift.abs(b[i]))
        let err = Swift.abs(a[i] - b[i])
        let ok = err <= limit || (a[i] == b[i]) || (a[i].isNaN && b[i].isNaN)
        if !ok { bad += 1; if !(err / limit <= worstErr) { worstErr = err / limit; worst = i } }
    }
    XCTAssertEqual(bad, 0, "\(what): \(bad)/\(a.count) elements off; worst at \(worst): got \(a[worst]), expected \(b[worst]) (err/limit \(worstErr))", file: file, line: line)
}

func assertTorchClose(_ t: Tensor, _ expected: [Float], shape: [Int]? = nil, tol: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    if let shape { XCTAssertEqual(t.shape, shape, "\(what): shape", file: file, line: line) }
    assertTorchClose(t.toFloatArray(), expected, tol: tol, what, file: file, line: line)
}

/// Central-difference gradient check in float32. The scalar probe is L = Σ f(x)·w with a fixed random w;
/// analytic ∂L/∂x from backward() is compared with (L(x+ε) − L(x−ε)) / 2ε on up to `samples` entries of
/// each input. With ε = 1e-2 on O(1) inputs the truncation error is ~ε²·|f'''|/6 ≈ 2e-5 and the f32 rounding
/// noise of L is ~1e-7·√n·|y| / 2ε, so |num − ana| <= atol + rtol·|ana| with atol 2e-3, rtol 1e-2 is tight
/// enough to catch any wrong formula (off by a factor, sign, transpose or a missing broadcast sum).
func gradCheck(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 1e-2,
               samples: Int = 12, file: StaticString = #filePath, line: UInt = #line,
               _ f: ([Tensor]) throws -> Tensor) rethrows {
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    let y = try f(inputs)
    let gen = RandomGenerator(seed: 99)
    let w = Tensor.uniform(y.shape, low: -1, high: 1, generator: gen)
    let wv = w.toFloatArray()
    func loss() throws -> Double {
        let out = try withNoGrad { try f(inputs) }.toFloatArray()
        var s = 0.0
        for i in 0..<out.count { s += Double(out[i]) * Double(wv[i]) }
        return s
    }
    (y * w).sum().backward()
    for (k, x) in inputs.enumerated() {
        XCTAssertTrue(x.dtype == .float32 && x.isContiguous, "\(name): gradCheck needs contiguous f32 inputs", file: file, line: line)
        guard let g = x.grad else { XCTFail("\(name): input \(k) got no gradient", file: file, line: line); continue }
        XCTAssertEqual(g.shape, x.shape, "\(name): grad shape of input \(k)", file: file, line: line)
        let ga = g.toFloatArray()
        let n = x.count
        let step = Swift.max(1, n / samples)
        var i = 0
        while i < n {
            let p = x.floatPointer + i
            let orig = p.pointee
            p.pointee = orig + eps
            let lp = try loss()
            p.pointee = orig - eps
            let lm = try loss()
            p.pointee = orig
            let num = Float((lp - lm) / Double(2 * eps))
            XCTAssertLessThanOrEqual(Swift.abs(num - ga[i]), atol + rtol * Swift.abs(ga[i]),
                                     "\(name): d/d input\(k)[\(i)]: analytic \(ga[i]) vs numeric \(num)", file: file, line: line)
            i += step
        }
    }
}

/// Random f32 leaf for tests.
func randT(_ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
    let t = Tensor.randn(shape, generator: RandomGenerator(seed: seed))
    return withNoGrad { (t * scale + offset) }.detach()
}
