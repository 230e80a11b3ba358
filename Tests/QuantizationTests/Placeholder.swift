import XCTest
@testable import Quantization
final class QuantizationPlaceholderTests: XCTestCase { func testModuleLoads() { XCTAssertTrue(true) } }
