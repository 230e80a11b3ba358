import Foundation
import ModelIO

/// What a PEFT adapter folder holds, read without a base model (for `swifttune inspect --adapter`).
public struct AdapterInfo: CustomStringConvertible {
    public let folder: String
    public let config: LoraConfig
    /// Tensor names, shapes and dtypes in adapter_model.safetensors.
    public let tensors: [(name: String, shape: [Int], dtype: String)]

    /// Number of elements over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// Module paths that carry LoRA weights (`…q_proj` from `base_model.model.…q_proj.lora_A.weight`).
    public var adaptedModules: [String] {
        var seen = Set<String>(), out: [String] = []
        for t in tensors {
            for marker in [".lora_A.weight", ".lora_embedding_A"] where t.name.hasSuffix(marker) {
                let m = String(t.name.dropLast(marker.count)).replacingOccurrences(of: "base_model.model.", with: "")
                if seen.insert(m).inserted { out.append(m) }
            }
        }
        return out
    }

    /// Reads adapter_config.json and the safetensors header of `folder`.
    public init(folder: String) throws {
        self.folder = folder
        config = try LoraConfig.load(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent("adapter_config.json"))
        let file = folder + "/adapter_model.safetensors"
        guard FileManager.default.fileExists(atPath: file) else {
            throw LoRAError.invalidAdapter(file: folder, "no adapter_model.safetensors")
        }
        let st: SafeTensorsFile
        do { st = try SafeTensorsFile(path: file) } catch { throw LoRAError.invalidAdapter(file: file, "\(error)") }
        tensors = st.tensors.map { ($0.name, $0.shape, $0.dtype.safetensorsName) }
    }

    /// A human-readable report.
    public var description: String {
        let c = config
        var lines = ["adapter: \(folder)", "  peft_type: LORA, task_type: \(c.taskType ?? "none")"]
        if let b = c.baseModelNameOrPath { lines.append("  base_model_name_or_path: \(b)") }
        let scaling = c.useRslora ? "lora_alpha/sqrt(r) = \(c.scaling(r: c.r, alpha: c.loraAlpha))" : "lora_alpha/r = \(c.scaling(r: c.r, alpha: c.loraAlpha))"
        lines.append("  r: \(c.r), lora_alpha: \(c.loraAlpha), scaling: \(scaling), lora_dropout: \(c.loraDropout), bias: \(c.bias)")
        let targets: String
        switch c.targetModules {
        case .list(let l)?: targets = l.sorted().joined(separator: ", ")
        case .regex(let r)?: targets = "regex \(r)"
        case .allLinear?: targets = "all-linear"
        case nil: targets = "(architecture default)"
        }
        lines.append("  target_modules: \(targets)")
        if let m = c.modulesToSave { lines.append("  modules_to_save: \(m.joined(separator: ", "))") }
        if c.useDora { lines.append("  use_dora: true") }
        if !c.rankPattern.isEmpty { lines.append("  rank_pattern: \(c.rankPattern.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))") }
        if !c.alphaPattern.isEmpty { lines.append("  alpha_pattern: \(c.alphaPattern.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))") }
        if let l = c.layersToTransform { lines.append("  layers_to_transform: \(l)") }
        lines.append("  tensors: \(tensors.count), parameters: \(grouped(parameterCount)), adapted modules: \(adaptedModules.count)")
        return lines.joined(separator: "\n")
    }
}
