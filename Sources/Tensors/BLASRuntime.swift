import CBLAS
import Foundation

/// OpenBLAS picks its kernels once, when the library loads. On virtual machines whose CPUID model it
/// does not know (as here: "Intel Xeon Processor", family 6 model 207) it falls back to the 2004
/// "Prescott" kernels, 5–10× slower than the AVX-512 ones the CPU supports. Its only switch is the
/// `OPENBLAS_CORETYPE` environment variable read at load time, so executables re-exec themselves once
/// with it set.
public enum BLASRuntime {
    /// The kernel set OpenBLAS chose ("Cooperlake", "SkylakeX", "Prescott", …).
    public static var coreName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The core type matching this CPU's features, or nil when OpenBLAS's own choice is already fine.
    public static func recommendedCoreType() -> String? {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else { return nil }
        let generic: Set<String> = ["Prescott", "Core2", "Nehalem", "Sandybridge", "Atom", "Penryn", "Dunnington", "unknown"]
        guard generic.contains(coreName) else { return nil }
        let flags = cpuFlags()
        if flags.contains("avx512_bf16") && flags.contains("avx512f") { return "COOPERLAKE" }
        if flags.contains("avx512f") && flags.contains("avx512bw") { return "SKYLAKEX" }
        if flags.contains("avx2") && flags.contains("fma") { return "HASWELL" }
        return nil
    }

    /// Re-executes the current process with `OPENBLAS_CORETYPE` set when OpenBLAS misdetected the CPU.
    /// Returns normally when nothing needs doing (or the exec failed: then we simply run slower).
    public static func reexecWithOptimalCoreIfNeeded() {
        guard let core = recommendedCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv only returns on failure; keep running with the slow kernels.
    }

    /// CPU feature flags from /proc/cpuinfo (empty elsewhere).
    public static func cpuFlags() -> Set<String> {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let list = line.split(separator: ":", maxSplits: 1).last else { return [] }
        return Set(list.split(separator: " ").map(String.init))
    }
}
