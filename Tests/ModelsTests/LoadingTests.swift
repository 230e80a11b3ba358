import Foundation
import XCTest
@testable import Models
import ModelIO
import Tensors

/// Loading paths and their errors: GGUF name mapping and Q/K un-permutation (a tiny GGUF written
/// from the tiny-llama weights the way llama.cpp's converter writes them must give transformers'
/// logits), config validation, missing tensors and shape mismatches.
final class LoadingTests: XCTestCase {
    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("models-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    /// llama.cpp's `permute` (convert_hf_to_gguf.py): w.reshape(heads, 2, dim/heads/2, ...).swapaxes(1, 2).
    static func permute(_ w: [Float], rows: Int, cols: Int, heads: Int) -> [Float] {
        let half = rows / heads / 2
        var out = w
        for h in 0..<heads { for j in 0..<2 { for i in 0..<half {
            let from = (h * 2 * half + j * half + i) * cols, to = (h * half * 2 + i * 2 + j) * cols
            for c in 0..<cols { out[to + c] = w[from + c] }
        } } }
        return out
    }

    /// Writes tiny-llama as a GGUF (f32 tensors, llama.cpp names, permuted Q/K); `drop` omits a tensor.
    func writeTinyGGUF(architecture: String = "llama", drop: String? = nil) throws -> String {
        let hf = try CausalLM.load(path: Fixtures.folder("tiny-llama").path)
        let c = hf.config
        var w = GGUFWriter()
        try w.set("general.architecture", .string(architecture))
        try w.set("llama.block_count", .uint32(UInt32(c.numHiddenLayers)))
        try w.set("llama.context_length", .uint32(UInt32(c.maxPositionEmbeddings)))
        try w.set("llama.embedding_length", .uint32(UInt32(c.hiddenSize)))
        try w.set("llama.feed_forward_length", .uint32(UInt32(c.intermediateSize)))
        try w.set("llama.attention.head_count", .uint32(UInt32(c.numAttentionHeads)))
        try w.set("llama.attention.head_count_kv", .uint32(UInt32(c.numKeyValueHeads)))
        try w.set("llama.rope.freq_base", .float32(c.ropeTheta))
        try w.set("llama.attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps))
        try w.set("llama.vocab_size", .uint32(UInt32(c.vocabSize)))
        try w.set("llama.rope.dimension_count", .uint32(UInt32(c.headDim)))
        for (name, p) in hf.namedParameters() {
            let gg = CausalLM.ggufName(hf: name)
            if gg == drop { continue }
            var v = p.value.toFloatArray()
            let shape = p.value.shape
            if name.hasSuffix("q_proj.weight") { v = Self.permute(v, rows: shape[0], cols: shape[1], heads: c.numAttentionHeads) }
            if name.hasSuffix("k_proj.weight") { v = Self.permute(v, rows: shape[0], cols: shape[1], heads: c.numKeyValueHeads) }
            try w.addTensor(gg, shape: shape, floats: v)
        }
        let path = temp.appendingPathComponent("tiny.gguf").path
        try w.write(to: path)
        return path
    }

    func testTinyGGUFMatchesTransformers() throws {
        let model = try CausalLM.load(path: try writeTinyGGUF())
        XCTAssertFalse(model.config.tieWordEmbeddings)
        let ref = try Fixtures.tensors(Fixtures.folder("tiny-llama").appendingPathComponent("reference.safetensors"))
        let logits = try withNoGrad { try model.forward(inputIds: ref["plain.input_ids"]!) }
        XCTAssertLessThan(maxAbsDiff(logits.toFloatArray(), ref["plain.logits"]!.toFloatArray()), 1e-4)
    }

    func testGGUFErrors() throws {
        XCTAssertThrowsError(try CausalLM.load(path: try writeTinyGGUF(drop: "blk.1.ffn_up.weight"))) { e in
            XCTAssertEqual("\(e)".contains("model.layers.1.mlp.up_proj.weight"), true, "\(e)")
            XCTAssertEqual("\(e)".contains("blk.1.ffn_up.weight"), true, "\(e)")
        }
        try FileManager.default.removeItem(atPath: temp.appendingPathComponent("tiny.gguf").path)
        XCTAssertThrowsError(try CausalLM.load(path: try writeTinyGGUF(architecture: "gpt2"))) { e in
            guard case ModelError.unsupportedArchitecture = e else { return XCTFail("\(e)") }
        }
    }

    /// A copy of tiny-llama with config.json edited by `edit`.
    func folder(editing edit: (inout [String: Any]) -> Void) throws -> String {
        let src = Fixtures.folder("tiny-llama"), dst = temp.appendingPathComponent("m")
        try FileManager.default.createDirectory(at: dst, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: src.appendingPathComponent("model.safetensors"), to: dst.appendingPathComponent("model.safetensors"))
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&cfg)
        try JSONSerialization.data(withJSONObject: cfg).write(to: dst.appendingPathComponent("config.json"))
        return dst.path
    }

    func testFolderErrors() throws {
        XCTAssertThrowsError(try CausalLM.load(path: try folder { $0["num_hidden_layers"] = 3 })) { e in
            XCTAssertEqual(e as? ModelError, .missingTensor(name: "model.layers.2.self_attn.q_proj.weight", file: temp.appendingPathComponent("m").path))
        }
        try FileManager.default.removeItem(at: temp.appendingPathComponent("m"))
        XCTAssertThrowsError(try CausalLM.load(path: try folder { $0["intermediate_size"] = 48 })) { e in
            XCTAssertEqual(e as? ModelError, .shapeMismatch(name: "model.layers.0.mlp.gate_proj.weight", expected: [48, 32], found: [64, 32],
                                                            file: temp.appendingPathComponent("m").path))
        }
        try FileManager.default.removeItem(at: temp.appendingPathComponent("m"))
        XCTAssertThrowsError(try CausalLM.load(path: try folder { $0["model_type"] = "gpt2" })) { e in
            guard case ModelError.unsupportedArchitecture = e else { return XCTFail("\(e)") }
        }
        try FileManager.default.removeItem(at: temp.appendingPathComponent("m"))
        XCTAssertThrowsError(try CausalLM.load(path: try folder { $0["num_key_value_heads"] = 3 })) { e in
            guard case ModelError.invalidConfig(let field, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(field, "num_key_value_heads")
        }
        try FileManager.default.removeItem(at: temp.appendingPathComponent("m"))
        XCTAssertThrowsError(try CausalLM.load(path: try folder { $0.removeValue(forKey: "hidden_size") })) { e in
            guard case ModelError.invalidConfig(let field, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(field, "hidden_size")
        }
        XCTAssertThrowsError(try CausalLM.load(path: temp.appendingPathComponent("nope").path))
    }

    func testHalfPrecisionWeightsStayFrozen() throws {
        let model = try CausalLM.load(path: Fixtures.folder("tiny-llama").path, options: LoadOptions(dtype: .bfloat16))
        let q = model.model.layers[0].selfAttn.qProj!.weight.value
        XCTAssertEqual(q.dtype, .bfloat16)
        XCTAssertFalse(q.requiresGrad)
        let ref = try Fixtures.tensors(Fixtures.folder("tiny-llama").appendingPathComponent("reference.safetensors"))
        let logits = try withNoGrad { try model.forward(inputIds: ref["plain.input_ids"]!) }
        XCTAssertLessThan(maxAbsDiff(logits.toFloatArray(), ref["plain.logits"]!.toFloatArray()), 0.05)
    }

    func testLossSumAndCountForAccumulation() throws {
        let model = try CausalLM.load(path: Fixtures.folder("tiny-llama").path)
        let ref = try Fixtures.tensors(Fixtures.folder("tiny-llama").appendingPathComponent("reference.safetensors"))
        let ids = ref["padded.input_ids"]!, labels = ref["padded.labels"]!
        let logits = try model.forward(inputIds: ids, attentionMask: ref["padded.attention_mask"]!, positionIds: ref["padded.position_ids"]!)
        let (sum, count) = try model.lossSum(logits: logits, labels: labels)
        // Shifted labels: 11 targets per row, minus the 3 pad targets of row 0 (position 0 has none).
        XCTAssertEqual(count, 19)
        XCTAssertEqual(sum.item() / Float(count), ref["padded.loss"]!.item(), accuracy: 1e-5)
        XCTAssertEqual(try model.loss(logits: logits, labels: labels, numItemsInBatch: 40).item(), sum.item() / 40, accuracy: 1e-6)
        XCTAssertThrowsError(try model.loss(logits: logits, labels: Tensor([1, 2, 3])))
    }

    func testModuleTreeFreezeAndModes() throws {
        let model = try CausalLM.load(path: Fixtures.folder("tiny-qwen2").path)
        XCTAssertTrue(model.namedParameters().map(\.name).contains("model.layers.0.self_attn.q_proj.bias"))
        XCTAssertFalse(model.namedParameters().map(\.name).contains("model.layers.0.self_attn.o_proj.bias"))
        XCTAssertEqual(model.trainableParameters().count, model.namedParameters().count)
        model.freeze()
        XCTAssertEqual(model.trainableParameters().count, 0)
        model.model.layers[1].unfreeze()
        XCTAssertEqual(model.trainableParameters().map(\.name).allSatisfy { $0.hasPrefix("model.layers.1.") }, true)
        model.eval()
        XCTAssertFalse(model.model.layers[0].mlp.training)
        XCTAssertTrue(model.namedModules().map(\.name).contains("model.layers.1.self_attn.k_proj"))
    }
}
