import ArgumentParser
import Foundation
import Quantization
import Tensors

/// `swifttune env`: what this machine gives the engine.
struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the Swift version, BLAS core and threads, the GEMM kernel, CPU SIMD features, cores, workers and the GGUF kernels in use.")

    func run() throws {
        #if compiler(>=6.3)
        let swiftVersion = "6.3+"
        #elseif compiler(>=6.0)
        let swiftVersion = "6.x"
        #else
        let swiftVersion = "5.x"
        #endif
        print("swifttune \(SwiftTuneVersion.string)")
        print("swift: \(swiftVersion)")
        let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        print("blas: OpenBLAS \(BLASRuntime.coreName)\(forced), \(BLASRuntime.threads) threads")
        print("gemm: \(OwnGEMM.name)")
        print("cpu: \(cpuModel())")
        print("simd: \(cpuFlags().joined(separator: " "))")
        print("cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        print("workers: \(Parallel.workers)\(Parallel.useTeam ? " (spinning team)" : " (libdispatch)")")
        print("gguf kernels: \(QuantizedMatrix.kernelISA)")
    }

    private func cpuInfoLines() -> [Substring] {
        (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n") ?? []
    }

    private func cpuModel() -> String {
        cpuInfoLines().first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }

    private func cpuFlags() -> [String] {
        let wanted = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni", "amx_bf16"]
        let have = BLASRuntime.cpuFlags()
        return wanted.filter(have.contains)
    }
}
