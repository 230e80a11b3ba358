import Foundation
import LoRA
import ModelIO
import Models
import Tensors
import XCTest

/// LoraConfig defaults and JSON, target matching, and the errors for bad configs and bad adapters.
final class ConfigAndErrorTests: XCTestCase {
    func testDefaultsArePeftDefaults() throws {
        let c = LoraConfig()
        XCTAssertEqual(c.r, 8); XCTAssertEqual(c.loraAlpha, 8); XCTAssertEqual(c.loraDropout, 0)
        XCTAssertEqual(c.bias, "none"); XCTAssertNil(c.targetModules); XCTAssertNil(c.modulesToSave)
        XCTAssertFalse(c.useRslora); XCTAssertFalse(c.useDora); XCTAssertEqual(c.initLoraWeights, .default)
        XCTAssertEqual(c.scaling(r: 16, alpha: 8), 0.5)
        var rs = c; rs.useRslora = true
        XCTAssertEqual(rs.scaling(r: 16, alpha: 8), 2)
        // Missing keys take PEFT's defaults.
        let d = try JSONDecoder().decode(LoraConfig.self, from: Data(#"{"peft_type": "LORA", "target_modules": "all-linear"}"#.utf8))
        XCTAssertEqual(d.r, 8); XCTAssertEqual(d.targetModules, .allLinear)
    }

    func testReadsPeftConfigs() throws {
        let p = try LoraConfig.load(contentsOf: URL(fileURLWithPath: Fixtures.folder("patterns") + "/adapter_config.json"))
        XCTAssertEqual(p.r, 4); XCTAssertEqual(p.loraAlpha, 8)
        XCTAssertEqual(p.rankPattern, ["layers.1.self_attn.q_proj": 2]); XCTAssertEqual(p.alphaPattern, ["v_proj": 32])
        XCTAssertEqual(p.layersToTransform, [1])
        let rx = try LoraConfig.load(contentsOf: URL(fileURLWithPath: Fixtures.folder("regex") + "/adapter_config.json"))
        XCTAssertEqual(rx.targetModules, .regex(#".*layers\.1\.(self_attn\.(k|o)_proj|mlp\.up_proj)"#))
        let dora = try LoraConfig.load(contentsOf: URL(fileURLWithPath: Fixtures.folder("dora") + "/adapter_config.json"))
        XCTAssertTrue(dora.useDora)
        let m = try LoraConfig.load(contentsOf: URL(fileURLWithPath: Fixtures.folder("modules-to-save") + "/adapter_config.json"))
        XCTAssertEqual(Set(m.modulesToSave ?? []), ["lm_head", "norm"])
    }

    func testTargetMatching() throws {
        let base = try Fixtures.loadBase("tiny-llama")
        func targets(_ c: LoraConfig) throws -> [String] {
            let m = try LoRA.apply(config: c, to: try Fixtures.loadBase("tiny-llama"))
            return m.trainableParameters().map(\.name).filter { $0.hasSuffix("lora_A.default.weight") }
                .map { $0.replacingOccurrences(of: "base_model.model.", with: "").replacingOccurrences(of: ".lora_A.default.weight", with: "") }
        }
        _ = base
        // List: exact name or "."-suffix; "proj" is not a suffix match of "q_proj".
        XCTAssertEqual(try targets(LoraConfig(targetModules: .list(["o_proj"]))), ["model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.o_proj"])
        XCTAssertThrowsError(try targets(LoraConfig(targetModules: .list(["proj"])))) { e in
            XCTAssertTrue("\(e)".contains("Target modules {'proj'} not found in the base model"), "\(e)")
        }
        XCTAssertEqual(try targets(LoraConfig(targetModules: .list(["model.layers.1.mlp.up_proj"]))), ["model.layers.1.mlp.up_proj"])
        // Regex: full match only.
        XCTAssertEqual(try targets(LoraConfig(targetModules: .regex(#".*\.1\.mlp\.down_proj"#))), ["model.layers.1.mlp.down_proj"])
        XCTAssertThrowsError(try targets(LoraConfig(targetModules: .regex("down_proj"))))
        // layers_to_transform.
        var l = LoraConfig(targetModules: .list(["q_proj"])); l.layersToTransform = [0]
        XCTAssertEqual(try targets(l), ["model.layers.0.self_attn.q_proj"])
        // exclude_modules (list: exact or "."-suffix; string: full regex).
        var ex = LoraConfig(targetModules: .list(["q_proj"])); ex.excludeModules = .list(["model.layers.0.self_attn.q_proj"])
        XCTAssertEqual(try targets(ex), ["model.layers.1.self_attn.q_proj"])
        ex.excludeModules = .regex(#".*\.1\..*"#)
        XCTAssertEqual(try targets(ex), ["model.layers.0.self_attn.q_proj"])
        // all-linear excludes the head.
        XCTAssertEqual(try targets(LoraConfig(targetModules: .allLinear)).count, 14)
        // Default targets, and PEFT's error where the architecture has none (phi3).
        XCTAssertEqual(try targets(LoraConfig()).count, 4)
        XCTAssertThrowsError(try LoRA.apply(config: LoraConfig(), to: try Fixtures.loadBase("tiny-phi3"))) { e in
            XCTAssertTrue("\(e)".contains("Please specify `target_modules` in `peft_config`"), "\(e)")
        }
        // A matched module that is not Linear/Embedding.
        XCTAssertThrowsError(try targets(LoraConfig(targetModules: .list(["mlp"])))) { e in
            XCTAssertTrue("\(e)".contains("not supported"), "\(e)")
        }
    }

    func testWritesPeftJSON() throws {
        var c = LoraConfig(r: 16, loraAlpha: 32, loraDropout: 0.05, targetModules: .regex(".*q_proj"), initLoraWeights: .gaussian)
        c.alphaPattern = ["v_proj": 8]
        let o = try JSONSerialization.jsonObject(with: c.jsonData()) as! [String: Any]
        XCTAssertEqual(o["peft_type"] as? String, "LORA")
        XCTAssertEqual(o["task_type"] as? String, "CAUSAL_LM")
        XCTAssertEqual(o["init_lora_weights"] as? String, "gaussian")
        XCTAssertEqual(o["target_modules"] as? String, ".*q_proj")
        XCTAssertEqual(o["lora_alpha"] as? Int, 32)
        XCTAssertEqual(o["lora_dropout"] as? Double, 0.05)
        XCTAssertTrue(o["modules_to_save"] is NSNull)
        XCTAssertEqual(o["megatron_core"] as? String, "megatron.core")
        let back = try JSONDecoder().decode(LoraConfig.self, from: c.jsonData())
        XCTAssertEqual(back, c)
    }

    func testBadConfigValues() throws {
        var c = LoraConfig(targetModules: .list(["q_proj"])); c.bias = "some"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("'bias'")) }
        c = LoraConfig(r: 0)
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("'r'")) }
        XCTAssertThrowsError(try JSONDecoder().decode(LoraConfig.self, from: Data(#"{"peft_type": "IA3"}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("peft_type"))
        }
        XCTAssertThrowsError(try JSONDecoder().decode(LoraConfig.self, from: Data(#"{"r": "eight"}"#.utf8)))
    }

    /// Copies a fixture adapter, rewrites its tensors with `edit`, and returns the folder.
    func editedAdapter(_ c: String, _ edit: (inout [String: Tensor]) -> Void) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lora-bad-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.folder(c) + "/adapter_config.json", toPath: dir + "/adapter_config.json")
        var t = try Fixtures.tensors(Fixtures.folder(c) + "/adapter_model.safetensors")
        edit(&t)
        var w = SafeTensorsWriter()
        for (k, v) in t { try w.add(k, shape: v.shape, floats: v.toFloatArray()) }
        try w.write(to: dir + "/adapter_model.safetensors")
        return dir
    }

    func testBadAdaptersGiveClearErrors() throws {
        let qA = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
        let wrongShape = try editedAdapter("list-qv") { $0[qA] = Tensor.zeros([4, 31]) }
        XCTAssertThrowsError(try LoRA.loadAdapter(from: wrongShape, into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains(qA) && "\(e)".contains("[4, 31]") && "\(e)".contains("[4, 32]"), "\(e)")
        }
        let missing = try editedAdapter("list-qv") { $0[qA] = nil }
        XCTAssertThrowsError(try LoRA.loadAdapter(from: missing, into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("missing") && "\(e)".contains(qA), "\(e)")
        }
        let extra = try editedAdapter("list-qv") { $0["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = Tensor.zeros([4, 32]) }
        XCTAssertThrowsError(try LoRA.loadAdapter(from: extra, into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("unexpected tensor") && "\(e)".contains("layers.7"), "\(e)")
        }
        for d in [wrongShape, missing, extra] { try? FileManager.default.removeItem(atPath: d) }
        // A phi3 adapter on a llama base: o_proj/down_proj exist there, qkv_proj/gate_up_proj do not.
        XCTAssertThrowsError(try LoRA.loadAdapter(from: Fixtures.folder("phi3-fused"), into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("unexpected tensor") && "\(e)".contains("_proj"), "\(e)")
        }
        // An adapter whose targets exist nowhere in the base.
        let nowhere = try editedAdapter("list-qv") { _ in }
        defer { try? FileManager.default.removeItem(atPath: nowhere) }
        let cfgPath = nowhere + "/adapter_config.json"
        let text = try String(contentsOfFile: cfgPath, encoding: .utf8).replacingOccurrences(of: "\"q_proj\"", with: "\"query_key_value\"").replacingOccurrences(of: "\"v_proj\"", with: "\"dense\"")
        try text.write(toFile: cfgPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LoRA.loadAdapter(from: nowhere, into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("not found in the base model") && "\(e)".contains("different base model"), "\(e)")
        }
        // A llama adapter on the phi3 base.
        XCTAssertThrowsError(try LoRA.loadAdapter(from: Fixtures.folder("list-qv"), into: try Fixtures.loadBase("tiny-phi3")))
        // No folder at all.
        XCTAssertThrowsError(try LoRA.loadAdapter(from: "/nonexistent/adapter", into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("adapter_config.json"), "\(e)")
        }
        // A failed load leaves the model usable with its previous adapters.
        let model = try LoRA.loadAdapter(from: Fixtures.folder("list-qv"), into: try Fixtures.loadBase("tiny-llama"))
        let bad = try editedAdapter("rslora") { $0["base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight"] = Tensor.zeros([3, 16]) }
        defer { try? FileManager.default.removeItem(atPath: bad) }
        XCTAssertThrowsError(try model.loadAdapter(from: bad, adapterName: "bad"))
        XCTAssertEqual(model.adapterNames, ["default"])
    }

    /// PEFT's line for SmolLM2-135M with r = 8 all-linear, on the real GGUF.
    func testSmolLM2TrainableParameterLine() throws {
        let path = ProcessInfo.processInfo.environment["SWIFTTUNE_SMOLLM2_GGUF"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            if ProcessInfo.processInfo.environment["SWIFTTUNE_REQUIRE_MODEL"] != nil {
                XCTFail("SWIFTTUNE_REQUIRE_MODEL is set but \(path) is absent; run scripts/fetch-model.sh")
            } else {
                print("note: \(path) is absent; skipping the SmolLM2 trainable-parameter test (run scripts/fetch-model.sh)")
            }
            return
        }
        let model = try LoRA.apply(config: LoraConfig(r: 8, targetModules: .allLinear), to: try CausalLM.load(path: path))
        XCTAssertEqual(model.trainableParameterSummary(), "trainable params: 2,442,240 || all params: 136,957,248 || trainable%: 1.7832")
    }
}

final class AdapterInfoTests: XCTestCase {
    func testDescribesPeftFolder() throws {
        let info = try AdapterInfo(folder: Fixtures.folder("patterns"))
        XCTAssertEqual(info.tensors.count, 4)
        XCTAssertEqual(info.parameterCount, 2 * 32 + 32 * 2 + 4 * 32 + 16 * 4)
        XCTAssertEqual(info.adaptedModules, ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"])
        XCTAssertTrue(info.description.contains("rank_pattern: layers.1.self_attn.q_proj=2"), info.description)
        XCTAssertThrowsError(try AdapterInfo(folder: "/nonexistent"))
    }
}

final class HostileAdapterTests: XCTestCase {
    /// A config announcing an enormous rank is refused before anything that large is allocated.
    func testHugeRankIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lora-huge-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.folder("list-qv") + "/adapter_model.safetensors", toPath: dir + "/adapter_model.safetensors")
        let text = try String(contentsOfFile: Fixtures.folder("list-qv") + "/adapter_config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"r\": 4", with: "\"r\": 4000000000")
        try text.write(toFile: dir + "/adapter_config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LoRA.loadAdapter(from: dir, into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("r = 4000000000"), "\(e)")
        }
        // Truncated safetensors.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.folder("list-qv") + "/adapter_model.safetensors"))
        try bytes.prefix(100).write(to: URL(fileURLWithPath: dir + "/adapter_model.safetensors"))
        try FileManager.default.copyItem(atPath: Fixtures.folder("list-qv") + "/adapter_config.json", toPath: dir + "/c.json")
        try FileManager.default.removeItem(atPath: dir + "/adapter_config.json")
        try FileManager.default.moveItem(atPath: dir + "/c.json", toPath: dir + "/adapter_config.json")
        XCTAssertThrowsError(try LoRA.loadAdapter(from: dir, into: try Fixtures.loadBase("tiny-llama"))) { e in
            XCTAssertTrue("\(e)".contains("adapter_model.safetensors"), "\(e)")
        }
    }
}

/// adapter_config.json as PEFT writes it, byte for byte (its json.dumps(indent=2, sort_keys=True)).
final class AdapterConfigBytesTests: XCTestCase {
    func testWrittenConfigEqualsPEFTBytes() throws {
        let root = Fixtures.folder("rslora") + "/.."
        let cases = try FileManager.default.contentsOfDirectory(atPath: root).sorted().filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/adapter_config.json")
        }
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        for c in cases {
            let url = URL(fileURLWithPath: root + "/" + c + "/adapter_config.json")
            let peft = try String(contentsOf: url, encoding: .utf8)
            let ours = String(decoding: try LoraConfig.load(contentsOf: url).jsonData(), as: UTF8.self)
            if ours != peft { try? ours.write(toFile: NSTemporaryDirectory() + "/st-adapter-config-" + c + ".json", atomically: true, encoding: .utf8) }
            XCTAssertEqual(ours, peft, "\(c): adapter_config.json differs from PEFT's (ours: $TMPDIR/st-adapter-config-\(c).json)")
        }
    }
}
