import ArgumentParser
import Foundation
import LoRA
import Models
import Tensors

/// `swifttune merge`: base model + PEFT adapter → a merged Hugging Face folder (PEFT `merge_and_unload`
/// followed by `save_pretrained`).
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a LoRA adapter (PEFT folder) into its base model and write a Hugging Face folder.")

    @Option(name: .long, help: "Base model: a Hugging Face folder (config.json + safetensors) or a .gguf file.")
    var model: String

    @Option(name: .long, help: "Adapter folder (adapter_config.json + adapter_model.safetensors).")
    var adapter: String

    @Option(name: .long, help: "Output folder.")
    var out: String

    @Option(name: .long, help: "Dtype of the written weights: f32, f16 or bf16.")
    var dtype: String = "f32"

    func run() throws {
        let target: DType
        switch dtype.lowercased() {
        case "f32", "float32": target = .float32
        case "f16", "float16": target = .float16
        case "bf16", "bfloat16": target = .bfloat16
        default: throw ValidationError("--dtype must be f32, f16 or bf16, got '\(dtype)'")
        }
        // The merge runs in float32 (exact adapter arithmetic); the result is rounded once on writing.
        let base = try CausalLM.load(path: model, options: LoadOptions(dtype: .float32))
        let info = try AdapterInfo(folder: adapter)
        let peft = try LoRA.loadAdapter(from: adapter, into: base)
        let merged = try peft.mergeAndUnload()
        try MergedExport.write(merged, to: out, dtype: target, source: model)
        print("adapter: \(adapter): \(info.adaptedModules.count) adapted modules, \(info.parameterCount) parameters")
        print("merged \(merged.parameterCount()) parameters into \(out) as \(MergedExport.dtypeName(target))")
    }
}
