import ArgumentParser
import Foundation
import ModelIO

/// `swifttune inspect PATH`: what a model file holds — architecture, configuration, parameter count,
/// dtype census, memory footprint (bytes as stored, like transformers' `get_memory_footprint`) and tensors.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: a GGUF file, a .safetensors file or a Hugging Face folder.")

    @Argument(help: "A .gguf file, a .safetensors file or a model folder.")
    var path: String

    @Option(help: "How many tensors to list (0 for none, -1 for all).")
    var tensors = 40

    func run() throws {
        let inspection = try ModelInspection.inspect(path: path)
        let text = inspection.report(maxTensors: tensors < 0 ? nil : tensors)
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}
