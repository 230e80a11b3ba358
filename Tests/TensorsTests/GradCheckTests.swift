import XCTest
@testable import Tensors

/// Finite-difference gradient checks (float32 central differences, see `gradCheck`) for every
/// differentiable op.
final class GradCheckTests: XCTestCase {
    func testArithmeticWithBroadcasting() {
        gradCheck("add", [randT([3, 4], seed: 1), randT([4], seed: 2)]) { $0[0] + $0[1] }
        gradCheck("sub", [randT([3, 1], seed: 3), randT([2, 1, 4], seed: 4)]) { $0[0] - $0[1] }
        gradCheck("mul", [randT([3, 4], seed: 5), randT([3, 1], seed: 6)]) { $0[0] * $0[1] }
        gradCheck("div", [randT([3, 4], seed: 7), randT([4], seed: 8, scale: 0.2, offset: 2)]) { $0[0] / $0[1] }
        gradCheck("neg+scalar", [randT([5], seed: 9)]) { -$0[0] * 3 + 1 - 2 / ($0[0] * $0[0] + 1) }
        gradCheck("maximum", [randT([6], seed: 10), randT([6], seed: 11, offset: 0.5)]) { $0[0].maximum($0[1]) }
    }

    func testUnaryOps() {
        let x = { randT([2, 5], seed: 12) }
        let pos = { randT([2, 5], seed: 13, scale: 0.3, offset: 1.5) }
        gradCheck("exp", [x()]) { $0[0].exp() }
        gradCheck("log", [pos()]) { $0[0].log() }
        gradCheck("sqrt", [pos()]) { $0[0].sqrt() }
        gradCheck("rsqrt", [pos()]) { $0[0].rsqrt() }
        gradCheck("pow", [pos()]) { $0[0].pow(2.5) }
        gradCheck("tanh", [x()]) { $0[0].tanh() }
        gradCheck("sigmoid", [x()]) { $0[0].sigmoid() }
        gradCheck("silu", [x()]) { $0[0].silu() }
        gradCheck("gelu", [x()]) { $0[0].gelu() }
        gradCheck("gelu_tanh", [x()]) { $0[0].gelu(approximate: "tanh") }
        // Keep relu/abs inputs away from the kink at 0 (|x| >= 0.1 > ε).
        let away = Tensor([-1.5, -0.7, -0.1, 0.1, 0.4, 2.0])
        gradCheck("relu", [away.detach().contiguous()]) { $0[0].relu() }
        gradCheck("abs", [Tensor([-1.5, -0.7, -0.1, 0.1, 0.4, 2.0])]) { $0[0].abs() }
    }

    func testReductions() {
        let x = { randT([3, 4, 5], seed: 14) }
        gradCheck("sum dim", [x()]) { $0[0].sum(dim: 1) }
        gradCheck("sum dims keep", [x()]) { $0[0].sum(dims: [0, 2], keepDim: true) }
        gradCheck("sum all", [x()]) { $0[0].sum() }
        gradCheck("mean", [x()]) { $0[0].mean(dim: -1) }
        gradCheck("mean all", [x()]) { $0[0].mean() }
        gradCheck("variance", [x()]) { $0[0].variance(dim: 2) }
        gradCheck("variance pop", [x()]) { $0[0].variance(dim: 0, correction: 0, keepDim: true) }
        gradCheck("max", [x()]) { $0[0].max(dim: 1).values }
    }

    func testMatmulVariants() {
        gradCheck("matmul 2d", [randT([3, 4], seed: 15), randT([4, 5], seed: 16)]) { $0[0].matmul($0[1]) }
        gradCheck("matmul transposed", [randT([4, 3], seed: 17), randT([5, 4], seed: 18)]) { $0[0].mT.matmul($0[1].mT) }
        gradCheck("bmm", [randT([2, 3, 4], seed: 19), randT([2, 4, 2], seed: 20)]) { $0[0].matmul($0[1]) }
        gradCheck("bmm broadcast", [randT([2, 1, 3, 4], seed: 21), randT([3, 4, 2], seed: 22)]) { $0[0].matmul($0[1]) }
        gradCheck("matvec", [randT([3, 4], seed: 23), randT([4], seed: 24)]) { $0[0].matmul($0[1]) }
        gradCheck("linear", [randT([2, 3, 4], seed: 25), randT([5, 4], seed: 26), randT([5], seed: 27)]) {
            linear($0[0], weight: $0[1], bias: $0[2])
        }
    }

    func testViews() {
        let x = { randT([2, 3, 4], seed: 28) }
        gradCheck("reshape", [x()]) { $0[0].reshape([4, -1]) * Tensor.arange(0, 6, dtype: .float32) }
        gradCheck("permute", [x()]) { $0[0].permute([2, 0, 1]).contiguous() }
        gradCheck("transpose+reshape(copy)", [x()]) { $0[0].transpose(0, 2).reshape([-1]) }
        gradCheck("narrow", [x()]) { $0[0].narrow(2, start: 1, length: 2) }
        gradCheck("slice step", [x()]) { $0[0].slice(2, 0, nil, step: 2) }
        gradCheck("expand", [randT([3, 1], seed: 29)]) { $0[0].expand([2, 3, 4]) }
        gradCheck("squeeze/unsqueeze", [randT([3, 1, 2], seed: 30)]) { $0[0].squeeze(1).unsqueeze(0).unsqueeze(-1) }
        gradCheck("concat", [randT([2, 3], seed: 31), randT([2, 1], seed: 32)]) { Tensor.concat([$0[0], $0[1]], dim: 1) }
        gradCheck("stack", [randT([2, 3], seed: 33), randT([2, 3], seed: 34)]) { Tensor.stack([$0[0], $0[1]], dim: 1) }
        gradCheck("split", [randT([5, 2], seed: 35)]) { t in
            let parts = t[0].split([2, 3], dim: 0)
            return parts[0].sum(dim: 0) * parts[1].sum(dim: 0)
        }
        // float16 storage quantises by ~1e-3, so probe with a larger step (the gradient is the identity).
        gradCheck("to float16", [randT([4], seed: 36)], eps: 0.25, atol: 1e-2, rtol: 3e-2) { $0[0].to(.float16) * 2 }
    }

    func testIndexing() throws {
        try gradCheck("embedding", [randT([6, 3], seed: 37)]) { try embedding(Tensor([1, 5, 1, 0], shape: [2, 2]), weight: $0[0]) }
        try gradCheck("indexSelect", [randT([3, 5], seed: 38)]) { try $0[0].indexSelect(dim: 1, index: Tensor([4, 0, 4])) }
        try gradCheck("gather", [randT([3, 4], seed: 39)]) { try $0[0].gather(dim: 1, index: Tensor([0, 3, 1, 1, 2, 2], shape: [3, 2])) }
        let mask = Tensor([true, false, true, false], shape: [1, 4])
        gradCheck("where", [randT([3, 4], seed: 40), randT([4], seed: 41)]) { Tensor.where(mask, $0[0], $0[1]) }
        gradCheck("maskedFill", [randT([3, 4], seed: 42)]) { $0[0].maskedFill(mask, -3) }
        let gen = RandomGenerator(seed: 7)
        let x = randT([50], seed: 43)
        let keep = Tensor.dropoutMask([50], p: 0.3, generator: gen)
        gradCheck("dropout(fixed mask)", [x]) { $0[0] * keep }
    }

    func testFusedOps() throws {
        gradCheck("softmax", [randT([3, 7], seed: 44)]) { softmax($0[0]) }
        gradCheck("softmax dim0", [randT([4, 3], seed: 45)]) { softmax($0[0], dim: 0) }
        gradCheck("logSoftmax", [randT([3, 7], seed: 46)]) { logSoftmax($0[0]) }
        try gradCheck("crossEntropy mean", [randT([5, 6], seed: 47)]) {
            try crossEntropy(logits: $0[0], targets: Tensor([1, -100, 5, 0, 2]))
        }
        try gradCheck("crossEntropy sum", [randT([5, 6], seed: 48)]) {
            try crossEntropy(logits: $0[0], targets: Tensor([1, -100, 5, 0, 2]), reduction: .sum)
        }
        try gradCheck("crossEntropy none", [randT([5, 6], seed: 49)]) {
            try crossEntropy(logits: $0[0], targets: Tensor([1, -100, 5, 0, 2]), reduction: .none)
        }
        gradCheck("rmsNorm", [randT([3, 8], seed: 50), randT([8], seed: 51, scale: 0.1, offset: 1)]) {
            rmsNorm($0[0], weight: $0[1], eps: 1e-6)
        }
        gradCheck("layerNorm", [randT([3, 8], seed: 52), randT([8], seed: 53, scale: 0.1, offset: 1), randT([8], seed: 54)]) {
            layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5)
        }
        gradCheck("siluMul", [randT([10], seed: 55), randT([10], seed: 56)]) { siluMul($0[0], $0[1]) }
        let tables = RopeTables(positionIds: Tensor([0, 1, 2, 0, 5, 9], shape: [2, 3]), headDim: 8, theta: 10000)
        gradCheck("rope", [randT([2, 3, 2, 8], seed: 57)]) { rope($0[0], tables) }
        gradCheck("sdpa causal gqa", [randT([1, 5, 4, 4], seed: 58), randT([1, 5, 2, 4], seed: 59), randT([1, 5, 2, 4], seed: 60)]) {
            scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], causal: true)
        }
        gradCheck("sdpa packed+mask", [randT([2, 5, 2, 4], seed: 61), randT([2, 5, 2, 4], seed: 62), randT([2, 5, 2, 4], seed: 63)]) {
            scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], causal: true,
                                      positionIds: Tensor([0, 1, 0, 1, 2, 0, 1, 2, 3, 4], shape: [2, 5]),
                                      attentionMask: Tensor([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], shape: [2, 5]))
        }
    }
}
