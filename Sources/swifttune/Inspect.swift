import ArgumentParser
import Foundation
import LoRA
import ModelIO

/// `swifttune inspect PATH` / `swifttune inspect --adapter DIR`: what a model file or a PEFT adapter holds —
/// architecture, configuration, parameter count, dtype census, memory footprint (bytes as stored, like
/// transformers' `get_memory_footprint`) and tensors; for an adapter its config, adapted modules and counts.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model (GGUF file, .safetensors file or Hugging Face folder) or a PEFT adapter folder.")

    @Argument(help: "A .gguf file, a .safetensors file or a model folder.")
    var path: String?

    @Option(help: "A PEFT adapter folder (adapter_config.json + adapter_model.safetensors).")
    var adapter: String?

    @Option(help: "How many tensors to list (0 for none, -1 for all).")
    var tensors = 40

    func validate() throws {
        guard path != nil || adapter != nil else { throw ValidationError("give a model PATH, --adapter DIR, or both") }
    }

    func run() throws {
        if let path {
            let text = try ModelInspection.inspect(path: path).report(maxTensors: tensors < 0 ? nil : tensors)
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
        if let adapter {
            print(try AdapterInfo(folder: adapter))
        }
    }
}
