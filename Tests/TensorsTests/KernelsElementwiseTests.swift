import Foundation
import XCTest
@testable import Tensors

/// Norms, RoPE, softmax, cross-entropy, SwiGLU and dtype conversion against torch fixtures
/// (tolerance: assertClose, |a - e| <= 1e-5 · (|e| + max|e|)), plus finite-difference checks of the backward kernels.
final class KernelsElementwiseTests: XCTestCase {
    func testRMSNorm() throws {
        for name in ["rmsnorm_small", "rmsnorm_576"] {
            let f = try KernelFixture.load(name)
            let rows = f.int("rows"), dim = f.int("dim")
            let x = try f.f32("x"), w = try f.f32("weight"), dy = try f.f32("dy")
            var y = [Float](repeating: 9, count: rows * dim), rstd = [Float](repeating: 9, count: rows)
            Kernels.rmsNormForward(x: x, weight: w, y: &y, rstd: &rstd, rows: rows, dim: dim, eps: f.float("eps"))
            assertClose(y, try f.f32("y"), "\(name) y")
            assertClose(rstd, try f.f32("rstd"), "\(name) rstd")
            var dx = [Float](repeating: 9, count: rows * dim)
            var dW = [Float](repeating: 0.5, count: dim)  // accumulates on top of 0.5
            Kernels.rmsNormBackward(x: x, weight: w, rstd: rstd, dy: dy, dx: &dx, dWeight: &dW, rows: rows, dim: dim)
            assertClose(dx, try f.f32("dx"), "\(name) dx")
            assertClose(dW.map { $0 - 0.5 }, try f.f32("dweight"), "\(name) dweight")
        }
    }

    func testLayerNorm() throws {
        for name in ["layernorm_affine", "layernorm_plain"] {
            let f = try KernelFixture.load(name)
            let rows = f.int("rows"), dim = f.int("dim"), affine = f.bool("affine")
            let x = try f.f32("x"), dy = try f.f32("dy")
            let w = affine ? try f.f32("weight") : [], b = affine ? try f.f32("bias") : []
            var y = [Float](repeating: 9, count: rows * dim)
            var mean = [Float](repeating: 9, count: rows), rstd = [Float](repeating: 9, count: rows)
            var dx = [Float](repeating: 9, count: rows * dim)
            var dW = [Float](repeating: 0, count: dim), dB = [Float](repeating: 0, count: dim)
            w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
                let wq = affine ? wp.baseAddress : nil, bq = affine ? bp.baseAddress : nil
                Kernels.layerNormForward(x: x, weight: wq, bias: bq, y: &y, mean: &mean, rstd: &rstd,
                                         rows: rows, dim: dim, eps: f.float("eps"))
                dW.withUnsafeMutableBufferPointer { dwp in dB.withUnsafeMutableBufferPointer { dbp in
                    Kernels.layerNormBackward(x: x, weight: wq, mean: mean, rstd: rstd, dy: dy, dx: &dx,
                                              dWeight: affine ? dwp.baseAddress : nil, dBias: affine ? dbp.baseAddress : nil,
                                              rows: rows, dim: dim)
                } }
            } }
            assertClose(y, try f.f32("y"), "\(name) y")
            assertClose(mean, try f.f32("mean"), "\(name) mean")
            assertClose(rstd, try f.f32("rstd"), "\(name) rstd")
            assertClose(dx, try f.f32("dx"), "\(name) dx")
            if affine {
                assertClose(dW, try f.f32("dweight"), "\(name) dweight")
                assertClose(dB, try f.f32("dbias"), "\(name) dbias")
            }
        }
    }

    func testRope() throws {
        for name in ["rope_packed", "rope_d64"] {
            let f = try KernelFixture.load(name)
            let tokens = f.int("tokens"), heads = f.int("heads"), D = f.int("headDim")
            var cos = [Float](repeating: 9, count: tokens * D), sin = [Float](repeating: 9, count: tokens * D)
            Kernels.ropeTables(positionIds: try f.i32("position_ids"), invFreq: try f.f32("inv_freq"), tokens: tokens,
                               headDim: D, cos: &cos, sin: &sin)
            // cos/sin of arguments up to ~1000 rad: libm vs torch's vectorised cos differ by an ulp of the argument's
            // reduction, hence the looser 1e-5 absolute here (|value| <= 1).
            assertClose(cos, try f.f32("cos"), rtol: 1e-5, "\(name) cos")
            assertClose(sin, try f.f32("sin"), rtol: 1e-5, "\(name) sin")
            let tc = try f.f32("cos"), ts = try f.f32("sin")
            var y = try f.f32("x")
            y.withUnsafeMutableBufferPointer { p in  // in place (x and y alias)
                Kernels.ropeForward(x: p.baseAddress!, cos: tc, sin: ts, y: p.baseAddress!, tokens: tokens, heads: heads, headDim: D)
            }
            assertClose(y, try f.f32("y"), "\(name) y")
            var dx = [Float](repeating: 9, count: y.count)
            Kernels.ropeBackward(dy: try f.f32("dy"), cos: tc, sin: ts, dx: &dx, tokens: tokens, heads: heads, headDim: D)
            assertClose(dx, try f.f32("dx"), "\(name) dx")
        }
    }

    func testSoftmaxAndLogSoftmax() throws {
        for name in ["softmax_37", "softmax_300"] {
            let f = try KernelFixture.load(name)
            let rows = f.int("rows"), dim = f.int("dim")
            let x = try f.f32("x")
            var y = [Float](repeating: 9, count: x.count), dx = [Float](repeating: 9, count: x.count)
            Kernels.softmaxForward(x: x, y: &y, rows: rows, dim: dim)
            assertClose(y, try f.f32("y"), "\(name) y")
            Kernels.softmaxBackward(y: y, dy: try f.f32("dy"), dx: &dx, rows: rows, dim: dim)
            assertClose(dx, try f.f32("dx"), "\(name) dx")
            var yl = [Float](repeating: 9, count: x.count)
            Kernels.logSoftmaxForward(x: x, y: &yl, rows: rows, dim: dim)
            assertClose(yl, try f.f32("y_log"), "\(name) y_log")
            Kernels.logSoftmaxBackward(y: yl, dy: try f.f32("dy_log"), dx: &dx, rows: rows, dim: dim)
            assertClose(dx, try f.f32("dx_log"), "\(name) dx_log")
        }
    }

    func testCrossEntropy() throws {
        for name in ["ce_300", "ce_4099"] {
            let f = try KernelFixture.load(name)
            let rows = f.int("rows"), vocab = f.int("vocab"), ignore = Int32(f.int("ignoreIndex"))
            let logits = try f.f32("logits"), targets = try f.i32("targets")
            var losses = [Float](repeating: 9, count: rows), lse = [Float](repeating: 9, count: rows)
            let (sum, count) = Kernels.crossEntropyForward(logits: logits, targets: targets, losses: &losses, lse: &lse,
                                                           rows: rows, vocab: vocab, ignoreIndex: ignore)
            assertClose(losses, try f.f32("losses"), "\(name) losses")
            XCTAssertEqual(count, targets.filter { $0 != ignore }.count)
            assertClose([Float(sum / Double(count))], try f.f32("mean_loss"), "\(name) mean")
            var d = [Float](repeating: 9, count: logits.count)
            Kernels.crossEntropyBackward(logits: logits, targets: targets, lse: lse, gradScale: 1 / Float(count),
                                         dLogits: &d, rows: rows, vocab: vocab, ignoreIndex: ignore)
            assertClose(d, try f.f32("dlogits"), "\(name) dlogits")
        }
    }

    func testCrossEntropyInvalidTargetIsReportedNotRead() {
        let logits: [Float] = [1, 2, 3, 4, 5, 6]
        let targets: [Int32] = [1, 7]
        var losses = [Float](repeating: 0, count: 2), lse = [Float](repeating: 0, count: 2)
        XCTAssertEqual(Kernels.firstInvalidTarget(targets, rows: 2, vocab: 3, ignoreIndex: -100), 1)
        XCTAssertNil(Kernels.firstInvalidTarget([0, -100], rows: 2, vocab: 3, ignoreIndex: -100))
        _ = Kernels.crossEntropyForward(logits: logits, targets: targets, losses: &losses, lse: &lse, rows: 2, vocab: 3,
                                        ignoreIndex: -100)
        XCTAssertTrue(losses[1].isNaN)
        XCTAssertEqual(losses[0], Float(log(exp(1.0) + exp(2.0) + exp(3.0)) - 2), accuracy: 1e-5)
    }

    func testSiluMul() throws {
        let f = try KernelFixture.load("silu_mul")
        let n = f.int("count")
        let g = try f.f32("gate"), u = try f.f32("up")
        var out = [Float](repeating: 9, count: n), dg = [Float](repeating: 9, count: n), du = [Float](repeating: 9, count: n)
        Kernels.siluMulForward(gate: g, up: u, out: &out, count: n)
        assertClose(out, try f.f32("out"), "silu out")
        Kernels.siluMulBackward(gate: g, up: u, dOut: try f.f32("dout"), dGate: &dg, dUp: &du, count: n)
        assertClose(dg, try f.f32("dgate"), "silu dgate")
        assertClose(du, try f.f32("dup"), "silu dup")
    }

    /// Bit-exact against torch's .to(float16/bfloat16) and back.
    func testConvertMatchesTorchBits() throws {
        let f = try KernelFixture.load("convert")
        let x = try f.f32("x"), n = x.count
        let eH = try f.u16("x_f16"), eB = try f.u16("x_bf16")
        var h = [Float16](repeating: 0, count: n), b = [BFloat16](repeating: BFloat16(bitPattern: 0), count: n)
        Kernels.convert(x, to: &h, count: n)
        Kernels.convert(x, to: &b, count: n)
        for i in 0..<n {
            XCTAssertEqual(h[i].bitPattern, eH[i], "f16 of \(x[i]) (bits \(String(x[i].bitPattern, radix: 16)))")
            XCTAssertEqual(b[i].bitPattern, eB[i], "bf16 of \(x[i])")
        }
        let hb = try f.u16("h_bits"), m = hb.count
        let hv = hb.map { Float16(bitPattern: $0) }, bv = hb.map { BFloat16(bitPattern: $0) }
        var hf = [Float](repeating: 9, count: m), bf = [Float](repeating: 9, count: m)
        Kernels.convert(hv, to: &hf, count: m)
        Kernels.convert(bv, to: &bf, count: m)
        let eHf = try f.f32("h_f32"), eBf = try f.f32("b_f32")
        for i in 0..<m {
            XCTAssertEqual(hf[i].bitPattern, eHf[i].bitPattern, "f32 of half bits \(hb[i])")
            XCTAssertEqual(bf[i].bitPattern, eBf[i].bitPattern, "f32 of bf16 bits \(hb[i])")
        }
    }

    /// Every half bit pattern widens exactly as the IEEE conversion of the standard library; NaNs keep their payload.
    func testHalfToFloatExhaustive() {
        let all = (0...UInt16.max).map { Float16(bitPattern: $0) }
        var out = [Float](repeating: 0, count: all.count)
        Kernels.convert(all, to: &out, count: all.count)
        for (i, h) in all.enumerated() where !h.isNaN {
            XCTAssertEqual(out[i].bitPattern, Float(h).bitPattern, "half bits \(i)")
        }
        XCTAssertEqual(out[0x7E01].bitPattern, 0x7FC0_2000)
        var back = [Float16](repeating: 0, count: out.count)
        Kernels.convert(out, to: &back, count: out.count)
        for i in 0..<all.count where !all[i].isNaN { XCTAssertEqual(back[i].bitPattern, UInt16(i)) }
    }

    // ---- finite differences (f32 forward, central differences, eps 1e-2 / 1e-3) ----

    func checkGradient(_ name: String, inputs: [Float], analytic: [Float], eps: Float = 1e-2, tol: Double = 2e-3,
                       loss: ([Float]) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        for i in 0..<inputs.count {
            var a = inputs, b = inputs
            a[i] += eps; b[i] -= eps
            let fd = (loss(a) - loss(b)) / Double(2 * eps)
            XCTAssertEqual(Double(analytic[i]), fd, accuracy: tol + 1e-2 * abs(fd), "\(name)[\(i)]", file: file, line: line)
        }
    }

    func testNormsFiniteDifferences() {
        var rng = TestRNG(7)
        let rows = 3, dim = 21
        let x = rng.normals(rows * dim, scale: 2), w = rng.normals(dim), bias = rng.normals(dim), dy = rng.normals(rows * dim)
        func dotDy(_ y: [Float]) -> Double { zip(y, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        func rms(_ x: [Float], _ w: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * dim), r = [Float](repeating: 0, count: rows)
            Kernels.rmsNormForward(x: x, weight: w, y: &y, rstd: &r, rows: rows, dim: dim, eps: 1e-6); return y
        }
        var r = [Float](repeating: 0, count: rows), y = [Float](repeating: 0, count: rows * dim)
        Kernels.rmsNormForward(x: x, weight: w, y: &y, rstd: &r, rows: rows, dim: dim, eps: 1e-6)
        var dx = [Float](repeating: 0, count: rows * dim), dW = [Float](repeating: 0, count: dim)
        Kernels.rmsNormBackward(x: x, weight: w, rstd: r, dy: dy, dx: &dx, dWeight: &dW, rows: rows, dim: dim)
        checkGradient("rms dx", inputs: x, analytic: dx) { dotDy(rms($0, w)) }
        checkGradient("rms dW", inputs: w, analytic: dW) { dotDy(rms(x, $0)) }

        func ln(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * dim), m = [Float](repeating: 0, count: rows), r = m
            Kernels.layerNormForward(x: x, weight: w, bias: b, y: &y, mean: &m, rstd: &r, rows: rows, dim: dim, eps: 1e-5)
            return y
        }
        var m = [Float](repeating: 0, count: rows)
        Kernels.layerNormForward(x: x, weight: w, bias: bias, y: &y, mean: &m, rstd: &r, rows: rows, dim: dim, eps: 1e-5)
        var dB = [Float](repeating: 0, count: dim)
        dW = [Float](repeating: 0, count: dim)
        dW.withUnsafeMutableBufferPointer { dwp in dB.withUnsafeMutableBufferPointer { dbp in
            Kernels.layerNormBackward(x: x, weight: w, mean: m, rstd: r, dy: dy, dx: &dx, dWeight: dwp.baseAddress,
                                      dBias: dbp.baseAddress, rows: rows, dim: dim)
        } }
        checkGradient("ln dx", inputs: x, analytic: dx) { dotDy(ln($0, w, bias)) }
        checkGradient("ln dW", inputs: w, analytic: dW) { dotDy(ln(x, $0, bias)) }
        checkGradient("ln dB", inputs: bias, analytic: dB) { dotDy(ln(x, w, $0)) }
    }

    func testSoftmaxCrossEntropySiluRopeFiniteDifferences() {
        var rng = TestRNG(11)
        let rows = 3, dim = 19
        let x = rng.normals(rows * dim, scale: 2), dy = rng.normals(rows * dim)
        func dotDy(_ y: [Float]) -> Double { zip(y, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        func sm(_ x: [Float], log: Bool) -> [Float] {
            var y = [Float](repeating: 0, count: x.count)
            if log { Kernels.logSoftmaxForward(x: x, y: &y, rows: rows, dim: dim) }
            else { Kernels.softmaxForward(x: x, y: &y, rows: rows, dim: dim) }
            return y
        }
        var dx = [Float](repeating: 0, count: x.count)
        Kernels.softmaxBackward(y: sm(x, log: false), dy: dy, dx: &dx, rows: rows, dim: dim)
        checkGradient("softmax", inputs: x, analytic: dx) { dotDy(sm($0, log: false)) }
        Kernels.logSoftmaxBackward(y: sm(x, log: true), dy: dy, dx: &dx, rows: rows, dim: dim)
        checkGradient("logsoftmax", inputs: x, analytic: dx) { dotDy(sm($0, log: true)) }

        let targets: [Int32] = [4, -100, 18]
        func ce(_ x: [Float]) -> Double {
            var l = [Float](repeating: 0, count: rows), z = l
            return Kernels.crossEntropyForward(logits: x, targets: targets, losses: &l, lse: &z, rows: rows, vocab: dim,
                                               ignoreIndex: -100).sum
        }
        var l = [Float](repeating: 0, count: rows), z = l
        _ = Kernels.crossEntropyForward(logits: x, targets: targets, losses: &l, lse: &z, rows: rows, vocab: dim, ignoreIndex: -100)
        Kernels.crossEntropyBackward(logits: x, targets: targets, lse: z, gradScale: 1, dLogits: &dx, rows: rows, vocab: dim,
                                     ignoreIndex: -100)
        checkGradient("cross-entropy", inputs: x, analytic: dx, loss: ce)

        let n = rows * dim, up = rng.normals(n)
        func silu(_ g: [Float], _ u: [Float]) -> [Float] {
            var o = [Float](repeating: 0, count: n); Kernels.siluMulForward(gate: g, up: u, out: &o, count: n); return o
        }
        var dg = [Float](repeating: 0, count: n), du = dg
        Kernels.siluMulBackward(gate: x, up: up, dOut: dy, dGate: &dg, dUp: &du, count: n)
        checkGradient("silu dgate", inputs: x, analytic: dg) { dotDy(silu($0, up)) }
        checkGradient("silu dup", inputs: up, analytic: du) { dotDy(silu(x, $0)) }

        // RoPE with distinct (non-HF) table halves, so the adjoint's use of both halves is exercised.
        let tokens = 3, heads = 1, D = 19 - 1
        let xs = Array(x[0..<(tokens * D)]), dys = Array(dy[0..<(tokens * D)])
        let c = rng.normals(tokens * D), s = rng.normals(tokens * D)
        func rope(_ x: [Float]) -> Double {
            var y = [Float](repeating: 0, count: x.count)
            Kernels.ropeForward(x: x, cos: c, sin: s, y: &y, tokens: tokens, heads: heads, headDim: D)
            return zip(y, dys).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var rdx = [Float](repeating: 0, count: xs.count)
        Kernels.ropeBackward(dy: dys, cos: c, sin: s, dx: &rdx, tokens: tokens, heads: heads, headDim: D)
        checkGradient("rope", inputs: xs, analytic: rdx, loss: rope)
    }
}
