import XCTest
@testable import ChatTemplates
final class ChatTemplatesPlaceholderTests: XCTestCase { func testModuleLoads() { XCTAssertTrue(true) } }
