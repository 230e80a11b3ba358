import Foundation
import XCTest
@testable import Models
import Tensors

/// Tiny random llama / llama-tied / qwen2 / phi3 models against transformers 5.24 (fixtures from
/// scripts/gen_llama_fixtures.py): logits within 1e-4 (non-pad positions), loss within 1e-5, every
/// parameter's gradient within 1e-4 relative (max abs error / max abs reference), for eager and
/// fused (sdpa) attention and for the plain, padded (left padding) and packed cases.
final class TinyParityTests: XCTestCase {
    static let models = ["tiny-llama", "tiny-llama-tied", "tiny-qwen2", "tiny-phi3"]
    static let cases = ["plain", "padded", "packed"]

    func check(_ name: String, _ impl: AttentionImplementation) throws {
        let folder = Fixtures.folder(name)
        let model = try CausalLM.load(path: folder.path, options: LoadOptions(attentionImplementation: impl))
        let ref = try Fixtures.tensors(folder.appendingPathComponent("reference.safetensors"))
        for c in Self.cases {
            let ids = ref["\(c).input_ids"]!, labels = ref["\(c).labels"]!
            let mask = ref["\(c).attention_mask"]!, pos = ref["\(c).position_ids"]!
            model.zeroGrad()
            // Packed rows carry no attention mask: position ids restarting at 0 separate the sequences.
            let logits = try model.forward(inputIds: ids, attentionMask: c == "packed" ? nil : mask, positionIds: pos)
            let want = ref["\(c).logits"]!
            XCTAssertEqual(logits.shape, want.shape)
            let keep = mask.toIntArray(), v = logits.shape[2]
            let got = logits.toFloatArray(), exp = want.toFloatArray()
            var worst: Float = 0
            for (i, k) in keep.enumerated() where k != 0 {
                worst = max(worst, maxAbsDiff(Array(got[(i * v)..<((i + 1) * v)]), Array(exp[(i * v)..<((i + 1) * v)])))
            }
            XCTAssertLessThan(worst, 1e-4, "\(name) \(impl) \(c): logits")
            let loss = try model.loss(logits: logits, labels: labels)
            XCTAssertEqual(loss.item(), ref["\(c).loss"]!.item(), accuracy: 1e-5, "\(name) \(impl) \(c): loss")
            loss.backward()
            var seen = 0
            for (pname, p) in model.namedParameters() {
                guard let g = ref["\(c).grad.\(pname)"] else { XCTFail("\(name): no reference gradient for \(pname)"); continue }
                guard let mine = p.value.grad else { XCTFail("\(name) \(c): no gradient for \(pname)"); continue }
                XCTAssertEqual(mine.shape, g.shape)
                let r = relativeDiff(mine.toFloatArray(), g.toFloatArray())
                XCTAssertLessThan(r, 1e-4, "\(name) \(impl) \(c): gradient of \(pname)")
                seen += 1
            }
            let refCount = ref.keys.filter { $0.hasPrefix("\(c).grad.") }.count
            XCTAssertEqual(seen, refCount, "\(name) \(c): parameter count differs from transformers' named_parameters()")
        }
    }

    func testEager() throws { for m in Self.models { try check(m, .eager) } }
    func testFused() throws { for m in Self.models { try check(m, .sdpa) } }

    func testParameterNamesMatchCheckpoint() throws {
        let model = try CausalLM.load(path: Fixtures.folder("tiny-phi3").path)
        let names = model.namedParameters().map(\.name)
        XCTAssertTrue(names.contains("model.layers.1.self_attn.qkv_proj.weight"))
        XCTAssertTrue(names.contains("model.layers.0.mlp.gate_up_proj.weight"))
        XCTAssertTrue(names.contains("lm_head.weight"))
        let tied = try CausalLM.load(path: Fixtures.folder("tiny-llama-tied").path)
        XCTAssertFalse(tied.namedParameters().map(\.name).contains("lm_head.weight"))
        XCTAssertEqual(tied.config.tieWordEmbeddings, true)
    }
}
