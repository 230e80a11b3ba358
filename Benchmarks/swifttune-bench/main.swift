import Foundation
import Tensors

// `swifttune-bench [matmul] [attention] [cross_entropy] [block] [tokenizers]`, `swifttune-bench generate [MODEL.gguf]`
// (prefill/decode of the real model), `swifttune-bench gemv` or `swifttune-bench train-step` (one LoRA training step of
// the real model, twin of torch_lora_step.py): JSON lines, one per measurement
// (scripts/bench.sh runs it beside the PyTorch twin and prints the ratios).
BLASRuntime.reexecWithOptimalCoreIfNeeded()
Allocator.keepLargeBlocksInHeap()
// `generate` takes the rest of the line (an optional model path) and is not part of the default set.
if let first = CommandLine.arguments.dropFirst().first, first == "generate" || first == "gemv" {
    let rest = Array(CommandLine.arguments.dropFirst(2))
    do { try first == "generate" ? GenerateBench.run(arguments: rest) : GenerateBench.gemv(arguments: rest) } catch {
        FileHandle.standardError.write(Data("generate benchmark: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
let all = ["matmul", "attention", "cross_entropy", "block", "tokenizers"]
// `train-step [options]` (TrainStepBench) takes the rest of the command line as its options.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "train-step" {
    do { try TrainStepBench.run(Array(CommandLine.arguments.dropFirst(2))) } catch {
        FileHandle.standardError.write(Data("swifttune-bench train-step: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
let which = CommandLine.arguments.dropFirst().isEmpty ? all : Array(CommandLine.arguments.dropFirst())
for name in which {
    switch name {
    case "matmul": EngineBench.matmul()
    case "attention": EngineBench.attention()
    case "cross_entropy": try EngineBench.crossEntropyBench()
    case "block": EngineBench.block()
    case "tokenizers":
        // The shared test data sits beside the checkout (override with SWIFTTUNE_SHARED).
        let shared = ProcessInfo.processInfo.environment["SWIFTTUNE_SHARED"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared").path
        _ = tokenizerBenchmark(sharedDir: shared)
    default:
        FileHandle.standardError.write(Data("unknown benchmark \(name); choose from \(all.joined(separator: ", "))\n".utf8))
        exit(2)
    }
}
