import Foundation
import Synchronization

/// A fixed team of threads that stay awake between closely spaced parallel steps.
///
/// A decode step is ~150 small parallel loops per token, each a few microseconds of work: waking a
/// sleeping dispatch worker for each (a futex round trip) costs as much as the work. The team's
/// helpers spin on an epoch counter while steps keep coming and park on a condition after
/// `idleNanoseconds` without one, so an idle process uses no CPU.
///
/// One step runs at a time: a `run` from inside a step (a nested loop) or from another thread while a
/// step runs does its parts itself, on the calling thread, so nothing deadlocks.
public final class WorkerTeam: @unchecked Sendable {
    /// A team of `Parallel.workers` threads (the caller counts as one).
    public static let shared = WorkerTeam(size: Parallel.workers)

    /// Threads taking part in each `run`, the caller included.
    public let size: Int
    /// How long helpers spin without work before they park.
    public var idleNanoseconds: UInt64 = 2_000_000

    private let epoch = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let parked = Atomic<Int>(0)
    private let wake = NSCondition()
    private let serial = NSLock()
    private var job: ((Int) -> Void)?

    /// A team of `size` threads; `size - 1` helpers start at once and live as long as the process
    /// (parked when idle), and so does the team.
    public init(size: Int) {
        self.size = max(1, size)
        for index in 1..<self.size {
            let t = Thread { self.helperLoop(index) }   // the helpers keep the team alive
            t.name = "swifttune-team-\(index)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Calls `body(worker)` once for every `worker` in `0..<size`, one per thread of the team (0 is
    /// the caller), and returns when all have returned. When the team is busy (see above), the caller
    /// makes all the calls itself, in order.
    public func run(_ body: (Int) -> Void) {
        guard size > 1, serial.try() else {
            for w in 0..<size { body(w) }
            return
        }
        defer { serial.unlock() }
        dispatch(body)
    }

    private func dispatch(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { b in
            job = b
            finished.store(0, ordering: .relaxed)
            epoch.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if parked.load(ordering: .sequentiallyConsistent) > 0 {
                wake.lock(); wake.broadcast(); wake.unlock()
            }
            b(0)
            while finished.load(ordering: .acquiring) < size - 1 {}
            job = nil
        }
    }

    /// `0..<count` split into `size` contiguous parts whose boundaries are multiples of `align`
    /// (the last part takes the remainder); part `worker`.
    public func share(of count: Int, worker: Int, align: Int = 1) -> Range<Int> {
        let units = (count + align - 1) / align
        let lo = min(count, units * worker / size * align)
        let hi = worker == size - 1 ? count : min(count, units * (worker + 1) / size * align)
        return lo..<max(lo, hi)
    }

    private func helperLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var idleSince: UInt64 = 0
            while epoch.load(ordering: .acquiring) == seen {
                spins += 1
                guard spins & 1023 == 0 else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if idleSince == 0 { idleSince = now; continue }
                guard now - idleSince > idleNanoseconds else { continue }
                // Park. The caller bumps the epoch before reading `parked`, and this thread counts
                // itself parked before re-reading the epoch, so one of the two sees the other.
                wake.lock()
                parked.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while epoch.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                parked.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                wake.unlock()
                spins = 0; idleSince = 0
            }
            seen = epoch.load(ordering: .acquiring)
            job?(index)
            finished.wrappingAdd(1, ordering: .releasing)
        }
    }
}
