import Foundation
import XCTest
@testable import Tensors

/// Forward outputs and input gradients against PyTorch float32 autograd (fixtures written by
/// scripts/gen_tensor_fixtures.py). Tolerance: see `assertTorchClose` (|a − b| <= 1e-5 · max(1, |b|)).
final class TorchParityTests: XCTestCase {
    nonisolated(unsafe) static var cases: [String: [String: Any]] = {
        let url = tensorFixturesURL().appendingPathComponent("ops.json")
        guard let data = try? Data(contentsOf: url),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
            fatalError("cannot read \(url.path); regenerate with scripts/gen_tensor_fixtures.py")
        }
        return obj
    }()

    struct Case {
        let raw: [String: Any]
        func tensor(_ name: String) -> Tensor {
            let d = raw[name] as! [String: Any]
            let shape = (d["shape"] as! [NSNumber]).map { $0.intValue }
            let data = d["data"] as! [NSNumber]
            if (d["dtype"] as! String) == "int64" { return Tensor(data.map { $0.intValue }, shape: shape) }
            return Tensor(data.map { $0.floatValue }, shape: shape)
        }
        func floats(_ name: String) -> [Float] { ((raw[name] as! [String: Any])["data"] as! [NSNumber]).map { $0.floatValue } }
        func shape(_ name: String) -> [Int] { ((raw[name] as! [String: Any])["shape"] as! [NSNumber]).map { $0.intValue } }
    }

    /// Runs case `name`: makes leaves of `diff` inputs, applies `f`, checks y and each d<input>.
    func check(_ name: String, diff: [String], tol: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line,
               _ f: (Case, [String: Tensor]) throws -> Tensor) rethrows {
        guard let raw = Self.cases[name] else { XCTFail("fixture case \(name) missing", file: file, line: line); return }
        let c = Case(raw: raw)
        var ins: [String: Tensor] = [:]
        for k in diff { ins[k] = c.tensor(k).requiringGrad() }
        let y = try f(c, ins)
        assertTorchClose(y, c.floats("y"), shape: c.shape("y"), tol: tol, "\(name) forward", file: file, line: line)
        y.backward(gradient: c.tensor("gy"))
        for k in diff {
            guard let g = ins[k]!.grad else { XCTFail("\(name): no grad for \(k)", file: file, line: line); continue }
            assertTorchClose(g, c.floats("d" + k), shape: c.shape(k), tol: tol, "\(name) d\(k)", file: file, line: line)
        }
    }

    func testMatmul() {
        check("matmul", diff: ["a", "b"]) { _, t in t["a"]!.matmul(t["b"]!) }
        check("bmm", diff: ["a", "b"]) { _, t in t["a"]!.matmul(t["b"]!) }
        check("bmm_broadcast", diff: ["a", "b"]) { _, t in t["a"]!.matmul(t["b"]!) }
        check("linear", diff: ["x", "w", "bias"]) { _, t in linear(t["x"]!, weight: t["w"]!, bias: t["bias"]!) }
    }

    func testSoftmaxLogSoftmax() {
        check("softmax", diff: ["x"]) { _, t in softmax(t["x"]!) }
        check("softmax_dim1", diff: ["x"]) { _, t in softmax(t["x"]!, dim: 1) }
        check("log_softmax", diff: ["x"]) { _, t in logSoftmax(t["x"]!) }
    }

    func testCrossEntropy() throws {
        try check("cross_entropy_mean", diff: ["logits"]) { c, t in
            try crossEntropy(logits: t["logits"]!, targets: c.tensor("targets"))
        }
        try check("cross_entropy_sum", diff: ["logits"]) { c, t in
            try crossEntropy(logits: t["logits"]!, targets: c.tensor("targets"), reduction: .sum)
        }
    }

    func testNorms() {
        check("rmsnorm", diff: ["x", "w"]) { _, t in rmsNorm(t["x"]!, weight: t["w"]!, eps: 1e-6) }
        check("layernorm", diff: ["x", "w", "b"]) { _, t in layerNorm(t["x"]!, weight: t["w"]!, bias: t["b"]!, eps: 1e-5) }
    }

    func testSiluMul() {
        check("silu_mul", diff: ["gate", "up"]) { _, t in siluMul(t["gate"]!, t["up"]!) }
        // The unfused spelling must agree too.
        check("silu_mul", diff: ["gate", "up"]) { _, t in silu(t["gate"]!) * t["up"]! }
    }

    func testRope() {
        check("rope", diff: ["x"]) { c, t in
            rope(t["x"]!, RopeTables(positionIds: c.tensor("position_ids"), headDim: 16, theta: 10000))
        }
    }

    func testAttention() {
        check("attention_causal", diff: ["q", "k", "v"]) { _, t in
            scaledDotProductAttention(q: t["q"]!, k: t["k"]!, v: t["v"]!, causal: true)
        }
        check("attention_noncausal", diff: ["q", "k", "v"]) { _, t in
            scaledDotProductAttention(q: t["q"]!, k: t["k"]!, v: t["v"]!, causal: false)
        }
        check("attention_gqa", diff: ["q", "k", "v"]) { _, t in
            scaledDotProductAttention(q: t["q"]!, k: t["k"]!, v: t["v"]!, causal: true)
        }
        check("attention_padding", diff: ["q", "k", "v"]) { c, t in
            scaledDotProductAttention(q: t["q"]!, k: t["k"]!, v: t["v"]!, causal: true, attentionMask: c.tensor("attention_mask"))
        }
        check("attention_packed", diff: ["q", "k", "v"]) { c, t in
            scaledDotProductAttention(q: t["q"]!, k: t["k"]!, v: t["v"]!, causal: true, positionIds: c.tensor("position_ids"))
        }
    }

    func testEmbedding() throws {
        try check("embedding", diff: ["weight"]) { c, t in try embedding(c.tensor("ids"), weight: t["weight"]!) }
    }

    func testElementwiseAndReductions() {
        check("gelu", diff: ["x"]) { _, t in gelu(t["x"]!) }
        check("gelu_tanh", diff: ["x"]) { _, t in gelu(t["x"]!, approximate: "tanh") }
        check("broadcast_arith", diff: ["a", "b", "c"]) { _, t in
            let a = t["a"]!, b = t["b"]!, c = t["c"]!
            return (a * b - c) / (b.abs() + 1) + a.sigmoid() * c.tanh()
        }
        check("reductions", diff: ["x"]) { _, t in
            let x = t["x"]!
            return x.sum(dim: 1).mean() + x.variance(dim: 2).sum() + x.max(dim: 0).values.sum() + x.exp().log().mean()
        }
        check("sqrt_rsqrt_pow", diff: ["x"]) { _, t in
            let x = t["x"]!
            return x.sqrt() + x.rsqrt() * 0.5 + x.pow(1.5)
        }
    }
}
