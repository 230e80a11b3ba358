import XCTest
@testable import Models
import Quantization
import Tensors

/// `DecodeStep` (the one-sequence, one-token path) against the general tensor path it replaces:
/// the same logits to float32 rounding over several steps, with biases (Qwen2), a tied head, and an
/// attention mask that hides a cached token; and it stands aside where it does not apply.
final class DecodeStepTests: XCTestCase {
    func steps(_ model: CausalLM, fast: Bool, mask: [Int]?) throws -> [[Float]] {
        model.fastDecode = fast
        defer { model.fastDecode = true }
        let prompt = [5, 17, 99, 3, 42], next = [7, 64, 21, 8, 120, 11]
        return try withNoGrad {
            let cache = KVCache(config: model.config, batch: 1, capacity: prompt.count + next.count)
            var keys = mask ?? Array(repeating: 1, count: prompt.count)
            _ = try model.forward(inputIds: Tensor(prompt, shape: [1, prompt.count]),
                                  attentionMask: mask.map { Tensor($0, shape: [1, $0.count]) }, cache: cache, lastOnly: true)
            var out: [[Float]] = []
            for token in next {
                keys.append(1)
                out.append(try model.forward(inputIds: Tensor([token], shape: [1, 1]),
                                             attentionMask: mask == nil ? nil : Tensor(keys, shape: [1, keys.count]),
                                             cache: cache, lastOnly: true).toFloatArray())
            }
            return out
        }
    }

    func testMatchesGeneralPath() throws {
        for name in ["tiny-llama", "tiny-qwen2", "tiny-llama-tied"] {
            let model = try CausalLM.load(path: Fixtures.folder(name).path)
            XCTAssertNotNil(DecodeStep.plan(model), name)
            for mask in [nil, [1, 0, 1, 1, 1]] as [[Int]?] {
                let fast = try steps(model, fast: true, mask: mask), general = try steps(model, fast: false, mask: mask)
                for (i, (a, b)) in zip(fast, general).enumerated() {
                    XCTAssertLessThan(relativeDiff(a, b), 1e-5, "\(name) step \(i) mask \(String(describing: mask))")
                }
            }
        }
    }

    /// A masked-out cached token must change the result (the mask is not ignored).
    func testMaskIsApplied() throws {
        let model = try CausalLM.load(path: Fixtures.folder("tiny-llama").path)
        let open = try steps(model, fast: true, mask: nil), masked = try steps(model, fast: true, mask: [1, 0, 1, 1, 1])
        XCTAssertGreaterThan(maxAbsDiff(open[0], masked[0]), 1e-4)
    }

    final class Shift: LinearAdapter {
        func forward(_ x: Tensor, base: Tensor) -> Tensor { base + 1 }
    }

    /// Phi-3's fused projections and layers with adapters take the general path (the plan is nil),
    /// so an adapter's effect is never skipped.
    func testStandsAsideWhereItDoesNotApply() throws {
        XCTAssertNil(DecodeStep.plan(try CausalLM.load(path: Fixtures.folder("tiny-phi3").path)))
        let model = try CausalLM.load(path: Fixtures.folder("tiny-llama").path)
        model.model.layers[1].mlp.downProj.adapters = [("shift", Shift())]
        XCTAssertNil(DecodeStep.plan(model))
        let fast = try steps(model, fast: true, mask: nil), general = try steps(model, fast: false, mask: nil)
        XCTAssertEqual(fast, general)
    }
}

/// Weights kept in GGUF blocks never become trainable: their parameter is a NaN placeholder, and
/// `unfreeze()` would otherwise hand it to an optimizer.
final class QuantizedFreezeTests: XCTestCase {
    func testUnfreezeLeavesQuantizedWeightsFrozen() throws {
        let layer = Linear(32, 16)
        // Q8_0 blocks: scale 0.01 (f16 0x211F) and values 1...32.
        var bytes: [UInt8] = []
        for _ in 0..<16 { bytes += [0x1F, 0x21] + (1...32).map { UInt8($0) } }
        let q = try bytes.withUnsafeBytes { try QuantizedMatrix(type: .q8_0, rows: 16, cols: 32, bytes: $0) }
        try layer.setQuantizedWeight(q)
        XCTAssertTrue(QuantizedOps.isPlaceholder(layer.weight.value))
        layer.unfreeze()
        XCTAssertFalse(layer.weight.value.requiresGrad)
        XCTAssertTrue(layer.trainableParameters().isEmpty)
        let plain = Linear(32, 16)
        plain.unfreeze()
        XCTAssertEqual(plain.trainableParameters().map(\.name), ["weight"])
    }
}
