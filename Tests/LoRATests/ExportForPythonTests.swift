import Foundation
import LoRA
import ModelIO
import Models
import Tensors
import XCTest

/// Writes SwiftTune-made adapters (random A and B, so they matter) plus SwiftTune's logits for
/// scripts/check_peft_roundtrip.py, which loads them with PEFT and compares. Runs only when
/// SWIFTTUNE_LORA_EXPORT names an output folder; otherwise it checks the same adapters reload in SwiftTune.
final class ExportForPythonTests: XCTestCase {
    static let configs: [(String, String, LoraConfig)] = {
        func cfg(_ r: Int, _ a: Double, _ t: TargetModules?, _ edit: (inout LoraConfig) -> Void = { _ in }) -> LoraConfig {
            var c = LoraConfig(r: r, loraAlpha: a, targetModules: t, initLoraWeights: .random)
            edit(&c)
            return c
        }
        return [
            ("st-list-qv", "tiny-llama", cfg(4, 8, .list(["q_proj", "v_proj"]))),
            ("st-all-linear", "tiny-llama", cfg(8, 16, .allLinear)),
            ("st-rslora-regex", "tiny-llama", cfg(16, 8, .regex(#".*layers\.1\.(self_attn\.(k|o)_proj|mlp\.up_proj)"#)) { $0.useRslora = true }),
            ("st-dora", "tiny-llama", cfg(4, 8, .list(["q_proj", "v_proj", "down_proj"])) { $0.useDora = true }),
            ("st-modules-to-save", "tiny-llama", cfg(4, 8, .list(["q_proj", "v_proj"])) { $0.modulesToSave = ["lm_head", "norm"] }),
            ("st-embedding", "tiny-llama", cfg(4, 8, .list(["embed_tokens", "q_proj"]))),
            ("st-patterns", "tiny-llama", cfg(4, 8, .list(["q_proj", "v_proj"])) { $0.rankPattern = ["layers.1.self_attn.q_proj": 2]; $0.alphaPattern = ["v_proj": 32] }),
            ("st-qwen2-default", "tiny-qwen2", cfg(4, 4, nil)),
            ("st-phi3", "tiny-phi3", cfg(4, 8, .list(["qkv_proj", "gate_up_proj", "o_proj", "down_proj"]))),
            ("st-tied-all-linear", "tiny-llama-tied", cfg(8, 16, .allLinear)),
        ]
    }()

    func testExportAdapters() throws {
        let env = ProcessInfo.processInfo.environment["SWIFTTUNE_LORA_EXPORT"]
        let root = env ?? FileManager.default.temporaryDirectory.appendingPathComponent("lora-export-\(UUID().uuidString)").path
        defer { if env == nil { try? FileManager.default.removeItem(atPath: root) } }
        let ids = Tensor([5, 9, 17, 33, 64, 100, 3, 77, 12, 45, 101, 6], shape: [2, 6])
        for (name, baseName, cfg) in Self.configs {
            let basePath = Fixtures.basePath(baseName)
            let model = try LoRA.apply(config: cfg, to: try CausalLM.load(path: basePath), seed: 7)
            // modules_to_save copies start equal to the originals; perturb them so they matter.
            let g = RandomGenerator(seed: 11)
            withNoGrad {
                for (n, p) in model.trainableParameters() where n.contains(".modules_to_save.") {
                    p.value.addInPlace(Tensor.randn(p.value.shape, generator: g) * 0.1)
                }
            }
            let logits = try withNoGrad { try model.forward(inputIds: ids) }
            let plain = try withNoGrad { try model.disableAdapter { try model.forward(inputIds: ids) } }
            XCTAssertGreaterThan(relDiff(logits, plain), 1e-4, "\(name): random adapter changes the output")
            let dir = root + "/" + name
            try model.save(to: dir, baseModelNameOrPath: basePath)
            var w = SafeTensorsWriter()
            try w.add("input_ids", shape: ids.shape, floats: ids.toFloatArray())
            try w.add("logits", shape: logits.shape, floats: logits.toFloatArray())
            try w.write(to: dir + "/swifttune_logits.safetensors")
            // Loaded back by SwiftTune: same logits.
            let back = try LoRA.loadAdapter(from: dir, into: try CausalLM.load(path: basePath))
            let again = try withNoGrad { try back.forward(inputIds: ids) }
            XCTAssertEqual(again.toFloatArray(), logits.toFloatArray(), "\(name): reload")
        }
        if env != nil { print("exported \(Self.configs.count) adapters to \(root)") }
    }

    /// With SWIFTTUNE_LORA_EXPORT set and the SmolLM2 GGUF present: a SwiftTune adapter on the GGUF base,
    /// for the script's GGUF path (PEFT over transformers' GGUF loader; `swifttune merge` of a GGUF base).
    func testExportSmolLM2Adapter() throws {
        guard let root = ProcessInfo.processInfo.environment["SWIFTTUNE_LORA_EXPORT"] else { return }
        let path = ProcessInfo.processInfo.environment["SWIFTTUNE_SMOLLM2_GGUF"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else { print("note: \(path) absent; no SmolLM2 export"); return }
        var cfg = LoraConfig(r: 4, loraAlpha: 8, targetModules: .list(["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"]), initLoraWeights: .gaussian)
        cfg.useDora = false
        let model = try LoRA.apply(config: cfg, to: try CausalLM.load(path: path), seed: 3)
        // Gaussian init leaves B = 0; give B small random values so the adapter matters.
        let g = RandomGenerator(seed: 5)
        withNoGrad { for (n, p) in model.trainableParameters() where n.contains("lora_B") { p.value.addInPlace(Tensor.randn(p.value.shape, generator: g) * 0.02) } }
        let ids = Tensor([1, 504, 3458, 314, 253, 1345, 30, 2, 17, 99], shape: [1, 10])
        let logits = try withNoGrad { try model.forward(inputIds: ids) }
        let dir = root + "/st-smollm2-gguf"
        try model.save(to: dir, baseModelNameOrPath: path)
        var w = SafeTensorsWriter()
        try w.add("input_ids", shape: ids.shape, floats: ids.toFloatArray())
        try w.add("logits", shape: logits.shape, floats: logits.toFloatArray())
        try w.write(to: dir + "/swifttune_logits.safetensors")
    }
}
