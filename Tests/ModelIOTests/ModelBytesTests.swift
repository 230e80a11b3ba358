import Foundation
import XCTest
@testable import ModelIO

/// `ModelBytes.releasePages`: a loader that copies weights out of the mapping drops the file's pages from
/// the process's resident memory, and the bytes stay readable afterwards.
final class ModelBytesTests: XCTestCase {
    private func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return Int(statm[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func testReleasedPagesLeaveResidentMemoryAndStayReadable() throws {
        #if os(Linux)
        let dir = try Fixtures.temporaryDirectory(self)
        let url = dir.appendingPathComponent("weights.bin")
        let size = 32 << 20
        var data = Data(count: size)
        data.withUnsafeMutableBytes { raw in
            let p = raw.bindMemory(to: UInt32.self)
            for i in 0..<p.count { p[i] = UInt32(truncatingIfNeeded: i &* 2_654_435_761) }
        }
        try data.write(to: url)
        let bytes = try ModelBytes(mapping: url.path)
        func checksum() -> UInt64 {
            var s: UInt64 = 0
            let p = bytes.buffer.bindMemory(to: UInt32.self)
            for i in stride(from: 0, to: p.count, by: 97) { s = s &* 31 &+ UInt64(p[i]) }
            return s
        }
        let before = checksum()   // touches every page
        let touched = try residentBytes()
        // An unaligned range: only the pages wholly inside it go.
        bytes.releasePages(3..<(size - 5))
        let released = try residentBytes()
        XCTAssertGreaterThan(touched - released, 24 << 20, "resident \(touched) → \(released) bytes")
        XCTAssertEqual(checksum(), before, "released bytes must read back unchanged")
        // Out-of-range and empty ranges are ignored; an in-memory copy is left alone.
        bytes.releasePages(0..<(size + 1))
        bytes.releasePages(10..<10)
        let copy = ModelBytes(copying: [UInt8](repeating: 7, count: 10_000), name: "copy")
        copy.releasePages(0..<10_000)
        XCTAssertEqual(Array(copy.buffer), [UInt8](repeating: 7, count: 10_000))
        #else
        throw XCTSkip("madvise(MADV_DONTNEED) is used on Linux only")
        #endif
    }
}
