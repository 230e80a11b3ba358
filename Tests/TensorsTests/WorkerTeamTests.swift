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
