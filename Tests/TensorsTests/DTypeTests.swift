import XCTest
@testable import Tensors
final class DTypeTests: XCTestCase {
    func testBFloat16RoundsToNearestEven() {
        XCTAssertEqual(BFloat16(Float(bitPattern: 0x3F80_8000)).bitPattern, 0x3F80) // tie, even stays
        XCTAssertEqual(BFloat16(Float(bitPattern: 0x3F81_8000)).bitPattern, 0x3F82) // tie, odd rounds up
        XCTAssertEqual(BFloat16(Float.nan).bitPattern, 0x7FC0)
    }
}
