import Dispatch
import Foundation

/// Splits loops across the machine's cores. Large GEMMs run here too (a single-threaded sgemm per block of
/// the output, see `GEMMSplit`), so one set of threads serves every op and OpenBLAS's pool, which would
/// busy-wait between calls, stays asleep.
public enum Parallel {
    /// Worker count: the active cores, overridable with `SWIFTTUNE_THREADS`.
    public static let workers: Int = {
        if let s = ProcessInfo.processInfo.environment["SWIFTTUNE_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Whether loops run on `WorkerTeam.shared` (spinning helpers, no wake-up per loop) rather than
    /// libdispatch; `SWIFTTUNE_SPIN=0` turns it off.
    public static let useTeam: Bool = ProcessInfo.processInfo.environment["SWIFTTUNE_SPIN"] != "0"

    /// Calls `body(range)` on disjoint sub-ranges of `0..<count` in parallel. Work below `grain`
    /// items per worker runs inline, since a dispatch costs a few microseconds. A loop started from
    /// inside another (or while another thread's loop holds the team) runs its parts inline, in order.
    @inlinable
    public static func forRanges(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(workers, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        let step = (count + chunks - 1) / chunks
        if useTeam, chunks == WorkerTeam.shared.size {
            WorkerTeam.shared.run { c in
                let lo = c * step, hi = min(count, lo + step)
                if lo < hi { body(lo..<hi) }
            }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * step
            let hi = min(count, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `body(i)` for each `i` in `0..<count`, spread over the workers; for coarse items
    /// (rows, heads) whose cost justifies a dispatch each chunk.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forRanges(count, grain: 1) { r in for i in r { body(i) } }
    }
}
