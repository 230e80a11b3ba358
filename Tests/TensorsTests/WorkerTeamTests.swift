import Foundation
import XCTest
@testable import Tensors

final class WorkerTeamTests: XCTestCase {
    /// Every worker runs each step once, steps do not overlap, and helpers that parked after
    /// idling wake for the next step.
    func testEveryWorkerRunsEveryStep() {
        let team = WorkerTeam(size: 3)
        team.idleNanoseconds = 1_000_000
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 3)
        for round in 0..<3 {
            for _ in 0..<2000 { team.run { w in counts[w] += 1 } }
            XCTAssertEqual((0..<3).map { counts[$0] }, Array(repeating: 2000 * (round + 1), count: 3))
            usleep(20_000)                                   // long enough for the helpers to park
        }
    }

    func testShareSplitsWithAlignment() {
        let team = WorkerTeam(size: 2)
        for (count, align) in [(960, 16), (49152, 16), (1536, 32), (9, 1), (5, 16), (0, 1)] {
            let parts = (0..<2).map { team.share(of: count, worker: $0, align: align) }
            XCTAssertEqual(parts[0].lowerBound, 0)
            XCTAssertEqual(parts[0].upperBound, parts[1].lowerBound)
            XCTAssertEqual(parts[1].upperBound, count)
            XCTAssertEqual(parts[0].upperBound % align == 0 || parts[0].upperBound == count, true, "\(count) \(align)")
        }
    }
}

final class WorkerTeamNestingTests: XCTestCase {
    /// A step started from inside a step (or a parallel loop inside a loop) runs its parts on the
    /// calling thread instead of waiting for the busy team: every part still runs exactly once.
    func testNestedRunsInline() {
        let team = WorkerTeam(size: 2)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 4)
        for _ in 0..<100 {
            team.run { outer in
                team.run { inner in counts[outer * 2 + inner] += 1 }
            }
        }
        XCTAssertEqual((0..<4).map { counts[$0] }, [100, 100, 100, 100])
        // The same through Parallel.forRanges on the shared team.
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: 64)
        Parallel.forRanges(8, grain: 1) { outer in
            for o in outer { Parallel.forRanges(8, grain: 1) { inner in for i in inner { hits[o * 8 + i] += 1 } } }
        }
        XCTAssertEqual((0..<64).map { hits[$0] }, Array(repeating: 1, count: 64))
    }
}
