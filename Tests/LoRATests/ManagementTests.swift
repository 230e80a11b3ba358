import Foundation
import LoRA
import Models
import Tensors
import XCTest

/// Several adapters, switching, disabling, merge/unmerge (float32/float16/bfloat16), delete, unload,
/// bias modes and prepare_model_for_kbit_training. Expected counts are PEFT 0.21.2's printed lines.
final class ManagementTests: XCTestCase {
    func ids(_ ref: [String: Tensor]) -> Tensor {
        Tensor(ref["input_ids"]!.toFloatArray().map { Int($0) }, shape: ref["input_ids"]!.shape)
    }

    func testSeveralAdaptersSwitchDisableMergeDeleteUnload() throws {
        let refA = try Fixtures.tensors(Fixtures.folder("list-qv") + "/reference.safetensors")
        let refB = try Fixtures.tensors(Fixtures.folder("rslora") + "/reference.safetensors")
        let x = ids(refA)
        XCTAssertEqual(x.toFloatArray(), refB["input_ids"]!.toFloatArray(), "fixtures share input ids")
        let base = try Fixtures.loadBase("tiny-llama")
        let plain = try withNoGrad { try base.forward(inputIds: x) }
        let model = try LoRA.loadAdapter(from: Fixtures.folder("list-qv"), into: base)
        try model.loadAdapter(from: Fixtures.folder("rslora"), adapterName: "second")
        XCTAssertEqual(model.adapterNames, ["default", "second"])
        XCTAssertEqual(model.activeAdapter, "default")
        XCTAssertThrowsError(try model.loadAdapter(from: Fixtures.folder("rslora"), adapterName: "second"))

        func logits() throws -> Tensor { try withNoGrad { try model.forward(inputIds: x) } }
        assertRelClose(try logits(), refA["logits"]!, 1e-5, "default adapter")
        try model.activate("second")
        assertRelClose(try logits(), refB["logits"]!, 1e-5, "second adapter")
        XCTAssertThrowsError(try model.activate("nope"))

        // Disabled: the base model's output; enabled again afterwards.
        let off = try model.disableAdapter { try logits() }
        assertRelClose(off, plain, 0, "disable_adapter gives the base output")
        assertRelClose(try logits(), refB["logits"]!, 1e-5, "re-enabled")

        // Merge / unmerge.
        let q = base.model.layers[0].selfAttn.qProj!.weight
        let qBefore = q.value.toFloatArray()
        try model.mergeAdapter()
        assertRelClose(try logits(), refB["logits"]!, 1e-5, "merged second adapter")
        XCTAssertNotEqual(q.value.toFloatArray(), qBefore)
        model.unmergeAdapter()
        assertRelClose(q.value, Tensor(qBefore, shape: q.value.shape), 1e-6, "unmerge restores the base weight")
        assertRelClose(try logits(), refB["logits"]!, 1e-5, "unmerged")

        // Delete: the other adapter takes over.
        try model.deleteAdapter("second")
        XCTAssertEqual(model.adapterNames, ["default"])
        XCTAssertEqual(model.activeAdapter, "default")
        assertRelClose(try logits(), refA["logits"]!, 1e-5, "after deleting 'second'")
        XCTAssertThrowsError(try model.deleteAdapter("second"))

        // Unload: the plain base model, no LoRA parameters left.
        let unloaded = model.unload()
        XCTAssertFalse(unloaded.namedParameters().contains { $0.name.contains("lora") })
        let back = try withNoGrad { try unloaded.forward(inputIds: x) }
        // Not bit-exact: the merge/unmerge above rounded the q/k/v/o weights once each way.
        assertRelClose(back, plain, 1e-6, "unload restores the base model")
    }

    /// Only the active adapter trains (PEFT `set_adapter`): PEFT prints 896 then 4,288 trainable.
    func testTrainableFollowsActiveAdapter() throws {
        let model = try LoRA.apply(config: LoraConfig(r: 4, loraAlpha: 8, targetModules: .list(["q_proj", "v_proj"])),
                                   to: try Fixtures.loadBase("tiny-llama"))
        try model.addAdapter("second", config: LoraConfig(r: 2, loraAlpha: 8, targetModules: .list(["k_proj"]),
                                                          modulesToSave: ["lm_head"]))
        XCTAssertEqual(model.trainableParameterSummary(), "trainable params: 896 || all params: 31,968 || trainable%: 2.8028")
        model.setAdapter("second")
        XCTAssertEqual(model.trainableParameterSummary(), "trainable params: 4,288 || all params: 31,968 || trainable%: 13.4134")
    }

    /// bias = "all" / "lora_only" on qwen2 (q/k/v biases), PEFT's counts.
    func testBiasModes() throws {
        for (bias, line) in [("all", "trainable params: 1,024 || all params: 27,808 || trainable%: 3.6824"),
                             ("lora_only", "trainable params: 992 || all params: 27,808 || trainable%: 3.5673")] {
            var c = LoraConfig(r: 4, loraAlpha: 4)
            c.bias = bias
            let model = try LoRA.apply(config: c, to: try Fixtures.loadBase("tiny-qwen2"))
            XCTAssertEqual(model.trainableParameterSummary(), line, bias)
            // The trained biases travel with the adapter.
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lora-bias-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: tmp) }
            try model.save(to: tmp)
            let keys = try Fixtures.tensors(tmp + "/adapter_model.safetensors").keys
            XCTAssertTrue(keys.contains("base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias"), bias)
            XCTAssertEqual(keys.contains("base_model.model.model.layers.0.self_attn.k_proj.bias"), bias == "all", bias)
        }
    }

    /// Merging into half-precision bases: the weight stays in its dtype and equals PEFT's rule
    /// (delta rounded to the dtype, added, rounded); logits stay close to the float32 reference.
    func testMergeIntoHalfPrecision() throws {
        let ref = try Fixtures.tensors(Fixtures.folder("list-qv") + "/reference.safetensors")
        let x = ids(ref)
        for dt in [DType.float16, .bfloat16] {
            let base = try CausalLM.load(path: Fixtures.basePath("tiny-llama"), options: LoadOptions(dtype: dt))
            let q = base.model.layers[1].selfAttn.qProj!.weight
            let original = q.value
            XCTAssertEqual(original.dtype, dt)
            let model = try LoRA.loadAdapter(from: Fixtures.folder("list-qv"), into: base)
            let unmerged = try withNoGrad { try model.forward(inputIds: x) }
            let tol: Float = dt == .float16 ? 5e-3 : 3e-2
            assertRelClose(unmerged, ref["logits"]!, tol, "\(dt) base + f32 adapter")
            try model.mergeAdapter()
            XCTAssertEqual(q.value.dtype, dt, "merged weight keeps its dtype")
            // Expected: round(W + round(delta)) from the fixture's adapter.
            let st = try Fixtures.tensors(Fixtures.folder("list-qv") + "/adapter_model.safetensors")
            let a = st["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"]!
            let b = st["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"]!
            let delta = (b.matmul(a) * 2).to(dt).to(.float32)
            let expected = (original.to(.float32) + delta).to(dt).to(.float32)
            XCTAssertEqual(q.value.to(.float32).toFloatArray(), expected.toFloatArray(), "\(dt): PEFT's merge rounding")
            assertRelClose(try withNoGrad { try model.forward(inputIds: x) }, ref["logits"]!, tol, "\(dt) merged")
            model.unmergeAdapter()
            assertRelClose(q.value.to(.float32), original.to(.float32), dt == .float16 ? 2e-3 : 2e-2, "\(dt) unmerge")
        }
    }

    /// prepare_model_for_kbit_training: everything frozen, 16-bit parameters now float32 (same values).
    func testPrepareModelForKbitTraining() throws {
        let base = try CausalLM.load(path: Fixtures.basePath("tiny-llama"), options: LoadOptions(dtype: .bfloat16))
        let before = base.namedParameters().map { $0.parameter.value.to(.float32).toFloatArray() }
        XCTAssertTrue(LoRA.prepareModelForKbitTraining(base))
        XCTAssertTrue(base.namedParameters().allSatisfy { $0.parameter.value.dtype == .float32 && !$0.parameter.value.requiresGrad })
        XCTAssertEqual(base.namedParameters().map { $0.parameter.value.toFloatArray() }, before)

        let kept = try CausalLM.load(path: Fixtures.basePath("tiny-llama"), options: LoadOptions(dtype: .bfloat16))
        XCTAssertFalse(LoRA.prepareModelForKbitTraining(kept, useGradientCheckpointing: false, keepLinearWeights: true))
        for (n, p) in kept.namedParameters() {
            let isLinear = n.hasSuffix("proj.weight") || n == "lm_head.weight"
            XCTAssertEqual(p.value.dtype, isLinear ? .bfloat16 : .float32, n)
        }
    }

    /// Training through the adapter: an optimizer step on the trainable parameters lowers the loss and
    /// leaves the frozen base untouched.
    func testGradientStepTrainsOnlyAdapter() throws {
        let ref = try Fixtures.tensors(Fixtures.folder("dora") + "/reference.safetensors")
        let x = ids(ref)
        let model = try LoRA.loadAdapter(from: Fixtures.folder("dora"), into: try Fixtures.loadBase("tiny-llama"), isTrainable: true)
        let frozen = model.base.model.layers[0].mlp.downProj.weight.value.toFloatArray()
        model.train()
        let l0 = try model.loss(inputIds: x, labels: x)
        l0.backward()
        withNoGrad { for (_, p) in model.trainableParameters() { if let g = p.value.grad { p.value.addInPlace(g, alpha: -0.5) } } }
        let l1 = try model.loss(inputIds: x, labels: x)
        XCTAssertLessThan(l1.item(), l0.item())
        XCTAssertEqual(model.base.model.layers[0].mlp.downProj.weight.value.toFloatArray(), frozen)
    }
}

/// merge_adapter / unmerge_adapter on every fixture: merged logits equal PEFT's adapter logits, and
/// unmerging restores every base weight (DoRA through its cached factor).
final class MergeUnmergeTests: XCTestCase {
    func testMergeUnmergeEveryCase() throws {
        for c in Fixtures.cases {
            let ref = try Fixtures.tensors(Fixtures.folder(c) + "/reference.safetensors")
            let x = Tensor(ref["input_ids"]!.toFloatArray().map { Int($0) }, shape: ref["input_ids"]!.shape)
            let base = try Fixtures.loadBase(try Fixtures.baseName(ofCase: c))
            let model = try LoRA.loadAdapter(from: Fixtures.folder(c), into: base)
            let before = base.namedParameters().map { ($0.name, $0.parameter.value.toFloatArray()) }
            try model.mergeAdapter()
            assertRelClose(try withNoGrad { try model.forward(inputIds: x) }, ref["logits"]!, 1e-5, "\(c): merged")
            model.unmergeAdapter()
            for (i, (n, p)) in base.namedParameters().map({ ($0.name, $0.parameter.value) }).enumerated() {
                XCTAssertEqual(before[i].0, n)
                // (W + Δ) − Δ in float32: exact up to the rounding of W + Δ.
                assertRelClose(p, Tensor(before[i].1, shape: p.shape), 1e-5, "\(c): \(n) after unmerge")
            }
            assertRelClose(try withNoGrad { try model.forward(inputIds: x) }, ref["logits"]!, 1e-5, "\(c): unmerged")
            // disable_adapter on a merged model unmerges first.
            try model.mergeAdapter()
            let plain = try model.disableAdapter { try withNoGrad { try model.forward(inputIds: x) } }
            let fresh = try withNoGrad { try Fixtures.loadBase(try Fixtures.baseName(ofCase: c)).forward(inputIds: x) }
            assertRelClose(plain, fresh, 1e-6, "\(c): disabled after merge")
        }
    }

    /// lora_dropout acts on the adapter path in training mode only.
    func testDropoutOnlyInTraining() throws {
        var cfg = LoraConfig(r: 4, loraAlpha: 8, loraDropout: 0.5, targetModules: .list(["q_proj", "v_proj"]), initLoraWeights: .random)
        cfg.bias = "none"
        let model = try LoRA.apply(config: cfg, to: try Fixtures.loadBase("tiny-llama"))
        let x = Tensor([5, 9, 17, 33, 64, 100], shape: [1, 6])
        model.eval()
        let e1 = try withNoGrad { try model.forward(inputIds: x) }, e2 = try withNoGrad { try model.forward(inputIds: x) }
        assertRelClose(e1, e2, 0, "eval is deterministic")
        model.train()
        let t1 = try withNoGrad { try model.forward(inputIds: x) }
        XCTAssertGreaterThan(relDiff(t1, e1), 1e-5, "training mode drops adapter inputs")
        let plain = try model.disableAdapter { try withNoGrad { try model.forward(inputIds: x) } }
        assertRelClose(plain, try withNoGrad { try Fixtures.loadBase("tiny-llama").forward(inputIds: x) }, 0, "dropout never touches the base path")
    }
}
