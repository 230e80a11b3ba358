import Foundation
import LoRA
import ModelIO
import Models
import Tensors
import XCTest

/// SwiftTune against PEFT 0.21.2 on the 11 fixture configurations (scripts/gen_lora_fixtures.py):
/// PEFT's adapter folder loaded by SwiftTune gives PEFT's logits and loss (1e-5 relative), gradients of
/// every trainable parameter (1e-4 relative), merged weights and merged logits (1e-5 relative), and
/// PEFT's parameter counts and print_trainable_parameters line (exact).
final class PeftParityTests: XCTestCase {
    func check(_ c: String) throws {
        let base = try Fixtures.loadBase(try Fixtures.baseName(ofCase: c))
        let model = try LoRA.loadAdapter(from: Fixtures.folder(c), into: base, isTrainable: true)
        let ref = try Fixtures.tensors(Fixtures.folder(c) + "/reference.safetensors")
        let counts = try Fixtures.counts(c)

        // Counts, the printed line and the trainable names.
        let (t, a) = model.parameterCounts()
        XCTAssertEqual(t, counts.trainable, "\(c): trainable")
        XCTAssertEqual(a, counts.all, "\(c): all")
        XCTAssertEqual(model.trainableParameterSummary(), counts.line, "\(c): summary line")
        XCTAssertEqual(Set(model.trainableParameters().map(\.name)), Set(counts.names), "\(c): trainable names")

        // Forward, loss, gradients.
        let ids = Tensor(ref["input_ids"]!.toFloatArray().map { Int($0) }, shape: ref["input_ids"]!.shape)
        model.train()
        let logits = try model.forward(inputIds: ids)
        assertRelClose(logits, ref["logits"]!, 1e-5, "\(c): logits")
        let loss = try model.base.loss(logits: logits, labels: ids)
        XCTAssertEqual(loss.item(), ref["loss"]!.item(), accuracy: 1e-5 * max(1, abs(ref["loss"]!.item())), "\(c): loss")
        loss.backward()
        var gradCount = 0
        for (name, p) in model.trainableParameters() {
            guard let g = ref["grad." + name] else { XCTFail("\(c): no PEFT gradient for \(name)"); continue }
            guard let mine = p.value.grad else { XCTFail("\(c): no gradient for \(name)"); continue }
            assertRelClose(mine, g, 1e-4, "\(c): grad \(name)")
            gradCount += 1
        }
        XCTAssertEqual(gradCount, counts.names.count, "\(c): gradients compared")

        // merge_and_unload: the changed weights and the merged model's logits.
        let merged = try model.mergeAndUnload()
        let params = Dictionary(uniqueKeysWithValues: merged.namedParameters().map { ($0.name, $0.parameter.value) })
        var mergedCount = 0
        for (k, v) in ref where k.hasPrefix("merged.") {
            let name = String(k.dropFirst("merged.".count))
            guard let mine = params[name] else { XCTFail("\(c): merged model lacks \(name)"); continue }
            assertRelClose(mine, v, 1e-5, "\(c): merged \(name)")
            mergedCount += 1
        }
        XCTAssertGreaterThan(mergedCount, 0, "\(c): merged weights compared")
        XCTAssertTrue(merged.namedParameters().allSatisfy { !$0.name.contains("lora") }, "\(c): LoRA removed")
        let mergedLogits = try withNoGrad { try merged.forward(inputIds: ids) }
        assertRelClose(mergedLogits, ref["merged_logits"]!, 1e-5, "\(c): merged logits")
    }

    func testListQV() throws { try check("list-qv") }
    func testRegex() throws { try check("regex") }
    func testAllLinear() throws { try check("all-linear") }
    func testAllLinearTied() throws { try check("all-linear-tied") }
    func testDefaultTargets() throws { try check("default-targets") }
    func testModulesToSave() throws { try check("modules-to-save") }
    func testEmbedding() throws { try check("embedding") }
    func testRsLoRA() throws { try check("rslora") }
    func testDoRA() throws { try check("dora") }
    func testPatterns() throws { try check("patterns") }
    func testPhi3Fused() throws { try check("phi3-fused") }

    /// A fresh adapter made from the fixture's own config (as `get_peft_model` would) has PEFT's counts,
    /// the same module set and tensor shapes as PEFT's save, and (B = 0) leaves the logits unchanged.
    func testApplyMatchesPeftStructure() throws {
        for c in Fixtures.cases {
            let base = try Fixtures.loadBase(try Fixtures.baseName(ofCase: c))
            let ids = Tensor([5, 9, 17, 33, 64, 100], shape: [1, 6])
            let before = try withNoGrad { try base.forward(inputIds: ids) }
            var cfg = try LoraConfig.load(contentsOf: URL(fileURLWithPath: Fixtures.folder(c) + "/adapter_config.json"))
            cfg.inferenceMode = false
            let model = try LoRA.apply(config: cfg, to: base)
            let counts = try Fixtures.counts(c)
            XCTAssertEqual(model.trainableParameterSummary(), counts.line, "\(c): summary line")
            let after = try withNoGrad { try model.forward(inputIds: ids) }
            assertRelClose(after, before, 1e-5, "\(c): a fresh adapter (B = 0, embedding A = 0, DoRA m = ||W||) is a no-op")
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lora-apply-\(c)-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: tmp) }
            try model.save(to: tmp)
            let mine = try SafeTensorsFile(path: tmp + "/adapter_model.safetensors")
            let peft = try SafeTensorsFile(path: Fixtures.folder(c) + "/adapter_model.safetensors")
            XCTAssertEqual(Set(mine.names), Set(peft.names), "\(c): saved keys")
            for t in peft.tensors { XCTAssertEqual(mine.tensor(named: t.name)?.shape, t.shape, "\(c): shape of \(t.name)") }
        }
    }

    /// Adapter saved by SwiftTune and loaded back: identical tensors, identical logits; the config
    /// round-trips with PEFT's key set.
    func testSaveLoadRoundTrip() throws {
        for c in ["all-linear", "modules-to-save", "embedding", "dora", "patterns", "phi3-fused"] {
            let baseName = try Fixtures.baseName(ofCase: c)
            let m1 = try LoRA.loadAdapter(from: Fixtures.folder(c), into: try Fixtures.loadBase(baseName))
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lora-rt-\(c)-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: tmp) }
            try m1.save(to: tmp, baseModelNameOrPath: Fixtures.basePath(baseName))
            let a = try Fixtures.tensors(Fixtures.folder(c) + "/adapter_model.safetensors")
            let b = try Fixtures.tensors(tmp + "/adapter_model.safetensors")
            XCTAssertEqual(Set(a.keys), Set(b.keys), "\(c): keys")
            for (k, v) in a { XCTAssertEqual(b[k]?.toFloatArray(), v.toFloatArray(), "\(c): \(k) bit-identical") }
            let peftKeys = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.folder(c) + "/adapter_config.json"))) as! [String: Any]
            let myKeys = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp + "/adapter_config.json"))) as! [String: Any]
            XCTAssertEqual(Set(myKeys.keys), Set(peftKeys.keys), "\(c): adapter_config.json keys")
            XCTAssertEqual(myKeys["inference_mode"] as? Bool, true)
            XCTAssertEqual(myKeys["peft_type"] as? String, "LORA")
            let m2 = try LoRA.loadAdapter(from: tmp, into: try Fixtures.loadBase(baseName))
            let ids = Tensor([3, 7, 11, 50, 90], shape: [1, 5])
            let l1 = try withNoGrad { try m1.forward(inputIds: ids) }, l2 = try withNoGrad { try m2.forward(inputIds: ids) }
            XCTAssertEqual(l1.toFloatArray(), l2.toFloatArray(), "\(c): logits after round trip")
        }
    }
}
