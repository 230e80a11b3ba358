import XCTest
@testable import ModelIO
final class ModelIOPlaceholderTests: XCTestCase { func testModuleLoads() { XCTAssertTrue(true) } }
